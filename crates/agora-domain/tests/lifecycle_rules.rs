//! The repair lifecycle's rules one by one: which work orders have a
//! file, where each kind of status moves the repair, and every edge of the
//! claim life cycle, allowed or not.

#![allow(clippy::unwrap_used)]

use agora_domain::lifecycle::{
    ClaimState, RepairEvent, RepairLifecycle, RepairPhase, TransitionError, is_claim_edge,
};
use agora_domain::{
    ClaimStatus, InterventionTypeId, MandateStatus, ManufacturerId, StateNature, StatusCode,
};

fn accepted() -> RepairLifecycle {
    RepairLifecycle::from_work_order(Some(ManufacturerId(19)), Some(InterventionTypeId(1)))
        .apply(&RepairEvent::MandateAccepted)
        .unwrap()
}

#[test]
fn only_an_accepted_work_order_or_a_direct_file_has_a_repair_file() {
    let new = RepairLifecycle::from_work_order(Some(ManufacturerId(19)), None);
    assert_eq!(new.mandate, Some(MandateStatus::New));
    assert!(!new.has_file());
    let refused = new.apply(&RepairEvent::MandateRefused).unwrap();
    assert_eq!(refused.mandate, Some(MandateStatus::Refused));
    assert!(!refused.has_file());
    assert!(matches!(
        refused.apply(&RepairEvent::InformationUpdated),
        Err(TransitionError::WorkOrderNotAccepted(
            MandateStatus::Refused
        ))
    ));
    assert!(accepted().has_file());
    let direct = RepairLifecycle::direct(Some(ManufacturerId(19)), Some(InterventionTypeId(1)));
    assert_eq!(direct.mandate, None);
    assert!(direct.has_file());
    assert_eq!(
        (direct.manufacturer, direct.repair_type, direct.phase),
        (
            Some(ManufacturerId(19)),
            Some(InterventionTypeId(1)),
            RepairPhase::Open
        )
    );
    assert!(matches!(
        direct.apply(&RepairEvent::MandateAccepted),
        Err(TransitionError::WorkOrderUnalterable(_))
    ));
    // The closure code shows once the file is closed, by a claim.
    assert_eq!(accepted().closure_code(), None);
    let closed = accepted()
        .apply(&RepairEvent::ClaimCreated {
            valid: false,
            transfer_if_valid: true,
        })
        .unwrap();
    assert_eq!(
        closed.closure_code(),
        Some(StatusCode::ClosedWithWarrantyIntervention)
    );
}

#[test]
fn each_kind_of_status_moves_the_repair_where_it_belongs() {
    for (code, phase) in [
        ("406", RepairPhase::InProgress),
        ("101", RepairPhase::InProgress),
        ("205", RepairPhase::InProgress),
        ("300", RepairPhase::InProgress),
        ("305", RepairPhase::Finished),
        ("303", RepairPhase::Finished),
        ("901", RepairPhase::NotPossible),
        ("907", RepairPhase::NotPossible),
        ("909", RepairPhase::NotPossible),
        ("777", RepairPhase::InProgress),
    ] {
        let status = StateNature::new(StatusCode::lenient(code), "");
        let next = accepted()
            .apply(&RepairEvent::StatusReported(status))
            .unwrap();
        assert_eq!(next.phase, phase, "{code}");
    }
    // A later progress status reopens a finished repair; the claim closes it.
    let finished = accepted()
        .apply(&RepairEvent::StatusReported(StateNature::new(
            StatusCode::RepairFinished,
            "",
        )))
        .unwrap();
    let again = finished
        .apply(&RepairEvent::StatusReported(StateNature::new(
            StatusCode::Diagnosis,
            "",
        )))
        .unwrap();
    assert_eq!(again.phase, RepairPhase::InProgress);
}

#[test]
fn every_edge_of_the_claim_life_cycle() {
    use ClaimState::{ClosedAccepted, NotConform, NotValid, Valid};
    let states = [
        NotValid,
        Valid { transferred: false },
        Valid { transferred: true },
        NotConform,
        ClosedAccepted,
    ];
    let allowed = |from: Option<ClaimState>, to: ClaimState| -> bool {
        match from {
            // A submission: a creation, or a correction of a claim that may
            // still be corrected.
            None | Some(NotValid) | Some(NotConform) | Some(Valid { transferred: false }) => {
                matches!(to, NotValid | Valid { .. })
            }
            // The OEM decides on a transferred claim.
            Some(Valid { transferred: true }) => matches!(to, NotConform | ClosedAccepted),
            Some(ClosedAccepted) => false,
        }
    };
    let mut edges = 0;
    for from in std::iter::once(None).chain(states.iter().copied().map(Some)) {
        for to in states {
            assert_eq!(
                is_claim_edge(from, to),
                allowed(from, to),
                "{from:?} -> {to:?}"
            );
            edges += usize::from(allowed(from, to));
        }
    }
    assert_eq!(edges, 14);
    // What a claim says of itself.
    assert_eq!(
        states.map(ClaimState::last_status),
        [
            ClaimStatus::NotValid,
            ClaimStatus::Valid,
            ClaimStatus::Valid,
            ClaimStatus::NotConform,
            ClaimStatus::ClosedAccepted
        ]
    );
    assert_eq!(
        states.map(ClaimState::is_correctable),
        [true, true, false, true, false]
    );
}

#[test]
fn claim_events_follow_the_edges() {
    let submitted = |valid, transfer_if_valid| {
        accepted()
            .apply(&RepairEvent::ClaimCreated {
                valid,
                transfer_if_valid,
            })
            .unwrap()
    };
    assert_eq!(submitted(false, true).claim, Some(ClaimState::NotValid));
    assert_eq!(
        submitted(true, false).claim,
        Some(ClaimState::Valid { transferred: false })
    );
    assert_eq!(
        submitted(true, true).claim,
        Some(ClaimState::Valid { transferred: true })
    );
    // Transferred later, once.
    let kept = submitted(true, false);
    let transferred = kept.apply(&RepairEvent::ClaimTransferred).unwrap();
    assert_eq!(
        transferred.claim,
        Some(ClaimState::Valid { transferred: true })
    );
    assert!(matches!(
        transferred.apply(&RepairEvent::ClaimTransferred),
        Err(TransitionError::ClaimStep { .. })
    ));
    assert!(matches!(
        accepted().apply(&RepairEvent::ClaimTransferred),
        Err(TransitionError::NoClaim)
    ));
    // A transferred claim is not corrected; a decided NOTCONFORM one is.
    assert!(matches!(
        transferred.apply(&RepairEvent::ClaimUpdated {
            valid: true,
            transfer_if_valid: true
        }),
        Err(TransitionError::ClaimStep { .. })
    ));
    let not_conform = transferred
        .apply(&RepairEvent::OemDecision(ClaimStatus::NotConform))
        .unwrap();
    assert_eq!(not_conform.claim, Some(ClaimState::NotConform));
    let corrected = not_conform
        .apply(&RepairEvent::ClaimUpdated {
            valid: true,
            transfer_if_valid: true,
        })
        .unwrap();
    assert_eq!(
        corrected.claim,
        Some(ClaimState::Valid { transferred: true })
    );
    // Only NOTCONFORM and CLOSEDACCEPTED are decisions, on a transferred claim.
    assert!(matches!(
        corrected.apply(&RepairEvent::OemDecision(ClaimStatus::Valid)),
        Err(TransitionError::NotADecision(ClaimStatus::Valid))
    ));
    assert!(matches!(
        kept.apply(&RepairEvent::OemDecision(ClaimStatus::ClosedAccepted)),
        Err(TransitionError::ClaimStep { .. })
    ));
    // Invoiced once, and only when accepted.
    let closed = corrected
        .apply(&RepairEvent::OemDecision(ClaimStatus::ClosedAccepted))
        .unwrap();
    let invoiced = closed.apply(&RepairEvent::Invoiced).unwrap();
    assert!(invoiced.invoiced && !closed.invoiced);
    assert_eq!(
        invoiced.apply(&RepairEvent::Invoiced),
        Err(TransitionError::AlreadyInvoiced)
    );
    assert!(matches!(
        accepted().apply(&RepairEvent::Invoiced),
        Err(TransitionError::NoClaim)
    ));
    // A second claim for the same file is refused.
    assert_eq!(
        closed.apply(&RepairEvent::ClaimCreated {
            valid: true,
            transfer_if_valid: true
        }),
        Err(TransitionError::ClaimExists)
    );
    // A claim needs the OEM; without a repair type it is sent with a
    // warning (AgoraPlus's rule engine judges it).
    let created = RepairEvent::ClaimCreated {
        valid: true,
        transfer_if_valid: true,
    };
    assert_eq!(
        RepairLifecycle::direct(None, Some(InterventionTypeId(1))).apply(&created),
        Err(TransitionError::MissingForClaim("ManufacturerId"))
    );
    let untyped = RepairLifecycle::direct(Some(ManufacturerId(19)), None)
        .check(&created)
        .unwrap();
    assert!(!untyped.warnings.is_empty());
    assert_eq!(
        untyped.next.claim,
        Some(ClaimState::Valid { transferred: true })
    );
}
