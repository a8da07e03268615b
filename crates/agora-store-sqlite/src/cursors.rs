//! The sync cursors table and the `SyncCursors` port.

use agora_ports::{AgoraError, SyncCursors};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use crate::{SqliteStore, from_ms, ms, store_error};

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

/// Moves cursor `key` to `at`, never back: an earlier time than the stored
/// one (a sync that started before another and ended after it) is ignored.
pub(crate) fn set_cursor_in(c: &Connection, key: &str, at: Timestamp) -> Result<(), AgoraError> {
    c.execute(
        "INSERT INTO cursors (key, at_ms) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET at_ms = excluded.at_ms
           WHERE excluded.at_ms > cursors.at_ms",
        params![key, ms(at)],
    )
    .map(|_| ())
    .map_err(store_error)
}
