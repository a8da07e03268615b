//! The SQLite store: every port, persistence across reopen, atomic
//! save-with-operation, crash recovery of the outbox, and a writer killed
//! with SIGKILL in the middle of a write leaving a consistent store.
#![allow(clippy::unwrap_used)]

use agora_domain::lifecycle::ClaimState;
use agora_domain::{ClaimId, InterventionId, MandateId};
use agora_domain::{
    CompleteRepairState, InvoiceReference, Lcid, ManufacturerId, PartOrderLine, SparePart,
};
use agora_ports::{
    AgoraError, CatalogStore, Operation, Outbox, OutboxState, RepairFiles, SyncCursors,
};
use agora_store_sqlite::SqliteStore;

/// A database path in a directory of its own, removed when the returned
/// guard drops: tests running in parallel never share a file.
fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("agora-store-")
        .tempdir()
        .unwrap();
    let path = dir.path().join("agora.db");
    (dir, path)
}

use agora_store_conformance::{repair, t};

#[tokio::test]
async fn repairs_cursors_and_outbox_persist_across_reopen() {
    let (_dir, path) = temp_db();
    {
        let store = SqliteStore::open(&path).unwrap();
        let mut r = repair(1);
        r.claim_id = Some(ClaimId(77));
        r.lifecycle.claim = Some(ClaimState::Valid { transferred: true });
        r.orders = vec![PartOrderLine {
            order_number: Some("ORD-1".into()),
            ..PartOrderLine::default()
        }];
        store.upsert_repair(&r).await.unwrap();
        store.set_cursor("spareparts/19/1033", t(5)).await.unwrap();
        let op = Operation::SendInvoiceReference {
            reference: InvoiceReference::default(),
            claims: vec![ClaimId(77)],
        };
        assert_eq!(store.enqueue(None, &op, t(0)).await.unwrap(), 1);
    }
    let store = SqliteStore::open(&path).unwrap();
    let r = store.repair(InterventionId(1)).await.unwrap().unwrap();
    assert_eq!(r, {
        let mut e = repair(1);
        e.claim_id = Some(ClaimId(77));
        e.lifecycle.claim = Some(ClaimState::Valid { transferred: true });
        e.orders = r.orders.clone();
        e.revision = 1;
        e
    });
    assert_eq!(r.file.extra["Kept"], serde_json::json!({"x": [1, 2]}));
    assert_eq!(
        store
            .repair_by_mandate(MandateId(1001))
            .await
            .unwrap()
            .unwrap()
            .intervention_id,
        InterventionId(1)
    );
    assert_eq!(
        store
            .repair_by_claim(ClaimId(77))
            .await
            .unwrap()
            .unwrap()
            .intervention_id,
        InterventionId(1)
    );
    assert!(store.repair(InterventionId(2)).await.unwrap().is_none());
    assert_eq!(
        store.cursor("spareparts/19/1033").await.unwrap(),
        Some(t(5))
    );
    assert_eq!(store.cursor("other").await.unwrap(), None);
    assert_eq!(store.entries(OutboxState::Pending).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_unreadable_outbox_row_is_set_aside_as_failed_and_blocks_nothing() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).unwrap();
    let update = Operation::UpdateRepair(CompleteRepairState::default());
    let bad = store
        .enqueue(Some(InterventionId(1)), &update, t(0))
        .await
        .unwrap();
    let good = store
        .enqueue(Some(InterventionId(2)), &update, t(0))
        .await
        .unwrap();
    {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute(
            "UPDATE outbox SET operation = '{\"NoSuchOperation\":1}' WHERE id = ?1",
            [i64::try_from(bad).unwrap()],
        )
        .unwrap();
    }
    let lease = agora_ports::Lease {
        owner: "w".into(),
        until: t(60),
    };
    let claimed: Vec<u64> = store
        .claim_due(t(0), &lease, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(claimed, [good]);
    let failed = store.entries(OutboxState::Failed).await.unwrap();
    assert!(failed.is_empty(), "an unreadable row is not an entry");
    let raw = rusqlite::Connection::open(&path).unwrap();
    let (state, error): (String, String) = raw
        .query_row(
            "SELECT state, last_error FROM outbox WHERE id = ?1",
            [i64::try_from(bad).unwrap()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(state, "failed");
    assert!(error.contains("unreadable operation"), "{error}");
}

#[tokio::test]
async fn a_store_of_schema_1_migrates_keeping_its_entries() {
    let (_dir, path) = temp_db();
    {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch(
            "CREATE TABLE repairs (intervention_id INTEGER PRIMARY KEY, mandate_id INTEGER UNIQUE,
               claim_id INTEGER UNIQUE, file TEXT NOT NULL, lifecycle TEXT NOT NULL,
               orders TEXT NOT NULL DEFAULT '[]', attention TEXT);
             CREATE TABLE cursors (key TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);
             CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, intervention_id INTEGER,
               operation TEXT NOT NULL, idempotent INTEGER NOT NULL, state TEXT NOT NULL,
               attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL,
               last_error TEXT, created_ms INTEGER NOT NULL);
             CREATE TABLE spare_parts (manufacturer INTEGER NOT NULL, language INTEGER NOT NULL,
               reference TEXT NOT NULL, record TEXT NOT NULL,
               PRIMARY KEY (manufacturer, language, reference)) WITHOUT ROWID;
             CREATE TABLE products (manufacturer INTEGER NOT NULL, language INTEGER NOT NULL,
               commercial_ref TEXT NOT NULL, record TEXT NOT NULL,
               PRIMARY KEY (manufacturer, language, commercial_ref)) WITHOUT ROWID;
             PRAGMA user_version = 1;",
        )
        .unwrap();
        let order = serde_json::to_string(&Operation::PlaceOrder(InterventionId(4))).unwrap();
        raw.execute(
            "INSERT INTO outbox (intervention_id, operation, idempotent, state, next_attempt_ms, created_ms)
             VALUES (4, ?1, 0, 'in_doubt', 0, 0)",
            [order],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let doubt = store.entries(OutboxState::InDoubt).await.unwrap();
    assert_eq!(doubt.len(), 1);
    // The migrated entry holds its exclusive key: a second order is refused.
    assert!(
        store
            .enqueue(
                Some(InterventionId(4)),
                &Operation::PlaceOrder(InterventionId(4)),
                t(0)
            )
            .await
            .is_err()
    );
}

/// The schema of version 1, as `a_store_of_schema_1_migrates_keeping_its_entries` writes it.
const SCHEMA_1: &str =
    "CREATE TABLE repairs (intervention_id INTEGER PRIMARY KEY, mandate_id INTEGER UNIQUE,
       claim_id INTEGER UNIQUE, file TEXT NOT NULL, lifecycle TEXT NOT NULL,
       orders TEXT NOT NULL DEFAULT '[]', attention TEXT);
     CREATE TABLE cursors (key TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);
     CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, intervention_id INTEGER,
       operation TEXT NOT NULL, idempotent INTEGER NOT NULL, state TEXT NOT NULL,
       attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL,
       last_error TEXT, created_ms INTEGER NOT NULL);
     CREATE TABLE spare_parts (manufacturer INTEGER NOT NULL, language INTEGER NOT NULL,
       reference TEXT NOT NULL, record TEXT NOT NULL,
       PRIMARY KEY (manufacturer, language, reference)) WITHOUT ROWID;
     CREATE TABLE products (manufacturer INTEGER NOT NULL, language INTEGER NOT NULL,
       commercial_ref TEXT NOT NULL, record TEXT NOT NULL,
       PRIMARY KEY (manufacturer, language, commercial_ref)) WITHOUT ROWID;
     PRAGMA user_version = 1;";

/// Migration 2 marks a creation resolved as applied by hand (before
/// agora recorded what it created) as needing its result: it holds its key
/// until a person records it, as applied with the id, which clears it.
#[tokio::test]
async fn a_hand_applied_creation_without_its_result_is_settled_with_it() {
    let (_dir, path) = temp_db();
    let claim = agora_ports::Operation::CreateClaim {
        claim: agora_domain::WarrantyClaim::default(),
        language: agora_domain::Lcid::ENGLISH,
        transfer_if_valid: true,
    };
    {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch(SCHEMA_1).unwrap();
        raw.execute(
            "INSERT INTO outbox (intervention_id, operation, idempotent, state, next_attempt_ms,
               created_ms, last_error)
             VALUES (3, ?1, 0, 'delivered', 0, 0, 'resolved by hand: applied')",
            [serde_json::to_string(&claim).unwrap()],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    store.upsert_repair(&repair(3)).await.unwrap();
    let entry = store.entries(OutboxState::Delivered).await.unwrap()[0].clone();
    assert!(entry.needs_result && entry.answer.is_none(), "{entry:?}");
    // It holds the key: a second claim of file 3 is refused.
    let err = store
        .enqueue(Some(InterventionId(3)), &claim, t(0))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("claim/3"), "{err}");
    // Only as applied, with what it created.
    let guard = agora_ports::Guard::new(std::time::Duration::ZERO, std::time::Duration::ZERO);
    assert!(
        store
            .settle(entry.id, &agora_ports::Settlement::Resend, guard, t(1))
            .await
            .is_err()
    );
    let created = agora_ports::OperationAnswer::Claim(agora_domain::WarrantyClaimResult {
        claim_id: Some(ClaimId(77)),
        ..Default::default()
    });
    let applied = agora_ports::Settlement::Applied(created.clone());
    assert_eq!(
        store.settle(entry.id, &applied, guard, t(1)).await.unwrap(),
        OutboxState::Delivered
    );
    let settled = store.entry(entry.id).await.unwrap().unwrap();
    assert_eq!(
        (settled.needs_result, settled.answer),
        (false, Some(created))
    );
    assert_eq!(
        store
            .repair(InterventionId(3))
            .await
            .unwrap()
            .unwrap()
            .claim_id,
        Some(ClaimId(77))
    );
    store
        .enqueue(Some(InterventionId(3)), &claim, t(2))
        .await
        .unwrap();
}

/// A store at version 2 migrates to 3: entries parked before get a park
/// time (their last due time) and a reason read from what they kept; an
/// earlier given-up entry blocks the later one of its file.
#[tokio::test]
async fn a_store_of_schema_2_migrates_parked_entries_with_their_reasons() {
    let (_dir, path) = temp_db();
    let update = serde_json::to_string(&agora_ports::Operation::UpdateRepair(
        agora_domain::CompleteRepairState::default(),
    ))
    .unwrap();
    {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch(SCHEMA_1).unwrap();
        raw.execute_batch(
            "ALTER TABLE outbox ADD COLUMN owner TEXT;
             ALTER TABLE outbox ADD COLUMN lease_until_ms INTEGER;
             ALTER TABLE outbox ADD COLUMN answer TEXT;
             ALTER TABLE outbox ADD COLUMN exclusive_key TEXT;
             ALTER TABLE outbox ADD COLUMN needs_result INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE repairs ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
             PRAGMA user_version = 2;",
        )
        .unwrap();
        for (file, state, error) in [
            (1, "in_doubt", "timeout"),
            (2, "failed", "resolved by hand: abandoned"),
            (3, "failed", "503"),
            (3, "pending", ""),
        ] {
            raw.execute(
                "INSERT INTO outbox (intervention_id, operation, idempotent, state,
                   next_attempt_ms, created_ms, last_error) VALUES (?1, ?2, 1, ?3, 5000, 0, ?4)",
                rusqlite::params![file, update, state, error],
            )
            .unwrap();
        }
    }
    let store = SqliteStore::open(&path).unwrap();
    let mut reasons = Vec::new();
    for id in 1..=3 {
        let e = store.entry(id).await.unwrap().unwrap();
        reasons.push((e.park_reason, e.parked_at.map(|p| p.as_millisecond())));
    }
    use agora_ports::ParkReason::{Abandoned, GaveUp, InDoubt};
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
        until: t(60),
    };
    assert!(store.claim(4, t(0), &lease).await.unwrap().is_none());
}

#[tokio::test]
async fn save_with_operation_is_one_transaction() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).unwrap();
    let r = repair(5);
    let id = store
        .save_with_operation(&r, Some(Operation::UpdateRepair(r.file.clone())), t(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.entry(id).await.unwrap().unwrap().intervention_id,
        Some(InterventionId(5))
    );
    // A file that violates a constraint (a claim id another file holds)
    // keeps neither the file nor the operation.
    let mut other = repair(6);
    other.claim_id = Some(ClaimId(1));
    store.upsert_repair(&other).await.unwrap();
    let mut clash = repair(7);
    clash.claim_id = Some(ClaimId(1));
    assert!(
        store
            .save_with_operation(&clash, Some(Operation::PlaceOrder(InterventionId(7))), t(0))
            .await
            .is_err()
    );
    assert!(store.repair(InterventionId(7)).await.unwrap().is_none());
    assert_eq!(store.entries(OutboxState::Pending).await.unwrap().len(), 1);
}

/// Rows of each catalog batch the writer child stores: enough that a
/// batch takes a while, so a kill can land inside it.
const CHILD_BATCH: usize = 2000;

/// The writer child of [`a_writer_killed_mid_write_leaves_a_consistent_store`]:
/// writes file+operation pairs and catalog batches until killed, telling
/// its parent on stdout before (`begin i`) and after (`done i`) each
/// write. Ignored: only that test runs it, in a process of its own.
#[tokio::test]
#[ignore = "a child process of a_writer_killed_mid_write_leaves_a_consistent_store"]
async fn writer_child() {
    let path = std::env::var("AGORA_STORE_CHILD")
        .expect("run only by a_writer_killed_mid_write_leaves_a_consistent_store");
    let store = SqliteStore::open(&path).unwrap();
    let start = i64::try_from(store.repairs().await.unwrap().len()).unwrap();
    // The markers go to the parent through the pipe, each line at once.
    let marker = |line: String| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
    };
    for i in start.. {
        marker(format!("begin {i}"));
        let r = repair(i);
        store
            .save_with_operation(&r, Some(Operation::UpdateRepair(r.file.clone())), t(i))
            .await
            .unwrap();
        let parts: Vec<SparePart> = (0..CHILD_BATCH)
            .map(|k| SparePart {
                reference: Some(format!("R{i}-{k}")),
                label: Some(format!("part {k} of batch {i}")),
                ..SparePart::default()
            })
            .collect();
        store
            .upsert_spare_parts(
                ManufacturerId(1),
                Lcid::ENGLISH,
                parts,
                jiff::Timestamp::UNIX_EPOCH,
                None,
            )
            .await
            .unwrap();
        marker(format!("done {i}"));
    }
}

/// What a killed writer child had told its parent.
struct Killed {
    /// Writes it reported done.
    done: usize,
    /// Whether the kill landed after a `begin` and before its `done`.
    mid_write: bool,
}

/// Runs the writer child on `path`; once it has reported `after` writes
/// done, kills it (SIGKILL) as soon as it announces the next one.
#[cfg(unix)]
fn run_and_kill_writer(path: &std::path::Path, after: usize) -> Killed {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "writer_child", "--ignored", "--nocapture"])
        .env("AGORA_STORE_CHILD", path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut done = 0;
    let mut killed_in = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.starts_with("done ") {
            done += 1;
        } else if let Some(i) = line.strip_prefix("begin ") {
            if done >= after {
                child.kill().unwrap(); // SIGKILL
                killed_in = Some(i.to_owned());
                break;
            }
        }
    }
    let status = child.wait().unwrap();
    let killed_in = killed_in.expect("the writer stopped before it was killed");
    assert_eq!(status.signal(), Some(9), "killed, not exited: {status}");
    // What the child wrote before the signal arrived.
    let finished_after = lines
        .map_while(Result::ok)
        .any(|l| l == format!("done {killed_in}"));
    if finished_after {
        done += 1;
    }
    Killed {
        done,
        mid_write: !finished_after,
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_writer_killed_mid_write_leaves_a_consistent_store() {
    let (_dir, path) = temp_db();
    let (mut files, mut parts) = (0, 0);
    let mut mid_write = 0;
    // Three kills, and more (up to ten) until one landed inside a write.
    for round in 0..10 {
        if round >= 3 && mid_write > 0 {
            break;
        }
        let killed = run_and_kill_writer(&path, round + 1);
        mid_write += usize::from(killed.mid_write);
        let store = SqliteStore::open(&path).unwrap();
        let repairs = store.repairs().await.unwrap();
        let entries = store.entries(OutboxState::Pending).await.unwrap();
        // Every write reported done is there; the one cut short is wholly
        // there or wholly absent.
        let new_files = repairs.len() - files;
        assert!(
            (killed.done..=killed.done + 1).contains(&new_files),
            "round {round}: {new_files} new files for {} writes done",
            killed.done
        );
        files = repairs.len();
        // Each file came with its operation: neither without the other.
        assert_eq!(repairs.len(), entries.len(), "round {round}");
        let stored = store
            .count_spare_parts(ManufacturerId(1), Lcid::ENGLISH)
            .await
            .unwrap();
        let new_batches = (stored - parts) / CHILD_BATCH as u64;
        assert_eq!(
            stored % CHILD_BATCH as u64,
            0,
            "round {round}: batches are whole: {stored}"
        );
        assert!(
            (killed.done as u64..=killed.done as u64 + 1).contains(&new_batches),
            "round {round}: {new_batches} new batches for {} writes done",
            killed.done
        );
        parts = stored;
    }
    assert!(mid_write > 0, "no kill landed inside a write");
}

/// Converting a new store to WAL needs the file to itself, and SQLite
/// does not wait for it (the busy timeout does not apply): an open while
/// another process writes must wait and succeed, not fail as "locked".
#[test]
fn opening_a_new_store_waits_for_a_writer_of_the_file() {
    use std::time::{Duration, Instant};
    let (_dir, path) = temp_db();
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder
        .execute_batch("CREATE TABLE other (x); BEGIN IMMEDIATE; INSERT INTO other VALUES (1);")
        .unwrap();
    let (starting, started) = std::sync::mpsc::channel();
    let opener = std::thread::spawn(move || {
        starting.send(()).unwrap();
        let opened = SqliteStore::open(&path);
        (opened, Instant::now())
    });
    // The open is under way: the writer keeps the file a while longer (how
    // long the open must wait, not what it concludes), then commits.
    started.recv().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let committed_at = Instant::now();
    holder.execute_batch("COMMIT").unwrap();
    let (opened, opened_at) = opener.join().unwrap();
    opened.unwrap();
    assert!(
        opened_at >= committed_at,
        "the open finished while the writer still held the file"
    );
}

/// A file that is not a database is refused in one sentence naming it, with
/// SQLite's own error behind it (`source()`).
#[test]
fn a_file_that_is_not_a_database_is_refused_with_sqlites_error_behind() {
    let (_dir, path) = temp_db();
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, AgoraError::Store(_)), "{err:?}");
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut found = false;
    while let Some(e) = next {
        found |= e.downcast_ref::<rusqlite::Error>().is_some();
        next = e.source();
    }
    assert!(found, "no rusqlite error behind {err}");
}

/// A store at version 3 (repair files without their work order) opens at
/// version 4 (and on): its files read as before, without a work order, and a later
/// write keeps one.
#[tokio::test]
async fn a_store_of_schema_3_opens_at_4_and_keeps_work_orders_from_then_on() {
    let (_dir, path) = temp_db();
    {
        let store = SqliteStore::open(&path).unwrap();
        store.upsert_repair(&repair(1)).await.unwrap();
    }
    {
        // Back to version 3: the schema before work orders were kept (and
        // before catalog records kept their sync's time).
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch(
            "ALTER TABLE spare_parts DROP COLUMN synced_ms;
             ALTER TABLE products DROP COLUMN synced_ms;
             ALTER TABLE repairs DROP COLUMN work_order;
             ALTER TABLE repairs DROP COLUMN accepted_ms;
             DROP TABLE work_orders;
             DROP TABLE job_leases;
             DROP TABLE events;
             DROP TABLE webhook_cursors;
             DROP TABLE webhook_deliveries;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 8, "and on to the latest");
    let mut old = store.repair(InterventionId(1)).await.unwrap().unwrap();
    assert_eq!(old.work_order, None);
    assert_eq!(old.file, repair(1).file);
    let sent = serde_json::json!({"MandateId": 1001, "RetailerChannel": "web"});
    old.work_order = Some(agora_domain::wire::read_stored(&sent.to_string()).unwrap());
    store.upsert_repair(&old).await.unwrap();
    let back = store.repair(InterventionId(1)).await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(&back.work_order).unwrap(), sent);
    store
        .keep_work_order(back.work_order.as_ref().unwrap(), None, t(0))
        .await
        .unwrap();
    assert_eq!(store.work_orders().await.unwrap().len(), 1);
}

/// Schema 8 keeps when each claim was first seen CLOSEDACCEPTED: a store of
/// version 7 opens with the time of each file's first
/// `claim.closedaccepted` event; a later write keeps what it was given.
#[tokio::test]
async fn a_store_of_schema_7_takes_acceptance_times_from_its_events() {
    use agora_ports::Events;
    let (_dir, path) = temp_db();
    {
        let store = SqliteStore::open(&path).unwrap();
        for id in [1, 2] {
            store.upsert_repair(&repair(id)).await.unwrap();
        }
        let mut accepted = store.repair(InterventionId(1)).await.unwrap().unwrap();
        accepted.claim_id = Some(ClaimId(7));
        accepted.lifecycle.claim = Some(ClaimState::ClosedAccepted);
        store.upsert_repair(&accepted).await.unwrap();
    }
    let event_at = {
        let store = SqliteStore::open(&path).unwrap();
        let events = store.events_after(0, 100).await.unwrap();
        events
            .iter()
            .find(|e| e.kind == "claim.closedaccepted")
            .unwrap()
            .at
    };
    {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch("ALTER TABLE repairs DROP COLUMN accepted_ms; PRAGMA user_version = 7;")
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let one = store.repair(InterventionId(1)).await.unwrap().unwrap();
    assert_eq!(one.accepted_at, Some(event_at));
    let two = store.repair(InterventionId(2)).await.unwrap().unwrap();
    assert_eq!(two.accepted_at, None);
    let mut two = two;
    two.accepted_at = Some(t(5));
    store.upsert_repair(&two).await.unwrap();
    let back = store.repair(InterventionId(2)).await.unwrap().unwrap();
    assert_eq!(back.accepted_at, Some(t(5)));
}
