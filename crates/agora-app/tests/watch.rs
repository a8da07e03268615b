//! The worker's loops on tokio's paused clock, against the in-memory
//! simulator and a SQLite store: intervals, due entries, shared work,
//! backing off, and stopping. No real sleep: time moves only when every
//! task waits.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use agora_app::{Agora, AppConfig, Job, Notice, Stop, Watch, WatchConfig, WatchReport};
use agora_domain::{
    BomLine, ClaimId, ClaimTracking, CompleteRepairState, CountryCode, InterventionId,
    InvoiceReference, MandateLightResponse, ManufacturerId, NewMandateResponseData, PartOrderLine,
    Product, ProductSearchHit, SparePart, WarrantyClaim, WarrantyClaimResult,
};
use agora_mock::{Faults, SimClient, SimConfig, Simulator};
use agora_ports::{
    AgoraError, Catalog, ClaimSubmission, Claims, Clock, DeltaQuery, Invoices, Mandates, Operation,
    Outbox, OutboxState, PartOrders, Records, RepairFiles, Repairs, Reply,
};
use agora_store_sqlite::SqliteStore;
use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::json;
use tokio::time::{Instant, sleep};

/// A clock that follows tokio's (paused) clock, from a fixed instant.
struct TokioClock {
    base: Timestamp,
    start: Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        self.base + (Instant::now() - self.start)
    }
}

/// The simulator, with `UpdateRepair` held for `slow` (on tokio's clock).
#[derive(Clone)]
struct Slow {
    inner: SimClient,
    slow: Duration,
}

#[async_trait]
impl Mandates for Slow {
    async fn new_mandates(
        &self,
        auto_accept: bool,
    ) -> Result<Reply<Vec<NewMandateResponseData>>, AgoraError> {
        self.inner.new_mandates(auto_accept).await
    }
    async fn accepted_mandates(&self) -> Result<Reply<Vec<NewMandateResponseData>>, AgoraError> {
        self.inner.accepted_mandates().await
    }
}

#[async_trait]
impl Repairs for Slow {
    async fn create_repair(
        &self,
        file: &CompleteRepairState,
    ) -> Result<Reply<InterventionId>, AgoraError> {
        self.inner.create_repair(file).await
    }
    async fn update_repair(&self, file: &CompleteRepairState) -> Result<Reply<()>, AgoraError> {
        sleep(self.slow).await;
        self.inner.update_repair(file).await
    }
}

#[async_trait]
impl PartOrders for Slow {
    async fn place_order(
        &self,
        intervention: InterventionId,
    ) -> Result<Reply<Vec<PartOrderLine>>, AgoraError> {
        self.inner.place_order(intervention).await
    }
    async fn order_tracking(
        &self,
        intervention: InterventionId,
    ) -> Result<Reply<Vec<PartOrderLine>>, AgoraError> {
        self.inner.order_tracking(intervention).await
    }
}

#[async_trait]
impl Claims for Slow {
    async fn create_claim(
        &self,
        claim: &WarrantyClaim,
        how: ClaimSubmission,
    ) -> Result<Reply<WarrantyClaimResult>, AgoraError> {
        self.inner.create_claim(claim, how).await
    }
    async fn update_claim(
        &self,
        claim: &WarrantyClaim,
        how: ClaimSubmission,
    ) -> Result<Reply<WarrantyClaimResult>, AgoraError> {
        self.inner.update_claim(claim, how).await
    }
    async fn claim_status(&self, claim: ClaimId) -> Result<Reply<ClaimTracking>, AgoraError> {
        self.inner.claim_status(claim).await
    }
}

#[async_trait]
impl Invoices for Slow {
    async fn send_invoice_reference(
        &self,
        reference: &InvoiceReference,
    ) -> Result<Reply<()>, AgoraError> {
        self.inner.send_invoice_reference(reference).await
    }
}

#[async_trait]
impl Catalog for Slow {
    async fn spare_parts_delta(&self, query: DeltaQuery) -> Result<Records<SparePart>, AgoraError> {
        self.inner.spare_parts_delta(query).await
    }
    async fn products_delta(&self, query: DeltaQuery) -> Result<Records<Product>, AgoraError> {
        self.inner.products_delta(query).await
    }
    async fn search_products(
        &self,
        manufacturer: ManufacturerId,
        keyword: &str,
        country: CountryCode,
    ) -> Result<Reply<Vec<ProductSearchHit>>, AgoraError> {
        self.inner
            .search_products(manufacturer, keyword, country)
            .await
    }
    async fn bom(&self, product_key: &str) -> Result<Reply<Vec<BomLine>>, AgoraError> {
        self.inner.bom(product_key).await
    }
}

fn work_order(oem: u32) -> MandateLightResponse {
    serde_json::from_value(json!({
        "ManufacturerId": oem, "InterventionTypeId": 1,
        "Consumer": {"Title": "1", "LastName": "Martin", "FirstName": "Claire", "Address1": "12 rue des Lilas"}
    }))
    .unwrap()
}

struct World {
    _dir: tempfile::TempDir,
    sim: Simulator,
    store: SqliteStore,
    clock: Arc<TokioClock>,
}

fn world() -> World {
    let dir = tempfile::Builder::new()
        .prefix("agora-watch-")
        .tempdir()
        .unwrap();
    let store = SqliteStore::open(dir.path().join("agora.db")).unwrap();
    let clock = Arc::new(TokioClock {
        base: "2024-03-01T09:00:00Z".parse().unwrap(),
        start: Instant::now(),
    });
    let sim = Simulator::with_clock(
        SimConfig {
            tenants: vec!["a".into()],
            ..SimConfig::default()
        },
        clock.clone(),
    );
    World {
        _dir: dir,
        sim,
        store,
        clock,
    }
}

impl World {
    fn app(&self, worker: &str, slow: Duration) -> Agora<Slow, SqliteStore> {
        Agora::new(
            Slow {
                inner: self.sim.client("a"),
                slow,
            },
            self.store.clone(),
            self.clock.clone(),
            AppConfig {
                worker: worker.to_owned(),
                ..AppConfig::default()
            },
        )
    }
}

fn config() -> WatchConfig {
    WatchConfig {
        jitter: 0.0,
        ..WatchConfig::default()
    }
}

/// Runs `watch` in a task of its own; `stop` stops it.
fn spawn(watch: Watch<Slow, SqliteStore>, stop: &Stop) -> tokio::task::JoinHandle<WatchReport> {
    let stop = stop.clone();
    tokio::spawn(async move { watch.run(&stop).await })
}

#[tokio::test(start_paused = true)]
async fn work_orders_are_pulled_every_interval_and_an_entry_is_sent_when_due() {
    let w = world();
    let mut watch = Watch::new(
        w.app("w1", Duration::ZERO),
        WatchConfig {
            // Far longer than the retry below: the entry is sent when due,
            // not when the outbox is next looked at.
            outbox_poll: Duration::from_secs(300),
            ..config()
        },
    );
    let waker = watch.outbox_waker();
    let mut notices = watch.notices();
    let stop = Stop::new();
    let task = spawn(watch, &stop);

    sleep(Duration::from_secs(1)).await;
    w.sim.publish_mandate("a", work_order(19)).unwrap();
    sleep(Duration::from_secs(58)).await;
    assert!(
        w.store.repairs().await.unwrap().is_empty(),
        "not before the interval"
    );
    sleep(Duration::from_secs(2)).await;
    let repairs = w.store.repairs().await.unwrap();
    assert_eq!(repairs.len(), 1, "pulled at the interval (t = 60 s)");

    // An update refused once with Retry-After 7 s is sent again when due.
    w.sim
        .set_faults(
            "a",
            Faults {
                status503_rate: 1.0,
                retry_after_seconds: Some(7),
                routes: vec!["UpdateRepair".into()],
                ..Faults::default()
            },
        )
        .unwrap();
    let id = w
        .store
        .enqueue(
            Some(repairs[0].intervention_id),
            &Operation::UpdateRepair(repairs[0].file.clone()),
            w.clock.now(),
        )
        .await
        .unwrap();
    waker.notify_one();
    sleep(Duration::from_secs(1)).await;
    let entry = w.store.entry(id).await.unwrap().unwrap();
    assert_eq!((entry.state, entry.attempts), (OutboxState::Pending, 1));
    w.sim.set_faults("a", Faults::default()).unwrap();
    sleep(Duration::from_secs(5)).await;
    assert_eq!(
        w.store.entry(id).await.unwrap().unwrap().attempts,
        1,
        "not before due"
    );
    sleep(Duration::from_secs(2)).await;
    assert_eq!(
        w.store.entry(id).await.unwrap().unwrap().state,
        OutboxState::Delivered,
        "sent when due (7 s), not at the next poll (300 s)"
    );

    stop.signal();
    let report = task.await.unwrap();
    assert_eq!(report.runs["work-orders"], 2, "{report:?}");
    assert_eq!(report.outbox.delivered, 1);
    assert!(!report.cut);
    let mut seen = Vec::new();
    while let Ok(n) = notices.try_recv() {
        seen.push(n);
    }
    assert_eq!(seen, [Notice::Stopping, Notice::Stopped { cut: false }]);
}

#[tokio::test(start_paused = true)]
async fn two_workers_on_one_store_run_each_job_once_per_interval() {
    let w = world();
    let stop = Stop::new();
    let one = spawn(Watch::new(w.app("w1", Duration::ZERO), config()), &stop);
    let two = spawn(Watch::new(w.app("w2", Duration::ZERO), config()), &stop);
    sleep(Duration::from_secs(570)).await;
    stop.signal();
    let (one, two) = (one.await.unwrap(), two.await.unwrap());
    let runs = |job: &str| {
        one.runs.get(job).copied().unwrap_or(0) + two.runs.get(job).copied().unwrap_or(0)
    };
    // t = 0, 60, …, 540: ten intervals, each run by one worker only.
    assert_eq!(runs("work-orders"), 10, "{one:?} {two:?}");
    let skipped = one.skipped.get("work-orders").copied().unwrap_or(0)
        + two.skipped.get("work-orders").copied().unwrap_or(0);
    assert_eq!(
        skipped, 10,
        "the other worker skipped each: {one:?} {two:?}"
    );
    assert_eq!(runs("claims"), 1, "t = 0 only (every 15 min)");
}

#[tokio::test(start_paused = true)]
async fn an_unavailable_agoraplus_is_said_once_and_backed_off_from() {
    let w = world();
    w.sim
        .set_faults(
            "a",
            Faults {
                status503_rate: 1.0,
                routes: vec!["GetNewMandates".into(), "GetAcceptedMandates".into()],
                ..Faults::default()
            },
        )
        .unwrap();
    let mut watch = Watch::new(w.app("w1", Duration::ZERO), config());
    let mut notices = watch.notices();
    let stop = Stop::new();
    let task = spawn(watch, &stop);
    // Failures at t = 0, 120, 360 (the delay doubles from 60 s): not every
    // minute.
    sleep(Duration::from_secs(600)).await;
    assert_eq!(w.sim.fault_counts().status503, 6, "three runs of two calls");
    w.sim.set_faults("a", Faults::default()).unwrap();
    // Next run at t = 360 + 480 = 840: it succeeds.
    sleep(Duration::from_secs(250)).await;
    stop.signal();
    let report = task.await.unwrap();
    assert_eq!(report.runs["work-orders"], 4, "{report:?}");
    let mut seen = Vec::new();
    while let Ok(n) = notices.try_recv() {
        seen.push(n);
    }
    assert!(
        matches!(
            &seen[0],
            Notice::Unavailable {
                job: Job::WorkOrders,
                ..
            }
        ),
        "{seen:?}"
    );
    assert_eq!(
        seen[1..],
        [
            Notice::Available {
                job: Job::WorkOrders
            },
            Notice::Stopping,
            Notice::Stopped { cut: false }
        ],
        "said once, and once when back"
    );
}

/// Two repair files known to the simulator, and an update of each queued
/// (two files: updates of one file collapse into one entry).
async fn two_updates_queued(w: &World) -> (u64, u64) {
    w.sim.publish_mandate("a", work_order(19)).unwrap();
    w.sim.publish_mandate("a", work_order(19)).unwrap();
    w.app("setup", Duration::ZERO)
        .sync_work_orders()
        .await
        .unwrap();
    let mut repairs = w.store.repairs().await.unwrap();
    repairs.sort_by_key(|r| r.intervention_id);
    let [one, two] = &repairs[..] else {
        panic!("two repair files: {repairs:?}")
    };
    let mut ids = Vec::new();
    for repair in [one, two] {
        let op = Operation::UpdateRepair(repair.file.clone());
        ids.push(
            w.store
                .enqueue(Some(repair.intervention_id), &op, w.clock.now())
                .await
                .unwrap(),
        );
    }
    assert_ne!(ids[0], ids[1]);
    (ids[0], ids[1])
}

#[tokio::test(start_paused = true)]
async fn a_stop_lets_the_send_under_way_finish_and_claims_nothing_more() {
    let w = world();
    let (first, second) = two_updates_queued(&w).await;
    let stop = Stop::new();
    let started = Instant::now();
    let task = spawn(
        Watch::new(w.app("w1", Duration::from_secs(5)), config()),
        &stop,
    );
    sleep(Duration::from_secs(1)).await;
    assert_eq!(
        w.store.entry(first).await.unwrap().unwrap().state,
        OutboxState::Sending
    );
    stop.signal();
    let report = task.await.unwrap();
    assert!(!report.cut, "the send ended within the grace");
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(5),
        "stopped when it ended"
    );
    assert_eq!(
        w.store.entry(first).await.unwrap().unwrap().state,
        OutboxState::Delivered
    );
    // Claimed with the first (a batch of updates) but never sent: put
    // back, due at once, nothing falsely in doubt.
    let left = w.store.entry(second).await.unwrap().unwrap();
    assert_eq!(left.state, OutboxState::Pending, "put back: {left:?}");
    assert!(left.lease.is_none(), "{left:?}");
    assert!(
        left.next_attempt_at <= w.clock.now(),
        "due at once: {left:?}"
    );
    assert!(
        w.store
            .entries(OutboxState::InDoubt)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn a_send_longer_than_the_grace_is_cut_and_a_second_signal_stops_at_once() {
    let w = world();
    let (first, _) = two_updates_queued(&w).await;
    let stop = Stop::new();
    let started = Instant::now();
    let task = spawn(
        Watch::new(w.app("w1", Duration::from_secs(30)), config()),
        &stop,
    );
    sleep(Duration::from_secs(1)).await;
    stop.signal();
    let report = task.await.unwrap();
    assert!(report.cut);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(11),
        "1 s + the 10 s grace"
    );
    // It was sent: it stays held until its lease expires, for recovery.
    assert_eq!(
        w.store.entry(first).await.unwrap().unwrap().state,
        OutboxState::Sending
    );

    let w = world();
    two_updates_queued(&w).await;
    let stop = Stop::new();
    let started = Instant::now();
    let task = spawn(
        Watch::new(w.app("w1", Duration::from_secs(30)), config()),
        &stop,
    );
    sleep(Duration::from_secs(1)).await;
    stop.signal();
    sleep(Duration::from_secs(2)).await;
    stop.signal();
    let report = task.await.unwrap();
    assert!(report.cut);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(3),
        "at the second signal"
    );
}

#[tokio::test(start_paused = true)]
async fn the_health_turns_bad_when_a_loop_fails_and_good_when_it_succeeds_again() {
    let w = world();
    let watch = Watch::new(w.app("w1", Duration::ZERO), config());
    let metrics = watch.metrics();
    let stop = Stop::new();
    let task = spawn(watch, &stop);
    sleep(Duration::from_secs(1)).await;
    let health = metrics.health();
    assert!(health.healthy, "{health:?}");
    let names: Vec<&str> = health.loops.iter().map(|l| l.name).collect();
    assert_eq!(names, ["claims", "outbox", "part-orders", "work-orders"]);

    // AgoraPlus refuses the work orders from the next run (t = 60 s).
    w.sim
        .set_faults(
            "a",
            Faults {
                status503_rate: 1.0,
                routes: vec!["GetNewMandates".into()],
                ..Faults::default()
            },
        )
        .unwrap();
    sleep(Duration::from_secs(59)).await;
    assert!(metrics.health().healthy, "not before the run");
    sleep(Duration::from_secs(2)).await;
    let health = metrics.health();
    assert!(!health.healthy, "{health:?}");
    let bad = health.first_unhealthy().unwrap();
    assert_eq!(bad.name, "work-orders");
    assert_eq!(bad.last_success, Some(w.clock.base), "{bad:?}");
    assert!(
        bad.last_error.as_deref().unwrap().contains("503"),
        "{bad:?}"
    );
    assert!(
        health.loops.iter().filter(|l| !l.healthy).count() == 1,
        "the other loops are fine: {health:?}"
    );

    // Back: the next run (backed off to t = 60 + 120 s) succeeds.
    w.sim.set_faults("a", Faults::default()).unwrap();
    sleep(Duration::from_secs(120)).await;
    let health = metrics.health();
    assert!(health.healthy, "{health:?}");
    stop.signal();
    task.await.unwrap();
}
