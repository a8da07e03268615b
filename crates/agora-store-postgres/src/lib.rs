//! # agora-store-postgres
//!
//! agora's local state in PostgreSQL, shared by several workers, processes
//! and products: the store ports of `agora-ports` ([`RepairFiles`],
//! [`SyncCursors`], [`Outbox`](agora_ports::Outbox) and [`CatalogStore`](agora_ports::CatalogStore))
//! with the same contract as `agora-store-sqlite`, checked by the same
//! conformance suite (`agora-store-conformance`).
//!
//! - tokio-postgres with a deadpool pool; plain TCP or a unix socket, rustls
//!   where the URL asks for TLS (no OpenSSL). See [`PostgresStore::connect`].
//! - Migrations are embedded, versioned (table `agora_schema`) and applied
//!   on open under an advisory lock, so workers starting at once migrate
//!   the database once.
//! - The outbox's claims lock their rows with `FOR UPDATE SKIP LOCKED`:
//!   workers never wait on each other's entries, and none is handed to two.
//!   A partial unique index holds the exclusive keys of open creations.
//! - Catalog upserts stream through binary `COPY` into a staging table,
//!   then one `INSERT … ON CONFLICT DO UPDATE` per batch; a sync's cursor is
//!   written in the transaction of its last batch.
//!
//! It holds no rule: the use cases of `agora-app` decide what to write,
//! and the outbox's rules ([`agora_ports::apply_answer`],
//! [`agora_ports::Operation::exclusive_key`]) live in `agora-ports`.
//! [`throwaway`] starts a private PostgreSQL server for tests and benches.

use std::sync::Arc;

use agora_domain::lifecycle::RepairLifecycle;
use agora_domain::wire::read_stored;
use agora_domain::{
    ClaimId, CompleteRepairState, InterventionId, MandateId, MandateLightResponse, PartOrderLine,
};
use agora_ports::{
    AgoraError, KeptWorkOrder, LocalRepair, Operation, RepairFiles, SyncCursors,
    event_of_work_order, events_of_repair_write,
};
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use jiff::Timestamp;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

mod catalog;
mod connect;
mod events;
mod jobs;
mod outbox;
pub mod throwaway;
mod webhooks;

pub use connect::{
    PgOptions, check_connection_string, is_key_value_form, is_postgres_url, pgpass_lookup,
    redacted, scheme_of,
};

use events::record_in;

/// The advisory lock that orders the transactions recording events (for
/// tests that play another agora's transaction).
#[doc(hidden)]
pub use events::EVENTS_LOCK;
use outbox::enqueue_in;

/// The agora schema version this build migrates a database to (and the
/// newest it opens): the number of steps in its migrations.
pub const SCHEMA_VERSION: i32 = 8;

const _: () = assert!(MIGRATIONS.len() == SCHEMA_VERSION as usize);

/// The schema, one step per version; applied in order on open.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema, the SQLite store's version 2 in PostgreSQL's
    // types (ids and OEM codes as BIGINT, times as epoch milliseconds, wire
    // data as the TEXT it arrived as: lossless, unlike jsonb).
    "CREATE TABLE repairs (
        intervention_id BIGINT PRIMARY KEY,
        mandate_id BIGINT UNIQUE,
        claim_id BIGINT UNIQUE,
        file TEXT NOT NULL,
        lifecycle TEXT NOT NULL,
        orders TEXT NOT NULL DEFAULT '[]',
        attention TEXT,
        revision BIGINT NOT NULL DEFAULT 1
    );
    CREATE TABLE cursors (key TEXT PRIMARY KEY, at_ms BIGINT NOT NULL);
    CREATE TABLE outbox (
        id BIGSERIAL PRIMARY KEY,
        intervention_id BIGINT,
        operation TEXT NOT NULL,
        idempotent BOOLEAN NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms BIGINT NOT NULL,
        last_error TEXT,
        created_ms BIGINT NOT NULL,
        owner TEXT,
        lease_until_ms BIGINT,
        answer TEXT,
        exclusive_key TEXT,
        needs_result BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX outbox_due ON outbox (state, next_attempt_ms, id);
    CREATE INDEX outbox_file ON outbox (intervention_id, state);
    CREATE UNIQUE INDEX outbox_exclusive_open ON outbox (exclusive_key)
      WHERE exclusive_key IS NOT NULL
        AND (state IN ('pending', 'sending', 'in_doubt') OR needs_result);
    CREATE TABLE spare_parts (
        manufacturer BIGINT NOT NULL,
        language BIGINT NOT NULL,
        reference TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (manufacturer, language, reference)
    );
    CREATE TABLE products (
        manufacturer BIGINT NOT NULL,
        language BIGINT NOT NULL,
        commercial_ref TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (manufacturer, language, commercial_ref)
    );",
    // 2: claims that do not walk the outbox's history. A claim takes the
    // oldest pending entry (`ORDER BY id`); through the primary key it read
    // every delivered entry older than that first, so a claim's cost grew
    // with the history (1.6 ms a claim after 10,000 deliveries). The
    // pending entries have an index of their own, and a file's earlier
    // open entries (the FIFO check) one that holds only those.
    "CREATE INDEX outbox_pending ON outbox (id) WHERE state = 'pending';
    CREATE INDEX outbox_file_open ON outbox (intervention_id, id)
      WHERE state IN ('pending', 'sending');",
    // 3: operators and timing, as the SQLite store's version 3: when the
    // latest attempt was sent, when and why the entry was parked (entries
    // parked before: from their last due time, in doubt, abandoned,
    // unreadable or else given up), the key held after an abandon while an
    // attempt may still land, the duplicate answers. A file's earlier
    // entries that block a claim now include those in doubt or failed.
    "ALTER TABLE outbox ADD COLUMN sent_ms BIGINT;
    ALTER TABLE outbox ADD COLUMN parked_ms BIGINT;
    ALTER TABLE outbox ADD COLUMN park_reason TEXT;
    ALTER TABLE outbox ADD COLUMN held_until_ms BIGINT;
    ALTER TABLE outbox ADD COLUMN duplicates TEXT;
    UPDATE outbox SET parked_ms = next_attempt_ms, park_reason = CASE
        WHEN state = 'in_doubt' THEN 'in_doubt'
        WHEN last_error = 'resolved by hand: abandoned' THEN 'abandoned'
        WHEN last_error LIKE 'unreadable entry:%' THEN 'unreadable'
        ELSE 'gave_up' END
      WHERE state IN ('in_doubt', 'failed');
    DROP INDEX outbox_file_open;
    CREATE INDEX outbox_file_open ON outbox (intervention_id, id)
      WHERE state IN ('pending', 'sending', 'in_doubt', 'failed');",
    // 4: the work order a repair file came from, kept as AgoraPlus sent
    // it (unknown fields included) as the TEXT it was written as; NULL for
    // files saved before, and for files created here.
    // The work orders pulled, accepted or not, each as AgoraPlus sent it,
    // with the repair file it became (NULL: awaiting acceptance).
    "ALTER TABLE repairs ADD COLUMN work_order TEXT;
    CREATE TABLE work_orders (
        mandate_id BIGINT PRIMARY KEY,
        work_order TEXT NOT NULL,
        intervention_id BIGINT,
        seen_ms BIGINT NOT NULL
    );",
    // 5: each catalog record keeps when the sync that wrote it started
    // (epoch milliseconds; 0 for records written before): an upsert
    // replaces a record only from a sync that started no earlier, so that
    // of two syncs of one OEM at once, the older never overwrites newer
    // records.
    "ALTER TABLE spare_parts ADD COLUMN synced_ms BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE products ADD COLUMN synced_ms BIGINT NOT NULL DEFAULT 0;",
    // 6: the leases of the worker's periodic jobs (`agora watch`): who
    // runs a job until when, and when it was last completed. The events,
    // each written by the transaction of its change (see events.rs for
    // why their ids are commit-ordered).
    "CREATE TABLE job_leases (
        job TEXT PRIMARY KEY,
        owner TEXT,
        until_ms BIGINT,
        done_ms BIGINT
    );
    CREATE TABLE events (
        id BIGSERIAL PRIMARY KEY,
        kind TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        intervention_id BIGINT,
        data TEXT NOT NULL
    );",
    // 7: webhooks. Per endpoint, the last event considered for delivery;
    // a delivery per event per endpoint, with its state, attempts, next
    // attempt time and lease. `queued_ms` starts the delivery's maximum age.
    "CREATE TABLE webhook_cursors (
        endpoint TEXT PRIMARY KEY,
        last_event BIGINT NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        endpoint TEXT NOT NULL,
        event_id BIGINT NOT NULL,
        intervention_id BIGINT,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_ms BIGINT NOT NULL,
        queued_ms BIGINT NOT NULL,
        owner TEXT,
        lease_until_ms BIGINT,
        delivered_ms BIGINT,
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
    "ALTER TABLE repairs ADD COLUMN accepted_ms BIGINT;
    UPDATE repairs SET accepted_ms = (
        SELECT MIN(e.at_ms) FROM events e
        WHERE e.kind = 'claim.closedaccepted' AND e.intervention_id = repairs.intervention_id
    );",
];

/// The SQL of each schema version's step, in order (step `n` takes a
/// database from version `n` to `n + 1`), for tests that build a database
/// at an older version.
#[doc(hidden)]
pub fn migration_steps() -> &'static [&'static str] {
    MIGRATIONS
}

/// The advisory lock migrations run under (any constant; "agora" in ASCII).
const MIGRATION_LOCK: i64 = 0x0061_676f_7261;

/// A store error with the whole chain of causes (tokio-postgres's own
/// `Display` says only "db error").
pub(crate) fn store_error(e: impl std::error::Error + Send + Sync + 'static) -> AgoraError {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    AgoraError::store_from(text, e)
}

pub(crate) fn ms(ts: Timestamp) -> i64 {
    ts.as_millisecond()
}

pub(crate) fn from_ms(v: i64) -> Timestamp {
    Timestamp::from_millisecond(v).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The PostgreSQL store. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// The catalog's writer: a thread with a connection of its own that
    /// runs catalog operations in the order they were started.
    catalog: catalog::Writer,
    /// Where it connects, to open it again.
    settings: Arc<(tokio_postgres::Config, PgOptions)>,
    /// Added to the database's clock as this store reads it (tests only:
    /// [`PgOptions::clock_offset_ms`]).
    clock_offset_ms: i64,
}

/// The test-only variable that offsets the database's clock as this
/// process reads it ([`PgOptions::clock_offset_ms`]).
pub const CLOCK_OFFSET_VARIABLE: &str = "AGORA_TEST_DB_CLOCK_OFFSET_MS";

/// The offset of the database's clock: the test-only variable's value
/// (`variable`) when set, else the options'.
fn clock_offset(options: &PgOptions, variable: Option<&str>) -> Result<i64, AgoraError> {
    match variable {
        Some(text) => text.trim().parse().map_err(|_| {
            AgoraError::Invalid(format!(
                "{CLOCK_OFFSET_VARIABLE} must be a whole number of milliseconds, not `{text}`"
            ))
        }),
        None => Ok(options.clock_offset_ms),
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("at", &self.describe())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database of `url` (`postgres://USER@HOST:PORT/DB`,
    /// with `?host=/run/postgresql` for a unix socket, `?sslmode=require`
    /// for TLS) and applies migrations. The password comes from the URL, or
    /// [`PgOptions::password_file`], or the pgpass file; it is never
    /// printed.
    pub async fn connect(url: &str) -> Result<Self, AgoraError> {
        Self::connect_with(url, PgOptions::default()).await
    }

    /// [`PostgresStore::connect`] with options.
    pub async fn connect_with(url: &str, options: PgOptions) -> Result<Self, AgoraError> {
        let config = connect::config(url, &options)?;
        Self::open(config, options).await
    }

    /// A second store on the same database, with connections of its own
    /// (as another process would open it).
    pub async fn reopen(&self) -> Result<Self, AgoraError> {
        let (config, options) = &*self.settings;
        Self::open(config.clone(), options.clone()).await
    }

    async fn open(config: tokio_postgres::Config, options: PgOptions) -> Result<Self, AgoraError> {
        let manager = Manager::from_config(
            config.clone(),
            connect::tls()?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(2))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(options.pool_wait_timeout))
            .create_timeout(Some(
                config
                    .get_connect_timeout()
                    .copied()
                    .unwrap_or(options.connect_timeout),
            ))
            .recycle_timeout(Some(options.pool_recycle_timeout))
            .build()
            .map_err(|e| AgoraError::store(format!("cannot build the connection pool: {e}")))?;
        let variable = std::env::var(CLOCK_OFFSET_VARIABLE).ok();
        let clock_offset_ms = clock_offset(&options, variable.as_deref())?;
        let store = Self {
            clock_offset_ms,
            pool,
            catalog: catalog::Writer::start(config.clone())?,
            settings: Arc::new((config, options)),
        };
        let mut client = store.client().await.map_err(|e| match e {
            AgoraError::Store(why) => AgoraError::store_from(
                format!(
                    "cannot connect to PostgreSQL at {}: {why}",
                    store.describe()
                ),
                why,
            ),
            other => other,
        })?;
        migrate(&mut client).await?;
        Ok(store)
    }

    /// Where the store is, without its password: `user@host:port/db`.
    pub fn describe(&self) -> String {
        connect::describe(&self.settings.0)
    }

    /// The one SQL expression leases are taken, renewed and judged by:
    /// the database's clock in milliseconds since the epoch (plus the
    /// test-only offset).
    pub(crate) fn db_clock(&self) -> String {
        format!(
            "(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT + {})",
            self.clock_offset_ms
        )
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client, AgoraError> {
        self.pool.get().await.map_err(|e| self.pool_error(e))
    }

    /// A pool's timeout said in agora's words, naming the setting.
    fn pool_error(&self, e: deadpool_postgres::PoolError) -> AgoraError {
        use deadpool_postgres::{PoolError, TimeoutType};
        let (config, options) = &*self.settings;
        match e {
            PoolError::Timeout(TimeoutType::Wait) => AgoraError::store(format!(
                "no PostgreSQL connection came free within {:?}: all {} of the pool are in use \
                 (PgOptions::pool_wait_timeout, pool_size)",
                options.pool_wait_timeout,
                self.pool.status().max_size
            )),
            PoolError::Timeout(TimeoutType::Create) => AgoraError::store(format!(
                "opening a PostgreSQL connection took longer than {:?} (connect_timeout)",
                config
                    .get_connect_timeout()
                    .copied()
                    .unwrap_or(options.connect_timeout)
            )),
            PoolError::Timeout(TimeoutType::Recycle) => AgoraError::store(format!(
                "checking a pooled PostgreSQL connection took longer than {:?} \
                 (PgOptions::pool_recycle_timeout)",
                options.pool_recycle_timeout
            )),
            other => store_error(other),
        }
    }
}

async fn migrate(client: &mut deadpool_postgres::Client) -> Result<(), AgoraError> {
    let tx = client.transaction().await.map_err(store_error)?;
    // Held until the transaction ends: a second worker opening the same
    // database waits here, then finds the schema current.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(store_error)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS agora_schema (version INTEGER NOT NULL)")
        .await
        .map_err(store_error)?;
    let version: i32 = tx
        .query_opt("SELECT version FROM agora_schema", &[])
        .await
        .map_err(store_error)?
        .map_or(0, |r| r.get(0));
    let known = SCHEMA_VERSION;
    if version > known {
        return Err(AgoraError::store(format!(
            "the database is at agora schema version {version}, newer than this agora ({known})"
        )));
    }
    for (i, step) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.batch_execute(step).await.map_err(store_error)?;
        let reached = i32::try_from(i + 1).unwrap_or(i32::MAX);
        tx.execute("DELETE FROM agora_schema", &[])
            .await
            .map_err(store_error)?;
        tx.execute(
            "INSERT INTO agora_schema (version) VALUES ($1)",
            &[&reached],
        )
        .await
        .map_err(store_error)?;
    }
    tx.commit().await.map_err(store_error)
}

const REPAIR_COLUMNS: &str = "intervention_id, mandate_id, claim_id, file, lifecycle, orders, \
     attention, revision, work_order, accepted_ms";

fn decode_repair(row: &Row) -> Result<LocalRepair, AgoraError> {
    let id: i64 = row.get(0);
    // Wire data is kept as it arrived: read it back as tolerantly as the
    // answer it came in.
    let file: CompleteRepairState = read_stored(row.get::<_, &str>(3))
        .map_err(|e| AgoraError::store(format!("repair {id}: unreadable file: {e}")))?;
    let lifecycle: RepairLifecycle = serde_json::from_str(row.get::<_, &str>(4))
        .map_err(|e| AgoraError::store(format!("repair {id}: unreadable lifecycle: {e}")))?;
    let orders: Vec<PartOrderLine> = read_stored(row.get::<_, &str>(5))
        .map_err(|e| AgoraError::store(format!("repair {id}: unreadable orders: {e}")))?;
    let work_order = row
        .get::<_, Option<&str>>(8)
        .map(read_stored)
        .transpose()
        .map_err(|e| AgoraError::store(format!("repair {id}: unreadable work order: {e}")))?;
    Ok(LocalRepair {
        intervention_id: InterventionId(id),
        mandate_id: row.get::<_, Option<i64>>(1).map(MandateId),
        file,
        lifecycle,
        claim_id: row.get::<_, Option<i64>>(2).map(ClaimId),
        orders,
        attention: row.get(6),
        revision: u64::try_from(row.get::<_, i64>(7)).unwrap_or(0),
        work_order,
        accepted_at: row
            .get::<_, Option<i64>>(9)
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()),
    })
}

/// The repair file whose `column` is `value`; `FOR UPDATE` when `lock`.
pub(crate) async fn one_repair(
    c: &impl GenericClient,
    column: &str,
    value: i64,
    lock: bool,
) -> Result<Option<LocalRepair>, AgoraError> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let statement = c
        .prepare_cached(&format!(
            "SELECT {REPAIR_COLUMNS} FROM repairs WHERE {column} = $1{lock}"
        ))
        .await
        .map_err(store_error)?;
    c.query_opt(&statement, &[&value])
        .await
        .map_err(store_error)?
        .as_ref()
        .map(decode_repair)
        .transpose()
}

/// Writes a repair file if its revision is still the stored one (0: a new
/// file), raising the revision; a conflict otherwise. The change's events
/// are recorded with it (`agora_ports::events_of_repair_write`): `c` is a
/// transaction.
pub(crate) async fn upsert_repair_in(
    c: &impl GenericClient,
    r: &LocalRepair,
) -> Result<(), AgoraError> {
    let old = if r.revision == 0 {
        None
    } else {
        one_repair(c, "intervention_id", r.intervention_id.0, true).await?
    };
    write_repair_in(c, r).await?;
    record_in(c, &events_of_repair_write(old.as_ref(), r)).await
}

async fn write_repair_in(c: &impl GenericClient, r: &LocalRepair) -> Result<(), AgoraError> {
    let file = serde_json::to_string(&r.file).map_err(store_error)?;
    let lifecycle = serde_json::to_string(&r.lifecycle).map_err(store_error)?;
    let orders = serde_json::to_string(&r.orders).map_err(store_error)?;
    let revision = i64::try_from(r.revision).map_err(store_error)?;
    let work_order = r
        .work_order
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(store_error)?;
    let (intervention, mandate, claim) = (
        r.intervention_id.0,
        r.mandate_id.map(i64::from),
        r.claim_id.map(i64::from),
    );
    let accepted = r.accepted_at.map(|t| t.as_millisecond());
    let values: [&(dyn ToSql + Sync); 9] = [
        &intervention,
        &mandate,
        &claim,
        &file,
        &lifecycle,
        &orders,
        &r.attention,
        &work_order,
        &accepted,
    ];
    let n = if revision == 0 {
        c.execute(
            "INSERT INTO repairs (intervention_id, mandate_id, claim_id, file, lifecycle, orders, attention, work_order, accepted_ms, revision)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1) ON CONFLICT DO NOTHING",
            &values,
        )
        .await
    } else {
        let mut with_revision = values.to_vec();
        with_revision.push(&revision);
        c.execute(
            "UPDATE repairs SET mandate_id = $2, claim_id = $3, file = $4, lifecycle = $5,
               orders = $6, attention = $7, work_order = $8, accepted_ms = $9,
               revision = revision + 1
             WHERE intervention_id = $1 AND revision = $10",
            &with_revision,
        )
        .await
    }
    .map_err(store_error)?;
    if n == 1 {
        Ok(())
    } else {
        Err(AgoraError::Conflict(format!(
            "repair file {} was written by another process since it was read",
            r.intervention_id
        )))
    }
}

const WORK_ORDER_COLUMNS: &str = "mandate_id, work_order, intervention_id, seen_ms";

fn decode_work_order(row: &Row) -> Result<KeptWorkOrder, AgoraError> {
    let id: i64 = row.get(0);
    Ok(KeptWorkOrder {
        mandate: read_stored(row.get::<_, &str>(1))
            .map_err(|e| AgoraError::store(format!("work order {id}: unreadable: {e}")))?,
        intervention_id: row.get::<_, Option<i64>>(2).map(InterventionId),
        seen_at: from_ms(row.get(3)),
    })
}

#[async_trait]
impl RepairFiles for PostgresStore {
    async fn upsert_repair(&self, repair: &LocalRepair) -> Result<(), AgoraError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        upsert_repair_in(&tx, repair).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn repair(&self, id: InterventionId) -> Result<Option<LocalRepair>, AgoraError> {
        one_repair(&self.client().await?, "intervention_id", id.0, false).await
    }

    async fn repair_by_mandate(&self, id: MandateId) -> Result<Option<LocalRepair>, AgoraError> {
        one_repair(&self.client().await?, "mandate_id", id.0, false).await
    }

    async fn repair_by_claim(&self, id: ClaimId) -> Result<Option<LocalRepair>, AgoraError> {
        one_repair(&self.client().await?, "claim_id", id.0, false).await
    }

    async fn repairs(&self) -> Result<Vec<LocalRepair>, AgoraError> {
        self.client()
            .await?
            .query(
                &format!("SELECT {REPAIR_COLUMNS} FROM repairs ORDER BY intervention_id"),
                &[],
            )
            .await
            .map_err(store_error)?
            .iter()
            .map(decode_repair)
            .collect()
    }

    async fn save_with_operation(
        &self,
        repair: &LocalRepair,
        operation: Option<Operation>,
        now: Timestamp,
    ) -> Result<Option<u64>, AgoraError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        upsert_repair_in(&tx, repair).await?;
        let id = match operation {
            Some(op) => Some(
                enqueue_in(
                    &tx,
                    (Some(repair.intervention_id), &op),
                    now,
                    &self.db_clock(),
                )
                .await?,
            ),
            None => None,
        };
        tx.commit().await.map_err(store_error)?;
        Ok(id)
    }

    async fn keep_work_order(
        &self,
        mandate: &MandateLightResponse,
        intervention_id: Option<InterventionId>,
        seen_at: Timestamp,
    ) -> Result<(), AgoraError> {
        let Some(id) = mandate.mandate_id else {
            return Ok(());
        };
        let json = serde_json::to_string(mandate).map_err(store_error)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        // `xmax = 0`: the row was inserted, not updated (first pulled).
        let inserted: bool = tx
            .query_one(
                "INSERT INTO work_orders (mandate_id, work_order, intervention_id, seen_ms)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (mandate_id) DO UPDATE SET work_order = EXCLUDED.work_order,
                   intervention_id = COALESCE(EXCLUDED.intervention_id, work_orders.intervention_id),
                   seen_ms = EXCLUDED.seen_ms
                 RETURNING (xmax = 0)",
                &[&id.0, &json, &intervention_id.map(|i| i.0), &ms(seen_at)],
            )
            .await
            .map_err(store_error)?
            .get(0);
        if inserted {
            record_in(&tx, &[event_of_work_order(mandate, intervention_id)]).await?;
        }
        tx.commit().await.map_err(store_error)
    }

    async fn work_order(&self, id: MandateId) -> Result<Option<KeptWorkOrder>, AgoraError> {
        self.client()
            .await?
            .query_opt(
                &format!("SELECT {WORK_ORDER_COLUMNS} FROM work_orders WHERE mandate_id = $1"),
                &[&id.0],
            )
            .await
            .map_err(store_error)?
            .as_ref()
            .map(decode_work_order)
            .transpose()
    }

    async fn work_orders(&self) -> Result<Vec<KeptWorkOrder>, AgoraError> {
        self.client()
            .await?
            .query(
                &format!("SELECT {WORK_ORDER_COLUMNS} FROM work_orders ORDER BY mandate_id"),
                &[],
            )
            .await
            .map_err(store_error)?
            .iter()
            .map(decode_work_order)
            .collect()
    }
}

/// Moves cursor `$1` to `$2` (epoch milliseconds), never back: an earlier
/// time than the stored one (a sync that started before another and ended
/// after it) is ignored.
pub(crate) const SET_CURSOR: &str = "INSERT INTO cursors (key, at_ms) VALUES ($1, $2)
     ON CONFLICT (key) DO UPDATE SET at_ms = EXCLUDED.at_ms
       WHERE EXCLUDED.at_ms > cursors.at_ms";

#[async_trait]
impl SyncCursors for PostgresStore {
    async fn cursor(&self, key: &str) -> Result<Option<Timestamp>, AgoraError> {
        Ok(self
            .client()
            .await?
            .query_opt("SELECT at_ms FROM cursors WHERE key = $1", &[&key])
            .await
            .map_err(store_error)?
            .map(|r| from_ms(r.get(0))))
    }

    async fn set_cursor(&self, key: &str, at: Timestamp) -> Result<(), AgoraError> {
        self.client()
            .await?
            .execute(SET_CURSOR, &[&key, &ms(at)])
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_clock_offset_comes_from_its_variable_else_the_options() {
        let options = PgOptions {
            clock_offset_ms: 5,
            ..PgOptions::default()
        };
        assert_eq!(clock_offset(&options, None).unwrap(), 5);
        assert_eq!(clock_offset(&options, Some(" -40000 ")).unwrap(), -40_000);
        let refused = clock_offset(&options, Some("40s")).unwrap_err().to_string();
        assert!(
            refused.contains("AGORA_TEST_DB_CLOCK_OFFSET_MS") && refused.contains("40s"),
            "{refused}"
        );
    }
}
