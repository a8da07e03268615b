//! # agora-store
//!
//! The local store a product picks when it starts, by a locator: a path
//! names a SQLite file (`agora-store-sqlite`, the embedded default), a
//! `postgres://` (or `postgresql://`) URL or a libpq `key=value` string
//! names a PostgreSQL database shared by several workers and products
//! (`agora-store-postgres`); anything else that looks like a connection
//! string is refused ([`Locator::parse`]), never taken for a file.
//! [`Store`] implements every store port of `agora-ports` by handing each
//! call to the store it holds.
//!
//! It is not a store of its own and holds no rule; a product that knows
//! its store at compile time may use either crate directly (`agora-app` is
//! generic over the ports).

use std::path::PathBuf;

use agora_domain::{
    ClaimId, InterventionId, Lcid, MandateId, MandateLightResponse, ManufacturerId, Product,
    SparePart,
};
use agora_ports::{
    AgoraError, Attempt, CatalogStore, CursorMove, Event, Events, Finish, Guard, JobLeases,
    KeptWorkOrder, Lease, LocalRepair, Operation, Outbox, OutboxEntry, OutboxState, Outcome,
    RepairFiles, Settlement, SyncCursors,
};
use agora_ports::{
    DeliveryOutcome, DeliveryState, FailedDelivery, Pruned, Retention, WebhookBacklog,
    WebhookDeliveries, WebhookDelivery,
};
pub use agora_store_postgres::{PgOptions, PostgresStore};
pub use agora_store_sqlite::SqliteStore;
use async_trait::async_trait;
use jiff::Timestamp;

/// Where the local state lives.
///
/// Its `Display` and `Debug` never show a password: a PostgreSQL locator
/// shows as `postgres://user@host:port/db`.
#[derive(Clone, PartialEq, Eq)]
pub enum Locator {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by connection URL or libpq `key=value`
    /// string (which may hold a password: it is never printed).
    Postgres(String),
}

/// The forms a locator may take, for errors.
const ACCEPTED: &str = "give a SQLite file's path (agora.db, or sqlite:PATH), a \
     postgres:// or postgresql:// URL, or a libpq key=value string \
     (host=/run/postgresql dbname=agora user=svc)";

impl Locator {
    /// Reads a locator:
    ///
    /// - `postgres://…` or `postgresql://…`, the scheme in any case: a
    ///   PostgreSQL database;
    /// - libpq's `key=value` form (`host=/run/postgresql dbname=agora
    ///   user=svc password=…`: the string opens with a key and `=`): a
    ///   PostgreSQL database;
    /// - `sqlite:PATH` or `sqlite://PATH`: the SQLite file `PATH`
    ///   (`sqlite:///var/lib/agora.db` is `/var/lib/agora.db`);
    /// - any other `scheme://…` (`mysql://`, `http://`), or `postgres:`
    ///   without `//`: refused;
    /// - anything else: a SQLite file's path (`agora.db`; a file whose
    ///   name opens like a key is named `./a=b`).
    ///
    /// A PostgreSQL string that does not read is refused here, before any
    /// connection. Errors ([`AgoraError::Config`]) never repeat the string.
    pub fn parse(db: &str) -> Result<Self, AgoraError> {
        let config = |why: String| AgoraError::Config(format!("the store locator (--db): {why}"));
        if db.trim().is_empty() {
            return Err(config(format!("it is empty; {ACCEPTED}")));
        }
        if let Some(path) = sqlite_path(db) {
            return if path.trim().is_empty() {
                Err(config("`sqlite:` names no file".to_owned()))
            } else {
                Ok(Self::Sqlite(PathBuf::from(path)))
            };
        }
        let postgres = if let Some(scheme) = agora_store_postgres::scheme_of(db) {
            if !agora_store_postgres::is_postgres_url(db) {
                return Err(config(format!(
                    "`{scheme}://` is not a store agora knows; {ACCEPTED}"
                )));
            }
            true
        } else if ["postgres:", "postgresql:"]
            .iter()
            .any(|p| db.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)))
        {
            return Err(config(format!(
                "a PostgreSQL URL opens with `postgres://`; {ACCEPTED}"
            )));
        } else {
            agora_store_postgres::is_key_value_form(db)
        };
        if postgres {
            agora_store_postgres::check_connection_string(db).map_err(|e| config(e.to_string()))?;
            Ok(Self::Postgres(db.to_owned()))
        } else {
            Ok(Self::Sqlite(PathBuf::from(db)))
        }
    }
}

/// The path of `sqlite:PATH` or `sqlite://PATH` (the prefix in any case).
fn sqlite_path(db: &str) -> Option<&str> {
    let head = db.get(..7)?;
    if !head.eq_ignore_ascii_case("sqlite:") {
        return None;
    }
    let rest = &db[7..];
    Some(rest.strip_prefix("//").unwrap_or(rest))
}

/// The path, or the PostgreSQL database without its password and
/// parameters.
impl std::fmt::Display for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => f.write_str(&agora_store_postgres::redacted(url)),
        }
    }
}

impl std::fmt::Debug for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(_) => f.debug_tuple("Postgres").field(&self.to_string()).finish(),
        }
    }
}

/// A store chosen at run time. Cheap to clone.
#[derive(Debug, Clone)]
pub enum Store {
    /// On SQLite.
    Sqlite(SqliteStore),
    /// On PostgreSQL.
    Postgres(PostgresStore),
}

impl Store {
    /// Opens (creating and migrating as needed) the store `locator` names.
    pub async fn open(locator: &Locator, options: PgOptions) -> Result<Self, AgoraError> {
        match locator {
            Locator::Sqlite(path) => SqliteStore::open(path).map(Self::Sqlite),
            Locator::Postgres(url) => PostgresStore::connect_with(url, options)
                .await
                .map(Self::Postgres),
        }
    }
}

/// Hands a call to the store held.
macro_rules! each {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        match $self {
            Store::Sqlite(s) => s.$method($($arg),*).await,
            Store::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

#[async_trait]
impl RepairFiles for Store {
    async fn upsert_repair(&self, repair: &LocalRepair) -> Result<(), AgoraError> {
        each!(self.upsert_repair(repair))
    }
    async fn repair(&self, id: InterventionId) -> Result<Option<LocalRepair>, AgoraError> {
        each!(self.repair(id))
    }
    async fn repair_by_mandate(&self, id: MandateId) -> Result<Option<LocalRepair>, AgoraError> {
        each!(self.repair_by_mandate(id))
    }
    async fn repair_by_claim(&self, id: ClaimId) -> Result<Option<LocalRepair>, AgoraError> {
        each!(self.repair_by_claim(id))
    }
    async fn repairs(&self) -> Result<Vec<LocalRepair>, AgoraError> {
        each!(self.repairs())
    }
    async fn save_with_operation(
        &self,
        repair: &LocalRepair,
        operation: Option<Operation>,
        now: Timestamp,
    ) -> Result<Option<u64>, AgoraError> {
        each!(self.save_with_operation(repair, operation, now))
    }
    async fn keep_work_order(
        &self,
        mandate: &MandateLightResponse,
        intervention_id: Option<InterventionId>,
        seen_at: Timestamp,
    ) -> Result<(), AgoraError> {
        each!(self.keep_work_order(mandate, intervention_id, seen_at))
    }
    async fn work_order(&self, id: MandateId) -> Result<Option<KeptWorkOrder>, AgoraError> {
        each!(self.work_order(id))
    }
    async fn work_orders(&self) -> Result<Vec<KeptWorkOrder>, AgoraError> {
        each!(self.work_orders())
    }
}

#[async_trait]
impl Events for Store {
    async fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>, AgoraError> {
        each!(self.events_after(after, limit))
    }
}

#[async_trait]
impl WebhookDeliveries for Store {
    async fn webhook_cursor(&self, endpoint: &str) -> Result<u64, AgoraError> {
        each!(self.webhook_cursor(endpoint))
    }
    async fn queue_deliveries(
        &self,
        endpoint: &str,
        after: u64,
        upto: u64,
        events: &[u64],
        now: Timestamp,
    ) -> Result<bool, AgoraError> {
        each!(self.queue_deliveries(endpoint, after, upto, events, now))
    }
    async fn claim_deliveries(
        &self,
        endpoint: &str,
        now: Timestamp,
        lease: &Lease,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, AgoraError> {
        each!(self.claim_deliveries(endpoint, now, lease, limit))
    }
    async fn finish_delivery(
        &self,
        endpoint: &str,
        event: u64,
        owner: &str,
        outcome: &DeliveryOutcome,
    ) -> Result<bool, AgoraError> {
        each!(self.finish_delivery(endpoint, event, owner, outcome))
    }
    async fn requeue_deliveries(
        &self,
        endpoint: &str,
        events: &[u64],
        now: Timestamp,
    ) -> Result<usize, AgoraError> {
        each!(self.requeue_deliveries(endpoint, events, now))
    }
    async fn webhook_backlog(&self) -> Result<Vec<WebhookBacklog>, AgoraError> {
        each!(self.webhook_backlog())
    }
    async fn failed_deliveries(&self, limit: usize) -> Result<Vec<FailedDelivery>, AgoraError> {
        each!(self.failed_deliveries(limit))
    }
    async fn delivery_state(
        &self,
        endpoint: &str,
        event: u64,
    ) -> Result<Option<DeliveryState>, AgoraError> {
        each!(self.delivery_state(endpoint, event))
    }
}

#[async_trait]
impl Retention for Store {
    async fn prune(&self, before: Timestamp) -> Result<Pruned, AgoraError> {
        each!(self.prune(before))
    }
}

#[async_trait]
impl JobLeases for Store {
    async fn take_job(
        &self,
        job: &str,
        lease: &Lease,
        now: Timestamp,
        unless_done_after: Option<Timestamp>,
    ) -> Result<bool, AgoraError> {
        each!(self.take_job(job, lease, now, unless_done_after))
    }
    async fn renew_job(&self, job: &str, lease: &Lease) -> Result<bool, AgoraError> {
        each!(self.renew_job(job, lease))
    }
    async fn release_job(
        &self,
        job: &str,
        owner: &str,
        done: Option<Timestamp>,
    ) -> Result<(), AgoraError> {
        each!(self.release_job(job, owner, done))
    }
}

#[async_trait]
impl SyncCursors for Store {
    async fn cursor(&self, key: &str) -> Result<Option<Timestamp>, AgoraError> {
        each!(self.cursor(key))
    }
    async fn set_cursor(&self, key: &str, at: Timestamp) -> Result<(), AgoraError> {
        each!(self.set_cursor(key, at))
    }
}

#[async_trait]
impl CatalogStore for Store {
    async fn upsert_spare_parts(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
        batch: Vec<SparePart>,
        as_of: Timestamp,
        completes: Option<CursorMove>,
    ) -> Result<u64, AgoraError> {
        each!(self.upsert_spare_parts(manufacturer, language, batch, as_of, completes))
    }
    async fn upsert_products(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
        batch: Vec<Product>,
        as_of: Timestamp,
        completes: Option<CursorMove>,
    ) -> Result<u64, AgoraError> {
        each!(self.upsert_products(manufacturer, language, batch, as_of, completes))
    }
    async fn count_spare_parts(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
    ) -> Result<u64, AgoraError> {
        each!(self.count_spare_parts(manufacturer, language))
    }
}

#[async_trait]
impl Outbox for Store {
    async fn enqueue(
        &self,
        intervention_id: Option<InterventionId>,
        operation: &Operation,
        now: Timestamp,
    ) -> Result<u64, AgoraError> {
        each!(self.enqueue(intervention_id, operation, now))
    }
    async fn claim_due(
        &self,
        now: Timestamp,
        lease: &Lease,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, AgoraError> {
        each!(self.claim_due(now, lease, limit))
    }
    async fn claim(
        &self,
        id: u64,
        now: Timestamp,
        lease: &Lease,
    ) -> Result<Option<OutboxEntry>, AgoraError> {
        each!(self.claim(id, now, lease))
    }
    async fn renew(&self, id: u64, lease: &Lease) -> Result<bool, AgoraError> {
        each!(self.renew(id, lease))
    }
    async fn finish(
        &self,
        id: u64,
        owner: &str,
        attempt_no: u32,
        attempt: &Attempt,
        now: Timestamp,
    ) -> Result<Finish, AgoraError> {
        each!(self.finish(id, owner, attempt_no, attempt, now))
    }
    async fn finish_all(&self, outcomes: &[Outcome]) -> Result<Vec<Finish>, AgoraError> {
        each!(self.finish_all(outcomes))
    }
    async fn settle(
        &self,
        id: u64,
        settlement: &Settlement,
        guard: Guard,
        now: Timestamp,
    ) -> Result<OutboxState, AgoraError> {
        each!(self.settle(id, settlement, guard, now))
    }
    async fn entries(&self, state: OutboxState) -> Result<Vec<OutboxEntry>, AgoraError> {
        each!(self.entries(state))
    }
    async fn entry(&self, id: u64) -> Result<Option<OutboxEntry>, AgoraError> {
        each!(self.entry(id))
    }
    async fn delivered_before(
        &self,
        file: InterventionId,
        before: u64,
    ) -> Result<Vec<OutboxEntry>, AgoraError> {
        each!(self.delivered_before(file, before))
    }
    async fn recover_expired(
        &self,
        now: Timestamp,
        window: std::time::Duration,
    ) -> Result<Vec<u64>, AgoraError> {
        each!(self.recover_expired(now, window))
    }
    async fn clock(&self) -> Result<Option<Timestamp>, AgoraError> {
        each!(self.clock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_postgres_in_any_case_and_anything_else_a_file() {
        for url in [
            "postgres://svc@db/agora",
            "postgresql://svc@db/agora",
            "Postgres://svc@db/agora",
            "POSTGRESQL://svc@db/agora",
            "host=/run/postgresql dbname=agora user=svc",
            "dbname=agora",
        ] {
            assert_eq!(
                Locator::parse(url).unwrap(),
                Locator::Postgres(url.into()),
                "{url}"
            );
        }
        for (given, path) in [
            ("state/agora.db", "state/agora.db"),
            ("agora.db", "agora.db"),
            ("./a=b", "./a=b"),
            ("sqlite:agora.db", "agora.db"),
            ("sqlite://agora.db", "agora.db"),
            ("SQLite:///var/lib/agora.db", "/var/lib/agora.db"),
        ] {
            assert_eq!(
                Locator::parse(given).unwrap(),
                Locator::Sqlite(path.into()),
                "{given}"
            );
        }
    }

    #[test]
    fn what_is_not_understood_is_refused_never_a_file() {
        for (bad, says) in [
            ("mysql://svc:s3cret@db/agora", "`mysql://` is not a store"),
            ("http://svc:s3cret@db/agora", "`http://` is not a store"),
            ("postgres:svc:s3cret@db/agora", "opens with `postgres://`"),
            ("host=db port=s3cret", "`port`"),
            ("host=db password=s3cret word", "key=value"),
            ("Postgres://svc:s3cret@db:s3cret/agora", "`port`"),
            ("", "empty"),
            ("  ", "empty"),
            ("sqlite:", "no file"),
        ] {
            let err = Locator::parse(bad).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(matches!(err, AgoraError::Config(_)), "{bad}: {text}");
            assert!(text.contains(says), "{bad}: {text}");
            assert!(!text.contains("s3cret"), "{bad}: {text}");
        }
        let err = Locator::parse("mysql://db/agora").unwrap_err().to_string();
        assert!(
            err.contains("postgres://") && err.contains("key=value"),
            "{err}"
        );
    }

    #[test]
    fn a_locator_is_shown_without_its_password() {
        for url in [
            "postgres://svc:s3cret@db.example:5432/agora",
            "Postgres://svc:s3cret@db.example:5432/agora",
            "postgres://svc@db.example/agora?password=s3cret",
            "postgresql://svc:s3cret@/agora?host=/run/postgresql",
            "host=/run/postgresql dbname=agora user=svc password=s3cret",
            "host=db.example user=svc password='s3cret with spaces' dbname=agora",
        ] {
            let locator = Locator::parse(url).unwrap();
            let shown = format!("{locator} {locator:?}");
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("svc@"), "{shown}");
        }
        assert_eq!(
            Locator::parse("postgres://svc:s3cret@db.example:5432/agora")
                .unwrap()
                .to_string(),
            "postgres://svc@db.example:5432/agora"
        );
    }

    #[tokio::test]
    async fn a_path_opens_a_sqlite_store_that_keeps_what_it_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let locator = Locator::parse(dir.path().join("agora.db").to_str().unwrap()).unwrap();
        let store = Store::open(&locator, PgOptions::default()).await.unwrap();
        assert!(matches!(store, Store::Sqlite(_)));
        store.set_cursor("k", Timestamp::UNIX_EPOCH).await.unwrap();
        assert_eq!(
            store.cursor("k").await.unwrap(),
            Some(Timestamp::UNIX_EPOCH)
        );
    }
}
