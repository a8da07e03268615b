//! For random sequences of lifecycle events, the hard rules always hold.

#![allow(clippy::unwrap_used)]

use agora_domain::lifecycle::{
    ClaimState, RepairEvent, RepairLifecycle, RepairPhase, is_claim_edge,
};
use agora_domain::status::check_status;
use agora_domain::tables::{InterventionTypeId, ManufacturerId, REPAIR_TYPES, coverage};
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
                    order_number,
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
                            // Nothing is updated once the file is closed or absent,
                            // and every status carries what its code requires.
                            prop_assert!(before.phase != RepairPhase::Closed);
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
                // A claim only for a repair type its OEM covers, and it closes the file (601).
                let covered = coverage(state.manufacturer.unwrap(), state.repair_type.unwrap());
                prop_assert!(covered.is_claimable());
                prop_assert_eq!(state.phase, RepairPhase::Closed);
                prop_assert_eq!(state.closure_code(), Some(StatusCode::ClosedWithWarrantyIntervention));
            } else {
                prop_assert!(state.phase != RepairPhase::Closed);
            }
            // Only CLOSEDACCEPTED claims are invoiced.
            if state.invoiced {
                prop_assert_eq!(state.claim, Some(ClaimState::ClosedAccepted));
            }
            // A closed file refuses every status.
            if state.phase == RepairPhase::Closed {
                let any = StateNature::new(StatusCode::Diagnosis, "late");
                prop_assert!(state.apply(&RepairEvent::StatusReported(any)).is_err());
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
    let unknown = RepairLifecycle::direct(Some(ManufacturerId(4242)), Some(InterventionTypeId(1)));
    assert!(
        unknown
            .apply(&RepairEvent::ClaimCreated {
                valid: true,
                transfer_if_valid: true
            })
            .is_err()
    );
}
