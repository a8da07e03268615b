//! The webhook deliveries (`WebhookDeliveries`) and retention
//! (`Retention`): tables `webhook_cursors` and `webhook_deliveries`.
//!
//! Deliveries are claimed with `FOR UPDATE SKIP LOCKED`, so that workers
//! claiming at once never share one. Their leases are judged by the time
//! the worker passes (a delivery sent twice is allowed: at-least-once).

use std::collections::HashMap;

use agora_domain::InterventionId;
use agora_ports::{
    AgoraError, DeliveryOutcome, DeliveryState, Event, FailedDelivery, Lease, Pruned, Retention,
    WebhookBacklog, WebhookDeliveries, WebhookDelivery,
};
use async_trait::async_trait;
use jiff::Timestamp;

use crate::{PostgresStore, from_ms, ms, store_error};

fn id(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn ids(v: &[u64]) -> Vec<i64> {
    v.iter().map(|e| id(*e)).collect()
}

#[async_trait]
impl WebhookDeliveries for PostgresStore {
    async fn webhook_cursor(&self, endpoint: &str) -> Result<u64, AgoraError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT last_event FROM webhook_cursors WHERE endpoint = $1",
                &[&endpoint],
            )
            .await
            .map_err(store_error)?;
        Ok(row
            .and_then(|r| u64::try_from(r.get::<_, i64>(0)).ok())
            .unwrap_or(0))
    }

    async fn queue_deliveries(
        &self,
        endpoint: &str,
        after: u64,
        upto: u64,
        events: &[u64],
        now: Timestamp,
    ) -> Result<bool, AgoraError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        tx.execute(
            "INSERT INTO webhook_cursors (endpoint, last_event) VALUES ($1, 0)
             ON CONFLICT (endpoint) DO NOTHING",
            &[&endpoint],
        )
        .await
        .map_err(store_error)?;
        let moved = tx
            .execute(
                "UPDATE webhook_cursors SET last_event = $3
                 WHERE endpoint = $1 AND last_event = $2",
                &[&endpoint, &id(after), &id(upto)],
            )
            .await
            .map_err(store_error)?;
        if moved != 1 {
            return Ok(false);
        }
        if !events.is_empty() {
            tx.execute(
                "INSERT INTO webhook_deliveries
                   (endpoint, event_id, intervention_id, state, next_ms, queued_ms)
                 SELECT $1, id, intervention_id, 'pending', $3, $3 FROM events
                 WHERE id = ANY($2)
                 ON CONFLICT (endpoint, event_id) DO NOTHING",
                &[&endpoint, &ids(events), &ms(now)],
            )
            .await
            .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn claim_deliveries(
        &self,
        endpoint: &str,
        now: Timestamp,
        lease: &Lease,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, AgoraError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        let claimed = tx
            .query(
                "UPDATE webhook_deliveries w SET owner = $4, lease_until_ms = $5
                 FROM (SELECT d.endpoint, d.event_id FROM webhook_deliveries d
                       WHERE d.endpoint = $1 AND d.state = 'pending' AND d.next_ms <= $2
                         AND (d.owner IS NULL OR d.lease_until_ms <= $2)
                         AND NOT EXISTS (
                           SELECT 1 FROM webhook_deliveries b
                           WHERE b.endpoint = d.endpoint AND b.intervention_id = d.intervention_id
                             AND b.state = 'pending' AND b.event_id < d.event_id)
                       ORDER BY d.event_id LIMIT $3
                       FOR UPDATE OF d SKIP LOCKED) c
                 WHERE w.endpoint = c.endpoint AND w.event_id = c.event_id
                 RETURNING w.event_id, w.attempts, w.queued_ms",
                &[&endpoint, &ms(now), &limit, &lease.owner, &ms(lease.until)],
            )
            .await
            .map_err(store_error)?;
        let wanted: Vec<i64> = claimed.iter().map(|r| r.get(0)).collect();
        let mut events: HashMap<i64, Event> = HashMap::new();
        if !wanted.is_empty() {
            for r in tx
                .query(
                    "SELECT id, kind, at_ms, intervention_id, data FROM events WHERE id = ANY($1)",
                    &[&wanted],
                )
                .await
                .map_err(store_error)?
            {
                let event_id: i64 = r.get(0);
                events.insert(
                    event_id,
                    Event {
                        id: u64::try_from(event_id).unwrap_or(0),
                        kind: r.get(1),
                        at: from_ms(r.get(2)),
                        intervention_id: r.get::<_, Option<i64>>(3).map(InterventionId),
                        data: serde_json::from_str(r.get::<_, &str>(4)).map_err(|e| {
                            AgoraError::store(format!("event {event_id}: unreadable data: {e}"))
                        })?,
                    },
                );
            }
        }
        tx.commit().await.map_err(store_error)?;
        let mut out: Vec<WebhookDelivery> = claimed
            .iter()
            .filter_map(|r| {
                let event = events.remove(&r.get::<_, i64>(0))?;
                Some(WebhookDelivery {
                    endpoint: endpoint.to_owned(),
                    event,
                    attempts: u32::try_from(r.get::<_, i32>(1)).unwrap_or(0),
                    queued_at: from_ms(r.get(2)),
                })
            })
            .collect();
        out.sort_by_key(|d| d.event.id);
        Ok(out)
    }

    async fn finish_delivery(
        &self,
        endpoint: &str,
        event: u64,
        owner: &str,
        outcome: &DeliveryOutcome,
    ) -> Result<bool, AgoraError> {
        let (state, next, delivered, error) = match outcome {
            DeliveryOutcome::Delivered(at) => ("delivered", None, Some(ms(*at)), None),
            DeliveryOutcome::Retry { at, error } => {
                ("pending", Some(ms(*at)), None, Some(error.as_str()))
            }
            DeliveryOutcome::GaveUp(error) => ("failed", None, None, Some(error.as_str())),
        };
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE webhook_deliveries SET state = $4, attempts = attempts + 1,
                   next_ms = COALESCE($5, next_ms), delivered_ms = $6, last_error = $7,
                   owner = NULL, lease_until_ms = NULL
                 WHERE endpoint = $1 AND event_id = $2 AND owner = $3 AND state = 'pending'",
                &[
                    &endpoint,
                    &id(event),
                    &owner,
                    &state,
                    &next,
                    &delivered,
                    &error,
                ],
            )
            .await
            .map_err(store_error)?;
        Ok(n == 1)
    }

    async fn requeue_deliveries(
        &self,
        endpoint: &str,
        events: &[u64],
        now: Timestamp,
    ) -> Result<usize, AgoraError> {
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO webhook_deliveries
                   (endpoint, event_id, intervention_id, state, next_ms, queued_ms)
                 SELECT $1, id, intervention_id, 'pending', $3, $3 FROM events WHERE id = ANY($2)
                 ON CONFLICT (endpoint, event_id) DO UPDATE SET state = 'pending',
                   attempts = 0, next_ms = $3, queued_ms = $3, owner = NULL,
                   lease_until_ms = NULL, delivered_ms = NULL, last_error = NULL",
                &[&endpoint, &ids(events), &ms(now)],
            )
            .await
            .map_err(store_error)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    async fn webhook_backlog(&self) -> Result<Vec<WebhookBacklog>, AgoraError> {
        Ok(self
            .client()
            .await?
            .query(
                "SELECT endpoint, COUNT(*) FILTER (WHERE state = 'pending'),
                        COUNT(*) FILTER (WHERE state = 'failed')
                 FROM webhook_deliveries WHERE state IN ('pending', 'failed')
                 GROUP BY endpoint ORDER BY endpoint",
                &[],
            )
            .await
            .map_err(store_error)?
            .iter()
            .map(|r| WebhookBacklog {
                endpoint: r.get(0),
                pending: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
                failed: u64::try_from(r.get::<_, i64>(2)).unwrap_or(0),
            })
            .collect())
    }

    async fn failed_deliveries(&self, limit: usize) -> Result<Vec<FailedDelivery>, AgoraError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(self
            .client()
            .await?
            .query(
                "SELECT endpoint, event_id, attempts, last_error FROM webhook_deliveries
                 WHERE state = 'failed' ORDER BY event_id DESC, endpoint LIMIT $1",
                &[&limit],
            )
            .await
            .map_err(store_error)?
            .iter()
            .map(|r| FailedDelivery {
                endpoint: r.get(0),
                event_id: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
                attempts: u32::try_from(r.get::<_, i32>(2)).unwrap_or(0),
                last_error: r.get(3),
            })
            .collect())
    }

    async fn delivery_state(
        &self,
        endpoint: &str,
        event: u64,
    ) -> Result<Option<DeliveryState>, AgoraError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT state FROM webhook_deliveries WHERE endpoint = $1 AND event_id = $2",
                &[&endpoint, &id(event)],
            )
            .await
            .map_err(store_error)?;
        Ok(row.and_then(|r| DeliveryState::parse(r.get::<_, &str>(0))))
    }
}

#[async_trait]
impl Retention for PostgresStore {
    async fn prune(&self, before: Timestamp) -> Result<Pruned, AgoraError> {
        let cutoff = ms(before);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        let outbox_entries = tx
            .execute(
                "DELETE FROM outbox WHERE state = 'delivered'
                   AND COALESCE(sent_ms, created_ms) < $1",
                &[&cutoff],
            )
            .await
            .map_err(store_error)?;
        let deliveries = tx
            .execute(
                "DELETE FROM webhook_deliveries WHERE state <> 'pending'
                   AND event_id IN (SELECT id FROM events WHERE at_ms < $1)",
                &[&cutoff],
            )
            .await
            .map_err(store_error)?;
        let events = tx
            .execute(
                "DELETE FROM events WHERE at_ms < $1 AND NOT EXISTS
                   (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)",
                &[&cutoff],
            )
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(Pruned {
            events,
            outbox_entries,
            deliveries,
        })
    }
}
