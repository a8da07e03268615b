//! The store contract of agora-ports (the conformance suite), on SQLite.
//! Each store is a file of its own, under cargo's temporary directory of
//! this package's tests (in `target/`, never the system's); `reopen` opens
//! the same file again, as another process would.

// Test code: a failure to set up is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU32, Ordering};

use agora_domain::{Lcid, ManufacturerId};
use agora_store_conformance::{Harness, conformance_tests};
use agora_store_sqlite::SqliteStore;

struct Sqlite;

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Harness for Sqlite {
    type Store = SqliteStore;

    async fn fresh(&self) -> SqliteStore {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "agora-conformance-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        SqliteStore::open(dir.join("agora.db")).expect("a new store")
    }

    async fn reopen(&self, store: &SqliteStore) -> SqliteStore {
        SqliteStore::open(store.path()).expect("the same store again")
    }

    async fn spare_parts(
        &self,
        store: &SqliteStore,
        manufacturer: ManufacturerId,
        language: Lcid,
    ) -> Vec<(String, String)> {
        let conn = rusqlite::Connection::open(store.path()).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT reference, record FROM spare_parts
                 WHERE manufacturer = ?1 AND language = ?2 ORDER BY reference",
            )
            .unwrap();
        stmt.query_map([manufacturer.0, language.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

conformance_tests!(Sqlite);
