//! Another process writes a repair file while a use case has it in hand:
//! the use case reads it again and redoes its change, so that neither
//! write is lost.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use agora_app::{Agora, AppConfig, CONFLICT_RETRIES};
use agora_domain::{
    ClaimId, InterventionId, MandateId, MandateLightResponse, Part, StateNature, StatusCode,
};
use agora_mock::{SimConfig, Simulator};
use agora_ports::{
    AgoraError, Attempt, Finish, Guard, Lease, LocalRepair, Operation, Outbox, OutboxEntry,
    OutboxState, RepairFiles, Settlement, SystemClock,
};
use agora_store_sqlite::SqliteStore;
use async_trait::async_trait;
use jiff::Timestamp;

/// The store, with another process that writes the file just before each
/// of this one's next `armed` writes of it.
#[derive(Clone)]
struct Contended {
    store: SqliteStore,
    other: SqliteStore,
    armed: Arc<AtomicU32>,
}

impl Contended {
    /// The other process's write: a note on the file.
    async fn other_writes(&self, id: InterventionId) {
        let armed = self
            .armed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if armed.is_ok() {
            let mut theirs = self.other.repair(id).await.unwrap().unwrap();
            theirs.attention = Some("written by the other process".into());
            self.other.upsert_repair(&theirs).await.unwrap();
        }
    }
}

#[async_trait]
impl RepairFiles for Contended {
    async fn upsert_repair(&self, repair: &LocalRepair) -> Result<(), AgoraError> {
        self.other_writes(repair.intervention_id).await;
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
        self.other_writes(repair.intervention_id).await;
        self.store.save_with_operation(repair, operation, now).await
    }
    async fn keep_work_order(
        &self,
        mandate: &agora_domain::MandateLightResponse,
        intervention_id: Option<InterventionId>,
        seen_at: Timestamp,
    ) -> Result<(), AgoraError> {
        self.store
            .keep_work_order(mandate, intervention_id, seen_at)
            .await
    }
    async fn work_order(
        &self,
        id: MandateId,
    ) -> Result<Option<agora_ports::KeptWorkOrder>, AgoraError> {
        self.store.work_order(id).await
    }
    async fn work_orders(&self) -> Result<Vec<agora_ports::KeptWorkOrder>, AgoraError> {
        self.store.work_orders().await
    }
}

#[async_trait]
impl Outbox for Contended {
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
        self.store.claim_due(now, lease, limit).await
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
        self.store.finish(id, owner, attempt_no, attempt, now).await
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
        window: std::time::Duration,
    ) -> Result<Vec<u64>, AgoraError> {
        self.store.recover_expired(now, window).await
    }
}

fn setup() -> (
    tempfile::TempDir,
    Simulator,
    Agora<agora_mock::SimClient, SqliteStore>,
    Contended,
) {
    let sim = Simulator::new(SimConfig {
        tenants: vec!["a".into()],
        seed: 4,
        catalog_size: 10,
        ..SimConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("agora.db")).unwrap();
    let contended = Contended {
        other: SqliteStore::open(store.path()).unwrap(),
        store: store.clone(),
        armed: Arc::new(AtomicU32::new(0)),
    };
    let app = Agora::new(
        sim.client("a"),
        store,
        Arc::new(SystemClock),
        AppConfig::default(),
    );
    (dir, sim, app, contended)
}

fn work_order() -> MandateLightResponse {
    serde_json::from_value(serde_json::json!({
        "ManufacturerId": 19, "InterventionTypeId": 1,
        "Consumer": {"Title": "2", "LastName": "Martin"}
    }))
    .unwrap()
}

#[tokio::test]
async fn a_status_report_and_a_tracking_pass_redo_their_change_after_another_write() {
    let (_dir, sim, app, contended) = setup();
    sim.publish_mandate("a", work_order()).unwrap();
    let id = app.sync_work_orders().await.unwrap().accepted[0];
    app.update_file(id, |f| {
        f.parts = Some(vec![Part {
            reference: Some("00019-00000012".into()),
            quantity: Some(1),
            to_be_ordered: Some(true),
            ..Part::default()
        }]);
    })
    .await
    .unwrap();
    app.order_parts(id).await.unwrap();

    // The same use cases over the contended store.
    let app = Agora::new(
        sim.client("a"),
        contended.clone(),
        Arc::new(SystemClock),
        AppConfig::default(),
    );

    // A status report: the other write lands first; the report is redone
    // on the file as the other process left it.
    contended.armed.store(1, Ordering::SeqCst);
    app.report_status(id, StateNature::new(StatusCode::Diagnosis, "diagnosis"))
        .await
        .unwrap();
    assert_eq!(
        contended.armed.load(Ordering::SeqCst),
        0,
        "the other write ran"
    );
    let file = app.repair(id).await.unwrap();
    assert_eq!(
        file.attention.as_deref(),
        Some("written by the other process")
    );
    assert!(
        file.file
            .state_natures
            .iter()
            .flatten()
            .any(|s| s.code == Some(StatusCode::Diagnosis)),
        "the report was lost"
    );

    // A tracking pass: the same.
    let order = file.orders[0].order_number.clone().unwrap();
    sim.set_logistic("a", &order, "208").unwrap();
    contended.armed.store(1, Ordering::SeqCst);
    let pass = app.track_part_orders(id).await.unwrap();
    assert!(pass.is_complete(), "{pass:?}");
    assert_eq!(
        contended.armed.load(Ordering::SeqCst),
        0,
        "the other write ran"
    );
    let file = app.repair(id).await.unwrap();
    assert_eq!(
        file.attention.as_deref(),
        Some("written by the other process")
    );
    assert_eq!(
        file.orders[0].status_code,
        Some(agora_domain::LogisticStatus::Shipped),
        "the tracked status was lost"
    );
}

/// Another process that keeps writing the file: the change is redone
/// `CONFLICT_RETRIES` times at most; one more write and the use case gives
/// up with `Conflict`, the file as the other process left it.
#[tokio::test]
async fn a_change_is_redone_conflict_retries_times_then_given_up() {
    let (_dir, sim, app, contended) = setup();
    sim.publish_mandate("a", work_order()).unwrap();
    let id = app.sync_work_orders().await.unwrap().accepted[0];
    app.update_file(id, |f| {
        f.parts = Some(vec![Part {
            reference: Some("00019-00000012".into()),
            quantity: Some(1),
            to_be_ordered: Some(true),
            ..Part::default()
        }]);
    })
    .await
    .unwrap();
    app.order_parts(id).await.unwrap();
    let app = Agora::new(
        sim.client("a"),
        contended.clone(),
        Arc::new(SystemClock),
        AppConfig::default(),
    );
    let reported = async |code: StatusCode| {
        app.repair(id)
            .await
            .unwrap()
            .file
            .state_natures
            .iter()
            .flatten()
            .any(|s| s.code.as_ref() == Some(&code))
    };
    let entries = async || {
        let mut n = 0;
        for state in [
            OutboxState::Pending,
            OutboxState::Sending,
            OutboxState::InDoubt,
            OutboxState::Delivered,
            OutboxState::Failed,
        ] {
            n += app.outbox(state).await.unwrap().len();
        }
        n
    };

    // A status report.
    contended.armed.store(CONFLICT_RETRIES, Ordering::SeqCst);
    app.report_status(id, StateNature::new(StatusCode::Diagnosis, "diagnosis"))
        .await
        .unwrap();
    assert_eq!(contended.armed.load(Ordering::SeqCst), 0);
    assert!(reported(StatusCode::Diagnosis).await);
    let before = entries().await;
    contended
        .armed
        .store(CONFLICT_RETRIES + 1, Ordering::SeqCst);
    let err = app
        .report_status(id, StateNature::new(StatusCode::RepairFinished, "done"))
        .await
        .unwrap_err();
    assert!(matches!(err, AgoraError::Conflict(_)), "{err}");
    assert_eq!(
        contended.armed.load(Ordering::SeqCst),
        0,
        "the first try and CONFLICT_RETRIES more"
    );
    assert!(!reported(StatusCode::RepairFinished).await);
    assert_eq!(entries().await, before, "nothing to send");

    // A tracking pass.
    let order = app.repair(id).await.unwrap().orders[0]
        .order_number
        .clone()
        .unwrap();
    sim.set_logistic("a", &order, "202").unwrap();
    contended.armed.store(CONFLICT_RETRIES, Ordering::SeqCst);
    assert!(app.track_part_orders(id).await.unwrap().is_complete());
    assert_eq!(contended.armed.load(Ordering::SeqCst), 0);
    let status = async || app.repair(id).await.unwrap().orders[0].status_code.clone();
    assert_eq!(
        status().await,
        Some(agora_domain::LogisticStatus::Unavailable)
    );
    sim.set_logistic("a", &order, "208").unwrap();
    contended
        .armed
        .store(CONFLICT_RETRIES + 1, Ordering::SeqCst);
    let err = app.track_part_orders(id).await.unwrap_err();
    assert!(matches!(err, AgoraError::Conflict(_)), "{err}");
    assert_eq!(contended.armed.load(Ordering::SeqCst), 0);
    assert_eq!(
        status().await,
        Some(agora_domain::LogisticStatus::Unavailable),
        "the other process's file stands"
    );
}
