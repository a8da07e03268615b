//! # agora-app
//!
//! The use cases in-house products link, generic over the ports of
//! `agora-ports`: sync work orders, report progress, order and track parts,
//! submit and track claims, register invoices, sync the catalog, look up a
//! BOM, and the outbox dispatcher that delivers what they write; the
//! worker's loops (`Watch`: the use cases on intervals, webhooks,
//! retention) and the events as a typed stream (`Agora::events_from`).
//!
//! Its promise: whatever the network does, no work order, status update or
//! claim is lost, and none is sent twice. Every change is written to the
//! local store (with its outbox entry, in one transaction) before it is
//! sent; idempotent operations are retried with backoff; a state-changing
//! operation whose outcome is unknown is parked *in doubt* for a person,
//! never resent on its own.
//!
//! It holds no adapter: the HTTP client, the simulator and a store (SQLite
//! or PostgreSQL) plug in from outside. A product depends on `agora-app`,
//! `agora-http` and the store it picks; `examples/product.rs` wires them:
//!
//! ```sh
//! agora sim &    # or any AgoraPlus
//! AGORA_BASE_URL=http://127.0.0.1:8787 AGORA_API_KEY=demo cargo run -p agora-app --example product
//! ```

mod answers;
mod catalog;
mod checked;
mod claims;
mod doctor;
mod events;
mod hub;
mod metrics;
mod month_end;
mod outbox;
mod progress;
mod report;
mod tracking;
mod watch;
mod work_orders;

pub use hub::{Agora, AppConfig, LocalStore};
// What a product wiring the use cases needs besides an adapter of each
// side: the error, the clock, and the vocabulary and ports crates.
pub use agora_domain as domain;
pub use agora_ports as ports;
pub use agora_ports::{AgoraError, Clock, OperationAnswer, SystemClock};
pub use catalog::{CatalogKind, CatalogSync, Write, pipelined};
pub use checked::Checked;
pub use claims::ClaimOutcome;
pub use doctor::{Checkup, Mend, MendKind};
pub use metrics::{Gauges, Health, LoopHealth, WatchMetrics};
pub use month_end::{DEFAULT_MONTH_ZONE, MonthEnd, MonthEndReport};
pub use outbox::{CLAIM_BATCH, Delivery, FlushReport, Resolution};
pub use progress::CONFLICT_RETRIES;
pub use report::{Pass, Step, StepFailure, Warning};
pub use tracking::{ClaimUpdate, FileOrders};
pub use watch::{
    CatalogJob, Job, Notice, RetentionConfig, Stop, Watch, WatchConfig, WatchReport, WebhookConfig,
    WebhookReport,
};
pub use work_orders::WorkOrderSync;
