//! The events table and the `Events` port. Events are written by the
//! transaction of their change (`record_in`); SQLite has one writer at a
//! time, so ids (AUTOINCREMENT) increase in commit order.

use agora_domain::InterventionId;
use agora_ports::{AgoraError, Event, Events, NewEvent};
use async_trait::async_trait;
use rusqlite::{Connection, params};

use crate::{SqliteStore, from_ms, store_error};

/// Records `events` inside the caller's transaction, at the store's time.
pub(crate) fn record_in(c: &Connection, events: &[NewEvent]) -> Result<(), AgoraError> {
    for e in events {
        c.execute(
            "INSERT INTO events (kind, at_ms, intervention_id, data)
             VALUES (?1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), ?2, ?3)",
            params![
                e.kind.as_str(),
                e.intervention_id.map(|i| i.0),
                e.data.to_string()
            ],
        )
        .map_err(store_error)?;
    }
    Ok(())
}

#[async_trait]
impl Events for SqliteStore {
    async fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>, AgoraError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_state(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, kind, at_ms, intervention_id, data FROM events
                     WHERE id > ?1 ORDER BY id LIMIT ?2",
                )
                .map_err(store_error)?;
            let rows = stmt
                .query_map(params![after, limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })
                .map_err(store_error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(store_error)?;
            rows.into_iter()
                .map(|(id, kind, at, intervention, data)| {
                    Ok(Event {
                        id: u64::try_from(id).unwrap_or(0),
                        kind,
                        at: from_ms(at),
                        intervention_id: intervention.map(InterventionId::from),
                        data: serde_json::from_str(&data).map_err(|e| {
                            AgoraError::store(format!("event {id}: unreadable data: {e}"))
                        })?,
                    })
                })
                .collect()
        })
        .await
    }
}
