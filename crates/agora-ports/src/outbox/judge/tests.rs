//! Unit tests of the outbox's decisions about time and attempts.

use super::*;
use crate::outbox::{Lease, Operation};
use agora_domain::{ClaimId, InterventionId, WarrantyClaimResult};

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap()
}

fn entry(state: OutboxState) -> OutboxEntry {
    OutboxEntry {
        id: 5,
        intervention_id: Some(InterventionId(1)),
        operation: Operation::PlaceOrder(InterventionId(1)),
        state,
        attempts: 1,
        next_attempt_at: t(0),
        last_error: None,
        created_at: t(0),
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

fn parked(reason: ParkReason, sent: i64) -> OutboxEntry {
    OutboxEntry {
        sent_at: Some(t(sent)),
        parked_at: Some(t(sent + 1)),
        park_reason: Some(reason),
        ..entry(if reason == ParkReason::InDoubt {
            OutboxState::InDoubt
        } else {
            OutboxState::Failed
        })
    }
}

fn claim(id: i64) -> OperationAnswer {
    OperationAnswer::Claim(WarrantyClaimResult {
        claim_id: Some(ClaimId(id)),
        ..WarrantyClaimResult::default()
    })
}

/// 60 s of request timeout and 30 s of grace.
fn guard() -> Guard {
    Guard::new(Duration::from_secs(60), Duration::from_secs(30))
}

#[test]
fn stored_reason_names_read_back() {
    for r in [
        ParkReason::InDoubt,
        ParkReason::GaveUp,
        ParkReason::Refused,
        ParkReason::Abandoned,
        ParkReason::Unreadable,
    ] {
        assert_eq!(ParkReason::from_stored_name(r.stored_name()), Some(r));
    }
    assert_eq!(ParkReason::from_stored_name("in-doubt"), None);
}

#[test]
fn a_resend_or_an_abandon_waits_until_the_last_attempt_cannot_land() {
    let e = parked(ParkReason::InDoubt, 0);
    assert_eq!(lands_until(&e, guard().window), Some(t(90)));
    for how in [Settlement::Resend, Settlement::Abandon] {
        let err = check_settlement(&e, &how, guard(), t(89)).unwrap_err();
        assert!(
            matches!(err, AgoraError::TooSoon { entry: 5, sent_at, until } if sent_at == t(0) && until == t(90)),
            "{err}"
        );
        assert!(err.to_string().contains(&t(90).to_string()), "{err}");
        check_settlement(&e, &how, guard(), t(90)).unwrap();
        // Forced: at once.
        let forced = Guard {
            force: true,
            ..guard()
        };
        check_settlement(&e, &how, forced, t(1)).unwrap();
    }
    // Applied is never too soon: it records what happened.
    check_settlement(&e, &Settlement::Applied(claim(1)), guard(), t(1)).unwrap();
    // A given-up entry waits too.
    let gave_up = parked(ParkReason::GaveUp, 10);
    assert!(check_settlement(&gave_up, &Settlement::Resend, guard(), t(99)).is_err());
    check_settlement(&gave_up, &Settlement::Resend, guard(), t(100)).unwrap();
}

#[test]
fn a_refused_attempt_cannot_land_and_an_unknown_send_start_counts_from_the_parking() {
    let refused = parked(ParkReason::Refused, 0);
    assert_eq!(lands_until(&refused, guard().window), None);
    check_settlement(&refused, &Settlement::Resend, guard(), t(1)).unwrap();
    // An attempt made before agora recorded send starts: from its parking.
    let legacy = OutboxEntry {
        sent_at: None,
        ..parked(ParkReason::InDoubt, 0)
    };
    assert_eq!(lands_until(&legacy, guard().window), Some(t(91)));
    // Never sent, never parked: nothing can land.
    assert_eq!(
        lands_until(&entry(OutboxState::Failed), guard().window),
        None
    );
}

#[test]
fn only_parked_entries_or_an_applied_one_missing_its_result_are_settled() {
    for state in [
        OutboxState::Pending,
        OutboxState::Sending,
        OutboxState::Delivered,
    ] {
        let err = check_settlement(&entry(state), &Settlement::Abandon, guard(), t(0)).unwrap_err();
        assert!(matches!(err, AgoraError::Invalid(_)), "{err}");
    }
    let missing = OutboxEntry {
        needs_result: true,
        ..entry(OutboxState::Delivered)
    };
    check_settlement(&missing, &Settlement::Applied(claim(3)), guard(), t(0)).unwrap();
    assert!(check_settlement(&missing, &Settlement::Resend, guard(), t(0)).is_err());
}

#[test]
fn the_holder_records_its_outcome_and_any_attempts_answer_is_the_truth() {
    let holder = |owner: &str, attempts| OutboxEntry {
        attempts,
        lease: Some(Lease {
            owner: owner.into(),
            until: t(60),
        }),
        ..entry(OutboxState::Sending)
    };
    let failed = Attempt::Failed("x".into());
    let answer = Attempt::Delivered(claim(42));
    assert_eq!(
        judge_finish(&holder("w", 2), "w", 2, &failed),
        Finish::Recorded
    );
    // Another owner, or an earlier attempt of the same owner: its failure
    // is stale, its answer settles the entry.
    assert_eq!(
        judge_finish(&holder("w", 2), "v", 2, &failed),
        Finish::Stale
    );
    assert_eq!(
        judge_finish(&holder("w", 2), "w", 1, &failed),
        Finish::Stale
    );
    assert_eq!(
        judge_finish(&holder("w", 2), "w", 1, &answer),
        Finish::Settled
    );
    // An attempt never made is stale whatever it says.
    assert_eq!(
        judge_finish(&holder("w", 2), "w", 3, &answer),
        Finish::Stale
    );
    assert_eq!(
        judge_finish(&holder("w", 2), "w", 0, &answer),
        Finish::Stale
    );
    // Parked, resent, abandoned: the answer settles it.
    for e in [
        parked(ParkReason::InDoubt, 0),
        parked(ParkReason::Abandoned, 0),
        parked(ParkReason::Refused, 0),
        entry(OutboxState::Pending),
    ] {
        assert_eq!(judge_finish(&e, "w", 1, &answer), Finish::Settled, "{e:?}");
        assert_eq!(judge_finish(&e, "w", 1, &failed), Finish::Stale, "{e:?}");
    }
    // Delivered: the same creation is known, another is a duplicate.
    let delivered = OutboxEntry {
        answer: Some(claim(42)),
        attempts: 2,
        ..entry(OutboxState::Delivered)
    };
    assert_eq!(judge_finish(&delivered, "w", 1, &answer), Finish::Known);
    assert_eq!(
        judge_finish(&delivered, "w", 2, &Attempt::Delivered(claim(43))),
        Finish::Duplicate
    );
    // Delivered by hand without its result: the answer is the result.
    let missing = OutboxEntry {
        needs_result: true,
        ..entry(OutboxState::Delivered)
    };
    assert_eq!(judge_finish(&missing, "w", 1, &answer), Finish::Settled);
    assert!(Finish::Duplicate.recorded() && !Finish::Known.recorded() && !Finish::Stale.recorded());
}

#[test]
fn answers_agree_on_what_they_created() {
    use agora_domain::PartOrderLine;
    let line = |n: &str, r: &str| PartOrderLine {
        order_number: Some(n.into()),
        reference: Some(r.into()),
        ..PartOrderLine::default()
    };
    let a = OperationAnswer::Ordered(vec![line("O-1", "P-1"), line("O-1", "P-2")]);
    let b = OperationAnswer::Ordered(vec![line("O-1", "P-2")]);
    let c = OperationAnswer::Ordered(vec![line("O-2", "P-1")]);
    assert!(a.creates_same(&b) && !a.creates_same(&c));
    assert!(claim(1).creates_same(&claim(1)) && !claim(1).creates_same(&claim(2)));
    assert!(OperationAnswer::Done.creates_same(&OperationAnswer::Done));
    assert!(
        !OperationAnswer::Created(InterventionId(1))
            .creates_same(&OperationAnswer::Created(InterventionId(2)))
    );
}

#[test]
fn a_later_entry_waits_behind_an_earlier_doubt_or_give_up_of_its_file() {
    let at = |id, file, state, reason| OutboxEntry {
        id,
        intervention_id: Some(InterventionId(file)),
        park_reason: reason,
        ..entry(state)
    };
    let later = at(9, 1, OutboxState::Pending, None);
    let others = [
        at(3, 1, OutboxState::Failed, Some(ParkReason::Refused)),
        at(4, 1, OutboxState::Failed, Some(ParkReason::Abandoned)),
        at(5, 2, OutboxState::InDoubt, Some(ParkReason::InDoubt)),
        at(6, 1, OutboxState::Failed, Some(ParkReason::GaveUp)),
        at(7, 1, OutboxState::InDoubt, Some(ParkReason::InDoubt)),
        at(10, 1, OutboxState::InDoubt, Some(ParkReason::InDoubt)),
    ];
    assert_eq!(blocked_behind(&later, &others), Some(6));
    assert_eq!(blocked_behind(&later, &others[..3]), None);
    // Only pending entries wait.
    assert_eq!(
        blocked_behind(&at(9, 1, OutboxState::InDoubt, None), &others),
        None
    );
}

fn update_of(file: i64, state: OutboxState) -> OutboxEntry {
    OutboxEntry {
        intervention_id: Some(InterventionId(file)),
        operation: Operation::UpdateRepair(agora_domain::CompleteRepairState::default()),
        ..entry(state)
    }
}

#[test]
fn a_whole_file_update_collapses_only_into_its_file_s_latest_pending_update() {
    let newer = Operation::UpdateRepair(agora_domain::CompleteRepairState::default());
    let file = Some(InterventionId(1));
    assert!(collapses_into(
        &newer,
        file,
        &update_of(1, OutboxState::Pending)
    ));
    // Another file, or no file.
    assert!(!collapses_into(
        &newer,
        Some(InterventionId(2)),
        &update_of(1, OutboxState::Pending)
    ));
    assert!(!collapses_into(
        &newer,
        None,
        &OutboxEntry {
            intervention_id: None,
            ..update_of(1, OutboxState::Pending)
        }
    ));
    // An update being sent, delivered or parked takes nothing.
    for state in [
        OutboxState::Sending,
        OutboxState::Delivered,
        OutboxState::InDoubt,
        OutboxState::Failed,
    ] {
        assert!(
            !collapses_into(&newer, file, &update_of(1, state)),
            "{state:?}"
        );
    }
    // The latest entry is an order: the update goes after it.
    assert!(!collapses_into(&newer, file, &entry(OutboxState::Pending)));
    // Only a whole-file update collapses.
    assert!(!collapses_into(
        &Operation::PlaceOrder(InterventionId(1)),
        file,
        &update_of(1, OutboxState::Pending)
    ));
}

#[test]
fn a_resend_after_an_unknown_outcome_waits_until_the_attempt_cannot_land() {
    let window = Duration::from_secs(90);
    assert_eq!(
        resend_not_before(&update_of(1, OutboxState::Pending), window),
        None,
        "never sent"
    );
    let sent = OutboxEntry {
        sent_at: Some(t(10)),
        ..update_of(1, OutboxState::Pending)
    };
    assert_eq!(resend_not_before(&sent, window), Some(t(100)));
    assert_eq!(
        resend_not_before(&sent, Duration::MAX),
        Some(Timestamp::MAX)
    );
}
