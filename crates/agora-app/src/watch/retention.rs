//! The worker's retention loop ([`Watch::retention`]): every `every`, the
//! events, delivered outbox entries and finished webhook deliveries older
//! than `keep` are pruned (the store's [`Retention`] contract says what is
//! kept regardless). It takes the job lease `retention` first, so that of
//! several workers on one store one prunes.

use std::time::Duration;

use agora_ports::{JobLeases, Lease, Pruned, Retention};
use tokio::sync::watch;

use super::{Stop, Watch, stopped};

/// The name of the retention job's lease.
const JOB: &str = "retention";

/// How long the retention job's lease lasts (a prune is one transaction).
const LEASE: Duration = Duration::from_secs(600);

/// How long things are kept, with documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// How long events, delivered outbox entries and finished webhook
    /// deliveries are kept (default 90 days).
    pub keep: Duration,
    /// How often the worker prunes (default 1 h; the first at start).
    pub every: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            keep: Duration::from_secs(90 * 86_400),
            every: Duration::from_secs(3600),
        }
    }
}

impl<A, S> Watch<A, S>
where
    S: JobLeases + Retention,
{
    /// Prunes what is older than `config.keep`, at once and then every
    /// `config.every`, until `stop` is signalled; returns what it pruned.
    pub async fn retention(&self, stop: &Stop, config: &RetentionConfig) -> Pruned {
        let mut total = Pruned::default();
        let mut rx: watch::Receiver<u32> = stop.subscribe();
        loop {
            if *rx.borrow() >= 1 {
                return total;
            }
            match self.prune_once(config).await {
                Ok(Some(p)) => {
                    if p != Pruned::default() {
                        tracing::info!(
                            events = p.events,
                            outbox_entries = p.outbox_entries,
                            deliveries = p.deliveries,
                            "pruned"
                        );
                    }
                    total.events += p.events;
                    total.outbox_entries += p.outbox_entries;
                    total.deliveries += p.deliveries;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "pruning failed"),
            }
            tokio::select! {
                biased;
                () = stopped(&mut rx, 1) => return total,
                () = tokio::time::sleep(config.every) => {}
            }
        }
    }

    /// One prune under the job's lease; `None` when another worker holds
    /// it or pruned less than half an interval ago.
    async fn prune_once(
        &self,
        config: &RetentionConfig,
    ) -> Result<Option<Pruned>, agora_ports::AgoraError> {
        let store = &self.app.store;
        let now = self.app.clock.now();
        let owner = format!("{}#{JOB}", self.app.config.worker);
        let lease = Lease {
            owner: owner.clone(),
            until: now + LEASE,
        };
        if !store
            .take_job(JOB, &lease, now, now.checked_sub(config.every / 2).ok())
            .await?
        {
            return Ok(None);
        }
        let before = now.checked_sub(config.keep).unwrap_or(jiff::Timestamp::MIN);
        let pruned = store.prune(before).await;
        let done = pruned.is_ok().then(|| self.app.clock.now());
        store.release_job(JOB, &owner, done).await?;
        pruned.map(Some)
    }
}
