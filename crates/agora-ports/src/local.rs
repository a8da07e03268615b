//! The local-state ports the use cases keep their state in: repair files,
//! sync cursors and a catalog store; and the clock. The outbox has a module
//! of its own (`outbox`). `agora-store-sqlite` implements them durably.

use agora_domain::lifecycle::RepairLifecycle;
use agora_domain::{
    ClaimId, CompleteRepairState, InterventionId, Lcid, MandateId, MandateLightResponse,
    ManufacturerId, PartOrderLine, Product, SparePart,
};
use async_trait::async_trait;
use jiff::Timestamp;

use crate::error::AgoraError;
use crate::outbox::Operation;

/// Reads the time. The one place a product's time comes from, so tests
/// control it.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the system clock
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A repair file as kept locally, with where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalRepair {
    /// The repair file's id in AgoraPlus.
    pub intervention_id: InterventionId,
    /// The work order it came from.
    pub mandate_id: Option<MandateId>,
    /// The whole file, as last sent or received (unknown fields included).
    pub file: CompleteRepairState,
    /// Where the repair and its claim stand.
    pub lifecycle: RepairLifecycle,
    /// The claim, once created.
    pub claim_id: Option<ClaimId>,
    /// The file's spare-part order lines, with their logistic status.
    pub orders: Vec<PartOrderLine>,
    /// Why a person should look at it (a NOTCONFORM comment…), if so.
    pub attention: Option<String>,
    /// The store's revision of the file: 0 for a file never stored, then
    /// raised by each write. A write of a copy whose revision has moved on
    /// (another process wrote the file since it was read) is refused with
    /// [`AgoraError::Conflict`]: read again and redo the change.
    pub revision: u64,
    /// The work order as AgoraPlus sent it, unknown fields included; `None`
    /// for a file created here (or saved before work orders were kept).
    pub work_order: Option<MandateLightResponse>,
    /// When agora first saw the file's claim CLOSEDACCEPTED (the month
    /// end's month of the claim); `None` while it is not, or for a file
    /// accepted before agora kept the time and without a recorded event.
    /// Kept by every later write: the first time stays.
    pub accepted_at: Option<Timestamp>,
}

/// A work order as pulled from AgoraPlus, kept whole whether accepted or
/// not ([`RepairFiles::keep_work_order`]).
#[derive(Debug, Clone, PartialEq)]
pub struct KeptWorkOrder {
    /// The work order as AgoraPlus sent it, unknown fields included.
    pub mandate: MandateLightResponse,
    /// The repair file it became once accepted; `None` while it awaits
    /// acceptance (auto-accept off) or was refused.
    pub intervention_id: Option<InterventionId>,
    /// When it was last pulled.
    pub seen_at: Timestamp,
}

/// Local repair files, and the work orders pulled.
///
/// Every write compares the file's [`LocalRepair::revision`] with the
/// stored one and MUST fail with [`AgoraError::Conflict`] when they differ
/// (a lost update otherwise); a file with revision 0 that already exists is
/// a conflict too. The stored revision is raised by one per write.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RepairFiles: Send + Sync {
    /// Inserts or replaces the file with this `intervention_id`.
    async fn upsert_repair(&self, repair: &LocalRepair) -> Result<(), AgoraError>;
    /// The file with this id.
    async fn repair(&self, id: InterventionId) -> Result<Option<LocalRepair>, AgoraError>;
    /// The file created from this work order.
    async fn repair_by_mandate(&self, id: MandateId) -> Result<Option<LocalRepair>, AgoraError>;
    /// The file of this claim.
    async fn repair_by_claim(&self, id: ClaimId) -> Result<Option<LocalRepair>, AgoraError>;
    /// Every file, by id.
    async fn repairs(&self) -> Result<Vec<LocalRepair>, AgoraError>;
    /// Saves the file and, in the same transaction, enqueues an operation
    /// (due at once): either both are kept or neither. Returns the entry's
    /// id. The operation is refused as [`crate::Outbox::enqueue`] refuses it,
    /// and a whole-file update is written into the file's pending update as
    /// it does ([`crate::collapses_into`]): the id is then that entry's.
    async fn save_with_operation(
        &self,
        repair: &LocalRepair,
        operation: Option<Operation>,
        now: Timestamp,
    ) -> Result<Option<u64>, AgoraError>;
    /// Keeps a work order as pulled, by its `MandateId` (one without is
    /// not kept): inserted, or replaced by the later copy. A repair file
    /// once given stays: a later copy without one (pulled again while
    /// NEW) does not take it away.
    async fn keep_work_order(
        &self,
        mandate: &MandateLightResponse,
        intervention_id: Option<InterventionId>,
        seen_at: Timestamp,
    ) -> Result<(), AgoraError>;
    /// The work order with this id, if kept.
    async fn work_order(&self, id: MandateId) -> Result<Option<KeptWorkOrder>, AgoraError>;
    /// Every work order kept, by `MandateId`.
    async fn work_orders(&self) -> Result<Vec<KeptWorkOrder>, AgoraError>;
}

/// Durable cursors of incremental syncs, by key (`spareparts/19/1033`).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SyncCursors: Send + Sync {
    /// The cursor, if any.
    async fn cursor(&self, key: &str) -> Result<Option<Timestamp>, AgoraError>;
    /// Moves the cursor to `at`, never back: a time earlier than the
    /// stored one is ignored (of two syncs of one OEM that overlap, the
    /// one that started first may end last).
    async fn set_cursor(&self, key: &str, at: Timestamp) -> Result<(), AgoraError>;
}

/// A sync cursor that moves with a catalog batch: the batch that completes
/// a sync carries it, and the store writes both in one transaction, so the
/// cursor never runs ahead of the records it vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorMove {
    /// The cursor's key ([`SyncCursors`]).
    pub key: String,
    /// Its new value.
    pub at: Timestamp,
}

/// The local catalog: upserts by key, in batches.
///
/// Writes apply in the order their futures are first polled, even when a
/// caller holds two at once: a sync queues the next batch's write before
/// awaiting the current one, and a later record must win over an earlier
/// one with the same key (also within one batch).
///
/// A batch given a [`CursorMove`] sets that cursor in the transaction that
/// stores the batch (an empty batch may carry one): either both are kept
/// or neither. The cursor moves only forward, as [`SyncCursors::set_cursor`].
///
/// Each batch says when the sync it belongs to started (`as_of`); a stored
/// record is replaced only by one of a sync that started no earlier, so
/// that of two syncs of one OEM at once, the one that started first never
/// overwrites the newer records of the other, whatever order their batches
/// land in.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Inserts or replaces spare parts by (OEM, language, `Reference`).
    /// Takes the batch by value: a store may hand it to another thread.
    async fn upsert_spare_parts(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
        batch: Vec<SparePart>,
        as_of: Timestamp,
        completes: Option<CursorMove>,
    ) -> Result<u64, AgoraError>;
    /// Inserts or replaces products by (OEM, language, `CommercialRef`).
    async fn upsert_products(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
        batch: Vec<Product>,
        as_of: Timestamp,
        completes: Option<CursorMove>,
    ) -> Result<u64, AgoraError>;
    /// How many spare parts are stored for an OEM and language.
    async fn count_spare_parts(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
    ) -> Result<u64, AgoraError>;
}
