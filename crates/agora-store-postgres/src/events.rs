//! The events table and the `Events` port. Events are written by the
//! transaction of their change (`record_in`).
//!
//! A sequence hands out ids in the order they are asked for, not in the
//! order their transactions commit: an event with id 5 could become
//! visible after one with id 6, and a reader following the stream from 5
//! would skip it. So a transaction takes an advisory transaction lock
//! ([`EVENTS_LOCK`]) just before it inserts its first event and holds it
//! until it ends: the next transaction's ids are taken only once this one
//! has committed (or rolled back), and ids become visible in their order.
//! The lock is taken after the rows the change writes are locked, so the
//! wait it adds is the commit of the transaction before.

use agora_domain::InterventionId;
use agora_ports::{AgoraError, Event, Events, NewEvent};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use crate::{PostgresStore, from_ms, store_error};

/// The advisory lock that orders event-recording transactions ("agoraevt").
pub const EVENTS_LOCK: i64 = 0x6167_6f72_6165_7674;

/// Takes the events' lock, held until the transaction ends.
const LOCK: &str = "SELECT pg_advisory_xact_lock($1)";

/// Inserts one event at the server's time.
const INSERT: &str = "INSERT INTO events (kind, at_ms, intervention_id, data)
     VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT, $2, $3)";

/// Takes the events' lock and inserts one event, in one statement: the
/// lock is taken (the materialized CTE runs) before the row is formed, so
/// before its id is drawn from the sequence.
const LOCK_AND_INSERT: &str = "WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock($1))
     INSERT INTO events (kind, at_ms, intervention_id, data)
     SELECT $2::TEXT, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT, $3::BIGINT,
       $4::TEXT
     FROM locked";

/// The statement that takes the events' lock and inserts one event
/// ([`LOCK_AND_INSERT`]), prepared once per connection, and its arguments
/// for `event`: for a caller that sends it along with other statements.
pub(crate) async fn lock_and_insert(
    c: &impl GenericClient,
) -> Result<tokio_postgres::Statement, AgoraError> {
    c.prepare_cached(LOCK_AND_INSERT).await.map_err(store_error)
}

/// The arguments of [`lock_and_insert`]'s statement for `event`.
pub(crate) fn lock_and_insert_args(event: &NewEvent) -> (i64, &'static str, Option<i64>, String) {
    (
        EVENTS_LOCK,
        event.kind.as_str(),
        event.intervention_id.map(|i| i.0),
        event.data.to_string(),
    )
}

/// Takes the events' lock and inserts several events in the order given
/// (their ids drawn in that order), in one statement.
const LOCK_AND_INSERT_ALL: &str = "WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock($1))
     INSERT INTO events (kind, at_ms, intervention_id, data)
     SELECT u.kind, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT, u.file, u.data
     FROM locked,
       unnest($2::TEXT[], $3::BIGINT[], $4::TEXT[]) WITH ORDINALITY AS u(kind, file, data, n)
     ORDER BY u.n";

/// Records `events` inside the caller's transaction, at the server's time:
/// one statement, prepared once per connection, for any number of them.
pub(crate) async fn record_in(
    c: &impl GenericClient,
    events: &[NewEvent],
) -> Result<(), AgoraError> {
    if events.is_empty() {
        return Ok(());
    }
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let files: Vec<Option<i64>> = events
        .iter()
        .map(|e| e.intervention_id.map(|i| i.0))
        .collect();
    let data: Vec<String> = events.iter().map(|e| e.data.to_string()).collect();
    let statement = c
        .prepare_cached(LOCK_AND_INSERT_ALL)
        .await
        .map_err(store_error)?;
    c.execute(&statement, &[&EVENTS_LOCK, &kinds, &files, &data])
        .await
        .map_err(store_error)?;
    Ok(())
}

/// [`record_in`] in a transaction of a connection outside the pool (the
/// catalog's).
pub(crate) async fn record_in_tx(
    tx: &tokio_postgres::Transaction<'_>,
    events: &[NewEvent],
) -> Result<(), AgoraError> {
    if events.is_empty() {
        return Ok(());
    }
    tx.execute(LOCK, &[&EVENTS_LOCK])
        .await
        .map_err(store_error)?;
    for e in events {
        let data = e.data.to_string();
        tx.execute(
            INSERT,
            &[&e.kind.as_str(), &e.intervention_id.map(|i| i.0), &data],
        )
        .await
        .map_err(store_error)?;
    }
    Ok(())
}

#[async_trait]
impl Events for PostgresStore {
    async fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>, AgoraError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.client()
            .await?
            .query(
                "SELECT id, kind, at_ms, intervention_id, data FROM events
                 WHERE id > $1 ORDER BY id LIMIT $2",
                &[&after, &limit],
            )
            .await
            .map_err(store_error)?
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                Ok(Event {
                    id: u64::try_from(id).unwrap_or(0),
                    kind: r.get(1),
                    at: from_ms(r.get(2)),
                    intervention_id: r.get::<_, Option<i64>>(3).map(InterventionId),
                    data: serde_json::from_str(r.get::<_, &str>(4)).map_err(|e| {
                        AgoraError::store(format!("event {id}: unreadable data: {e}"))
                    })?,
                })
            })
            .collect()
    }
}
