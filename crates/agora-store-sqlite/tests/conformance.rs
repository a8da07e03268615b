//! The store contract of agora-ports (the conformance suite), on SQLite.
//! Each store is a file in a temporary directory of its own, under cargo's
//! temporary directory of this package's tests (in `target/`, never the
//! system's), removed when the test that made it ends; `reopen` opens the
//! same file again, as another process would.

// Test code: a failure to set up is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Mutex;

use agora_domain::{Lcid, ManufacturerId};
use agora_store_conformance::{Harness, conformance_tests};
use agora_store_sqlite::SqliteStore;

/// One per test (the macro builds it for each): the directories of the
/// stores it made, removed when the test ends.
#[derive(Default)]
struct Sqlite {
    dirs: Mutex<Vec<tempfile::TempDir>>,
}

impl Harness for Sqlite {
    type Store = SqliteStore;

    async fn fresh(&self) -> SqliteStore {
        let dir = tempfile::Builder::new()
            .prefix("agora-conformance-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("a temporary directory");
        let store = SqliteStore::open(dir.path().join("agora.db")).expect("a new store");
        self.dirs.lock().expect("not poisoned").push(dir);
        store
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

conformance_tests!(Sqlite::default());
