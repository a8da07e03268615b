//! Unit tests of `reconcile`, and the fixtures other modules' tests share.

use agora_domain::lifecycle::{ClaimState, RepairEvent, RepairLifecycle};
use agora_domain::{
    CompleteRepairState, InterventionTypeId, InvoiceReference, Lcid, MandateId, PartOrderLine,
    StateNature, WarrantyClaim, WarrantyClaimResult,
};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::*;
use crate::workload::{OEM, mandate};
use agora_ports::ParkReason;

/// A local repair file accepted from work order `id - 400_000`.
pub(crate) fn local(id: InterventionId) -> LocalRepair {
    LocalRepair {
        intervention_id: id,
        mandate_id: Some(MandateId(id.0 - 400_000)),
        file: CompleteRepairState::from_work_order(&mandate(1), id),
        lifecycle: RepairLifecycle::from_work_order(Some(OEM), Some(InterventionTypeId(1)))
            .apply(&RepairEvent::MandateAccepted)
            .unwrap(),
        claim_id: None,
        orders: Vec::new(),
        attention: None,
        revision: 1,
        work_order: None,
        accepted_at: None,
    }
}

fn entry(id: u64, state: OutboxState, operation: Operation, file: i64) -> OutboxEntry {
    OutboxEntry {
        id,
        intervention_id: Some(InterventionId(file)),
        operation,
        state,
        attempts: 1,
        next_attempt_at: Timestamp::UNIX_EPOCH,
        last_error: (state == OutboxState::Failed).then(|| "refused".to_owned()),
        created_at: Timestamp::UNIX_EPOCH,
        lease: None,
        answer: None,
        sent_at: None,
        parked_at: None,
        park_reason: None,
        needs_result: false,
        held_until: None,
        duplicates: Vec::new(),
    }
}

fn status_update(file: i64, comments: &[&str]) -> Operation {
    let mut f = CompleteRepairState::from_work_order(&mandate(1), InterventionId(file));
    f.state_natures = Some(
        comments
            .iter()
            .map(|c| StateNature::new(StatusCode::Diagnosis, *c))
            .collect(),
    );
    Operation::UpdateRepair(f)
}

/// One file 500001 from work order 100001, with status "a", order
/// ORD-1 and claim 5000001; the store agrees.
fn agreeing() -> (Value, Vec<LocalRepair>, Vec<OutboxEntry>) {
    let sim = json!({
        "Mandates": [{"Status": "ACCEPTED", "InterventionId": 500_001,
                      "Mandate": {"MandateId": 100_001}}],
        "Repairs": [{"File": {"InterventionId": 500_001, "MandateId": 100_001,
                              "StateNatures": [{"Code": "406", "Comment": "a"}]},
                     "ClaimID": 5_000_001, "Invoiced": false}],
        "Orders": [{"InterventionId": 500_001,
                    "Line": {"OrderNumber": "ORD-1", "Reference": "00019-1"}}],
        "Claims": [{"ClaimID": 5_000_001, "InterventionId": 500_001,
                    "Claim": {"ClaimInfos": {"IRISSymptom": "v2"}}}],
        "DraftInvoices": []
    });
    let mut l = local(InterventionId(500_001));
    l.claim_id = Some(ClaimId(5_000_001));
    l.lifecycle.claim = Some(ClaimState::NotValid);
    l.orders.push(PartOrderLine {
        order_number: Some("ORD-1".into()),
        reference: Some("00019-1".into()),
        ..PartOrderLine::default()
    });
    let mut order = entry(
        2,
        OutboxState::Delivered,
        Operation::PlaceOrder(InterventionId(500_001)),
        500_001,
    );
    order.answer = Some(OperationAnswer::Ordered(l.orders.clone()));
    let claim = |tag: &str, id: Option<i64>| {
        let mut c: WarrantyClaim =
            serde_json::from_value(json!({"ClaimInfos": {"IRISSymptom": tag}})).unwrap();
        c.claim_id = id.map(ClaimId::from);
        c
    };
    let mut create = entry(
        3,
        OutboxState::Delivered,
        Operation::CreateClaim {
            claim: claim("v1", None),
            language: Lcid::ENGLISH,
            transfer_if_valid: true,
        },
        500_001,
    );
    create.answer = Some(OperationAnswer::Claim(WarrantyClaimResult {
        claim_id: Some(ClaimId(5_000_001)),
        ..WarrantyClaimResult::default()
    }));
    let correct = entry(
        4,
        OutboxState::Delivered,
        Operation::UpdateClaim {
            claim: claim("v2", Some(5_000_001)),
            language: Lcid::ENGLISH,
            transfer_if_valid: true,
        },
        500_001,
    );
    let entries = vec![
        entry(
            1,
            OutboxState::Delivered,
            status_update(500_001, &["a"]),
            500_001,
        ),
        order,
        create,
        correct,
    ];
    (sim, vec![l], entries)
}

fn run(sim: Value, local: &[LocalRepair], entries: &[OutboxEntry]) -> Reconciliation {
    reconcile(&SimState::parse(sim).unwrap(), local, entries)
}

#[test]
fn agreeing_sides_reconcile_with_nothing_lost_or_duplicated() {
    let (sim, local, entries) = agreeing();
    let r = run(sim, &local, &entries);
    assert!(r.lost.is_empty(), "{:?}", r.lost);
    assert!(r.duplicates.is_empty(), "{:?}", r.duplicates);
    assert_eq!(r.delivered, 4);
    assert_eq!(
        r.intents,
        Intents {
            work_orders: 1,
            statuses: 1,
            orders: 1,
            claims: 1,
            corrections: 1,
            invoices: 0
        }
    );
}

#[test]
fn a_second_claim_order_status_or_file_is_a_duplicate() {
    let (mut sim, local, entries) = agreeing();
    sim["Claims"]
        .as_array_mut()
        .unwrap()
        .push(json!({"ClaimID": 5_000_002, "InterventionId": 500_001, "Claim": {}}));
    sim["Orders"].as_array_mut().unwrap().push(
        json!({"InterventionId": 500_001, "Line": {"OrderNumber": "ORD-2", "Reference": "00019-1"}}),
    );
    sim["Repairs"][0]["File"]["StateNatures"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Code": "406", "Comment": "a"}));
    sim["Repairs"]
        .as_array_mut()
        .unwrap()
        .push(json!({"File": {"InterventionId": 500_002, "MandateId": 100_001}}));
    let r = run(sim, &local, &entries);
    assert_eq!(r.duplicates.len(), 4, "{:#?}", r.duplicates);
    for what in ["claim of file", "part order", "status", "work order"] {
        assert!(
            r.duplicates.iter().any(|d| d.starts_with(what)),
            "{what} in {:#?}",
            r.duplicates
        );
    }
}

#[test]
fn an_unknown_claim_is_lost_unless_its_creation_is_in_doubt() {
    let (sim, mut local, mut entries) = agreeing();
    local[0].claim_id = None;
    entries.truncate(2);
    let r = run(sim.clone(), &local, &entries);
    assert!(
        r.lost
            .iter()
            .any(|l| l.starts_with("claim 5000001 of file 500001 is in AgoraPlus")),
        "{:?}",
        r.lost
    );
    entries.push(entry(
        3,
        OutboxState::InDoubt,
        Operation::CreateClaim {
            claim: WarrantyClaim::default(),
            language: Lcid::ENGLISH,
            transfer_if_valid: true,
        },
        500_001,
    ));
    let r = run(sim, &local, &entries);
    assert!(r.lost.is_empty(), "{:?}", r.lost);
    assert_eq!(r.in_doubt, vec![3]);
}

#[test]
fn a_delivered_status_missing_in_agoraplus_is_lost() {
    let (sim, local, mut entries) = agreeing();
    entries.push(entry(
        5,
        OutboxState::Delivered,
        status_update(500_001, &["a", "b"]),
        500_001,
    ));
    let r = run(sim, &local, &entries);
    assert_eq!(r.lost.len(), 1, "{:?}", r.lost);
    assert!(r.lost[0].contains("'b'"), "{:?}", r.lost);
}

#[test]
fn pending_entries_reasonless_failures_and_unpulled_work_orders_are_lost() {
    let (mut sim, local, mut entries) = agreeing();
    let mut failed = entry(
        6,
        OutboxState::Failed,
        status_update(500_001, &["c"]),
        500_001,
    );
    failed.last_error = None;
    entries.push(failed);
    entries.push(entry(
        7,
        OutboxState::Pending,
        status_update(500_001, &["d"]),
        500_001,
    ));
    sim["Mandates"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Status": "NEW", "Mandate": {"MandateId": 100_002}}));
    let r = run(sim, &local, &entries);
    assert_eq!(r.lost.len(), 3, "{:#?}", r.lost);
    assert_eq!(r.open, vec![7]);
}

/// An entry held back behind an earlier one of its file parked in doubt
/// is waiting (the outbox's order), not lost; with the doubt settled, or
/// behind an entry AgoraPlus refused (which blocks nothing), it is lost.
#[test]
fn an_entry_behind_a_doubt_of_its_file_waits() {
    let (sim, local, mut entries) = agreeing();
    let mut doubt = entry(
        6,
        OutboxState::InDoubt,
        Operation::PlaceOrder(InterventionId(500_001)),
        500_001,
    );
    doubt.park_reason = Some(ParkReason::InDoubt);
    entries.push(doubt);
    entries.push(entry(
        7,
        OutboxState::Pending,
        status_update(500_001, &["d"]),
        500_001,
    ));
    let r = run(sim.clone(), &local, &entries);
    assert!(r.lost.is_empty(), "{:#?}", r.lost);
    assert_eq!(r.open, vec![7]);
    assert_eq!(r.waiting.len(), 1, "{:?}", r.waiting);
    assert!(r.waiting[0].contains("behind entry 6"), "{:?}", r.waiting);
    entries[4].park_reason = Some(ParkReason::Refused);
    entries[4].state = OutboxState::Failed;
    entries[4].last_error = Some("refused".to_owned());
    let r = run(sim, &local, &entries);
    assert_eq!(r.lost.len(), 1, "{:#?}", r.lost);
    assert!(r.waiting.is_empty(), "{:?}", r.waiting);
}

#[test]
fn a_correction_delivered_but_not_held_is_lost() {
    let (mut sim, local, entries) = agreeing();
    sim["Claims"][0]["Claim"]["ClaimInfos"]["IRISSymptom"] = json!("v1");
    let r = run(sim, &local, &entries);
    assert_eq!(r.lost.len(), 1, "{:?}", r.lost);
    assert!(r.lost[0].contains("version"), "{:?}", r.lost);
}

#[test]
fn invoices_agree_or_are_lost_or_duplicated() {
    let (mut sim, mut local, mut entries) = agreeing();
    let invoice = |id: u64, state: OutboxState, number: &str| {
        entry(
            id,
            state,
            Operation::SendInvoiceReference {
                reference: InvoiceReference {
                    invoice_number: Some(number.into()),
                    draft_invoice_number: Some("DR-19-00001".into()),
                    ..InvoiceReference::default()
                },
                claims: vec![ClaimId(5_000_001)],
            },
            500_001,
        )
    };
    sim["DraftInvoices"] = json!([{"DraftInvoiceNumber": "DR-19-00001",
        "ClaimIDs": [5_000_001], "InvoiceNumber": "INV-1"}]);
    sim["Repairs"][0]["Invoiced"] = json!(true);
    // AgoraPlus linked it; the store does not know.
    let r = run(sim.clone(), &local, &entries);
    assert_eq!(r.lost.len(), 2, "{:#?}", r.lost);
    // Recorded: they agree.
    entries.push(invoice(8, OutboxState::Delivered, "INV-1"));
    local[0].lifecycle.invoiced = true;
    let r = run(sim.clone(), &local, &entries);
    assert!(r.lost.is_empty(), "{:?}", r.lost);
    assert_eq!(r.intents.invoices, 1);
    // Two deliveries for one draft.
    entries.push(invoice(9, OutboxState::Delivered, "INV-1"));
    let r = run(sim, &local, &entries);
    assert_eq!(r.duplicates.len(), 1, "{:?}", r.duplicates);
}

/// `agreeing()` with AgoraPlus's file as the store holds it (plus the
/// closure status AgoraPlus words its own way) and the claim's status.
fn agreeing_field_by_field() -> (Value, Vec<LocalRepair>, Vec<OutboxEntry>) {
    let (mut sim, mut local, entries) = agreeing();
    local[0].file.state_natures = Some(vec![StateNature::new(StatusCode::Diagnosis, "a")]);
    let mut file = serde_json::to_value(&local[0].file).unwrap();
    file["StateNatures"].as_array_mut().unwrap().push(json!({
        "Code": "601", "Comment": "Closed with warranty intervention (claim 5000001)",
        "StatusDate": "2024-03-01T09:00:00Z"
    }));
    local[0]
        .file
        .state_natures
        .as_mut()
        .unwrap()
        .push(StateNature::new(
            StatusCode::ClosedWithWarrantyIntervention,
            "set by AgoraPlus",
        ));
    sim["Repairs"][0]["File"] = file;
    sim["Claims"][0]["LastStatus"] = json!("NOTVALID");
    (sim, local, entries)
}

#[test]
fn files_equal_field_by_field_show_no_difference() {
    let (sim, local, entries) = agreeing_field_by_field();
    let r = run(sim, &local, &entries);
    assert_eq!(r.differing, Vec::<String>::new());
    assert!(r.lost.is_empty(), "{:?}", r.lost);
}

#[test]
fn every_field_that_differs_is_named_with_both_values() {
    let (mut sim, local, entries) = agreeing_field_by_field();
    let file = &mut sim["Repairs"][0]["File"];
    file["CommercialRef"] = json!("OTHER-REF");
    file["StateNatures"][0]["Comment"] = json!("b");
    sim["Orders"][0]["Line"]["StatusCode"] = json!("208");
    sim["Claims"][0]["LastStatus"] = json!("VALID");
    sim["Repairs"][0]["Invoiced"] = json!(true);
    let r = run(sim, &local, &entries);
    assert_eq!(r.differing.len(), 1, "{:#?}", r.differing);
    let line = &r.differing[0];
    assert!(line.starts_with("file 500001: "), "{line}");
    for what in [
        "CommercialRef: store ",
        "\"OTHER-REF\"",
        "StateNatures[0].Comment: store \"a\", AgoraPlus \"b\"",
        "order ORD-1 of part 00019-1: logistic status: store none, AgoraPlus",
        "claim status: store NOTVALID, AgoraPlus VALID",
        "invoiced: store false, AgoraPlus true",
    ] {
        assert!(line.contains(what), "{what} in {line}");
    }
}

#[test]
fn a_creation_applied_twice_is_counted_from_the_journal() {
    let (mut sim, local, entries) = agreeing_field_by_field();
    let record = |seq: u64, dup: Option<u64>| {
        json!({"Seq": seq, "Route": "CreateWarrantyClaims", "Intent": "claim for file 500001",
               "Made": "5000001", "At": "2024-03-01T09:00:00Z", "Creates": true,
               "DuplicateOf": dup})
    };
    sim["Journal"] = json!([record(1, None)]);
    let r = run(sim.clone(), &local, &entries);
    assert_eq!(r.journaled, 1);
    assert_eq!(r.journal_duplicates, Vec::<String>::new());
    sim["Journal"] = json!([record(1, None), record(2, Some(1))]);
    let r = run(sim, &local, &entries);
    assert_eq!(
        r.journal_duplicates,
        [
            "CreateWarrantyClaims applied again: claim for file 500001 (journal record 2, first applied as record 1)"
        ]
    );
}
