//! # agora-store-sqlite
//!
//! agora's durable local state on SQLite (bundled: no system library),
//! implementing the store ports of `agora-ports`: [`RepairFiles`],
//! [`SyncCursors`], [`Outbox`] and [`CatalogStore`].
//!
//! - WAL journal; the state tables are written with `synchronous=FULL` (an
//!   outbox entry survives a power cut once `enqueue` returns), the catalog
//!   through its own connection with `synchronous=NORMAL` (a crash of the
//!   process loses nothing committed; a power cut may lose the last batches,
//!   which the next sync fetches again).
//! - Migrations are embedded and applied on open (`PRAGMA user_version`).
//! - Every change is one transaction: a process killed at any instant
//!   leaves a consistent store that the next run resumes from.
//!
//! It is not a cache of AgoraPlus and holds no rule: the use cases of
//! `agora-app` decide what to write.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use agora_domain::lifecycle::RepairLifecycle;
use agora_domain::wire::read_stored;
use agora_domain::{
    ClaimId, CompleteRepairState, InterventionId, Lcid, MandateId, ManufacturerId, PartOrderLine,
    Product, SparePart,
};
use agora_ports::{
    AgoraError, CatalogStore, CursorMove, LocalRepair, Operation, RepairFiles, SyncCursors,
};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

mod outbox;

use outbox::enqueue_in;

/// The schema, one step per version; applied in order on open.
const MIGRATIONS: &[&str] = &[
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
];

/// Work a migration step needs beyond SQL, run in its transaction: version
/// 2 computes the exclusive key of every open entry (the rule is Rust's)
/// and marks claim corrections that transfer as not idempotent.
fn migrate_data(tx: &Transaction<'_>, version: usize) -> Result<(), AgoraError> {
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
                operation.exclusive_key(intervention),
                operation.is_idempotent()
            ],
        )
        .map_err(store_error)?;
    }
    Ok(())
}

/// Begins a transaction that holds the write lock from its first statement
/// (`BEGIN IMMEDIATE`): a read-then-write never fails half-way with
/// `SQLITE_BUSY` because another process wrote in between, and waits for
/// the lock within the busy timeout instead.
pub(crate) fn write_tx(conn: &mut Connection) -> Result<Transaction<'_>, AgoraError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(store_error)
}

pub(crate) fn store_error(e: impl std::fmt::Display) -> AgoraError {
    AgoraError::Store(e.to_string())
}

pub(crate) fn ms(ts: Timestamp) -> i64 {
    ts.as_millisecond()
}

pub(crate) fn from_ms(v: i64) -> Timestamp {
    Timestamp::from_millisecond(v).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// How long an open waits for the file's locks (the busy timeout).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

fn open_connection(path: &Path, synchronous: &str) -> Result<Connection, AgoraError> {
    let conn = Connection::open(path)
        .map_err(|e| AgoraError::Store(format!("cannot open {}: {e}", path.display())))?;
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
fn wal(conn: &Connection) -> Result<(), AgoraError> {
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
                return Err(AgoraError::Store(format!(
                    "the store stays in journal mode {m}: another process holds it"
                )));
            }
            Err(e) => return Err(store_error(e)),
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(100));
    }
}

fn migrate(conn: &mut Connection) -> Result<(), AgoraError> {
    // The version is read and the steps applied under the write lock, so
    // that two processes opening a new store at once migrate it once.
    let tx = write_tx(conn)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(store_error)?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(AgoraError::Store(format!(
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

/// The SQLite store. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    state: Arc<Mutex<Connection>>,
    /// The catalog connection lives on a thread of its own, which runs the
    /// catalog's operations one after another in the order they were
    /// started: a caller may keep the next batch queued while one is
    /// written, and the writer never waits for it.
    catalog: std::sync::mpsc::Sender<CatalogJob>,
    path: PathBuf,
}

/// A catalog operation, run on the catalog's thread.
type CatalogJob = Box<dyn FnOnce(&mut Connection) + Send>;

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic mid-transaction rolls the transaction back when it drops, so
    // the connection behind a poisoned lock is consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`, applying migrations.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AgoraError> {
        let path = path.as_ref().to_path_buf();
        let mut state = open_connection(&path, "FULL")?;
        migrate(&mut state)?;
        let mut catalog = open_connection(&path, "NORMAL")?;
        let (jobs, queue) = std::sync::mpsc::channel::<CatalogJob>();
        // The thread ends when the last handle of the store is dropped.
        std::thread::Builder::new()
            .name("agora-catalog".to_owned())
            .spawn(move || {
                for job in queue {
                    job(&mut catalog);
                }
            })
            .map_err(|e| AgoraError::Store(format!("cannot start the catalog thread: {e}")))?;
        Ok(Self {
            state: Arc::new(Mutex::new(state)),
            catalog: jobs,
            path,
        })
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn with_state<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, AgoraError> + Send + 'static,
    ) -> Result<R, AgoraError> {
        let conn = self.state.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&conn)))
            .await
            .map_err(|e| AgoraError::Store(format!("store task failed: {e}")))?
    }

    /// Queues a catalog operation (when first polled) and waits for it.
    async fn with_catalog<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, AgoraError> + Send + 'static,
    ) -> Result<R, AgoraError> {
        let stopped = || AgoraError::Store("the catalog thread has stopped".to_owned());
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: CatalogJob = Box::new(move |c| {
            // A panic mid-transaction rolls the transaction back when it
            // unwinds; the thread goes on with the next operation.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(c)))
                .unwrap_or_else(|_| {
                    Err(AgoraError::Store("a catalog operation panicked".to_owned()))
                });
            let _ = done.send(result);
        });
        self.catalog.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn repair_from_row(row: &Row<'_>) -> rusqlite::Result<RepairRow> {
    Ok(RepairRow {
        id: row.get(0)?,
        mandate: row.get(1)?,
        claim: row.get(2)?,
        file: row.get(3)?,
        lifecycle: row.get(4)?,
        orders: row.get(5)?,
        attention: row.get(6)?,
        revision: row.get(7)?,
    })
}

struct RepairRow {
    id: i64,
    mandate: Option<i64>,
    claim: Option<i64>,
    file: String,
    lifecycle: String,
    orders: String,
    attention: Option<String>,
    revision: i64,
}

fn decode_repair(row: RepairRow) -> Result<LocalRepair, AgoraError> {
    let id = row.id;
    // Wire data is kept as it arrived: read it back as tolerantly as the
    // answer it came in.
    let file: CompleteRepairState = read_stored(&row.file)
        .map_err(|e| AgoraError::Store(format!("repair {id}: unreadable file: {e}")))?;
    let lifecycle: RepairLifecycle = serde_json::from_str(&row.lifecycle)
        .map_err(|e| AgoraError::Store(format!("repair {id}: unreadable lifecycle: {e}")))?;
    let orders: Vec<PartOrderLine> = read_stored(&row.orders)
        .map_err(|e| AgoraError::Store(format!("repair {id}: unreadable orders: {e}")))?;
    Ok(LocalRepair {
        intervention_id: id,
        mandate_id: row.mandate,
        file,
        lifecycle,
        claim_id: row.claim,
        orders,
        attention: row.attention,
        revision: u64::try_from(row.revision).unwrap_or(0),
    })
}

const REPAIR_COLUMNS: &str =
    "intervention_id, mandate_id, claim_id, file, lifecycle, orders, attention, revision";

pub(crate) fn one_repair(
    conn: &Connection,
    filter: &str,
    value: i64,
) -> Result<Option<LocalRepair>, AgoraError> {
    conn.query_row(
        &format!("SELECT {REPAIR_COLUMNS} FROM repairs WHERE {filter} = ?1"),
        [value],
        repair_from_row,
    )
    .optional()
    .map_err(store_error)?
    .map(decode_repair)
    .transpose()
}

/// Writes a repair file if its revision is still the stored one (0: a new
/// file), raising the revision; a conflict otherwise.
pub(crate) fn upsert_repair_in(conn: &Connection, r: &LocalRepair) -> Result<(), AgoraError> {
    let file = serde_json::to_string(&r.file).map_err(store_error)?;
    let lifecycle = serde_json::to_string(&r.lifecycle).map_err(store_error)?;
    let orders = serde_json::to_string(&r.orders).map_err(store_error)?;
    let revision = i64::try_from(r.revision).map_err(store_error)?;
    let conflict = || {
        AgoraError::Conflict(format!(
            "repair file {} was written by another process since it was read",
            r.intervention_id
        ))
    };
    if revision == 0 {
        let n = conn
            .execute(
                "INSERT INTO repairs (intervention_id, mandate_id, claim_id, file, lifecycle, orders, attention, revision)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1) ON CONFLICT DO NOTHING",
                params![r.intervention_id, r.mandate_id, r.claim_id, file, lifecycle, orders, r.attention],
            )
            .map_err(store_error)?;
        return if n == 1 { Ok(()) } else { Err(conflict()) };
    }
    let n = conn
        .execute(
            "UPDATE repairs SET mandate_id = ?2, claim_id = ?3, file = ?4, lifecycle = ?5,
               orders = ?6, attention = ?7, revision = revision + 1
             WHERE intervention_id = ?1 AND revision = ?8",
            params![
                r.intervention_id,
                r.mandate_id,
                r.claim_id,
                file,
                lifecycle,
                orders,
                r.attention,
                revision
            ],
        )
        .map_err(store_error)?;
    if n == 1 { Ok(()) } else { Err(conflict()) }
}

#[async_trait]
impl RepairFiles for SqliteStore {
    async fn upsert_repair(&self, repair: &LocalRepair) -> Result<(), AgoraError> {
        let repair = repair.clone();
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            upsert_repair_in(&tx, &repair)?;
            tx.commit().map_err(store_error)
        })
        .await
    }

    async fn repair(&self, id: InterventionId) -> Result<Option<LocalRepair>, AgoraError> {
        self.with_state(move |c| one_repair(c, "intervention_id", id))
            .await
    }

    async fn repair_by_mandate(&self, id: MandateId) -> Result<Option<LocalRepair>, AgoraError> {
        self.with_state(move |c| one_repair(c, "mandate_id", id))
            .await
    }

    async fn repair_by_claim(&self, id: ClaimId) -> Result<Option<LocalRepair>, AgoraError> {
        self.with_state(move |c| one_repair(c, "claim_id", id))
            .await
    }

    async fn repairs(&self) -> Result<Vec<LocalRepair>, AgoraError> {
        self.with_state(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {REPAIR_COLUMNS} FROM repairs ORDER BY intervention_id"
                ))
                .map_err(store_error)?;
            let rows = stmt
                .query_map([], repair_from_row)
                .map_err(store_error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(store_error)?;
            rows.into_iter().map(decode_repair).collect()
        })
        .await
    }

    async fn save_with_operation(
        &self,
        repair: &LocalRepair,
        operation: Option<Operation>,
        now: Timestamp,
    ) -> Result<Option<u64>, AgoraError> {
        let repair = repair.clone();
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            upsert_repair_in(&tx, &repair)?;
            let id = operation
                .map(|op| enqueue_in(&tx, Some(repair.intervention_id), &op, now))
                .transpose()?;
            tx.commit().map_err(store_error)?;
            Ok(id)
        })
        .await
    }
}

#[async_trait]
impl SyncCursors for SqliteStore {
    async fn cursor(&self, key: &str) -> Result<Option<Timestamp>, AgoraError> {
        let key = key.to_owned();
        self.with_state(move |c| {
            c.query_row("SELECT at_ms FROM cursors WHERE key = ?1", [key], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map(|v| v.map(from_ms))
            .map_err(store_error)
        })
        .await
    }

    async fn set_cursor(&self, key: &str, at: Timestamp) -> Result<(), AgoraError> {
        let key = key.to_owned();
        self.with_state(move |c| set_cursor_in(c, &key, at)).await
    }
}

fn set_cursor_in(c: &Connection, key: &str, at: Timestamp) -> Result<(), AgoraError> {
    c.execute(
        "INSERT INTO cursors (key, at_ms) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET at_ms = excluded.at_ms",
        params![key, ms(at)],
    )
    .map(|_| ())
    .map_err(store_error)
}

/// Rows per `INSERT` in a catalog upsert. Row by row, most of the time
/// went to stepping the statement and binding; 32 rows a statement write a
/// million parts ~40% faster (`docs/benchmarks.md`).
const ROWS_PER_INSERT: usize = 32;

/// The upsert of `rows` records into a catalog table. Rows are applied in
/// order, so of two with the same key in one statement the later wins, as
/// it would row by row.
fn upsert_sql(table: &str, key_column: &str, rows: usize) -> String {
    let values = vec!["(?, ?, ?, ?)"; rows].join(", ");
    format!(
        "INSERT INTO {table} (manufacturer, language, {key_column}, record) VALUES {values}
         ON CONFLICT (manufacturer, language, {key_column}) DO UPDATE SET record = excluded.record"
    )
}

fn upsert_records<T: agora_domain::wire::WriteJson>(
    c: &mut Connection,
    table: &str,
    key_column: &str,
    (manufacturer, language): (ManufacturerId, Lcid),
    records: &[T],
    key: impl Fn(&T) -> Option<&str>,
    completes: Option<&CursorMove>,
) -> Result<u64, AgoraError> {
    let keyed: Vec<(&str, &T)> = records
        .iter()
        .filter_map(|r| key(r).map(|k| (k, r)))
        .collect();
    let tx = c.transaction().map_err(store_error)?;
    {
        let mut texts = Vec::with_capacity(ROWS_PER_INSERT * 128);
        let mut ends = Vec::with_capacity(ROWS_PER_INSERT);
        let mut chunks = keyed.chunks_exact(ROWS_PER_INSERT);
        let mut many = tx
            .prepare_cached(&upsert_sql(table, key_column, ROWS_PER_INSERT))
            .map_err(store_error)?;
        let mut one = tx
            .prepare_cached(&upsert_sql(table, key_column, 1))
            .map_err(store_error)?;
        for chunk in &mut chunks {
            upsert_rows(
                &mut many,
                manufacturer,
                language,
                chunk,
                &mut texts,
                &mut ends,
            )?;
        }
        for row in chunks.remainder() {
            upsert_rows(
                &mut one,
                manufacturer,
                language,
                std::slice::from_ref(row),
                &mut texts,
                &mut ends,
            )?;
        }
    }
    if let Some(cursor) = completes {
        set_cursor_in(&tx, &cursor.key, cursor.at)?;
    }
    tx.commit().map_err(store_error)?;
    Ok(keyed.len() as u64)
}

/// Runs `stmt` (the upsert of `rows.len()` rows) on `rows`; `texts` and
/// `ends` are scratch space for the records' JSON.
fn upsert_rows<T: agora_domain::wire::WriteJson>(
    stmt: &mut rusqlite::Statement<'_>,
    manufacturer: ManufacturerId,
    language: Lcid,
    rows: &[(&str, &T)],
    texts: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) -> Result<(), AgoraError> {
    texts.clear();
    ends.clear();
    for (_, record) in rows {
        // The record whole, unknown fields included, as its Serialize form
        // would write it (the direct writer is the faster path).
        record.write_json(texts).map_err(store_error)?;
        ends.push(texts.len());
    }
    let json = std::str::from_utf8(texts).map_err(store_error)?;
    let mut start = 0;
    for (i, ((k, _), &end)) in rows.iter().zip(ends.iter()).enumerate() {
        let text = json
            .get(start..end)
            .ok_or_else(|| AgoraError::Store("a record's JSON was cut mid-character".to_owned()))?;
        start = end;
        let at = 4 * i;
        stmt.raw_bind_parameter(at + 1, manufacturer.0)
            .and_then(|()| stmt.raw_bind_parameter(at + 2, language.0))
            .and_then(|()| stmt.raw_bind_parameter(at + 3, *k))
            .and_then(|()| stmt.raw_bind_parameter(at + 4, text))
            .map_err(store_error)?;
    }
    stmt.raw_execute().map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn upsert_spare_parts(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
        batch: Vec<SparePart>,
        completes: Option<CursorMove>,
    ) -> Result<u64, AgoraError> {
        self.with_catalog(move |c| {
            upsert_records(
                c,
                "spare_parts",
                "reference",
                (manufacturer, language),
                &batch,
                |p| p.reference.as_deref(),
                completes.as_ref(),
            )
        })
        .await
    }

    async fn upsert_products(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
        batch: Vec<Product>,
        completes: Option<CursorMove>,
    ) -> Result<u64, AgoraError> {
        self.with_catalog(move |c| {
            upsert_records(
                c,
                "products",
                "commercial_ref",
                (manufacturer, language),
                &batch,
                |p| p.commercial_ref.as_deref(),
                completes.as_ref(),
            )
        })
        .await
    }

    async fn count_spare_parts(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
    ) -> Result<u64, AgoraError> {
        self.with_catalog(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM spare_parts WHERE manufacturer = ?1 AND language = ?2",
                params![manufacturer.0, language.0],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(store_error)
        })
        .await
    }
}
