//! The outbox's contract: claims, leases, deliveries, recovery, exclusive
//! creations, settlements by a person, concurrent claimers.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use agora_domain::{ClaimId, InterventionId};
use agora_domain::{InvoiceReference, Part, PartOrderLine, WarrantyClaimResult};
use agora_ports::{
    AgoraError, Attempt, Events, Finish, Guard, Operation, OperationAnswer, Outbox, OutboxEntry,
    OutboxState, Outcome, ParkReason, RepairFiles, Settlement,
};

use super::*;

/// Claims take pending, due entries, oldest first, each once; an entry
/// waits behind an earlier undelivered one of its file.
pub async fn claims_take_due_entries_once_in_file_order<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let a1 = store.enqueue(file(1), &update(), t(0)).await.unwrap();
    let b1 = store.enqueue(file(2), &update(), t(0)).await.unwrap();
    let a2 = store.enqueue(file(1), &order(1), t(0)).await.unwrap();
    let later = store.enqueue(file(3), &update(), t(50)).await.unwrap();
    // a2 waits for a1 (same file); `later` is not due.
    let first = store.claim_due(t(0), &lease("w1", 60), 10).await.unwrap();
    let ids: Vec<u64> = first.iter().map(|e| e.id).collect();
    assert_eq!(ids, [a1, b1]);
    assert!(first.iter().all(|e| e.state == OutboxState::Sending
        && e.attempts == 1
        && e.lease == Some(lease("w1", 60))));
    // Nobody else gets them.
    assert!(
        store
            .claim_due(t(0), &lease("w2", 60), 10)
            .await
            .unwrap()
            .is_empty()
    );
    for id in [a1, a2, later] {
        let got = store.claim(id, t(0), &lease("w2", 60)).await.unwrap();
        assert!(got.is_none(), "entry {id}: {got:?}");
    }
    // Once a1 is delivered, a2 can go.
    assert!(
        store
            .finish(
                a1,
                "w1",
                1,
                &Attempt::Delivered(OperationAnswer::Done),
                t(1)
            )
            .await
            .unwrap()
            .recorded()
    );
    let got = store
        .claim(a2, t(1), &lease("w2", 60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.id, got.attempts), (a2, 1));
    // A retry is due at its time, and counts its attempts.
    assert!(
        store
            .finish(
                b1,
                "w1",
                1,
                &Attempt::Retry {
                    at: t(30),
                    error: "503".into()
                },
                t(1)
            )
            .await
            .unwrap()
            .recorded()
    );
    let b = store.entry(b1).await.unwrap().unwrap();
    assert_eq!(
        (b.state, b.next_attempt_at, b.last_error.as_deref(), b.lease),
        (OutboxState::Pending, t(30), Some("503"), None)
    );
    assert!(
        store
            .claim(b1, t(29), &lease("w1", 90))
            .await
            .unwrap()
            .is_none()
    );
    let again: Vec<u64> = store
        .claim_due(t(60), &lease("w1", 120), 10)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.id, e.attempts))
        .filter(|(_, n)| *n == 2)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(again, [b1]);
    assert!(matches!(store.entry(999).await, Ok(None)));
}

/// Only the holder of the lease records the outcome of an attempt.
pub async fn only_the_lease_owner_settles_an_attempt<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let id = store.enqueue(file(1), &order(1), t(0)).await.unwrap();
    store
        .claim(id, t(0), &lease("w1", 60))
        .await
        .unwrap()
        .unwrap();
    let failed = Attempt::Failed("refused".into());
    assert!(
        !store
            .finish(id, "w2", 1, &failed, t(1))
            .await
            .unwrap()
            .recorded()
    );
    assert_eq!(state_of(&store, id).await, OutboxState::Sending);
    assert!(store.renew(id, &lease("w1", 120)).await.unwrap());
    assert!(!store.renew(id, &lease("w2", 120)).await.unwrap());
    assert_eq!(
        store.entry(id).await.unwrap().unwrap().lease,
        Some(lease("w1", 120))
    );
    assert!(
        store
            .finish(id, "w1", 1, &Attempt::InDoubt("timeout".into()), t(1))
            .await
            .unwrap()
            .recorded()
    );
    let e = store.entry(id).await.unwrap().unwrap();
    assert_eq!(
        (e.state, e.last_error.as_deref(), e.lease),
        (OutboxState::InDoubt, Some("timeout"), None)
    );
    // Settled: nobody's attempt changes it now, nor is it renewed.
    assert!(
        !store
            .finish(id, "w1", 1, &failed, t(2))
            .await
            .unwrap()
            .recorded()
    );
    assert!(!store.renew(id, &lease("w1", 200)).await.unwrap());
    assert!(store.finish(999, "w1", 1, &failed, t(2)).await.is_err());
}

/// A delivery writes the answer on the entry and applies it to the file,
/// in one write.
pub async fn a_delivery_applies_its_answer_in_the_same_write<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let mut r = repair(7);
    r.file.parts = Some(vec![Part {
        reference: Some("P-1".into()),
        quantity: Some(1),
        to_be_ordered: Some(true),
        ..Part::default()
    }]);
    let id = store
        .save_with_operation(&r, Some(order(7)), t(0))
        .await
        .unwrap()
        .unwrap();
    store
        .claim(id, t(0), &lease("w1", 60))
        .await
        .unwrap()
        .unwrap();
    let line = PartOrderLine {
        order_number: Some("ORD-1".into()),
        reference: Some("P-1".into()),
        quantity: Some(1),
        ..PartOrderLine::default()
    };
    let answer = OperationAnswer::Ordered(vec![line.clone()]);
    assert!(
        store
            .finish(id, "w1", 1, &Attempt::Delivered(answer.clone()), t(1))
            .await
            .unwrap()
            .recorded()
    );
    let e = store.entry(id).await.unwrap().unwrap();
    assert_eq!((e.state, e.answer), (OutboxState::Delivered, Some(answer)));
    let file = store.repair(InterventionId(7)).await.unwrap().unwrap();
    assert_eq!(file.orders, [line]);
    let part = &file.file.parts.as_ref().unwrap()[0];
    assert_eq!(
        (part.order_number.as_deref(), part.to_be_ordered),
        (Some("ORD-1"), Some(false))
    );
    assert_eq!(file.revision, 2);
    // A created claim records its id on the file.
    let cid = store
        .save_with_operation(&file, Some(create_claim()), t(2))
        .await
        .unwrap()
        .unwrap();
    store
        .claim(cid, t(2), &lease("w1", 60))
        .await
        .unwrap()
        .unwrap();
    let verdict = WarrantyClaimResult {
        claim_id: Some(ClaimId(5_000_001)),
        is_valid: Some(true),
        ..WarrantyClaimResult::default()
    };
    store
        .finish(
            cid,
            "w1",
            1,
            &Attempt::Delivered(OperationAnswer::Claim(verdict)),
            t(3),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .repair(InterventionId(7))
            .await
            .unwrap()
            .unwrap()
            .claim_id,
        Some(ClaimId(5_000_001))
    );
    assert_eq!(
        store
            .repair_by_claim(ClaimId(5_000_001))
            .await
            .unwrap()
            .map(|r| r.intervention_id),
        Some(InterventionId(7))
    );
}

/// Recovery takes back entries whose lease expired, and only those:
/// idempotent ones to pending, the others in doubt.
pub async fn recovery_touches_only_expired_leases<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let live = store.enqueue(file(1), &order(1), t(0)).await.unwrap();
    let dead_create = store.enqueue(file(2), &order(2), t(0)).await.unwrap();
    let dead_update = store.enqueue(file(3), &update(), t(0)).await.unwrap();
    let waiting = store.enqueue(file(4), &order(4), t(0)).await.unwrap();
    store
        .claim(live, t(0), &lease("w1", 100))
        .await
        .unwrap()
        .unwrap();
    store
        .claim(dead_create, t(0), &lease("w2", 10))
        .await
        .unwrap()
        .unwrap();
    store
        .claim(dead_update, t(0), &lease("w2", 10))
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .recover_expired(t(5), window())
            .await
            .unwrap()
            .is_empty()
    );
    let parked = store.recover_expired(t(10), window()).await.unwrap();
    assert_eq!(parked, [dead_create]);
    assert_eq!(state_of(&store, live).await, OutboxState::Sending);
    assert_eq!(state_of(&store, dead_create).await, OutboxState::InDoubt);
    assert_eq!(state_of(&store, dead_update).await, OutboxState::Pending);
    assert_eq!(state_of(&store, waiting).await, OutboxState::Pending);
    // The live holder still settles its own.
    assert!(
        store
            .finish(
                live,
                "w1",
                1,
                &Attempt::Delivered(OperationAnswer::Ordered(vec![])),
                t(11)
            )
            .await
            .unwrap()
            .recorded()
    );
    // The dead holder's late failure changes nothing.
    assert!(
        !store
            .finish(dead_update, "w2", 1, &Attempt::Failed("x".into()), t(12))
            .await
            .unwrap()
            .recorded()
    );
    assert_eq!(state_of(&store, dead_update).await, OutboxState::Pending);
}

/// An answer that arrives after recovery took the entry back is the truth:
/// it settles the doubt (and is applied).
pub async fn a_late_answer_settles_a_recovered_entry<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let r = repair(8);
    let id = store
        .save_with_operation(&r, Some(create_claim()), t(0))
        .await
        .unwrap()
        .unwrap();
    store
        .claim(id, t(0), &lease("slow", 10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.recover_expired(t(20), window()).await.unwrap(), [id]);
    let verdict = WarrantyClaimResult {
        claim_id: Some(ClaimId(42)),
        is_valid: Some(false),
        ..WarrantyClaimResult::default()
    };
    assert!(
        store
            .finish(
                id,
                "slow",
                1,
                &Attempt::Delivered(OperationAnswer::Claim(verdict)),
                t(21)
            )
            .await
            .unwrap()
            .recorded()
    );
    assert_eq!(state_of(&store, id).await, OutboxState::Delivered);
    assert_eq!(
        store
            .repair(InterventionId(8))
            .await
            .unwrap()
            .unwrap()
            .claim_id,
        Some(ClaimId(42))
    );
}

/// Two creations of the same thing are never open at once; once one is
/// settled, the next may be written.
pub async fn creations_of_the_same_thing_exclude_each_other<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let first = store.enqueue(file(1), &create_claim(), t(0)).await.unwrap();
    // Refused while pending, sending or in doubt.
    for step in 0..3 {
        let err = store
            .enqueue(file(1), &create_claim(), t(0))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AgoraError::Invalid(m) if m.contains(&format!("entry {first}")) && m.contains("claim/1")),
            "step {step}: {err}"
        );
        match step {
            0 => {
                store
                    .claim(first, t(0), &lease("w", 60))
                    .await
                    .unwrap()
                    .unwrap();
            }
            1 => {
                store
                    .finish(first, "w", 1, &Attempt::InDoubt("timeout".into()), t(1))
                    .await
                    .unwrap();
            }
            _ => {}
        }
    }
    // Other files, and updates, are not concerned.
    store.enqueue(file(2), &create_claim(), t(0)).await.unwrap();
    store.enqueue(file(1), &update(), t(0)).await.unwrap();
    // Invoices of one draft exclude each other.
    let invoice = |n: &str| Operation::SendInvoiceReference {
        reference: InvoiceReference {
            invoice_number: Some(n.into()),
            draft_invoice_number: Some("DR-1".into()),
            ..InvoiceReference::default()
        },
        claims: vec![],
    };
    store.enqueue(None, &invoice("F-1"), t(0)).await.unwrap();
    assert!(store.enqueue(None, &invoice("F-2"), t(0)).await.is_err());
    // Abandoned: free again.
    store
        .settle(first, &Settlement::Abandon, at_once(), t(2))
        .await
        .unwrap();
    store.enqueue(file(1), &create_claim(), t(3)).await.unwrap();
}

/// A person settles entries in doubt or failed, and only those.
pub async fn settlements_by_a_person<H: Harness>(h: &H) {
    let store = h.fresh().await;
    store.upsert_repair(&repair(9)).await.unwrap();
    let id = store.enqueue(file(9), &create_claim(), t(0)).await.unwrap();
    assert!(matches!(
        store.settle(id, &Settlement::Resend, at_once(), t(0)).await,
        Err(AgoraError::Invalid(_))
    ));
    store
        .claim(id, t(0), &lease("w", 60))
        .await
        .unwrap()
        .unwrap();
    store
        .finish(id, "w", 1, &Attempt::InDoubt("timeout".into()), t(1))
        .await
        .unwrap();
    // Resend: pending and due now.
    assert_eq!(
        store
            .settle(id, &Settlement::Resend, at_once(), t(5))
            .await
            .unwrap(),
        OutboxState::Pending
    );
    let e = store.entry(id).await.unwrap().unwrap();
    assert_eq!(e.next_attempt_at, t(5));
    store
        .claim(id, t(5), &lease("w", 60))
        .await
        .unwrap()
        .unwrap();
    store
        .finish(id, "w", 2, &Attempt::InDoubt("timeout".into()), t(6))
        .await
        .unwrap();
    // Applied, with what it created: recorded and applied to the file.
    let verdict = WarrantyClaimResult {
        claim_id: Some(ClaimId(77)),
        is_valid: Some(true),
        ..WarrantyClaimResult::default()
    };
    let applied = Settlement::Applied(OperationAnswer::Claim(verdict.clone()));
    assert_eq!(
        store.settle(id, &applied, at_once(), t(7)).await.unwrap(),
        OutboxState::Delivered
    );
    let e = store.entry(id).await.unwrap().unwrap();
    assert_eq!(e.answer, Some(OperationAnswer::Claim(verdict)));
    assert_eq!(
        store
            .repair(InterventionId(9))
            .await
            .unwrap()
            .unwrap()
            .claim_id,
        Some(ClaimId(77))
    );
    // Delivered: not settled again.
    assert!(
        store
            .settle(id, &Settlement::Abandon, at_once(), t(8))
            .await
            .is_err()
    );
    assert!(
        store
            .settle(999, &Settlement::Abandon, at_once(), t(8))
            .await
            .is_err()
    );
}

/// Claimers on separate handles (as separate processes) never get the same
/// entry, and together get every one.
pub async fn concurrent_claimers_never_share_an_entry<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let mut ids = Vec::new();
    for file in 0..40 {
        ids.push(
            store
                .enqueue(Some(InterventionId(file)), &update(), t(0))
                .await
                .unwrap(),
        );
    }
    let mut workers = Vec::new();
    for w in 0..4 {
        let handle = h.reopen(&store).await;
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = handle
                    .claim_due(t(0), &lease(&format!("w{w}"), 60), 1)
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.iter().map(|e| e.id));
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, ids, "an entry was claimed twice, or missed");
}

fn claim_answer(id: i64) -> OperationAnswer {
    OperationAnswer::Claim(WarrantyClaimResult {
        claim_id: Some(ClaimId(id)),
        is_valid: Some(true),
        ..WarrantyClaimResult::default()
    })
}

/// A resend or an abandon waits until the last attempt can no longer take
/// effect (its send start + request timeout + grace), unless forced; a
/// refused attempt cannot take effect; a forced abandon holds the key until
/// then. Parking records when and why.
pub async fn operators_wait_until_the_last_attempt_cannot_land<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let id = store.enqueue(file(1), &create_claim(), t(0)).await.unwrap();
    let claimed = store
        .claim(id, t(10), &lease("w", 70))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((claimed.attempts, claimed.sent_at), (1, Some(t(10))));
    store
        .finish(id, "w", 1, &Attempt::InDoubt("timeout".into()), t(70))
        .await
        .unwrap();
    let e = store.entry(id).await.unwrap().unwrap();
    assert_eq!(
        (e.sent_at, e.parked_at, e.park_reason),
        (Some(t(10)), Some(t(70)), Some(ParkReason::InDoubt))
    );
    // Sent at 10: may land until 100.
    for how in [Settlement::Resend, Settlement::Abandon] {
        let err = store.settle(id, &how, guard(), t(99)).await.unwrap_err();
        assert!(
            matches!(err, AgoraError::TooSoon { entry, until, .. } if entry == id && until == t(100)),
            "{err}"
        );
        assert_eq!(state_of(&store, id).await, OutboxState::InDoubt);
    }
    assert_eq!(
        store
            .settle(id, &Settlement::Resend, guard(), t(100))
            .await
            .unwrap(),
        OutboxState::Pending
    );
    // Sent again at 100, parked: a forced abandon at once holds the key
    // until 190.
    store
        .claim(id, t(100), &lease("w", 160))
        .await
        .unwrap()
        .unwrap();
    store
        .finish(id, "w", 2, &Attempt::InDoubt("timeout".into()), t(160))
        .await
        .unwrap();
    let forced = Guard {
        force: true,
        ..guard()
    };
    assert_eq!(
        store
            .settle(id, &Settlement::Abandon, forced, t(161))
            .await
            .unwrap(),
        OutboxState::Failed
    );
    let e = store.entry(id).await.unwrap().unwrap();
    assert_eq!(
        (e.park_reason, e.held_until),
        (Some(ParkReason::Abandoned), Some(t(190)))
    );
    let err = store
        .enqueue(file(1), &create_claim(), t(189))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AgoraError::Invalid(m) if m.contains("claim/1")),
        "{err}"
    );
    store
        .enqueue(file(1), &create_claim(), t(190))
        .await
        .unwrap();
    // A refused attempt cannot land: resent at once. Given up: it waits.
    for (file_id, outcome, reason) in [
        (2, Attempt::Refused("400".into()), ParkReason::Refused),
        (3, Attempt::Failed("503".into()), ParkReason::GaveUp),
    ] {
        let id = store.enqueue(file(file_id), &update(), t(0)).await.unwrap();
        store
            .claim(id, t(0), &lease("w", 60))
            .await
            .unwrap()
            .unwrap();
        store.finish(id, "w", 1, &outcome, t(1)).await.unwrap();
        let e = store.entry(id).await.unwrap().unwrap();
        assert_eq!(
            (e.state, e.park_reason),
            (OutboxState::Failed, Some(reason))
        );
        let got = store.settle(id, &Settlement::Resend, guard(), t(2)).await;
        assert_eq!(
            got.is_ok(),
            reason == ParkReason::Refused,
            "{reason:?}: {got:?}"
        );
    }
    // Recovery parks with its time and reason.
    let id = store.enqueue(file(4), &order(4), t(0)).await.unwrap();
    store
        .claim(id, t(0), &lease("gone", 10))
        .await
        .unwrap()
        .unwrap();
    store.recover_expired(t(20), window()).await.unwrap();
    let e = store.entry(id).await.unwrap().unwrap();
    assert_eq!(
        (e.parked_at, e.park_reason),
        (Some(t(20)), Some(ParkReason::InDoubt))
    );
    assert!(
        store
            .settle(id, &Settlement::Resend, guard(), t(89))
            .await
            .is_err()
    );
    store
        .settle(id, &Settlement::Resend, guard(), t(90))
        .await
        .unwrap();
}

/// Each claim numbers its attempt; an answer of any attempt is recorded
/// whatever a person did since: resent and claimed again, the first
/// attempt's answer settles the entry and the second's is kept as a
/// duplicate, not applied; abandoned, a late answer settles it too.
pub async fn any_attempts_answer_settles_the_entry_whatever_was_done_since<H: Harness>(h: &H) {
    let store = h.fresh().await;
    store.upsert_repair(&repair(5)).await.unwrap();
    let id = store.enqueue(file(5), &create_claim(), t(0)).await.unwrap();
    store
        .claim(id, t(0), &lease("w1", 60))
        .await
        .unwrap()
        .unwrap();
    store
        .finish(id, "w1", 1, &Attempt::InDoubt("timeout".into()), t(1))
        .await
        .unwrap();
    let forced = Guard {
        force: true,
        ..guard()
    };
    store
        .settle(id, &Settlement::Resend, forced, t(2))
        .await
        .unwrap();
    let again = store
        .claim(id, t(2), &lease("w2", 62))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempts, 2);
    // Attempt 1's answer arrives: it settles the entry and is applied.
    assert_eq!(
        store
            .finish(id, "w1", 1, &Attempt::Delivered(claim_answer(42)), t(3))
            .await
            .unwrap(),
        Finish::Settled
    );
    let e = store.entry(id).await.unwrap().unwrap();
    assert_eq!(
        (e.state, e.answer),
        (OutboxState::Delivered, Some(claim_answer(42)))
    );
    assert_eq!(
        store
            .repair(InterventionId(5))
            .await
            .unwrap()
            .unwrap()
            .claim_id,
        Some(ClaimId(42))
    );
    // Attempt 2 lost its hold: its failure is stale, its own answer (a
    // second claim) a duplicate, kept and not applied; the same answer
    // again is known.
    assert!(!store.renew(id, &lease("w2", 90)).await.unwrap());
    assert_eq!(
        store
            .finish(id, "w2", 2, &Attempt::InDoubt("timeout".into()), t(4))
            .await
            .unwrap(),
        Finish::Stale
    );
    assert_eq!(
        store
            .finish(id, "w2", 2, &Attempt::Delivered(claim_answer(43)), t(4))
            .await
            .unwrap(),
        Finish::Duplicate
    );
    assert_eq!(
        store
            .finish(id, "w1", 1, &Attempt::Delivered(claim_answer(42)), t(5))
            .await
            .unwrap(),
        Finish::Known
    );
    let e = store.entry(id).await.unwrap().unwrap();
    assert_eq!(e.answer, Some(claim_answer(42)));
    assert_eq!(e.duplicates, [claim_answer(43)]);
    assert!(
        e.last_error.as_deref().unwrap().contains("DUPLICATE"),
        "{e:?}"
    );
    assert_eq!(
        store
            .repair(InterventionId(5))
            .await
            .unwrap()
            .unwrap()
            .claim_id,
        Some(ClaimId(42))
    );
    // An attempt never made is not recorded.
    assert_eq!(
        store
            .finish(id, "w1", 3, &Attempt::Delivered(claim_answer(44)), t(6))
            .await
            .unwrap(),
        Finish::Stale
    );
    // Abandoned (forced): the key stays held, and a late answer settles it.
    store.upsert_repair(&repair(6)).await.unwrap();
    let id = store.enqueue(file(6), &create_claim(), t(0)).await.unwrap();
    store
        .claim(id, t(0), &lease("w1", 60))
        .await
        .unwrap()
        .unwrap();
    store
        .finish(id, "w1", 1, &Attempt::InDoubt("timeout".into()), t(1))
        .await
        .unwrap();
    store
        .settle(id, &Settlement::Abandon, forced, t(2))
        .await
        .unwrap();
    assert!(store.enqueue(file(6), &create_claim(), t(3)).await.is_err());
    assert_eq!(
        store
            .finish(id, "w1", 1, &Attempt::Delivered(claim_answer(60)), t(4))
            .await
            .unwrap(),
        Finish::Settled
    );
    assert_eq!(state_of(&store, id).await, OutboxState::Delivered);
    assert_eq!(
        store
            .repair(InterventionId(6))
            .await
            .unwrap()
            .unwrap()
            .claim_id,
        Some(ClaimId(60))
    );
}

/// A later entry of a repair file waits while an earlier one is in doubt or
/// given up, until a person settles it; a refused or abandoned one blocks
/// nothing. The sequence of issue 20: an order in doubt, then a whole-file
/// update: the update is not sent before the order is settled, and the
/// resent order goes first.
pub async fn a_later_entry_waits_behind_an_earlier_doubt_of_its_file<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let o = store.enqueue(file(1), &order(1), t(0)).await.unwrap();
    let claimed = store.claim_due(t(0), &lease("w", 60), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|e| e.id).collect::<Vec<_>>(), [o]);
    store
        .finish(o, "w", 1, &Attempt::InDoubt("timeout".into()), t(1))
        .await
        .unwrap();
    let u = store.enqueue(file(1), &update(), t(2)).await.unwrap();
    let other = store.enqueue(file(2), &update(), t(2)).await.unwrap();
    // Only the other file's entry goes.
    let claimed = store.claim_due(t(2), &lease("w", 60), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|e| e.id).collect::<Vec<_>>(), [other]);
    assert!(
        store
            .claim(u, t(2), &lease("w", 60))
            .await
            .unwrap()
            .is_none()
    );
    // Resent (once it may be): the order goes first, then the update.
    store
        .settle(o, &Settlement::Resend, guard(), t(90))
        .await
        .unwrap();
    let claimed = store.claim_due(t(90), &lease("w", 150), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|e| e.id).collect::<Vec<_>>(), [o]);
    store
        .finish(
            o,
            "w",
            2,
            &Attempt::Delivered(OperationAnswer::Ordered(vec![])),
            t(91),
        )
        .await
        .unwrap();
    let claimed = store.claim_due(t(91), &lease("w", 150), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|e| e.id).collect::<Vec<_>>(), [u]);
    // Given up blocks; refused does not; abandoned no longer does.
    for (f, outcome, blocks) in [
        (3, Attempt::Failed("503".into()), true),
        (4, Attempt::Refused("400".into()), false),
    ] {
        let first = store.enqueue(file(f), &update(), t(0)).await.unwrap();
        store
            .claim(first, t(0), &lease("w", 60))
            .await
            .unwrap()
            .unwrap();
        store.finish(first, "w", 1, &outcome, t(1)).await.unwrap();
        let later = store.enqueue(file(f), &update(), t(1)).await.unwrap();
        let got = store.claim(later, t(1), &lease("w", 60)).await.unwrap();
        assert_eq!(got.is_none(), blocks, "{outcome:?}");
        if blocks {
            store
                .settle(first, &Settlement::Abandon, guard(), t(90))
                .await
                .unwrap();
            assert!(
                store
                    .claim(later, t(90), &lease("w", 150))
                    .await
                    .unwrap()
                    .is_some()
            );
        }
    }
}

/// A whole-file update of version `v` (its `CommercialRef`).
fn version(v: u32) -> Operation {
    Operation::UpdateRepair(agora_domain::CompleteRepairState {
        commercial_ref: Some(format!("v{v}")),
        ..agora_domain::CompleteRepairState::default()
    })
}

async fn payload<S: Outbox>(store: &S, id: u64) -> Option<String> {
    match store.entry(id).await.unwrap().unwrap().operation {
        Operation::UpdateRepair(file) => file.commercial_ref,
        other => panic!("entry {id} is {other:?}"),
    }
}

/// A whole-file update goes into its file's latest entry when that is a
/// pending whole-file update (never sent, or waiting for its retry): one
/// entry, carrying the newest file, keeping its place, attempts and due
/// time. An entry being sent, delivered, or an entry of another kind after
/// it (an order) takes nothing: the update is a new entry.
pub async fn pending_updates_of_a_file_collapse_into_the_newest<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let a = store.enqueue(file(1), &version(1), t(0)).await.unwrap();
    let again = store.enqueue(file(1), &version(2), t(1)).await.unwrap();
    assert_eq!(again, a, "collapsed into the pending update");
    assert_eq!(payload(&store, a).await.as_deref(), Some("v2"));
    let pending = store.entries(OutboxState::Pending).await.unwrap();
    assert_eq!(pending.iter().map(|e| e.id).collect::<Vec<_>>(), [a]);
    // Another file's update is its own entry.
    let other = store.enqueue(file(2), &version(1), t(1)).await.unwrap();
    assert_ne!(other, a);
    assert_eq!(payload(&store, a).await.as_deref(), Some("v2"));
    // An order after the update: the next update goes after the order, and
    // the one after that into it.
    let placed = store.enqueue(file(1), &order(1), t(2)).await.unwrap();
    let after = store.enqueue(file(1), &version(3), t(3)).await.unwrap();
    assert!(after > placed, "{after} after the order {placed}");
    assert_eq!(payload(&store, a).await.as_deref(), Some("v2"));
    assert_eq!(
        store.enqueue(file(1), &version(4), t(3)).await.unwrap(),
        after
    );
    assert_eq!(payload(&store, after).await.as_deref(), Some("v4"));

    // Being sent: a new entry behind it; the sent payload is untouched.
    let sent = store.enqueue(file(3), &version(1), t(0)).await.unwrap();
    store
        .claim(sent, t(0), &lease("w", 60))
        .await
        .unwrap()
        .unwrap();
    let behind = store.enqueue(file(3), &version(2), t(1)).await.unwrap();
    assert_ne!(behind, sent);
    assert_eq!(payload(&store, sent).await.as_deref(), Some("v1"));
    // Its attempt timed out: it waits for its retry, behind-the-scenes
    // still v1, and the newer entry behind it takes version 3.
    store
        .finish(
            sent,
            "w",
            1,
            &Attempt::Retry {
                at: t(90),
                error: "timeout".into(),
            },
            t(2),
        )
        .await
        .unwrap();
    assert_eq!(
        store.enqueue(file(3), &version(3), t(3)).await.unwrap(),
        behind
    );
    assert_eq!(payload(&store, sent).await.as_deref(), Some("v1"));
    assert_eq!(payload(&store, behind).await.as_deref(), Some("v3"));

    // A retry waiting as the file's latest entry takes the newer file and
    // keeps its attempts and its due time.
    let retried = store.enqueue(file(4), &version(1), t(0)).await.unwrap();
    store
        .claim(retried, t(0), &lease("w", 60))
        .await
        .unwrap()
        .unwrap();
    store
        .finish(
            retried,
            "w",
            1,
            &Attempt::Retry {
                at: t(90),
                error: "timeout".into(),
            },
            t(2),
        )
        .await
        .unwrap();
    assert_eq!(
        store.enqueue(file(4), &version(2), t(3)).await.unwrap(),
        retried
    );
    let e = store.entry(retried).await.unwrap().unwrap();
    assert_eq!(
        (e.state, e.attempts, e.next_attempt_at, e.sent_at),
        (OutboxState::Pending, 1, t(90), Some(t(0)))
    );
    assert_eq!(payload(&store, retried).await.as_deref(), Some("v2"));
    assert!(
        store
            .claim(retried, t(89), &lease("w", 150))
            .await
            .unwrap()
            .is_none()
    );

    // Delivered: the next update is a new entry.
    let done = store.enqueue(file(5), &version(1), t(0)).await.unwrap();
    store
        .claim(done, t(0), &lease("w", 60))
        .await
        .unwrap()
        .unwrap();
    store
        .finish(
            done,
            "w",
            1,
            &Attempt::Delivered(OperationAnswer::Done),
            t(1),
        )
        .await
        .unwrap();
    let next = store.enqueue(file(5), &version(2), t(2)).await.unwrap();
    assert_ne!(next, done);
    assert_eq!(payload(&store, done).await.as_deref(), Some("v1"));

    // Saved with the file, the same.
    let r = repair(6);
    let first = store
        .save_with_operation(&r, Some(version(1)), t(0))
        .await
        .unwrap()
        .unwrap();
    let mut changed = store.repair(InterventionId(6)).await.unwrap().unwrap();
    changed.attention = Some("changed".into());
    let second = store
        .save_with_operation(&changed, Some(version(2)), t(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second, first);
    assert_eq!(payload(&store, first).await.as_deref(), Some("v2"));
}

/// An update taken back by recovery (its sender stopped mid-send) is due
/// again only once its attempt can no longer land: its send start plus the
/// window, so that the next attempt, carrying the newest file, cannot be
/// overtaken by it in AgoraPlus.
pub async fn a_requeued_update_waits_until_its_attempt_cannot_land<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let id = store.enqueue(file(1), &version(1), t(0)).await.unwrap();
    store
        .claim(id, t(5), &lease("gone", 15))
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .recover_expired(t(20), window())
            .await
            .unwrap()
            .is_empty()
    );
    let e = store.entry(id).await.unwrap().unwrap();
    assert_eq!((e.state, e.next_attempt_at), (OutboxState::Pending, t(95)));
    // Version 2 goes into it and waits as long.
    assert_eq!(
        store.enqueue(file(1), &version(2), t(30)).await.unwrap(),
        id
    );
    assert!(
        store
            .claim_due(t(94), &lease("w", 200), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let got = store.claim_due(t(95), &lease("w", 200), 10).await.unwrap();
    assert_eq!(
        got.iter().map(|e| (e.id, e.attempts)).collect::<Vec<_>>(),
        [(id, 2)]
    );
    assert!(matches!(&got[0].operation,
        Operation::UpdateRepair(f) if f.commercial_ref.as_deref() == Some("v2")));
}

/// A claim of several entries never hands one entry to two workers: four
/// processes claiming batches of 5 at once share 40 entries without
/// overlap or loss.
pub async fn batch_claims_never_share_an_entry<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let mut ids = Vec::new();
    for f in 0..40 {
        ids.push(store.enqueue(file(f), &update(), t(0)).await.unwrap());
    }
    let mut workers = Vec::new();
    for w in 0..4 {
        let handle = h.reopen(&store).await;
        workers.push(tokio::spawn(async move {
            let owner = format!("w{w}");
            let mut mine = Vec::new();
            loop {
                let got = handle.claim_due(t(0), &lease(&owner, 60), 5).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                assert!(got.len() <= 5, "{} entries in a batch of 5", got.len());
                for e in &got {
                    assert_eq!(
                        (e.state, e.lease.as_ref().map(|l| l.owner.as_str())),
                        (OutboxState::Sending, Some(owner.as_str()))
                    );
                    mine.push(e.id);
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, ids, "an entry was claimed twice, or missed");
}

/// A claim of several entries takes the oldest, and with it only what may
/// be claimed together (all idempotent): a creation or an order is claimed
/// alone, and one met after the first is left pending for the next claim.
pub async fn a_batch_claim_takes_a_creation_alone<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let u1 = store.enqueue(file(1), &update(), t(0)).await.unwrap();
    let o2 = store.enqueue(file(2), &order(2), t(0)).await.unwrap();
    let u3 = store.enqueue(file(3), &update(), t(0)).await.unwrap();
    let c4 = store.enqueue(file(4), &create_claim(), t(0)).await.unwrap();
    let u5 = store.enqueue(file(5), &update(), t(0)).await.unwrap();
    let ids = |got: &[OutboxEntry]| got.iter().map(|e| e.id).collect::<Vec<_>>();
    // The oldest is idempotent: the idempotent ones go with it.
    let got = store.claim_due(t(0), &lease("w", 60), 10).await.unwrap();
    assert_eq!(ids(&got), [u1, u3, u5]);
    assert_eq!(state_of(&store, o2).await, OutboxState::Pending);
    assert_eq!(state_of(&store, c4).await, OutboxState::Pending);
    // The oldest is an order: alone, though more are due.
    let got = store.claim_due(t(0), &lease("w", 60), 10).await.unwrap();
    assert_eq!(ids(&got), [o2]);
    let got = store.claim_due(t(0), &lease("w", 60), 10).await.unwrap();
    assert_eq!(ids(&got), [c4]);
    assert!(
        store
            .claim_due(t(0), &lease("w", 60), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A worker that stops in the middle of a batch (a crash after the first
/// send): the entries it did not send keep their lease until it expires,
/// then recovery puts them back pending, none in doubt, and another worker
/// claims them once their attempt can no longer land.
pub async fn a_crash_mid_batch_leaves_the_unsent_entries_claimable<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let mut ids = Vec::new();
    for f in 1..=4 {
        ids.push(store.enqueue(file(f), &update(), t(0)).await.unwrap());
    }
    let got = store.claim_due(t(0), &lease("dead", 60), 10).await.unwrap();
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    // The first was sent and recorded; then the process died.
    let done = Attempt::Delivered(OperationAnswer::Done);
    assert!(
        store
            .finish(ids[0], "dead", 1, &done, t(1))
            .await
            .unwrap()
            .recorded()
    );
    // Nobody takes them while the lease lives.
    assert!(
        store
            .recover_expired(t(59), window())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim_due(t(59), &lease("w", 120), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Expired: back to pending (nothing in doubt), due once an attempt
    // started at the claim could no longer land.
    assert!(
        store
            .recover_expired(t(61), window())
            .await
            .unwrap()
            .is_empty()
    );
    for id in &ids[1..] {
        let e = store.entry(*id).await.unwrap().unwrap();
        assert_eq!(
            (e.state, e.lease),
            (OutboxState::Pending, None),
            "entry {id}"
        );
    }
    assert!(
        store
            .claim_due(t(89), &lease("w", 150), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let got = store.claim_due(t(90), &lease("w", 150), 10).await.unwrap();
    assert_eq!(
        got.iter().map(|e| (e.id, e.attempts)).collect::<Vec<_>>(),
        ids[1..].iter().map(|id| (*id, 2)).collect::<Vec<_>>()
    );
    assert_eq!(state_of(&store, ids[0]).await, OutboxState::Delivered);
}

/// Outcomes recorded together (`finish_all`) end as each recorded alone
/// (`finish`), in the order given: the entries, the repair files and the
/// events are the same, and so are the verdicts. One that cannot be
/// recorded (an unknown entry) fails them all, and nothing is written.
pub async fn outcomes_recorded_together_end_as_each_alone<H: Harness>(h: &H) {
    let line = PartOrderLine {
        order_number: Some("ORD-3".into()),
        reference: Some("P-3".into()),
        quantity: Some(1),
        ..PartOrderLine::default()
    };
    // Per file: (the operation, who records, what came of the attempt).
    let cases: Vec<(Operation, &str, Attempt)> = vec![
        (update(), "w", Attempt::Delivered(OperationAnswer::Done)),
        (update(), "w", Attempt::Delivered(OperationAnswer::Done)),
        (
            order(3),
            "w",
            Attempt::Delivered(OperationAnswer::Ordered(vec![line.clone()])),
        ),
        (
            update(),
            "w",
            Attempt::Retry {
                at: t(30),
                error: "busy".into(),
            },
        ),
        (order(5), "w", Attempt::InDoubt("timed out".into())),
        (update(), "w", Attempt::Refused("E: no".into())),
        // Another holder's failure: stale, not recorded.
        (update(), "other", Attempt::Failed("late".into())),
    ];
    // Every case on two stores alike; the first entry named again at the
    // end (its answer known by then).
    let mut stores = Vec::new();
    for _ in 0..2 {
        let store = h.fresh().await;
        let mut outcomes = Vec::new();
        for (n, (operation, owner, attempt)) in cases.iter().enumerate() {
            let f = i64::try_from(n).unwrap() + 1;
            let id = store
                .save_with_operation(&repair(f), Some(operation.clone()), t(0))
                .await
                .unwrap()
                .unwrap();
            store
                .claim(id, t(0), &lease("w", 60))
                .await
                .unwrap()
                .unwrap();
            outcomes.push(Outcome {
                id,
                owner: (*owner).to_owned(),
                attempt_no: 1,
                attempt: attempt.clone(),
                now: t(2),
            });
        }
        outcomes.push(outcomes[0].clone());
        stores.push((store, outcomes));
    }
    let (together, outcomes) = &stores[0];
    let verdicts = together.finish_all(outcomes).await.unwrap();
    let (alone, outcomes_alone) = &stores[1];
    let mut one_by_one = Vec::new();
    for o in outcomes_alone {
        one_by_one.push(
            alone
                .finish(o.id, &o.owner, o.attempt_no, &o.attempt, o.now)
                .await
                .unwrap(),
        );
    }
    assert_eq!(verdicts, one_by_one);
    assert_eq!(
        verdicts,
        [
            Finish::Recorded,
            Finish::Recorded,
            Finish::Recorded,
            Finish::Recorded,
            Finish::Recorded,
            Finish::Recorded,
            Finish::Stale,
            Finish::Known,
        ]
    );
    let seen = |store: &H::Store| {
        let store = store.clone();
        async move {
            let mut entries = Vec::new();
            for state in [
                OutboxState::Delivered,
                OutboxState::Pending,
                OutboxState::Sending,
                OutboxState::InDoubt,
                OutboxState::Failed,
            ] {
                for e in store.entries(state).await.unwrap() {
                    entries.push((
                        e.id,
                        e.state,
                        e.answer,
                        e.last_error,
                        e.next_attempt_at,
                        e.park_reason,
                        e.lease,
                    ));
                }
            }
            entries.sort_by_key(|e| e.0);
            let order = store
                .repair(InterventionId(3))
                .await
                .unwrap()
                .unwrap()
                .orders;
            let events: Vec<(String, Option<InterventionId>, serde_json::Value)> = store
                .events_after(0, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.kind, e.intervention_id, e.data))
                .collect();
            (entries, order, events)
        }
    };
    let (entries, orders, events) = seen(together).await;
    assert_eq!(
        (entries.clone(), orders.clone(), events.clone()),
        seen(alone).await
    );
    assert_eq!(orders, [line]);
    let states: Vec<OutboxState> = entries.iter().map(|e| e.1).collect();
    assert_eq!(
        states,
        [
            OutboxState::Delivered,
            OutboxState::Delivered,
            OutboxState::Delivered,
            OutboxState::Pending,
            OutboxState::InDoubt,
            OutboxState::Failed,
            OutboxState::Sending,
        ]
    );
    let kinds: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert!(kinds.contains(&"status.delivered"), "{kinds:?}");
    // All or none: an unknown entry among them fails the lot.
    let store = h.fresh().await;
    let a = store.enqueue(file(1), &update(), t(0)).await.unwrap();
    let b = store.enqueue(file(2), &update(), t(0)).await.unwrap();
    store.claim_due(t(0), &lease("w", 60), 10).await.unwrap();
    let done = |id| Outcome {
        id,
        owner: "w".into(),
        attempt_no: 1,
        attempt: Attempt::Delivered(OperationAnswer::Done),
        now: t(1),
    };
    assert!(
        store
            .finish_all(&[done(a), done(999), done(b)])
            .await
            .is_err()
    );
    assert_eq!(state_of(&store, a).await, OutboxState::Sending);
    assert_eq!(state_of(&store, b).await, OutboxState::Sending);
    assert!(store.events_after(0, 10).await.unwrap().is_empty());
    assert_eq!(
        store.finish_all(&[done(a), done(b)]).await.unwrap(),
        [Finish::Recorded, Finish::Recorded]
    );
    assert_eq!(store.events_after(0, 10).await.unwrap().len(), 2);
}

/// The delivered entries of a file older than a given entry, newest first:
/// none of another file, none still open, none newer.
pub async fn a_file_s_delivered_entries_come_newest_first<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let done = Attempt::Delivered(OperationAnswer::Done);
    let mut delivered = Vec::new();
    for (f, n) in [(1, 0), (2, 1), (1, 2), (1, 3)] {
        let id = store
            .enqueue(file(f), &version(n), t(n.into()))
            .await
            .unwrap();
        store
            .claim(id, t(10), &lease("w", 60))
            .await
            .unwrap()
            .unwrap();
        store.finish(id, "w", 1, &done, t(11)).await.unwrap();
        delivered.push(id);
    }
    let open = store.enqueue(file(1), &order(1), t(12)).await.unwrap();
    let ids = |got: Vec<OutboxEntry>| got.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let [a, _, c, d] = delivered[..] else {
        unreachable!()
    };
    assert_eq!(
        ids(store
            .delivered_before(InterventionId(1), open + 1)
            .await
            .unwrap()),
        [d, c, a]
    );
    assert_eq!(
        ids(store.delivered_before(InterventionId(1), d).await.unwrap()),
        [c, a]
    );
    assert!(
        store
            .delivered_before(InterventionId(3), open + 1)
            .await
            .unwrap()
            .is_empty()
    );
}
