//! The store contract of agora-ports (the conformance suite), on
//! PostgreSQL: one throwaway server for this test binary, a database of
//! its own for each store; `reopen` connects a second pool to the same
//! database, as another process would.

// Test code: a failure to set up is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use agora_domain::{Lcid, ManufacturerId};
use agora_store_conformance::{Harness, conformance_tests};
use agora_store_postgres::PostgresStore;
use agora_store_postgres::throwaway::Server;

struct Postgres;

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start().unwrap_or_else(|why| panic!("{why}")))
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Harness for Postgres {
    type Store = PostgresStore;

    async fn fresh(&self) -> PostgresStore {
        let db = format!("conformance_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let url = server().create_database(&db).await.unwrap();
        PostgresStore::connect(&url).await.expect("a new store")
    }

    async fn reopen(&self, store: &PostgresStore) -> PostgresStore {
        store.reopen().await.expect("the same store again")
    }

    async fn spare_parts(
        &self,
        store: &PostgresStore,
        manufacturer: ManufacturerId,
        language: Lcid,
    ) -> Vec<(String, String)> {
        let description = store.describe();
        let db = description.rsplit('/').next().unwrap();
        let (client, connection) =
            tokio_postgres::connect(&server().url(db), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(connection);
        client
            .query(
                "SELECT reference, record FROM spare_parts
                 WHERE manufacturer = $1 AND language = $2 ORDER BY reference",
                &[&i64::from(manufacturer.0), &i64::from(language.0)],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }
}

conformance_tests!(Postgres);
