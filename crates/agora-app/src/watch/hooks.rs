//! The worker's webhook loop ([`Watch::webhooks`]): one loop per endpoint,
//! so that a failing endpoint holds back only its own deliveries.
//!
//! Each round of an endpoint's loop:
//! 1. queues a delivery of each new event the endpoint wants, moving the
//!    endpoint's cursor with it in one transaction (event ids are
//!    commit-ordered, so that following the cursor never skips one; a new
//!    endpoint starts at 0: every event still kept);
//! 2. leases up to `batch` due deliveries, at most one per repair file
//!    (the store's rule: a delivery waits while an earlier one of its file
//!    to the same endpoint is pending), and POSTs them at once, each
//!    signed at the time it is sent;
//! 3. records each outcome: delivered on a 2xx, else due again after the
//!    retry delay ([`WebhookRetry`]), or given up once that would pass the
//!    maximum age.
//!
//! A worker that stops, or dies, mid-send leaves leases that expire: the
//! delivery is sent again (at-least-once; receivers drop duplicates by the
//! event id).

use std::sync::Mutex;
use std::time::Duration;

use agora_ports::{
    AgoraError, DeliveryOutcome, Events, Lease, Outbox, WebhookDeliveries, WebhookDelivery,
    WebhookEndpoint, WebhookRetry, WebhookSender, sign, webhook_body,
};
use futures_util::future::join_all;
use tokio::sync::watch;

use super::{Stop, Watch, stopped};

/// How the worker delivers webhooks, with documented defaults.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The endpoints (default none).
    pub endpoints: Vec<WebhookEndpoint>,
    /// When a failed delivery is tried again, and when it is given up
    /// (default: 5 s doubling up to 1 h, given up after 3 days).
    pub retry: WebhookRetry,
    /// How often new events and due retries are looked for when there is
    /// nothing to send (default 1 s).
    pub poll: Duration,
    /// The most deliveries of one endpoint sent at once (default 32).
    pub batch: usize,
    /// How long a claimed delivery stays this worker's (default 60 s);
    /// keep it above the sender's timeout.
    pub lease: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            retry: WebhookRetry::default(),
            poll: Duration::from_secs(1),
            batch: 32,
            lease: Duration::from_secs(60),
        }
    }
}

/// What the webhook loops did, once stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookReport {
    /// Deliveries answered 2xx.
    pub delivered: u64,
    /// Attempts failed and scheduled again.
    pub retried: u64,
    /// Deliveries given up (past the maximum age).
    pub gave_up: u64,
}

/// Events read per page when queuing deliveries.
const PAGE: usize = 500;

impl<A, S> Watch<A, S>
where
    S: Events + WebhookDeliveries + Outbox,
{
    /// Delivers the events to `config.endpoints` through `sender` until
    /// `stop` is signalled, as the module says; a first stop lets the sends
    /// under way finish, a second cuts them (their leases expire and they
    /// are sent again later).
    ///
    /// Run it beside [`Watch::run`]:
    ///
    /// ```no_run
    /// # async fn example<W: agora_ports::WebhookSender>(
    /// #     watch: agora_app::Watch<agora_http::AgoraClient, agora_store::Store>,
    /// #     sender: W,
    /// #     config: agora_app::WebhookConfig,
    /// # ) {
    /// let stop = agora_app::Stop::new();
    /// let (report, hooks) = tokio::join!(watch.run(&stop), watch.webhooks(&stop, &sender, &config));
    /// # }
    /// ```
    pub async fn webhooks<W: WebhookSender>(
        &self,
        stop: &Stop,
        sender: &W,
        config: &WebhookConfig,
    ) -> WebhookReport {
        let report = Mutex::new(WebhookReport::default());
        join_all(
            config
                .endpoints
                .iter()
                .map(|e| self.endpoint_loop(e, sender, config, stop.subscribe(), &report)),
        )
        .await;
        report
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn endpoint_loop<W: WebhookSender>(
        &self,
        endpoint: &WebhookEndpoint,
        sender: &W,
        config: &WebhookConfig,
        mut stop: watch::Receiver<u32>,
        report: &Mutex<WebhookReport>,
    ) {
        let owner = format!("{}#webhook-{}", self.app.config.worker, endpoint.name);
        let mut said = false;
        loop {
            if *stop.borrow() >= 1 {
                return;
            }
            let round = tokio::select! {
                biased;
                () = stopped(&mut stop, 2) => return,
                round = self.webhook_round(endpoint, sender, config, &owner, report) => round,
            };
            let busy = match round {
                Ok(sent) => {
                    said = false;
                    sent
                }
                Err(e) => {
                    if !said {
                        tracing::warn!(endpoint = %endpoint.name, error = %e, "webhook deliveries stalled");
                        said = true;
                    }
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                biased;
                () = stopped(&mut stop, 1) => return,
                () = tokio::time::sleep(config.poll) => {}
            }
        }
    }

    /// One round: queue the new events, send a batch; `true` when it sent
    /// any (the next round goes at once: more may be due, and a delivery
    /// may have freed the next event of its repair file).
    async fn webhook_round<W: WebhookSender>(
        &self,
        endpoint: &WebhookEndpoint,
        sender: &W,
        config: &WebhookConfig,
        owner: &str,
        report: &Mutex<WebhookReport>,
    ) -> Result<bool, AgoraError> {
        let store = &self.app.store;
        let name = endpoint.name.as_str();
        let mut cursor = store.webhook_cursor(name).await?;
        loop {
            let page = store.events_after(cursor, PAGE).await?;
            let Some(last) = page.last().map(|e| e.id) else {
                break;
            };
            let wanted: Vec<u64> = page
                .iter()
                .filter(|e| endpoint.wants(&e.kind))
                .map(|e| e.id)
                .collect();
            let now = self.app.lease_clock().await?;
            if store
                .queue_deliveries(name, cursor, last, &wanted, now)
                .await?
            {
                cursor = last;
                if page.len() < PAGE {
                    break;
                }
            } else {
                // Another worker moved it: go on from where it is.
                cursor = store.webhook_cursor(name).await?;
            }
        }
        // Leases, queue and retry times are on the clock every worker
        // sharing the store reads (PostgreSQL: the database's), so that a
        // worker whose clock runs ahead takes no live lease.
        let now = self.app.lease_clock().await?;
        let lease = Lease {
            owner: owner.to_owned(),
            until: now + config.lease,
        };
        let batch = store
            .claim_deliveries(name, now, &lease, config.batch.max(1))
            .await?;
        let sent = !batch.is_empty();
        let outcomes = join_all(
            batch
                .into_iter()
                .map(|d| self.send_one(endpoint, sender, &config.retry, owner, d)),
        )
        .await;
        let mut report = report
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for outcome in outcomes {
            match outcome {
                DeliveryOutcome::Delivered(_) => report.delivered += 1,
                DeliveryOutcome::Retry { .. } => report.retried += 1,
                DeliveryOutcome::GaveUp(_) => report.gave_up += 1,
            }
        }
        Ok(sent)
    }

    /// Sends one delivery and records how it went.
    async fn send_one<W: WebhookSender>(
        &self,
        endpoint: &WebhookEndpoint,
        sender: &W,
        retry: &WebhookRetry,
        owner: &str,
        delivery: WebhookDelivery,
    ) -> DeliveryOutcome {
        let body = webhook_body(&delivery.event);
        let signature = sign(&endpoint.secrets, self.app.clock.now().as_second(), &body);
        let sent = sender.post(endpoint, body, signature).await;
        let now = self.app.outbox_now().await;
        let outcome = match sent {
            Ok(()) => DeliveryOutcome::Delivered(now),
            Err(failure) => {
                let attempts = delivery.attempts.saturating_add(1);
                match retry.after_failure(attempts, delivery.queued_at, now) {
                    Some(at) => DeliveryOutcome::Retry {
                        at,
                        error: failure.0,
                    },
                    None => {
                        tracing::warn!(
                            endpoint = %endpoint.name,
                            event = delivery.event.id,
                            attempts,
                            error = %failure.0,
                            "webhook delivery given up"
                        );
                        DeliveryOutcome::GaveUp(failure.0)
                    }
                }
            }
        };
        match self
            .app
            .store
            .finish_delivery(&endpoint.name, delivery.event.id, owner, &outcome)
            .await
        {
            Ok(true) => {}
            // The lease was lost (this worker was paused past it): the
            // delivery is another's now, and may be sent again.
            Ok(false) => {
                tracing::warn!(endpoint = %endpoint.name, event = delivery.event.id, "webhook lease lost");
            }
            Err(e) => {
                tracing::warn!(endpoint = %endpoint.name, event = delivery.event.id, error = %e, "webhook outcome not recorded; sent again once its lease expires");
            }
        }
        outcome
    }
}
