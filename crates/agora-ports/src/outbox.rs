//! The outbox port and its contract: operations are written locally first,
//! then delivered by whichever process claims them. The rules every store
//! shares (what may be claimed, which creations exclude one another, what an
//! answer changes in the repair files) live here, as plain functions, so that
//! SQLite, PostgreSQL and any future store keep the same promises.
//!
//! The life of an entry:
//!
//! ```text
//! enqueue ──▶ Pending ──claim──▶ Sending(owner, lease) ──finish──▶ Delivered
//!               ▲                   │  │                    ├──▶ Pending (retry later)
//!               │   lease expired,  │  │                    ├──▶ InDoubt (a person decides)
//!               └── idempotent ─────┘  └─ lease expired,    └──▶ Failed
//!                                         not idempotent ──▶ InDoubt
//! InDoubt / Failed ──resolve──▶ Delivered (with its answer) | Pending | Failed
//! ```
//!
//! Each claim is an attempt, numbered (`attempts`); an attempt's answer is
//! recorded whatever became of the entry since (see [`judge_finish`]). A
//! person may resend or abandon a parked entry only once its last attempt
//! can no longer take effect ([`check_settlement`]), and a later entry of a
//! repair file waits while an earlier one is in doubt or given up
//! ([`ParkReason::blocks_later_entries`]).

use agora_domain::lifecycle::{RepairEvent, RepairLifecycle};
use agora_domain::routes::Route;
use agora_domain::wire::read_stored_value;
use agora_domain::{
    ClaimId, CompleteRepairState, InterventionId, InvoiceReference, Lcid, PartOrderLine,
    StateNature, StatusCode, WarrantyClaim, WarrantyClaimResult,
};
use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::AgoraError;
use crate::local::LocalRepair;

mod judge;

pub use judge::{
    Finish, Guard, ParkReason, Parking, blocked_behind, check_settlement, collapses_into,
    duplicate_note, judge_finish, lands_until, parking, resend_not_before,
};

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
    /// `UpdateWarrantyClaim`: a whole-claim correction. Idempotent unless it
    /// asks for the transfer: a first attempt may have transferred the claim,
    /// after which a resend is refused.
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

    /// Whether sending it twice has the effect of sending it once. A claim
    /// correction that asks for the transfer is not: once the first attempt
    /// transferred the claim, the second is refused as "not correctable".
    pub fn is_idempotent(&self) -> bool {
        match self {
            Self::UpdateRepair(_) => true,
            Self::UpdateClaim {
                transfer_if_valid, ..
            } => Route::UpdateWarrantyClaim.is_idempotent_claim_submission(*transfer_if_valid),
            _ => false,
        }
    }

    /// What the operation creates, as a key: two entries with the same key
    /// must not both be open (pending, sending, in doubt, or applied without
    /// a recorded result), or AgoraPlus could create the thing twice.
    /// `None` for operations that create nothing.
    ///
    /// - a claim (creation or correction) of a repair file: `claim/{file}`;
    /// - a part order of a repair file: `order/{file}`;
    /// - the invoice of a draft: `invoice/{draft}`;
    /// - a repair file from a work order: `repair/mandate/{id}`, else from
    ///   its product and serial number: `repair/{commercial ref}/{serial}`.
    pub fn exclusive_key(&self, intervention: Option<InterventionId>) -> Option<String> {
        match self {
            Self::UpdateRepair(_) => None,
            Self::CreateClaim { claim, .. } | Self::UpdateClaim { claim, .. } => intervention
                .or_else(|| claim.claim_type.as_ref()?.intervention_id)
                .map(|id| format!("claim/{id}")),
            Self::PlaceOrder(id) => Some(format!("order/{id}")),
            Self::SendInvoiceReference { reference, .. } => reference
                .draft_invoice_number
                .as_ref()
                .map(|d| format!("invoice/{d}")),
            Self::CreateRepair(file) => match (file.mandate_id, &file.serial_number) {
                (Some(m), _) => Some(format!("repair/mandate/{m}")),
                (None, Some(serial)) => Some(format!(
                    "repair/{}/{serial}",
                    file.commercial_ref.as_deref().unwrap_or("")
                )),
                (None, None) => None,
            },
        }
    }
}

/// Splits a stored enum value (`{"Variant": inner}`) into its variant's
/// name and content.
fn variant(value: serde_json::Value) -> Option<(String, serde_json::Value)> {
    match value {
        serde_json::Value::Object(map) if map.len() == 1 => map.into_iter().next(),
        _ => None,
    }
}

/// A field of a stored struct variant.
fn field<T: serde::de::DeserializeOwned>(
    inner: &mut serde_json::Value,
    name: &str,
    read: impl FnOnce(serde_json::Value) -> Result<T, String>,
) -> Result<T, String> {
    let value = inner
        .get_mut(name)
        .map(serde_json::Value::take)
        .ok_or_else(|| format!("missing field `{name}`"))?;
    read(value)
}

fn strict<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

impl Operation {
    /// Reads an operation as a store kept it: strictly, else with its wire
    /// models read tolerantly, so that a value kept as it arrived from
    /// AgoraPlus (a code as a number, a title as a label) never makes the
    /// entry unreadable. `Err` names what cannot be read at all.
    pub fn from_stored(json: &str) -> Result<Self, String> {
        let strict_error = match serde_json::from_str::<Self>(json) {
            Ok(op) => return Ok(op),
            Err(e) => e.to_string(),
        };
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let Some((name, mut inner)) = variant(value) else {
            return Err(strict_error);
        };
        match name.as_str() {
            "UpdateRepair" => read_stored_value(inner).map(Self::UpdateRepair),
            "CreateRepair" => read_stored_value(inner).map(Self::CreateRepair),
            "CreateClaim" | "UpdateClaim" => {
                let claim = field(&mut inner, "claim", read_stored_value)?;
                let language = field(&mut inner, "language", strict)?;
                let transfer_if_valid = field(&mut inner, "transfer_if_valid", strict)?;
                Ok(if name == "CreateClaim" {
                    Self::CreateClaim {
                        claim,
                        language,
                        transfer_if_valid,
                    }
                } else {
                    Self::UpdateClaim {
                        claim,
                        language,
                        transfer_if_valid,
                    }
                })
            }
            "SendInvoiceReference" => Ok(Self::SendInvoiceReference {
                reference: field(&mut inner, "reference", read_stored_value)?,
                claims: field(&mut inner, "claims", strict)?,
            }),
            _ => Err(strict_error),
        }
    }
}

impl OperationAnswer {
    /// Reads an answer as a store kept it, as [`Operation::from_stored`]
    /// reads an operation.
    pub fn from_stored(json: &str) -> Result<Self, String> {
        let strict_error = match serde_json::from_str::<Self>(json) {
            Ok(answer) => return Ok(answer),
            Err(e) => e.to_string(),
        };
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        match variant(value) {
            Some((name, inner)) if name == "Ordered" => read_stored_value(inner).map(Self::Ordered),
            Some((name, inner)) if name == "Claim" => read_stored_value(inner).map(Self::Claim),
            _ => Err(strict_error),
        }
    }

    /// Reads the duplicate answers a store keeps on an entry (a JSON array
    /// of stored answers, each read as [`OperationAnswer::from_stored`]).
    pub fn duplicates_from_stored(json: &str) -> Result<Vec<Self>, String> {
        let values: Vec<serde_json::Value> =
            serde_json::from_str(json).map_err(|e| format!("unreadable duplicates: {e}"))?;
        values
            .iter()
            .map(|v| Self::from_stored(&v.to_string()))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("unreadable duplicate: {e}"))
    }
}

/// What AgoraPlus answered to a delivered operation: kept on the entry,
/// and applied to the repair files in the same transaction that marks the
/// entry delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OperationAnswer {
    /// Nothing beyond success.
    Done,
    /// `CreateRepair`'s new file.
    Created(InterventionId),
    /// The order lines of `PlaceRepairSparepartOrder`.
    Ordered(Vec<PartOrderLine>),
    /// A claim's verdict.
    Claim(WarrantyClaimResult),
}

/// Where an outbox entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OutboxState {
    /// Waiting for delivery (first try or a retry).
    Pending,
    /// Claimed by a process, which holds it until its lease expires.
    Sending,
    /// Delivered.
    Delivered,
    /// May have been applied: never resent automatically; a person resolves it.
    InDoubt,
    /// Refused by AgoraPlus (or unreadable): will not succeed as it is.
    Failed,
}

impl OutboxState {
    /// The state's name as users see it (`in-doubt`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Delivered => "delivered",
            Self::InDoubt => "in-doubt",
            Self::Failed => "failed",
        }
    }

    /// The name stores keep the state under (`in_doubt`): every store's
    /// tables use these, and their SQL names them.
    pub fn stored_name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Delivered => "delivered",
            Self::InDoubt => "in_doubt",
            Self::Failed => "failed",
        }
    }

    /// The state a store kept under `name`; `None` for a name no agora
    /// writes.
    pub fn from_stored_name(name: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Sending,
            Self::Delivered,
            Self::InDoubt,
            Self::Failed,
        ]
        .into_iter()
        .find(|s| s.stored_name() == name)
    }
}

/// Who holds an entry while sending it, and until when. A process renews its
/// lease during a long send; once it has expired, recovery may take the
/// entry back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The holder: a name no other holder of the store's entries has, this
    /// run or any other (see [`Lease::process_owner`]); the dispatcher adds
    /// a number per claim, so that two claims of one process differ too.
    pub owner: String,
    /// When the hold ends unless renewed.
    pub until: Timestamp,
}

impl Lease {
    /// A name for this run of this process: `host:pid:RANDOM`, RANDOM 16
    /// hexadecimal digits drawn once when the process first asks (so the
    /// same for every call of one run). The host and pid say where it runs;
    /// the random part tells apart two runs that share both (containers
    /// each with pid 1 under one host name, a pid reused after a restart).
    pub fn process_owner() -> String {
        static OWNER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        OWNER
            .get_or_init(|| {
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
                    .or_else(|| std::env::var("HOSTNAME").ok())
                    .unwrap_or_else(|| "localhost".to_owned());
                format!("{host}:{}:{:016x}", std::process::id(), fastrand::u64(..))
            })
            .clone()
    }
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
    /// Delivery attempts so far (claims).
    pub attempts: u32,
    /// When it may be tried next.
    pub next_attempt_at: Timestamp,
    /// The last failure, or how a person resolved it.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: Timestamp,
    /// The holder while `Sending`.
    pub lease: Option<Lease>,
    /// What AgoraPlus answered, once delivered.
    pub answer: Option<OperationAnswer>,
    /// When its latest attempt was claimed to be sent (`None` before the
    /// first, and for attempts made before agora recorded it).
    pub sent_at: Option<Timestamp>,
    /// When it was last parked (in doubt or failed), `None` while it never
    /// was.
    pub parked_at: Option<Timestamp>,
    /// Why it was last parked.
    pub park_reason: Option<ParkReason>,
    /// Resolved as applied without what it created: it holds its exclusive
    /// key until a person records the result (`resolve --as applied` with
    /// the id).
    pub needs_result: bool,
    /// Abandoned while its last attempt could still take effect (forced):
    /// it holds its exclusive key until then.
    pub held_until: Option<Timestamp>,
    /// Answers of other attempts that arrived after the entry was settled
    /// with a different one: AgoraPlus may have applied the operation more
    /// than once. Empty unless something went wrong.
    pub duplicates: Vec<OperationAnswer>,
}

/// The outcome of an attempt, recorded by the entry's holder.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// Delivered: the answer is kept and applied to the repair files.
    Delivered(OperationAnswer),
    /// Not delivered; try again from `at`.
    Retry {
        /// When.
        at: Timestamp,
        /// Why it failed.
        error: String,
    },
    /// May have been applied: a person decides.
    InDoubt(String),
    /// Given up (retries exhausted, or a failure that will recur), without
    /// AgoraPlus saying it did not apply it: later entries of its file wait
    /// until a person settles it.
    Failed(String),
    /// AgoraPlus answered that it did not apply it (an `E` answer, a 4xx):
    /// parked failed, blocking nothing.
    Refused(String),
}

/// An attempt's outcome to record, one of several
/// ([`Outbox::finish_all`]): what [`Outbox::finish`] takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The entry.
    pub id: u64,
    /// The holder of the attempt.
    pub owner: String,
    /// The attempt's number (the entry's `attempts` when it was claimed).
    pub attempt_no: u32,
    /// What came of it.
    pub attempt: Attempt,
    /// When it ended, on the clock the outbox's times are kept by.
    pub now: Timestamp,
}

/// How a person settles an entry in doubt (or failed).
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    /// It was applied in AgoraPlus, with what it created: recorded and
    /// applied to the repair files as a delivery would be.
    Applied(OperationAnswer),
    /// It was not applied: send it again.
    Resend,
    /// Drop it.
    Abandon,
}

/// The outbox: operations are written here first, then delivered.
///
/// The contract, which every store implements and the conformance tests
/// check:
/// - `enqueue` (and [`crate::RepairFiles::save_with_operation`]) MUST refuse,
///   with [`AgoraError::Invalid`] naming the open entry, an operation whose
///   [`Operation::exclusive_key`] is held by another open entry (pending,
///   sending, in doubt, or resolved as applied without its result); the
///   check and the insert are one transaction.
/// - A claim moves an entry `Pending → Sending` only if it is still pending
///   and due, and no earlier entry of its repair file is pending, sending,
///   or parked in a way that blocks it ([`ParkReason::blocks_later_entries`]);
///   exactly one claimer gets it. The claim numbers the attempt
///   (`attempts + 1`), records the lease and when it was sent (`sent_at`).
/// - `finish` does what [`judge_finish`] says: the holder's outcome (owner
///   and attempt number) is recorded while the entry is `Sending`; an answer
///   of any attempt is recorded whatever happened since (a late answer
///   settles the entry; a different answer after another settled it is kept
///   as a duplicate). A delivery applies the answer to the repair files
///   ([`apply_answer`]) and marks the entry delivered in one transaction.
/// - `finish_all` records each outcome as `finish` would, in the order
///   given, all in one transaction or none.
/// - `settle` does what [`check_settlement`] allows, in the transaction
///   that changes the entry: a resend or an abandon waits until the last
///   attempt can no longer take effect (unless forced); a forced abandon
///   holds the exclusive key until then.
/// - Parking records when and why ([`OutboxEntry::parked_at`],
///   [`OutboxEntry::park_reason`]).
/// - `recover_expired` touches only `Sending` entries whose lease has
///   expired: idempotent ones back to `Pending`, due once their attempt can
///   no longer land ([`resend_not_before`]), the others `InDoubt`.
/// - `enqueue` (and `save_with_operation`) writes a whole-file update into
///   the file's latest entry when [`collapses_into`] says so, returning
///   that entry's id, in the transaction that would have inserted it.
/// - An entry that cannot be read is marked `Failed` with the reason and
///   skipped; it never blocks the others.
/// - A claim of several entries (`claim_due` with a limit above one) takes
///   the oldest claimable entry, and the others only as
///   [`claimed_together`] allows (all idempotent), in one transaction: a
///   process that stops between their sends leaves only entries that may be
///   sent again (recovery puts them back pending), never a creation that
///   was not sent parked in doubt.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Adds an operation, due at once; returns its id. A whole-file update
    /// of a file whose latest entry is a pending whole-file update is
    /// written into that entry instead ([`collapses_into`]), whose id is
    /// returned: it keeps its place and when it is due.
    async fn enqueue(
        &self,
        intervention_id: Option<InterventionId>,
        operation: &Operation,
        now: Timestamp,
    ) -> Result<u64, AgoraError>;
    /// Claims up to `limit` pending entries due at `now`, oldest first,
    /// for `lease`; entries others hold are skipped. Besides the oldest,
    /// only entries [`claimed_together`] with it are taken (the others stay
    /// pending for the next claim).
    async fn claim_due(
        &self,
        now: Timestamp,
        lease: &Lease,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, AgoraError>;
    /// Claims one entry if it is pending and due; `None` if another process
    /// has it or it is not pending.
    async fn claim(
        &self,
        id: u64,
        now: Timestamp,
        lease: &Lease,
    ) -> Result<Option<OutboxEntry>, AgoraError>;
    /// Extends a lease; false if the entry is no longer held by its owner.
    async fn renew(&self, id: u64, lease: &Lease) -> Result<bool, AgoraError>;
    /// Records the outcome of attempt number `attempt_no` (the entry's
    /// `attempts` when it was claimed) by `owner`, as [`judge_finish`] says.
    async fn finish(
        &self,
        id: u64,
        owner: &str,
        attempt_no: u32,
        attempt: &Attempt,
        now: Timestamp,
    ) -> Result<Finish, AgoraError>;
    /// Records several outcomes, each as [`Outbox::finish`] would record
    /// it alone, in order, and in one transaction where the store can: all
    /// are recorded or, on an error, none. Returns each one's verdict, in
    /// the order given. The default records them one [`Outbox::finish`] at
    /// a time (a wrapper that watches `finish` keeps seeing each).
    async fn finish_all(&self, outcomes: &[Outcome]) -> Result<Vec<Finish>, AgoraError> {
        let mut verdicts = Vec::with_capacity(outcomes.len());
        for o in outcomes {
            verdicts.push(
                self.finish(o.id, &o.owner, o.attempt_no, &o.attempt, o.now)
                    .await?,
            );
        }
        Ok(verdicts)
    }
    /// Settles an entry in doubt or failed (or applied without its result)
    /// as a person decided, if [`check_settlement`] allows it under `guard`;
    /// an applied creation's answer is applied to the repair files in the
    /// same transaction. Returns the entry's new state.
    async fn settle(
        &self,
        id: u64,
        settlement: &Settlement,
        guard: Guard,
        now: Timestamp,
    ) -> Result<OutboxState, AgoraError>;
    /// Entries in a state, oldest first.
    async fn entries(&self, state: OutboxState) -> Result<Vec<OutboxEntry>, AgoraError>;
    /// One entry.
    async fn entry(&self, id: u64) -> Result<Option<OutboxEntry>, AgoraError>;
    /// The delivered entries of repair file `file` older than entry
    /// `before`, newest first. The default reads every delivered entry; a
    /// store answers from its index of a file's entries.
    async fn delivered_before(
        &self,
        file: InterventionId,
        before: u64,
    ) -> Result<Vec<OutboxEntry>, AgoraError> {
        let mut found: Vec<OutboxEntry> = self
            .entries(OutboxState::Delivered)
            .await?
            .into_iter()
            .filter(|e| e.intervention_id == Some(file) && e.id < before)
            .collect();
        found.reverse();
        Ok(found)
    }
    /// Entries left `Sending` with an expired lease (their process died):
    /// idempotent ones back to `Pending`, due once their attempt can no
    /// longer land ([`resend_not_before`] with `window`, the request timeout
    /// plus the grace), the others `InDoubt`. Returns the ids put in doubt.
    /// A store with a clock of its own ([`Outbox::clock`]) judges expiry by
    /// it, never by a later `now`.
    async fn recover_expired(
        &self,
        now: Timestamp,
        window: std::time::Duration,
    ) -> Result<Vec<u64>, AgoraError>;
    /// The clock leases are taken, renewed and judged by, when the store
    /// has one that every process sharing it reads (PostgreSQL: the
    /// database's); `None` (the default) when each process uses its own
    /// (SQLite, on one machine), with the grace the dispatcher allows.
    async fn clock(&self) -> Result<Option<Timestamp>, AgoraError> {
        Ok(None)
    }
}

/// The repair files an answer changes, as a store finds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepairKey {
    /// By its id.
    Intervention(InterventionId),
    /// By its claim.
    Claim(ClaimId),
}

/// The files a store must load (and lock) before applying `answer` to them.
pub fn answer_touches(
    operation: &Operation,
    intervention: Option<InterventionId>,
    answer: &OperationAnswer,
) -> Vec<RepairKey> {
    match (operation, answer) {
        (Operation::CreateRepair(_), OperationAnswer::Created(id)) => {
            vec![RepairKey::Intervention(*id)]
        }
        (Operation::PlaceOrder(id), _) => vec![RepairKey::Intervention(*id)],
        (Operation::CreateClaim { .. } | Operation::UpdateClaim { .. }, _) => intervention
            .map(RepairKey::Intervention)
            .into_iter()
            .collect(),
        (Operation::SendInvoiceReference { claims, .. }, _) => {
            claims.iter().map(|c| RepairKey::Claim(*c)).collect()
        }
        _ => Vec::new(),
    }
}

/// Whether one claim may take `other` along with `first`, the oldest entry
/// it claims. Only idempotent operations are claimed together: a claimed
/// entry waits for the sends before it, and if its process stops meanwhile
/// recovery finds it `Sending` with an expired lease; an idempotent one is
/// then sent again, but a creation would be parked in doubt although it was
/// never sent. A non-idempotent entry is therefore claimed alone.
pub fn claimed_together(first: &Operation, other: &Operation) -> bool {
    first.is_idempotent() && other.is_idempotent()
}

/// What an answer changes in the local repair files: given the files
/// [`answer_touches`] names (those the store found, with their current
/// revision), returns the files to write. Pure: every store calls it inside
/// the transaction that marks the entry delivered.
pub fn apply_answer(
    operation: &Operation,
    answer: &OperationAnswer,
    found: Vec<LocalRepair>,
) -> Vec<LocalRepair> {
    match (operation, answer) {
        (Operation::CreateRepair(file), OperationAnswer::Created(id)) => {
            if found.iter().any(|r| r.intervention_id == *id) {
                return Vec::new();
            }
            let mut file = file.clone();
            file.intervention_id = Some(*id);
            let lifecycle = RepairLifecycle::direct(file.manufacturer_id, file.intervention_type());
            vec![LocalRepair {
                intervention_id: *id,
                mandate_id: file.mandate_id,
                file,
                lifecycle,
                claim_id: None,
                orders: Vec::new(),
                attention: None,
                revision: 0,
                work_order: None,
                accepted_at: None,
            }]
        }
        (Operation::PlaceOrder(_), OperationAnswer::Ordered(lines)) => found
            .into_iter()
            .map(|mut repair| {
                // Each part gets its number, whether AgoraPlus gave one per
                // part or one for the call; a line is (number, reference).
                for line in repair.file.take_order(lines) {
                    if !repair.orders.iter().any(|o| o.same_line(&line)) {
                        repair.orders.push(line);
                    }
                }
                repair
            })
            .collect(),
        (
            Operation::CreateClaim {
                transfer_if_valid, ..
            }
            | Operation::UpdateClaim {
                transfer_if_valid, ..
            },
            OperationAnswer::Claim(result),
        ) => {
            let created = matches!(operation, Operation::CreateClaim { .. });
            found
                .into_iter()
                .map(|mut repair| {
                    let valid = result.is_valid == Some(true);
                    let event = if created {
                        RepairEvent::ClaimCreated {
                            valid,
                            transfer_if_valid: *transfer_if_valid,
                        }
                    } else {
                        RepairEvent::ClaimUpdated {
                            valid,
                            transfer_if_valid: *transfer_if_valid,
                        }
                    };
                    // AgoraPlus has judged: its verdict stands even where
                    // the local lifecycle would not have expected it.
                    if let Ok(next) = repair.lifecycle.apply(&event) {
                        repair.lifecycle = next;
                    }
                    if created {
                        repair.claim_id = result.claim_id.or(repair.claim_id);
                        let closed = repair.file.state_natures.iter().flatten().any(|s| {
                            s.code.as_ref() == Some(&StatusCode::ClosedWithWarrantyIntervention)
                        });
                        if !closed {
                            repair.file.state_natures.get_or_insert_with(Vec::new).push(
                                StateNature::new(
                                    StatusCode::ClosedWithWarrantyIntervention,
                                    "Closed with warranty intervention (set by AgoraPlus)",
                                ),
                            );
                        }
                    }
                    repair.attention = (!valid).then(|| {
                        match result
                            .error_message
                            .as_deref()
                            .filter(|m| !m.trim().is_empty())
                        {
                            Some(reason) => {
                                format!("claim NOTVALID: {reason}; correct and resubmit")
                            }
                            None => "claim NOTVALID: correct and resubmit".to_owned(),
                        }
                    });
                    repair
                })
                .collect()
        }
        (Operation::SendInvoiceReference { .. }, _) => found
            .into_iter()
            .filter_map(|mut repair| {
                let next = repair.lifecycle.apply(&RepairEvent::Invoiced).ok()?;
                repair.lifecycle = next;
                Some(repair)
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
