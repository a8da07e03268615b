//! # agora-app
//!
//! The use cases in-house products link, generic over the ports of
//! `agora-ports`: sync work orders, report progress, order and track parts,
//! submit and track claims, register invoices, sync the catalog, look up a
//! BOM, and the outbox dispatcher that delivers what they write.
//!
//! Its promise: whatever the network does, no work order, status update or
//! claim is lost, and none is sent twice. Every change is written to the
//! local store (with its outbox entry, in one transaction) before it is
//! sent; idempotent operations are retried with backoff; a state-changing
//! operation whose outcome is unknown is parked *in doubt* for a person,
//! never resent on its own.
//!
//! It holds no adapter: the HTTP client, the simulator and the SQLite store
//! plug in from outside.

mod agora;
mod catalog;
mod checked;
mod claims;
mod outbox;
mod progress;
mod report;
mod tracking;
mod work_orders;

pub use agora::{Agora, AppConfig, LocalStore};
pub use agora_ports::OperationAnswer;
pub use catalog::{CatalogKind, CatalogSync, Write, pipelined};
pub use checked::Checked;
pub use claims::ClaimOutcome;
pub use outbox::{Delivery, FlushReport, Resolution};
pub use progress::CONFLICT_RETRIES;
pub use report::{Pass, Step, StepFailure, Warning};
pub use tracking::{ClaimUpdate, FileOrders};
pub use work_orders::WorkOrderSync;
