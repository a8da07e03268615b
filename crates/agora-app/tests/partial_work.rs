//! What the use cases report besides their result: AgoraPlus's warnings
//! (envelopes, items, set-aside list items), the half of a work-order sync
//! that failed, and the files a tracking pass could not reach.
#![allow(clippy::unwrap_used)]

use agora_domain::{ClaimId, InterventionId, OrderNumber};
use std::sync::Arc;

use agora_app::{Agora, AppConfig, Step, Warning};
use agora_domain::lifecycle::{ClaimState, RepairLifecycle};
use agora_domain::{
    ClaimStatus, CompleteRepairState, InterventionTypeId, Lcid, LogisticStatus,
    MandateLightResponse, ManufacturerId, NewMandateResponseData, Part, PartOrderLine, SetAside,
    WarrantyClaim,
};
use agora_mock::{AnswerProfile, Faults, SimClient, SimConfig, Simulator};
use agora_ports::{
    AgoraError, ClaimSubmission, Claims, LocalRepair, Mandates, MockMandates, RepairFiles, Reply,
    SystemClock,
};
use agora_store_sqlite::SqliteStore;
use serde_json::json;

/// A store in a new temporary directory of its own, removed with the
/// returned guard.
fn store(name: &str) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::Builder::new()
        .prefix(&format!("agora-app-partial-{name}-"))
        .tempdir()
        .unwrap();
    let store = SqliteStore::open(dir.path().join("agora.db")).unwrap();
    (dir, store)
}

fn setup(name: &str) -> (tempfile::TempDir, Simulator, Agora<SimClient, SqliteStore>) {
    let config = SimConfig {
        tenants: vec!["a".into()],
        seed: 2,
        catalog_size: 10,
        ..SimConfig::default()
    };
    let (dir, store) = store(name);
    let sim = Simulator::new(config);
    let app = Agora::new(
        sim.client("a"),
        store,
        Arc::new(SystemClock),
        AppConfig::default(),
    );
    (dir, sim, app)
}

fn work_order() -> MandateLightResponse {
    serde_json::from_value(json!({
        "ManufacturerId": 19, "InterventionTypeId": 1,
        "Consumer": {"Title": "2", "LastName": "Martin"}
    }))
    .unwrap()
}

fn faults_on(route: &str, rate503: f64, rate500: f64) -> Faults {
    Faults {
        status503_rate: rate503,
        status500_rate: rate500,
        routes: vec![route.to_owned()],
        ..Faults::default()
    }
}

#[tokio::test]
async fn pulling_fails_while_reconciling_works_the_sync_says_so() {
    let (_dir, sim, app) = setup("new-half");
    // Accepted in AgoraPlus, never saved here.
    let mandate = sim.publish_mandate("a", work_order()).unwrap();
    let id = sim.client("a").new_mandates(true).await.unwrap().data[0]
        .intervention_id
        .unwrap();
    sim.publish_mandate("a", work_order()).unwrap();
    sim.set_faults("a", faults_on("GetNewMandates", 0.0, 1.0))
        .unwrap();
    let report = app.sync_work_orders().await.unwrap();
    assert_eq!(report.recovered, [id], "mandate {mandate}");
    assert!(report.accepted.is_empty());
    assert!(!report.is_complete());
    let failed = report.failed.unwrap();
    assert_eq!(failed.step, Step::NewWorkOrders);
    assert!(
        matches!(failed.error, AgoraError::ServerError(_)),
        "{failed}"
    );
    assert!(failed.to_string().contains("GetNewMandates"), "{failed}");

    // Repaired: a complete sync.
    sim.set_faults("a", Faults::default()).unwrap();
    let report = app.sync_work_orders().await.unwrap();
    assert_eq!(report.accepted.len(), 1);
    assert!(report.is_complete() && report.failed.is_none());
}

#[tokio::test]
async fn reconciling_fails_after_pulling_worked_the_pulled_ones_are_kept() {
    let (_dir, sim, app) = setup("accepted-half");
    sim.publish_mandate("a", work_order()).unwrap();
    sim.set_faults("a", faults_on("GetAcceptedMandates", 1.0, 0.0))
        .unwrap();
    let report = app.sync_work_orders().await.unwrap();
    assert_eq!(report.accepted.len(), 1);
    assert_eq!(app.store().repairs().await.unwrap().len(), 1);
    let failed = report.failed.unwrap();
    assert_eq!(failed.step, Step::AcceptedWorkOrders);
    assert!(matches!(failed.error, AgoraError::Unavailable { .. }));

    // Both halves failing: nothing was done, the sync fails.
    sim.set_faults(
        "a",
        Faults {
            status500_rate: 1.0,
            ..Faults::default()
        },
    )
    .unwrap();
    assert!(matches!(
        app.sync_work_orders().await.unwrap_err(),
        AgoraError::ServerError(_)
    ));
}

#[tokio::test]
async fn warnings_of_the_envelopes_and_of_each_work_order_come_back() {
    let (_dir, sim, app) = setup("warnings");
    sim.set_profile(
        "a",
        AnswerProfile {
            warning: Some("reseller unknown".into()),
            item_warning: Some("phone missing".into()),
            ..AnswerProfile::default()
        },
    )
    .unwrap();
    let mandate = sim.publish_mandate("a", work_order()).unwrap();
    let report = app.sync_work_orders().await.unwrap();
    assert_eq!(report.accepted.len(), 1, "a W item is accepted");
    let lines: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
    assert!(
        lines.contains(&"GetNewMandates: AgoraPlus warns: reseller unknown".to_owned()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"GetAcceptedMandates: AgoraPlus warns: reseller unknown".to_owned()),
        "{lines:?}"
    );
    let item = report
        .warnings
        .iter()
        .find(|w| matches!(w, Warning::Item { .. }))
        .unwrap();
    let Warning::Item {
        operation,
        item,
        message,
    } = item
    else {
        unreachable!()
    };
    assert_eq!(*operation, "GetNewMandates");
    assert_eq!(item, &format!("work order {mandate}"));
    assert!(message.contains("phone missing"), "{message}");
    assert!(report.is_complete(), "warnings do not make it incomplete");

    sim.set_profile("a", AnswerProfile::default()).unwrap();
    assert!(app.sync_work_orders().await.unwrap().warnings.is_empty());
}

#[tokio::test]
async fn items_set_aside_are_reported_one_each() {
    let mut api = MockMandates::new();
    api.expect_new_mandates().returning(|_| {
        let mut reply = Reply::ok(vec![NewMandateResponseData {
            mandate: Some(work_order()),
            intervention_id: Some(InterventionId(700)),
            ..NewMandateResponseData::default()
        }]);
        reply.set_aside = vec![
            SetAside {
                index: 1,
                raw: json!({"MandateId": "x"}),
                reason: "MandateId: not a number".into(),
            },
            SetAside {
                index: 2,
                raw: json!(7),
                reason: "not an object".into(),
            },
        ];
        Ok(reply)
    });
    api.expect_accepted_mandates()
        .returning(|| Ok(Reply::ok(Vec::new())));
    let (_dir, store) = store("set-aside");
    let app = Agora::new(api, store, Arc::new(SystemClock), AppConfig::default());
    let report = app.sync_work_orders().await.unwrap();
    assert_eq!(report.accepted, [700], "the rest is used");
    let set_aside: Vec<&SetAside> = report
        .warnings
        .iter()
        .filter_map(|w| match w {
            Warning::SetAside { operation, item } => {
                assert_eq!(*operation, "GetNewMandates");
                Some(item)
            }
            _ => None,
        })
        .collect();
    assert_eq!(set_aside.len(), 2);
    assert_eq!(set_aside[1].reason, "not an object");
}

#[tokio::test]
async fn a_work_order_agoraplus_refuses_is_reported_and_the_rest_saved() {
    let (_dir, sim, app) = setup("refused");
    let broken = sim.publish_broken_mandate("a", work_order()).unwrap();
    sim.publish_mandate("a", work_order()).unwrap();
    let report = app.sync_work_orders().await.unwrap();
    assert_eq!(report.accepted.len(), 1);
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].0, Some(broken));
    assert!(report.refused[0].1.contains(&broken.to_string()));
    assert!(!report.is_complete());
    assert!(report.failed.is_none(), "both halves were done");
    assert_eq!(app.store().repairs().await.unwrap().len(), 1);
}

/// A local repair file AgoraPlus does not know.
fn unknown_file(id: i64, claim: Option<i64>, order: Option<&str>) -> LocalRepair {
    LocalRepair {
        intervention_id: InterventionId(id),
        mandate_id: None,
        file: CompleteRepairState::default(),
        lifecycle: RepairLifecycle::from_work_order(
            Some(ManufacturerId(19)),
            Some(InterventionTypeId(1)),
        ),
        claim_id: claim.map(ClaimId::from),
        orders: order
            .map(|o| {
                vec![PartOrderLine {
                    order_number: Some(OrderNumber(o.to_owned())),
                    ..PartOrderLine::default()
                }]
            })
            .unwrap_or_default(),
        attention: None,
        revision: 0,
        work_order: None,
        accepted_at: None,
    }
}

fn claim(intervention: i64) -> WarrantyClaim {
    serde_json::from_value(json!({
        "ClaimType": {"InterventionId": intervention, "ManufacturerId": 19,
                      "CommercialRef": "ECAM22.110.B", "SerialNumber": "1234567890123456789"},
        "ClaimConso": {"LastName": "Martin", "Address1": "12 rue des Lilas", "Zip": "69003",
                       "City": "Lyon", "MobilePhone": "0612345678"},
        "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z",
                       "InterventionStartDateTime": "2024-03-02T08:00:00Z",
                       "InterventionEndDateTime": "2024-03-02T09:00:00Z"},
        "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 45.5},
        "ClaimParts": [{"PartReference": "00019-00000001", "Quantity": 1}]
    }))
    .unwrap()
}

#[tokio::test]
async fn a_claim_pass_goes_past_a_file_that_fails_and_stops_when_all_would() {
    let (_dir, sim, app) = setup("claims");
    sim.publish_mandate("a", work_order()).unwrap();
    sim.publish_mandate("a", work_order()).unwrap();
    let files = app.sync_work_orders().await.unwrap().accepted;
    let mut claims = Vec::new();
    for &id in &files {
        let how = ClaimSubmission {
            language: Lcid::ENGLISH,
            transfer_if_valid: true,
        };
        let result = sim
            .client("a")
            .create_claim(&claim(id.0), how)
            .await
            .unwrap();
        assert_eq!(result.data.is_valid, Some(true), "{:?}", result.data);
        let claim_id = result.data.claim_id.unwrap();
        let mut local = app.repair(id).await.unwrap();
        local.claim_id = Some(claim_id);
        local.lifecycle.claim = Some(ClaimState::Valid { transferred: true });
        app.store().upsert_repair(&local).await.unwrap();
        claims.push(claim_id);
    }
    // First in the pass: a claim AgoraPlus does not know.
    app.store()
        .upsert_repair(&unknown_file(1, Some(424_242), None))
        .await
        .unwrap();
    sim.decide_claim("a", claims[0], ClaimStatus::ClosedAccepted, None)
        .unwrap();
    let pass = app.track_claims().await.unwrap();
    assert_eq!(pass.done.len(), 1, "{pass:?}");
    assert_eq!(pass.done[0].claim_id, claims[0]);
    assert_eq!(pass.done[0].status, ClaimStatus::ClosedAccepted);
    assert_eq!(pass.failed.len(), 1);
    assert_eq!(
        pass.failed[0].step,
        Step::Claim {
            claim: ClaimId(424_242),
            intervention: InterventionId(1)
        }
    );
    assert!(matches!(pass.failed[0].error, AgoraError::NotFound(_)));
    assert!(pass.not_reached.is_empty());
    assert!(!pass.is_complete());

    // AgoraPlus unavailable: the first failure stops the pass.
    sim.set_faults("a", faults_on("GetWarrantyClaimStatus", 1.0, 0.0))
        .unwrap();
    let pass = app.track_claims().await.unwrap();
    assert!(pass.done.is_empty());
    assert_eq!(pass.failed.len(), 1, "{pass:?}");
    assert!(matches!(
        pass.failed[0].error,
        AgoraError::Unavailable { .. }
    ));
    assert_eq!(
        pass.not_reached,
        [Step::Claim {
            claim: claims[1],
            intervention: files[1]
        }]
    );

    sim.set_faults("a", Faults::default()).unwrap();
    // The file AgoraPlus does not know loses its claim: nothing fails now.
    let mut gone = app
        .store()
        .repair(InterventionId(1))
        .await
        .unwrap()
        .unwrap();
    gone.claim_id = None;
    app.store().upsert_repair(&gone).await.unwrap();
    let pass = app.track_claims().await.unwrap();
    assert!(pass.is_complete(), "{pass:?}");
}

#[tokio::test]
async fn an_order_pass_tracks_every_open_file_and_reports_the_others() {
    let (_dir, sim, app) = setup("orders");
    sim.publish_mandate("a", work_order()).unwrap();
    let id = app.sync_work_orders().await.unwrap().accepted[0];
    app.update_file(id, |f| {
        f.parts = Some(vec![Part {
            reference: Some("00019-00000012".into()),
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
    for fake in [2, 3] {
        app.store()
            .upsert_repair(&unknown_file(fake, None, Some("ORD-X")))
            .await
            .unwrap();
    }
    sim.set_logistic("a", &order, "208").unwrap();
    sim.set_profile(
        "a",
        AnswerProfile {
            warning: Some("carrier late".into()),
            ..AnswerProfile::default()
        },
    )
    .unwrap();
    let pass = app.track_all_part_orders().await.unwrap();
    assert_eq!(pass.done.len(), 1, "{pass:?}");
    assert_eq!(pass.done[0].intervention_id, id);
    assert_eq!(
        pass.done[0].lines[0].status_code,
        Some(LogisticStatus::Shipped)
    );
    assert_eq!(
        pass.failed.iter().map(|f| f.step).collect::<Vec<_>>(),
        [
            Step::PartOrders(InterventionId(2)),
            Step::PartOrders(InterventionId(3))
        ]
    );
    assert_eq!(
        pass.warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["GetSparepartOrderTracking: AgoraPlus warns: carrier late"]
    );
    assert_eq!(
        app.repair(id).await.unwrap().orders[0].status_code,
        Some(LogisticStatus::Shipped)
    );

    // Shipped lines are settled: only the two unknown files are left, and
    // a failure that would strike every call stops the pass at the first.
    sim.set_faults("a", faults_on("GetSparepartOrderTracking", 0.0, 1.0))
        .unwrap();
    let pass = app.track_all_part_orders().await.unwrap();
    assert_eq!(pass.failed.len(), 1);
    assert_eq!(pass.failed[0].step, Step::PartOrders(InterventionId(2)));
    assert!(matches!(pass.failed[0].error, AgoraError::ServerError(_)));
    assert_eq!(pass.not_reached, [Step::PartOrders(InterventionId(3))]);

    // One file asked for by id: its failure is the error; once answered,
    // its warnings come back with it.
    assert!(matches!(
        app.track_part_orders(id).await.unwrap_err(),
        AgoraError::ServerError(_)
    ));
    sim.set_faults("a", Faults::default()).unwrap();
    let pass = app.track_part_orders(id).await.unwrap();
    assert_eq!(pass.done.len(), 1);
    assert_eq!(
        pass.warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["GetSparepartOrderTracking: AgoraPlus warns: carrier late"]
    );
}
