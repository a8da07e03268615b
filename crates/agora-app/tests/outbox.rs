//! The outbox dispatcher against the in-memory simulator and a real SQLite
//! store: what a delivery names, when a retryable entry is given up, the
//! lease a long send keeps, and what resolving an entry as applied finds in
//! AgoraPlus.
#![allow(clippy::unwrap_used)]

use agora_domain::ClaimId;
use agora_domain::MandateId;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_app::{Agora, AppConfig, ClaimOutcome, Delivery, FlushReport, Resolution};
use agora_domain::lifecycle::ClaimState;
use agora_domain::{
    ClaimTracking, CompleteRepairState, InterventionId, InvoiceReference, MandateLightResponse,
    Part, PartOrderLine, StateNature, StatusCode, WarrantyClaim, WarrantyClaimResult, WireDateTime,
};
use agora_mock::{Faults, SimClient, SimConfig, Simulator};
use agora_ports::{
    AgoraError, ClaimSubmission, Claims, Clock, Invoices, Lease, Mandates, Operation, Outbox,
    OutboxState, PartOrders, RepairFiles, Repairs, Reply,
};
use agora_store_sqlite::SqliteStore;
use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::json;

struct ManualClock(Mutex<Timestamp>);

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

impl ManualClock {
    fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

fn start() -> Timestamp {
    "2024-03-01T09:00:00Z".parse().unwrap()
}

/// A store in a new temporary directory of its own, removed with the
/// returned guard.
fn store(name: &str) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::Builder::new()
        .prefix(&format!("agora-app-outbox-{name}-"))
        .tempdir()
        .unwrap();
    let store = SqliteStore::open(dir.path().join("agora.db")).unwrap();
    (dir, store)
}

fn simulator() -> Simulator {
    Simulator::new(SimConfig {
        tenants: vec!["a".into()],
        seed: 7,
        catalog_size: 10,
        ..SimConfig::default()
    })
}

fn setup(
    name: &str,
    config: AppConfig,
) -> (
    tempfile::TempDir,
    Simulator,
    Agora<SimClient, SqliteStore>,
    Arc<ManualClock>,
) {
    let clock = Arc::new(ManualClock(Mutex::new(start())));
    let (dir, store) = store(name);
    let sim = simulator();
    let app = Agora::new(sim.client("a"), store, clock.clone(), config);
    (dir, sim, app, clock)
}

fn work_order() -> MandateLightResponse {
    serde_json::from_value(json!({
        "ManufacturerId": 19, "InterventionTypeId": 1,
        "Consumer": {"Title": "2", "LastName": "Martin"}
    }))
    .unwrap()
}

fn appointment() -> StateNature {
    let mut s = StateNature::new(StatusCode::AppointmentConfirmed, "RDV");
    s.appointment_date = Some(WireDateTime::parse("2024-03-02T08:00:00.000Z").unwrap());
    s.appointment_end_date = Some(WireDateTime::parse("2024-03-02T09:00:00.000Z").unwrap());
    s
}

fn part(reference: &str, to_be_ordered: bool) -> Part {
    Part {
        reference: Some(reference.into()),
        quantity: Some(1),
        to_be_ordered: Some(to_be_ordered),
        ..Part::default()
    }
}

/// A claim the simulator judges valid.
fn valid_claim(intervention: InterventionId) -> WarrantyClaim {
    serde_json::from_value(json!({
        "ClaimType": {"InterventionId": intervention, "ManufacturerId": 19,
                      "CommercialRef": "ECAM22.110.B", "SerialNumber": "1234567890123456789"},
        "ClaimConso": {"LastName": "Martin", "Address1": "12 rue des Lilas", "Zip": "69003",
                       "City": "Lyon", "MobilePhone": "0612345678"},
        "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z",
                       "InterventionStartDateTime": "2024-03-02T08:00:00Z",
                       "InterventionEndDateTime": "2024-03-02T09:00:00Z"},
        "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 45.5},
        "ClaimParts": [{"PartReference": "00019-00000001", "Quantity": 1}]
    }))
    .unwrap()
}

fn faults(f: impl FnOnce(&mut Faults)) -> Faults {
    let mut faults = Faults::default();
    f(&mut faults);
    faults
}

/// Entry `id` taken by a process that then died: once its lease has
/// expired, recovery parks it in doubt, never sent.
async fn parked_unsent(app: &Agora<SimClient, SqliteStore>, clock: &ManualClock, id: u64) {
    let lease = Lease {
        owner: "dead:1".into(),
        until: clock.now() + Duration::from_secs(60),
    };
    assert!(
        app.store()
            .claim(id, clock.now(), &lease)
            .await
            .unwrap()
            .is_some()
    );
    // Past the lease and the grace (30 s).
    clock.advance(Duration::from_secs(91));
    assert_eq!(app.recover().await.unwrap(), [id]);
}

/// What a use case's send came to names the outbox entry it wrote.
#[tokio::test]
async fn a_delivery_names_its_outbox_entry() {
    let (_dir, sim, app, _) = setup("entry", AppConfig::default());
    sim.publish_mandate("a", work_order()).unwrap();
    let id = app.sync_work_orders().await.unwrap().accepted[0];
    let delivered = app.report_status(id, appointment()).await.unwrap().outcome;
    sim.set_faults("a", faults(|f| f.status503_rate = 1.0))
        .unwrap();
    let queued = app
        .report_status(id, StateNature::new(StatusCode::Diagnosis, "diag"))
        .await
        .unwrap()
        .outcome;
    assert!(
        matches!(delivered, Delivery::Delivered { .. }),
        "{delivered:?}"
    );
    assert!(matches!(queued, Delivery::Queued { .. }), "{queued:?}");
    let of = async |state| {
        app.outbox(state)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(of(OutboxState::Delivered).await, [delivered.entry()]);
    assert_eq!(of(OutboxState::Pending).await, [queued.entry()]);
    assert_ne!(delivered.entry(), queued.entry());
}

/// A retryable failure is retried until `max_attempts` attempts were made,
/// then given up as failed.
#[tokio::test]
async fn a_retryable_entry_is_given_up_after_its_last_attempt() {
    let config = AppConfig {
        max_attempts: 3,
        ..AppConfig::default()
    };
    let (_dir, sim, app, clock) = setup("attempts", config);
    sim.publish_mandate("a", work_order()).unwrap();
    let id = app.sync_work_orders().await.unwrap().accepted[0];
    sim.set_faults("a", faults(|f| f.status503_rate = 1.0))
        .unwrap();
    let first = app.report_status(id, appointment()).await.unwrap().outcome;
    assert!(matches!(first, Delivery::Queued { .. }), "{first:?}");
    let entry = first.entry();

    clock.advance(Duration::from_secs(3600));
    let second = app.flush_outbox().await.unwrap();
    assert_eq!(
        second,
        FlushReport {
            queued: 1,
            ..FlushReport::default()
        },
        "attempt 2 of 3"
    );
    clock.advance(Duration::from_secs(3600));
    let third = app.flush_outbox().await.unwrap();
    assert_eq!(
        third,
        FlushReport {
            failed: 1,
            ..FlushReport::default()
        },
        "attempt 3 of 3 was the last"
    );
    let given_up = app.store().entry(entry).await.unwrap().unwrap();
    assert_eq!(given_up.state, OutboxState::Failed);
    assert_eq!(given_up.attempts, 3);
    clock.advance(Duration::from_secs(3600));
    assert_eq!(app.flush_outbox().await.unwrap(), FlushReport::default());
}

/// Time as the (paused) tokio clock tells it, from the test's start.
struct TokioClock(tokio::time::Instant);

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        start() + self.0.elapsed()
    }
}

/// What runs before a state-changing call reaches AgoraPlus, given the
/// call's name.
type Before = Arc<dyn Fn(&'static str) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The simulator's AgoraPlus, with `before` run ahead of each
/// `UpdateRepair` and `PlaceRepairSparepartOrder`.
struct Hooked {
    inner: SimClient,
    before: Before,
}

#[async_trait]
impl Repairs for Hooked {
    async fn create_repair(
        &self,
        file: &CompleteRepairState,
    ) -> Result<Reply<InterventionId>, AgoraError> {
        self.inner.create_repair(file).await
    }
    async fn update_repair(&self, file: &CompleteRepairState) -> Result<Reply<()>, AgoraError> {
        (self.before)("UpdateRepair").await;
        self.inner.update_repair(file).await
    }
}

#[async_trait]
impl PartOrders for Hooked {
    async fn place_order(
        &self,
        intervention: InterventionId,
    ) -> Result<Reply<Vec<PartOrderLine>>, AgoraError> {
        (self.before)("PlaceRepairSparepartOrder").await;
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
impl Claims for Hooked {
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
    async fn claim_status(
        &self,
        claim: agora_domain::ClaimId,
    ) -> Result<Reply<ClaimTracking>, AgoraError> {
        self.inner.claim_status(claim).await
    }
}

#[async_trait]
impl Invoices for Hooked {
    async fn send_invoice_reference(
        &self,
        reference: &InvoiceReference,
    ) -> Result<Reply<()>, AgoraError> {
        self.inner.send_invoice_reference(reference).await
    }
}

/// A send that outlasts its lease keeps the entry: the lease is taken for
/// `lease` from the claim and renewed while the call lasts, so another
/// process's recovery leaves it alone. Time is tokio's paused clock: the
/// sleeps below are the scenario, not waits.
#[tokio::test(start_paused = true)]
async fn a_send_longer_than_its_lease_keeps_the_entry() {
    let clock = Arc::new(TokioClock(tokio::time::Instant::now()));
    let (_dir, store) = store("lease");
    let sim = simulator();
    sim.publish_mandate("a", work_order()).unwrap();
    let syncing = Agora::new(
        sim.client("a"),
        store.clone(),
        clock.clone(),
        AppConfig::default(),
    );
    let id = syncing.sync_work_orders().await.unwrap().accepted[0];
    let repair = store.repair(id).await.unwrap().unwrap();
    let entry = store
        .save_with_operation(
            &repair,
            Some(Operation::UpdateRepair(repair.file.clone())),
            clock.now(),
        )
        .await
        .unwrap()
        .unwrap();

    let lease = Duration::from_secs(60);
    let app = Agora::new(
        Hooked {
            inner: sim.client("a"),
            before: Arc::new(move |_| Box::pin(tokio::time::sleep(lease * 5 / 2))),
        },
        store.clone(),
        clock.clone(),
        AppConfig {
            lease,
            worker: "me:1".into(),
            request_timeout: lease * 3,
            ..AppConfig::default()
        },
    );
    // Another process looks at the store while the send is under way:
    // first within the lease, then well past its first length.
    let other = async {
        let mut seen = Vec::new();
        for at in [lease / 2, lease * 5 / 3] {
            tokio::time::sleep_until(clock.0 + at).await;
            let recovered = store.recover_expired(clock.now(), WINDOW).await.unwrap();
            let held = store.entry(entry).await.unwrap().unwrap();
            seen.push((at, clock.now(), recovered, held));
        }
        seen
    };
    let (report, seen) = tokio::join!(app.flush_outbox(), other);
    for (at, now, recovered, held) in seen {
        assert!(recovered.is_empty(), "at {at:?}: {recovered:?}");
        assert_eq!(held.state, OutboxState::Sending, "at {at:?}");
        let lease = held.lease.unwrap();
        // Held under the worker's name and the claim's number.
        assert!(lease.owner.starts_with("me:1#"), "{lease:?}");
        assert!(lease.until > now, "at {at:?}: {lease:?} has expired");
    }
    assert_eq!(
        report.unwrap(),
        FlushReport {
            delivered: 1,
            ..FlushReport::default()
        }
    );
    let done = store.entry(entry).await.unwrap().unwrap();
    assert_eq!(done.state, OutboxState::Delivered);
    assert_eq!(done.attempts, 1, "sent once");
}

/// Resolving an order as applied records the orders AgoraPlus shows for
/// the file that are not recorded yet; when it shows none, the order was
/// not placed and the resolution is refused.
#[tokio::test]
async fn an_order_resolved_as_applied_records_the_new_orders_agoraplus_shows() {
    let (_dir, sim, app, clock) = setup("resolve-order", AppConfig::default());
    sim.publish_mandate("a", work_order()).unwrap();
    let id = app.sync_work_orders().await.unwrap().accepted[0];
    app.update_file(id, |f| {
        f.parts = Some(vec![
            part("00019-00000012", true),
            part("00019-00000013", false),
        ]);
    })
    .await
    .unwrap();
    assert!(matches!(
        app.order_parts(id).await.unwrap(),
        Delivery::Delivered { .. }
    ));
    let first = app.repair(id).await.unwrap().orders;
    assert_eq!(first.len(), 1);
    app.update_file(id, |f| {
        if let Some(p) = f.parts.iter_mut().flatten().nth(1) {
            p.to_be_ordered = Some(true);
        }
    })
    .await
    .unwrap();

    // Taken by a process that died before sending it: AgoraPlus shows only
    // the order already recorded.
    let repair = app.repair(id).await.unwrap();
    let entry = app
        .store()
        .save_with_operation(&repair, Some(Operation::PlaceOrder(id)), clock.now())
        .await
        .unwrap()
        .unwrap();
    parked_unsent(&app, &clock, entry).await;
    let applied = Resolution::Applied {
        intervention_id: None,
        claim_id: None,
    };
    let err = app.resolve(entry, applied).await.unwrap_err();
    assert!(matches!(err, AgoraError::Invalid(_)), "{err}");
    assert_eq!(
        app.store().entry(entry).await.unwrap().unwrap().state,
        OutboxState::InDoubt
    );
    assert_eq!(app.repair(id).await.unwrap().orders, first);

    // Sent again (once the attempt the dead process may have made can no
    // longer take effect), placed, its answer lost: resolved as applied,
    // the new order is recorded, and only it.
    let config = app.config();
    clock.advance(config.request_timeout + config.grace);
    assert_eq!(
        app.resolve(entry, Resolution::Resend).await.unwrap(),
        OutboxState::Pending
    );
    sim.set_faults("a", faults(|f| f.drop_after_commit_rate = 1.0))
        .unwrap();
    assert_eq!(app.flush_outbox().await.unwrap().in_doubt, 1);
    sim.set_faults("a", Faults::default()).unwrap();
    assert_eq!(
        app.resolve(entry, applied).await.unwrap(),
        OutboxState::Delivered
    );
    let local = app.repair(id).await.unwrap();
    assert_eq!(local.orders.len(), 2, "{:?}", local.orders);
    assert_eq!(local.orders[0], first[0]);
    let second = local.orders[1].order_number.clone().unwrap();
    assert_ne!(Some(&second), first[0].order_number.as_ref());
    let parts = local.file.parts.unwrap();
    assert_eq!(parts[1].order_number.as_deref(), Some(second.as_str()));
}

/// A repair file created for a work order, whose answer was lost, is
/// resolved as applied with the repair file AgoraPlus lists for that work
/// order among the accepted ones.
#[tokio::test]
async fn a_created_repair_file_resolved_as_applied_is_found_by_its_work_order() {
    let (_dir, sim, app, clock) = setup("resolve-repair", AppConfig::default());
    let mandates = [
        sim.publish_mandate("a", work_order()).unwrap(),
        sim.publish_mandate("a", work_order()).unwrap(),
    ];
    // Accepted in AgoraPlus, not saved here.
    let accepted = sim.client("a").new_mandates(true).await.unwrap().data;
    let file_of = |mandate| {
        accepted
            .iter()
            .find(|m| m.mandate.as_ref().and_then(|m| m.mandate_id) == Some(mandate))
            .and_then(|m| m.intervention_id)
            .unwrap()
    };
    let (first, second) = (file_of(mandates[0]), file_of(mandates[1]));
    assert_ne!(first, second);

    let create = |mandate| {
        Operation::CreateRepair(CompleteRepairState {
            mandate_id: Some(mandate),
            manufacturer_id: Some(agora_domain::ManufacturerId(19)),
            ..CompleteRepairState::default()
        })
    };
    let entry = app
        .store()
        .enqueue(None, &create(mandates[1]), clock.now())
        .await
        .unwrap();
    parked_unsent(&app, &clock, entry).await;
    let applied = Resolution::Applied {
        intervention_id: None,
        claim_id: None,
    };
    assert_eq!(
        app.resolve(entry, applied).await.unwrap(),
        OutboxState::Delivered
    );
    let created = app.repair(second).await.unwrap();
    assert_eq!(created.mandate_id, Some(mandates[1]));
    assert!(app.store().repair(first).await.unwrap().is_none());

    // A work order AgoraPlus does not list: the person must give the id.
    let unknown = app
        .store()
        .enqueue(None, &create(MandateId(mandates[1].0 + 1000)), clock.now())
        .await
        .unwrap();
    parked_unsent(&app, &clock, unknown).await;
    let err = app.resolve(unknown, applied).await.unwrap_err();
    assert!(err.to_string().contains("--intervention-id"), "{err}");
}

/// A claim resolved as applied takes AgoraPlus's verdict: a claim it holds
/// valid is valid here too.
#[tokio::test]
async fn a_claim_resolved_as_applied_takes_agoraplus_s_verdict() {
    let (_dir, sim, app, _) = setup("resolve-claim", AppConfig::default());
    sim.publish_mandate("a", work_order()).unwrap();
    let id = app.sync_work_orders().await.unwrap().accepted[0];
    app.report_status(id, appointment()).await.unwrap();
    app.report_status(id, StateNature::new(StatusCode::RepairFinished, "done"))
        .await
        .unwrap();
    sim.set_faults("a", faults(|f| f.drop_after_commit_rate = 1.0))
        .unwrap();
    let outcome = app
        .submit_claim(id, valid_claim(id), false)
        .await
        .unwrap()
        .outcome;
    let ClaimOutcome::InDoubt { entry, .. } = outcome else {
        panic!("{outcome:?}")
    };
    sim.set_faults("a", Faults::default()).unwrap();
    let claim_id = sim.state("a").unwrap()["Claims"][0]["ClaimID"]
        .as_i64()
        .unwrap();
    assert_eq!(
        app.resolve(
            entry,
            Resolution::Applied {
                intervention_id: None,
                claim_id: Some(ClaimId(claim_id)),
            }
        )
        .await
        .unwrap(),
        OutboxState::Delivered
    );
    let local = app.repair(id).await.unwrap();
    assert_eq!(local.claim_id, Some(ClaimId(claim_id)));
    assert_eq!(
        local.lifecycle.claim,
        Some(ClaimState::Valid { transferred: true })
    );
}

/// The warnings and errors logged on this thread, as `LEVEL message
/// field=value…`.
#[derive(Clone, Default)]
struct Logged(Arc<Mutex<Vec<String>>>);

impl Logged {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct Line(String);

impl tracing::field::Visit for Line {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.push_str(&format!(" {value:?}"));
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl tracing::Subscriber for Logged {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = Line(event.metadata().level().to_string());
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A process suspended mid-send past its lease finds, when its call fails,
/// that another process has recovered the entry (parked in doubt): that
/// settlement stands, and the outcome this process could not record is
/// logged as a warning. A send that keeps its lease logs no such thing.
#[tokio::test]
async fn an_outcome_the_entry_s_new_holder_settled_is_not_recorded_and_is_logged() {
    let logged = Logged::default();
    let _logging = tracing::subscriber::set_default(logged.clone());
    let clock = Arc::new(ManualClock(Mutex::new(start())));
    let (_dir, store) = store("settled-elsewhere");
    let sim = simulator();
    for _ in 0..2 {
        sim.publish_mandate("a", work_order()).unwrap();
    }
    let syncing = Agora::new(
        sim.client("a"),
        store.clone(),
        clock.clone(),
        AppConfig::default(),
    );
    let files = syncing.sync_work_orders().await.unwrap().accepted;
    for &id in &files {
        syncing
            .update_file(id, |f| f.parts = Some(vec![part("00019-00000012", true)]))
            .await
            .unwrap();
    }
    let suspended = Arc::new(AtomicBool::new(false));
    let before: Before = {
        let (sim, store, clock) = (sim.clone(), store.clone(), clock.clone());
        let suspended = suspended.clone();
        Arc::new(move |_| {
            let (sim, store, clock) = (sim.clone(), store.clone(), clock.clone());
            let suspended = suspended.clone();
            Box::pin(async move {
                if suspended.swap(false, Ordering::SeqCst) {
                    // The machine sleeps past the lease; another process
                    // recovers the entry meanwhile; then AgoraPlus is
                    // unavailable.
                    clock.advance(Duration::from_secs(61));
                    assert_eq!(
                        store
                            .recover_expired(clock.now(), WINDOW)
                            .await
                            .unwrap()
                            .len(),
                        1
                    );
                    sim.set_faults("a", faults(|f| f.status503_rate = 1.0))
                        .unwrap();
                }
            })
        })
    };
    let app = Agora::new(
        Hooked {
            inner: sim.client("a"),
            before,
        },
        store.clone(),
        clock.clone(),
        AppConfig {
            lease: Duration::from_secs(60),
            ..AppConfig::default()
        },
    );
    let not_recorded = || {
        logged
            .lines()
            .into_iter()
            .filter(|l| l.contains("outcome not recorded"))
            .collect::<Vec<_>>()
    };

    // Kept its lease: recorded, nothing logged.
    let kept = app.order_parts(files[0]).await.unwrap();
    assert!(matches!(kept, Delivery::Delivered { .. }), "{kept:?}");
    assert_eq!(
        store.entry(kept.entry()).await.unwrap().unwrap().state,
        OutboxState::Delivered
    );
    assert!(not_recorded().is_empty(), "{:?}", logged.lines());

    // Lost it mid-send, then failed.
    suspended.store(true, Ordering::SeqCst);
    let lost = app.order_parts(files[1]).await.unwrap();
    let entry = store.entry(lost.entry()).await.unwrap().unwrap();
    assert_eq!(entry.state, OutboxState::InDoubt, "{entry:?}");
    assert!(app.repair(files[1]).await.unwrap().orders.is_empty());
    let warned = not_recorded();
    assert_eq!(warned.len(), 1, "{:?}", logged.lines());
    assert!(
        warned[0].starts_with("WARN") && warned[0].contains(&format!("entry={}", entry.id)),
        "{warned:?}"
    );
}

/// An order whose answer was lost is in doubt: a person may not resend or
/// abandon it while the attempt may still take effect (its send start +
/// request timeout + grace, on the injected clock), and is told until
/// when; a status reported meanwhile waits behind it, listed so, and goes
/// once the order is settled.
#[tokio::test]
async fn an_order_in_doubt_holds_back_its_file_and_waits_out_its_window() {
    let config = AppConfig {
        request_timeout: Duration::from_secs(20),
        grace: Duration::from_secs(10),
        ..AppConfig::default()
    };
    let (_dir, sim, app, clock) = setup("window", config);
    sim.publish_mandate("a", work_order()).unwrap();
    let id = app.sync_work_orders().await.unwrap().accepted[0];
    app.update_file(id, |f| f.parts = Some(vec![part("00019-00000012", true)]))
        .await
        .unwrap();
    let sent_at = clock.now();
    sim.set_faults("a", faults(|f| f.drop_after_commit_rate = 1.0))
        .unwrap();
    let Delivery::InDoubt { entry: order, .. } = app.order_parts(id).await.unwrap() else {
        panic!("not in doubt")
    };
    sim.set_faults("a", Faults::default()).unwrap();
    // A status reported meanwhile is not sent: it waits behind the order.
    let status = app.report_status(id, appointment()).await.unwrap().outcome;
    assert!(matches!(status, Delivery::Queued { .. }), "{status:?}");
    assert_eq!(app.flush_outbox().await.unwrap(), FlushReport::default());
    let pending = app.outbox(OutboxState::Pending).await.unwrap();
    let others = app.outbox(OutboxState::InDoubt).await.unwrap();
    assert_eq!(
        agora_ports::blocked_behind(&pending[0], &others),
        Some(order)
    );

    // Too soon to resend or abandon: refused, naming when.
    clock.advance(Duration::from_secs(29));
    for how in [Resolution::Resend, Resolution::Abandon] {
        let err = app.resolve(order, how).await.unwrap_err();
        let until = sent_at + Duration::from_secs(30);
        assert!(
            matches!(&err, AgoraError::TooSoon { entry, until: u, .. } if *entry == order && *u == until),
            "{err}"
        );
        assert!(err.to_string().contains(&until.to_string()), "{err}");
    }
    assert_eq!(
        app.store().entry(order).await.unwrap().unwrap().state,
        OutboxState::InDoubt
    );
    // Settled as applied (AgoraPlus shows the order): the status goes.
    let applied = Resolution::Applied {
        intervention_id: None,
        claim_id: None,
    };
    assert_eq!(
        app.resolve(order, applied).await.unwrap(),
        OutboxState::Delivered
    );
    assert_eq!(app.flush_outbox().await.unwrap().delivered, 1);
    assert_eq!(
        sim.state("a").unwrap()["Orders"].as_array().unwrap().len(),
        1
    );
}

/// A refusal by AgoraPlus (it did not apply the change) blocks nothing
/// and may be resent at once; a forced resend is allowed at once too.
#[tokio::test]
async fn a_refused_entry_blocks_nothing_and_a_forced_resend_goes_at_once() {
    let (_dir, sim, app, clock) = setup("refused", AppConfig::default());
    sim.publish_mandate("a", work_order()).unwrap();
    let id = app.sync_work_orders().await.unwrap().accepted[0];
    // Sent with a key AgoraPlus does not know: refused (401).
    let revoked = Agora::new(
        sim.client("revoked"),
        app.store().clone(),
        clock.clone(),
        AppConfig::default(),
    );
    let refused = revoked
        .report_status(id, appointment())
        .await
        .unwrap()
        .outcome;
    let Delivery::Failed { entry, .. } = refused else {
        panic!("{refused:?}")
    };
    let failed = app.store().entry(entry).await.unwrap().unwrap();
    assert_eq!(failed.park_reason, Some(agora_ports::ParkReason::Refused));
    let later = app
        .report_status(id, StateNature::new(StatusCode::Diagnosis, "diag"))
        .await
        .unwrap()
        .outcome;
    assert!(matches!(later, Delivery::Delivered { .. }), "{later:?}");
    assert_eq!(
        app.resolve_with(entry, Resolution::Resend, true)
            .await
            .unwrap(),
        OutboxState::Pending
    );
}

/// The window after a send's start within which it may still land
/// (`request_timeout` + `grace` of `AppConfig::default()`).
const WINDOW: Duration = Duration::from_secs(90);

/// The simulator's AgoraPlus, holding the first `UpdateRepair` it receives:
/// the call never answers (the client gives up on it), and the simulator
/// applies it when the test releases it, as a slow AgoraPlus would.
struct HoldFirstUpdate {
    inner: SimClient,
    /// Taken by the first `UpdateRepair`: released by the test, it applies
    /// the held file, then says so.
    hold: Mutex<
        Option<(
            tokio::sync::oneshot::Receiver<()>,
            tokio::sync::oneshot::Sender<()>,
        )>,
    >,
    /// The files of the `UpdateRepair` calls received, in order.
    received: Mutex<Vec<CompleteRepairState>>,
}

#[async_trait]
impl Repairs for HoldFirstUpdate {
    async fn create_repair(
        &self,
        file: &CompleteRepairState,
    ) -> Result<Reply<InterventionId>, AgoraError> {
        self.inner.create_repair(file).await
    }
    async fn update_repair(&self, file: &CompleteRepairState) -> Result<Reply<()>, AgoraError> {
        self.received.lock().unwrap().push(file.clone());
        let held = self.hold.lock().unwrap().take();
        if let Some((release, applied)) = held {
            let inner = self.inner.clone();
            let file = file.clone();
            tokio::spawn(async move {
                release.await.unwrap();
                let landed = inner.update_repair(&file).await;
                assert!(landed.is_ok(), "{landed:?}");
                applied.send(()).unwrap();
            });
            return std::future::pending().await;
        }
        self.inner.update_repair(file).await
    }
}

#[async_trait]
impl PartOrders for HoldFirstUpdate {
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
impl Claims for HoldFirstUpdate {
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
    async fn claim_status(
        &self,
        claim: agora_domain::ClaimId,
    ) -> Result<Reply<ClaimTracking>, AgoraError> {
        self.inner.claim_status(claim).await
    }
}

#[async_trait]
impl Invoices for HoldFirstUpdate {
    async fn send_invoice_reference(
        &self,
        reference: &InvoiceReference,
    ) -> Result<Reply<()>, AgoraError> {
        self.inner.send_invoice_reference(reference).await
    }
}

/// The repair file `id` as the simulator holds it.
fn file_in_sim(sim: &Simulator, id: InterventionId) -> CompleteRepairState {
    let state = sim.state("a").unwrap();
    let file = state["Repairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["File"]["InterventionId"] == json!(id))
        .unwrap()["File"]
        .clone();
    serde_json::from_value(file).unwrap()
}

/// The newest file wins. Version 1 of a file is held by AgoraPlus past
/// the client's request timeout (the send is given up, to be retried);
/// version 2 is written meanwhile; AgoraPlus applies version 1 late, within
/// the window (send start + request timeout + grace). Version 2 goes into
/// the pending entry, and no attempt of it is sent before version 1's can
/// no longer land: AgoraPlus ends with version 2, whether it replaces the
/// file with what it receives (`UpdateReplaces`) or merges the statuses.
/// Time is tokio's paused clock; the hold is released by the test.
async fn the_newest_file_wins_over_a_late_update(profile: &str) {
    let start_at = tokio::time::Instant::now();
    let clock = Arc::new(TokioClock(start_at));
    let (_dir, store) = store(&format!("newest-{profile}"));
    let sim = simulator();
    sim.set_profile("a", agora_mock::AnswerProfile::preset(profile).unwrap())
        .unwrap();
    sim.publish_mandate("a", work_order()).unwrap();
    let config = AppConfig {
        worker: "me:1".into(),
        ..AppConfig::default()
    };
    assert_eq!(config.can_no_longer_land_after(), WINDOW);
    let syncing = Agora::new(
        sim.client("a"),
        store.clone(),
        clock.clone(),
        config.clone(),
    );
    let id = syncing.sync_work_orders().await.unwrap().accepted[0];

    let (release, held) = tokio::sync::oneshot::channel();
    let (applied, landed) = tokio::sync::oneshot::channel();
    let api = HoldFirstUpdate {
        inner: sim.client("a"),
        hold: Mutex::new(Some((held, applied))),
        received: Mutex::new(Vec::new()),
    };
    let app = Agora::new(api, store.clone(), clock.clone(), config);
    let at = |secs: u64| start_at + Duration::from_secs(secs);

    // t=0: version 1 is sent and held; at t=60 the send is given up.
    let v1 = app
        .update_file(id, |f| f.serial_number = Some("SN-V1".into()))
        .await
        .unwrap();
    assert!(matches!(v1, Delivery::Queued { .. }), "{v1:?}");
    assert_eq!(tokio::time::Instant::now(), at(60));
    let retry_at = app
        .store()
        .entry(v1.entry())
        .await
        .unwrap()
        .unwrap()
        .next_attempt_at;

    // t=61: version 2 (a new status, a new serial number).
    tokio::time::sleep_until(at(61)).await;
    app.report_status(id, appointment()).await.unwrap();
    let v2 = app
        .update_file(id, |f| f.serial_number = Some("SN-V2".into()))
        .await
        .unwrap();

    // The backoff alone would retry at t=62. Calls sent by t=62, 75, 89:
    let mut early = Vec::new();
    for secs in [62, 75, 89] {
        tokio::time::sleep_until(at(secs)).await;
        app.flush_outbox().await.unwrap();
        early.push(app_received(&app).len());
    }
    // t=89: AgoraPlus applies version 1, late but within the window.
    release.send(()).unwrap();
    landed.await.unwrap();
    let after_late = file_in_sim(&sim, id).serial_number;

    // t=90: version 1 can no longer land; the newest file goes.
    tokio::time::sleep_until(at(90)).await;
    let at_bound = app.flush_outbox().await.unwrap();
    tokio::time::sleep_until(at(600)).await;
    assert_eq!(app.flush_outbox().await.unwrap(), FlushReport::default());

    // AgoraPlus ends with version 2, as the store says.
    let local = app.repair(id).await.unwrap();
    let held = file_in_sim(&sim, id);
    assert_eq!(held.serial_number.as_deref(), Some("SN-V2"), "{profile}");
    let codes = |f: &CompleteRepairState| -> Vec<Option<StatusCode>> {
        f.state_natures
            .iter()
            .flatten()
            .map(|s| s.code.clone())
            .collect()
    };
    assert_eq!(codes(&held), codes(&local.file), "{profile}");
    assert!(
        codes(&held).contains(&Some(StatusCode::AppointmentConfirmed)),
        "{profile}"
    );
    assert!(app.outbox(OutboxState::Pending).await.unwrap().is_empty());
    let delivered = app.outbox(OutboxState::Delivered).await.unwrap();
    let last = delivered.iter().max_by_key(|e| e.id).unwrap();
    assert!(matches!(&last.operation,
        Operation::UpdateRepair(f) if f.serial_number.as_deref() == Some("SN-V2")));

    // How: the retry waited until version 1 could no longer land (t=90,
    // not the backoff's t=62); version 2 went into the pending entry; no
    // attempt was sent before t=90, and then one, with version 2.
    assert_eq!(retry_at, start() + WINDOW, "{profile}");
    assert!(matches!(v2, Delivery::Queued { .. }), "{v2:?}");
    assert_eq!(
        v2.entry(),
        v1.entry(),
        "version 2 went into the pending update"
    );
    assert_eq!(early, [1, 1, 1], "an attempt was sent before t=90");
    assert_eq!(
        after_late.as_deref(),
        Some("SN-V1"),
        "version 1 landed late"
    );
    assert_eq!(
        at_bound,
        FlushReport {
            delivered: 1,
            ..FlushReport::default()
        }
    );
    let received = app_received(&app);
    assert_eq!(
        received
            .iter()
            .map(|f| f.serial_number.clone().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["SN-V1", "SN-V2"]
    );
}

fn app_received(app: &Agora<HoldFirstUpdate, SqliteStore>) -> Vec<CompleteRepairState> {
    app.api().received.lock().unwrap().clone()
}

#[tokio::test(start_paused = true)]
async fn the_newest_file_wins_when_agoraplus_replaces_the_file() {
    the_newest_file_wins_over_a_late_update("update-replaces").await;
}

#[tokio::test(start_paused = true)]
async fn the_newest_file_wins_when_agoraplus_merges_the_statuses() {
    the_newest_file_wins_over_a_late_update("default").await;
}

/// A flush claims several idempotent entries at once; a worker told to
/// stop in the middle of them sends nothing more: the entries it claimed
/// and had not sent go back pending, due at once, none in doubt, and the
/// next flush delivers them, each once.
#[tokio::test]
async fn a_flush_stopped_mid_batch_puts_back_what_it_did_not_send() {
    let (_dir, sim, app, clock) = setup("stopped", AppConfig::default());
    for _ in 0..5 {
        sim.publish_mandate("a", work_order()).unwrap();
    }
    let files = app.sync_work_orders().await.unwrap().accepted;
    assert_eq!(files.len(), 5);
    sim.set_faults("a", faults(|f| f.status503_rate = 1.0))
        .unwrap();
    for id in &files {
        let queued = app.report_status(*id, appointment()).await.unwrap().outcome;
        assert!(matches!(queued, Delivery::Queued { .. }), "{queued:?}");
    }
    sim.set_faults("a", Faults::default()).unwrap();
    let before = app.outbox(OutboxState::Delivered).await.unwrap().len();
    clock.advance(Duration::from_secs(3600));
    // Go for the claim and the second entry's turn, not the third's.
    let turns = std::sync::atomic::AtomicUsize::new(0);
    let go = || turns.fetch_add(1, Ordering::SeqCst) < 2;
    let report = app.flush_outbox_while(&go).await.unwrap();
    assert_eq!(
        report,
        FlushReport {
            delivered: 2,
            ..FlushReport::default()
        }
    );
    let back = app.outbox(OutboxState::Pending).await.unwrap();
    assert_eq!(back.len(), 3, "{back:?}");
    for e in &back {
        assert_eq!(e.lease, None);
        assert!(e.next_attempt_at <= clock.now(), "{e:?}");
        assert!(
            e.last_error
                .as_deref()
                .is_some_and(|m| m.contains("stopped")),
            "{e:?}"
        );
    }
    assert!(app.outbox(OutboxState::InDoubt).await.unwrap().is_empty());
    assert!(app.outbox(OutboxState::Sending).await.unwrap().is_empty());
    let report = app.flush_outbox().await.unwrap();
    assert_eq!(
        report,
        FlushReport {
            delivered: 3,
            ..FlushReport::default()
        }
    );
    let after = app.outbox(OutboxState::Delivered).await.unwrap().len();
    assert_eq!(after - before, 5);
}
