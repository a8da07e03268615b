//! Events: every change agora observes or makes, recorded by the store in
//! the transaction of the change, with an increasing id. What each change
//! records is decided here, by pure functions every store calls at the
//! one place it writes that change (a repair file, a work order kept, an
//! outbox outcome, a catalog cursor), so that the stores agree.
//!
//! Ids increase in commit order: an event whose id is lower than another's
//! is visible no later than it, so that a reader that follows the stream
//! (`events_after(last)`) never skips one. SQLite has one writer at a time;
//! PostgreSQL serializes the transactions that record events with an
//! advisory transaction lock taken just before their events are inserted.

use agora_domain::lifecycle::ClaimState;
use agora_domain::{InterventionId, LogisticStatus, MandateLightResponse};
use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::error::AgoraError;
use crate::local::LocalRepair;
use crate::outbox::{Operation, OperationAnswer};

/// The kinds of events, by the name they are stored and printed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventType {
    /// A work order was pulled for the first time.
    WorkOrderReceived,
    /// A repair file was saved for the first time (from a work order, or
    /// created in AgoraPlus).
    RepairFileCreated,
    /// A whole-file update (statuses) was delivered to AgoraPlus.
    StatusDelivered,
    /// A part order line was placed.
    PartOrderPlaced,
    /// A part order line was shipped (208).
    PartOrderShipped,
    /// A part order line is unavailable (202).
    PartOrderUnavailable,
    /// A part order line was cancelled.
    PartOrderCancelled,
    /// A claim was created.
    ClaimCreated,
    /// A claim is NOTVALID (its messages in the data).
    ClaimNotValid,
    /// A claim is VALID.
    ClaimValid,
    /// The OEM found a claim NOTCONFORM.
    ClaimNotConform,
    /// The OEM accepted and closed a claim.
    ClaimClosedAccepted,
    /// An invoice reference was sent for a draft invoice.
    InvoiceReferenceSent,
    /// An operation may or may not have been applied: a person decides.
    OperationInDoubt,
    /// A catalog sync completed.
    CatalogSynced,
}

impl EventType {
    /// Every kind.
    pub const ALL: [Self; 15] = [
        Self::WorkOrderReceived,
        Self::RepairFileCreated,
        Self::StatusDelivered,
        Self::PartOrderPlaced,
        Self::PartOrderShipped,
        Self::PartOrderUnavailable,
        Self::PartOrderCancelled,
        Self::ClaimCreated,
        Self::ClaimNotValid,
        Self::ClaimValid,
        Self::ClaimNotConform,
        Self::ClaimClosedAccepted,
        Self::InvoiceReferenceSent,
        Self::OperationInDoubt,
        Self::CatalogSynced,
    ];

    /// The name it is stored and printed under (`claim.notvalid`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WorkOrderReceived => "work_order.received",
            Self::RepairFileCreated => "repair_file.created",
            Self::StatusDelivered => "status.delivered",
            Self::PartOrderPlaced => "part_order.placed",
            Self::PartOrderShipped => "part_order.shipped",
            Self::PartOrderUnavailable => "part_order.unavailable",
            Self::PartOrderCancelled => "part_order.cancelled",
            Self::ClaimCreated => "claim.created",
            Self::ClaimNotValid => "claim.notvalid",
            Self::ClaimValid => "claim.valid",
            Self::ClaimNotConform => "claim.notconform",
            Self::ClaimClosedAccepted => "claim.closedaccepted",
            Self::InvoiceReferenceSent => "invoice_reference.sent",
            Self::OperationInDoubt => "operation.in_doubt",
            Self::CatalogSynced => "catalog.synced",
        }
    }

    /// The kind named `name`; `None` for a name no agora writes.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event to record, in the transaction of its change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// What happened.
    pub kind: EventType,
    /// The repair file it concerns, if any.
    pub intervention_id: Option<InterventionId>,
    /// What there is to know, as JSON.
    pub data: Value,
}

impl NewEvent {
    fn new(kind: EventType, intervention_id: Option<InterventionId>, data: Value) -> Self {
        Self {
            kind,
            intervention_id,
            data,
        }
    }
}

/// An event as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its id: increasing in commit order.
    pub id: u64,
    /// What happened, by name (`claim.notvalid`; a newer agora's kinds
    /// read as they were written).
    pub kind: String,
    /// When it was recorded.
    pub at: Timestamp,
    /// The repair file it concerns, if any.
    pub intervention_id: Option<InterventionId>,
    /// What there is to know.
    pub data: Value,
}

/// The recorded events.
///
/// The contract, which every store implements and the conformance tests
/// check:
/// - the events of a change are written in the transaction of the change
///   (a change refused, a conflict, writes none);
/// - ids increase in commit order: once `events_after(n)` returned an
///   event `m`, no event with an id between `n` and `m` appears later.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Events: Send + Sync {
    /// Up to `limit` events with an id greater than `after`, by id.
    async fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>, AgoraError>;
}

fn claim_event(state: ClaimState) -> EventType {
    match state {
        ClaimState::NotValid => EventType::ClaimNotValid,
        ClaimState::Valid { .. } => EventType::ClaimValid,
        ClaimState::NotConform => EventType::ClaimNotConform,
        ClaimState::ClosedAccepted => EventType::ClaimClosedAccepted,
    }
}

/// The events of writing a repair file: `old` as stored before (`None`
/// for a new file), `new` as written. Its creation, its new order lines
/// and their logistic statuses, its claim's creation and each new claim
/// status (the file's attention, which says why, with it).
pub fn events_of_repair_write(old: Option<&LocalRepair>, new: &LocalRepair) -> Vec<NewEvent> {
    let id = Some(new.intervention_id);
    let mut events = Vec::new();
    if old.is_none() {
        events.push(NewEvent::new(
            EventType::RepairFileCreated,
            id,
            json!({
                "intervention_id": new.intervention_id,
                "mandate_id": new.mandate_id,
                "manufacturer_id": new.lifecycle.manufacturer,
            }),
        ));
    }
    let old_orders = old.map(|o| o.orders.as_slice()).unwrap_or_default();
    for line in &new.orders {
        let before = old_orders.iter().find(|o| o.same_line(line));
        let line_data = || {
            json!({
                "order_number": line.order_number,
                "reference": line.reference,
                "quantity": line.quantity,
                "status_code": line.status_code,
                "status_date": line.status_date,
            })
        };
        if before.is_none() {
            events.push(NewEvent::new(EventType::PartOrderPlaced, id, line_data()));
        }
        let status_before = before.and_then(|b| b.status_code.as_ref());
        if line.status_code.as_ref() != status_before {
            let kind = match line.status_code {
                Some(LogisticStatus::Shipped) => Some(EventType::PartOrderShipped),
                Some(LogisticStatus::Unavailable) => Some(EventType::PartOrderUnavailable),
                Some(LogisticStatus::Cancelled) => Some(EventType::PartOrderCancelled),
                _ => None,
            };
            events.extend(kind.map(|k| NewEvent::new(k, id, line_data())));
        }
    }
    let old_claim = old.and_then(|o| o.claim_id);
    if let (None, Some(claim)) = (old_claim, new.claim_id) {
        events.push(NewEvent::new(
            EventType::ClaimCreated,
            id,
            json!({ "claim_id": claim }),
        ));
    }
    let old_state = old.and_then(|o| o.lifecycle.claim);
    if let Some(state) = new.lifecycle.claim {
        let changed = old_state.map(ClaimState::last_status) != Some(state.last_status())
            // A resubmission judged again (NOTVALID twice) is news too.
            || (old.is_some_and(|o| o.attention != new.attention)
                && matches!(state, ClaimState::NotValid | ClaimState::NotConform));
        if changed {
            events.push(NewEvent::new(
                claim_event(state),
                id,
                json!({
                    "claim_id": new.claim_id,
                    "status": state.last_status().as_str(),
                    "messages": new.attention,
                }),
            ));
        }
    }
    events
}

/// The event of keeping a work order pulled for the first time.
pub fn event_of_work_order(
    mandate: &MandateLightResponse,
    intervention_id: Option<InterventionId>,
) -> NewEvent {
    NewEvent::new(
        EventType::WorkOrderReceived,
        intervention_id,
        json!({
            "mandate_id": mandate.mandate_id,
            "intervention_id": intervention_id,
            "manufacturer_id": mandate.manufacturer(),
        }),
    )
}

/// The events of an outbox entry delivered (or settled as applied) with
/// `answer`: a status update delivered, an invoice reference sent. (What
/// the answer changes in the repair files records its own events.)
pub fn events_of_delivery(
    entry: u64,
    operation: &Operation,
    intervention_id: Option<InterventionId>,
    answer: &OperationAnswer,
) -> Vec<NewEvent> {
    let _ = answer;
    match operation {
        Operation::UpdateRepair(file) => {
            let statuses: Vec<String> = file
                .state_natures
                .iter()
                .flatten()
                .filter_map(|s| s.code.as_ref().map(ToString::to_string))
                .collect();
            vec![NewEvent::new(
                EventType::StatusDelivered,
                intervention_id,
                json!({ "entry": entry, "statuses": statuses }),
            )]
        }
        Operation::SendInvoiceReference { reference, claims } => vec![NewEvent::new(
            EventType::InvoiceReferenceSent,
            intervention_id,
            json!({
                "entry": entry,
                "invoice_number": reference.invoice_number,
                "draft_invoice_number": reference.draft_invoice_number,
                "claims": claims,
            }),
        )],
        _ => Vec::new(),
    }
}

/// The event of an outbox entry parked in doubt.
pub fn event_of_doubt(
    entry: u64,
    operation: &Operation,
    intervention_id: Option<InterventionId>,
    why: &str,
) -> NewEvent {
    NewEvent::new(
        EventType::OperationInDoubt,
        intervention_id,
        json!({ "entry": entry, "operation": operation.name(), "error": why }),
    )
}

/// The event of a catalog sync completed: its cursor `key` moved to `at`.
pub fn event_of_catalog_sync(key: &str, at: Timestamp) -> NewEvent {
    NewEvent::new(
        EventType::CatalogSynced,
        None,
        json!({ "cursor": key, "at": at.to_string() }),
    )
}
