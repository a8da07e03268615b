//! What a worker tells the harness: one JSON object per line on its
//! standard output, written as things happen, so that the harness knows
//! each worker's progress (and when to kill it) even if it dies mid-way.

use serde::{Deserialize, Serialize};

/// The kinds of operations the workers drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// The OEM publishes work orders; `sync_work_orders` pulls them (auto-accept).
    WorkOrders,
    /// `update_file`: appliance details, or the part to order.
    UpdateFile,
    /// `report_status`.
    ReportStatus,
    /// `order_parts`.
    OrderParts,
    /// The OEM ships; `track_part_orders`.
    TrackOrders,
    /// `submit_claim`, creating the claim.
    CreateClaim,
    /// `submit_claim`, correcting it.
    CorrectClaim,
    /// The OEM decides on a claim; `track_claims`.
    OemDecision,
    /// The OEM issues a draft invoice; `register_invoice`.
    RegisterInvoice,
    /// `recover` and `flush_outbox`.
    Flush,
    /// The operator resolves an entry in doubt (`resolve`).
    Resolve,
}

impl OpKind {
    /// Whether the operation writes an outbox entry and sends it: a kill
    /// during it may leave the entry claimed, mid-send.
    pub fn sends(self) -> bool {
        matches!(
            self,
            OpKind::UpdateFile
                | OpKind::ReportStatus
                | OpKind::OrderParts
                | OpKind::CreateClaim
                | OpKind::CorrectClaim
                | OpKind::RegisterInvoice
        )
    }

    /// Every kind, in table order.
    pub const ALL: [OpKind; 11] = [
        OpKind::WorkOrders,
        OpKind::UpdateFile,
        OpKind::ReportStatus,
        OpKind::OrderParts,
        OpKind::TrackOrders,
        OpKind::CreateClaim,
        OpKind::CorrectClaim,
        OpKind::OemDecision,
        OpKind::RegisterInvoice,
        OpKind::Flush,
        OpKind::Resolve,
    ];

    /// The name shown in the table.
    pub fn label(self) -> &'static str {
        match self {
            OpKind::WorkOrders => "work orders (publish, pull, auto-accept)",
            OpKind::UpdateFile => "file updates",
            OpKind::ReportStatus => "status reports",
            OpKind::OrderParts => "part orders",
            OpKind::TrackOrders => "order tracking (after shipping)",
            OpKind::CreateClaim => "claims created",
            OpKind::CorrectClaim => "claim corrections",
            OpKind::OemDecision => "OEM decisions and claim tracking",
            OpKind::RegisterInvoice => "invoice references (draft issued)",
            OpKind::Flush => "outbox flushes (with recovery)",
            OpKind::Resolve => "doubts resolved during the run",
        }
    }
}

/// How an operation ended, as the worker saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its outbox entry was delivered at once, or the read succeeded.
    Done,
    /// Queued for a later delivery (AgoraPlus unavailable, or an earlier
    /// entry of the file goes first).
    Queued,
    /// Parked in doubt.
    InDoubt,
    /// Refused by AgoraPlus.
    Failed,
    /// The outbox refused a second open creation for the same thing: the
    /// contract working.
    RefusedOpenCreation,
    /// Refused by a local rule (the file moved on meanwhile).
    RefusedLocally,
    /// Another process wrote the file meanwhile, and the change was not
    /// redone.
    Conflict,
    /// AgoraPlus failed a read or a call outside the outbox (tracking, work
    /// orders) even after the client's retries.
    AgoraPlusError,
    /// The local store failed.
    StoreError,
    /// Resolved as applied.
    ResolvedApplied,
    /// Resolved to be sent again.
    ResolvedResend,
    /// Nothing to do (resolved by another worker meanwhile, nothing to
    /// invoice…).
    Nothing,
}

impl Outcome {
    /// Every outcome, in table order.
    pub const ALL: [Outcome; 12] = [
        Outcome::Done,
        Outcome::Queued,
        Outcome::InDoubt,
        Outcome::Failed,
        Outcome::RefusedOpenCreation,
        Outcome::RefusedLocally,
        Outcome::Conflict,
        Outcome::AgoraPlusError,
        Outcome::StoreError,
        Outcome::ResolvedApplied,
        Outcome::ResolvedResend,
        Outcome::Nothing,
    ];

    /// The name shown in the table.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Queued => "queued",
            Outcome::InDoubt => "in doubt",
            Outcome::Failed => "failed",
            Outcome::RefusedOpenCreation => "refused: creation open",
            Outcome::RefusedLocally => "refused locally",
            Outcome::Conflict => "conflict",
            Outcome::AgoraPlusError => "AgoraPlus error",
            Outcome::StoreError => "store error",
            Outcome::ResolvedApplied => "resolved applied",
            Outcome::ResolvedResend => "resolved resend",
            Outcome::Nothing => "nothing to do",
        }
    }
}

/// A named point inside an operation where the harness may kill (or
/// pause) a worker: the worker's store reports it as it passes
/// (`crate::worker::Probe`), when the harness has armed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Point {
    /// The repair file and its outbox entry are saved (committed), nothing
    /// sent yet.
    Saved,
    /// An outbox entry is claimed (the lease committed), not sent yet.
    Claimed,
    /// The call is answered (or failed), its outcome not recorded yet.
    Sent,
    /// The outcome is being recorded (the kill lands in or just after the
    /// store's write).
    Recording,
}

impl Point {
    /// Every point, in the order of an attempt.
    pub const ALL: [Point; 4] = [Point::Saved, Point::Claimed, Point::Sent, Point::Recording];

    /// Its name on the wire between the harness and a worker.
    pub fn name(self) -> &'static str {
        match self {
            Point::Saved => "saved",
            Point::Claimed => "claimed",
            Point::Sent => "sent",
            Point::Recording => "recording",
        }
    }

    /// The point of a name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// What the report calls a kill there.
    pub fn label(self) -> &'static str {
        match self {
            Point::Saved => "after the save commits",
            Point::Claimed => "after the claim commits",
            Point::Sent => "after the send, before the answer is recorded",
            Point::Recording => "inside recording",
        }
    }
}

/// One line of a worker's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// Start-up recovery took back the expired leases of a killed worker.
    Recovered {
        /// Entries put in doubt.
        in_doubt: usize,
        /// Idempotent entries requeued.
        requeued: usize,
    },
    /// A work order was published to AgoraPlus (as the OEM).
    Published,
    /// An operation starts (a kill may land in it).
    Begin {
        /// What it is.
        kind: OpKind,
    },
    /// An operation ended; `n` counts the slot's operations so far.
    Op {
        /// Operations of the slot so far, this one included.
        n: u64,
        /// What it was.
        kind: OpKind,
        /// How it ended.
        outcome: Outcome,
    },
    /// The worker reached the point it was armed at; unless it is
    /// `Recording`, it waits there for the harness (a kill, or a pause and
    /// `go`).
    At {
        /// Which.
        point: Point,
    },
    /// The worker spent its budget; it exits.
    Done,
}

impl Event {
    /// The line written for it.
    pub fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a line; `None` for anything else (a stray message).
    pub fn parse(line: &str) -> Option<Self> {
        serde_json::from_str(line).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_a_line() {
        for e in [
            Event::Recovered {
                in_doubt: 2,
                requeued: 1,
            },
            Event::Published,
            Event::Begin {
                kind: OpKind::CreateClaim,
            },
            Event::Op {
                n: 7,
                kind: OpKind::OrderParts,
                outcome: Outcome::RefusedOpenCreation,
            },
            Event::At {
                point: Point::Claimed,
            },
            Event::Done,
        ] {
            assert_eq!(Event::parse(&e.line()), Some(e));
        }
        assert_eq!(Event::parse("thread panicked"), None);
        for p in Point::ALL {
            assert_eq!(Point::from_name(p.name()), Some(p));
        }
    }
}
