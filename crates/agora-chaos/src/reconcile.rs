//! The reconciliation of AgoraPlus (the simulator's state) with the local
//! store (repair files and outbox), by intent keys:
//!
//! | intent | key | duplicate when AgoraPlus holds |
//! |---|---|---|
//! | a repair file from a work order | `MandateId` | two files of one work order |
//! | a status report | repair file + the status's comment (unique in the run) | the status twice in the file's history |
//! | a part order | repair file + part reference | two order lines for one part |
//! | a claim | repair file | two claims for one file |
//! | a claim correction | claim + its version mark (`ClaimInfos.IRISSymptom`) | — (a version replaces the last) |
//! | an invoice reference | draft invoice number | one invoice number on two drafts, or two deliveries for one draft |
//!
//! An intent is *lost* when AgoraPlus and the store disagree about it and
//! no entry listed in doubt explains the difference: a delivered entry
//! whose effect AgoraPlus does not show; an object AgoraPlus created that
//! the store does not know (an identifier lost); an object the store knows
//! that AgoraPlus does not hold; an entry still pending or sending; a
//! failed entry without its reason; a work order never pulled.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use agora_domain::{ClaimId, InterventionId, MandateStatus, StatusCode};
use agora_ports::{LocalRepair, Operation, OperationAnswer, OutboxEntry, OutboxState};

use crate::sim_state::{SimState, claim_tag};

/// How many intents of each kind the run recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intents {
    /// Work orders published to AgoraPlus.
    pub work_orders: usize,
    /// Status reports (distinct file and comment).
    pub statuses: usize,
    /// Repair files with a part order.
    pub orders: usize,
    /// Repair files with a claim creation.
    pub claims: usize,
    /// Claim corrections.
    pub corrections: usize,
    /// Draft invoices with an invoice reference.
    pub invoices: usize,
}

/// An entry refused for good, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The entry.
    pub entry: u64,
    /// Its operation's name.
    pub operation: &'static str,
    /// Why.
    pub reason: String,
}

/// What the reconciliation found.
#[derive(Debug, Clone, Default)]
pub struct Reconciliation {
    /// Outbox entries, in every state.
    pub entries: usize,
    /// Entries delivered (or resolved as applied).
    pub delivered: usize,
    /// Entries listed in doubt.
    pub in_doubt: Vec<u64>,
    /// Entries failed, with their reason.
    pub failed: Vec<Failure>,
    /// Entries still pending or sending.
    pub open: Vec<u64>,
    /// Open entries that wait, as the outbox promises, behind an earlier
    /// entry of their file parked in doubt (or given up): sent once that
    /// one is settled, so not lost while it is not. Each described.
    pub waiting: Vec<String>,
    /// The intents checked.
    pub intents: Intents,
    /// Intents lost, each described.
    pub lost: Vec<String>,
    /// Intents applied twice in AgoraPlus, each described.
    pub duplicates: Vec<String>,
    /// Requests AgoraPlus applied again with the intent of an earlier
    /// applied one, from its request journal (a creation or order applied
    /// twice, whatever AgoraPlus's state shows now).
    pub journal_duplicates: Vec<String>,
    /// Requests in AgoraPlus's journal.
    pub journaled: usize,
    /// Repair files whose fields differ between the store and AgoraPlus,
    /// each with its differences field by field.
    pub differing: Vec<String>,
}

/// The entries listed in doubt, which may explain a difference.
struct Doubts<'a>(&'a [OutboxEntry]);

impl Doubts<'_> {
    fn any(&self, pred: impl Fn(&OutboxEntry) -> bool) -> bool {
        self.0
            .iter()
            .any(|e| e.state == OutboxState::InDoubt && pred(e))
    }
}

fn duplicates_of<K: Ord + std::fmt::Debug>(
    keys: impl Iterator<Item = (K, String)>,
    what: &str,
    out: &mut Vec<String>,
) {
    let mut groups: BTreeMap<K, Vec<String>> = BTreeMap::new();
    for (k, v) in keys {
        groups.entry(k).or_default().push(v);
    }
    for (k, vs) in groups {
        if vs.len() > 1 {
            out.push(format!(
                "{what} {k:?}: {} times ({})",
                vs.len(),
                vs.join(", ")
            ));
        }
    }
}

/// Reconciles AgoraPlus's state with the store's repair files and every
/// outbox entry (all states).
pub fn reconcile(
    sim: &SimState,
    repairs: &[LocalRepair],
    entries: &[OutboxEntry],
) -> Reconciliation {
    let mut r = Reconciliation {
        entries: entries.len(),
        ..Reconciliation::default()
    };
    let local: HashMap<InterventionId, &LocalRepair> =
        repairs.iter().map(|l| (l.intervention_id, l)).collect();
    let in_doubt = Doubts(entries);

    for e in entries {
        match e.state {
            OutboxState::Delivered => r.delivered += 1,
            OutboxState::InDoubt => r.in_doubt.push(e.id),
            OutboxState::Failed => {
                let reason = e.last_error.clone().unwrap_or_default();
                if reason.trim().is_empty() {
                    r.lost.push(format!(
                        "entry {} ({}) failed without a reason",
                        e.id,
                        e.operation.name()
                    ));
                }
                r.failed.push(Failure {
                    entry: e.id,
                    operation: e.operation.name(),
                    reason,
                });
            }
            OutboxState::Pending | OutboxState::Sending => {
                r.open.push(e.id);
                // The outbox's own rule of what holds an entry back.
                match agora_ports::blocked_behind(e, entries) {
                    Some(parked) => r.waiting.push(format!(
                        "entry {} ({}) waits behind entry {parked}, parked",
                        e.id,
                        e.operation.name(),
                    )),
                    None => r.lost.push(format!(
                        "entry {} ({}) is still {}: never delivered",
                        e.id,
                        e.operation.name(),
                        e.state.as_str()
                    )),
                }
            }
        }
    }

    r.journaled = sim.journal.len();
    for record in sim.journal.iter().filter(|j| j.is_duplicate()) {
        r.journal_duplicates.push(format!(
            "{} applied again: {} (journal record {}, first applied as record {})",
            record.route,
            record.intent,
            record.seq,
            record.duplicate_of.unwrap_or_default()
        ));
    }
    r.differing = fields::differences(sim, repairs);
    work_orders(sim, &local, &mut r);
    statuses(sim, entries, &mut r);
    orders(sim, &local, entries, &in_doubt, &mut r);
    claims(sim, &local, entries, &in_doubt, &mut r);
    invoices(sim, &local, entries, &in_doubt, &mut r);
    r
}

fn work_orders(
    sim: &SimState,
    local: &HashMap<InterventionId, &LocalRepair>,
    r: &mut Reconciliation,
) {
    duplicates_of(
        sim.repairs.iter().filter_map(|f| {
            Some((
                f.file.mandate_id?,
                format!("file {}", f.file.intervention_id?),
            ))
        }),
        "work order",
        &mut r.duplicates,
    );
    for m in &sim.mandates {
        r.intents.work_orders += 1;
        let id = m.id().unwrap_or_default();
        match (&m.status, m.intervention_id) {
            (MandateStatus::Accepted, Some(file)) => match local.get(&file) {
                Some(l) if l.mandate_id == Some(id) => {}
                Some(_) => r.lost.push(format!(
                    "work order {id}: the store's file {file} names another work order"
                )),
                None => r.lost.push(format!(
                    "work order {id}: repair file {file} accepted in AgoraPlus, not in the store"
                )),
            },
            (status, _) => r
                .lost
                .push(format!("work order {id} is {status}: never pulled")),
        }
    }
    for id in local.keys() {
        if sim.repair(*id).is_none() {
            r.lost.push(format!(
                "repair file {id} is in the store, not in AgoraPlus"
            ));
        }
    }
}

fn statuses(sim: &SimState, entries: &[OutboxEntry], r: &mut Reconciliation) {
    for f in &sim.repairs {
        let id = f.file.intervention_id.unwrap_or_default();
        duplicates_of(
            f.file
                .state_natures
                .iter()
                .flatten()
                .filter_map(|s| s.comment.clone())
                .map(|c| ((id, c), "in the history".to_owned())),
            "status (file, comment)",
            &mut r.duplicates,
        );
    }
    let mut intents = BTreeSet::new();
    for e in entries {
        let Operation::UpdateRepair(file) = &e.operation else {
            continue;
        };
        let Some(id) = e.intervention_id.or(file.intervention_id) else {
            continue;
        };
        let held: BTreeSet<&str> = sim
            .repair(id)
            .into_iter()
            .flat_map(|f| f.file.state_natures.iter().flatten())
            .filter_map(|s| s.comment.as_deref())
            .collect();
        for status in file.state_natures.iter().flatten() {
            // The closure is AgoraPlus's own status, never reported.
            if status.code == Some(StatusCode::ClosedWithWarrantyIntervention) {
                continue;
            }
            let Some(comment) = status.comment.as_deref() else {
                continue;
            };
            intents.insert((id, comment.to_owned()));
            if e.state == OutboxState::Delivered && !held.contains(comment) {
                r.lost.push(format!(
                    "entry {} delivered status {} '{comment}' of file {id}; AgoraPlus's history lacks it",
                    e.id,
                    status.code.as_ref().map_or("?", StatusCode::as_str)
                ));
            }
        }
    }
    r.intents.statuses = intents.len();
}

fn orders(
    sim: &SimState,
    local: &HashMap<InterventionId, &LocalRepair>,
    entries: &[OutboxEntry],
    in_doubt: &Doubts<'_>,
    r: &mut Reconciliation,
) {
    duplicates_of(
        sim.orders.iter().map(|o| {
            (
                (
                    o.intervention_id,
                    o.line.reference.clone().unwrap_or_default(),
                ),
                o.line
                    .order_number
                    .clone()
                    .map(String::from)
                    .unwrap_or_default(),
            )
        }),
        "part order (file, reference)",
        &mut r.duplicates,
    );
    let mut files = BTreeSet::new();
    for e in entries {
        let Operation::PlaceOrder(file) = &e.operation else {
            continue;
        };
        files.insert(*file);
        if let (OutboxState::Delivered, Some(OperationAnswer::Ordered(lines))) =
            (e.state, &e.answer)
        {
            for line in lines {
                if !sim
                    .orders_of(*file)
                    .any(|o| o.line.order_number == line.order_number)
                {
                    r.lost.push(format!(
                        "entry {} delivered order {:?} of file {file}; AgoraPlus lacks it",
                        e.id, line.order_number
                    ));
                }
            }
        }
    }
    r.intents.orders = files.len();
    for o in &sim.orders {
        let file = o.intervention_id;
        let known = local.get(&file).is_some_and(|l| {
            l.orders
                .iter()
                .any(|k| k.order_number == o.line.order_number)
        });
        let doubt = in_doubt.any(|e| matches!(e.operation, Operation::PlaceOrder(f) if f == file));
        if !known && !doubt {
            r.lost.push(format!(
                "order {:?} of file {file} is in AgoraPlus, not in the store, and no entry is in doubt for it",
                o.line.order_number
            ));
        }
    }
    for l in local.values() {
        for k in &l.orders {
            if !sim
                .orders_of(l.intervention_id)
                .any(|o| o.line.order_number == k.order_number)
            {
                r.lost.push(format!(
                    "order {:?} of file {} is in the store, not in AgoraPlus",
                    k.order_number, l.intervention_id
                ));
            }
        }
    }
}

fn claim_of(e: &OutboxEntry) -> Option<(InterventionId, Option<ClaimId>)> {
    match &e.operation {
        Operation::CreateClaim { claim, .. } | Operation::UpdateClaim { claim, .. } => Some((
            e.intervention_id
                .or_else(|| claim.claim_type.as_ref()?.intervention_id)?,
            claim.claim_id,
        )),
        _ => None,
    }
}

fn claims(
    sim: &SimState,
    local: &HashMap<InterventionId, &LocalRepair>,
    entries: &[OutboxEntry],
    in_doubt: &Doubts<'_>,
    r: &mut Reconciliation,
) {
    duplicates_of(
        sim.claims
            .iter()
            .map(|c| (c.intervention_id, format!("claim {}", c.claim_id))),
        "claim of file",
        &mut r.duplicates,
    );
    let creating = |file: InterventionId| {
        in_doubt.any(|e| {
            matches!(e.operation, Operation::CreateClaim { .. })
                && claim_of(e).is_some_and(|(f, _)| f == file)
        })
    };
    for c in &sim.claims {
        let known = local
            .get(&c.intervention_id)
            .is_some_and(|l| l.claim_id == Some(c.claim_id));
        if !known && !creating(c.intervention_id) {
            r.lost.push(format!(
                "claim {} of file {} is in AgoraPlus, not in the store, and no entry is in doubt for it",
                c.claim_id, c.intervention_id
            ));
        }
    }
    for l in local.values() {
        if let Some(id) = l.claim_id {
            if !sim.claims_of(l.intervention_id).any(|c| c.claim_id == id) {
                r.lost.push(format!(
                    "claim {id} of file {} is in the store, not in AgoraPlus",
                    l.intervention_id
                ));
            }
        }
    }
    let mut files = BTreeSet::new();
    let mut versions: BTreeMap<ClaimId, Vec<&OutboxEntry>> = BTreeMap::new();
    for e in entries {
        match &e.operation {
            Operation::CreateClaim { .. } => {
                let Some((file, _)) = claim_of(e) else {
                    continue;
                };
                files.insert(file);
                if let (OutboxState::Delivered, Some(OperationAnswer::Claim(result))) =
                    (e.state, &e.answer)
                {
                    if !sim
                        .claims_of(file)
                        .any(|c| Some(c.claim_id) == result.claim_id)
                    {
                        r.lost.push(format!(
                            "entry {} delivered claim {:?} of file {file}; AgoraPlus lacks it",
                            e.id, result.claim_id
                        ));
                    }
                }
            }
            Operation::UpdateClaim { claim, .. } => {
                r.intents.corrections += 1;
                if let Some(id) = claim.claim_id {
                    versions.entry(id).or_default().push(e);
                }
            }
            _ => {}
        }
    }
    r.intents.claims = files.len();
    // The version AgoraPlus holds is the last correction delivered, when
    // none after it may still land.
    for (id, mut corrections) in versions {
        corrections.sort_by_key(|e| e.id);
        if corrections
            .iter()
            .any(|e| !matches!(e.state, OutboxState::Delivered | OutboxState::Failed))
        {
            continue;
        }
        let held = sim
            .claims
            .iter()
            .find(|c| c.claim_id == id)
            .and_then(|c| c.tag());
        let last_delivered = corrections
            .iter()
            .rev()
            .find(|e| e.state == OutboxState::Delivered);
        if let Some(e) = last_delivered {
            let sent = match &e.operation {
                Operation::UpdateClaim { claim, .. } => claim_tag(claim),
                _ => None,
            };
            if held != sent {
                r.lost.push(format!(
                    "entry {} delivered version {sent:?} of claim {id}; AgoraPlus holds {held:?}",
                    e.id
                ));
            }
        }
        for e in corrections
            .iter()
            .filter(|e| e.state == OutboxState::Failed)
        {
            if let Operation::UpdateClaim { claim, .. } = &e.operation {
                if held.is_some() && held == claim_tag(claim) {
                    r.lost.push(format!(
                        "entry {} failed, yet AgoraPlus holds its version {held:?} of claim {id}",
                        e.id
                    ));
                }
            }
        }
    }
}

fn invoices(
    sim: &SimState,
    local: &HashMap<InterventionId, &LocalRepair>,
    entries: &[OutboxEntry],
    in_doubt: &Doubts<'_>,
    r: &mut Reconciliation,
) {
    duplicates_of(
        sim.draft_invoices.iter().filter_map(|d| {
            Some((
                d.invoice_number.clone()?,
                d.draft_invoice_number.to_string(),
            ))
        }),
        "invoice number on drafts",
        &mut r.duplicates,
    );
    let invoice_of = |e: &OutboxEntry| match &e.operation {
        Operation::SendInvoiceReference { reference, claims } => Some((
            reference.draft_invoice_number.clone().unwrap_or_default(),
            reference.invoice_number.clone(),
            claims.clone(),
        )),
        _ => None,
    };
    duplicates_of(
        entries
            .iter()
            .filter(|e| e.state == OutboxState::Delivered)
            .filter_map(|e| Some((invoice_of(e)?.0, format!("entry {}", e.id)))),
        "invoice reference delivered for draft",
        &mut r.duplicates,
    );
    let mut drafts = BTreeSet::new();
    for e in entries {
        let Some((draft, number, _)) = invoice_of(e) else {
            continue;
        };
        drafts.insert(draft.clone());
        if e.state == OutboxState::Delivered
            && sim.draft(&draft).and_then(|d| d.invoice_number.clone()) != number
        {
            r.lost.push(format!(
                "entry {} delivered invoice {number:?} for draft {draft}; AgoraPlus does not show it",
                e.id
            ));
        }
    }
    r.intents.invoices = drafts.len();
    for d in &sim.draft_invoices {
        let Some(number) = &d.invoice_number else {
            continue;
        };
        let recorded = entries.iter().any(|e| {
            e.state == OutboxState::Delivered
                && invoice_of(e).is_some_and(|(draft, n, _)| {
                    draft == d.draft_invoice_number && n.as_ref() == Some(number)
                })
        });
        let doubt = in_doubt
            .any(|e| invoice_of(e).is_some_and(|(draft, _, _)| draft == d.draft_invoice_number));
        if !recorded && !doubt {
            r.lost.push(format!(
                "draft {} is linked to invoice {number} in AgoraPlus; the store has no delivered entry for it",
                d.draft_invoice_number
            ));
        }
    }
    for f in &sim.repairs {
        let Some(id) = f.file.intervention_id else {
            continue;
        };
        let here = local.get(&id).is_some_and(|l| l.lifecycle.invoiced);
        let doubt = in_doubt.any(|e| {
            invoice_of(e)
                .is_some_and(|(_, _, claims)| f.claim_id.is_some_and(|c| claims.contains(&c)))
        });
        if f.invoiced != here && !doubt {
            r.lost.push(format!(
                "file {id} is {}invoiced in AgoraPlus but {}invoiced in the store",
                if f.invoiced { "" } else { "not " },
                if here { "" } else { "not " }
            ));
        }
    }
}

mod fields;

#[cfg(test)]
pub(crate) mod tests;
