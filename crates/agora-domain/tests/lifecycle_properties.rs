//! For random sequences of lifecycle events, the hard rules always hold,
//! and the local rules are no stricter than the reference.

#![allow(clippy::unwrap_used)]

use agora_domain::OrderNumber;
use agora_domain::lifecycle::{
    ClaimState, RepairEvent, RepairLifecycle, RepairPhase, RuleWarning, TransitionError,
    is_claim_edge,
};
use agora_domain::status::{StatusWarning, check_status};
use agora_domain::tables::{Coverage, InterventionTypeId, ManufacturerId, REPAIR_TYPES, coverage};
use agora_domain::{ClaimStatus, MandateStatus, Part, StateNature, StatusCode, WireDateTime};
use proptest::prelude::*;

fn arb_status() -> impl Strategy<Value = StateNature> {
    let code = prop_oneof![
        prop::sample::select(StatusCode::KNOWN.to_vec()),
        "[0-9]{3}".prop_map(|s| StatusCode::lenient(&s)),
    ];
    (
        code,
        prop::option::of(0i64..48),
        prop::option::of(-2i64..6),
        prop::option::of((
            prop::option::of("[A-Z0-9]{4}"),
            prop::option::of("PO-[0-9]{2}"),
        )),
    )
        .prop_map(|(code, start_h, len_h, part)| {
            let mut s = StateNature::new(code, "c");
            let at = |h: i64| {
                let ts = jiff::Timestamp::from_second(1_650_000_000 + h * 3600).unwrap();
                WireDateTime::from_timestamp(ts)
            };
            if let Some(h) = start_h {
                s.appointment_date = Some(at(h));
                if let Some(l) = len_h {
                    s.appointment_end_date = Some(at(h + l));
                }
            }
            if let Some((reference, order_number)) = part {
                s.parts = Some(vec![Part {
                    reference,
                    order_number: order_number.map(OrderNumber::from),
                    ..Part::default()
                }]);
            }
            s
        })
}

fn arb_event() -> impl Strategy<Value = RepairEvent> {
    prop_oneof![
        Just(RepairEvent::MandateAccepted),
        Just(RepairEvent::MandateRefused),
        arb_status().prop_map(RepairEvent::StatusReported),
        arb_status().prop_map(RepairEvent::StatusReported),
        Just(RepairEvent::InformationUpdated),
        (any::<bool>(), any::<bool>()).prop_map(|(valid, transfer_if_valid)| {
            RepairEvent::ClaimCreated {
                valid,
                transfer_if_valid,
            }
        }),
        (any::<bool>(), any::<bool>()).prop_map(|(valid, transfer_if_valid)| {
            RepairEvent::ClaimUpdated {
                valid,
                transfer_if_valid,
            }
        }),
        Just(RepairEvent::ClaimTransferred),
        prop::sample::select(vec![
            ClaimStatus::NotConform,
            ClaimStatus::ClosedAccepted,
            ClaimStatus::Valid,
            ClaimStatus::NotValid,
        ])
        .prop_map(RepairEvent::OemDecision),
        Just(RepairEvent::Invoiced),
    ]
}

fn arb_start() -> impl Strategy<Value = RepairLifecycle> {
    let row = prop::sample::select(REPAIR_TYPES.to_vec());
    (row, any::<bool>(), prop::option::of(1u32..40)).prop_map(|(row, direct, odd_type)| {
        let repair_type = odd_type.map_or(row.intervention_type, InterventionTypeId);
        if direct {
            RepairLifecycle::direct(Some(row.manufacturer), Some(repair_type))
        } else {
            RepairLifecycle::from_work_order(Some(row.manufacturer), Some(repair_type))
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn hard_rules_hold_for_any_sequence(
        start in arb_start(),
        events in prop::collection::vec(arb_event(), 0..40),
    ) {
        let mut state = start;
        for event in &events {
            let before = state.clone();
            match state.apply(event) {
                Err(_) => {
                    // A refused event changes nothing: `apply` is pure.
                }
                Ok(next) => {
                    // A work order is unalterable once accepted or refused.
                    if matches!(before.mandate, Some(MandateStatus::Accepted | MandateStatus::Refused)) {
                        prop_assert_eq!(&next.mandate, &before.mandate);
                    }
                    match event {
                        RepairEvent::StatusReported(status) => {
                            // Nothing is updated once the file is closed (but
                            // 602, which comes after the claim) or absent,
                            // and every status carries what its code requires.
                            prop_assert!(
                                before.phase != RepairPhase::Closed
                                    || status.code == Some(StatusCode::ProductReturnedToConsumer)
                            );
                            prop_assert!(before.has_file());
                            prop_assert!(check_status(status).is_ok());
                            prop_assert!(status.code != Some(StatusCode::ClosedWithWarrantyIntervention));
                        }
                        RepairEvent::InformationUpdated => {
                            prop_assert!(before.phase != RepairPhase::Closed && before.has_file());
                        }
                        _ => {}
                    }
                    // Claim statuses move only along real edges.
                    if next.claim != before.claim {
                        prop_assert!(is_claim_edge(before.claim, next.claim.unwrap()),
                            "{:?} -> {:?}", before.claim, next.claim);
                    }
                    state = next;
                }
            }
            // Invariants of every reachable state.
            if state.claim.is_some() {
                // Never a claim for a repair type its OEM lists as not
                // covered; and it closes the file (601).
                let covered = coverage(state.manufacturer.unwrap(), state.repair_type.unwrap());
                prop_assert!(covered != Coverage::NotCovered);
                prop_assert_eq!(state.phase, RepairPhase::Closed);
                prop_assert_eq!(state.closure_code(), Some(StatusCode::ClosedWithWarrantyIntervention));
            } else {
                prop_assert!(state.phase != RepairPhase::Closed);
            }
            // Only CLOSEDACCEPTED claims are invoiced.
            if state.invoiced {
                prop_assert_eq!(state.claim, Some(ClaimState::ClosedAccepted));
            }
            // A closed file refuses every status but 602, and stays closed.
            if state.phase == RepairPhase::Closed {
                let any = StateNature::new(StatusCode::Diagnosis, "late");
                prop_assert!(state.apply(&RepairEvent::StatusReported(any)).is_err());
                let returned = StateNature::new(StatusCode::ProductReturnedToConsumer, "back");
                let after = state.apply(&RepairEvent::StatusReported(returned));
                prop_assert_eq!(after.map(|s| s.phase), Ok(RepairPhase::Closed));
            }
        }
    }
}

#[test]
fn type_7_is_never_claimable_for_any_oem() {
    for row in REPAIR_TYPES
        .iter()
        .filter(|r| r.intervention_type == InterventionTypeId(7))
    {
        let s = RepairLifecycle::direct(Some(row.manufacturer), Some(row.intervention_type));
        assert!(
            s.apply(&RepairEvent::ClaimCreated {
                valid: true,
                transfer_if_valid: true
            })
            .is_err(),
            "{:?}",
            row
        );
    }
}

const CLAIM: RepairEvent = RepairEvent::ClaimCreated {
    valid: true,
    transfer_if_valid: true,
};

/// Table 6.4 lists no repair type for OEMs 5, 10, 24 and 27 (6.3), nor any
/// row for an OEM this version does not know: their claims are sent, with
/// a warning, and AgoraPlus's rule engine judges them.
#[test]
fn claims_outside_table_6_4_are_sent_with_a_warning() {
    for oem in [5, 10, 24, 27, 4242] {
        let s = RepairLifecycle::direct(Some(ManufacturerId(oem)), Some(InterventionTypeId(1)));
        let applied = s.check(&CLAIM).unwrap();
        assert_eq!(
            applied.next.claim,
            Some(ClaimState::Valid { transferred: true })
        );
        assert_eq!(applied.next.phase, RepairPhase::Closed);
        assert_eq!(
            applied.warnings,
            [RuleWarning::OutsideRepairTable {
                manufacturer: ManufacturerId(oem),
                repair_type: InterventionTypeId(1),
            }]
        );
        assert!(applied.warnings[0].to_string().contains("6.4"));
    }
    // A repair type the OEM's rows do not list: the same.
    let s = RepairLifecycle::direct(Some(ManufacturerId(15)), Some(InterventionTypeId(2)));
    assert_eq!(s.check(&CLAIM).unwrap().warnings.len(), 1);
    // A covered one: no warning.
    let s = RepairLifecycle::direct(Some(ManufacturerId(19)), Some(InterventionTypeId(1)));
    assert!(s.check(&CLAIM).unwrap().warnings.is_empty());
    // Without repair type: sent, with a warning; without OEM: refused
    // (`ManufacturerId` is the one field the reference marks required).
    let s = RepairLifecycle::direct(Some(ManufacturerId(19)), None);
    assert_eq!(
        s.check(&CLAIM).unwrap().warnings,
        [RuleWarning::NoRepairType]
    );
    let s = RepairLifecycle::direct(None, Some(InterventionTypeId(1)));
    assert_eq!(
        s.check(&CLAIM),
        Err(TransitionError::MissingForClaim("ManufacturerId"))
    );
}

/// 2.2.2 lists 602 (product returned to the consumer) among the statuses;
/// it comes after the repair, and so after the claim that closed the file.
#[test]
fn status_602_is_allowed_after_a_claim() {
    let closed = RepairLifecycle::direct(Some(ManufacturerId(19)), Some(InterventionTypeId(1)))
        .apply(&CLAIM)
        .unwrap();
    let returned = StateNature::new(StatusCode::ProductReturnedToConsumer, "returned");
    let after = closed
        .apply(&RepairEvent::StatusReported(returned.clone()))
        .unwrap();
    assert_eq!(after.phase, RepairPhase::Closed);
    assert_eq!(after.claim, closed.claim);
    // Any other status stays refused on a closed file.
    let late = StateNature::new(StatusCode::RepairFinished, "late");
    assert_eq!(
        closed.apply(&RepairEvent::StatusReported(late.clone())),
        Err(TransitionError::FileClosed)
    );
    // As a server judges an update of the whole file: the 602 alone goes
    // through; with another new status, or none, the closed file refuses.
    assert!(closed.check_update(std::slice::from_ref(&returned)).is_ok());
    assert_eq!(
        closed.check_update(&[returned, late]),
        Err(TransitionError::FileClosed)
    );
    assert_eq!(closed.check_update(&[]), Err(TransitionError::FileClosed));
    // The client's copy of the file carries AgoraPlus's 601 back: passed over.
    let closure = StateNature::new(StatusCode::ClosedWithWarrantyIntervention, "closed");
    let back = StateNature::new(StatusCode::ProductReturnedToConsumer, "returned");
    assert!(closed.check_update(&[closure.clone(), back]).is_ok());
    assert_eq!(
        closed.check_update(std::slice::from_ref(&closure)),
        Err(TransitionError::FileClosed)
    );
    // On an open file, a 601 stays the client's to never send.
    let open = RepairLifecycle::direct(Some(ManufacturerId(19)), Some(InterventionTypeId(1)));
    assert!(open.check_update(&[closure]).is_err());
}

/// The reference's own 204 sample (2.2.2) sends a part reference without
/// order number, which its table asks for: sent, with a warning.
#[test]
fn a_spare_part_status_without_order_number_is_sent_with_a_warning() {
    let open = RepairLifecycle::direct(Some(ManufacturerId(19)), Some(InterventionTypeId(1)));
    let mut broken = StateNature::new(StatusCode::PartsReceivedDefective, "cracked");
    broken.parts = Some(vec![Part {
        reference: Some("0070817965D".into()),
        quantity: Some(1),
        ..Part::default()
    }]);
    let applied = open
        .check(&RepairEvent::StatusReported(broken.clone()))
        .unwrap();
    assert_eq!(
        applied.warnings,
        [RuleWarning::Status(StatusWarning::MissingOrderNumber {
            code: StatusCode::PartsReceivedDefective,
            index: 0,
        })]
    );
    // With its order number: no warning. Without a reference: refused.
    broken.parts.as_mut().unwrap()[0].order_number = Some("PO-1".into());
    let applied = open
        .check(&RepairEvent::StatusReported(broken.clone()))
        .unwrap();
    assert!(applied.warnings.is_empty());
    broken.parts.as_mut().unwrap()[0].reference = None;
    assert!(open.check(&RepairEvent::StatusReported(broken)).is_err());
}
