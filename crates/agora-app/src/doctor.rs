//! Mending the repair files earlier versions of agora left wrong
//! (`agora doctor`): what it finds, file by file, from the file, the
//! outbox's entries of the file and the work order kept. The judgements
//! are the domain's (`agora_domain::mend`); this use case gathers what
//! they need, and writes the mended file when asked.
//!
//! Only a mend AgoraPlus does not already know is sent: the work order's
//! fields filled into a file go as one `UpdateRepair` of the mended file
//! (earlier versions sent whole-file updates without them). A part's order
//! number is AgoraPlus's own, and a refused status is one AgoraPlus never
//! applied: both are local only.

use agora_domain::mend::ordered_lines;
use agora_domain::{CompleteRepairState, InterventionId, MandateLightResponse};
use agora_ports::{
    AgoraError, LocalRepair, Operation, OperationAnswer, Outbox, OutboxEntry, OutboxState,
    ParkReason, RepairFiles,
};

use crate::hub::Agora;
use crate::progress::CONFLICT_RETRIES;

/// What `agora doctor` found (and, with `fix`, mended).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Checkup {
    /// Every change, file by file.
    pub mends: Vec<Mend>,
    /// Whether the changes were made (`false`: only listed).
    pub fixed: bool,
}

/// One change to one repair file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mend {
    /// The repair file.
    pub intervention_id: InterventionId,
    /// What kind of damage.
    pub kind: MendKind,
    /// The change, in words.
    pub change: String,
    /// The `UpdateRepair` outbox entry that tells AgoraPlus, once queued
    /// (a fix of a [`MendKind::WorkOrderField`]).
    pub update_entry: Option<u64>,
}

/// The kinds of damage earlier versions left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MendKind {
    /// A part still marked to be ordered that AgoraPlus already ordered
    /// (given its number), or an order line not kept (added).
    PartOrdered,
    /// A status AgoraPlus refused, still in the file (taken out).
    RefusedStatus,
    /// A field of the work order the file lacks (filled, and sent).
    WorkOrderField,
}

impl MendKind {
    /// The kind's name as users see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PartOrdered => "part-ordered",
            Self::RefusedStatus => "refused-status",
            Self::WorkOrderField => "work-order-field",
        }
    }

    /// Whether AgoraPlus must be told of the change (by an `UpdateRepair`).
    pub fn tells_agoraplus(self) -> bool {
        matches!(self, Self::WorkOrderField)
    }
}

/// Whether AgoraPlus refused the entry (it said it did not apply it):
/// parked as refused, or, for an entry parked before agora kept the
/// reason (stores migrated to schema 3 call those "gave up"), an `E`
/// answer by its recorded error.
fn was_refused(entry: &OutboxEntry) -> bool {
    entry.state == OutboxState::Failed
        && match entry.park_reason {
            Some(ParkReason::Refused) => true,
            Some(ParkReason::GaveUp) | None => entry
                .last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("AgoraPlus answered with an error")),
            Some(_) => false,
        }
}

/// The copy of the file an entry sends whole, if it sends one.
fn copy_of(entry: &OutboxEntry) -> Option<&CompleteRepairState> {
    match &entry.operation {
        Operation::CreateRepair(f) | Operation::UpdateRepair(f) => Some(f),
        _ => None,
    }
}

/// Mends `repair` in place; `entries` are the file's outbox entries in
/// id order. Returns the changes made (none: nothing to mend).
pub(crate) fn mend_file(
    repair: &mut LocalRepair,
    entries: &[&OutboxEntry],
    work_order: Option<&MandateLightResponse>,
) -> Vec<(MendKind, String)> {
    let mut mends = Vec::new();
    let delivered = |e: &&&OutboxEntry| e.state == OutboxState::Delivered;
    // (a) Parts AgoraPlus ordered: the answers of the file's delivered
    // orders, read against the copy AgoraPlus ordered from (the last one
    // it accepted before the order).
    for order in entries.iter().filter(delivered) {
        let (Operation::PlaceOrder(_), Some(OperationAnswer::Ordered(answer))) =
            (&order.operation, &order.answer)
        else {
            continue;
        };
        let ordered_from = entries
            .iter()
            .filter(delivered)
            .filter(|e| e.id < order.id)
            .filter_map(|e| copy_of(e))
            .next_back();
        let lines = ordered_lines(ordered_from, answer);
        for given in repair.file.mend_orders(&lines) {
            mends.push((
                MendKind::PartOrdered,
                format!(
                    "part {} ordered by AgoraPlus as {} (outbox entry {}): no longer to be ordered",
                    given.reference, given.order_number, order.id
                ),
            ));
        }
        for line in lines.iter().filter(|l| l.reference.is_some()) {
            if !repair.orders.iter().any(|o| o.same_line(line)) {
                repair.orders.push(line.clone());
                mends.push((
                    MendKind::PartOrdered,
                    format!(
                        "order line {} of part {} kept (outbox entry {})",
                        line.order_number.as_ref().map_or("-", |n| n.as_str()),
                        line.reference.as_deref().unwrap_or("-"),
                        order.id
                    ),
                ));
            }
        }
    }
    // (b) Statuses AgoraPlus refused, unless a copy it accepted, or one
    // still to be sent or in doubt, carries them.
    let carried: Vec<&CompleteRepairState> = entries
        .iter()
        .filter(|e| {
            matches!(
                e.state,
                OutboxState::Delivered
                    | OutboxState::Pending
                    | OutboxState::Sending
                    | OutboxState::InDoubt
            )
        })
        .filter_map(|e| copy_of(e))
        .collect();
    for refused in entries.iter().filter(|e| was_refused(e)) {
        let Operation::UpdateRepair(sent) = &refused.operation else {
            continue;
        };
        let taken = repair.file.take_out_refused(sent, &carried);
        if taken.is_empty() {
            continue;
        }
        let codes: Vec<String> = taken
            .iter()
            .map(|s| {
                s.code
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), ToString::to_string)
            })
            .collect();
        let id = refused.id;
        repair.attention = Some(format!(
            "update refused by AgoraPlus; its status {} taken out of the file and kept aside as outbox entry {id}: fix it, then `agora outbox resolve {id} --as resend`",
            codes.join(", ")
        ));
        for code in codes {
            mends.push((
                MendKind::RefusedStatus,
                format!(
                    "status {code} refused by AgoraPlus (outbox entry {id}): taken out of the file"
                ),
            ));
        }
    }
    // (c) The work order's fields the file lacks.
    if let Some(work_order) = work_order {
        for path in repair
            .file
            .fill_from_work_order(work_order, repair.intervention_id)
        {
            mends.push((
                MendKind::WorkOrderField,
                format!("{path} filled from the work order"),
            ));
        }
    }
    mends
}

impl<A, S: RepairFiles + Outbox> Agora<A, S> {
    /// Finds what earlier versions left wrong in the repair files (see
    /// [`agora_domain::mend`]) and, with `fix`, mends it: each file written
    /// once with all its changes; when the work order's fields were filled,
    /// an `UpdateRepair` of the mended file is queued in the same
    /// transaction (delivered by the next `flush_outbox`). Finds nothing on
    /// files it has mended: a second fix changes nothing.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// for mend in app.doctor(false).await?.mends {
    ///     println!("{}: {}", mend.intervention_id, mend.change);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn doctor(&self, fix: bool) -> Result<Checkup, AgoraError> {
        let mut entries = Vec::new();
        for state in [
            OutboxState::Pending,
            OutboxState::Sending,
            OutboxState::InDoubt,
            OutboxState::Failed,
            OutboxState::Delivered,
        ] {
            entries.extend(self.store.entries(state).await?);
        }
        entries.sort_by_key(|e| e.id);
        let mut checkup = Checkup {
            mends: Vec::new(),
            fixed: fix,
        };
        for listed in self.store.repairs().await? {
            let id = listed.intervention_id;
            let of_file: Vec<&OutboxEntry> = entries
                .iter()
                .filter(|e| e.intervention_id == Some(id))
                .collect();
            let work_order = match (&listed.work_order, listed.mandate_id) {
                (Some(w), _) => Some(w.clone()),
                (None, Some(m)) => self.store.work_order(m).await?.map(|k| k.mandate),
                (None, None) => None,
            };
            let mut repair = listed;
            let mut tries = 0;
            loop {
                let mut mended = repair.clone();
                let found = mend_file(&mut mended, &of_file, work_order.as_ref());
                if found.is_empty() {
                    break;
                }
                let tell = found.iter().any(|(kind, _)| kind.tells_agoraplus());
                let mut update_entry = None;
                if fix {
                    let operation = tell.then(|| Operation::UpdateRepair(mended.file.clone()));
                    match self
                        .store
                        .save_with_operation(&mended, operation, self.clock.now())
                        .await
                    {
                        Err(AgoraError::Conflict(_)) if tries < CONFLICT_RETRIES => {
                            tries += 1;
                            repair = self.repair(id).await?;
                            continue;
                        }
                        Err(e) => return Err(e),
                        Ok(entry) => update_entry = entry,
                    }
                }
                checkup
                    .mends
                    .extend(found.into_iter().map(|(kind, change)| Mend {
                        intervention_id: id,
                        kind,
                        change,
                        update_entry: update_entry.filter(|_| kind.tells_agoraplus()),
                    }));
                break;
            }
        }
        Ok(checkup)
    }
}
