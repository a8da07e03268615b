//! The webhook deliveries' contract (a cursor per endpoint, deliveries
//! claimed with leases, one at a time per repair file, outcomes recorded by
//! the holder only, requeued on demand) and retention's (only what is old
//! and no longer needed is pruned).

use agora_domain::{InterventionId, Lcid, ManufacturerId};
use agora_ports::{
    Attempt, CatalogStore, CursorMove, DeliveryOutcome, DeliveryState, Events, Lease,
    OperationAnswer, Outbox, Pruned, RepairFiles, Retention, WebhookBacklog, WebhookDeliveries,
};

use crate::{Harness, file, lease, repair, t, update};

/// Event ids and their repair files, as recorded.
async fn recorded<S: Events>(store: &S) -> Vec<(u64, Option<i64>)> {
    store
        .events_after(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.id, e.intervention_id.map(|i| i.0)))
        .collect()
}

async fn claimed<S: WebhookDeliveries>(
    store: &S,
    endpoint: &str,
    at: i64,
    owner: &str,
) -> Vec<u64> {
    store
        .claim_deliveries(endpoint, t(at), &lease(owner, at + 60), 10)
        .await
        .unwrap()
        .iter()
        .map(|d| d.event.id)
        .collect()
}

/// Deliveries: queued with the cursor's move (compare-and-set); claimed
/// by event id, at most one per repair file while an earlier one of the
/// file is pending, any number of those of no file; leases exclude others
/// until they expire; only the holder records an outcome; a retry waits
/// until due and holds back the later events of its file; a give-up frees
/// them and shows in the backlog; a requeue makes it pending again.
pub async fn webhook_deliveries_keep_order_per_file_and_leases<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let other = h.reopen(&store).await;
    // Events: file 1 created, file 2 created, file 1 changed (a part order
    // line placed), a catalog sync (no file).
    store.upsert_repair(&repair(1)).await.unwrap();
    store.upsert_repair(&repair(2)).await.unwrap();
    let mut r = store.repair(InterventionId(1)).await.unwrap().unwrap();
    r.orders.push(agora_domain::PartOrderLine {
        order_number: Some(agora_domain::OrderNumber::from("ORD-1")),
        ..agora_domain::PartOrderLine::default()
    });
    store.upsert_repair(&r).await.unwrap();
    store
        .upsert_spare_parts(
            ManufacturerId(19),
            Lcid::ENGLISH,
            Vec::new(),
            t(0),
            Some(CursorMove {
                key: "spareparts/19/1033".into(),
                at: t(0),
            }),
        )
        .await
        .unwrap();
    let events = recorded(&store).await;
    let files: Vec<Option<i64>> = events.iter().map(|e| e.1).collect();
    assert_eq!(files, [Some(1), Some(2), Some(1), None], "{events:?}");
    let [(a1, _), (b1, _), (a2, _), (cat, _)] = events[..] else {
        unreachable!()
    };

    assert_eq!(store.webhook_cursor("hook").await.unwrap(), 0);
    let all = [a1, b1, a2, cat];
    assert!(
        !store
            .queue_deliveries("hook", 5, cat, &all, t(0))
            .await
            .unwrap(),
        "the cursor is not at 5: nothing queued"
    );
    assert!(
        store
            .queue_deliveries("hook", 0, cat, &all, t(0))
            .await
            .unwrap()
    );
    assert!(
        !other
            .queue_deliveries("hook", 0, cat, &all, t(0))
            .await
            .unwrap(),
        "another worker already moved the cursor"
    );
    assert_eq!(store.webhook_cursor("hook").await.unwrap(), cat);
    // Another endpoint's cursor and deliveries are its own.
    assert_eq!(other.webhook_cursor("other").await.unwrap(), 0);
    assert!(
        store
            .queue_deliveries("other", 0, cat, &[cat], t(0))
            .await
            .unwrap()
    );

    // One per file at a time; those of no file wait for nothing.
    assert_eq!(claimed(&store, "hook", 1, "w1").await, [a1, b1, cat]);
    assert!(
        claimed(&other, "hook", 2, "w2").await.is_empty(),
        "leased by w1; a2 waits behind a1"
    );
    assert_eq!(claimed(&other, "other", 2, "w2").await, [cat]);

    // Only the holder records.
    let delivered = DeliveryOutcome::Delivered(t(3));
    assert!(
        !other
            .finish_delivery("hook", a1, "w2", &delivered)
            .await
            .unwrap()
    );
    // a1 fails: due again at t(30); a2 still waits behind it.
    let retry = DeliveryOutcome::Retry {
        at: t(30),
        error: "503".into(),
    };
    assert!(
        store
            .finish_delivery("hook", a1, "w1", &retry)
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_delivery("hook", b1, "w1", &delivered)
            .await
            .unwrap()
    );
    assert_eq!(
        store.delivery_state("hook", b1).await.unwrap(),
        Some(DeliveryState::Delivered)
    );
    assert!(claimed(&other, "hook", 10, "w2").await.is_empty());
    // w1's lease of `cat` (until t(61)) expired: another takes it over.
    assert_eq!(claimed(&other, "hook", 62, "w2").await, [a1, cat]);
    let again = other
        .claim_deliveries("hook", t(200), &lease("w3", 260), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 2, "w2's leases expired at t(122)");
    assert_eq!(again[0].attempts, 1, "one attempt recorded");
    assert_eq!(again[0].event.intervention_id, Some(InterventionId(1)));
    assert_eq!(again[0].queued_at, t(0));
    assert!(
        !other
            .finish_delivery("hook", a1, "w2", &delivered)
            .await
            .unwrap(),
        "w2 lost its lease"
    );
    // a1 given up: it frees a2, and shows as failed.
    let gave_up = DeliveryOutcome::GaveUp("503 for 3 days".into());
    assert!(
        other
            .finish_delivery("hook", a1, "w3", &gave_up)
            .await
            .unwrap()
    );
    assert_eq!(claimed(&store, "hook", 201, "w4").await, [a2]);
    assert_eq!(
        store.webhook_backlog().await.unwrap(),
        [
            WebhookBacklog {
                endpoint: "hook".into(),
                pending: 2,
                failed: 1
            },
            WebhookBacklog {
                endpoint: "other".into(),
                pending: 1,
                failed: 0
            },
        ]
    );
    let failed = store.failed_deliveries(10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!((failed[0].event_id, failed[0].attempts), (a1, 2));
    assert_eq!(failed[0].last_error.as_deref(), Some("503 for 3 days"));

    // Requeued: pending again from its first attempt, and in its place
    // before the later events of its file.
    assert_eq!(
        store
            .requeue_deliveries("hook", &[a1, b1, 9_999], t(300))
            .await
            .unwrap(),
        2,
        "an event not kept is not queued"
    );
    assert_eq!(
        store.delivery_state("hook", b1).await.unwrap(),
        Some(DeliveryState::Pending)
    );
    let requeued = store
        .claim_deliveries("hook", t(400), &lease("w5", 460), 10)
        .await
        .unwrap();
    let ids: Vec<u64> = requeued.iter().map(|d| d.event.id).collect();
    assert_eq!(
        ids,
        [a1, b1, cat],
        "a2 (its lease expired) waits behind a1; cat's lease expired"
    );
    assert_eq!((requeued[0].attempts, requeued[0].queued_at), (0, t(300)));
}

/// Retention prunes delivered outbox entries older than the cutoff, the
/// finished deliveries of old events, and old events no pending delivery
/// needs; nothing else.
pub async fn retention_prunes_only_what_is_old_and_done<H: Harness>(h: &H) {
    let store = h.fresh().await;
    store.upsert_repair(&repair(1)).await.unwrap();
    store.upsert_repair(&repair(2)).await.unwrap();
    let sent = store.enqueue(file(1), &update(), t(0)).await.unwrap();
    let got = store
        .claim(sent, t(10), &lease("w", 100))
        .await
        .unwrap()
        .unwrap();
    store
        .finish(
            sent,
            "w",
            got.attempts,
            &Attempt::Delivered(OperationAnswer::Done),
            t(11),
        )
        .await
        .unwrap();
    let waiting = store.enqueue(file(2), &update(), t(0)).await.unwrap();
    let events = recorded(&store).await;
    assert_eq!(events.len(), 3, "two files created, a status delivered");
    let ids: Vec<u64> = events.iter().map(|e| e.0).collect();
    store
        .queue_deliveries("hook", 0, ids[2], &ids, t(0))
        .await
        .unwrap();
    // The second event's delivery is done; the first's still pending.
    let owner = Lease {
        owner: "w".into(),
        until: t(100),
    };
    let got = store
        .claim_deliveries("hook", t(1), &owner, 10)
        .await
        .unwrap();
    assert_eq!(got.len(), 2, "one per file");
    store
        .finish_delivery("hook", ids[1], "w", &DeliveryOutcome::Delivered(t(2)))
        .await
        .unwrap();

    // Nothing is older than a cutoff in the past.
    assert_eq!(store.prune(t(5)).await.unwrap(), Pruned::default());
    assert_eq!(recorded(&store).await.len(), 3);

    // Everything is older than a cutoff an hour from now (events are
    // stamped by the store's clock).
    let later =
        agora_ports::Clock::now(&agora_ports::SystemClock) + jiff::SignedDuration::from_hours(1);
    assert_eq!(
        store.prune(later).await.unwrap(),
        Pruned {
            events: 1,
            outbox_entries: 1,
            deliveries: 1
        },
        "the delivered entry; the delivered delivery and its event; not \
         the events whose deliveries are pending"
    );
    let kept: Vec<u64> = recorded(&store).await.iter().map(|e| e.0).collect();
    assert_eq!(kept, [ids[0], ids[2]]);
    assert!(store.entry(sent).await.unwrap().is_none());
    assert!(store.entry(waiting).await.unwrap().is_some());
}
