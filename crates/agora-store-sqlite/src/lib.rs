//! # agora-store-sqlite
//!
//! agora's durable local state on SQLite (bundled: no system library),
//! implementing the store ports of `agora-ports`:
//! [`RepairFiles`](agora_ports::RepairFiles),
//! [`SyncCursors`](agora_ports::SyncCursors),
//! [`Outbox`](agora_ports::Outbox),
//! [`CatalogStore`](agora_ports::CatalogStore),
//! [`JobLeases`](agora_ports::JobLeases) and
//! [`Events`](agora_ports::Events) (each written by the transaction of
//! its change).
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

use agora_ports::AgoraError;
use jiff::Timestamp;
use rusqlite::{Connection, Transaction, TransactionBehavior};

mod catalog;
mod cursors;
mod events;
mod jobs;
mod outbox;
mod repairs;
mod schema;
mod webhooks;

use repairs::{one_repair, upsert_repair_in};
use schema::{migrate, open_connection};

/// Begins a transaction that holds the write lock from its first statement
/// (`BEGIN IMMEDIATE`): a read-then-write never fails half-way with
/// `SQLITE_BUSY` because another process wrote in between, and waits for
/// the lock within the busy timeout instead.
pub(crate) fn write_tx(conn: &mut Connection) -> Result<Transaction<'_>, AgoraError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(store_error)
}

/// A store error in one sentence, the library's error kept as its source.
pub(crate) fn store_error(e: impl std::error::Error + Send + Sync + 'static) -> AgoraError {
    AgoraError::store_from(e.to_string(), e)
}

pub(crate) fn ms(ts: Timestamp) -> i64 {
    ts.as_millisecond()
}

pub(crate) fn from_ms(v: i64) -> Timestamp {
    Timestamp::from_millisecond(v).unwrap_or(Timestamp::UNIX_EPOCH)
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
            .map_err(|e| AgoraError::store(format!("cannot start the catalog thread: {e}")))?;
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
            .map_err(|e| AgoraError::store(format!("store task failed: {e}")))?
    }

    /// Queues a catalog operation (when first polled) and waits for it.
    async fn with_catalog<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, AgoraError> + Send + 'static,
    ) -> Result<R, AgoraError> {
        let stopped = || AgoraError::store("the catalog thread has stopped");
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: CatalogJob = Box::new(move |c| {
            // A panic mid-transaction rolls the transaction back when it
            // unwinds; the thread goes on with the next operation.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(c)))
                .unwrap_or_else(|_| Err(AgoraError::store("a catalog operation panicked")));
            let _ = done.send(result);
        });
        self.catalog.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}
