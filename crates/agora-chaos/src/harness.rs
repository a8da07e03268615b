//! The harness: serves the simulator in-process (counting the requests in
//! flight), starts the worker processes on one store (a SQLite file, or a
//! database on a throwaway PostgreSQL server it starts), kills and restarts
//! them on their progress events, then runs the operator's end of the run
//! and the reconciliation.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use agora_app::Resolution;
use agora_mock::{FaultCounts, Faults, SimConfig, Simulator};
use agora_ports::{Clock, OutboxEntry, OutboxState, RepairFiles, SystemClock};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::events::{Event, OpKind, Outcome, Point};
use crate::operator;
use crate::reconcile::{Reconciliation, reconcile};
use crate::sim_state::SimState;
use crate::worker::{self, App, WorkerConfig};

mod end;

/// The simulator account of the run.
const KEY: &str = "chaos-service-center";

/// The store the workers share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreKind {
    /// One SQLite file in the run's directory.
    #[default]
    Sqlite,
    /// One database on a throwaway PostgreSQL server the harness starts
    /// (`agora_store_postgres::throwaway`), reached by its URL.
    Postgres,
}

impl StoreKind {
    /// Its name in the report: `SQLite` or `PostgreSQL`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }

    /// What the workers share, in words.
    pub fn shared(self) -> &'static str {
        match self {
            Self::Sqlite => "one SQLite store file",
            Self::Postgres => "one PostgreSQL database",
        }
    }
}

impl std::str::FromStr for StoreKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            other => Err(format!("unknown store `{other}` (sqlite or postgres)")),
        }
    }
}

/// How a chaos run is set up.
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    /// Operations driven by all workers together.
    pub operations: u64,
    /// Worker processes.
    pub workers: usize,
    /// SIGKILLs of workers during the run.
    pub kills: usize,
    /// Work orders published (one repair file each).
    pub files: usize,
    /// Repair files in hand at once, shared by the workers.
    pub window: usize,
    /// Seed of the simulator, the workers' choices and the kills.
    pub seed: u64,
    /// The faults injected during the run.
    pub faults: Faults,
    /// The lease of a claimed outbox entry.
    pub lease: Duration,
    /// The client's request timeout.
    pub client_timeout: Duration,
    /// How long an entry stays in doubt before an operator settles it
    /// during the run.
    pub operator_grace: Duration,
    /// Share of OEM decisions that are NOTCONFORM.
    pub not_conform_rate: f64,
    /// Largest random delay between the start of the operation a kill
    /// waits for and the kill (so that it lands anywhere in it).
    pub kill_jitter: Duration,
    /// The store the workers share.
    pub store: StoreKind,
    /// The simulator's guards that absorb re-sends are off: a duplicate
    /// creation or order is applied and journaled, so that the
    /// reconciliation counts it ([`Simulator::set_apply_duplicates`]).
    pub apply_duplicates: bool,
    /// SIGKILLs aimed at named points of an attempt, taken in turn from
    /// [`Point::ALL`] (beside the `kills` at random moments).
    pub point_kills: usize,
    /// Workers paused (SIGSTOP) just after claiming an entry, for
    /// `pause`, then let go on (SIGCONT).
    pub pauses: usize,
    /// How long a paused worker stays stopped: past its lease.
    pub pause: Duration,
    /// Times the store is made unavailable for `outage`: the PostgreSQL
    /// server stopped and started again, or the SQLite file locked by an
    /// exclusive transaction.
    pub outages: usize,
    /// How long the store stays unavailable.
    pub outage: Duration,
    /// How far the clock of every other worker (odd slots) is ahead of the
    /// true time: the clock its use cases read. On PostgreSQL every worker
    /// reads one database clock, as processes sharing one server do, so
    /// leases are judged alike whatever the skew; on SQLite each process's
    /// own clock judges them, so the workers' grace covers the skew
    /// ([`ChaosConfig::grace`]).
    pub clock_skew: Duration,
    /// The executable run in `worker` mode (this harness's binary).
    pub worker_exe: PathBuf,
    /// Where the store (on SQLite) and the workers' logs go (a new temporary
    /// directory when `None`).
    pub dir: Option<PathBuf>,
    /// Keep the directory after a run that passed.
    pub keep: bool,
}

impl ChaosConfig {
    /// The full run: 10,000 operations, 4 workers, 5 kills, 600 files,
    /// 20% of calls faulted.
    pub fn full(worker_exe: impl Into<PathBuf>) -> Self {
        Self {
            operations: 10_000,
            workers: 4,
            kills: 5,
            files: 600,
            window: 40,
            seed: 20_240_301,
            faults: Faults {
                status503_rate: 0.07,
                status500_rate: 0.05,
                slow_rate: 0.04,
                slow_ms: 1_200,
                drop_after_commit_rate: 0.05,
                hold_rate: 0.02,
                hold_ms: 6_000,
                ..Faults::default()
            },
            lease: Duration::from_secs(2),
            client_timeout: Duration::from_millis(800),
            operator_grace: Duration::from_secs(10),
            not_conform_rate: 0.3,
            kill_jitter: Duration::from_millis(8),
            store: StoreKind::Sqlite,
            apply_duplicates: true,
            point_kills: 8,
            pauses: 3,
            pause: Duration::from_secs(5),
            outages: 3,
            outage: Duration::from_secs(3),
            clock_skew: Duration::from_secs(60),
            worker_exe: worker_exe.into(),
            dir: None,
            keep: false,
        }
    }

    /// The reduced run of the test suite: 500 operations, 2 workers, 1
    /// kill, the same faults, none of the others (no point kills, pauses,
    /// outages, skew or holds); [`ChaosConfig::only`] adds one kind.
    pub fn reduced(worker_exe: impl Into<PathBuf>) -> Self {
        let full = Self::full(worker_exe);
        Self {
            operations: 500,
            workers: 2,
            kills: 1,
            files: 28,
            window: 10,
            point_kills: 0,
            pauses: 0,
            outages: 0,
            clock_skew: Duration::ZERO,
            faults: Faults {
                hold_rate: 0.0,
                hold_ms: 0,
                ..full.faults.clone()
            },
            ..full
        }
    }

    /// The workers' grace (`AppConfig::grace`): how long past its end a
    /// lease is still honoured, and past its request timeout an attempt
    /// may still land. 5 s, and on SQLite 5 s more than the clock skew:
    /// there each process judges leases by its own clock, and the outbox
    /// promises nothing to processes whose clocks disagree by more than
    /// the grace (docs/architecture.md). On PostgreSQL the database's clock
    /// judges them, so the skew needs no grace.
    pub fn grace(&self) -> Duration {
        let base = Duration::from_secs(5);
        match self.store {
            StoreKind::Sqlite => base + self.clock_skew,
            StoreKind::Postgres => base,
        }
    }

    /// A reduced run of 300 operations with one kind of the new faults,
    /// scaled down to seconds: `kind` is one of [`FaultKind`].
    pub fn only(worker_exe: impl Into<PathBuf>, kind: FaultKind) -> Self {
        let mut c = Self {
            operations: 300,
            files: 16,
            kills: 0,
            ..Self::reduced(worker_exe)
        };
        match kind {
            FaultKind::StoreOutage => {
                c.outages = 2;
                c.outage = Duration::from_secs(3);
            }
            FaultKind::Pause => {
                c.pauses = 2;
                c.pause = c.lease * 2 + Duration::from_millis(500);
            }
            FaultKind::ClockSkew => c.clock_skew = Duration::from_secs(5),
            FaultKind::Hold => {
                c.faults.hold_rate = 0.15;
                c.faults.hold_ms = 2_500;
            }
            FaultKind::PointKills => c.point_kills = Point::ALL.len(),
        }
        c
    }
}

/// The kinds of faults beyond the simulator's answers and the random
/// kills, each with its reduced run ([`ChaosConfig::only`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The store unavailable for a few seconds.
    StoreOutage,
    /// A worker paused past its lease.
    Pause,
    /// Workers whose clocks disagree.
    ClockSkew,
    /// Updates held by the simulator past the client's timeout.
    Hold,
    /// Kills aimed at named points.
    PointKills,
}

/// What a chaos run found.
#[derive(Debug, Clone, Default)]
pub struct ChaosReport {
    /// Operations driven, by kind and outcome.
    pub operations: BTreeMap<OpKind, BTreeMap<Outcome, u64>>,
    /// Worker processes.
    pub workers: usize,
    /// The store they shared.
    pub store: StoreKind,
    /// Work orders published.
    pub work_orders: u64,
    /// Repair files in AgoraPlus at the end.
    pub files: usize,
    /// AgoraPlus calls and the faults injected in them, by kind.
    pub faults: FaultCounts,
    /// Workers killed (SIGKILL) and restarted.
    pub kills: usize,
    /// Entries the killed workers held: parked in doubt by recovery.
    pub left_in_doubt: usize,
    /// Entries the killed workers held: requeued by recovery (idempotent).
    pub left_requeued: usize,
    /// Kills aimed at a named point, by point.
    pub point_kills: BTreeMap<Point, usize>,
    /// Workers paused past their lease and let go on.
    pub pauses: usize,
    /// Times the store was made unavailable.
    pub outages: usize,
    /// Workers started with a clock off the true time.
    pub skewed_workers: usize,
    /// Worker exits that were neither a kill nor the end of the budget,
    /// and faults the harness failed to inject.
    pub crashes: Vec<String>,
    /// The reconciliation before the operator resolved the doubts.
    pub before: Reconciliation,
    /// Doubts resolved at the end: applied (with the identifier found in
    /// AgoraPlus).
    pub resolved_applied: usize,
    /// Doubts resolved at the end: sent again.
    pub resolved_resend: usize,
    /// Doubts the operator could not resolve, with why.
    pub unresolved: Vec<String>,
    /// The reconciliation after the resolutions and a final flush.
    pub after: Reconciliation,
    /// Wall time of the workers' phase.
    pub run_time: Duration,
    /// Wall time of the whole run.
    pub wall_time: Duration,
    /// The directory of the logs (and of the store, on SQLite).
    pub dir: PathBuf,
}

impl ChaosReport {
    /// Operations driven in all.
    pub fn total_operations(&self) -> u64 {
        self.operations.values().flat_map(|o| o.values()).sum()
    }

    /// Operations that ended with `outcome`, all kinds together.
    pub fn outcomes(&self, outcome: Outcome) -> u64 {
        self.operations
            .values()
            .filter_map(|o| o.get(&outcome))
            .sum()
    }

    /// Doubts resolved during the run by the workers' operator.
    pub fn resolved_in_run(&self) -> u64 {
        self.outcomes(Outcome::ResolvedApplied) + self.outcomes(Outcome::ResolvedResend)
    }

    /// Whether the run holds its promise: nothing lost, nothing
    /// duplicated, every doubt resolved, nothing left to send, every kill
    /// done, no worker crashed.
    pub fn passed(&self, kills_asked: usize) -> bool {
        self.before.duplicates.is_empty()
            && self.before.lost.is_empty()
            && self.after.duplicates.is_empty()
            && self.after.journal_duplicates.is_empty()
            && self.after.differing.is_empty()
            && self.after.lost.is_empty()
            && self.after.in_doubt.is_empty()
            && self.after.open.is_empty()
            && self.unresolved.is_empty()
            && self.crashes.is_empty()
            && self.kills >= kills_asked
    }
}

/// What the harness sees of the simulator's traffic: the requests in
/// flight, and, when a mid-send kill is armed, the next state-changing call
/// of a worker, held until that worker is dead.
#[derive(Clone)]
struct Tap {
    in_flight: Arc<AtomicUsize>,
    armed: Arc<AtomicBool>,
    harness: mpsc::Sender<Message>,
}

struct Leaving(Arc<AtomicUsize>);

impl Drop for Leaving {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts the requests in flight (a request dropped mid-way, the client
/// gone or drop-after-commit, leaves the count as it unwinds); hands an
/// armed kill the first AgoraPlus `POST` of a worker (named by its
/// `User-Agent`) and handles the request only once the harness has killed
/// that worker: the change may be applied, its answer goes nowhere.
async fn tap(State(tap): State<Tap>, request: Request, next: Next) -> Response {
    tap.in_flight.fetch_add(1, Ordering::SeqCst);
    let _leaving = Leaving(tap.in_flight.clone());
    let worker = request
        .headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.strip_prefix(worker::USER_AGENT_PREFIX))
        .map(str::to_owned);
    if let Some(worker) = worker {
        if request.method() == axum::http::Method::POST
            && !request.uri().path().starts_with("/_sim")
            && tap.armed.swap(false, Ordering::SeqCst)
        {
            let (killed, dead) = tokio::sync::oneshot::channel();
            if tap.harness.send(Message::Sending(worker, killed)).is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(10), dead).await;
            }
        }
    }
    next.run(request).await
}

enum Message {
    Line(usize, u32, Event),
    Eof(usize, u32),
    /// A worker's state-changing call reached the simulator while a
    /// mid-send kill was armed; the call waits for the answer.
    Sending(String, tokio::sync::oneshot::Sender<()>),
    /// A paused worker's pause is over: let it go on.
    Resume(usize, u32),
    /// A store outage ended (how, if it failed).
    OutageOver(Result<(), String>),
}

/// What the harness does to the run at a point of its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disruption {
    /// A SIGKILL.
    Kill(KillAt),
    /// A SIGSTOP just after a worker claimed an entry, then SIGCONT.
    Pause,
    /// The store unavailable for a while.
    Outage,
}

/// Makes the store unavailable for a while (blocking), on a thread of its
/// own.
type OutageFn = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Holds an exclusive transaction on a SQLite store file for `down`: every
/// writer waits (and a reader of a file not in WAL).
fn lock_sqlite(path: &std::path::Path, down: Duration) -> Result<(), String> {
    let conn =
        rusqlite::Connection::open(path).map_err(|e| format!("cannot open the store: {e}"))?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    conn.execute_batch("BEGIN EXCLUSIVE")
        .map_err(|e| format!("cannot lock the store: {e}"))?;
    std::thread::sleep(down);
    conn.execute_batch("COMMIT")
        .map_err(|e| format!("cannot unlock the store: {e}"))
}

/// Sends a signal to a process (`kill -SIG PID`).
fn signal(pid: u32, sig: &str) -> Result<(), String> {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .map_err(|e| format!("kill -{sig} {pid}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("kill -{sig} {pid}: {status}"))
    }
}

/// Where a kill lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillAt {
    /// After a random delay from the start of an operation that writes and
    /// sends an outbox entry.
    Begin,
    /// While a worker's state-changing call is in the simulator.
    MidSend,
    /// When a worker reaches a named point (its store reports it).
    Point(Point),
}

/// A worker armed at a point, and what happens to it there.
#[derive(Debug, Clone, Copy)]
struct Armed {
    slot: usize,
    incarnation: u32,
    point: Point,
    pause: bool,
}

struct Slot {
    child: Option<Child>,
    /// The worker's standard input: the harness's orders (`arm POINT`, `go`).
    orders: Option<std::process::ChildStdin>,
    incarnation: u32,
    name: String,
    ops: u64,
    published: usize,
    budget: u64,
    quota: usize,
    finished: bool,
    killing: bool,
    /// The exit of a killed incarnation, reaped at the kill.
    exit: Option<std::process::ExitStatus>,
    said_done: bool,
}

impl Slot {
    /// Whether killing this worker now leaves it work to resume.
    fn may_be_killed(&self) -> bool {
        self.child.is_some() && !self.killing && self.budget.saturating_sub(self.ops) > 5
    }

    /// Writes an order on the worker's standard input.
    fn order(&mut self, line: &str) {
        use std::io::Write as _;
        if let Some(input) = self.orders.as_mut() {
            let _ = writeln!(input, "{line}").and_then(|()| input.flush());
        }
    }

    /// The worker's process id.
    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, and waits for the process to be gone.
    fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if child.kill().is_ok() {
                self.killing = true;
                self.exit = child.wait().ok();
            }
        }
    }
}

/// Runs a chaos run to its end and reports. Errors are the harness's own
/// failures (a worker that cannot start, a stalled run), not findings.
pub fn run(config: &ChaosConfig) -> Result<ChaosReport, String> {
    let started = Instant::now();
    let dir = config.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "agora-chaos-{}-{}-{}",
            std::process::id(),
            config.seed,
            config.store.label().to_lowercase()
        ))
    });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("logs"))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    // The PostgreSQL server lives until the end of the run (it is stopped
    // and removed when dropped, or when this process ends).
    let down = config.outage;
    let (store, outage, _server): (String, OutageFn, _) = match config.store {
        StoreKind::Sqlite => {
            let path = dir.join("agora.db");
            let file = path.clone();
            (
                path.to_string_lossy().into_owned(),
                Arc::new(move || lock_sqlite(&file, down)),
                None,
            )
        }
        StoreKind::Postgres => {
            let server = Arc::new(agora_store_postgres::throwaway::Server::start()?);
            let url = runtime.block_on(server.create_database("agora_chaos"))?;
            let held = server.clone();
            (url, Arc::new(move || held.restart(down)), Some(server))
        }
    };
    let sim = Simulator::new(SimConfig {
        tenants: vec![KEY.to_owned()],
        seed: config.seed,
        catalog_size: 10,
        apply_duplicates: config.apply_duplicates,
        ..SimConfig::default()
    });
    let (tx, rx) = mpsc::channel::<Message>();
    let traffic = Tap {
        in_flight: Arc::new(AtomicUsize::new(0)),
        armed: Arc::new(AtomicBool::new(false)),
        harness: tx.clone(),
    };
    let app = agora_sim::router(sim.clone())
        .layer(axum::middleware::from_fn_with_state(traffic.clone(), tap));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))
        .map_err(|e| format!("cannot listen: {e}"))?;
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| format!("cannot listen: {e}"))?
    );
    runtime.spawn(async move { axum::serve(listener, app).await });
    sim.set_faults(KEY, config.faults.clone())
        .map_err(|e| format!("faults: {e}"))?;

    let mut report = ChaosReport {
        workers: config.workers,
        store: config.store,
        dir: dir.clone(),
        ..ChaosReport::default()
    };
    drive_workers(
        config,
        &url,
        (&store, &dir.join("logs")),
        (tx, rx),
        (&traffic.armed, outage),
        &mut report,
    )?;
    report.run_time = started.elapsed();

    sim.set_faults(KEY, Faults::default())
        .map_err(|e| format!("faults: {e}"))?;
    report.faults = sim.fault_counts();
    runtime.block_on(end::finish(
        config,
        &url,
        &store,
        &sim,
        &traffic,
        &mut report,
    ))?;
    report.wall_time = started.elapsed();
    if report.passed(config.kills + config.point_kills) && !config.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(report)
}

/// Starts the workers and follows them to the end of their budgets,
/// killing and restarting them on their progress events.
fn drive_workers(
    config: &ChaosConfig,
    url: &str,
    (store, logs): (&str, &std::path::Path),
    (tx, rx): (mpsc::Sender<Message>, mpsc::Receiver<Message>),
    (armed, outage): (&AtomicBool, OutageFn),
    report: &mut ChaosReport,
) -> Result<(), String> {
    let workers = config.workers.max(1);
    let mut slots: Vec<Slot> = (0..workers)
        .map(|i| Slot {
            child: None,
            orders: None,
            incarnation: 0,
            name: String::new(),
            ops: 0,
            published: 0,
            budget: config.operations / workers as u64
                + u64::from((i as u64) < config.operations % workers as u64),
            quota: config.files / workers + usize::from(i < config.files % workers),
            finished: false,
            killing: false,
            exit: None,
            said_done: false,
        })
        .collect();
    let spawn = |slot: usize, s: &mut Slot, predecessor: Option<String>| -> Result<(), String> {
        s.name = format!("w{slot}.{}", s.incarnation);
        let skew_ms = if slot % 2 == 1 {
            config.clock_skew.as_millis() as i64
        } else {
            0
        };
        let worker = WorkerConfig {
            slot,
            name: s.name.clone(),
            url: url.to_owned(),
            api_key: KEY.to_owned(),
            store: store.to_owned(),
            budget: s.budget,
            done: s.ops,
            quota: s.quota,
            published: s.published,
            window: config.window,
            predecessor,
            seed: config.seed ^ ((slot as u64) << 32) ^ u64::from(s.incarnation),
            lease_ms: config.lease.as_millis() as u64,
            client_timeout_ms: config.client_timeout.as_millis() as u64,
            operator_grace_ms: config.operator_grace.as_millis() as u64,
            not_conform_rate: config.not_conform_rate,
            clock_skew_ms: skew_ms,
            grace_ms: config.grace().as_millis() as u64,
        };
        let json = serde_json::to_string(&worker).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(logs.join(format!("{}.log", s.name)))
            .map_err(|e| format!("cannot create the log of {}: {e}", s.name))?;
        let mut child = Command::new(&config.worker_exe)
            .arg("worker")
            .arg(json)
            .env(
                "AGORA_LOG",
                std::env::var("AGORA_LOG").unwrap_or_else(|_| "warn".into()),
            )
            // One database, one clock: no worker reads it with an offset
            // of its own, whatever its process's clock says.
            .env_remove("AGORA_TEST_DB_CLOCK_OFFSET_MS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", config.worker_exe.display()))?;
        s.orders = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| "the worker's output is not piped".to_owned())?;
        let tx = tx.clone();
        let incarnation = s.incarnation;
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(event) = Event::parse(&line) {
                    if tx.send(Message::Line(slot, incarnation, event)).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.send(Message::Eof(slot, incarnation));
        });
        s.child = Some(child);
        s.killing = false;
        s.exit = None;
        s.said_done = false;
        Ok(())
    };
    for (i, s) in slots.iter_mut().enumerate() {
        spawn(i, s, None)?;
    }
    report.skewed_workers = if config.clock_skew.is_zero() {
        0
    } else {
        workers / 2
    };

    let mut rng = fastrand::Rng::with_seed(config.seed ^ 0x4B11);
    // Kill points spread over the run, each with a little randomness;
    // every other kill, the first one first, lands mid-send. The kills at
    // named points, the pauses and the outages are spread the same way,
    // each kind over the whole run.
    // The disruptions that need a worker to reach a point of an attempt
    // are spread over the first two thirds of the run: its end may send
    // nothing (every file done).
    let mut spread =
        |n: usize, share: u64, what: &dyn Fn(usize) -> Disruption| -> Vec<(u64, Disruption)> {
            let step = config.operations * share / 3 / (n as u64 + 1);
            (1..=n)
                .map(|k| {
                    let at = k as u64 * step + rng.u64(0..=step / 3) - step / 6;
                    (at, what(k))
                })
                .collect()
        };
    let mut kills: Vec<(u64, Disruption)> = spread(config.kills, 3, &|k| {
        Disruption::Kill(if k % 2 == 1 {
            KillAt::MidSend
        } else {
            KillAt::Begin
        })
    });
    kills.extend(spread(config.point_kills, 2, &|k| {
        Disruption::Kill(KillAt::Point(Point::ALL[(k - 1) % Point::ALL.len()]))
    }));
    kills.extend(spread(config.pauses, 2, &|_| Disruption::Pause));
    kills.extend(spread(config.outages, 3, &|_| Disruption::Outage));
    // Due last first: popped from the end.
    kills.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let mut aimed: Option<Armed> = None;
    let mut outage_on = false;
    let mut total = 0u64;
    let mut shown = 0u64;
    while slots.iter().any(|s| !s.finished) {
        let message = rx.recv_timeout(Duration::from_secs(300)).map_err(|_| {
            for s in &mut slots {
                if let Some(c) = s.child.as_mut() {
                    let _ = c.kill();
                }
            }
            "no worker made progress for 5 minutes: the run is stalled".to_owned()
        })?;
        let disruption = kills
            .last()
            .filter(|(at, _)| total >= *at)
            .map(|(_, how)| *how);
        let due = match disruption {
            Some(Disruption::Kill(how)) => Some(how),
            _ => None,
        };
        match message {
            Message::Line(slot, inc, event) => {
                // A point kill or a pause is due: arm the worker that made
                // progress, if it may be stopped.
                if aimed.is_none() && matches!(event, Event::Op { .. }) {
                    let point = match disruption {
                        Some(Disruption::Kill(KillAt::Point(p))) => Some((p, false)),
                        Some(Disruption::Pause) => Some((Point::Claimed, true)),
                        _ => None,
                    };
                    let s = &mut slots[slot];
                    if let Some((point, pause)) =
                        point.filter(|_| inc == s.incarnation && s.may_be_killed())
                    {
                        s.order(&format!("arm {}", point.name()));
                        aimed = Some(Armed {
                            slot,
                            incarnation: inc,
                            point,
                            pause,
                        });
                    }
                }
                if disruption == Some(Disruption::Outage) && !outage_on {
                    kills.pop();
                    outage_on = true;
                    report.outages += 1;
                    let outage = outage.clone();
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        let _ = tx.send(Message::OutageOver(outage()));
                    });
                }
                let s = &mut slots[slot];
                match event {
                    Event::Op { n, kind, outcome } => {
                        s.ops = s.ops.max(n);
                        total += 1;
                        *report
                            .operations
                            .entry(kind)
                            .or_default()
                            .entry(outcome)
                            .or_default() += 1;
                        if total >= shown + 1000 {
                            shown = total;
                            eprintln!("agora-chaos: {total} operations, {} kills", report.kills);
                        }
                        if due == Some(KillAt::MidSend) {
                            armed.store(true, Ordering::SeqCst);
                        }
                    }
                    // A kill is due: it lands in the operation that begins,
                    // one that writes and sends an outbox entry, after a
                    // random delay.
                    Event::Begin { kind } => {
                        if due == Some(KillAt::Begin)
                            && kind.sends()
                            && inc == s.incarnation
                            && s.may_be_killed()
                        {
                            kills.pop();
                            let jitter = rng.u64(0..=config.kill_jitter.as_millis() as u64);
                            std::thread::sleep(Duration::from_millis(jitter));
                            s.kill();
                        }
                    }
                    Event::Published => s.published += 1,
                    Event::Recovered { in_doubt, requeued } => {
                        report.left_in_doubt += in_doubt;
                        report.left_requeued += requeued;
                    }
                    Event::Done => {
                        s.said_done = true;
                        // Armed, it ended before reaching its point: arm
                        // another.
                        if aimed.is_some_and(|a| a.slot == slot && a.incarnation == inc) {
                            aimed = None;
                        }
                    }
                    Event::At { point } => {
                        let Some(a) = aimed
                            .filter(|a| a.slot == slot && a.incarnation == inc && a.point == point)
                        else {
                            s.order("go");
                            continue;
                        };
                        kills.pop();
                        if a.pause {
                            match s.pid().map(|pid| signal(pid, "STOP")) {
                                Some(Ok(())) => {
                                    report.pauses += 1;
                                    let tx = tx.clone();
                                    let pause = config.pause;
                                    std::thread::spawn(move || {
                                        std::thread::sleep(pause);
                                        let _ = tx.send(Message::Resume(slot, inc));
                                    });
                                }
                                Some(Err(e)) => {
                                    report.crashes.push(format!("pausing {}: {e}", s.name));
                                    aimed = None;
                                    s.order("go");
                                }
                                None => aimed = None,
                            }
                        } else {
                            aimed = None;
                            *report.point_kills.entry(point).or_default() += 1;
                            s.kill();
                        }
                    }
                }
            }
            Message::Resume(slot, inc) => {
                aimed = None;
                let s = &mut slots[slot];
                if inc == s.incarnation {
                    if let Some(Err(e)) = s.pid().map(|pid| signal(pid, "CONT")) {
                        report.crashes.push(format!("resuming {}: {e}", s.name));
                    }
                    s.order("go");
                }
            }
            Message::OutageOver(result) => {
                outage_on = false;
                if let Err(e) = result {
                    report.crashes.push(format!("store outage: {e}"));
                }
            }
            // A worker's call is held in the simulator: kill the worker,
            // then let the simulator handle the call.
            Message::Sending(worker, killed) => {
                match slots
                    .iter_mut()
                    .find(|s| s.name == worker && s.may_be_killed())
                {
                    Some(s) if due == Some(KillAt::MidSend) => {
                        kills.pop();
                        s.kill();
                    }
                    _ => armed.store(due == Some(KillAt::MidSend), Ordering::SeqCst),
                }
                let _ = killed.send(());
            }
            Message::Eof(slot, inc) => {
                let s = &mut slots[slot];
                if inc != s.incarnation {
                    continue;
                }
                if aimed.is_some_and(|a| a.slot == slot && a.incarnation == inc && !a.pause) {
                    aimed = None;
                }
                let status = match (s.exit.take(), s.child.take()) {
                    (Some(status), _) => status,
                    (None, Some(mut child)) => child.wait().map_err(|e| e.to_string())?,
                    (None, None) => continue,
                };
                let killed = {
                    use std::os::unix::process::ExitStatusExt;
                    status.signal() == Some(9)
                };
                if s.killing && killed {
                    report.kills += 1;
                } else if status.success() && s.said_done {
                    s.finished = true;
                    continue;
                } else {
                    report
                        .crashes
                        .push(format!("{} exited with {status} (see its log)", s.name));
                    if report.crashes.len() > 3 * workers {
                        return Err(format!("workers keep crashing: {:?}", report.crashes));
                    }
                }
                let predecessor = s.name.clone();
                s.incarnation += 1;
                spawn(slot, s, Some(predecessor))?;
            }
        }
    }
    // The store must be back before the operator's end.
    while outage_on {
        match rx.recv_timeout(Duration::from_secs(180)) {
            Ok(Message::OutageOver(result)) => {
                outage_on = false;
                if let Err(e) = result {
                    report.crashes.push(format!("store outage: {e}"));
                }
            }
            Ok(_) => {}
            Err(_) => return Err("the store did not come back after an outage".to_owned()),
        }
    }
    report.work_orders = slots.iter().map(|s| s.published as u64).sum();
    Ok(())
}
