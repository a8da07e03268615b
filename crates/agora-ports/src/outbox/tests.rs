//! Unit tests of `outbox`.

use super::*;
use agora_domain::MandateId;

fn claim_op(transfer_if_valid: bool, update: bool) -> Operation {
    let claim = WarrantyClaim::default();
    if update {
        Operation::UpdateClaim {
            claim,
            language: Lcid::ENGLISH,
            transfer_if_valid,
        }
    } else {
        Operation::CreateClaim {
            claim,
            language: Lcid::ENGLISH,
            transfer_if_valid,
        }
    }
}

#[test]
fn stored_state_names_read_back_and_are_the_stores_sql_names() {
    let all = [
        OutboxState::Pending,
        OutboxState::Sending,
        OutboxState::Delivered,
        OutboxState::InDoubt,
        OutboxState::Failed,
    ];
    let names: Vec<&str> = all.iter().map(|s| s.stored_name()).collect();
    // The stores' SQL spells these names.
    assert_eq!(
        names,
        ["pending", "sending", "delivered", "in_doubt", "failed"]
    );
    for state in all {
        assert_eq!(
            OutboxState::from_stored_name(state.stored_name()),
            Some(state)
        );
    }
    assert_eq!(OutboxState::from_stored_name("in-doubt"), None);
    assert_eq!(OutboxState::from_stored_name(""), None);
}

#[test]
fn a_correction_that_transfers_is_not_idempotent() {
    assert!(claim_op(false, true).is_idempotent());
    assert!(!claim_op(true, true).is_idempotent());
    assert!(!claim_op(false, false).is_idempotent());
    assert!(Operation::UpdateRepair(CompleteRepairState::default()).is_idempotent());
    assert!(!Operation::PlaceOrder(InterventionId(1)).is_idempotent());
    assert!(!Operation::CreateRepair(CompleteRepairState::default()).is_idempotent());
}

#[test]
fn stored_operations_and_answers_read_back_whatever_values_they_kept() {
    // A part order line whose logistic code came as a number, kept so.
    let json = r#"{"Ordered":[{"OrderNumber":"ORD-1","StatusCode":208}]}"#;
    let answer = OperationAnswer::from_stored(json).unwrap();
    let OperationAnswer::Ordered(lines) = &answer else {
        panic!("{answer:?}")
    };
    assert_eq!(
        lines[0].status_code,
        Some(agora_domain::LogisticStatus::Shipped)
    );
    assert_eq!(serde_json::to_string(&answer).unwrap(), json);
    // A claim whose consumer title is a label.
    let json = r#"{"CreateClaim":{"claim":{"ClaimConso":{"Title":"Mr."}},"language":1033,"transfer_if_valid":true}}"#;
    let op = Operation::from_stored(json).unwrap();
    assert_eq!(serde_json::to_string(&op).unwrap(), json);
    // What cannot be read at all says why.
    assert!(Operation::from_stored(r#"{"NoSuchOperation":1}"#).is_err());
    assert!(Operation::from_stored(r#"{"UpdateRepair":7}"#).is_err());
    assert!(OperationAnswer::from_stored("[]").is_err());
}

#[test]
fn exclusive_keys_name_what_is_created() {
    assert_eq!(
        claim_op(true, false)
            .exclusive_key(Some(InterventionId(7)))
            .as_deref(),
        Some("claim/7")
    );
    assert_eq!(
        claim_op(true, true)
            .exclusive_key(Some(InterventionId(7)))
            .as_deref(),
        Some("claim/7")
    );
    assert_eq!(
        Operation::PlaceOrder(InterventionId(9))
            .exclusive_key(None)
            .as_deref(),
        Some("order/9")
    );
    let invoice = Operation::SendInvoiceReference {
        reference: InvoiceReference {
            invoice_number: Some("F-1".into()),
            draft_invoice_number: Some("DR-1".into()),
            ..Default::default()
        },
        claims: vec![],
    };
    assert_eq!(invoice.exclusive_key(None).as_deref(), Some("invoice/DR-1"));
    let by_mandate = CompleteRepairState {
        mandate_id: Some(MandateId(41)),
        serial_number: Some("S".into()),
        ..Default::default()
    };
    assert_eq!(
        Operation::CreateRepair(by_mandate)
            .exclusive_key(None)
            .as_deref(),
        Some("repair/mandate/41")
    );
    let by_serial = CompleteRepairState {
        commercial_ref: Some("ECAM".into()),
        serial_number: Some("S1".into()),
        ..Default::default()
    };
    assert_eq!(
        Operation::CreateRepair(by_serial)
            .exclusive_key(None)
            .as_deref(),
        Some("repair/ECAM/S1")
    );
    assert_eq!(
        Operation::UpdateRepair(CompleteRepairState::default())
            .exclusive_key(Some(InterventionId(1))),
        None
    );
    assert_eq!(
        Operation::CreateRepair(CompleteRepairState::default()).exclusive_key(None),
        None
    );
}

#[test]
fn the_process_owner_is_host_pid_random_and_the_same_all_the_run() {
    let owner = Lease::process_owner();
    let parts: Vec<&str> = owner.rsplitn(3, ':').collect();
    assert_eq!(parts.len(), 3, "{owner}");
    let (random, pid, host) = (parts[0], parts[1], parts[2]);
    assert!(!host.is_empty(), "{owner}");
    assert_eq!(pid, std::process::id().to_string(), "{owner}");
    assert_eq!(random.len(), 16, "{owner}");
    assert!(random.chars().all(|c| c.is_ascii_hexdigit()), "{owner}");
    // Drawn once: every caller of one run gets the same name.
    assert_eq!(Lease::process_owner(), owner);
    let other_thread = std::thread::spawn(Lease::process_owner).join().unwrap();
    assert_eq!(other_thread, owner);
}
