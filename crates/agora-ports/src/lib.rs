//! # agora-ports
//!
//! The ports of agora's hexagon: the async traits through which the use
//! cases reach AgoraPlus ([`Mandates`], [`Repairs`], [`PartOrders`],
//! [`Claims`], [`Invoices`], [`Catalog`]) and keep local state
//! ([`RepairFiles`], [`SyncCursors`], [`Outbox`], [`CatalogStore`],
//! [`JobLeases`], [`Events`], [`WebhookDeliveries`], [`Retention`]), a
//! [`Clock`], and the one error type they share, [`AgoraError`], which says
//! whether a failure is worth retrying and whether a call is *in doubt*.
//!
//! It holds contracts, not implementations: the HTTP client
//! (`agora-http`), the in-memory simulator (`agora-mock`) and the SQLite
//! store implement them. With the `mock` feature, every trait has a mockall
//! mock (`MockMandates`, …) for tests where the order of calls is the point.

mod error;
mod events;
mod jobs;
mod local;
mod metering;
mod outbox;
mod remote;
mod webhooks;

pub use error::{AgoraError, Cause, Reach, ServiceMessage};
pub use events::{
    Event, EventType, Events, NewEvent, event_of_catalog_sync, event_of_doubt, event_of_work_order,
    events_of_delivery, events_of_repair_write,
};
pub use jobs::JobLeases;
pub use local::{
    CatalogStore, Clock, CursorMove, KeptWorkOrder, LocalRepair, RepairFiles, SyncCursors,
    SystemClock,
};
pub use metering::{CallMeter, CallOutcome};
pub use outbox::{
    Attempt, Finish, Guard, Lease, Operation, OperationAnswer, Outbox, OutboxEntry, OutboxState,
    Outcome, ParkReason, Parking, RepairKey, Settlement, answer_touches, apply_answer,
    blocked_behind, check_settlement, claimed_together, collapses_into, duplicate_note,
    judge_finish, lands_until, parking, resend_not_before,
};
pub use remote::{
    AgoraPlus, BomLookup, Catalog, ClaimSubmission, Claims, DeltaQuery, DeltaSummary, Invoices,
    Mandates, PartOrders, RecordStream, Records, Repairs, Reply, VecRecords, bom_by_reference,
    collect_records,
};
pub use webhooks::{
    DEFAULT_TOLERANCE, DeliveryOutcome, DeliveryState, FailedDelivery, Pruned, Retention,
    SIGNATURE_HEADER, SendFailure, SignatureError, WebhookBacklog, WebhookDeliveries,
    WebhookDelivery, WebhookEndpoint, WebhookRetry, WebhookSecret, WebhookSender, is_loopback_host,
    sign, signature_v1, verify_signature, webhook_body,
};

#[cfg(feature = "mock")]
pub use events::MockEvents;
#[cfg(feature = "mock")]
pub use jobs::MockJobLeases;
#[cfg(feature = "mock")]
pub use local::{MockCatalogStore, MockClock, MockRepairFiles, MockSyncCursors};
#[cfg(feature = "mock")]
pub use outbox::MockOutbox;
#[cfg(feature = "mock")]
pub use remote::{
    MockCatalog, MockClaims, MockInvoices, MockMandates, MockPartOrders, MockRepairs,
};
#[cfg(feature = "mock")]
pub use webhooks::{MockRetention, MockWebhookDeliveries};
