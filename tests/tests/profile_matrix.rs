//! The client's end-to-end run over every answer profile of the simulator
//! (`AnswerProfile::PRESETS`): one per shape the reference allows (one
//! order number per call, an order answered as one object, `ResponseData`
//! as an array of one, acceptance fields present but unfilled, a claim's
//! reason in its own `ErrorMessage`, messages that echo the api_key,
//! whole-file updates that replace the file, updates refused without every
//! field the reference marks required) and one with every odd shape at
//! once. Whatever the shape, the same repair
//! goes through: every part ordered once and numbered, each order line
//! tracked on its own, the claim's reason shown, the key nowhere in what
//! the caller gets.
#![allow(clippy::unwrap_used)]

use agora_app::{Agora, AppConfig, ClaimOutcome, Delivery, Warning};
use agora_domain::routes::Route;
use agora_domain::{
    ClaimStatus, LogisticStatus, MandateLightResponse, Part, RepairOriginCode, WarrantyClaim,
};
use agora_http::AgoraClient;
use agora_mock::{AnswerProfile, SimConfig};
use agora_ports::{AgoraError, RepairFiles};
use agora_sim::SimServer;
use agora_store_sqlite::SqliteStore;
use agora_tests::{client, serve};
use serde_json::json;

/// Long enough to be redacted wherever it appears.
const KEY: &str = "matrix-key-0123456789";

const PART_A: &str = "00019-00000001";
const PART_B: &str = "00019-00000002";

fn work_order() -> MandateLightResponse {
    serde_json::from_value(json!({
        "ManufacturerId": 19, "InterventionTypeId": 1,
        "Consumer": {"Title": "3", "LastName": "Durand", "FirstName": "Paul",
                     "Address1": "3 place Bellecour", "Zip": "69002", "Town": "Lyon",
                     "Country": 250, "Phone": "0412345678"}
    }))
    .unwrap()
}

fn claim(serial: &str, mobile: Option<&str>) -> WarrantyClaim {
    serde_json::from_value(json!({
        "ClaimType": {"ManufacturerId": 19, "CommercialRef": "ECAM22.110.B",
                      "SerialNumber": serial},
        "ClaimConso": {"LastName": "Durand", "Address1": "3 place Bellecour", "Zip": "69002",
                       "City": "Lyon", "MobilePhone": mobile},
        "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z",
                       "InterventionStartDateTime": "2024-03-02T08:00:00Z",
                       "InterventionEndDateTime": "2024-03-02T09:00:00Z"},
        "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 45.5},
        "ClaimParts": [{"PartReference": PART_A, "Quantity": 1}]
    }))
    .unwrap()
}

type App = Agora<AgoraClient, SqliteStore>;

async fn setup(profile: &str, auto_accept: bool) -> (SimServer, App, tempfile::TempDir) {
    let (server, clock) = serve(SimConfig {
        tenants: vec![KEY.into()],
        seed: 5,
        catalog_size: 10,
        ..SimConfig::default()
    })
    .await;
    server
        .simulator()
        .set_profile(KEY, AnswerProfile::preset(profile).unwrap())
        .unwrap();
    let dir = tempfile::Builder::new()
        .prefix(&format!("agora-matrix-{profile}-"))
        .tempdir()
        .unwrap();
    let app = Agora::new(
        client(&server, KEY),
        SqliteStore::open(dir.path().join("agora.db")).unwrap(),
        clock,
        AppConfig {
            auto_accept,
            ..AppConfig::default()
        },
    );
    (server, app, dir)
}

/// The key in no text the caller gets from AgoraPlus.
fn no_key(what: &str, text: &str) {
    assert!(!text.contains(KEY), "{what} shows the api_key: {text}");
}

fn no_key_in(warnings: &[Warning]) {
    for w in warnings {
        no_key("a warning", &w.to_string());
    }
}

/// The whole repair under `profile`.
async fn a_repair_goes_through(profile: &str) {
    let (server, app, _dir) = setup(profile, true).await;
    let sim = server.simulator();

    // A work order, accepted, with every consumer field it gives.
    sim.publish_mandate(KEY, work_order()).unwrap();
    let sync = app.sync_work_orders().await.unwrap();
    assert!(sync.is_complete(), "{profile}: {sync:?}");
    assert_eq!(sync.accepted.len(), 1, "{profile}: {sync:?}");
    no_key_in(&sync.warnings);
    let id = sync.accepted[0];
    let consumer = app.repair(id).await.unwrap().file.consumer.unwrap();
    assert_eq!(consumer.zip.as_deref(), Some("69002"), "{profile}");
    assert_eq!(consumer.phone.as_deref(), Some("0412345678"), "{profile}");

    // Where the reference marks fields required, an update may be refused
    // without them (`strict-updates`): the file as the work order made it
    // lacks what the technician reads off the appliance.
    let incomplete = app
        .update_file(id, |f| f.serial_number = Some("SN-0001".into()))
        .await;
    if AnswerProfile::preset(profile).unwrap().strict_updates {
        let refused = incomplete.unwrap();
        let Delivery::Failed { error, .. } = &refused else {
            panic!("{profile}: {refused:?}");
        };
        for field in ["ManufacturingCode", "Intervention.RepairOriginCode"] {
            assert!(error.contains(field), "{profile}: {error}");
        }
    } else {
        let sent = incomplete.unwrap();
        assert!(
            matches!(sent, Delivery::Delivered { .. }),
            "{profile}: {sent:?}"
        );
    }

    // Two parts in one order call: both numbered, neither ordered again;
    // the file now holds what the reference marks required.
    app.update_file(id, |f| {
        f.commercial_ref = Some("ECAM22.110.B".into());
        f.manufacturing_code = Some("2301".into());
        f.intervention
            .get_or_insert_with(Default::default)
            .repair_origin_code = Some(RepairOriginCode::Consumer);
        f.parts = Some(
            [PART_A, PART_B]
                .map(|r| Part {
                    reference: Some(r.into()),
                    quantity: Some(1),
                    to_be_ordered: Some(true),
                    ..Part::default()
                })
                .to_vec(),
        );
    })
    .await
    .unwrap();
    app.order_parts(id).await.unwrap();
    let local = app.repair(id).await.unwrap();
    for part in local.file.parts.iter().flatten() {
        assert!(part.order_number.is_some(), "{profile}: {part:?}");
        assert_eq!(part.to_be_ordered, Some(false), "{profile}: {part:?}");
    }
    let refs: Vec<_> = local
        .orders
        .iter()
        .map(|l| l.reference.as_deref().unwrap())
        .collect();
    assert_eq!(refs, [PART_A, PART_B], "{profile}: {:?}", local.orders);
    let again = app.order_parts(id).await.unwrap_err();
    assert!(
        matches!(again, AgoraError::Invalid(_)),
        "{profile}: {again}"
    );
    let state = sim.state(KEY).unwrap();
    assert_eq!(
        state["Orders"].as_array().unwrap().len(),
        2,
        "{profile}: AgoraPlus holds two lines, ordered once: {state}"
    );

    // Each line tracked on its own: one shipped, one unavailable.
    let number = |r: &str| {
        local
            .orders
            .iter()
            .find(|l| l.reference.as_deref() == Some(r))
            .and_then(|l| l.order_number.clone())
            .unwrap()
    };
    sim.set_line_logistic(KEY, &number(PART_A), Some(PART_A), "208")
        .unwrap();
    sim.set_line_logistic(KEY, &number(PART_B), Some(PART_B), "202")
        .unwrap();
    let pass = app.track_part_orders(id).await.unwrap();
    no_key_in(&pass.warnings);
    let orders = app.repair(id).await.unwrap().orders;
    let status = |r: &str| {
        orders
            .iter()
            .find(|l| l.reference.as_deref() == Some(r))
            .and_then(|l| l.status_code.clone())
    };
    assert_eq!(status(PART_A), Some(LogisticStatus::Shipped), "{profile}");
    assert_eq!(
        status(PART_B),
        Some(LogisticStatus::Unavailable),
        "{profile}"
    );
    assert_eq!(orders.len(), 2, "{profile}: {orders:?}");

    // A claim refused with its reasons, corrected, valid, accepted.
    let checked = app
        .submit_claim(id, claim("DL2211B000045", None), false)
        .await
        .unwrap();
    let ClaimOutcome::Judged { result, warning } = checked.outcome else {
        panic!("{profile}: not judged")
    };
    assert_eq!(result.is_valid, Some(false), "{profile}: {result:?}");
    let reasons: Vec<String> = result
        .error_message
        .iter()
        .cloned()
        .chain(
            result
                .validation_errors
                .iter()
                .flatten()
                .filter_map(|f| f.error_message.clone()),
        )
        .collect();
    assert!(
        !reasons.is_empty(),
        "{profile}: no reason given: {result:?}"
    );
    for r in &reasons {
        no_key("a claim's reason", r);
    }
    no_key("the claim's warning", warning.as_deref().unwrap_or(""));
    let attention = app.repair(id).await.unwrap().attention.unwrap();
    assert!(attention.contains("NOTVALID"), "{profile}: {attention}");
    no_key("the file's attention", &attention);

    let checked = app
        .submit_claim(id, claim("1234567890123456789", Some("0612345678")), false)
        .await
        .unwrap();
    let ClaimOutcome::Judged { result, .. } = checked.outcome else {
        panic!("{profile}: not judged")
    };
    assert_eq!(result.is_valid, Some(true), "{profile}: {result:?}");
    let claim_id = result.claim_id.unwrap();
    sim.decide_claim(
        KEY,
        claim_id,
        ClaimStatus::ClosedAccepted,
        Some("ok".into()),
    )
    .unwrap();
    let pass = app.track_claims().await.unwrap();
    assert!(pass.is_complete(), "{profile}: {pass:?}");
    assert_eq!(
        pass.done[0].status,
        ClaimStatus::ClosedAccepted,
        "{profile}"
    );
    no_key_in(&pass.warnings);
    assert_eq!(app.store().repairs().await.unwrap().len(), 1);
}

/// Without auto-accept, a work order is left for a person, never refused,
/// whether or not the server writes its acceptance fields unfilled.
async fn work_orders_wait_for_acceptance(profile: &str) {
    let (server, app, _dir) = setup(profile, false).await;
    server
        .simulator()
        .publish_mandate(KEY, work_order())
        .unwrap();
    let sync = app.sync_work_orders().await.unwrap();
    assert!(sync.refused.is_empty(), "{profile}: {sync:?}");
    assert!(sync.is_complete(), "{profile}: {sync:?}");
    assert_eq!(sync.awaiting_acceptance.len(), 1, "{profile}: {sync:?}");
    assert!(sync.accepted.is_empty(), "{profile}");
    no_key_in(&sync.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_profile_runs_a_whole_repair() {
    for profile in AnswerProfile::PRESETS {
        a_repair_goes_through(profile).await;
        work_orders_wait_for_acceptance(profile).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_odd_profile_is_every_shape_at_once() {
    let odd = AnswerProfile::odd();
    assert!(odd.single_as_array && odd.order_as_object && odd.unfilled_item_fields);
    assert!(odd.claim_error_message && odd.echo_key && odd.update_replaces);
    assert!(odd.strict_updates);
    assert_eq!(odd.order_numbers, agora_mock::OrderNumbers::PerCall);
    // It words its answers as it says.
    let mut order = json!([
        {"OrderNumber": "ORD-1", "Reference": PART_A, "Quantity": 1},
        {"OrderNumber": "ORD-1", "Reference": PART_B, "Quantity": 1}
    ]);
    odd.shape_data(Route::PlaceRepairSparepartOrder, &mut order, KEY);
    assert_eq!(order, json!({"OrderNumber": "ORD-1"}));
    let mut tracking = json!({"ClaimID": 7, "LastStatus": "VALID"});
    odd.shape_data(Route::GetWarrantyClaimStatus, &mut tracking, KEY);
    assert_eq!(tracking, json!([{"ClaimID": 7, "LastStatus": "VALID"}]));
    let mut claim = json!({"ClaimID": 7, "IsValid": false, "ValidationErrors": [
        {"Field": "Serial Number", "ErrorMessage": "too short", "MessageType": "E"}]});
    odd.shape_data(Route::CreateWarrantyClaims, &mut claim, KEY);
    assert_eq!(claim[0]["ValidationErrors"], serde_json::Value::Null);
    assert_eq!(
        claim[0]["ErrorMessage"],
        format!("Serial Number: too short (api_key {KEY})")
    );
    let mut mandates = json!([{"Mandate": {"MandateId": 1}}]);
    odd.shape_data(Route::GetNewMandates, &mut mandates, KEY);
    assert_eq!(
        mandates,
        json!([{"Mandate": {"MandateId": 1}, "IsValid": false, "ResponseStatus": null,
                "ResponseMessage": null, "InterventionId": 0}])
    );
}
