//! The schema and its migrations (`PRAGMA user_version`), applied on open
//! under the write lock, and how a connection is opened (busy timeout, WAL).

use agora_domain::InterventionId;
use std::path::Path;

use agora_ports::{AgoraError, Operation};
use rusqlite::{Connection, Transaction, params};

use crate::{store_error, write_tx};

/// The schema, one step per version; applied in order on open.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE repairs (
        intervention_id INTEGER PRIMARY KEY,
        mandate_id INTEGER UNIQUE,
        claim_id INTEGER UNIQUE,
        file TEXT NOT NULL,
        lifecycle TEXT NOT NULL,
        orders TEXT NOT NULL DEFAULT '[]',
        attention TEXT
    );
    CREATE TABLE cursors (key TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        intervention_id INTEGER,
        operation TEXT NOT NULL,
        idempotent INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        last_error TEXT,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (state, next_attempt_ms);
    CREATE TABLE spare_parts (
        manufacturer INTEGER NOT NULL,
        language INTEGER NOT NULL,
        reference TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (manufacturer, language, reference)
    ) WITHOUT ROWID;
    CREATE TABLE products (
        manufacturer INTEGER NOT NULL,
        language INTEGER NOT NULL,
        commercial_ref TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (manufacturer, language, commercial_ref)
    ) WITHOUT ROWID;",
    // 2: outbox claims with an owner and a lease, the answer kept on the
    // entry, exclusive keys of creations; a revision per repair file.
    "ALTER TABLE outbox ADD COLUMN owner TEXT;
    ALTER TABLE outbox ADD COLUMN lease_until_ms INTEGER;
    ALTER TABLE outbox ADD COLUMN answer TEXT;
    ALTER TABLE outbox ADD COLUMN exclusive_key TEXT;
    ALTER TABLE outbox ADD COLUMN needs_result INTEGER NOT NULL DEFAULT 0;
    UPDATE outbox SET needs_result = 1
      WHERE state = 'delivered' AND idempotent = 0 AND last_error = 'resolved by hand: applied';
    CREATE INDEX outbox_exclusive ON outbox (exclusive_key) WHERE exclusive_key IS NOT NULL;
    CREATE INDEX outbox_file ON outbox (intervention_id, state);
    ALTER TABLE repairs ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;",
    // 3: operators and timing. When the latest attempt was sent, when and
    // why the entry was parked (entries parked before: from their last
    // due time, in doubt, abandoned, unreadable or else given up), the
    // key held after an abandon while an attempt may still land, and the
    // answers that arrived after another settled the entry (duplicates).
    "ALTER TABLE outbox ADD COLUMN sent_ms INTEGER;
    ALTER TABLE outbox ADD COLUMN parked_ms INTEGER;
    ALTER TABLE outbox ADD COLUMN park_reason TEXT;
    ALTER TABLE outbox ADD COLUMN held_until_ms INTEGER;
    ALTER TABLE outbox ADD COLUMN duplicates TEXT;
    UPDATE outbox SET parked_ms = next_attempt_ms, park_reason = CASE
        WHEN state = 'in_doubt' THEN 'in_doubt'
        WHEN last_error = 'resolved by hand: abandoned' THEN 'abandoned'
        WHEN last_error LIKE 'unreadable entry:%' THEN 'unreadable'
        ELSE 'gave_up' END
      WHERE state IN ('in_doubt', 'failed');",
    // 4: the work order a repair file came from, kept as AgoraPlus sent
    // it (unknown fields included); NULL for files saved before, and for
    // files created here.
    // The work orders pulled, accepted or not, each as AgoraPlus sent it,
    // with the repair file it became (NULL: awaiting acceptance).
    "ALTER TABLE repairs ADD COLUMN work_order TEXT;
    CREATE TABLE work_orders (
        mandate_id INTEGER PRIMARY KEY,
        work_order TEXT NOT NULL,
        intervention_id INTEGER,
        seen_ms INTEGER NOT NULL
    );",
    // 5: each catalog record keeps when the sync that wrote it started
    // (epoch milliseconds; 0 for records written before): an upsert
    // replaces a record only from a sync that started no earlier, so that
    // of two syncs of one OEM at once, the older never overwrites newer
    // records.
    "ALTER TABLE spare_parts ADD COLUMN synced_ms INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE products ADD COLUMN synced_ms INTEGER NOT NULL DEFAULT 0;",
    // 6: the leases of the worker's periodic jobs (`agora watch`): who
    // runs a job until when, and when it was last completed. The events,
    // each written by the transaction of its change.
    "CREATE TABLE job_leases (
        job TEXT PRIMARY KEY,
        owner TEXT,
        until_ms INTEGER,
        done_ms INTEGER
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        intervention_id INTEGER,
        data TEXT NOT NULL
    );",
    // 7: webhooks. Per endpoint, the last event considered for delivery;
    // a delivery per event per endpoint, with its state, attempts, next
    // attempt time and lease. `queued_ms` starts the delivery's maximum age.
    "CREATE TABLE webhook_cursors (
        endpoint TEXT PRIMARY KEY,
        last_event INTEGER NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        endpoint TEXT NOT NULL,
        event_id INTEGER NOT NULL,
        intervention_id INTEGER,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_ms INTEGER NOT NULL,
        queued_ms INTEGER NOT NULL,
        owner TEXT,
        lease_until_ms INTEGER,
        delivered_ms INTEGER,
        last_error TEXT,
        PRIMARY KEY (endpoint, event_id)
    );
    CREATE INDEX webhook_due ON webhook_deliveries (endpoint, state, next_ms);
    CREATE INDEX webhook_file ON webhook_deliveries (endpoint, intervention_id, state, event_id);
    CREATE INDEX webhook_event ON webhook_deliveries (event_id);
    CREATE INDEX events_at ON events (at_ms);",
    // 8: when agora first saw each file's claim CLOSEDACCEPTED (epoch
    // milliseconds; the month end's month of a claim), taken for files
    // accepted before from their first `claim.closedaccepted` event.
    "ALTER TABLE repairs ADD COLUMN accepted_ms INTEGER;
    UPDATE repairs SET accepted_ms = (
        SELECT MIN(e.at_ms) FROM events e
        WHERE e.kind = 'claim.closedaccepted' AND e.intervention_id = repairs.intervention_id
    );",
];

/// Work a migration step needs beyond SQL, run in its transaction: version
/// 2 computes the exclusive key of every open entry (the rule is Rust's)
/// and marks claim corrections that transfer as not idempotent.
pub(crate) fn migrate_data(tx: &Transaction<'_>, version: usize) -> Result<(), AgoraError> {
    if version != 2 {
        return Ok(());
    }
    let rows: Vec<(i64, Option<i64>, String)> = {
        let mut stmt = tx
            .prepare("SELECT id, intervention_id, operation FROM outbox")
            .map_err(store_error)?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(store_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(store_error)?
    };
    for (id, intervention, operation) in rows {
        // An unreadable entry is set aside when it is next read.
        let Ok(operation) = Operation::from_stored(&operation) else {
            continue;
        };
        tx.execute(
            "UPDATE outbox SET exclusive_key = ?2, idempotent = ?3 WHERE id = ?1",
            params![
                id,
                operation.exclusive_key(intervention.map(InterventionId::from)),
                operation.is_idempotent()
            ],
        )
        .map_err(store_error)?;
    }
    Ok(())
}

/// How long an open waits for the file's locks (the busy timeout).
pub(crate) const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

pub(crate) fn open_connection(path: &Path, synchronous: &str) -> Result<Connection, AgoraError> {
    let conn = Connection::open(path)
        .map_err(|e| AgoraError::store_from(format!("cannot open {}: {e}", path.display()), e))?;
    conn.busy_timeout(LOCK_WAIT).map_err(store_error)?;
    wal(&conn)?;
    conn.execute_batch(&format!(
        "PRAGMA synchronous={synchronous}; PRAGMA foreign_keys=ON;"
    ))
    .map_err(store_error)?;
    Ok(conn)
}

/// Puts the file in WAL mode. WAL is a property of the file: once set,
/// nothing is to be done. Converting needs the file to itself, and SQLite
/// does not wait for that (the busy timeout does not apply to it): while
/// another process opens or writes the file, the conversion is tried again,
/// with backoff, for as long as the busy timeout.
pub(crate) fn wal(conn: &Connection) -> Result<(), AgoraError> {
    let busy = |e: &rusqlite::Error| {
        matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    };
    let mode = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, String>(0));
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(2);
    loop {
        let result = match mode("PRAGMA journal_mode") {
            Ok(m) if m.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(_) => mode("PRAGMA journal_mode=WAL"),
            Err(e) => Err(e),
        };
        match result {
            Ok(m) if m.eq_ignore_ascii_case("wal") => return Ok(()),
            // Not converted (the lock was not granted), or busy: again.
            Ok(_) if started.elapsed() < LOCK_WAIT => {}
            Err(e) if busy(&e) && started.elapsed() < LOCK_WAIT => {}
            Ok(m) => {
                return Err(AgoraError::store(format!(
                    "the store stays in journal mode {m}: another process holds it"
                )));
            }
            Err(e) => return Err(store_error(e)),
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(100));
    }
}

pub(crate) fn migrate(conn: &mut Connection) -> Result<(), AgoraError> {
    // The version is read and the steps applied under the write lock, so
    // that two processes opening a new store at once migrate it once.
    let tx = write_tx(conn)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(store_error)?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(AgoraError::store(format!(
            "the store is at schema version {version}, newer than this agora ({known})"
        )));
    }
    for (i, step) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.execute_batch(step).map_err(store_error)?;
        migrate_data(&tx, i + 1)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(store_error)?;
    }
    tx.commit().map_err(store_error)
}
