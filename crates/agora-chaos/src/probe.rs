//! The worker's store, seen by the harness: [`Probe`] hands every call to
//! the shared store and, when the harness has armed a named point
//! ([`Point`]), reports it as the worker passes it and waits there for the
//! harness (which kills the worker, or pauses it and lets it go on). The
//! use cases of `agora-app` run unchanged over it: the points are where
//! their calls to the store begin or end.
//!
//! - [`Point::Saved`]: `save_with_operation` committed a file with its
//!   outbox entry;
//! - [`Point::Claimed`]: `claim` or `claim_due` committed a lease;
//! - [`Point::Sent`]: `finish` (or `finish_all`) is called, so the call
//!   to AgoraPlus has ended, and its outcome is not recorded yet;
//! - [`Point::Recording`]: `finish` (or `finish_all`) starts writing; the worker does not
//!   wait, the harness kills it as the write goes.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agora_domain::{ClaimId, InterventionId, MandateId, MandateLightResponse};
use agora_ports::{
    AgoraError, Attempt, Finish, Guard, KeptWorkOrder, Lease, LocalRepair, Operation, Outbox,
    OutboxEntry, OutboxState, Outcome, RepairFiles, Settlement,
};
use agora_store::Store;
use async_trait::async_trait;
use jiff::Timestamp;

use crate::events::{Event, Point};

/// How long a worker waits at a point for the harness before going on.
const WAIT_AT_POINT: Duration = Duration::from_secs(10);

/// Where a worker's events go, shared by the worker and its store.
pub type Out = Arc<Mutex<Box<dyn Write + Send>>>;

/// Writes one event line (and flushes it).
pub fn emit(out: &Out, event: &Event) -> Result<(), String> {
    let mut out = out
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    writeln!(out, "{}", event.line())
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to the harness: {e}"))
}

/// What the harness told the worker on its standard input: the point it is
/// armed at, and whether it may go on.
#[derive(Debug, Default)]
pub struct Orders {
    /// The armed point (`Point::ALL` index + 1), 0 when none.
    armed: AtomicU8,
    /// Set by `go`: the worker waiting at a point goes on.
    released: AtomicBool,
}

impl Orders {
    /// Reads the harness's orders from `input` (the worker's standard
    /// input) on a thread of its own: `arm POINT` and `go`.
    pub fn listen(input: impl std::io::Read + Send + 'static) -> Arc<Self> {
        let orders = Arc::new(Self::default());
        let shared = orders.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(input).lines() {
                let Ok(line) = line else { return };
                let line = line.trim();
                if line == "go" {
                    shared.released.store(true, Ordering::SeqCst);
                } else if let Some(p) = line.strip_prefix("arm ").and_then(Point::from_name) {
                    shared.released.store(false, Ordering::SeqCst);
                    shared.armed.store(index(p), Ordering::SeqCst);
                }
            }
        });
        orders
    }

    /// Whether `point` is armed; disarms it when it is.
    fn take(&self, point: Point) -> bool {
        self.armed
            .compare_exchange(index(point), 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }
}

fn index(p: Point) -> u8 {
    Point::ALL
        .iter()
        .position(|q| *q == p)
        .map_or(0, |i| i as u8 + 1)
}

/// The worker's link to the harness at the points.
#[derive(Clone)]
pub struct Hook {
    /// Where its events go.
    pub out: Out,
    /// What the harness told it.
    pub orders: Arc<Orders>,
}

/// The shared store, with the harness's points.
pub struct Probe {
    store: Store,
    hook: Option<Hook>,
}

impl Probe {
    /// `store`, reporting its points through `hook` (none: a plain store).
    pub fn new(store: Store, hook: Option<Hook>) -> Self {
        Self { store, hook }
    }

    /// Reports `point` when armed and, unless it is `Recording`, waits
    /// there (blocking the worker's thread, as a process stopped there
    /// would be) until the harness says `go` or the wait runs out.
    fn pass(&self, point: Point) {
        let Some(hook) = &self.hook else { return };
        if !hook.orders.take(point) {
            return;
        }
        if emit(&hook.out, &Event::At { point }).is_err() || point == Point::Recording {
            return;
        }
        let started = Instant::now();
        while !hook.orders.released.swap(false, Ordering::SeqCst)
            && started.elapsed() < WAIT_AT_POINT
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

#[async_trait]
impl RepairFiles for Probe {
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
        let saved = self
            .store
            .save_with_operation(repair, operation, now)
            .await?;
        if saved.is_some() {
            self.pass(Point::Saved);
        }
        Ok(saved)
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
impl Outbox for Probe {
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
        let claimed = self.store.claim_due(now, lease, limit).await?;
        if !claimed.is_empty() {
            self.pass(Point::Claimed);
        }
        Ok(claimed)
    }
    async fn claim(
        &self,
        id: u64,
        now: Timestamp,
        lease: &Lease,
    ) -> Result<Option<OutboxEntry>, AgoraError> {
        let claimed = self.store.claim(id, now, lease).await?;
        if claimed.is_some() {
            self.pass(Point::Claimed);
        }
        Ok(claimed)
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
        self.pass(Point::Sent);
        self.pass(Point::Recording);
        self.store.finish(id, owner, attempt_no, attempt, now).await
    }
    async fn finish_all(&self, outcomes: &[Outcome]) -> Result<Vec<Finish>, AgoraError> {
        self.pass(Point::Sent);
        self.pass(Point::Recording);
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
    async fn delivered_before(
        &self,
        file: InterventionId,
        before: u64,
    ) -> Result<Vec<OutboxEntry>, AgoraError> {
        self.store.delivered_before(file, before).await
    }
    async fn recover_expired(
        &self,
        now: Timestamp,
        window: std::time::Duration,
    ) -> Result<Vec<u64>, AgoraError> {
        self.store.recover_expired(now, window).await
    }
    async fn clock(&self) -> Result<Option<Timestamp>, AgoraError> {
        self.store.clock().await
    }
}
