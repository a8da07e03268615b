//! The local-state ports the use cases keep their state in: repair files,
//! sync cursors, an outbox of pending operations and a catalog store; and
//! the clock. `agora-store-sqlite` implements them durably.

use agora_domain::lifecycle::RepairLifecycle;
use agora_domain::{
    ClaimId, CompleteRepairState, InterventionId, InvoiceReference, Lcid, MandateId,
    ManufacturerId, PartOrderLine, Product, SparePart, WarrantyClaim,
};
use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::AgoraError;

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
}

/// Local repair files.
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
    /// (due at once): either both are kept or neither. Returns the entry's id.
    async fn save_with_operation(
        &self,
        repair: &LocalRepair,
        operation: Option<Operation>,
        now: Timestamp,
    ) -> Result<Option<u64>, AgoraError>;
}

/// Durable cursors of incremental syncs, by key (`spareparts/19/1033`).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SyncCursors: Send + Sync {
    /// The cursor, if any.
    async fn cursor(&self, key: &str) -> Result<Option<Timestamp>, AgoraError>;
    /// Sets the cursor.
    async fn set_cursor(&self, key: &str, at: Timestamp) -> Result<(), AgoraError>;
}

/// An operation waiting to be delivered to AgoraPlus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Operation {
    /// `UpdateRepair` with the whole file (idempotent).
    UpdateRepair(CompleteRepairState),
    /// `CreateRepair` (not idempotent).
    CreateRepair(CompleteRepairState),
    /// `PlaceRepairSparepartOrder` (not idempotent).
    PlaceOrder(InterventionId),
    /// `CreateWarrantyClaims` (not idempotent).
    CreateClaim {
        /// The claim.
        claim: WarrantyClaim,
        /// Message language.
        language: Lcid,
        /// `transferIfValid`.
        transfer_if_valid: bool,
    },
    /// `UpdateWarrantyClaim` (a whole-claim correction: idempotent).
    UpdateClaim {
        /// The claim, with its `ClaimID`.
        claim: WarrantyClaim,
        /// Message language.
        language: Lcid,
        /// `transferIfValid`.
        transfer_if_valid: bool,
    },
    /// `CreateeInvoice` (not idempotent), with the claims the draft pays.
    SendInvoiceReference {
        /// The invoice number and the draft it answers.
        reference: InvoiceReference,
        /// The claims of the draft (to mark them invoiced once sent).
        claims: Vec<ClaimId>,
    },
}

impl Operation {
    /// The AgoraPlus operation's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::UpdateRepair(_) => "UpdateRepair",
            Self::CreateRepair(_) => "CreateRepair",
            Self::PlaceOrder(_) => "PlaceRepairSparepartOrder",
            Self::CreateClaim { .. } => "CreateWarrantyClaims",
            Self::UpdateClaim { .. } => "UpdateWarrantyClaim",
            Self::SendInvoiceReference { .. } => "CreateeInvoice",
        }
    }

    /// Whether sending it twice has the effect of sending it once.
    pub fn is_idempotent(&self) -> bool {
        matches!(self, Self::UpdateRepair(_) | Self::UpdateClaim { .. })
    }
}

/// Where an outbox entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OutboxState {
    /// Waiting for delivery (first try or a retry).
    Pending,
    /// An attempt is under way. Found so after a crash, a non-idempotent
    /// operation is in doubt (it may have reached AgoraPlus).
    Sending,
    /// Delivered.
    Delivered,
    /// May have been applied: never resent automatically; a person resolves it.
    InDoubt,
    /// Refused by AgoraPlus: will not succeed as it is.
    Failed,
}

/// One entry of the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// Its id, increasing with insertion.
    pub id: u64,
    /// The repair file it concerns, if any.
    pub intervention_id: Option<InterventionId>,
    /// The operation.
    pub operation: Operation,
    /// Where it stands.
    pub state: OutboxState,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When it may be tried next.
    pub next_attempt_at: Timestamp,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: Timestamp,
}

/// The outbox: operations are written here first, then delivered.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Adds an operation, due at once; returns its id.
    async fn enqueue(
        &self,
        intervention_id: Option<InterventionId>,
        operation: &Operation,
        now: Timestamp,
    ) -> Result<u64, AgoraError>;
    /// Pending entries due at `now`, oldest first, at most `limit`.
    async fn due(&self, now: Timestamp, limit: usize) -> Result<Vec<OutboxEntry>, AgoraError>;
    /// Entries in a state, oldest first.
    async fn entries(&self, state: OutboxState) -> Result<Vec<OutboxEntry>, AgoraError>;
    /// One entry.
    async fn entry(&self, id: u64) -> Result<Option<OutboxEntry>, AgoraError>;
    /// Moves an entry to a state: `Sending` before an attempt (counting it),
    /// then the outcome, with when to try next and the error.
    async fn record_attempt(
        &self,
        id: u64,
        state: OutboxState,
        next_attempt_at: Timestamp,
        error: Option<String>,
    ) -> Result<(), AgoraError>;
    /// After a crash: entries left `Sending` become `Pending` when
    /// idempotent, `InDoubt` otherwise. Returns the ids put in doubt.
    async fn recover_interrupted(&self) -> Result<Vec<u64>, AgoraError>;
}

/// The local catalog: upserts by key, in batches.
///
/// Writes apply in the order their futures are first polled, even when a
/// caller holds two at once: a sync queues the next batch's write before
/// awaiting the current one, and a later record must win over an earlier
/// one with the same key.
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
    ) -> Result<u64, AgoraError>;
    /// Inserts or replaces products by (OEM, language, `CommercialRef`).
    async fn upsert_products(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
        batch: Vec<Product>,
    ) -> Result<u64, AgoraError>;
    /// How many spare parts are stored for an OEM and language.
    async fn count_spare_parts(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
    ) -> Result<u64, AgoraError>;
}
