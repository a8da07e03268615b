//! The use cases against the in-memory simulator and a real SQLite store,
//! and with mockall where the order of calls is the point.
#![allow(clippy::unwrap_used)]

use agora_domain::{ClaimId, InterventionId};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_app::{Agora, AppConfig, CatalogKind, ClaimOutcome, Delivery, FlushReport, Resolution};
use agora_domain::lifecycle::ClaimState;
use agora_domain::{
    ClaimStatus, CountryCode, Lcid, MandateLightResponse, ManufacturerId, NewMandateResponseData,
    Part, StateNature, StatusCode, WireDateTime,
};
use agora_mock::{Faults, SimClient, SimConfig, Simulator};
use agora_ports::{
    AgoraError, CatalogStore, Clock, Lease, MockMandates, Operation, Outbox, OutboxState,
    RepairFiles, Reply, SyncCursors,
};
use agora_store_sqlite::SqliteStore;
use jiff::Timestamp;
use serde_json::json;

struct ManualClock(Mutex<Timestamp>);

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

impl ManualClock {
    fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

/// A store in a new temporary directory of its own, removed with the
/// returned guard.
fn store(name: &str) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::Builder::new()
        .prefix(&format!("agora-app-{name}-"))
        .tempdir()
        .unwrap();
    let store = SqliteStore::open(dir.path().join("agora.db")).unwrap();
    (dir, store)
}

fn setup(
    name: &str,
) -> (
    tempfile::TempDir,
    Simulator,
    Agora<SimClient, SqliteStore>,
    Arc<ManualClock>,
) {
    let clock = Arc::new(ManualClock(Mutex::new(
        "2024-03-01T09:00:00Z".parse().unwrap(),
    )));
    let config = SimConfig {
        tenants: vec!["a".into()],
        seed: 5,
        catalog_size: 3000,
        ..SimConfig::default()
    };
    let (dir, store) = store(name);
    let sim = Simulator::with_clock(config, clock.clone());
    let app = Agora::new(sim.client("a"), store, clock.clone(), AppConfig::default());
    (dir, sim, app, clock)
}

fn work_order(oem: u32) -> MandateLightResponse {
    serde_json::from_value(json!({
        "ManufacturerId": oem, "InterventionTypeId": 1,
        "Consumer": {"Title": "1", "LastName": "Martin", "FirstName": "Claire", "Address1": "12 rue des Lilas"}
    }))
    .unwrap()
}

fn appointment() -> StateNature {
    let mut s = StateNature::new(StatusCode::AppointmentConfirmed, "RDV");
    s.appointment_date = Some(WireDateTime::parse("2024-03-02T08:00:00.000Z").unwrap());
    s.appointment_end_date = Some(WireDateTime::parse("2024-03-02T09:00:00.000Z").unwrap());
    s
}

#[tokio::test]
async fn work_orders_sync_once_and_recover_what_was_accepted_but_not_saved() {
    let (_dir, sim, app, _) = setup("sync");
    sim.publish_mandate("a", work_order(19)).unwrap();
    sim.publish_mandate("a", work_order(4)).unwrap();
    let report = app.sync_work_orders().await.unwrap();
    assert_eq!(report.accepted.len(), 2);
    let again = app.sync_work_orders().await.unwrap();
    assert!(again.accepted.is_empty() && again.recovered.is_empty());
    assert_eq!(app.store().repairs().await.unwrap().len(), 2);

    // A crash between AgoraPlus's accept and the local save: the answer is lost.
    sim.publish_mandate("a", work_order(19)).unwrap();
    sim.set_faults(
        "a",
        Faults {
            drop_after_commit_rate: 1.0,
            ..Faults::default()
        },
    )
    .unwrap();
    assert!(app.sync_work_orders().await.is_err());
    sim.set_faults("a", Faults::default()).unwrap();
    let report = app.sync_work_orders().await.unwrap();
    assert_eq!(report.recovered.len(), 1, "{report:?}");
    assert_eq!(app.store().repairs().await.unwrap().len(), 3);
}

#[tokio::test]
async fn the_reconciliation_runs_even_when_pulling_fails() {
    // The order of calls is the point: mockall.
    let mut api = MockMandates::new();
    let mut seq = mockall::Sequence::new();
    api.expect_new_mandates()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(AgoraError::transport("reset")));
    api.expect_accepted_mandates()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| {
            Ok(Reply::ok(vec![NewMandateResponseData {
                mandate: Some(work_order(19)),
                intervention_id: Some(InterventionId(900)),
                ..NewMandateResponseData::default()
            }]))
        });
    let clock = Arc::new(ManualClock(Mutex::new(Timestamp::UNIX_EPOCH)));
    let (_dir, store) = store("mock");
    let app = Agora::new(api, store, clock, AppConfig::default());
    let report = app.sync_work_orders().await.unwrap();
    assert_eq!(report.recovered, [900]);
    let failed = report.failed.unwrap();
    assert_eq!(failed.step, agora_app::Step::NewWorkOrders);
    assert!(failed.error.to_string().contains("reset"));
}

#[tokio::test]
async fn a_repair_from_progress_to_invoice() {
    let (_dir, sim, app, _) = setup("flow");
    sim.publish_mandate("a", work_order(19)).unwrap();
    let id = app.sync_work_orders().await.unwrap().accepted[0];

    // A status that lacks what its code requires never leaves.
    let err = app
        .report_status(
            id,
            StateNature::new(StatusCode::AppointmentConfirmed, "no dates"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AgoraError::Invalid(_)), "{err}");
    assert!(matches!(
        app.report_status(id, appointment()).await.unwrap().outcome,
        Delivery::Delivered { .. }
    ));
    app.report_status(id, StateNature::new(StatusCode::Diagnosis, "diag"))
        .await
        .unwrap();

    app.update_file(id, |f| {
        f.commercial_ref = Some("ECAM22.110.B".into());
        f.serial_number = Some("1234567890123456789".into());
        f.parts = Some(vec![Part {
            reference: Some("00019-00000012".into()),
            quantity: Some(1),
            to_be_ordered: Some(true),
            ..Part::default()
        }]);
    })
    .await
    .unwrap();
    let ordered = app.order_parts(id).await.unwrap();
    let Delivery::Delivered {
        answer: agora_app::OperationAnswer::Ordered(lines),
        ..
    } = ordered
    else {
        panic!("{ordered:?}")
    };
    let order = lines[0].order_number.clone().unwrap();
    assert!(app.order_parts(id).await.is_err(), "nothing left to order");
    sim.set_logistic("a", &order, "208").unwrap();
    let tracked = app
        .track_part_orders(id)
        .await
        .unwrap()
        .done
        .remove(0)
        .lines;
    assert_eq!(tracked[0].status_code.as_ref().unwrap().as_str(), "208");
    let local = app.repair(id).await.unwrap();
    assert_eq!(local.orders[0].status_code, tracked[0].status_code);
    assert_eq!(
        local.file.parts.as_ref().unwrap()[0]
            .order_number
            .as_deref(),
        Some(order.as_str())
    );

    let mut received = StateNature::new(StatusCode::PartsReceived, "received");
    received.parts = Some(vec![Part {
        reference: Some("00019-00000012".into()),
        order_number: Some(order),
        ..Part::default()
    }]);
    app.report_status(id, received).await.unwrap();
    app.report_status(id, StateNature::new(StatusCode::RepairFinished, "done"))
        .await
        .unwrap();

    // The claim drafted from the file, with a mistake; the local pre-check
    // sees it and sends nothing.
    let mut claim = app.draft_claim(id).await.unwrap();
    assert_eq!(
        claim.claim_lab.as_ref().unwrap().origin_code.as_deref(),
        Some("WAR")
    );
    claim.claim_type.as_mut().unwrap().serial_number = Some("123".into());
    let conso = claim.claim_conso.get_or_insert_with(Default::default);
    conso.zip = Some("69003".into());
    conso.mobile_phone = Some("0612345678".into());
    claim.claim_infos.as_mut().unwrap().call_date =
        Some(WireDateTime::parse("2024-02-28T10:00:00Z").unwrap());
    let outcome = app
        .submit_claim(id, claim.clone(), true)
        .await
        .unwrap()
        .outcome;
    let ClaimOutcome::PrecheckFailed(findings) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(findings[0].field.as_deref(), Some("Serial Number"));
    assert!(
        app.repair(id).await.unwrap().claim_id.is_none(),
        "nothing sent"
    );

    // Sent anyway: AgoraPlus's own messages come back verbatim.
    let ClaimOutcome::Judged { result, .. } = app
        .submit_claim(id, claim.clone(), false)
        .await
        .unwrap()
        .outcome
    else {
        panic!()
    };
    assert_eq!(result.is_valid, Some(false));
    assert_eq!(
        result.validation_errors.unwrap()[0]
            .error_message
            .as_deref(),
        Some("The size of the field should be 19 character(s)")
    );
    let local = app.repair(id).await.unwrap();
    let claim_id = local.claim_id.unwrap();
    assert_eq!(local.lifecycle.claim, Some(ClaimState::NotValid));
    assert!(local.attention.is_some());
    assert_eq!(
        local.file.last_status(),
        Some(&StatusCode::ClosedWithWarrantyIntervention)
    );

    claim.claim_type.as_mut().unwrap().serial_number = Some("1234567890123456789".into());
    let ClaimOutcome::Judged { result, .. } =
        app.submit_claim(id, claim, true).await.unwrap().outcome
    else {
        panic!()
    };
    assert_eq!(result.is_valid, Some(true));
    assert_eq!(
        app.repair(id).await.unwrap().lifecycle.claim,
        Some(ClaimState::Valid { transferred: true })
    );

    // Invoicing before acceptance is refused locally.
    assert!(
        app.register_invoice(&"DR-X".into(), &"F-1".into(), &[claim_id])
            .await
            .is_err()
    );
    sim.decide_claim("a", claim_id, ClaimStatus::ClosedAccepted, None)
        .unwrap();
    let updates = app.track_claims().await.unwrap().done;
    assert_eq!(updates[0].status, ClaimStatus::ClosedAccepted);
    assert!(app.track_claims().await.unwrap().done.is_empty());

    let (draft, claims) = sim.draft_invoice("a", ManufacturerId(19)).unwrap();
    let sent = app
        .register_invoice(&draft, &"F-2024-77".into(), &claims)
        .await
        .unwrap();
    assert!(matches!(sent, Delivery::Delivered { .. }), "{sent:?}");
    assert!(app.repair(id).await.unwrap().lifecycle.invoiced);
    assert!(
        app.register_invoice(&draft, &"F-2024-77".into(), &claims)
            .await
            .is_err(),
        "once"
    );
}

#[tokio::test]
async fn transient_failures_are_retried_later_and_in_doubt_creates_are_parked() {
    let (_dir, sim, app, clock) = setup("outbox");
    sim.publish_mandate("a", work_order(19)).unwrap();
    let id = app.sync_work_orders().await.unwrap().accepted[0];
    sim.set_faults(
        "a",
        Faults {
            status503_rate: 1.0,
            ..Faults::default()
        },
    )
    .unwrap();
    let queued = app.report_status(id, appointment()).await.unwrap().outcome;
    assert!(matches!(queued, Delivery::Queued { .. }), "{queued:?}");
    assert_eq!(
        app.flush_outbox().await.unwrap().delivered,
        0,
        "not due yet"
    );
    sim.set_faults("a", Faults::default()).unwrap();
    clock.advance(Duration::from_secs(5));
    assert_eq!(app.flush_outbox().await.unwrap().delivered, 1);
    let state = sim.state("a").unwrap();
    assert_eq!(
        state["Repairs"][0]["File"]["StateNatures"][0]["Code"],
        "102"
    );

    // A claim whose answer is lost is in doubt: never resent by the dispatcher.
    app.report_status(id, StateNature::new(StatusCode::RepairFinished, "done"))
        .await
        .unwrap();
    sim.set_faults(
        "a",
        Faults {
            drop_after_commit_rate: 1.0,
            ..Faults::default()
        },
    )
    .unwrap();
    let claim = app.draft_claim(id).await.unwrap();
    let outcome = app
        .submit_claim(id, claim.clone(), false)
        .await
        .unwrap()
        .outcome;
    let ClaimOutcome::InDoubt { entry, .. } = outcome else {
        panic!("{outcome:?}")
    };
    sim.set_faults("a", Faults::default()).unwrap();
    clock.advance(Duration::from_secs(3600));
    assert_eq!(app.flush_outbox().await.unwrap().delivered, 0);
    assert_eq!(app.outbox(OutboxState::InDoubt).await.unwrap()[0].id, entry);
    assert!(
        app.submit_claim(id, claim, false).await.is_err(),
        "settle the doubt first"
    );
    assert_eq!(
        sim.state("a").unwrap()["Claims"].as_array().unwrap().len(),
        1,
        "sent once"
    );
    // A person checks AgoraPlus and settles it: "applied" needs the claim
    // it created, so that the next submission corrects it instead of
    // creating a second one.
    let applied = |claim_id| Resolution::Applied {
        intervention_id: None,
        claim_id,
    };
    assert!(
        app.resolve(entry, applied(None)).await.is_err(),
        "applied without the claim's id"
    );
    let claim_id = sim.state("a").unwrap()["Claims"][0]["ClaimID"]
        .as_i64()
        .unwrap();
    assert_eq!(
        app.resolve(entry, applied(Some(ClaimId(claim_id))))
            .await
            .unwrap(),
        OutboxState::Delivered
    );
    assert_eq!(
        app.repair(id).await.unwrap().claim_id,
        Some(ClaimId(claim_id))
    );
    assert!(app.resolve(entry, Resolution::Resend).await.is_err());
    let again = app.draft_claim(id).await.unwrap();
    let outcome = app.submit_claim(id, again, false).await.unwrap();
    assert!(
        matches!(outcome.outcome, ClaimOutcome::Judged { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        sim.state("a").unwrap()["Claims"].as_array().unwrap().len(),
        1,
        "a correction, not a second claim"
    );
}

#[tokio::test]
async fn catalog_sync_uses_a_durable_cursor_with_overlap() {
    let (_dir, sim, app, clock) = setup("catalog");
    let mut seen = Vec::new();
    let first = app
        .sync_catalog(
            ManufacturerId(19),
            Lcid::ENGLISH,
            CatalogKind::SpareParts,
            &mut |n| seen.push(n),
        )
        .await
        .unwrap();
    assert_eq!(first.records, 3000);
    assert_eq!(seen, [1000, 2000, 3000]);
    assert_eq!(
        app.store()
            .count_spare_parts(ManufacturerId(19), Lcid::ENGLISH)
            .await
            .unwrap(),
        3000
    );
    let cursor = app
        .store()
        .cursor("spareparts/19/1033")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cursor, "2024-03-01T09:00:00Z".parse::<Timestamp>().unwrap());

    // Next day: only what changed since the cursor (minus a day of overlap).
    clock.advance(Duration::from_secs(86_400));
    sim.publish_spare_parts(
        "a",
        ManufacturerId(19),
        vec![agora_domain::SparePart {
            reference: Some("NEW-1".into()),
            ..Default::default()
        }],
    )
    .unwrap();
    let second = app
        .sync_catalog(
            ManufacturerId(19),
            Lcid::ENGLISH,
            CatalogKind::SpareParts,
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(second.since, jiff::civil::date(2024, 2, 29));
    assert_eq!(second.records, 1);
    assert_eq!(
        app.store()
            .count_spare_parts(ManufacturerId(19), Lcid::ENGLISH)
            .await
            .unwrap(),
        3001
    );

    // A failure mid-delta leaves the cursor where it was.
    sim.set_faults(
        "a",
        Faults {
            status503_rate: 1.0,
            ..Faults::default()
        },
    )
    .unwrap();
    assert!(
        app.sync_catalog(
            ManufacturerId(19),
            Lcid::ENGLISH,
            CatalogKind::SpareParts,
            &mut |_| {}
        )
        .await
        .is_err()
    );
    assert_eq!(
        app.store().cursor("spareparts/19/1033").await.unwrap(),
        Some(second.cursor)
    );
    sim.set_faults("a", Faults::default()).unwrap();
    let products = app
        .sync_catalog(
            ManufacturerId(19),
            Lcid::FRENCH,
            CatalogKind::Products,
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(products.records, 300);
    let bom = app
        .bom(ManufacturerId(19), "P19-000007", CountryCode(250))
        .await
        .unwrap()
        .unwrap();
    assert!(!bom.lines.is_empty());
}

/// Entries queued for `files`, one operation each, straight into the store
/// (as a use case would before its send); their ids.
async fn enqueue(
    app: &Agora<SimClient, SqliteStore>,
    clock: &ManualClock,
    ops: Vec<(i64, Operation)>,
) -> Vec<u64> {
    let mut ids = Vec::new();
    for (file, op) in ops {
        let repair = app
            .store()
            .repair(InterventionId(file))
            .await
            .unwrap()
            .unwrap();
        let id = app
            .store()
            .save_with_operation(&repair, Some(op), clock.now())
            .await
            .unwrap()
            .unwrap();
        ids.push(id);
    }
    ids
}

async fn state_of(app: &Agora<SimClient, SqliteStore>, id: u64) -> OutboxState {
    app.store().entry(id).await.unwrap().unwrap().state
}

/// A process died mid-send: once its lease has expired, recovery parks
/// what may have been applied in doubt and requeues what is safe to
/// resend; a send still under way in a living process is left alone.
#[tokio::test]
async fn recovery_parks_a_dead_process_s_sends_once_their_lease_expires() {
    let (_dir, sim, app, clock) = setup("recover");
    for _ in 0..3 {
        sim.publish_mandate("a", work_order(19)).unwrap();
    }
    let files = app.sync_work_orders().await.unwrap().accepted;
    let file = |i: usize| files[i];
    let update = app.store().repair(file(0)).await.unwrap().unwrap().file;
    let [idempotent, order, live] = enqueue(
        &app,
        &clock,
        vec![
            (file(0).0, Operation::UpdateRepair(update)),
            (file(1).0, Operation::PlaceOrder(file(1))),
            (file(2).0, Operation::PlaceOrder(file(2))),
        ],
    )
    .await[..] else {
        panic!("three entries")
    };
    // The dead process took the first two for a minute; a living one holds
    // the third for ten.
    let lease = |owner: &str, secs| Lease {
        owner: owner.to_owned(),
        until: clock.now() + Duration::from_secs(secs),
    };
    // (A claim of several takes a creation alone: two claims.)
    let mut dead = Vec::new();
    for _ in 0..2 {
        dead.extend(
            app.store()
                .claim_due(clock.now(), &lease("dead:1", 60), 2)
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        dead.iter().map(|e| e.id).collect::<Vec<_>>(),
        [idempotent, order]
    );
    let held = app
        .store()
        .claim_due(clock.now(), &lease("alive:2", 600), 1)
        .await
        .unwrap();
    assert_eq!(held[0].id, live);

    // Before the lease expires the sender may still be at work: nothing.
    assert_eq!(app.recover().await.unwrap(), Vec::<u64>::new());
    for id in [idempotent, order, live] {
        assert_eq!(state_of(&app, id).await, OutboxState::Sending);
    }

    // Past the lease and the grace recovery allows for clocks that
    // disagree (30 s): taken back.
    clock.advance(Duration::from_secs(91));
    assert_eq!(app.recover().await.unwrap(), [order]);
    assert_eq!(state_of(&app, idempotent).await, OutboxState::Pending);
    assert_eq!(state_of(&app, order).await, OutboxState::InDoubt);
    assert_eq!(state_of(&app, live).await, OutboxState::Sending);
    assert_eq!(app.recover().await.unwrap(), Vec::<u64>::new(), "once");

    // The requeued update goes out once the dead process's attempt can no
    // longer land (its send start + request timeout + grace: 90 s, passed
    // by the time recovery takes a lease back); the order in doubt and the
    // live send do not.
    assert_eq!(
        app.flush_outbox().await.unwrap(),
        FlushReport {
            delivered: 1,
            ..FlushReport::default()
        }
    );
    assert!(
        sim.state("a").unwrap()["Orders"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// A flush counts each entry under what became of it.
#[tokio::test]
async fn a_flush_counts_each_outcome() {
    let (_dir, sim, app, clock) = setup("flush-counts");
    for _ in 0..2 {
        sim.publish_mandate("a", work_order(19)).unwrap();
    }
    let files = app.sync_work_orders().await.unwrap().accepted;
    let update = |i: usize| {
        let app = &app;
        let files = &files;
        async move { Operation::UpdateRepair(app.store().repair(files[i]).await.unwrap().unwrap().file) }
    };
    let flush_with = async |faults: Faults| {
        sim.set_faults("a", faults).unwrap();
        let report = app.flush_outbox().await.unwrap();
        sim.set_faults("a", Faults::default()).unwrap();
        report
    };

    // Unavailable: to retry later.
    enqueue(&app, &clock, vec![(files[0].0, update(0).await)]).await;
    let report = flush_with(Faults {
        status503_rate: 1.0,
        ..Faults::default()
    })
    .await;
    assert_eq!(
        report,
        FlushReport {
            queued: 1,
            ..FlushReport::default()
        }
    );
    clock.advance(Duration::from_secs(600));
    let report = flush_with(Faults::default()).await;
    assert_eq!(
        report,
        FlushReport {
            delivered: 1,
            ..FlushReport::default()
        }
    );

    // An order whose answer is lost: in doubt.
    enqueue(
        &app,
        &clock,
        vec![(files[1].0, Operation::PlaceOrder(files[1]))],
    )
    .await;
    let report = flush_with(Faults {
        drop_after_commit_rate: 1.0,
        ..Faults::default()
    })
    .await;
    assert_eq!(
        report,
        FlushReport {
            in_doubt: 1,
            ..FlushReport::default()
        }
    );

    // An order for a file AgoraPlus does not know: refused.
    let mut unknown = app.store().repair(files[0]).await.unwrap().unwrap();
    unknown.intervention_id = InterventionId(999_999);
    unknown.mandate_id = None;
    unknown.revision = 0;
    app.store().upsert_repair(&unknown).await.unwrap();
    enqueue(
        &app,
        &clock,
        vec![(999_999, Operation::PlaceOrder(InterventionId(999_999)))],
    )
    .await;
    let report = flush_with(Faults::default()).await;
    assert_eq!(
        report,
        FlushReport {
            failed: 1,
            ..FlushReport::default()
        }
    );
}

/// The use cases keep the settings they were given; their debug form shows
/// the settings.
#[test]
fn the_use_cases_keep_their_settings() {
    let config = AppConfig {
        worker: "host-7:4242".into(),
        max_attempts: 7,
        ..AppConfig::default()
    };
    let app = Agora::new((), (), Arc::new(agora_ports::SystemClock), config);
    assert_eq!(app.config().worker, "host-7:4242");
    assert_eq!(app.config().max_attempts, 7);
    let shown = format!("{app:?}");
    assert!(
        shown.starts_with("Agora") && shown.contains("host-7:4242"),
        "{shown}"
    );
}

/// A work order pulled again that is already saved here is counted, not
/// saved twice.
#[tokio::test]
async fn work_orders_already_saved_are_counted() {
    let mut api = MockMandates::new();
    api.expect_new_mandates().returning(|_| {
        Ok(Reply::ok(
            [900, 901]
                .into_iter()
                .map(|id| NewMandateResponseData {
                    mandate: Some(work_order(19)),
                    intervention_id: Some(InterventionId(id)),
                    ..NewMandateResponseData::default()
                })
                .collect(),
        ))
    });
    api.expect_accepted_mandates()
        .returning(|| Ok(Reply::ok(Vec::new())));
    let clock = Arc::new(ManualClock(Mutex::new(Timestamp::UNIX_EPOCH)));
    let (_dir, store) = store("known");
    let app = Agora::new(api, store, clock, AppConfig::default());
    let first = app.sync_work_orders().await.unwrap();
    assert_eq!(first.accepted, [900, 901]);
    assert_eq!(first.already_known, 0);
    let again = app.sync_work_orders().await.unwrap();
    assert!(again.accepted.is_empty());
    assert_eq!(again.already_known, 2);
    assert_eq!(app.store().repairs().await.unwrap().len(), 2);
}

fn part(reference: &str, to_be_ordered: bool) -> Part {
    Part {
        reference: Some(reference.into()),
        quantity: Some(1),
        to_be_ordered: Some(to_be_ordered),
        ..Part::default()
    }
}

/// Ordering parts delivers the file's own pending updates first (and not
/// those of other files), so that AgoraPlus orders what the file says; a
/// file with no part marked to be ordered orders nothing.
#[tokio::test]
async fn ordering_parts_sends_the_file_s_pending_updates_first() {
    let (_dir, sim, app, clock) = setup("order-first");
    sim.publish_mandate("a", work_order(19)).unwrap();
    sim.publish_mandate("a", work_order(19)).unwrap();
    let files = app.sync_work_orders().await.unwrap().accepted;
    let (file, other) = (files[0], files[1]);

    // Nothing marked to be ordered: refused, nothing sent.
    app.update_file(file, |f| {
        f.parts = Some(vec![part("00019-00000013", false)]);
    })
    .await
    .unwrap();
    let err = app.order_parts(file).await.unwrap_err();
    assert!(matches!(err, AgoraError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("no part marked to be ordered"));

    // Both files' parts changed while AgoraPlus was unavailable.
    sim.set_faults(
        "a",
        Faults {
            status503_rate: 1.0,
            ..Faults::default()
        },
    )
    .unwrap();
    for id in [file, other] {
        let queued = app
            .update_file(id, |f| {
                f.parts = Some(vec![part("00019-00000012", true)]);
            })
            .await
            .unwrap();
        assert!(matches!(queued, Delivery::Queued { .. }), "{queued:?}");
    }
    sim.set_faults("a", Faults::default()).unwrap();
    clock.advance(Duration::from_secs(5));
    let pending = app.outbox(OutboxState::Pending).await.unwrap();
    let other_update = pending
        .iter()
        .find(|e| e.intervention_id == Some(other))
        .unwrap()
        .id;

    let ordered = app.order_parts(file).await.unwrap();
    let Delivery::Delivered {
        answer: agora_app::OperationAnswer::Ordered(lines),
        ..
    } = ordered
    else {
        panic!("{ordered:?}")
    };
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].reference.as_deref(), Some("00019-00000012"));
    assert_eq!(
        app.outbox(OutboxState::Pending)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        [other_update],
        "the other file's update waits for the dispatcher"
    );
}

/// A claim for file `id` (valid, or with a serial number too short),
/// created in AgoraPlus directly and transferred when valid; its id.
async fn claim_in_agoraplus(sim: &Simulator, id: i64, valid: bool) -> i64 {
    let serial = if valid { "1234567890123456789" } else { "123" };
    let claim: agora_domain::WarrantyClaim = serde_json::from_value(json!({
        "ClaimType": {"InterventionId": id, "ManufacturerId": 19,
                      "CommercialRef": "ECAM22.110.B", "SerialNumber": serial},
        "ClaimConso": {"LastName": "Martin", "Address1": "12 rue des Lilas", "Zip": "69003",
                       "City": "Lyon", "MobilePhone": "0612345678"},
        "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z",
                       "InterventionStartDateTime": "2024-03-02T08:00:00Z",
                       "InterventionEndDateTime": "2024-03-02T09:00:00Z"},
        "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 45.5},
        "ClaimParts": [{"PartReference": "00019-00000001", "Quantity": 1}]
    }))
    .unwrap();
    let how = agora_ports::ClaimSubmission {
        language: Lcid::ENGLISH,
        transfer_if_valid: true,
    };
    let created = agora_ports::Claims::create_claim(&sim.client("a"), &claim, how)
        .await
        .unwrap()
        .data;
    assert_eq!(created.is_valid, Some(valid), "{created:?}");
    created.claim_id.unwrap().0
}

/// A claim accepted in AgoraPlus and tracked here, on a file of its own.
async fn accepted_claim(sim: &Simulator, app: &Agora<SimClient, SqliteStore>) -> i64 {
    sim.publish_mandate("a", work_order(19)).unwrap();
    let id = app.sync_work_orders().await.unwrap().accepted[0];
    let claim_id = claim_in_agoraplus(sim, id.0, true).await;
    let mut local = app.repair(id).await.unwrap();
    local.claim_id = Some(ClaimId(claim_id));
    local.lifecycle.claim = Some(ClaimState::Valid { transferred: true });
    app.store().upsert_repair(&local).await.unwrap();
    sim.decide_claim("a", ClaimId(claim_id), ClaimStatus::ClosedAccepted, None)
        .unwrap();
    assert_eq!(app.track_claims().await.unwrap().done.len(), 1);
    claim_id
}

/// An invoice reference needs both numbers; each draft takes one, whatever
/// other drafts were invoiced before it.
#[tokio::test]
async fn each_draft_takes_one_invoice_reference() {
    let (_dir, sim, app, _) = setup("invoices");
    let first_claim = accepted_claim(&sim, &app).await;
    let (first, claims) = sim.draft_invoice("a", ManufacturerId(19)).unwrap();
    assert_eq!(claims, [first_claim]);
    let entries = async || {
        let mut n = 0;
        for state in [
            OutboxState::Pending,
            OutboxState::InDoubt,
            OutboxState::Delivered,
            OutboxState::Failed,
        ] {
            n += app.outbox(state).await.unwrap().len();
        }
        n
    };
    let before = entries().await;
    for (draft, invoice) in [(first.as_str(), " "), ("", "F-2024-1")] {
        let err = app
            .register_invoice(&draft.into(), &invoice.into(), &claims)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("a draft number and an invoice number are needed"),
            "{err}"
        );
    }
    assert_eq!(entries().await, before, "nothing sent");

    let sent = app
        .register_invoice(&first, &"F-2024-1".into(), &claims)
        .await
        .unwrap();
    assert!(matches!(sent, Delivery::Delivered { .. }), "{sent:?}");

    // A second draft, after the first was invoiced.
    let second_claim = accepted_claim(&sim, &app).await;
    let (second, claims) = sim.draft_invoice("a", ManufacturerId(19)).unwrap();
    assert_ne!(second, first);
    assert_eq!(claims, [second_claim]);
    let sent = app
        .register_invoice(&second, &"F-2024-2".into(), &claims)
        .await
        .unwrap();
    assert!(matches!(sent, Delivery::Delivered { .. }), "{sent:?}");
    let invoiced = app
        .store()
        .repair_by_claim(ClaimId(second_claim))
        .await
        .unwrap()
        .unwrap();
    assert!(invoiced.lifecycle.invoiced);
}

/// Tracking takes each status AgoraPlus shows for a claim into its file
/// (AgoraPlus is the source of truth): VALID, NOTVALID and NOTCONFORM
/// alike; the last two ask a person for a correction.
#[tokio::test]
async fn claim_tracking_takes_each_status_into_the_file() {
    let (_dir, sim, app, _) = setup("claim-statuses");
    for _ in 0..3 {
        sim.publish_mandate("a", work_order(19)).unwrap();
    }
    let files = app.sync_work_orders().await.unwrap().accepted;
    let (valid, not_valid, not_conform) = (files[0], files[1], files[2]);
    let mut claims = Vec::new();
    for (id, is_valid, local) in [
        (valid, true, None),
        (not_valid, false, None),
        (
            not_conform,
            true,
            Some(ClaimState::Valid { transferred: true }),
        ),
    ] {
        let claim_id = claim_in_agoraplus(&sim, id.0, is_valid).await;
        let mut file = app.repair(id).await.unwrap();
        file.claim_id = Some(ClaimId(claim_id));
        file.lifecycle.claim = local;
        app.store().upsert_repair(&file).await.unwrap();
        claims.push(ClaimId(claim_id));
    }
    sim.decide_claim(
        "a",
        claims[2],
        ClaimStatus::NotConform,
        Some("photo of the plate missing".into()),
    )
    .unwrap();

    let pass = app.track_claims().await.unwrap();
    assert!(pass.is_complete(), "{pass:?}");
    let mut done = pass
        .done
        .iter()
        .map(|u| {
            (
                u.intervention_id,
                u.claim_id,
                u.status.clone(),
                u.comment.clone(),
            )
        })
        .collect::<Vec<_>>();
    done.sort_by_key(|d| d.0);
    assert_eq!(
        done,
        [
            (valid, claims[0], ClaimStatus::Valid, None),
            (not_valid, claims[1], ClaimStatus::NotValid, None),
            (
                not_conform,
                claims[2],
                ClaimStatus::NotConform,
                Some("photo of the plate missing".to_owned())
            ),
        ]
    );
    let file = async |id| app.repair(id).await.unwrap();
    let (f, n, c) = (
        file(valid).await,
        file(not_valid).await,
        file(not_conform).await,
    );
    assert_eq!(
        f.lifecycle.claim,
        Some(ClaimState::Valid { transferred: true })
    );
    assert_eq!(f.attention, None);
    assert_eq!(n.lifecycle.claim, Some(ClaimState::NotValid));
    assert_eq!(
        n.attention,
        Some(format!(
            "claim {} NOTVALID: correct and resubmit",
            claims[1]
        ))
    );
    assert_eq!(c.lifecycle.claim, Some(ClaimState::NotConform));
    assert_eq!(
        c.attention,
        Some(format!(
            "claim {} NOTCONFORM: photo of the plate missing",
            claims[2]
        ))
    );
    assert!(
        app.track_claims().await.unwrap().done.is_empty(),
        "nothing changed since"
    );
}

/// An earlier attempt can no longer land once the request timeout and the
/// operator's grace have both passed since its start.
#[test]
fn an_attempt_can_no_longer_land_after_the_request_timeout_and_the_grace() {
    let defaults = AppConfig::default();
    assert_eq!(defaults.grace, std::time::Duration::from_secs(30));
    assert_eq!(
        defaults.can_no_longer_land_after(),
        std::time::Duration::from_secs(90)
    );
    let config = AppConfig {
        request_timeout: std::time::Duration::from_secs(5),
        grace: std::time::Duration::from_millis(1500),
        ..AppConfig::default()
    };
    assert_eq!(
        config.can_no_longer_land_after(),
        std::time::Duration::from_millis(6500)
    );
}

/// A whole-file update AgoraPlus refused (`E`: an unknown status) does not
/// stay in the local file: its status is set aside (the entry itself, named
/// in the file's attention, re-sendable after a fix), the file returns to
/// what AgoraPlus last accepted, and the file's later updates go without
/// it. Before, the refused status was sent again inside every later
/// whole-file update, so every later update of the file was refused too.
#[tokio::test]
async fn a_refused_update_is_set_aside_and_later_updates_go_without_it() {
    let (_dir, sim, app, _clock) = setup("refused-update");
    sim.publish_mandate("a", work_order(19)).unwrap();
    let id = app.sync_work_orders().await.unwrap().accepted[0];
    app.report_status(id, StateNature::new(StatusCode::Diagnosis, "diag"))
        .await
        .unwrap();

    let bogus = StateNature::new(StatusCode::lenient("999"), "not a status of the reference");
    let refused = app.report_status(id, bogus.clone()).await.unwrap().outcome;
    let Delivery::Failed { entry, .. } = refused else {
        panic!("not refused: {refused:?}")
    };
    let local = app.repair(id).await.unwrap();
    let codes: Vec<String> = local
        .file
        .state_natures
        .iter()
        .flatten()
        .filter_map(|s| s.code.as_ref().map(ToString::to_string))
        .collect();
    assert_eq!(codes, ["406"], "the refused status left the file");
    let attention = local.attention.unwrap();
    assert!(
        attention.contains(&format!("outbox entry {entry}")) && attention.contains("999"),
        "{attention}"
    );
    // The refused change is kept aside, as it was sent.
    let kept = app.store().entry(entry).await.unwrap().unwrap();
    let Operation::UpdateRepair(sent) = kept.operation else {
        panic!("{kept:?}")
    };
    assert!(sent.state_natures.unwrap().contains(&bogus));

    // A later update is delivered, and AgoraPlus holds it without the
    // refused status.
    let later = app
        .report_status(id, StateNature::new(StatusCode::RepairFinished, "done"))
        .await
        .unwrap()
        .outcome;
    assert!(matches!(later, Delivery::Delivered { .. }), "{later:?}");
    let state = sim.state("a").unwrap();
    let remote: Vec<&str> = state["Repairs"][0]["File"]["StateNatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Code"].as_str().unwrap())
        .collect();
    assert_eq!(remote, ["406", "305"]);
}
