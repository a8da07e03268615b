//! The outbox's decisions about time and attempts, as pure functions every
//! store calls inside the transaction that acts on them: whose outcome is
//! recorded ([`judge_finish`]), when a person may resend or abandon an
//! entry ([`check_settlement`], [`lands_until`]), which entries wait
//! behind an earlier one of their repair file ([`blocked_behind`]), and how
//! the newest version of a repair file is the last to land in AgoraPlus
//! ([`collapses_into`], [`resend_not_before`]).
//!
//! What they assume: an attempt is sent right after it is claimed (its
//! `sent_at`); the dispatcher gives up on a send after the request timeout;
//! AgoraPlus applies a request it received within the grace after that, or
//! never; the clocks of the processes sharing a store agree within the
//! grace.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use agora_domain::InterventionId;

use super::{Attempt, Operation, OperationAnswer, OutboxEntry, OutboxState, Settlement};
use crate::error::AgoraError;

/// Why an entry was parked (in doubt or failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ParkReason {
    /// Its effect on AgoraPlus is unknown: the answer was lost, the send
    /// timed out, or its sender stopped mid-send.
    InDoubt,
    /// Given up without AgoraPlus saying it did not apply it (retries
    /// exhausted, or a failure that will recur).
    GaveUp,
    /// AgoraPlus answered that it did not apply it.
    Refused,
    /// A person dropped it.
    Abandoned,
    /// The stored entry could not be read.
    Unreadable,
}

impl ParkReason {
    /// The name stores keep the reason under.
    pub fn stored_name(self) -> &'static str {
        match self {
            Self::InDoubt => "in_doubt",
            Self::GaveUp => "gave_up",
            Self::Refused => "refused",
            Self::Abandoned => "abandoned",
            Self::Unreadable => "unreadable",
        }
    }

    /// The reason a store kept under `name`; `None` for a name no agora
    /// writes.
    pub fn from_stored_name(name: &str) -> Option<Self> {
        [
            Self::InDoubt,
            Self::GaveUp,
            Self::Refused,
            Self::Abandoned,
            Self::Unreadable,
        ]
        .into_iter()
        .find(|r| r.stored_name() == name)
    }

    /// Whether later entries of the same repair file wait behind an entry
    /// parked for this reason: while its effect is unknown (in doubt) or
    /// it may be resent (given up), sending a later one could apply the two
    /// out of order. A refused, abandoned or unreadable entry blocks
    /// nothing. Stores spell this in SQL as `state IN ('pending',
    /// 'sending', 'in_doubt') OR (state = 'failed' AND park_reason =
    /// 'gave_up')`.
    pub fn blocks_later_entries(self) -> bool {
        matches!(self, Self::InDoubt | Self::GaveUp)
    }

    /// Whether the attempt that got the entry parked may still take effect
    /// in AgoraPlus: not when AgoraPlus answered it did not apply it, nor
    /// when it was never read (so never sent).
    pub fn may_still_land(self) -> bool {
        !matches!(self, Self::Refused | Self::Unreadable)
    }

    /// The reason, as people read it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InDoubt => "in doubt",
            Self::GaveUp => "given up",
            Self::Refused => "refused by AgoraPlus",
            Self::Abandoned => "abandoned",
            Self::Unreadable => "unreadable",
        }
    }
}

/// How long an attempt may take effect after it was sent, and whether a
/// person overrides that wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    /// The request timeout plus the grace: an attempt sent at `t` may take
    /// effect in AgoraPlus until `t + window`, not after.
    pub window: Duration,
    /// Resend or abandon even while an attempt may still take effect
    /// (risking a duplicate in AgoraPlus).
    pub force: bool,
}

impl Guard {
    /// A guard of `request_timeout + grace`, not forced.
    pub fn new(request_timeout: Duration, grace: Duration) -> Self {
        Self {
            window: request_timeout.saturating_add(grace),
            force: false,
        }
    }
}

/// Until when the last attempt of a parked entry may still take effect in
/// AgoraPlus (its send start plus the window; the time it was parked when
/// the send start is unknown), or `None` when it cannot: never sent, or
/// answered by a refusal.
pub fn lands_until(entry: &OutboxEntry, window: Duration) -> Option<Timestamp> {
    if entry.park_reason.is_some_and(|r| !r.may_still_land()) {
        return None;
    }
    let start = entry.sent_at.or(entry.parked_at)?;
    Some(
        start
            .checked_add(jiff::SignedDuration::try_from(window).ok()?)
            .unwrap_or(Timestamp::MAX),
    )
}

/// Whether a person may settle `entry` so at `now`: entries in doubt or
/// failed are settled; an entry resolved as applied without its result is
/// settled as applied (with the result). A resend or an abandon waits
/// until the last attempt can no longer take effect ([`lands_until`]),
/// unless the guard is forced: [`AgoraError::TooSoon`] says until when.
pub fn check_settlement(
    entry: &OutboxEntry,
    settlement: &Settlement,
    guard: Guard,
    now: Timestamp,
) -> Result<(), AgoraError> {
    let id = entry.id;
    let parked = matches!(entry.state, OutboxState::InDoubt | OutboxState::Failed);
    let result_missing = entry.state == OutboxState::Delivered
        && entry.needs_result
        && matches!(settlement, Settlement::Applied(_));
    if !parked && !result_missing {
        return Err(AgoraError::Invalid(format!(
            "entry {id} is {}: only entries in doubt or failed are resolved by hand",
            entry.state.as_str()
        )));
    }
    if matches!(settlement, Settlement::Resend | Settlement::Abandon) && !guard.force {
        if let Some(until) = lands_until(entry, guard.window).filter(|u| now < *u) {
            return Err(AgoraError::TooSoon {
                entry: id,
                sent_at: entry.sent_at.or(entry.parked_at).unwrap_or(now),
                until,
            });
        }
    }
    Ok(())
}

/// What a store does with an attempt's outcome ([`judge_finish`]), and
/// what [`crate::Outbox::finish`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The holder's outcome: recorded as usual.
    Recorded,
    /// An answer of an attempt that no longer held the entry (recovery or a
    /// person had taken it back, or a later attempt holds it): it settles
    /// the entry as delivered with that answer.
    Settled,
    /// An answer that differs from the one the entry was already delivered
    /// with: AgoraPlus may hold the operation twice. Kept on the entry as a
    /// duplicate, not applied; a person must look.
    Duplicate,
    /// The answer the entry was already delivered with: nothing to record.
    Known,
    /// Not recorded: a failure of an attempt that no longer holds the entry
    /// (the entry moved on without it), or an unknown attempt.
    Stale,
}

impl Finish {
    /// Whether the store wrote something.
    pub fn recorded(self) -> bool {
        matches!(self, Self::Recorded | Self::Settled | Self::Duplicate)
    }
}

impl OperationAnswer {
    /// Whether two answers say the same thing was created (the same repair
    /// file, claim, or order numbers): answers of one attempt read twice,
    /// or one read from AgoraPlus by a person, agree on it.
    pub fn creates_same(&self, other: &Self) -> bool {
        let orders = |lines: &[agora_domain::PartOrderLine]| {
            let mut numbers: Vec<_> = lines.iter().map(|l| l.order_number.clone()).collect();
            numbers.sort();
            numbers.dedup();
            numbers
        };
        match (self, other) {
            (Self::Done, Self::Done) => true,
            (Self::Created(a), Self::Created(b)) => a == b,
            (Self::Ordered(a), Self::Ordered(b)) => orders(a) == orders(b),
            (Self::Claim(a), Self::Claim(b)) => a.claim_id == b.claim_id,
            _ => false,
        }
    }
}

/// What becomes of the outcome of attempt number `attempt_no`, made by
/// `owner`, of `entry` as the store holds it now:
/// - the holder's (the entry is `Sending` for this owner and attempt):
///   [`Finish::Recorded`];
/// - an answer (a delivery) of an earlier or current attempt that no longer
///   holds the entry: it is the truth, whatever a person did since
///   (resent, abandoned, parked): [`Finish::Settled`] if the entry is not
///   delivered (or delivered without its result), else [`Finish::Known`]
///   when it agrees with the recorded answer, [`Finish::Duplicate`] when
///   not;
/// - anything else: [`Finish::Stale`].
pub fn judge_finish(
    entry: &OutboxEntry,
    owner: &str,
    attempt_no: u32,
    outcome: &Attempt,
) -> Finish {
    let held = entry.state == OutboxState::Sending
        && entry.attempts == attempt_no
        && entry.lease.as_ref().is_some_and(|l| l.owner == owner);
    if held {
        return Finish::Recorded;
    }
    let Attempt::Delivered(answer) = outcome else {
        return Finish::Stale;
    };
    if attempt_no == 0 || attempt_no > entry.attempts {
        return Finish::Stale;
    }
    match (&entry.state, &entry.answer) {
        (OutboxState::Delivered, Some(known)) if known.creates_same(answer) => Finish::Known,
        (OutboxState::Delivered, Some(_)) => Finish::Duplicate,
        _ => Finish::Settled,
    }
}

/// Where the holder's outcome leaves its entry, unless it is a delivery:
/// the state, when it is next due, the error kept, and why it is parked
/// (`None` for a retry, which is not parked).
pub fn parking(outcome: &Attempt, now: Timestamp) -> Option<Parking<'_>> {
    Some(match outcome {
        Attempt::Delivered(_) => return None,
        Attempt::Retry { at, error } => Parking {
            state: OutboxState::Pending,
            next_attempt_at: *at,
            error,
            reason: None,
        },
        Attempt::InDoubt(error) => Parking {
            state: OutboxState::InDoubt,
            next_attempt_at: now,
            error,
            reason: Some(ParkReason::InDoubt),
        },
        Attempt::Failed(error) => Parking {
            state: OutboxState::Failed,
            next_attempt_at: now,
            error,
            reason: Some(ParkReason::GaveUp),
        },
        Attempt::Refused(error) => Parking {
            state: OutboxState::Failed,
            next_attempt_at: now,
            error,
            reason: Some(ParkReason::Refused),
        },
    })
}

/// Where an outcome that is not a delivery leaves an entry ([`parking`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parking<'a> {
    /// Its new state.
    pub state: OutboxState,
    /// When it is next due.
    pub next_attempt_at: Timestamp,
    /// The error kept on it.
    pub error: &'a str,
    /// Why it is parked; `None` when it is not (a retry).
    pub reason: Option<ParkReason>,
}

/// The note a store keeps on an entry that received a duplicate answer
/// ([`Finish::Duplicate`]), for people to see.
pub fn duplicate_note(
    attempt_no: u32,
    answer: &OperationAnswer,
    known: Option<&OperationAnswer>,
) -> String {
    let show = |a: &OperationAnswer| serde_json::to_string(a).unwrap_or_default();
    format!(
        "DUPLICATE: attempt {attempt_no} answered {} after the entry was delivered with {}; AgoraPlus may hold the operation twice: check it there",
        show(answer),
        known.map_or_else(|| "no answer".to_owned(), show)
    )
}

/// The earliest entry that `entry` waits behind: an earlier entry of the
/// same repair file that blocks later ones (in doubt, or given up; see
/// [`ParkReason::blocks_later_entries`]). `None` for an entry that is not
/// pending, or of no repair file, or that waits only behind entries still
/// being delivered.
pub fn blocked_behind(entry: &OutboxEntry, others: &[OutboxEntry]) -> Option<u64> {
    if entry.state != OutboxState::Pending || entry.intervention_id.is_none() {
        return None;
    }
    others
        .iter()
        .filter(|o| o.id < entry.id && o.intervention_id == entry.intervention_id)
        .filter(|o| match o.state {
            OutboxState::InDoubt => true,
            OutboxState::Failed => o.park_reason.is_some_and(ParkReason::blocks_later_entries),
            _ => false,
        })
        .map(|o| o.id)
        .min()
}

/// Whether a new `operation` of repair file `file` is written into
/// `latest`, the file's latest entry, instead of a new entry: a whole-file
/// update (`UpdateRepair`) replaces the payload of a whole-file update of
/// the same file still pending (never sent, or waiting for its retry, or
/// taken back by recovery), since it carries the whole file anyway. The
/// pending entry keeps its place, its attempts and when it is next due, so
/// its wait for an earlier attempt ([`resend_not_before`]) holds for the
/// newer file too. Only the file's latest entry takes it, so the order of
/// the file's entries (an order placed between two updates) is kept; an
/// entry being sent, delivered or parked takes nothing.
pub fn collapses_into(
    operation: &Operation,
    file: Option<InterventionId>,
    latest: &OutboxEntry,
) -> bool {
    matches!(operation, Operation::UpdateRepair(_))
        && file.is_some()
        && latest.intervention_id == file
        && latest.state == OutboxState::Pending
        && matches!(latest.operation, Operation::UpdateRepair(_))
}

/// The earliest an idempotent entry may be sent again after an attempt
/// whose outcome is unknown (timed out, its connection lost, its sender
/// stopped): once that attempt can no longer land, its send start
/// (`sent_at`) plus `window` (request timeout + grace). Sent earlier, the
/// next attempt (which may carry a newer file) could be overtaken in
/// AgoraPlus by the older one, and a whole-file update that lands last
/// wins. `None` when the entry was never sent. The dispatcher waits so
/// after such a failure; a store's recovery, when it requeues an entry
/// whose sender stopped (spelled in SQL as `next_attempt_ms =
/// MAX(next_attempt_ms, sent_ms + window)`).
pub fn resend_not_before(entry: &OutboxEntry, window: Duration) -> Option<Timestamp> {
    let sent = entry.sent_at?;
    Some(
        jiff::SignedDuration::try_from(window)
            .ok()
            .and_then(|w| sent.checked_add(w).ok())
            .unwrap_or(Timestamp::MAX),
    )
}

#[cfg(test)]
mod tests;
