//! The worker (`agora watch`): the loops that keep a service center in
//! sync, generic over the ports so that a product can run them itself.
//!
//! - pulls work orders every `work_orders_every` (with jitter);
//! - delivers the outbox's entries as they come due;
//! - tracks open part orders and open claims, each on its own interval;
//! - runs the catalog deltas of the configured OEMs once a day.
//!
//! Several workers may share one store: the outbox's entries are claimed
//! with leases, and each other job takes a lease of its own
//! ([`JobLeases`]) before it runs, so that no job runs twice at once, nor
//! again right after another worker ran it.
//!
//! When AgoraPlus is unavailable or throttling, a loop backs off (its delay
//! doubles up to `backoff_max`, never shorter than a `Retry-After`), and the
//! worker says so once ([`Notice::Unavailable`]), then once again when the
//! job that noticed succeeds ([`Notice::Available`]).
//!
//! On a first [`Stop::signal`] the worker takes no new work: a loop that
//! waits stops, a job under way finishes, the outbox claims no further
//! entry and lets the one it sends finish, all within `shutdown_grace`;
//! past it, or on a second signal, what is left is cut. An entry is only
//! ever cut while it is being sent, so that none is left in doubt that was
//! not sent.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_domain::{Lcid, ManufacturerId};
use agora_ports::{AgoraError, AgoraPlus, JobLeases, Lease, OutboxState};
use jiff::Timestamp;
use tokio::sync::{Notify, mpsc, watch};

mod hooks;
mod retention;

pub use hooks::{WebhookConfig, WebhookReport};
pub use retention::RetentionConfig;

use crate::catalog::CatalogKind;
use crate::hub::{Agora, LocalStore};
use crate::metrics::WatchMetrics;
use crate::outbox::FlushReport;
use crate::report::concerns_one_item;

/// One catalog the worker keeps in sync: an OEM's spare parts or
/// products, in one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogJob {
    /// The OEM.
    pub manufacturer: ManufacturerId,
    /// The language of the labels.
    pub language: Lcid,
    /// Spare parts or products.
    pub kind: CatalogKind,
}

/// The worker's settings, with documented defaults.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// How often new work orders are pulled (default 60 s).
    pub work_orders_every: Duration,
    /// How far each wait may stray from its interval, as a share of it
    /// (default 0.1: ±10 %), so that workers started together do not
    /// call AgoraPlus in step.
    pub jitter: f64,
    /// How often the outbox is looked at for entries written by other
    /// processes (default 5 s); an entry due earlier is delivered when due.
    pub outbox_poll: Duration,
    /// How often open part orders are tracked (default 15 min).
    pub part_orders_every: Duration,
    /// How often open claims are tracked (default 15 min).
    pub claims_every: Duration,
    /// The catalogs synced once a day (default none).
    pub catalogs: Vec<CatalogJob>,
    /// When the catalogs are synced, in UTC (default 02:00).
    pub catalog_at: jiff::civil::Time,
    /// How long a job's lease lasts without renewal (default 60 s; renewed
    /// every third of it while the job runs).
    pub job_lease: Duration,
    /// The longest a loop backs off while AgoraPlus is unavailable
    /// (default 10 min; never shorter than the loop's interval).
    pub backoff_max: Duration,
    /// How long a stop waits for the work under way (default 10 s).
    pub shutdown_grace: Duration,
    /// How late a loop's next success may be, past its interval and
    /// jitter, before the worker's health says it is not healthy (default
    /// 60 s: a run's own calls, retries included, fit in it).
    pub health_slack: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            work_orders_every: Duration::from_secs(60),
            jitter: 0.1,
            outbox_poll: Duration::from_secs(5),
            part_orders_every: Duration::from_secs(900),
            claims_every: Duration::from_secs(900),
            catalogs: Vec::new(),
            catalog_at: jiff::civil::time(2, 0, 0, 0),
            job_lease: Duration::from_secs(60),
            backoff_max: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(10),
            health_slack: Duration::from_secs(60),
        }
    }
}

/// The worker's periodic jobs (the outbox aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Job {
    /// Pull new work orders and reconcile with the accepted ones.
    WorkOrders,
    /// Track the open part orders.
    PartOrders,
    /// Track the open claims.
    Claims,
    /// Sync the configured catalogs.
    Catalog,
    /// Deliver the outbox (leased entry by entry, not as a job).
    Outbox,
}

impl Job {
    /// The job's name, as its lease is kept under.
    pub fn name(self) -> &'static str {
        match self {
            Self::WorkOrders => "work-orders",
            Self::PartOrders => "part-orders",
            Self::Claims => "claims",
            Self::Catalog => "catalog",
            Self::Outbox => "outbox",
        }
    }
}

/// What the worker tells its operator, each said once when it happens.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Notice {
    /// AgoraPlus became unavailable or throttles (said once until it is
    /// back); the loops back off.
    Unavailable {
        /// The job that noticed.
        job: Job,
        /// What it answered.
        error: String,
    },
    /// AgoraPlus answers again.
    Available {
        /// The job that noticed.
        job: Job,
    },
    /// A job failed otherwise (a refusal, the store): said each time.
    Failed {
        /// The job.
        job: Job,
        /// Why.
        error: String,
    },
    /// A stop was asked: no new work is taken.
    Stopping,
    /// The worker stopped; `cut` when work under way was cut (grace
    /// exceeded or a second signal).
    Stopped {
        /// Whether work under way was cut.
        cut: bool,
    },
}

/// A stop signal for a running worker: the first [`Stop::signal`] stops it
/// gracefully, the second at once. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Stop {
    signals: Arc<watch::Sender<u32>>,
}

impl Default for Stop {
    fn default() -> Self {
        Self::new()
    }
}

impl Stop {
    /// A stop not yet signalled.
    pub fn new() -> Self {
        Self {
            signals: Arc::new(watch::channel(0).0),
        }
    }

    /// Signals a stop (a first: gracefully; a second: at once).
    pub fn signal(&self) {
        self.signals.send_modify(|n| *n = n.saturating_add(1));
    }

    /// How many stops were signalled.
    pub fn count(&self) -> u32 {
        *self.signals.borrow()
    }

    fn subscribe(&self) -> watch::Receiver<u32> {
        self.signals.subscribe()
    }
}

/// Waits until at least `n` stops were signalled (for ever if the sender
/// is gone, which a [`Stop`] held by the worker never is).
async fn stopped(rx: &mut watch::Receiver<u32>, n: u32) {
    if rx.wait_for(|count| *count >= n).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What a worker did, once it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchReport {
    /// Runs of each job by this worker.
    pub runs: BTreeMap<&'static str, u64>,
    /// Runs skipped because another worker held the job or had just run it.
    pub skipped: BTreeMap<&'static str, u64>,
    /// The outbox's deliveries, summed.
    pub outbox: FlushReport,
    /// Whether work under way was cut at the stop.
    pub cut: bool,
}

/// `interval` strayed by up to `±jitter` of itself, drawn from `rng`.
pub(crate) fn jittered(interval: Duration, jitter: f64, rng: &mut fastrand::Rng) -> Duration {
    let jitter = jitter.clamp(0.0, 1.0);
    if jitter == 0.0 {
        return interval;
    }
    let factor = 1.0 + jitter * (rng.f64() * 2.0 - 1.0);
    interval.mul_f64(factor)
}

/// The delay of a loop that failed `failures` times in a row because
/// AgoraPlus was unavailable: its interval doubled per failure, at most
/// `max` (never less than the interval), never shorter than `retry_after`.
pub(crate) fn backoff(
    interval: Duration,
    failures: u32,
    max: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    let factor = 1u32 << failures.min(16);
    let delay = interval.saturating_mul(factor).min(max.max(interval));
    delay.max(retry_after.unwrap_or_default())
}

/// How long from `now` until the next `at` (UTC), at most a day.
pub(crate) fn until_next(now: Timestamp, at: jiff::civil::Time) -> Duration {
    let utc = jiff::tz::TimeZone::UTC;
    let today = utc.to_datetime(now).date().to_datetime(at);
    let mut next = utc.to_timestamp(today).unwrap_or(now);
    if next <= now {
        next += jiff::SignedDuration::from_hours(24);
    }
    Duration::try_from(next.duration_since(now)).unwrap_or_default()
}

/// A failure that says AgoraPlus is unavailable or throttling (or cannot
/// be reached): the loops back off.
fn is_unavailable(error: &AgoraError) -> bool {
    error.is_retryable()
}

/// How a job's run went.
enum Ran {
    /// Done.
    Done,
    /// Not run: another worker holds the job, or ran it just now.
    Skipped,
    /// Failed with this error.
    Failed(AgoraError),
}

/// The worker over the use cases `app`.
pub struct Watch<A, S> {
    app: Agora<A, S>,
    config: WatchConfig,
    notices: Option<mpsc::UnboundedSender<Notice>>,
    /// The job that found AgoraPlus unavailable, while it is: only its
    /// own success says AgoraPlus is back (a job with nothing to call
    /// proves nothing).
    unavailable: Mutex<Option<Job>>,
    report: Mutex<WatchReport>,
    wake_outbox: Arc<Notify>,
    metrics: Arc<WatchMetrics>,
}

impl<A, S> std::fmt::Debug for Watch<A, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<A, S> Watch<A, S>
where
    A: AgoraPlus,
    S: LocalStore + JobLeases,
{
    /// A worker running the use cases of `app` with `config`.
    pub fn new(app: Agora<A, S>, config: WatchConfig) -> Self {
        let metrics = Arc::new(WatchMetrics::new(app.clock.clone(), &config));
        Self {
            metrics,
            app,
            config,
            notices: None,
            unavailable: Mutex::new(None),
            report: Mutex::new(WatchReport::default()),
            wake_outbox: Arc::new(Notify::new()),
        }
    }

    /// Where the worker's notices go (they are logged as well).
    pub fn notices(&mut self) -> mpsc::UnboundedReceiver<Notice> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.notices = Some(tx);
        rx
    }

    /// A handle that wakes the outbox loop at once: for a product that
    /// wrote an entry and wants it sent without waiting for `outbox_poll`.
    pub fn outbox_waker(&self) -> Arc<Notify> {
        self.wake_outbox.clone()
    }

    /// What the worker measures (its loops' health, for `/healthz` and
    /// `/metrics`); give it to the AgoraPlus adapter as its `CallMeter` to
    /// count the calls too.
    pub fn metrics(&self) -> Arc<WatchMetrics> {
        self.metrics.clone()
    }

    /// Measures into `metrics` instead of its own, e.g. the one the
    /// AgoraPlus adapter was already given as its `CallMeter`
    /// (`WatchMetrics::new` with this worker's settings).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<WatchMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The use cases the worker runs.
    pub fn app(&self) -> &Agora<A, S> {
        &self.app
    }

    fn notice(&self, notice: Notice) {
        match &notice {
            Notice::Unavailable { job, error } => {
                tracing::warn!(job = job.name(), %error, "AgoraPlus is unavailable; backing off");
            }
            Notice::Available { job } => {
                tracing::info!(job = job.name(), "AgoraPlus answers again");
            }
            Notice::Failed { job, error } => {
                tracing::warn!(job = job.name(), %error, "job failed");
            }
            Notice::Stopping => tracing::info!("stopping: no new work is taken"),
            Notice::Stopped { cut } => tracing::info!(cut, "stopped"),
        }
        if let Some(tx) = &self.notices {
            let _ = tx.send(notice);
        }
    }

    fn unavailable(&self, job: Job, error: &AgoraError) {
        let mut state = self
            .unavailable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.is_none() {
            *state = Some(job);
            drop(state);
            self.notice(Notice::Unavailable {
                job,
                error: error.to_string(),
            });
        }
    }

    fn available(&self, job: Job) {
        let mut state = self
            .unavailable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *state == Some(job) {
            *state = None;
            drop(state);
            self.notice(Notice::Available { job });
        }
    }

    /// Records how a run of `job` went, for its health: a skipped run
    /// counts as a success (another worker has just done the job).
    fn measure(&self, job: Job, ran: &Ran) {
        match ran {
            Ran::Done | Ran::Skipped => self.metrics.succeeded(job),
            Ran::Failed(error) => self.metrics.failed(job, error),
        }
    }

    fn count(&self, job: Job, skipped: bool) {
        let mut report = self
            .report
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let counts = if skipped {
            &mut report.skipped
        } else {
            &mut report.runs
        };
        *counts.entry(job.name()).or_default() += 1;
    }

    /// Runs the loops until `stop` is signalled, then stops as the module
    /// says; returns what was done.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) {
    /// use agora_app::{Stop, Watch, WatchConfig};
    /// let stop = Stop::new();
    /// // The signal handlers call `stop.signal()`: the first stops
    /// // gracefully, the second at once.
    /// let report = Watch::new(app, WatchConfig::default()).run(&stop).await;
    /// println!("{:?}", report.runs);
    /// # }
    /// ```
    pub async fn run(&self, stop: &Stop) -> WatchReport {
        let seed = fastrand::u64(..);
        self.metrics.started();
        let loops = async {
            tokio::join!(
                self.outbox_loop(stop.subscribe()),
                self.periodic(
                    Job::WorkOrders,
                    stop.subscribe(),
                    seed,
                    self.config.work_orders_every
                ),
                self.periodic(
                    Job::PartOrders,
                    stop.subscribe(),
                    seed ^ 1,
                    self.config.part_orders_every
                ),
                self.periodic(
                    Job::Claims,
                    stop.subscribe(),
                    seed ^ 2,
                    self.config.claims_every
                ),
                self.catalog_loop(stop.subscribe()),
            )
        };
        tokio::pin!(loops);
        let mut rx = stop.subscribe();
        // The loops end only once stopped; the stop is seen first.
        let cut = tokio::select! {
            biased;
            () = stopped(&mut rx, 1) => {
                self.notice(Notice::Stopping);
                tokio::select! {
                    biased;
                    _ = &mut loops => false,
                    () = stopped(&mut rx, 2) => true,
                    () = tokio::time::sleep(self.config.shutdown_grace) => true,
                }
            }
            _ = &mut loops => false,
        };
        self.notice(Notice::Stopped { cut });
        let mut report = self
            .report
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        report.cut = cut;
        report
    }

    /// A periodic job's loop: at once, then every `interval` (jittered),
    /// backing off while AgoraPlus is unavailable.
    async fn periodic(
        &self,
        job: Job,
        mut stop: watch::Receiver<u32>,
        seed: u64,
        interval: Duration,
    ) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut failures = 0u32;
        let mut delay = Duration::ZERO;
        loop {
            tokio::select! {
                biased;
                () = stopped(&mut stop, 1) => return,
                () = tokio::time::sleep(delay) => {}
            }
            // Not again soon after another worker did it.
            let fresh = interval / 2;
            let ran = self.leased(job, fresh).await;
            self.measure(job, &ran);
            let wait = match ran {
                Ran::Failed(error) if is_unavailable(&error) => {
                    self.unavailable(job, &error);
                    failures = failures.saturating_add(1);
                    backoff(
                        interval,
                        failures,
                        self.config.backoff_max,
                        error.retry_after(),
                    )
                }
                Ran::Failed(error) => {
                    failures = 0;
                    self.notice(Notice::Failed {
                        job,
                        error: error.to_string(),
                    });
                    interval
                }
                Ran::Done => {
                    failures = 0;
                    self.available(job);
                    interval
                }
                Ran::Skipped => interval,
            };
            delay = jittered(wait, self.config.jitter, &mut rng);
        }
    }

    /// The catalog's loop: every day at `catalog_at` (UTC), when catalogs
    /// are configured.
    async fn catalog_loop(&self, mut stop: watch::Receiver<u32>) {
        if self.config.catalogs.is_empty() {
            return;
        }
        let day = Duration::from_secs(86_400);
        let mut failures = 0u32;
        let mut delay = until_next(self.app.clock.now(), self.config.catalog_at);
        loop {
            tokio::select! {
                biased;
                () = stopped(&mut stop, 1) => return,
                () = tokio::time::sleep(delay) => {}
            }
            let ran = self.leased(Job::Catalog, day / 2).await;
            self.measure(Job::Catalog, &ran);
            delay = match ran {
                Ran::Failed(error) if is_unavailable(&error) => {
                    self.unavailable(Job::Catalog, &error);
                    failures = failures.saturating_add(1);
                    // Again soon, not tomorrow: from the outbox's poll up.
                    backoff(
                        self.config.outbox_poll.max(Duration::from_secs(60)),
                        failures,
                        self.config.backoff_max,
                        error.retry_after(),
                    )
                }
                other => {
                    failures = 0;
                    match other {
                        Ran::Failed(error) => self.notice(Notice::Failed {
                            job: Job::Catalog,
                            error: error.to_string(),
                        }),
                        Ran::Done => self.available(Job::Catalog),
                        Ran::Skipped => {}
                    }
                    until_next(self.app.clock.now(), self.config.catalog_at)
                }
            };
        }
    }

    /// Runs `job` under its lease, unless another worker holds it or
    /// completed it less than `fresh` ago; the lease is renewed while the
    /// job runs and released after, with the completion time when done.
    async fn leased(&self, job: Job, fresh: Duration) -> Ran {
        static RUNS: AtomicU64 = AtomicU64::new(1);
        let owner = format!(
            "{}#{}{}",
            self.app.config.worker,
            job.name(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        );
        let now = self.app.clock.now();
        let lease = Lease {
            owner: owner.clone(),
            until: now + self.config.job_lease,
        };
        let taken = self
            .app
            .store
            .take_job(job.name(), &lease, now, Some(now - fresh))
            .await;
        match taken {
            Ok(true) => {}
            Ok(false) => {
                self.count(job, true);
                return Ran::Skipped;
            }
            Err(e) => return Ran::Failed(e),
        }
        self.count(job, false);
        let result = tokio::select! {
            result = self.run_job(job) => result,
            never = self.keep_job_lease(job, &owner) => match never {},
        };
        let done = result.is_ok().then(|| self.app.clock.now());
        if let Err(e) = self.app.store.release_job(job.name(), &owner, done).await {
            tracing::warn!(job = job.name(), error = %e, "job lease not released");
        }
        match result {
            Ok(()) => Ran::Done,
            Err(e) => Ran::Failed(e),
        }
    }

    /// Renews `owner`'s lease of `job` every third of its length, for as
    /// long as it is polled.
    async fn keep_job_lease(&self, job: Job, owner: &str) -> std::convert::Infallible {
        let every = self.config.job_lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let lease = Lease {
                owner: owner.to_owned(),
                until: self.app.clock.now() + self.config.job_lease,
            };
            match self.app.store.renew_job(job.name(), &lease).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(job = job.name(), "job lease lost while running"),
                Err(e) => tracing::warn!(job = job.name(), error = %e, "job lease not renewed"),
            }
        }
    }

    /// One run of a job: `Err` when it failed as a whole, or when a part of
    /// it failed in a way that strikes every call (AgoraPlus unavailable).
    async fn run_job(&self, job: Job) -> Result<(), AgoraError> {
        match job {
            Job::WorkOrders => {
                let sync = self.app.sync_work_orders().await?;
                if let Some(failure) = sync.failed {
                    return Err(failure.error);
                }
                if !sync.accepted.is_empty() || !sync.recovered.is_empty() {
                    tracing::info!(
                        accepted = sync.accepted.len(),
                        recovered = sync.recovered.len(),
                        "work orders pulled"
                    );
                }
                Ok(())
            }
            Job::PartOrders => {
                let pass = self.app.track_all_part_orders().await?;
                first_general_failure(pass.failed.into_iter().map(|f| f.error))
            }
            Job::Claims => {
                let pass = self.app.track_claims().await?;
                first_general_failure(pass.failed.into_iter().map(|f| f.error))
            }
            Job::Catalog => {
                let mut first = None;
                for c in &self.config.catalogs {
                    let synced = self
                        .app
                        .sync_catalog(c.manufacturer, c.language, c.kind, &mut |_| {})
                        .await;
                    match synced {
                        Ok(sync) => tracing::info!(
                            manufacturer = c.manufacturer.0,
                            records = sync.records,
                            "catalog synced"
                        ),
                        Err(e) => {
                            tracing::warn!(manufacturer = c.manufacturer.0, error = %e, "catalog sync failed");
                            first.get_or_insert(e);
                        }
                    }
                }
                first.map_or(Ok(()), Err)
            }
            Job::Outbox => Ok(()),
        }
    }

    /// The outbox's loop: recovers what crashed senders left, delivers
    /// what is due, then sleeps until the next entry is due (at most
    /// `outbox_poll`, or until woken).
    async fn outbox_loop(&self, mut stop: watch::Receiver<u32>) {
        loop {
            let going = stop.clone();
            let go = move || *going.borrow() == 0;
            if !go() {
                return;
            }
            let delivered = self.deliver(&go).await;
            match &delivered {
                Ok(_) => self.metrics.succeeded(Job::Outbox),
                Err(e) => self.metrics.failed(Job::Outbox, e),
            }
            let wait = match delivered {
                Ok(next_due) => {
                    let now = self.app.clock.now();
                    next_due
                        .filter(|due| *due > now)
                        .and_then(|due| Duration::try_from(due.duration_since(now)).ok())
                        .map_or(self.config.outbox_poll, |d| d.min(self.config.outbox_poll))
                }
                Err(e) => {
                    self.notice(Notice::Failed {
                        job: Job::Outbox,
                        error: e.to_string(),
                    });
                    self.config.outbox_poll
                }
            };
            tokio::select! {
                biased;
                () = stopped(&mut stop, 1) => return,
                () = self.wake_outbox.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One round of the outbox: recovery, delivery while `go`, and when the
    /// next pending entry is due.
    async fn deliver(
        &self,
        go: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<Option<Timestamp>, AgoraError> {
        self.app.recover().await?;
        let flushed = self.app.flush_outbox_while(go).await?;
        if flushed != FlushReport::default() {
            let mut report = self
                .report
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            report.outbox.delivered += flushed.delivered;
            report.outbox.queued += flushed.queued;
            report.outbox.in_doubt += flushed.in_doubt;
            report.outbox.failed += flushed.failed;
        }
        Ok(self
            .app
            .store
            .entries(OutboxState::Pending)
            .await?
            .iter()
            .map(|e| e.next_attempt_at)
            .min())
    }
}

/// The first failure of a pass that strikes every call alike.
fn first_general_failure(errors: impl IntoIterator<Item = AgoraError>) -> Result<(), AgoraError> {
    errors
        .into_iter()
        .find(|e| !concerns_one_item(e))
        .map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_strays_within_its_share_and_varies() {
        let mut rng = fastrand::Rng::with_seed(7);
        let base = Duration::from_secs(60);
        let draws: Vec<Duration> = (0..200).map(|_| jittered(base, 0.1, &mut rng)).collect();
        assert!(
            draws
                .iter()
                .all(|d| *d >= Duration::from_secs(54) && *d <= Duration::from_secs(66))
        );
        assert!(draws.iter().any(|d| *d < Duration::from_secs(58)));
        assert!(draws.iter().any(|d| *d > Duration::from_secs(62)));
        assert_eq!(jittered(base, 0.0, &mut rng), base);
    }

    #[test]
    fn backoff_doubles_from_the_interval_up_to_its_maximum_and_honours_retry_after() {
        let s = Duration::from_secs;
        let delays: Vec<u64> = (1..6)
            .map(|n| backoff(s(60), n, s(600), None).as_secs())
            .collect();
        assert_eq!(delays, [120, 240, 480, 600, 600]);
        assert_eq!(backoff(s(60), 1, s(600), Some(s(900))), s(900));
        // A maximum below the interval does not shorten it.
        assert_eq!(backoff(s(900), 3, s(600), None), s(900));
    }

    #[test]
    fn the_catalog_runs_at_the_next_time_of_day() {
        let at = jiff::civil::time(2, 0, 0, 0);
        let now: Timestamp = "2024-03-01T01:00:00Z".parse().unwrap();
        assert_eq!(until_next(now, at), Duration::from_secs(3600));
        let now: Timestamp = "2024-03-01T02:00:00Z".parse().unwrap();
        assert_eq!(until_next(now, at), Duration::from_secs(86_400));
        let now: Timestamp = "2024-03-01T23:30:00Z".parse().unwrap();
        assert_eq!(until_next(now, at), Duration::from_secs(9000));
    }
}
