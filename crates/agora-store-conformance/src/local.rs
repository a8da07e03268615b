//! The repair files and the cursors: revisions, save-with-operation
//! atomicity, wire values kept as they arrived, work orders kept whole.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use agora_domain::PartOrderLine;
use agora_domain::{ClaimId, InterventionId, MandateId};
use agora_ports::{AgoraError, LocalRepair, Outbox, OutboxState, RepairFiles, SyncCursors};

use super::*;

/// Files round-trip whole (unknown fields and the time the claim was first
/// seen accepted included); each write raises the revision; a stale copy,
/// or a new file that exists, is a conflict.
pub async fn repairs_round_trip_with_revisions<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let mut r = repair(1);
    r.claim_id = Some(ClaimId(77));
    r.accepted_at = Some(t(42));
    store.upsert_repair(&r).await.unwrap();
    let stored = store.repair(InterventionId(1)).await.unwrap().unwrap();
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
            .repair_by_mandate(MandateId(1001))
            .await
            .unwrap()
            .map(|r| r.intervention_id),
        Some(InterventionId(1))
    );
    assert_eq!(
        store
            .repair_by_claim(ClaimId(77))
            .await
            .unwrap()
            .map(|r| r.intervention_id),
        Some(InterventionId(1))
    );
    assert!(store.repair(InterventionId(2)).await.unwrap().is_none());
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
    let now = store.repair(InterventionId(1)).await.unwrap().unwrap();
    assert_eq!((now.revision, now.attention.as_deref()), (2, Some("a")));
    store.upsert_repair(&repair(2)).await.unwrap();
    let ids: Vec<InterventionId> = store
        .repairs()
        .await
        .unwrap()
        .iter()
        .map(|r| r.intervention_id)
        .collect();
    assert_eq!(ids, [InterventionId(1), InterventionId(2)]);
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
        (Some(InterventionId(5)), OutboxState::Pending, 0)
    );
    let mut changed = store.repair(InterventionId(5)).await.unwrap().unwrap();
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
    assert_eq!(
        store
            .repair(InterventionId(5))
            .await
            .unwrap()
            .unwrap()
            .attention,
        None
    );
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
    let back = store.repair(InterventionId(3)).await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(&back.orders).unwrap(), before);
    assert_eq!(
        back.orders[0].status_code,
        Some(agora_domain::LogisticStatus::Shipped)
    );
}

/// The work order a file came from is kept as AgoraPlus sent it: its
/// unknown fields (at the top and nested) and its values read tolerantly
/// (a title as a label) write back the same JSON; a file without one
/// reads back without one, and a later write can add it.
pub async fn a_work_order_is_kept_as_received<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let sent = serde_json::json!({
        "MandateId": 1004,
        "ManufacturerId": 19,
        "RetailerChannel": "web",
        "Consumer": {"Title": "Mr.", "LastName": "Martin", "Fax": "+33 1 23 45 67 89"},
        "SuggestedParts": [{"Reference": "P-1", "Bin": "A3"}]
    });
    let mandate: agora_domain::MandateLightResponse =
        agora_domain::wire::read_stored(&sent.to_string()).unwrap();
    assert_eq!(
        serde_json::to_value(&mandate).unwrap(),
        sent,
        "the test's premise"
    );
    let mut r = repair(4);
    r.work_order = Some(mandate.clone());
    store.upsert_repair(&r).await.unwrap();
    let back = store.repair(InterventionId(4)).await.unwrap().unwrap();
    assert_eq!(back.work_order.as_ref(), Some(&mandate));
    assert_eq!(serde_json::to_value(&back.work_order).unwrap(), sent);
    let by_mandate = store.repair_by_mandate(MandateId(1004)).await.unwrap();
    assert_eq!(by_mandate.and_then(|r| r.work_order), Some(mandate.clone()));

    let mut plain = repair(5);
    store.upsert_repair(&plain).await.unwrap();
    plain = store.repair(InterventionId(5)).await.unwrap().unwrap();
    assert_eq!(plain.work_order, None);
    plain.work_order = Some(mandate);
    store.upsert_repair(&plain).await.unwrap();
    let listed = store.repairs().await.unwrap();
    assert_eq!(listed.len(), 2);
    for r in listed {
        assert_eq!(serde_json::to_value(&r.work_order).unwrap(), sent);
    }
}

/// Work orders pulled are kept by `MandateId` as AgoraPlus sent them
/// (unknown fields included), accepted or not: a later copy replaces the
/// earlier, and a repair file once given is not taken away by a copy
/// without one; a work order without a `MandateId` is not kept.
pub async fn work_orders_are_kept_whether_accepted_or_not<H: Harness>(h: &H) {
    use agora_domain::MandateLightResponse;
    let store = h.fresh().await;
    let read = |v: serde_json::Value| -> MandateLightResponse {
        agora_domain::wire::read_stored(&v.to_string()).unwrap()
    };
    let first = serde_json::json!({
        "MandateId": 7, "ManufacturerId": 19, "RetailerChannel": "web",
        "Consumer": {"LastName": "Martin", "Fax": "+33 1 23 45 67 89"}
    });
    let other = serde_json::json!({"MandateId": 3, "Unknown": [1, {"a": null}]});
    store
        .keep_work_order(&read(first.clone()), None, t(0))
        .await
        .unwrap();
    store
        .keep_work_order(&read(other.clone()), Some(InterventionId(30)), t(0))
        .await
        .unwrap();
    store
        .keep_work_order(&read(serde_json::json!({"Unknown": 1})), None, t(0))
        .await
        .unwrap();
    let kept = store.work_order(MandateId(7)).await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(&kept.mandate).unwrap(), first);
    assert_eq!(kept.intervention_id, None);
    assert_eq!(kept.seen_at, t(0));
    assert_eq!(store.work_order(MandateId(8)).await.unwrap(), None);

    // Accepted later: the repair file is given, and kept by a later copy
    // without it.
    let mut second = first.clone();
    second["RetailerChannel"] = serde_json::json!("shop");
    store
        .keep_work_order(&read(second.clone()), Some(InterventionId(70)), t(1))
        .await
        .unwrap();
    store
        .keep_work_order(&read(second.clone()), None, t(2))
        .await
        .unwrap();
    let all = store.work_orders().await.unwrap();
    let ids: Vec<_> = all.iter().map(|w| w.mandate.mandate_id).collect();
    assert_eq!(ids, [Some(MandateId(3)), Some(MandateId(7))]);
    assert_eq!(serde_json::to_value(&all[0].mandate).unwrap(), other);
    assert_eq!(all[0].intervention_id, Some(InterventionId(30)));
    assert_eq!(serde_json::to_value(&all[1].mandate).unwrap(), second);
    assert_eq!(all[1].intervention_id, Some(InterventionId(70)));
    assert_eq!(all[1].seen_at, t(2));
}
