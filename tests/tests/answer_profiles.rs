//! The use cases over agora-http against agora-sim answering in each
//! profile: the default one, and the one that answers in every other way
//! the reference allows (404 "No results match your request", null
//! `ResponseData`, `W` envelopes and items, titles as labels, numeric
//! logistic codes). Whatever the wording, the same data is imported and
//! every run is complete; a half that fails is reported as such.
#![allow(clippy::unwrap_used)]

use agora_app::{Agora, AppConfig, ClaimOutcome, Step};
use agora_domain::{ClaimStatus, LogisticStatus, MandateLightResponse, Part, WarrantyClaim};
use agora_http::AgoraClient;
use agora_mock::{AnswerProfile, Faults, SimConfig};
use agora_ports::{AgoraError, RepairFiles};
use agora_sim::SimServer;
use agora_store_sqlite::SqliteStore;
use agora_tests::{client, serve};
use serde_json::json;

const KEY: &str = "profile-key";

fn work_order() -> MandateLightResponse {
    serde_json::from_value(json!({
        "ManufacturerId": 19, "InterventionTypeId": 1,
        "Consumer": {"Title": "3", "LastName": "Durand", "FirstName": "Paul"}
    }))
    .unwrap()
}

fn claim() -> WarrantyClaim {
    serde_json::from_value(json!({
        "ClaimType": {"ManufacturerId": 19, "CommercialRef": "ECAM22.110.B",
                      "SerialNumber": "1234567890123456789"},
        "ClaimConso": {"LastName": "Durand", "Address1": "3 place Bellecour", "Zip": "69002",
                       "City": "Lyon", "MobilePhone": "0612345678"},
        "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z",
                       "InterventionStartDateTime": "2024-03-02T08:00:00Z",
                       "InterventionEndDateTime": "2024-03-02T09:00:00Z"},
        "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 45.5},
        "ClaimParts": [{"PartReference": "00019-00000001", "Quantity": 1}]
    }))
    .unwrap()
}

type App = Agora<AgoraClient, SqliteStore>;

async fn setup(name: &str, profile: AnswerProfile) -> (SimServer, App, tempfile::TempDir) {
    let (server, clock) = serve(SimConfig {
        tenants: vec![KEY.into()],
        seed: 4,
        catalog_size: 10,
        ..SimConfig::default()
    })
    .await;
    server.simulator().set_profile(KEY, profile).unwrap();
    // A directory of its own per call (several tests share a setup name),
    // removed with the returned guard.
    let dir = tempfile::Builder::new()
        .prefix(&format!("agora-profiles-{name}-"))
        .tempdir()
        .unwrap();
    let app = Agora::new(
        client(&server, KEY),
        SqliteStore::open(dir.path().join("agora.db")).unwrap(),
        clock,
        AppConfig::default(),
    );
    (server, app, dir)
}

/// Work orders, part orders and a claim, synced and tracked: complete runs
/// and the data imported. Returns the number of warnings AgoraPlus gave.
async fn a_repair_synced_and_tracked(profile: AnswerProfile) -> usize {
    let (server, app, _dir) = setup("repair", profile).await;
    let sim = server.simulator();
    let mut warnings = 0;

    // Nothing to pull yet.
    let sync = app.sync_work_orders().await.unwrap();
    assert!(sync.is_complete(), "{sync:?}");
    assert!(sync.accepted.is_empty());
    warnings += sync.warnings.len();

    sim.publish_mandate(KEY, work_order()).unwrap();
    let sync = app.sync_work_orders().await.unwrap();
    assert!(sync.is_complete(), "{sync:?}");
    assert_eq!(sync.accepted.len(), 1);
    warnings += sync.warnings.len();
    let id = sync.accepted[0];
    let local = app.repair(id).await.unwrap();
    assert_eq!(
        local.file.consumer.as_ref().unwrap().last_name.as_deref(),
        Some("Durand")
    );
    let again = app.sync_work_orders().await.unwrap();
    assert!(again.is_complete() && again.accepted.is_empty() && again.recovered.is_empty());

    // Part orders: nothing open, then one shipped line.
    let pass = app.track_all_part_orders().await.unwrap();
    assert!(pass.is_complete() && pass.done.is_empty(), "{pass:?}");
    let pass = app.track_part_orders(id).await.unwrap();
    assert!(pass.done[0].lines.is_empty(), "{pass:?}");
    warnings += pass.warnings.len();
    app.update_file(id, |f| {
        f.parts = Some(vec![Part {
            reference: Some("00019-00000001".into()),
            quantity: Some(1),
            to_be_ordered: Some(true),
            ..Part::default()
        }]);
    })
    .await
    .unwrap();
    app.order_parts(id).await.unwrap();
    let order = app.repair(id).await.unwrap().orders[0]
        .order_number
        .clone()
        .unwrap();
    sim.set_logistic(KEY, &order, "208").unwrap();
    let pass = app.track_all_part_orders().await.unwrap();
    assert!(pass.is_complete(), "{pass:?}");
    assert_eq!(
        pass.done[0].lines[0].status_code,
        Some(LogisticStatus::Shipped)
    );
    warnings += pass.warnings.len();
    assert_eq!(
        app.repair(id).await.unwrap().orders[0].status_code,
        Some(LogisticStatus::Shipped)
    );

    // A claim, decided by the OEM, tracked.
    let ClaimOutcome::Judged { result, .. } =
        app.submit_claim(id, claim(), false).await.unwrap().outcome
    else {
        panic!("not judged")
    };
    assert_eq!(result.is_valid, Some(true), "{result:?}");
    let claim_id = result.claim_id.unwrap();
    sim.decide_claim(KEY, claim_id, ClaimStatus::ClosedAccepted, None)
        .unwrap();
    let pass = app.track_claims().await.unwrap();
    assert!(pass.is_complete(), "{pass:?}");
    assert_eq!(pass.done[0].status, ClaimStatus::ClosedAccepted);
    warnings += pass.warnings.len();
    assert_eq!(app.store().repairs().await.unwrap().len(), 1);
    warnings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_profile_imports_everything_without_warnings() {
    assert_eq!(
        a_repair_synced_and_tracked(AnswerProfile::default()).await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_alone_are_shown_and_change_nothing_else() {
    let profile = AnswerProfile {
        warning: Some("answered with warnings".into()),
        item_warning: Some("phone missing".into()),
        ..AnswerProfile::default()
    };
    // Two syncs (new and accepted each) with one item warning, two order
    // trackings, one claim tracking.
    assert_eq!(
        a_repair_synced_and_tracked(profile).await,
        2 + 3 + 1 + 1 + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_style_profile_imports_the_same() {
    assert!(a_repair_synced_and_tracked(AnswerProfile::reference_style()).await > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_whose_pull_fails_is_incomplete_and_names_the_half() {
    let (server, app, _dir) = setup("half", AnswerProfile::default()).await;
    let sim = server.simulator();
    sim.publish_mandate(KEY, work_order()).unwrap();
    sim.set_faults(
        KEY,
        Faults {
            status500_rate: 1.0,
            routes: vec!["GetNewMandates".into()],
            ..Faults::default()
        },
    )
    .unwrap();
    let sync = app.sync_work_orders().await.unwrap();
    assert!(!sync.is_complete());
    let failed = sync.failed.unwrap();
    assert_eq!(failed.step, Step::NewWorkOrders);
    assert!(
        matches!(failed.error, AgoraError::ServerError(_)),
        "{failed}"
    );
    // The client retried it; the other half was done.
    let state = sim.state(KEY).unwrap();
    assert_eq!(state["Mandates"][0]["Status"], "NEW");
    sim.set_faults(KEY, Faults::default()).unwrap();
    let sync = app.sync_work_orders().await.unwrap();
    assert!(sync.is_complete());
    assert_eq!(sync.accepted.len(), 1);
}
