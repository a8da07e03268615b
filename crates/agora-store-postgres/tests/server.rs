//! What is PostgreSQL's own beyond the store contract: workers opening a
//! new database at once migrate it once; a newer schema is refused; the
//! throwaway server leaves nothing behind.
#![allow(clippy::unwrap_used)]

use agora_domain::InterventionId;
use agora_ports::{Events, Operation, Outbox, RepairFiles, SyncCursors};
use agora_store_postgres::throwaway::Server;
use agora_store_postgres::{EVENTS_LOCK, PostgresStore, SCHEMA_VERSION};
use jiff::Timestamp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_opening_a_new_database_at_once_migrate_it_once() {
    let server = Server::start().unwrap_or_else(|why| panic!("{why}"));
    let url = server.create_database("race").await.unwrap();
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PostgresStore::connect(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for open in opens {
        stores.push(open.await.unwrap().unwrap());
    }
    // Every handle works on the one schema.
    let id = stores[0]
        .enqueue(
            Some(InterventionId(1)),
            &Operation::PlaceOrder(InterventionId(1)),
            Timestamp::UNIX_EPOCH,
        )
        .await
        .unwrap();
    assert!(stores[5].entry(id).await.unwrap().is_some());
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rows = client
        .query("SELECT version FROM agora_schema", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, i32>(0), SCHEMA_VERSION);

    // A database migrated by a newer agora is refused, naming both versions.
    client
        .execute("UPDATE agora_schema SET version = 99", &[])
        .await
        .unwrap();
    let err = PostgresStore::connect(&url).await.unwrap_err();
    assert!(err.to_string().contains("version 99"), "{err}");
    // Handles already open go on.
    stores[1]
        .set_cursor("k", Timestamp::UNIX_EPOCH)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_dropped_server_is_stopped_and_its_directory_removed() {
    let server = Server::start().unwrap_or_else(|why| panic!("{why}"));
    let dir = server.socket_dir().to_path_buf();
    let url = server.create_database("gone").await.unwrap();
    assert!(dir.join("data").is_dir());
    PostgresStore::connect(&url).await.unwrap();
    drop(server);
    assert!(!dir.exists(), "{} left behind", dir.display());
    let err = PostgresStore::connect(&url).await.unwrap_err();
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

/// A claimer skips the entries another transaction holds instead of
/// waiting for it, and gets them once they are free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_skip_locked_entries_instead_of_waiting() {
    let server = Server::start().unwrap_or_else(|why| panic!("{why}"));
    let url = server.create_database("skip").await.unwrap();
    let store = PostgresStore::connect(&url).await.unwrap();
    let now = Timestamp::UNIX_EPOCH;
    let mut ids = Vec::new();
    for file in 1..=3 {
        ids.push(
            store
                .enqueue(
                    Some(InterventionId(file)),
                    // Idempotent: claimed together (a creation goes alone).
                    &Operation::UpdateRepair(agora_domain::CompleteRepairState {
                        intervention_id: Some(InterventionId(file)),
                        ..agora_domain::CompleteRepairState::default()
                    }),
                    now,
                )
                .await
                .unwrap(),
        );
    }
    let (mut other, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let held = other.transaction().await.unwrap();
    let first = i64::try_from(ids[0]).unwrap();
    held.execute("SELECT id FROM outbox WHERE id = $1 FOR UPDATE", &[&first])
        .await
        .unwrap();
    let lease = agora_ports::Lease {
        owner: "w1".into(),
        until: now + jiff::SignedDuration::from_secs(60),
    };
    // Were the claim waiting on the held row, this would time out.
    let claimed = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        store.claim_due(now, &lease, 10),
    )
    .await
    .expect("the claim waited on a locked entry")
    .unwrap();
    let got: Vec<u64> = claimed.iter().map(|e| e.id).collect();
    assert_eq!(got, ids[1..].to_vec());
    held.rollback().await.unwrap();
    let claimed = store.claim_due(now, &lease, 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![ids[0]]
    );
}

/// A raw connection to `url`, beside the store's.
async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Waits until `n` of the store's sessions wait on a lock, as the
/// server reports them (no sleep: the server's own view is polled).
async fn until_waiting_on_a_lock(observer: &tokio_postgres::Client, n: i64) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let waiting: i64 = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE application_name = 'agora' AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{waiting} of {n} waiting"
        );
        tokio::task::yield_now().await;
    }
}

/// A statement that runs past the statement timeout (here: it waits on a
/// lock another session holds) is cancelled by the server and fails as a
/// store error, whether the URL's `options=-c statement_timeout=…` or
/// [`PgOptions::statement_timeout`](agora_store_postgres::PgOptions) set it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_its_timeout_fails_as_a_store_error() {
    let server = Server::start().unwrap_or_else(|why| panic!("{why}"));
    let url = server.create_database("slow").await.unwrap();
    let by_url = PostgresStore::connect(&format!("{url}&options=-c%20statement_timeout%3D300"))
        .await
        .unwrap();
    let by_options = PostgresStore::connect_with(
        &url,
        agora_store_postgres::PgOptions {
            statement_timeout: std::time::Duration::from_millis(300),
            ..agora_store_postgres::PgOptions::default()
        },
    )
    .await
    .unwrap();
    let mut other = raw(&url).await;
    let held = other.transaction().await.unwrap();
    held.batch_execute("LOCK TABLE cursors IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    for store in [&by_url, &by_options] {
        let err = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            store.set_cursor("k", Timestamp::UNIX_EPOCH),
        )
        .await
        .expect("the statement hung past its timeout")
        .unwrap_err();
        assert!(matches!(err, agora_ports::AgoraError::Store(_)), "{err:?}");
        assert!(err.to_string().contains("statement timeout"), "{err}");
    }
    held.rollback().await.unwrap();
    // The store goes on once the lock is gone.
    by_url.set_cursor("k", Timestamp::UNIX_EPOCH).await.unwrap();
}

/// When every connection of the pool is held, a call waits the pool's
/// wait timeout, then fails saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_from_a_pool_all_in_use_times_out_clearly() {
    let server = Server::start().unwrap_or_else(|why| panic!("{why}"));
    let url = server.create_database("pool").await.unwrap();
    let store = PostgresStore::connect_with(
        &url,
        agora_store_postgres::PgOptions {
            pool_size: 2,
            pool_wait_timeout: std::time::Duration::from_millis(200),
            ..agora_store_postgres::PgOptions::default()
        },
    )
    .await
    .unwrap();
    let mut other = raw(&url).await;
    let held = other.transaction().await.unwrap();
    held.batch_execute("LOCK TABLE cursors IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    // Two calls take both connections and wait on the lock.
    let blocked: Vec<_> = (0..2)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .set_cursor(&format!("k{i}"), Timestamp::UNIX_EPOCH)
                    .await
            })
        })
        .collect();
    until_waiting_on_a_lock(&raw(&url).await, 2).await;
    let err = tokio::time::timeout(std::time::Duration::from_secs(20), store.cursor("k0"))
        .await
        .expect("the checkout hung")
        .unwrap_err();
    assert!(matches!(err, agora_ports::AgoraError::Store(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("no PostgreSQL connection came free within 200ms")
            && text.contains("all 2 of the pool are in use"),
        "{text}"
    );
    held.rollback().await.unwrap();
    for call in blocked {
        call.await.unwrap().unwrap();
    }
    assert!(store.cursor("k1").await.unwrap().is_some());
}

/// A database at version 2 migrates to 3: entries parked before get a park
/// time (their last due time) and a reason read from what they kept, and
/// an earlier given-up entry blocks the later one of its file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_schema_2_migrates_parked_entries_with_their_reasons() {
    use agora_ports::ParkReason::{Abandoned, GaveUp, InDoubt};
    let server = Server::start().unwrap_or_else(|why| panic!("{why}"));
    let url = server.create_database("v2").await.unwrap();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    for step in &agora_store_postgres::migration_steps()[..2] {
        client.batch_execute(step).await.unwrap();
    }
    client
        .batch_execute(
            "CREATE TABLE agora_schema (version INTEGER NOT NULL);
             INSERT INTO agora_schema (version) VALUES (2);",
        )
        .await
        .unwrap();
    let update = serde_json::to_string(&Operation::UpdateRepair(
        agora_domain::CompleteRepairState::default(),
    ))
    .unwrap();
    for (file, state, error) in [
        (1_i64, "in_doubt", "timeout"),
        (2, "failed", "resolved by hand: abandoned"),
        (3, "failed", "503"),
        (3, "pending", ""),
    ] {
        client
            .execute(
                "INSERT INTO outbox (intervention_id, operation, idempotent, state,
                   next_attempt_ms, created_ms, last_error) VALUES ($1, $2, TRUE, $3, 5000, 0, $4)",
                &[&file, &update, &state, &error],
            )
            .await
            .unwrap();
    }
    let store = PostgresStore::connect(&url).await.unwrap();
    let mut reasons = Vec::new();
    for id in 1..=3 {
        let e = store.entry(id).await.unwrap().unwrap();
        reasons.push((e.park_reason, e.parked_at.map(|p| p.as_millisecond())));
    }
    assert_eq!(
        reasons,
        [
            (Some(InDoubt), Some(5000)),
            (Some(Abandoned), Some(5000)),
            (Some(GaveUp), Some(5000))
        ]
    );
    let lease = agora_ports::Lease {
        owner: "w".into(),
        until: Timestamp::UNIX_EPOCH,
    };
    assert!(
        store
            .claim(4, Timestamp::from_second(10).unwrap(), &lease)
            .await
            .unwrap()
            .is_none()
    );
    let version: i32 = client
        .query_one("SELECT version FROM agora_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, SCHEMA_VERSION);
}

/// A database at version 3 (repair files without their work order) opens
/// at version 4: its files read as before, without a work order, and a
/// later write keeps one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_schema_3_opens_at_4_and_keeps_work_orders_from_then_on() {
    use agora_ports::RepairFiles;
    let server = Server::start().unwrap_or_else(|why| panic!("{why}"));
    let url = server.create_database("v3").await.unwrap();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    for step in &agora_store_postgres::migration_steps()[..3] {
        client.batch_execute(step).await.unwrap();
    }
    client
        .batch_execute(
            "CREATE TABLE agora_schema (version INTEGER NOT NULL);
             INSERT INTO agora_schema (version) VALUES (3);
             INSERT INTO repairs (intervention_id, mandate_id, file, lifecycle)
               VALUES (1, 1001, '{\"InterventionId\":1,\"Kept\":true}',
                       '{\"phase\":\"Open\"}');",
        )
        .await
        .unwrap();
    let lifecycle = serde_json::to_string(&agora_store_conformance::repair(1).lifecycle).unwrap();
    client
        .execute("UPDATE repairs SET lifecycle = $1", &[&lifecycle])
        .await
        .unwrap();
    let store = PostgresStore::connect(&url).await.unwrap();
    let version: i32 = client
        .query_one("SELECT version FROM agora_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, SCHEMA_VERSION);
    let mut old = store.repair(InterventionId(1)).await.unwrap().unwrap();
    assert_eq!(old.work_order, None);
    assert_eq!(old.file.extra["Kept"], serde_json::json!(true));
    let sent = serde_json::json!({"MandateId": 1001, "RetailerChannel": "web"});
    old.work_order = Some(agora_domain::wire::read_stored(&sent.to_string()).unwrap());
    store.upsert_repair(&old).await.unwrap();
    let back = store.repair(InterventionId(1)).await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(&back.work_order).unwrap(), sent);
    store
        .keep_work_order(
            back.work_order.as_ref().unwrap(),
            None,
            Timestamp::UNIX_EPOCH,
        )
        .await
        .unwrap();
    assert_eq!(store.work_orders().await.unwrap().len(), 1);
}

/// Event ids are in commit order: while a transaction that took an id is
/// open, a change recording an event waits (the events' advisory lock), so
/// a reader following from the last id it saw never skips the first one
/// when it commits after a higher one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_committed_late_is_never_skipped_by_a_reader_that_follows() {
    let server = Server::start().unwrap_or_else(|why| panic!("{why}"));
    let url = server.create_database("events").await.unwrap();
    let store = PostgresStore::connect(&url).await.unwrap();
    let connect = || async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    };
    // Another agora's transaction: it took the lock and an id, and is open.
    let mut other = connect().await;
    let tx = other.transaction().await.unwrap();
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&EVENTS_LOCK])
        .await
        .unwrap();
    let first: i64 = tx
        .query_one(
            "INSERT INTO events (kind, at_ms, data) VALUES ('repair_file.created', 0, '{}')
             RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // A change that records an event meanwhile waits for the lock.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .upsert_repair(&agora_store_conformance::repair(1))
                .await
        })
    };
    let watcher = connect().await;
    loop {
        let waiting: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(
            !writer.is_finished(),
            "the change committed its event while an earlier id was open"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(store.events_after(0, 10).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    writer.await.unwrap().unwrap();
    let ids: Vec<u64> = store
        .events_after(0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(ids[0], u64::try_from(first).unwrap());
    assert!(ids[1] > ids[0]);
}
