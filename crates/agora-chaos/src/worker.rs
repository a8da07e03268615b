//! A worker process: one product linking agora, sharing the store (a
//! SQLite file or a PostgreSQL database) with the others. It drives its share of the operations over the repair
//! files the workers have in hand, plays the OEM through the simulator's
//! control API where the story needs it, resolves doubts as an operator
//! would, and tells the harness what it did, line by line.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use agora_app::{Agora, AppConfig, ClaimOutcome, Delivery};
use agora_domain::{
    ClaimId, DraftInvoiceNumber, InterventionId, InvoiceNumber, MandateLightResponse,
};
use agora_http::{AgoraClient, ApiKey, ClientConfig, Environment, RetryPolicy};
use agora_ports::{
    AgoraError, Clock, Operation, OutboxEntry, OutboxState, RepairFiles, SystemClock,
};
use agora_store::{Locator, PgOptions, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::events::{Event, OpKind, Outcome};
use crate::operator;
use crate::probe::{Hook, Orders, Out, Probe, emit};
use crate::sim_state::SimState;
use crate::workload::{
    OEM, Step, add_part, complete_claim, fill_details, mandate, mistaken, next_step, status,
};

/// What a worker process is told to do (passed as one JSON argument).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerConfig {
    /// Its slot among the workers (0-based).
    pub slot: usize,
    /// Its name: the owner of the outbox entries it claims (`AppConfig::worker`).
    pub name: String,
    /// The simulator's base URL.
    pub url: String,
    /// The account's api_key (the simulator's).
    pub api_key: String,
    /// The shared store: a SQLite file's path or a `postgres://` URL
    /// ([`Locator::parse`]).
    pub store: String,
    /// Operations of the slot in all.
    pub budget: u64,
    /// Operations its earlier incarnations did.
    pub done: u64,
    /// Work orders the slot publishes in all.
    pub quota: usize,
    /// Work orders its earlier incarnations published.
    pub published: usize,
    /// Repair files the workers have in hand at once (the lowest ids not
    /// done), shared by every worker so that they meet on the same files.
    pub window: usize,
    /// The name of the incarnation this one replaces (killed): its leases
    /// are recovered at start-up, once expired.
    pub predecessor: Option<String>,
    /// Seed of its choices.
    pub seed: u64,
    /// Lease of a claimed outbox entry, in milliseconds.
    pub lease_ms: u64,
    /// The client's request timeout, in milliseconds.
    pub client_timeout_ms: u64,
    /// How long an entry stays in doubt (since this worker first saw it
    /// so) before the operator settles it, in milliseconds: longer than any
    /// call of its sender may still take to land (a slow call, the
    /// client's retries).
    pub operator_grace_ms: u64,
    /// Share of OEM decisions that are NOTCONFORM.
    pub not_conform_rate: f64,
    /// How far this worker's clock is from the true time, in milliseconds
    /// (ahead when positive): the clock its use cases read.
    #[serde(default)]
    pub clock_skew_ms: i64,
    /// The grace of its outbox (`AppConfig::grace`), in milliseconds.
    #[serde(default = "default_grace_ms")]
    pub grace_ms: u64,
}

fn default_grace_ms() -> u64 {
    5_000
}

/// The system clock, off by a fixed amount: a process whose clock
/// disagrees with the others'.
#[derive(Debug, Clone, Copy)]
pub struct SkewedClock {
    /// Ahead when positive, in milliseconds.
    pub skew_ms: i64,
}

impl Clock for SkewedClock {
    fn now(&self) -> jiff::Timestamp {
        let now = SystemClock.now();
        now.checked_add(jiff::SignedDuration::from_millis(self.skew_ms))
            .unwrap_or(now)
    }
}

/// The simulator's control API (not AgoraPlus: no faults there), as the
/// account: its key in the `api_key` header.
struct Control {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Control {
    async fn call(&self, path: &str, body: Option<Value>) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base);
        let request = match body {
            Some(body) => self
                .http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string()),
            None => self.http.get(url),
        }
        .header("api_key", &self.key);
        let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| format!("{path}: {e}"))?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    async fn expect(&self, path: &str, body: Option<Value>) -> Result<Value, String> {
        match self.call(path, body).await? {
            (200, v) => Ok(v),
            (status, v) => Err(format!("{path}: {status} {v}")),
        }
    }

    async fn publish(&self, mandate: &MandateLightResponse) -> Result<(), String> {
        self.expect("/_sim/mandates", Some(json!({ "Mandate": mandate })))
            .await
            .map(drop)
    }

    async fn ship(&self, order: &str) -> Result<(), String> {
        self.expect(
            &format!("/_sim/orders/{order}/logistic"),
            Some(json!({"StatusCode": "208"})),
        )
        .await
        .map(drop)
    }

    /// The OEM's decision; false when the claim has moved on (decided by
    /// another worker's OEM meanwhile).
    async fn decide(&self, claim: ClaimId, status: &str) -> Result<bool, String> {
        let path = format!("/_sim/claims/{claim}/decision");
        match self
            .call(
                &path,
                Some(
                    json!({"LastStatus": status, "Comment": format!("{status} by the chaos OEM")}),
                ),
            )
            .await?
        {
            (200, _) => Ok(true),
            (409, _) => Ok(false),
            (status, v) => Err(format!("{path}: {status} {v}")),
        }
    }

    /// A draft invoice of the OEM's accepted claims not yet in a draft;
    /// `None` when there is none.
    async fn draft(&self) -> Result<Option<(DraftInvoiceNumber, Vec<ClaimId>)>, String> {
        let body = json!({ "ManufacturerId": OEM.0 });
        match self.call("/_sim/invoices/draft", Some(body)).await? {
            (200, v) => {
                let number = v["DraftInvoiceNumber"]
                    .as_str()
                    .ok_or_else(|| format!("draft without a number: {v}"))?
                    .into();
                let claims = v["ClaimIDs"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_i64).map(ClaimId).collect())
                    .unwrap_or_default();
                Ok(Some((number, claims)))
            }
            (409, _) => Ok(None),
            (status, v) => Err(format!("/_sim/invoices/draft: {status} {v}")),
        }
    }

    async fn state(&self) -> Result<SimState, String> {
        SimState::parse(self.expect("/_sim/state", None).await?)
    }
}

/// The use cases of a process of the run, on the store it was given
/// (seen by the harness at its points).
pub type App = Agora<AgoraClient, Probe>;

/// The `User-Agent` of a process of the run, before its name: the
/// harness tells the workers' calls apart by it.
pub const USER_AGENT_PREFIX: &str = "agora-chaos/";

/// Builds the use cases of a process of the run: the HTTP client to the
/// simulator (short timeouts, quick retries) and the shared store, a
/// SQLite file's path or a PostgreSQL URL.
pub async fn app(
    url: &str,
    api_key: &str,
    store: &str,
    name: &str,
    (lease, client_timeout, grace): (Duration, Duration, Duration),
    clock: Arc<dyn Clock>,
    hook: Option<Hook>,
) -> Result<App, AgoraError> {
    let mut config = ClientConfig::new(Environment::Custom(url.to_owned()), ApiKey::new(api_key));
    config.user_agent = format!("{USER_AGENT_PREFIX}{name}");
    let config = config
        .with_timeouts(Duration::from_secs(2), client_timeout, client_timeout)
        .with_retry(RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            max_elapsed: Duration::from_secs(3),
        });
    let client = AgoraClient::new(config)?;
    let store = Store::open(&Locator::parse(store)?, PgOptions::default()).await?;
    Ok(Agora::new(
        client,
        Probe::new(store, hook),
        clock,
        AppConfig {
            worker: name.to_owned(),
            lease,
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_secs(2),
            max_attempts: 40,
            // The client's attempts at one call (4, each bounded by the
            // client's timeout, within 3 s), and the simulator's slow
            // calls, handled after the client gave up.
            request_timeout: client_timeout * 4 + Duration::from_secs(1),
            grace,
            ..AppConfig::default()
        },
    ))
}

/// How long a worker starting waits for its store to be available.
const STORE_WAIT: Duration = Duration::from_secs(60);

/// How often (in operations) the list of repair files is read again.
const REFRESH_EVERY: u64 = 20;
/// Share of operations that flush the outbox.
const FLUSH_SHARE: f64 = 0.05;
/// Share of operations that resolve a doubt when one is ripe.
const RESOLVE_SHARE: f64 = 0.3;
/// Operations in a row that make no progress on a file before this
/// worker leaves it alone.
const STRIKES: u32 = 12;

struct Worker {
    app: App,
    control: Control,
    config: WorkerConfig,
    rng: fastrand::Rng,
    out: Out,
    n: u64,
    published: usize,
    known: Vec<InterventionId>,
    refreshed_at: Option<u64>,
    done: HashSet<InterventionId>,
    strikes: HashMap<InterventionId, u32>,
    /// When this worker first saw each entry in doubt (an entry does not
    /// record when it was parked).
    seen_in_doubt: HashMap<u64, std::time::Instant>,
}

/// Runs a worker to the end of its budget, writing its events to `out`.
/// `orders` are the harness's (read from the worker's standard input):
/// the point it is armed at, and when to go on.
pub async fn run(
    config: WorkerConfig,
    out: Box<dyn Write + Send>,
    orders: Arc<Orders>,
) -> Result<(), String> {
    let out: Out = Arc::new(std::sync::Mutex::new(out));
    // A worker started while the store is away (restarted, locked) waits
    // for it, as a product would, for up to a minute.
    let started = std::time::Instant::now();
    let app = loop {
        let opened = app(
            &config.url,
            &config.api_key,
            &config.store,
            &config.name,
            (
                Duration::from_millis(config.lease_ms),
                Duration::from_millis(config.client_timeout_ms),
                Duration::from_millis(config.grace_ms),
            ),
            Arc::new(SkewedClock {
                skew_ms: config.clock_skew_ms,
            }),
            Some(Hook {
                out: out.clone(),
                orders: orders.clone(),
            }),
        )
        .await;
        match opened {
            Ok(app) => break app,
            Err(AgoraError::Store(_)) if started.elapsed() < STORE_WAIT => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(format!("opening the store: {e}")),
        }
    };
    let control = Control {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?,
        base: config.url.trim_end_matches('/').to_owned(),
        key: config.api_key.clone(),
    };
    let mut worker = Worker {
        app,
        control,
        rng: fastrand::Rng::with_seed(config.seed),
        out,
        n: config.done,
        published: config.published,
        known: Vec::new(),
        refreshed_at: None,
        done: HashSet::new(),
        strikes: HashMap::new(),
        seen_in_doubt: HashMap::new(),
        config,
    };
    while let Err(e) = worker.recover_at_start().await {
        if started.elapsed() >= STORE_WAIT {
            return Err(format!("start-up recovery: {e}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    while worker.n < worker.config.budget {
        if let Some((kind, outcome)) = worker.one().await {
            if outcome == Outcome::StoreError {
                // The store is away (restarted, locked): wait a little, as
                // a product would, rather than spend the budget at once.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            worker.n += 1;
            worker.emit(&Event::Op {
                n: worker.n,
                kind,
                outcome,
            })?;
        }
    }
    worker.emit(&Event::Done)
}

fn classify(e: &AgoraError) -> Outcome {
    match e {
        AgoraError::Conflict(_) => Outcome::Conflict,
        AgoraError::Invalid(m)
            if m.contains("is already open for")
                || (m.contains("already has an invoice reference")
                    && !m.contains("Delivered)")) =>
        {
            Outcome::RefusedOpenCreation
        }
        AgoraError::Invalid(_) | AgoraError::Missing(_) => Outcome::RefusedLocally,
        AgoraError::Store(_) => Outcome::StoreError,
        _ => Outcome::AgoraPlusError,
    }
}

fn delivery(result: Result<Delivery, AgoraError>) -> Outcome {
    match result {
        Ok(Delivery::Delivered { .. }) => Outcome::Done,
        Ok(Delivery::Queued { .. }) => Outcome::Queued,
        Ok(Delivery::InDoubt { .. }) => Outcome::InDoubt,
        Ok(Delivery::Failed { .. }) => Outcome::Failed,
        Err(e) => classify(&e),
    }
}

fn judged(result: Result<ClaimOutcome, AgoraError>) -> Outcome {
    match result {
        Ok(ClaimOutcome::Judged { .. }) => Outcome::Done,
        Ok(ClaimOutcome::Queued { .. }) => Outcome::Queued,
        Ok(ClaimOutcome::InDoubt { .. }) => Outcome::InDoubt,
        Ok(ClaimOutcome::Refused(_)) => Outcome::Failed,
        Ok(ClaimOutcome::PrecheckFailed(_)) => Outcome::RefusedLocally,
        Err(e) => classify(&e),
    }
}

fn read<T>(result: Result<T, AgoraError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Done,
        Err(e) => classify(&e),
    }
}

impl Worker {
    fn emit(&mut self, event: &Event) -> Result<(), String> {
        emit(&self.out, event)
    }

    /// Waits for the leases the killed predecessor held to expire and for
    /// recovery to take its entries back, then says what it left.
    async fn recover_at_start(&mut self) -> Result<(), String> {
        let Some(predecessor) = self.config.predecessor.clone() else {
            self.app.recover().await.map_err(|e| e.to_string())?;
            return Ok(());
        };
        let held_by = |entries: Vec<OutboxEntry>| -> Vec<OutboxEntry> {
            entries
                .into_iter()
                .filter(|e| {
                    // Held as `WORKER#N` (a claim of that worker).
                    e.lease.as_ref().is_some_and(|l| {
                        l.owner
                            .strip_prefix(predecessor.as_str())
                            .is_some_and(|rest| rest.starts_with('#'))
                    })
                })
                .collect()
        };
        let sending = self
            .app
            .outbox(OutboxState::Sending)
            .await
            .map_err(|e| e.to_string())?;
        let left = held_by(sending);
        loop {
            self.app.recover().await.map_err(|e| e.to_string())?;
            let still = held_by(
                self.app
                    .outbox(OutboxState::Sending)
                    .await
                    .map_err(|e| e.to_string())?,
            );
            let Some(until) = still
                .iter()
                .filter_map(|e| e.lease.as_ref())
                .map(|l| l.until)
                .max()
            else {
                break;
            };
            let wait = (until - SystemClock.now())
                .unsigned_abs()
                .min(Duration::from_millis(self.config.lease_ms));
            tokio::time::sleep(wait + Duration::from_millis(20)).await;
        }
        let requeued = left.iter().filter(|e| e.operation.is_idempotent()).count();
        self.emit(&Event::Recovered {
            in_doubt: left.len() - requeued,
            requeued,
        })
    }

    async fn refresh(&mut self) {
        if let Ok(repairs) = self.app.store().repairs().await {
            self.known = repairs.iter().map(|r| r.intervention_id).collect();
            for r in &repairs {
                if next_step(r) == Step::Done {
                    self.done.insert(r.intervention_id);
                }
            }
        }
        self.refreshed_at = Some(self.n);
    }

    /// One operation; `None` when it found nothing to do with the file it
    /// picked (it is done), which does not count.
    async fn one(&mut self) -> Option<(OpKind, Outcome)> {
        let doubts = match self.app.outbox(OutboxState::InDoubt).await {
            Ok(d) => d,
            Err(e) => return Some((OpKind::Flush, classify(&e))),
        };
        let grace = Duration::from_millis(self.config.operator_grace_ms);
        let now = std::time::Instant::now();
        self.seen_in_doubt
            .retain(|id, _| doubts.iter().any(|e| e.id == *id));
        let ripe: Vec<&OutboxEntry> = doubts
            .iter()
            .filter(|e| *self.seen_in_doubt.entry(e.id).or_insert(now) + grace <= now)
            .collect();
        if !ripe.is_empty() && self.rng.f64() < RESOLVE_SHARE {
            let entry = ripe[self.rng.usize(..ripe.len())].clone();
            return Some((OpKind::Resolve, self.resolve(entry).await));
        }
        if self.rng.f64() < FLUSH_SHARE {
            return Some((OpKind::Flush, self.flush().await));
        }
        if self
            .refreshed_at
            .is_none_or(|at| self.n >= at + REFRESH_EVERY)
        {
            self.refresh().await;
        }
        let blocked: HashSet<InterventionId> =
            doubts.iter().filter_map(|e| e.intervention_id).collect();
        let window: Vec<InterventionId> = self
            .known
            .iter()
            .copied()
            .filter(|id| !self.done.contains(id) && !blocked.contains(id))
            .filter(|id| self.strikes.get(id).is_none_or(|s| *s < STRIKES))
            .take(self.config.window)
            .collect();
        let to_publish = self.config.quota.saturating_sub(self.published);
        if to_publish > 0 && (window.len() < self.config.window || self.rng.f64() < 0.02) {
            return Some((
                OpKind::WorkOrders,
                self.work_orders(to_publish.min(3)).await,
            ));
        }
        if window.is_empty() {
            // Everything in hand is done or waits for the operator.
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Some((OpKind::Flush, self.flush().await));
        }
        let file = window[self.rng.usize(..window.len())];
        let repair = match self.app.store().repair(file).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                self.done.insert(file);
                return None;
            }
            Err(e) => return Some((OpKind::Flush, classify(&e))),
        };
        let step = next_step(&repair);
        if step == Step::Done {
            self.done.insert(file);
            return None;
        }
        let (kind, outcome) = self.step(file, step).await?;
        let strikes = self.strikes.entry(file).or_default();
        match outcome {
            Outcome::Done | Outcome::Queued | Outcome::InDoubt => *strikes = 0,
            _ => *strikes += 1,
        }
        Some((kind, outcome))
    }

    /// Does a step (`None` if the harness cannot be told it begins).
    async fn step(&mut self, file: InterventionId, step: Step) -> Option<(OpKind, Outcome)> {
        let kind = match &step {
            Step::Details | Step::AddPart => OpKind::UpdateFile,
            Step::Order => OpKind::OrderParts,
            Step::Ship(_) => OpKind::TrackOrders,
            Step::CreateClaim => OpKind::CreateClaim,
            Step::CorrectClaim => OpKind::CorrectClaim,
            Step::Decide(_) => OpKind::OemDecision,
            Step::Invoice(_) => OpKind::RegisterInvoice,
            Step::Done => OpKind::Flush,
            _ => OpKind::ReportStatus,
        };
        self.emit(&Event::Begin { kind }).ok()?;
        Some(self.run_step(file, step).await)
    }

    async fn run_step(&mut self, file: InterventionId, step: Step) -> (OpKind, Outcome) {
        let tag = format!("{}#{}", self.config.name, self.n + 1);
        match step {
            Step::Details => (
                OpKind::UpdateFile,
                delivery(self.app.update_file(file, |f| fill_details(f, file)).await),
            ),
            Step::AddPart => (
                OpKind::UpdateFile,
                delivery(
                    self.app
                        .update_file(file, |f| add_part(f, file, &tag))
                        .await,
                ),
            ),
            Step::Appointment
            | Step::Diagnosis
            | Step::PartsOrdered
            | Step::Received { .. }
            | Step::Finished => {
                let Some(status) = status(&step, file, &tag) else {
                    return (OpKind::ReportStatus, Outcome::Nothing);
                };
                (
                    OpKind::ReportStatus,
                    delivery(
                        self.app
                            .report_status(file, status)
                            .await
                            .map(|c| c.outcome),
                    ),
                )
            }
            Step::Order => (
                OpKind::OrderParts,
                delivery(self.app.order_parts(file).await),
            ),
            Step::Ship(orders) => {
                for order in &orders {
                    if self.control.ship(order).await.is_err() {
                        return (OpKind::TrackOrders, Outcome::AgoraPlusError);
                    }
                }
                (
                    OpKind::TrackOrders,
                    read(self.app.track_part_orders(file).await),
                )
            }
            Step::CreateClaim | Step::CorrectClaim => {
                let kind = if step == Step::CreateClaim {
                    OpKind::CreateClaim
                } else {
                    OpKind::CorrectClaim
                };
                let claim = match self.app.draft_claim(file).await {
                    Ok(c) => complete_claim(c, &tag),
                    Err(e) => return (kind, classify(&e)),
                };
                let claim = if step == Step::CreateClaim {
                    mistaken(claim)
                } else {
                    claim
                };
                (
                    kind,
                    judged(
                        self.app
                            .submit_claim(file, claim, false)
                            .await
                            .map(|c| c.outcome),
                    ),
                )
            }
            Step::Decide(claim) => {
                let decision = if self.rng.f64() < self.config.not_conform_rate {
                    "NOTCONFORM"
                } else {
                    "CLOSEDACCEPTED"
                };
                if self.control.decide(claim, decision).await.is_err() {
                    return (OpKind::OemDecision, Outcome::AgoraPlusError);
                }
                (OpKind::OemDecision, read(self.app.track_claims().await))
            }
            Step::Invoice(claim) => (OpKind::RegisterInvoice, self.invoice(claim).await),
            Step::Done => (OpKind::Flush, Outcome::Nothing),
        }
    }

    async fn work_orders(&mut self, count: usize) -> Outcome {
        for _ in 0..count {
            let n = (self.config.slot as u64) * 1_000_000 + self.published as u64;
            if self.control.publish(&mandate(n)).await.is_err() {
                return Outcome::AgoraPlusError;
            }
            self.published += 1;
            if self.emit(&Event::Published).is_err() {
                return Outcome::Nothing;
            }
        }
        let pulled = self.app.sync_work_orders().await;
        self.refresh().await;
        read(pulled)
    }

    async fn flush(&mut self) -> Outcome {
        if let Err(e) = self.app.recover().await {
            return classify(&e);
        }
        read(self.app.flush_outbox().await)
    }

    /// The OEM issues a draft of its accepted claims, and the invoice
    /// reference is registered for it. When the claim is in a draft
    /// already (issued for another file, or by a worker that died before
    /// registering it), that draft is looked up in AgoraPlus.
    async fn invoice(&mut self, claim: ClaimId) -> Outcome {
        let (draft, claims) = match self.control.draft().await {
            Ok(Some(d)) => d,
            Ok(None) => {
                let Ok(state) = self.control.state().await else {
                    return Outcome::AgoraPlusError;
                };
                let Some(number) = state
                    .claims
                    .iter()
                    .find(|c| c.claim_id == claim)
                    .and_then(|c| c.draft_invoice_number.clone())
                else {
                    return Outcome::Nothing;
                };
                match state.draft(&number) {
                    Some(d) if d.invoice_number.is_none() => (number, d.claim_ids.clone()),
                    // Linked already: its entry tells the store.
                    _ => return Outcome::Nothing,
                }
            }
            Err(_) => return Outcome::AgoraPlusError,
        };
        let number = InvoiceNumber(format!("INV-{draft}"));
        match self.app.register_invoice(&draft, &number, &claims).await {
            // A claim of the draft was accepted by the OEM after this
            // store last tracked it: track, then try again.
            Err(AgoraError::Invalid(m)) if m.contains("not an accepted") => {
                if let Err(e) = self.app.track_claims().await {
                    return classify(&e);
                }
                delivery(self.app.register_invoice(&draft, &number, &claims).await)
            }
            other => delivery(other),
        }
    }

    /// The operator's path: look in AgoraPlus whether the entry took
    /// effect, then resolve it (applied, with what it created; or resend).
    async fn resolve(&mut self, entry: OutboxEntry) -> Outcome {
        let Ok(state) = self.control.state().await else {
            return Outcome::AgoraPlusError;
        };
        let file = entry.intervention_id.or(match &entry.operation {
            Operation::PlaceOrder(id) => Some(*id),
            _ => None,
        });
        let local = match file {
            Some(id) => match self.app.store().repair(id).await {
                Ok(r) => r,
                Err(e) => return classify(&e),
            },
            None => None,
        };
        let Ok(resolution) = operator::decide(&entry, local.as_ref(), &state) else {
            return Outcome::Nothing;
        };
        match self.app.resolve(entry.id, resolution).await {
            Ok(OutboxState::Delivered) => Outcome::ResolvedApplied,
            Ok(OutboxState::Pending) => Outcome::ResolvedResend,
            Ok(_) => Outcome::Nothing,
            // Settled by another worker (or a late answer) meanwhile, or
            // not ripe: its attempt may still take effect.
            Err(AgoraError::Invalid(m)) if m.contains("only entries in doubt") => Outcome::Nothing,
            Err(AgoraError::TooSoon { .. }) => Outcome::Nothing,
            Err(e) => classify(&e),
        }
    }
}
