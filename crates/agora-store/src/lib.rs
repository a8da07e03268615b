//! # agora-store
//!
//! The local store a product picks when it starts, by a locator: a path
//! names a SQLite file (`agora-store-sqlite`, the embedded default), a
//! `postgres://` (or `postgresql://`) URL names a PostgreSQL database
//! shared by several workers and products (`agora-store-postgres`).
//! [`Store`] implements every store port of `agora-ports` by handing each
//! call to the store it holds.
//!
//! It is not a store of its own and holds no rule; a product that knows
//! its store at compile time may use either crate directly (`agora-app` is
//! generic over the ports).

use std::path::PathBuf;

use agora_domain::{ClaimId, InterventionId, Lcid, MandateId, ManufacturerId, Product, SparePart};
use agora_ports::{
    AgoraError, Attempt, CatalogStore, CursorMove, Finish, Guard, Lease, LocalRepair, Operation,
    Outbox, OutboxEntry, OutboxState, RepairFiles, Settlement, SyncCursors,
};
pub use agora_store_postgres::{PgOptions, PostgresStore};
pub use agora_store_sqlite::SqliteStore;
use async_trait::async_trait;
use jiff::Timestamp;

/// Where the local state lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Locator {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by connection URL (which may hold a
    /// password: it is never printed, see [`Locator`]'s `Display`).
    Postgres(String),
}

impl Locator {
    /// A `postgres://` or `postgresql://` URL names PostgreSQL; anything
    /// else is a SQLite file's path.
    pub fn parse(db: &str) -> Self {
        if agora_store_postgres::is_postgres_url(db) {
            Self::Postgres(db.to_owned())
        } else {
            Self::Sqlite(PathBuf::from(db))
        }
    }
}

/// The path, or the URL without its password and parameters.
impl std::fmt::Display for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact_url(url)),
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

/// `scheme://user@host/db`: the password and the query (which may carry
/// one too) left out.
fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or_default();
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}/{path}")
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
        completes: Option<CursorMove>,
    ) -> Result<u64, AgoraError> {
        each!(self.upsert_spare_parts(manufacturer, language, batch, completes))
    }
    async fn upsert_products(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
        batch: Vec<Product>,
        completes: Option<CursorMove>,
    ) -> Result<u64, AgoraError> {
        each!(self.upsert_products(manufacturer, language, batch, completes))
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
    async fn recover_expired(&self, now: Timestamp) -> Result<Vec<u64>, AgoraError> {
        each!(self.recover_expired(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_postgres_and_anything_else_a_file() {
        assert_eq!(
            Locator::parse("postgres://svc@db/agora"),
            Locator::Postgres("postgres://svc@db/agora".into())
        );
        assert_eq!(
            Locator::parse("postgresql://svc@db/agora"),
            Locator::Postgres("postgresql://svc@db/agora".into())
        );
        assert_eq!(
            Locator::parse("state/agora.db"),
            Locator::Sqlite("state/agora.db".into())
        );
    }

    #[test]
    fn a_url_is_shown_without_its_password() {
        for url in [
            "postgres://svc:s3cret@db.example:5432/agora",
            "postgres://svc@db.example/agora?password=s3cret",
            "postgresql://svc:s3cret@/agora?host=/run/postgresql",
        ] {
            let locator = Locator::parse(url);
            let shown = format!("{locator} {locator:?}");
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("svc@"), "{shown}");
        }
        assert_eq!(
            Locator::parse("postgres://svc:s3cret@db.example:5432/agora").to_string(),
            "postgres://svc@db.example:5432/agora"
        );
    }

    #[tokio::test]
    async fn a_path_opens_a_sqlite_store_that_keeps_what_it_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let locator = Locator::parse(dir.path().join("agora.db").to_str().unwrap());
        let store = Store::open(&locator, PgOptions::default()).await.unwrap();
        assert!(matches!(store, Store::Sqlite(_)));
        store.set_cursor("k", Timestamp::UNIX_EPOCH).await.unwrap();
        assert_eq!(
            store.cursor("k").await.unwrap(),
            Some(Timestamp::UNIX_EPOCH)
        );
    }
}
