//! The outbox's contract: claims, leases, deliveries, recovery, exclusive
//! creations, settlements by a person, concurrent claimers.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use agora_domain::{ClaimId, InterventionId};
use agora_domain::{InvoiceReference, Part, PartOrderLine, WarrantyClaimResult};
use agora_ports::{
    AgoraError, Attempt, Operation, OperationAnswer, Outbox, OutboxState, RepairFiles, Settlement,
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
            .finish(a1, "w1", &Attempt::Delivered(OperationAnswer::Done), t(1))
            .await
            .unwrap()
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
                &Attempt::Retry {
                    at: t(30),
                    error: "503".into()
                },
                t(1)
            )
            .await
            .unwrap()
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
    assert!(!store.finish(id, "w2", &failed, t(1)).await.unwrap());
    assert_eq!(state_of(&store, id).await, OutboxState::Sending);
    assert!(store.renew(id, &lease("w1", 120)).await.unwrap());
    assert!(!store.renew(id, &lease("w2", 120)).await.unwrap());
    assert_eq!(
        store.entry(id).await.unwrap().unwrap().lease,
        Some(lease("w1", 120))
    );
    assert!(
        store
            .finish(id, "w1", &Attempt::InDoubt("timeout".into()), t(1))
            .await
            .unwrap()
    );
    let e = store.entry(id).await.unwrap().unwrap();
    assert_eq!(
        (e.state, e.last_error.as_deref(), e.lease),
        (OutboxState::InDoubt, Some("timeout"), None)
    );
    // Settled: nobody's attempt changes it now, nor is it renewed.
    assert!(!store.finish(id, "w1", &failed, t(2)).await.unwrap());
    assert!(!store.renew(id, &lease("w1", 200)).await.unwrap());
    assert!(store.finish(999, "w1", &failed, t(2)).await.is_err());
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
            .finish(id, "w1", &Attempt::Delivered(answer.clone()), t(1))
            .await
            .unwrap()
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
    assert!(store.recover_expired(t(5)).await.unwrap().is_empty());
    let parked = store.recover_expired(t(10)).await.unwrap();
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
                &Attempt::Delivered(OperationAnswer::Ordered(vec![])),
                t(11)
            )
            .await
            .unwrap()
    );
    // The dead holder's late failure changes nothing.
    assert!(
        !store
            .finish(dead_update, "w2", &Attempt::Failed("x".into()), t(12))
            .await
            .unwrap()
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
    assert_eq!(store.recover_expired(t(20)).await.unwrap(), [id]);
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
                &Attempt::Delivered(OperationAnswer::Claim(verdict)),
                t(21)
            )
            .await
            .unwrap()
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
                    .finish(first, "w", &Attempt::InDoubt("timeout".into()), t(1))
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
        .settle(first, &Settlement::Abandon, t(2))
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
        store.settle(id, &Settlement::Resend, t(0)).await,
        Err(AgoraError::Invalid(_))
    ));
    store
        .claim(id, t(0), &lease("w", 60))
        .await
        .unwrap()
        .unwrap();
    store
        .finish(id, "w", &Attempt::InDoubt("timeout".into()), t(1))
        .await
        .unwrap();
    // Resend: pending and due now.
    assert_eq!(
        store.settle(id, &Settlement::Resend, t(5)).await.unwrap(),
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
        .finish(id, "w", &Attempt::InDoubt("timeout".into()), t(6))
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
        store.settle(id, &applied, t(7)).await.unwrap(),
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
    assert!(store.settle(id, &Settlement::Abandon, t(8)).await.is_err());
    assert!(store.settle(999, &Settlement::Abandon, t(8)).await.is_err());
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
