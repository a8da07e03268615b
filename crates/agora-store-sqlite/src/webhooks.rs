//! The webhook deliveries (`WebhookDeliveries`) and retention
//! (`Retention`): tables `webhook_cursors` and `webhook_deliveries`, each
//! change one `BEGIN IMMEDIATE` transaction.

use agora_domain::InterventionId;
use agora_ports::{
    AgoraError, DeliveryOutcome, DeliveryState, Event, FailedDelivery, Lease, Pruned, Retention,
    WebhookBacklog, WebhookDeliveries, WebhookDelivery,
};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use crate::{SqliteStore, from_ms, ms, store_error, write_tx};

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn id(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[async_trait]
impl WebhookDeliveries for SqliteStore {
    async fn webhook_cursor(&self, endpoint: &str) -> Result<u64, AgoraError> {
        let endpoint = endpoint.to_owned();
        self.with_state(move |c| {
            let last: Option<i64> = c
                .query_row(
                    "SELECT last_event FROM webhook_cursors WHERE endpoint = ?1",
                    params![endpoint],
                    |r| r.get(0),
                )
                .optional()
                .map_err(store_error)?;
            Ok(last.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
        })
        .await
    }

    async fn queue_deliveries(
        &self,
        endpoint: &str,
        after: u64,
        upto: u64,
        events: &[u64],
        now: Timestamp,
    ) -> Result<bool, AgoraError> {
        let (endpoint, events) = (endpoint.to_owned(), events.to_vec());
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            tx.execute(
                "INSERT INTO webhook_cursors (endpoint, last_event) VALUES (?1, 0)
                 ON CONFLICT (endpoint) DO NOTHING",
                params![endpoint],
            )
            .map_err(store_error)?;
            let moved = tx
                .execute(
                    "UPDATE webhook_cursors SET last_event = ?3
                     WHERE endpoint = ?1 AND last_event = ?2",
                    params![endpoint, id(after), id(upto)],
                )
                .map_err(store_error)?;
            if moved != 1 {
                return Ok(false);
            }
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO webhook_deliveries
                           (endpoint, event_id, intervention_id, state, next_ms, queued_ms)
                         SELECT ?1, id, intervention_id, 'pending', ?3, ?3 FROM events
                         WHERE id = ?2
                         ON CONFLICT (endpoint, event_id) DO NOTHING",
                    )
                    .map_err(store_error)?;
                for e in &events {
                    insert
                        .execute(params![endpoint, id(*e), ms(now)])
                        .map_err(store_error)?;
                }
            }
            tx.commit().map_err(store_error)?;
            Ok(true)
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        endpoint: &str,
        now: Timestamp,
        lease: &Lease,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, AgoraError> {
        let (endpoint, lease) = (endpoint.to_owned(), lease.clone());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            let rows = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT d.event_id, d.attempts, d.queued_ms,
                                e.kind, e.at_ms, e.intervention_id, e.data
                         FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
                         WHERE d.endpoint = ?1 AND d.state = 'pending' AND d.next_ms <= ?2
                           AND (d.owner IS NULL OR d.lease_until_ms <= ?2)
                           AND NOT EXISTS (
                             SELECT 1 FROM webhook_deliveries b
                             WHERE b.endpoint = d.endpoint AND b.intervention_id = d.intervention_id
                               AND b.state = 'pending' AND b.event_id < d.event_id)
                         ORDER BY d.event_id LIMIT ?3",
                    )
                    .map_err(store_error)?;
                stmt.query_map(params![endpoint, ms(now), limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                })
                .map_err(store_error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(store_error)?
            };
            let mut claimed = Vec::with_capacity(rows.len());
            {
                let mut take = tx
                    .prepare_cached(
                        "UPDATE webhook_deliveries SET owner = ?3, lease_until_ms = ?4
                         WHERE endpoint = ?1 AND event_id = ?2",
                    )
                    .map_err(store_error)?;
                for (event_id, attempts, queued, kind, at, file, data) in rows {
                    take.execute(params![endpoint, event_id, lease.owner, ms(lease.until)])
                        .map_err(store_error)?;
                    claimed.push(WebhookDelivery {
                        endpoint: endpoint.clone(),
                        event: Event {
                            id: u64::try_from(event_id).unwrap_or(0),
                            kind,
                            at: from_ms(at),
                            intervention_id: file.map(InterventionId),
                            data: serde_json::from_str(&data).map_err(|e| {
                                AgoraError::store(format!("event {event_id}: unreadable data: {e}"))
                            })?,
                        },
                        attempts: u32::try_from(attempts).unwrap_or(0),
                        queued_at: from_ms(queued),
                    });
                }
            }
            tx.commit().map_err(store_error)?;
            Ok(claimed)
        })
        .await
    }

    async fn finish_delivery(
        &self,
        endpoint: &str,
        event: u64,
        owner: &str,
        outcome: &DeliveryOutcome,
    ) -> Result<bool, AgoraError> {
        let (endpoint, owner, outcome) = (endpoint.to_owned(), owner.to_owned(), outcome.clone());
        self.with_state(move |c| {
            let (state, next, delivered, error) = match &outcome {
                DeliveryOutcome::Delivered(at) => ("delivered", None, Some(ms(*at)), None),
                DeliveryOutcome::Retry { at, error } => {
                    ("pending", Some(ms(*at)), None, Some(error))
                }
                DeliveryOutcome::GaveUp(error) => ("failed", None, None, Some(error)),
            };
            let n = c
                .execute(
                    "UPDATE webhook_deliveries SET state = ?4, attempts = attempts + 1,
                       next_ms = COALESCE(?5, next_ms), delivered_ms = ?6, last_error = ?7,
                       owner = NULL, lease_until_ms = NULL
                     WHERE endpoint = ?1 AND event_id = ?2 AND owner = ?3 AND state = 'pending'",
                    params![endpoint, id(event), owner, state, next, delivered, error],
                )
                .map_err(store_error)?;
            Ok(n == 1)
        })
        .await
    }

    async fn requeue_deliveries(
        &self,
        endpoint: &str,
        events: &[u64],
        now: Timestamp,
    ) -> Result<usize, AgoraError> {
        let (endpoint, events) = (endpoint.to_owned(), events.to_vec());
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            let mut n = 0;
            {
                let mut requeue = tx
                    .prepare_cached(
                        "INSERT INTO webhook_deliveries
                           (endpoint, event_id, intervention_id, state, next_ms, queued_ms)
                         SELECT ?1, id, intervention_id, 'pending', ?3, ?3 FROM events WHERE id = ?2
                         ON CONFLICT (endpoint, event_id) DO UPDATE SET state = 'pending',
                           attempts = 0, next_ms = ?3, queued_ms = ?3, owner = NULL,
                           lease_until_ms = NULL, delivered_ms = NULL, last_error = NULL",
                    )
                    .map_err(store_error)?;
                for e in &events {
                    n += requeue
                        .execute(params![endpoint, id(*e), ms(now)])
                        .map_err(store_error)?;
                }
            }
            tx.commit().map_err(store_error)?;
            Ok(n)
        })
        .await
    }

    async fn webhook_backlog(&self) -> Result<Vec<WebhookBacklog>, AgoraError> {
        self.with_state(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT endpoint, SUM(state = 'pending'), SUM(state = 'failed')
                     FROM webhook_deliveries WHERE state IN ('pending', 'failed')
                     GROUP BY endpoint ORDER BY endpoint",
                )
                .map_err(store_error)?;
            stmt.query_map([], |r| {
                Ok(WebhookBacklog {
                    endpoint: r.get(0)?,
                    pending: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    failed: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                })
            })
            .map_err(store_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(store_error)
        })
        .await
    }

    async fn failed_deliveries(&self, limit: usize) -> Result<Vec<FailedDelivery>, AgoraError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_state(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT endpoint, event_id, attempts, last_error FROM webhook_deliveries
                     WHERE state = 'failed' ORDER BY event_id DESC, endpoint LIMIT ?1",
                )
                .map_err(store_error)?;
            stmt.query_map(params![limit], |r| {
                Ok(FailedDelivery {
                    endpoint: r.get(0)?,
                    event_id: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    attempts: u32::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    last_error: r.get(3)?,
                })
            })
            .map_err(store_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(store_error)
        })
        .await
    }

    async fn delivery_state(
        &self,
        endpoint: &str,
        event: u64,
    ) -> Result<Option<DeliveryState>, AgoraError> {
        let endpoint = endpoint.to_owned();
        self.with_state(move |c| {
            let state: Option<String> = c
                .query_row(
                    "SELECT state FROM webhook_deliveries WHERE endpoint = ?1 AND event_id = ?2",
                    params![endpoint, id(event)],
                    |r| r.get(0),
                )
                .optional()
                .map_err(store_error)?;
            Ok(state.as_deref().and_then(DeliveryState::parse))
        })
        .await
    }
}

#[async_trait]
impl Retention for SqliteStore {
    async fn prune(&self, before: Timestamp) -> Result<Pruned, AgoraError> {
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            let cutoff = ms(before);
            let outbox_entries = tx
                .execute(
                    "DELETE FROM outbox WHERE state = 'delivered'
                       AND COALESCE(sent_ms, created_ms) < ?1",
                    params![cutoff],
                )
                .map_err(store_error)?;
            let deliveries = tx
                .execute(
                    "DELETE FROM webhook_deliveries WHERE state <> 'pending'
                       AND event_id IN (SELECT id FROM events WHERE at_ms < ?1)",
                    params![cutoff],
                )
                .map_err(store_error)?;
            let events = tx
                .execute(
                    "DELETE FROM events WHERE at_ms < ?1 AND NOT EXISTS
                       (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)",
                    params![cutoff],
                )
                .map_err(store_error)?;
            tx.commit().map_err(store_error)?;
            Ok(Pruned {
                events: count(events),
                outbox_entries: count(outbox_entries),
                deliveries: count(deliveries),
            })
        })
        .await
    }
}
