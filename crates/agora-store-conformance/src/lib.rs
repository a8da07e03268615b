//! # agora-store-conformance
//!
//! The contract of agora's local-state ports ([`RepairFiles`],
//! [`SyncCursors`], [`Outbox`], [`CatalogStore`]) written once as tests, so
//! that every store keeps the same promises: CRUD with revisions,
//! save-with-operation atomicity, the outbox's state machine, claims with
//! owners and leases, recovery of expired leases only, exclusive creations,
//! settlements, concurrent claimers that never share an entry, catalog
//! upserts by key in the order they were started, cursors that move with
//! the batch completing a sync; plus a model-based test of random
//! interleavings of two dispatchers, crashes and operator resolutions
//! against a reference model.
//!
//! A store implements [`Harness`] in its own tests and invokes
//! [`conformance_tests!`], which writes one `#[tokio::test]` per check.
//! It is test code: it panics on the first broken promise, naming it.
//! It is not a store, and holds no rule of its own: it checks the rules of
//! `agora-ports` (`apply_answer`, `Operation::exclusive_key`).

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use agora_domain::SparePart;
use agora_domain::lifecycle::RepairLifecycle;
use agora_domain::{
    CompleteRepairState, InvoiceReference, Lcid, ManufacturerId, Part, PartOrderLine,
    WarrantyClaim, WarrantyClaimResult,
};
use agora_ports::{
    AgoraError, Attempt, CatalogStore, CursorMove, Lease, LocalRepair, Operation, OperationAnswer,
    Outbox, OutboxState, RepairFiles, Settlement, SyncCursors,
};
use jiff::Timestamp;

mod model;

pub use model::model_interleavings;

/// A store under test.
pub trait Harness: Send + Sync {
    /// The store.
    type Store: RepairFiles + Outbox + SyncCursors + CatalogStore + Clone + Send + Sync + 'static;
    /// A new, empty store of its own.
    fn fresh(&self) -> impl Future<Output = Self::Store> + Send;
    /// A second handle on the same store, as another process would open it
    /// (its own connections).
    fn reopen(&self, store: &Self::Store) -> impl Future<Output = Self::Store> + Send;
    /// The stored spare parts of an OEM and language, as (reference,
    /// record JSON) by reference, read behind the store's back (the ports
    /// have no such read).
    fn spare_parts(
        &self,
        store: &Self::Store,
        manufacturer: ManufacturerId,
        language: Lcid,
    ) -> impl Future<Output = Vec<(String, String)>> + Send;
}

/// One `#[tokio::test]` per check of the contract, for the harness given
/// (an expression building a [`Harness`]).
#[macro_export]
macro_rules! conformance_tests {
    ($harness:expr) => {
        $crate::conformance_tests!(@each $harness;
            repairs_round_trip_with_revisions,
            save_with_operation_is_atomic,
            claims_take_due_entries_once_in_file_order,
            only_the_lease_owner_settles_an_attempt,
            a_delivery_applies_its_answer_in_the_same_write,
            recovery_touches_only_expired_leases,
            a_late_answer_settles_a_recovered_entry,
            creations_of_the_same_thing_exclude_each_other,
            settlements_by_a_person,
            concurrent_claimers_never_share_an_entry,
            cursors_round_trip,
            wire_values_kept_as_they_arrived_survive_the_store,
            catalog_upserts_keep_the_later_record_of_each_key,
            catalog_writes_apply_in_the_order_they_were_started,
            a_catalog_batch_moves_its_cursor_with_it,
        );
        #[test]
        fn model_interleavings() {
            $crate::model_interleavings(&$harness);
        }
    };
    (@each $harness:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::$check(&$harness).await;
            }
        )*
    };
}

/// A fixed instant plus `s` seconds.
pub fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap()
}

/// A lease of `owner` until `t(until)`.
pub fn lease(owner: &str, until: i64) -> Lease {
    Lease {
        owner: owner.to_owned(),
        until: t(until),
    }
}

/// A repair file never stored, with an unknown field to keep.
pub fn repair(id: i64) -> LocalRepair {
    let mut file = CompleteRepairState {
        intervention_id: Some(id),
        mandate_id: Some(id + 1000),
        ..CompleteRepairState::default()
    };
    file.extra
        .insert("Kept".into(), serde_json::json!({"x": [1, 2]}));
    LocalRepair {
        intervention_id: id,
        mandate_id: Some(id + 1000),
        file,
        lifecycle: RepairLifecycle::direct(Some(ManufacturerId(19)), None),
        claim_id: None,
        orders: vec![],
        attention: None,
        revision: 0,
    }
}

fn update() -> Operation {
    Operation::UpdateRepair(CompleteRepairState::default())
}

fn order(file: i64) -> Operation {
    Operation::PlaceOrder(file)
}

fn create_claim() -> Operation {
    Operation::CreateClaim {
        claim: WarrantyClaim::default(),
        language: Lcid::ENGLISH,
        transfer_if_valid: true,
    }
}

async fn state_of<S: Outbox>(store: &S, id: u64) -> OutboxState {
    store.entry(id).await.unwrap().unwrap().state
}

/// Files round-trip whole (unknown fields included); each write raises the
/// revision; a stale copy, or a new file that exists, is a conflict.
pub async fn repairs_round_trip_with_revisions<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let mut r = repair(1);
    r.claim_id = Some(77);
    store.upsert_repair(&r).await.unwrap();
    let stored = store.repair(1).await.unwrap().unwrap();
    assert_eq!(stored.revision, 1);
    assert_eq!(stored.file.extra["Kept"], serde_json::json!({"x": [1, 2]}));
    assert_eq!(
        LocalRepair {
            revision: 0,
            ..stored.clone()
        },
        r
    );
    assert_eq!(
        store
            .repair_by_mandate(1001)
            .await
            .unwrap()
            .map(|r| r.intervention_id),
        Some(1)
    );
    assert_eq!(
        store
            .repair_by_claim(77)
            .await
            .unwrap()
            .map(|r| r.intervention_id),
        Some(1)
    );
    assert!(store.repair(2).await.unwrap().is_none());
    // A new file that exists already.
    assert!(matches!(
        store.upsert_repair(&r).await,
        Err(AgoraError::Conflict(_))
    ));
    // Two copies read at revision 1: the first write wins, the second is refused.
    let mut a = stored.clone();
    a.attention = Some("a".into());
    let mut b = stored;
    b.attention = Some("b".into());
    store.upsert_repair(&a).await.unwrap();
    assert!(matches!(
        store.upsert_repair(&b).await,
        Err(AgoraError::Conflict(_))
    ));
    let now = store.repair(1).await.unwrap().unwrap();
    assert_eq!((now.revision, now.attention.as_deref()), (2, Some("a")));
    store.upsert_repair(&repair(2)).await.unwrap();
    let ids: Vec<i64> = store
        .repairs()
        .await
        .unwrap()
        .iter()
        .map(|r| r.intervention_id)
        .collect();
    assert_eq!(ids, [1, 2]);
}

/// The file and its operation are kept together or not at all: a refused
/// operation leaves the file as it was, and a stale file enqueues nothing.
pub async fn save_with_operation_is_atomic<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let r = repair(5);
    let id = store
        .save_with_operation(&r, Some(order(5)), t(0))
        .await
        .unwrap()
        .unwrap();
    let entry = store.entry(id).await.unwrap().unwrap();
    assert_eq!(
        (entry.intervention_id, entry.state, entry.attempts),
        (Some(5), OutboxState::Pending, 0)
    );
    let mut changed = store.repair(5).await.unwrap().unwrap();
    changed.attention = Some("changed".into());
    // A second order of the same file while the first is open: refused,
    // naming the open entry, and the file is not written.
    let refused = store
        .save_with_operation(&changed, Some(order(5)), t(0))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, AgoraError::Invalid(m) if m.contains(&format!("entry {id}"))),
        "{refused}"
    );
    assert_eq!(store.repair(5).await.unwrap().unwrap().attention, None);
    // A stale copy: nothing enqueued.
    let mut stale = changed.clone();
    store.upsert_repair(&changed).await.unwrap();
    stale.attention = Some("stale".into());
    assert!(matches!(
        store
            .save_with_operation(&stale, Some(update()), t(0))
            .await,
        Err(AgoraError::Conflict(_))
    ));
    assert_eq!(
        store.entries(OutboxState::Pending).await.unwrap().len(),
        1,
        "a refused save enqueued its operation"
    );
}

/// Claims take pending, due entries, oldest first, each once; an entry
/// waits behind an earlier undelivered one of its file.
pub async fn claims_take_due_entries_once_in_file_order<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let a1 = store.enqueue(Some(1), &update(), t(0)).await.unwrap();
    let b1 = store.enqueue(Some(2), &update(), t(0)).await.unwrap();
    let a2 = store.enqueue(Some(1), &order(1), t(0)).await.unwrap();
    let later = store.enqueue(Some(3), &update(), t(50)).await.unwrap();
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
    assert!(
        store
            .claim(a1, t(0), &lease("w2", 60))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .claim(a2, t(0), &lease("w2", 60))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .claim(later, t(0), &lease("w2", 60))
            .await
            .unwrap()
            .is_none()
    );
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
    let id = store.enqueue(Some(1), &order(1), t(0)).await.unwrap();
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
    let file = store.repair(7).await.unwrap().unwrap();
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
        claim_id: Some(5_000_001),
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
        store.repair(7).await.unwrap().unwrap().claim_id,
        Some(5_000_001)
    );
    assert_eq!(
        store
            .repair_by_claim(5_000_001)
            .await
            .unwrap()
            .map(|r| r.intervention_id),
        Some(7)
    );
}

/// Recovery takes back entries whose lease expired, and only those:
/// idempotent ones to pending, the others in doubt.
pub async fn recovery_touches_only_expired_leases<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let live = store.enqueue(Some(1), &order(1), t(0)).await.unwrap();
    let dead_create = store.enqueue(Some(2), &order(2), t(0)).await.unwrap();
    let dead_update = store.enqueue(Some(3), &update(), t(0)).await.unwrap();
    let waiting = store.enqueue(Some(4), &order(4), t(0)).await.unwrap();
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
        claim_id: Some(42),
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
    assert_eq!(store.repair(8).await.unwrap().unwrap().claim_id, Some(42));
}

/// Two creations of the same thing are never open at once; once one is
/// settled, the next may be written.
pub async fn creations_of_the_same_thing_exclude_each_other<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let first = store.enqueue(Some(1), &create_claim(), t(0)).await.unwrap();
    // Refused while pending, sending or in doubt.
    for step in 0..3 {
        let err = store
            .enqueue(Some(1), &create_claim(), t(0))
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
    store.enqueue(Some(2), &create_claim(), t(0)).await.unwrap();
    store.enqueue(Some(1), &update(), t(0)).await.unwrap();
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
    store.enqueue(Some(1), &create_claim(), t(3)).await.unwrap();
}

/// A person settles entries in doubt or failed, and only those.
pub async fn settlements_by_a_person<H: Harness>(h: &H) {
    let store = h.fresh().await;
    store.upsert_repair(&repair(9)).await.unwrap();
    let id = store.enqueue(Some(9), &create_claim(), t(0)).await.unwrap();
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
        claim_id: Some(77),
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
    assert_eq!(store.repair(9).await.unwrap().unwrap().claim_id, Some(77));
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
        ids.push(store.enqueue(Some(file), &update(), t(0)).await.unwrap());
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

/// Cursors round-trip.
pub async fn cursors_round_trip<H: Harness>(h: &H) {
    let store = h.fresh().await;
    assert_eq!(store.cursor("spareparts/19/1033").await.unwrap(), None);
    store.set_cursor("spareparts/19/1033", t(5)).await.unwrap();
    store.set_cursor("spareparts/19/1033", t(9)).await.unwrap();
    assert_eq!(
        store.cursor("spareparts/19/1033").await.unwrap(),
        Some(t(9))
    );
    assert_eq!(store.cursor("other").await.unwrap(), None);
}

/// A file whose wire values were kept as they arrived (a logistic code
/// sent as a number, a title as a label) reads back, and writes the same
/// JSON again.
pub async fn wire_values_kept_as_they_arrived_survive_the_store<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let line: PartOrderLine = agora_domain::wire::read_stored(
        r#"{"OrderNumber":"ORD-1","Reference":"P-1","StatusCode":208}"#,
    )
    .unwrap();
    let mut r = repair(3);
    r.orders = vec![line];
    let before = serde_json::to_value(&r.orders).unwrap();
    assert_eq!(before[0]["StatusCode"], 208, "the test's premise");
    store.upsert_repair(&r).await.unwrap();
    let back = store.repair(3).await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(&back.orders).unwrap(), before);
    assert_eq!(
        back.orders[0].status_code,
        Some(agora_domain::LogisticStatus::Shipped)
    );
}

fn part(reference: Option<&str>, label: &str) -> SparePart {
    SparePart {
        reference: reference.map(str::to_owned),
        label: Some(label.to_owned()),
        ..SparePart::default()
    }
}

/// The labels of the stored spare parts, by reference.
async fn labels<H: Harness>(
    h: &H,
    store: &H::Store,
    m: ManufacturerId,
    l: Lcid,
) -> Vec<(String, String)> {
    h.spare_parts(store, m, l)
        .await
        .into_iter()
        .map(|(k, json)| {
            let p: SparePart = serde_json::from_str(&json).unwrap();
            (k, p.label.unwrap_or_default())
        })
        .collect()
}

/// Catalog upserts by key: of several records with one key, in one batch
/// or across batches, the later wins; a record without key is not stored
/// (nor counted); OEMs and languages are apart; unknown fields are kept.
pub async fn catalog_upserts_keep_the_later_record_of_each_key<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let (m, en) = (ManufacturerId(19), Lcid::ENGLISH);
    // 100 rows, one in seven without a reference; 40 references repeat.
    let batch: Vec<SparePart> = (0..100)
        .map(|i| {
            part(
                (i % 7 != 3).then(|| format!("R{:02}", i % 40)).as_deref(),
                &format!("row {i}"),
            )
        })
        .collect();
    let keyed = batch.iter().filter(|p| p.reference.is_some()).count() as u64;
    assert_eq!(
        store
            .upsert_spare_parts(m, en, batch.clone(), None)
            .await
            .unwrap(),
        keyed
    );
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for p in &batch {
        if let Some(r) = &p.reference {
            expected.insert(r.clone(), p.label.clone().unwrap());
        }
    }
    let stored = labels(h, &store, m, en).await;
    assert_eq!(stored, expected.clone().into_iter().collect::<Vec<_>>());
    // A second batch replaces one and adds one.
    let mut kept = part(Some("R01"), "replaced");
    kept.extra
        .insert("Kept".into(), serde_json::json!({"x": [1, 2]}));
    store
        .upsert_spare_parts(m, en, vec![kept, part(Some("R99"), "new")], None)
        .await
        .unwrap();
    expected.insert("R01".into(), "replaced".into());
    expected.insert("R99".into(), "new".into());
    assert_eq!(
        labels(h, &store, m, en).await,
        expected.clone().into_iter().collect::<Vec<_>>()
    );
    let raw = h.spare_parts(&store, m, en).await;
    let r01: serde_json::Value = serde_json::from_str(&raw[1].1).unwrap();
    assert_eq!(r01["Kept"], serde_json::json!({"x": [1, 2]}), "{r01}");
    assert_eq!(
        store.count_spare_parts(m, en).await.unwrap(),
        expected.len() as u64
    );
    assert_eq!(store.count_spare_parts(m, Lcid::FRENCH).await.unwrap(), 0);
    assert_eq!(
        store
            .count_spare_parts(ManufacturerId(20), en)
            .await
            .unwrap(),
        0
    );
    let product = agora_domain::Product {
        commercial_ref: Some("P1".into()),
        ..agora_domain::Product::default()
    };
    assert_eq!(
        store
            .upsert_products(
                m,
                en,
                vec![product.clone(), product, Default::default()],
                None
            )
            .await
            .unwrap(),
        2
    );
}

/// Two writes held at once apply in the order they were started, whatever
/// order they are awaited in: a later record wins over an earlier one.
pub async fn catalog_writes_apply_in_the_order_they_were_started<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let (m, en) = (ManufacturerId(19), Lcid::ENGLISH);
    for round in 0..20 {
        let first_label = format!("first {round}");
        let second_label = format!("second {round}");
        let mut first = store.upsert_spare_parts(m, en, vec![part(Some("K"), &first_label)], None);
        let mut second =
            store.upsert_spare_parts(m, en, vec![part(Some("K"), &second_label)], None);
        // Start both, first then second; await them the other way round.
        let first_done = poll_once(first.as_mut()).await;
        let second_done = poll_once(second.as_mut()).await;
        let second_n = match second_done {
            Some(n) => n,
            None => second.await,
        };
        let first_n = match first_done {
            Some(n) => n,
            None => first.await,
        };
        assert_eq!((first_n.unwrap(), second_n.unwrap()), (1, 1));
        assert_eq!(
            labels(h, &store, m, en).await,
            vec![("K".to_owned(), second_label)],
            "round {round}"
        );
    }
}

/// Polls a future once: its output when it finished.
async fn poll_once<F: Future + ?Sized>(f: std::pin::Pin<&mut F>) -> Option<F::Output> {
    let mut f = Some(f);
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match f.take().map(|f| f.poll(cx)) {
            Some(std::task::Poll::Ready(out)) => Some(out),
            _ => None,
        })
    })
    .await
}

/// The batch that completes a sync sets its cursor (an empty one too);
/// the others leave it alone.
pub async fn a_catalog_batch_moves_its_cursor_with_it<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let (m, en) = (ManufacturerId(19), Lcid::ENGLISH);
    let key = "spareparts/19/1033";
    let moves = |s| {
        Some(CursorMove {
            key: key.to_owned(),
            at: t(s),
        })
    };
    store
        .upsert_spare_parts(m, en, vec![part(Some("A"), "a")], None)
        .await
        .unwrap();
    assert_eq!(store.cursor(key).await.unwrap(), None);
    store
        .upsert_spare_parts(m, en, vec![part(Some("B"), "b")], moves(5))
        .await
        .unwrap();
    assert_eq!(store.cursor(key).await.unwrap(), Some(t(5)));
    assert_eq!(store.count_spare_parts(m, en).await.unwrap(), 2);
    store
        .upsert_spare_parts(m, en, vec![], moves(9))
        .await
        .unwrap();
    assert_eq!(store.cursor(key).await.unwrap(), Some(t(9)));
    store
        .upsert_products(
            m,
            en,
            vec![],
            Some(CursorMove {
                key: "products/19/1033".into(),
                at: t(3),
            }),
        )
        .await
        .unwrap();
    assert_eq!(store.cursor("products/19/1033").await.unwrap(), Some(t(3)));
}

/// How long a model case may take before it is reported stuck.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(30);

/// Entries by id, as the model and the store see them.
pub(crate) type States = BTreeMap<u64, OutboxState>;
