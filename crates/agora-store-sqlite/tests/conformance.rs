//! The store contract of agora-ports (the conformance suite), on SQLite.
//! Each store is a file in a temporary directory of its own, under cargo's
//! temporary directory of this package's tests (in `target/`, never the
//! system's), removed when the test that made it ends; `reopen` opens the
//! same file again, as another process would.

use std::sync::Mutex;

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
}

conformance_tests!(Sqlite::default());
