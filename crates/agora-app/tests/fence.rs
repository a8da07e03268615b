//! One clock and a fence: a process whose clock runs ahead (within the
//! grace on SQLite; whatever it is on PostgreSQL, whose database's clock
//! judges leases) never takes back a live send; an attempt whose lease was
//! taken back, or could not be confirmed, sends nothing; an answer the
//! store could not record is retried, then kept, and recorded by the next
//! process's recovery instead of being parked in doubt.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_app::{Agora, AppConfig, Delivery};
use agora_domain::{ClaimId, InterventionId, MandateId, MandateLightResponse, Part};
use agora_mock::{SimClient, SimConfig, Simulator};
use agora_ports::{
    AgoraError, Attempt, Clock, Finish, Guard, KeptWorkOrder, Lease, LocalRepair, Operation,
    Outbox, OutboxEntry, OutboxState, Outcome, PartOrders, RepairFiles, Settlement, SystemClock,
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
    fn at(t: Timestamp) -> Arc<Self> {
        Arc::new(Self(Mutex::new(t)))
    }
    fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

fn start() -> Timestamp {
    "2024-03-01T09:00:00Z".parse().unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn simulator() -> Simulator {
    Simulator::new(SimConfig {
        tenants: vec!["a".into()],
        seed: 11,
        catalog_size: 10,
        ..SimConfig::default()
    })
}

fn work_order() -> MandateLightResponse {
    serde_json::from_value(json!({
        "ManufacturerId": 19, "InterventionTypeId": 1,
        "Consumer": {"Title": "2", "LastName": "Martin"}
    }))
    .unwrap()
}

/// The SQLite store, with faults a test arms: the next renewal finds the
/// entry taken back by another process (as after a pause past the lease),
/// or fails; the next `finish` calls fail (the store briefly away); the
/// next `finish_all` calls of several fail; the next `finish` waits until
/// a condition holds.
#[derive(Clone, Default)]
struct Faults {
    taken_back_at_renewal: Arc<AtomicBool>,
    renewals_failing: Arc<AtomicU32>,
    finishes_failing: Arc<AtomicU32>,
    finish_calls: Arc<AtomicU32>,
    renew_calls: Arc<AtomicU32>,
    claims: Arc<AtomicU32>,
    /// The sizes of the `finish_all` calls of several outcomes.
    recorded_together: Arc<Mutex<Vec<usize>>>,
    together_failing: Arc<AtomicU32>,
    hold_next_finish: Arc<Mutex<Option<Hold>>>,
}

/// A condition the next `finish` waits for (checked every millisecond, 10
/// s at most).
type Hold = Box<dyn Fn() -> bool + Send>;

#[derive(Clone)]
struct Faulty {
    store: SqliteStore,
    faults: Faults,
}

fn armed(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

fn unavailable() -> AgoraError {
    AgoraError::store("database is locked (the store is briefly away)")
}

#[async_trait]
impl RepairFiles for Faulty {
    async fn upsert_repair(&self, repair: &LocalRepair) -> Result<(), AgoraError> {
        self.store.upsert_repair(repair).await
    }
    async fn repair(&self, id: InterventionId) -> Result<Option<LocalRepair>, AgoraError> {
        self.store.repair(id).await
    }
    async fn repair_by_mandate(&self, id: MandateId) -> Result<Option<LocalRepair>, AgoraError> {
        self.store.repair_by_mandate(id).await
    }
    async fn repair_by_claim(&self, id: ClaimId) -> Result<Option<LocalRepair>, AgoraError> {
        self.store.repair_by_claim(id).await
    }
    async fn repairs(&self) -> Result<Vec<LocalRepair>, AgoraError> {
        self.store.repairs().await
    }
    async fn save_with_operation(
        &self,
        repair: &LocalRepair,
        operation: Option<Operation>,
        now: Timestamp,
    ) -> Result<Option<u64>, AgoraError> {
        self.store.save_with_operation(repair, operation, now).await
    }
    async fn keep_work_order(
        &self,
        mandate: &MandateLightResponse,
        intervention_id: Option<InterventionId>,
        seen_at: Timestamp,
    ) -> Result<(), AgoraError> {
        self.store
            .keep_work_order(mandate, intervention_id, seen_at)
            .await
    }
    async fn work_order(&self, id: MandateId) -> Result<Option<KeptWorkOrder>, AgoraError> {
        self.store.work_order(id).await
    }
    async fn work_orders(&self) -> Result<Vec<KeptWorkOrder>, AgoraError> {
        self.store.work_orders().await
    }
}

#[async_trait]
impl Outbox for Faulty {
    async fn enqueue(
        &self,
        intervention_id: Option<InterventionId>,
        operation: &Operation,
        now: Timestamp,
    ) -> Result<u64, AgoraError> {
        self.store.enqueue(intervention_id, operation, now).await
    }
    async fn claim_due(
        &self,
        now: Timestamp,
        lease: &Lease,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, AgoraError> {
        let claimed = self.store.claim_due(now, lease, limit).await;
        self.faults.claims.fetch_add(1, Ordering::SeqCst);
        claimed
    }
    async fn claim(
        &self,
        id: u64,
        now: Timestamp,
        lease: &Lease,
    ) -> Result<Option<OutboxEntry>, AgoraError> {
        self.store.claim(id, now, lease).await
    }
    async fn renew(&self, id: u64, lease: &Lease) -> Result<bool, AgoraError> {
        self.faults.renew_calls.fetch_add(1, Ordering::SeqCst);
        if self
            .faults
            .taken_back_at_renewal
            .swap(false, Ordering::SeqCst)
        {
            // This process was paused past its lease; another one, a day
            // later, took the entry back meanwhile.
            let later = lease.until + secs(86_400);
            self.store.recover_expired(later, Duration::ZERO).await?;
        }
        if armed(&self.faults.renewals_failing) {
            return Err(unavailable());
        }
        self.store.renew(id, lease).await
    }
    async fn finish(
        &self,
        id: u64,
        owner: &str,
        attempt_no: u32,
        attempt: &Attempt,
        now: Timestamp,
    ) -> Result<Finish, AgoraError> {
        self.faults.finish_calls.fetch_add(1, Ordering::SeqCst);
        let hold = self.faults.hold_next_finish.lock().unwrap().take();
        if let Some(until) = hold {
            let deadline = std::time::Instant::now() + secs(10);
            while !until() && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        if armed(&self.faults.finishes_failing) {
            return Err(unavailable());
        }
        self.store.finish(id, owner, attempt_no, attempt, now).await
    }
    async fn finish_all(&self, outcomes: &[Outcome]) -> Result<Vec<Finish>, AgoraError> {
        if outcomes.len() > 1 {
            self.faults
                .recorded_together
                .lock()
                .unwrap()
                .push(outcomes.len());
            if armed(&self.faults.together_failing) {
                return Err(unavailable());
            }
        }
        self.store.finish_all(outcomes).await
    }
    async fn settle(
        &self,
        id: u64,
        settlement: &Settlement,
        guard: Guard,
        now: Timestamp,
    ) -> Result<OutboxState, AgoraError> {
        self.store.settle(id, settlement, guard, now).await
    }
    async fn entries(&self, state: OutboxState) -> Result<Vec<OutboxEntry>, AgoraError> {
        self.store.entries(state).await
    }
    async fn entry(&self, id: u64) -> Result<Option<OutboxEntry>, AgoraError> {
        self.store.entry(id).await
    }
    async fn recover_expired(
        &self,
        now: Timestamp,
        window: Duration,
    ) -> Result<Vec<u64>, AgoraError> {
        self.store.recover_expired(now, window).await
    }
}

struct Setup {
    dir: tempfile::TempDir,
    sim: Simulator,
    store: SqliteStore,
    faults: Faults,
    clock: Arc<ManualClock>,
    /// A repair file with a part to order.
    file: InterventionId,
}

impl Setup {
    async fn new(name: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("agora-app-fence-{name}-"))
            .tempdir()
            .unwrap();
        let store = SqliteStore::open(dir.path().join("agora.db")).unwrap();
        let sim = simulator();
        let clock = ManualClock::at(start());
        sim.publish_mandate("a", work_order()).unwrap();
        let plain = Agora::new(
            sim.client("a"),
            store.clone(),
            clock.clone(),
            AppConfig::default(),
        );
        let file = plain.sync_work_orders().await.unwrap().accepted[0];
        plain
            .update_file(file, |f| {
                f.parts = Some(vec![Part {
                    reference: Some("00019-00000012".into()),
                    quantity: Some(1),
                    to_be_ordered: Some(true),
                    ..Part::default()
                }]);
            })
            .await
            .unwrap();
        Self {
            dir,
            sim,
            store,
            faults: Faults::default(),
            clock,
            file,
        }
    }

    fn spool(&self) -> std::path::PathBuf {
        self.dir.path().join("agora.db.answers")
    }

    /// A process over the faulty store, its answers kept in the spool.
    fn app(&self) -> Agora<SimClient, Faulty> {
        Agora::new(
            self.sim.client("a"),
            Faulty {
                store: self.store.clone(),
                faults: self.faults.clone(),
            },
            self.clock.clone(),
            AppConfig {
                answer_spool: Some(self.spool()),
                ..AppConfig::default()
            },
        )
    }

    /// Runs `queue` while AgoraPlus answers every call with a 503 (what
    /// it writes is queued, not delivered), then sets the clock an hour
    /// later: all of it due at once.
    async fn queued_behind_a_503<F: std::future::Future<Output = ()>>(&self, queue: F) {
        let unavailable = agora_mock::Faults {
            status503_rate: 1.0,
            ..agora_mock::Faults::default()
        };
        self.sim.set_faults("a", unavailable).unwrap();
        queue.await;
        self.sim
            .set_faults("a", agora_mock::Faults::default())
            .unwrap();
        self.clock.advance(secs(3600));
    }

    /// The orders AgoraPlus holds for the file.
    async fn orders_in_agoraplus(&self) -> usize {
        self.sim
            .client("a")
            .order_tracking(self.file)
            .await
            .unwrap()
            .data
            .len()
    }

    /// The latest outbox entry (the order's, once written).
    async fn entry(&self) -> OutboxEntry {
        let mut all = Vec::new();
        for state in [
            OutboxState::Pending,
            OutboxState::Sending,
            OutboxState::Delivered,
            OutboxState::InDoubt,
            OutboxState::Failed,
        ] {
            all.extend(self.store.entries(state).await.unwrap());
        }
        all.into_iter().max_by_key(|e| e.id).unwrap()
    }
}

/// SQLite: each process judges leases by its own clock, with the grace.
/// A process whose clock runs 40 s ahead, looking 30 s into a live 60 s
/// lease, leaves it alone (its clock says 70 s; less the grace of 30 s,
/// 40 s: not expired). Once the lease has expired by more than the grace
/// on its clock, it takes it back.
#[tokio::test]
async fn a_process_whose_clock_runs_ahead_within_the_grace_leaves_a_live_lease_alone() {
    let s = Setup::new("skew").await;
    let sender_now = start() + secs(10);
    let id = s
        .store
        .enqueue(Some(s.file), &Operation::PlaceOrder(s.file), sender_now)
        .await
        .unwrap();
    let lease = Lease {
        owner: "sender:1".into(),
        until: sender_now + secs(60),
    };
    assert!(
        s.store
            .claim(id, sender_now, &lease)
            .await
            .unwrap()
            .is_some()
    );
    let ahead = ManualClock::at(sender_now + secs(30) + secs(40));
    let other = Agora::new(
        s.sim.client("a"),
        s.store.clone(),
        ahead.clone(),
        AppConfig::default(),
    );
    assert_eq!(other.recover().await.unwrap(), Vec::<u64>::new());
    let held = s.store.entry(id).await.unwrap().unwrap();
    assert_eq!(held.state, OutboxState::Sending);
    assert_eq!(held.lease, Some(lease));
    // Its clock 91 s past the claim: the lease has expired by more than
    // the grace.
    ahead.advance(secs(21));
    assert_eq!(other.recover().await.unwrap(), [id]);
}

/// A sender paused between its claim and its send, past its lease: another
/// process took the entry back meanwhile. The lease is checked right before
/// the send, so the paused sender sends nothing and records nothing.
#[tokio::test]
async fn a_sender_whose_lease_was_taken_back_sends_nothing() {
    let s = Setup::new("taken-back").await;
    let app = s.app();
    s.faults.taken_back_at_renewal.store(true, Ordering::SeqCst);
    let delivery = app.order_parts(s.file).await.unwrap();
    assert!(
        matches!(&delivery, Delivery::Queued { error, .. } if error.contains("taken back")),
        "{delivery:?}"
    );
    assert_eq!(s.orders_in_agoraplus().await, 0, "nothing sent");
    // The entry is as the other process left it (in doubt: an order), with
    // nothing recorded by the paused sender.
    let entry = s.entry().await;
    assert_eq!(entry.state, OutboxState::InDoubt, "{entry:?}");
    assert_eq!(s.faults.finish_calls.load(Ordering::SeqCst), 0);
    assert!(app.repair(s.file).await.unwrap().orders.is_empty());
}

/// The store fails the lease's check right before the send: the attempt
/// stops without sending, and is put back to be tried again.
#[tokio::test]
async fn a_renewal_failure_before_the_send_stops_the_attempt() {
    let s = Setup::new("renewal-fails").await;
    let app = s.app();
    s.faults.renewals_failing.store(1, Ordering::SeqCst);
    let delivery = app.order_parts(s.file).await.unwrap();
    assert!(
        matches!(&delivery, Delivery::Queued { error, .. } if error.contains("not sent")),
        "{delivery:?}"
    );
    assert_eq!(s.orders_in_agoraplus().await, 0, "nothing sent");
    let entry = s.entry().await;
    assert_eq!(entry.state, OutboxState::Pending, "{entry:?}");
    // Sent once it is due again and the store answers.
    s.clock.advance(secs(60));
    let report = app.flush_outbox().await.unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(s.orders_in_agoraplus().await, 1);
}

/// AgoraPlus placed the order, and the store stays away while its answer
/// is recorded: recording is retried with backoff, then the answer is kept
/// in the spool and shown whole in the error (its order number). The next
/// process, past the lease and the grace, records it in recovery: the
/// entry is delivered with the order number, not parked in doubt.
#[tokio::test(start_paused = true)]
async fn an_answer_the_store_could_not_record_is_kept_and_settles_the_entry_later() {
    let s = Setup::new("kept-answer").await;
    let app = s.app();
    s.faults.finishes_failing.store(u32::MAX, Ordering::SeqCst);
    let error = app.order_parts(s.file).await.unwrap_err().to_string();
    assert_eq!(s.orders_in_agoraplus().await, 1);
    let placed = s.sim.client("a").order_tracking(s.file).await.unwrap().data;
    let number = placed[0].order_number.clone().unwrap();
    assert!(error.contains(number.as_str()), "{error}");
    assert!(error.contains("agora.db.answers"), "{error}");
    let tries = s.faults.finish_calls.load(Ordering::SeqCst);
    assert!(tries > 3, "retried: {tries} tries");
    let kept: Vec<_> = std::fs::read_dir(s.spool()).unwrap().collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let entry = s.entry().await;
    assert_eq!(entry.state, OutboxState::Sending);

    // The store is back; a new process starts past the lease and the grace.
    s.faults.finishes_failing.store(0, Ordering::SeqCst);
    s.clock.advance(secs(600));
    let next = s.app();
    assert_eq!(next.recover().await.unwrap(), Vec::<u64>::new(), "no doubt");
    let entry = s.entry().await;
    assert_eq!(entry.state, OutboxState::Delivered, "{entry:?}");
    let orders = next.repair(s.file).await.unwrap().orders;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].order_number.as_ref(), Some(&number));
    assert_eq!(std::fs::read_dir(s.spool()).unwrap().count(), 0);
}

/// Without the spool's answer, the same entry would be parked in doubt:
/// the kept answer is what settles it.
#[tokio::test(start_paused = true)]
async fn without_its_kept_answer_the_entry_would_be_in_doubt() {
    let s = Setup::new("no-kept-answer").await;
    let app = s.app();
    s.faults.finishes_failing.store(u32::MAX, Ordering::SeqCst);
    app.order_parts(s.file).await.unwrap_err();
    std::fs::remove_dir_all(s.spool()).unwrap();
    s.faults.finishes_failing.store(0, Ordering::SeqCst);
    s.clock.advance(secs(600));
    let entry = s.entry().await;
    assert_eq!(s.app().recover().await.unwrap(), [entry.id]);
}

/// A throwaway PostgreSQL server and a database `name` on it, with an
/// entry (an order of file 7) claimed by `sender:1` for 20 s of the
/// database's clock: the server (dropped: stopped), the database's URL, a
/// store on it, the entry and the database's time of the claim.
async fn claimed_on_postgres(
    name: &str,
) -> (
    agora_store_postgres::throwaway::Server,
    String,
    agora_store_postgres::PostgresStore,
    u64,
    Timestamp,
) {
    let server =
        agora_store_postgres::throwaway::Server::start().unwrap_or_else(|why| panic!("{why}"));
    let url = server.create_database(name).await.unwrap();
    let store = agora_store_postgres::PostgresStore::connect(&url)
        .await
        .unwrap();
    let file = InterventionId(7);
    let id = store
        .enqueue(Some(file), &Operation::PlaceOrder(file), SystemClock.now())
        .await
        .unwrap();
    let db_now = store.clock().await.unwrap().unwrap();
    let lease = Lease {
        owner: "sender:1".into(),
        until: db_now + secs(20),
    };
    assert!(store.claim(id, db_now, &lease).await.unwrap().is_some());
    (server, url, store, id, db_now)
}

/// PostgreSQL: leases are taken, renewed and judged by the database's
/// clock (plus the test-only offset a process reads it with). A process
/// whose own clock runs 100 s ahead, and which reads the database's clock
/// 40 s ahead (the offset), leaves a lease with 20 s left alone (40 s is
/// within the grace of 30 s plus those 20 s); a
/// process whose own clock says the lease is live, but which reads the
/// database's clock past the lease and the grace, takes it back: the
/// database's clock is the one that judges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_the_database_s_clock_judges_leases() {
    use agora_store_postgres::{PgOptions, PostgresStore};
    // 20 s of lease left: a reader 40 s ahead is within the grace (30 s)
    // plus that.
    let (_server, url, sender, id, _) = claimed_on_postgres("fence").await;

    let sim = simulator();
    let with_offset = async |ms: i64| {
        PostgresStore::connect_with(
            &url,
            PgOptions {
                clock_offset_ms: ms,
                ..PgOptions::default()
            },
        )
        .await
        .unwrap()
    };
    let ahead = Agora::new(
        sim.client("a"),
        with_offset(40_000).await,
        ManualClock::at(SystemClock.now() + secs(100)),
        AppConfig::default(),
    );
    assert_eq!(ahead.recover().await.unwrap(), Vec::<u64>::new());
    // Even a caller that passes its own (fast) clock takes nothing back
    // the database counts as live.
    let far = SystemClock.now() + secs(3600);
    assert_eq!(
        sender.recover_expired(far, Duration::ZERO).await.unwrap(),
        Vec::<u64>::new()
    );
    let held = sender.entry(id).await.unwrap().unwrap();
    assert_eq!(held.state, OutboxState::Sending);

    let later = Agora::new(
        sim.client("a"),
        with_offset(100_000).await,
        ManualClock::at(SystemClock.now()),
        AppConfig::default(),
    );
    assert_eq!(later.recover().await.unwrap(), [id]);
}

/// PostgreSQL: an operator's resend and abandon are judged by the
/// database's clock, which took the attempt's send start. An operator
/// whose own clock runs an hour ahead cannot settle an entry whose last
/// attempt may still land (it would send the operation twice, or free its
/// key while the first may still apply), and neither can a store caller
/// that passes its own fast clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_an_operator_s_fast_clock_settles_nothing_early() {
    use agora_app::Resolution;
    use agora_store_postgres::PostgresStore;
    let (_server, url, store, id, db_now) = claimed_on_postgres("operator").await;
    let in_doubt = Attempt::InDoubt("timed out".into());
    store
        .finish(id, "sender:1", 1, &in_doubt, db_now)
        .await
        .unwrap();

    let ahead = Agora::new(
        simulator().client("a"),
        PostgresStore::connect(&url).await.unwrap(),
        ManualClock::at(SystemClock.now() + secs(3600)),
        AppConfig::default(),
    );
    for resolution in [Resolution::Resend, Resolution::Abandon] {
        let refused = ahead.resolve_with(id, resolution, false).await;
        assert!(
            matches!(refused, Err(AgoraError::TooSoon { .. })),
            "{refused:?}"
        );
    }
    let far = SystemClock.now() + secs(3600);
    let refused = store
        .settle(id, &Settlement::Resend, Guard::new(secs(30), secs(30)), far)
        .await;
    assert!(
        matches!(refused, Err(AgoraError::TooSoon { .. })),
        "{refused:?}"
    );
    assert_eq!(
        store.entry(id).await.unwrap().unwrap().state,
        OutboxState::InDoubt
    );
}

/// PostgreSQL: an entry written by a process whose clock runs an hour
/// ahead is due by the database's clock, which its claim is judged by: it
/// is not held back for that hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_writer_whose_clock_runs_ahead_does_not_hold_its_entries_back() {
    use agora_store_postgres::PostgresStore;
    let server =
        agora_store_postgres::throwaway::Server::start().unwrap_or_else(|why| panic!("{why}"));
    let url = server.create_database("writer").await.unwrap();
    let sim = simulator();
    sim.publish_mandate("a", work_order()).unwrap();
    let ahead = Agora::new(
        sim.client("a"),
        PostgresStore::connect(&url).await.unwrap(),
        ManualClock::at(SystemClock.now() + secs(3600)),
        AppConfig::default(),
    );
    let file = ahead.sync_work_orders().await.unwrap().accepted[0];
    ahead
        .update_file(file, |f| {
            f.parts = Some(vec![Part {
                reference: Some("00019-00000012".into()),
                quantity: Some(1),
                to_be_ordered: Some(true),
                ..Part::default()
            }]);
        })
        .await
        .unwrap();
    ahead.flush_outbox().await.unwrap();
    let store = PostgresStore::connect(&url).await.unwrap();
    assert_eq!(store.entries(OutboxState::Pending).await.unwrap(), []);
    assert!(
        !store
            .entries(OutboxState::Delivered)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A flush records together, in one transaction, the outcomes that ended
/// while a recording was under way (the first recording is held until
/// AgoraPlus has every update); when the store fails them together, each
/// is recorded on its own: every entry delivered once, none lost. The
/// updates, idempotent and their leases fresh, go without a confirmation.
#[tokio::test]
async fn a_flush_records_together_what_ended_during_a_recording() {
    for together_fails in [false, true] {
        let s = Setup::new("together").await;
        let app = s.app();
        for _ in 0..4 {
            s.sim.publish_mandate("a", work_order()).unwrap();
        }
        let files = app.sync_work_orders().await.unwrap().accepted;
        assert_eq!(files.len(), 4);
        s.queued_behind_a_503(async {
            for id in &files {
                app.update_file(*id, |f| f.serial_number = Some("SN-1".into()))
                    .await
                    .unwrap();
            }
        })
        .await;
        let sim = s.sim.clone();
        let updates = move || {
            sim.journal("a")
                .unwrap()
                .iter()
                .filter(|r| r.route == "UpdateRepair")
                .count()
        };
        let before = updates();
        let all_sent = updates.clone();
        *s.faults.hold_next_finish.lock().unwrap() =
            Some(Box::new(move || all_sent() >= before + 4));
        s.faults
            .together_failing
            .store(u32::from(together_fails), Ordering::SeqCst);
        s.faults.finish_calls.store(0, Ordering::SeqCst);
        s.faults.renew_calls.store(0, Ordering::SeqCst);
        let report = app.flush_outbox().await.unwrap();
        assert_eq!(report.delivered, 4, "{report:?}");
        assert_eq!(updates(), before + 4, "each sent once");
        // The first alone; the three that ended while it was held, together.
        assert_eq!(*s.faults.recorded_together.lock().unwrap(), [3]);
        let delivered = app.outbox(OutboxState::Delivered).await.unwrap();
        for id in &files {
            let entry = delivered
                .iter()
                .filter(|e| e.intervention_id == Some(*id))
                .max_by_key(|e| e.id);
            assert!(entry.is_some(), "file {id:?}: {delivered:?}");
        }
        assert!(app.outbox(OutboxState::Sending).await.unwrap().is_empty());
        assert!(app.outbox(OutboxState::Pending).await.unwrap().is_empty());
        // Each alone: one finish per entry besides the first's.
        let finishes = s.faults.finish_calls.load(Ordering::SeqCst);
        assert_eq!(finishes, if together_fails { 4 } else { 1 });
        // Idempotent, their leases fresh: sent without a confirmation.
        assert_eq!(s.faults.renew_calls.load(Ordering::SeqCst), 0);
    }
}

/// A lease is confirmed before the send when the entry is not idempotent
/// (however fresh its lease), or when a third of the lease has passed
/// since the claim (an update claimed with another that took 30 s).
#[tokio::test]
async fn a_lease_is_confirmed_before_a_creation_or_once_it_is_no_longer_fresh() {
    let s = Setup::new("confirmed").await;
    let app = s.app();
    let delivery = app.order_parts(s.file).await.unwrap();
    assert!(
        matches!(delivery, Delivery::Delivered { .. }),
        "{delivery:?}"
    );
    assert_eq!(s.faults.renew_calls.load(Ordering::SeqCst), 1);
    // Two updates claimed together; the first one's send "takes" 30 s of
    // the 60 s lease (the clock moves as its outcome is recorded, before
    // the second is sent).
    s.sim.publish_mandate("a", work_order()).unwrap();
    let other = app.sync_work_orders().await.unwrap().accepted[0];
    s.queued_behind_a_503(async {
        for id in [s.file, other] {
            app.update_file(id, |f| f.serial_number = Some("SN-2".into()))
                .await
                .unwrap();
        }
    })
    .await;
    let clock = s.clock.clone();
    *s.faults.hold_next_finish.lock().unwrap() = Some(Box::new(move || {
        clock.advance(secs(30));
        true
    }));
    s.faults.renew_calls.store(0, Ordering::SeqCst);
    let report = app.flush_outbox().await.unwrap();
    assert_eq!(report.delivered, 2, "{report:?}");
    assert_eq!(s.faults.renew_calls.load(Ordering::SeqCst), 1);
}

/// A claim that finds nothing while the flush's own outcomes are still
/// being recorded does not end the flush: those outcomes hold back the
/// later entries of their files (an order behind an update of its file,
/// the update's recording held until that claim has come back empty), so
/// they are recorded, and the flush claims again.
#[tokio::test]
async fn a_flush_ends_only_once_its_own_outcomes_hold_nothing_back() {
    let s = Setup::new("held-back").await;
    let app = s.app();
    s.queued_behind_a_503(async {
        app.update_file(s.file, |f| f.serial_number = Some("SN-3".into()))
            .await
            .unwrap();
        let queued = app.order_parts(s.file).await.unwrap();
        assert!(matches!(queued, Delivery::Queued { .. }), "{queued:?}");
    })
    .await;
    let claims = s.faults.claims.clone();
    let before = claims.load(Ordering::SeqCst);
    *s.faults.hold_next_finish.lock().unwrap() = Some(Box::new(move || {
        claims.load(Ordering::SeqCst) >= before + 2
    }));
    let report = app.flush_outbox().await.unwrap();
    assert_eq!(report.delivered, 2, "{report:?}");
    assert_eq!(s.orders_in_agoraplus().await, 1);
    assert!(app.outbox(OutboxState::Pending).await.unwrap().is_empty());
}
