//! The events' contract: each written with its change (none for a change
//! refused), ids increasing, read after an id.

use agora_domain::lifecycle::ClaimState;
use agora_domain::{
    ClaimId, InterventionId, InvoiceReference, Lcid, LogisticStatus, MandateLightResponse,
    ManufacturerId, OrderNumber, PartOrderLine, StateNature, StatusCode,
};
use agora_ports::{
    Attempt, CatalogStore, CursorMove, Events, Operation, OperationAnswer, Outbox, RepairFiles,
};

use crate::{Harness, file, lease, order, repair, t};

/// Claims entry `id` as `owner` and records `attempt` for it.
async fn deliver<S: Outbox>(store: &S, id: u64, owner: &str, attempt: &Attempt) {
    let got = store
        .claim(id, t(10), &lease(owner, 100))
        .await
        .unwrap()
        .unwrap();
    store
        .finish(id, owner, got.attempts, attempt, t(11))
        .await
        .unwrap();
}

/// Every kind of change records its event, in the transaction of the
/// change: a refused write records none; ids increase; `events_after`
/// reads from an id, at most `limit`.
pub async fn events_are_recorded_with_their_change<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let id = InterventionId(1);
    store.upsert_repair(&repair(1)).await.unwrap();
    assert!(store.upsert_repair(&repair(1)).await.is_err(), "a conflict");
    let mandate: MandateLightResponse =
        serde_json::from_value(serde_json::json!({"MandateId": 1001, "ManufacturerId": 19}))
            .unwrap();
    store.keep_work_order(&mandate, None, t(0)).await.unwrap();
    store
        .keep_work_order(&mandate, Some(id), t(1))
        .await
        .unwrap();

    // Part orders: placed, then shipped.
    let mut r = store.repair(id).await.unwrap().unwrap();
    r.orders.push(PartOrderLine {
        order_number: Some(OrderNumber::from("ORD-1")),
        reference: Some("P1".into()),
        ..PartOrderLine::default()
    });
    store.upsert_repair(&r).await.unwrap();
    let mut r = store.repair(id).await.unwrap().unwrap();
    r.orders[0].status_code = Some(LogisticStatus::Shipped);
    store.upsert_repair(&r).await.unwrap();
    // Nothing changed: no event.
    let r = store.repair(id).await.unwrap().unwrap();
    store.upsert_repair(&r).await.unwrap();

    // A claim: created NOTVALID, then NOTCONFORM, then CLOSEDACCEPTED.
    let mut r = store.repair(id).await.unwrap().unwrap();
    r.claim_id = Some(ClaimId(9));
    r.lifecycle.claim = Some(ClaimState::NotValid);
    r.attention = Some("claim NOTVALID: serial number unknown".into());
    store.upsert_repair(&r).await.unwrap();
    for state in [ClaimState::NotConform, ClaimState::ClosedAccepted] {
        let mut r = store.repair(id).await.unwrap().unwrap();
        r.lifecycle.claim = Some(state);
        store.upsert_repair(&r).await.unwrap();
    }

    // The outbox: a status delivered, an invoice reference sent, an order
    // in doubt.
    let mut file_with_status = r.file.clone();
    file_with_status.state_natures = Some(vec![StateNature::new(
        StatusCode::AppointmentConfirmed,
        "RDV",
    )]);
    let update = store
        .enqueue(file(1), &Operation::UpdateRepair(file_with_status), t(2))
        .await
        .unwrap();
    deliver(
        &store,
        update,
        "w1",
        &Attempt::Delivered(OperationAnswer::Done),
    )
    .await;
    let invoice = store
        .enqueue(
            None,
            &Operation::SendInvoiceReference {
                reference: InvoiceReference::default(),
                claims: vec![ClaimId(9)],
            },
            t(2),
        )
        .await
        .unwrap();
    deliver(
        &store,
        invoice,
        "w2",
        &Attempt::Delivered(OperationAnswer::Done),
    )
    .await;
    let placed = store.enqueue(file(1), &order(1), t(2)).await.unwrap();
    deliver(&store, placed, "w3", &Attempt::InDoubt("timeout".into())).await;

    // A catalog sync completed.
    store
        .upsert_spare_parts(
            ManufacturerId(19),
            Lcid::ENGLISH,
            Vec::new(),
            t(3),
            Some(CursorMove {
                key: "spareparts/19/1033".into(),
                at: t(3),
            }),
        )
        .await
        .unwrap();
    // A batch that does not complete a sync: no event.
    store
        .upsert_spare_parts(ManufacturerId(19), Lcid::ENGLISH, Vec::new(), t(3), None)
        .await
        .unwrap();

    let events = store.events_after(0, 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "repair_file.created",
            "work_order.received",
            "part_order.placed",
            "part_order.shipped",
            "claim.created",
            "claim.notvalid",
            "claim.notconform",
            "claim.closedaccepted",
            "status.delivered",
            "invoice_reference.sent",
            "operation.in_doubt",
            "catalog.synced",
        ]
    );
    assert!(events.windows(2).all(|w| w[0].id < w[1].id), "{events:?}");
    assert_eq!(events[0].intervention_id, Some(id));
    assert_eq!(
        events[5].data["messages"],
        "claim NOTVALID: serial number unknown"
    );
    assert_eq!(events[3].data["reference"], "P1");
    assert_eq!(events[8].data["statuses"], serde_json::json!(["102"]));
    assert_eq!(events[10].data["operation"], "PlaceRepairSparepartOrder");
    assert_eq!(events[11].data["cursor"], "spareparts/19/1033");

    let after = store.events_after(events[2].id, 2).await.unwrap();
    assert_eq!(
        after.iter().map(|e| e.id).collect::<Vec<_>>(),
        [events[3].id, events[4].id]
    );
    assert!(
        store
            .events_after(events[11].id, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
