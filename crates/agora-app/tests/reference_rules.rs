//! Local rules no stricter than the reference (issue 11, item 7), and what
//! tolerant reading sets aside, as the use cases show them to the caller:
//! against the in-memory simulator (which judges with the same domain
//! rules) and a real SQLite store, and with mockall for answers the
//! simulator does not give.
#![allow(clippy::unwrap_used)]

use agora_domain::InterventionId;
use std::sync::{Arc, Mutex};

use agora_app::{Agora, AppConfig, CatalogKind, ClaimOutcome, Delivery};
use agora_domain::lifecycle::{RepairPhase, RuleWarning};
use agora_domain::status::StatusWarning;
use agora_domain::{
    InterventionTypeId, Lcid, MandateLightResponse, ManufacturerId, NewMandateResponseData, Part,
    SetAside, SparePart, StateNature, StatusCode,
};
use agora_mock::{SimClient, SimConfig, Simulator};
use agora_ports::{Clock, DeltaSummary, MockCatalog, MockMandates, Reply, VecRecords};
use agora_store_sqlite::SqliteStore;
use jiff::Timestamp;
use serde_json::json;

struct FixedClock(Mutex<Timestamp>);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock(Mutex::new(
        "2024-03-01T09:00:00Z".parse().unwrap(),
    )))
}

/// A store in a new temporary directory of its own, removed with the
/// returned guard.
fn store(name: &str) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::Builder::new()
        .prefix(&format!("agora-rules-{name}-"))
        .tempdir()
        .unwrap();
    let store = SqliteStore::open(dir.path().join("agora.db")).unwrap();
    (dir, store)
}

fn setup(name: &str) -> (tempfile::TempDir, Simulator, Agora<SimClient, SqliteStore>) {
    let clock = clock();
    let config = SimConfig {
        tenants: vec!["a".into()],
        seed: 11,
        catalog_size: 10,
        ..SimConfig::default()
    };
    let (dir, store) = store(name);
    let sim = Simulator::with_clock(config, clock.clone());
    let app = Agora::new(sim.client("a"), store, clock, AppConfig::default());
    (dir, sim, app)
}

fn work_order(fields: serde_json::Value) -> MandateLightResponse {
    let mut doc = json!({
        "Consumer": {"Title": "1", "LastName": "Martin", "FirstName": "Claire", "Address1": "12 rue des Lilas"}
    });
    for (k, v) in fields.as_object().unwrap() {
        doc[k] = v.clone();
    }
    serde_json::from_value(doc).unwrap()
}

/// A work order of `oem`, synced: its repair file's id.
async fn synced(
    sim: &Simulator,
    app: &Agora<SimClient, SqliteStore>,
    order: serde_json::Value,
) -> i64 {
    sim.publish_mandate("a", work_order(order)).unwrap();
    app.sync_work_orders().await.unwrap().accepted[0].0
}

async fn finished(app: &Agora<SimClient, SqliteStore>, id: i64) {
    let done = app
        .report_status(
            InterventionId(id),
            StateNature::new(StatusCode::RepairFinished, "done"),
        )
        .await
        .unwrap();
    assert!(done.warnings.is_empty());
}

#[tokio::test]
async fn the_references_204_sample_is_sent_with_a_warning() {
    let (_dir, sim, app) = setup("204");
    let id = synced(
        &sim,
        &app,
        json!({"ManufacturerId": 19, "InterventionTypeId": 1}),
    )
    .await;
    // 2.2.2's sample: a part reference, no order number.
    let mut broken = StateNature::new(StatusCode::PartsReceivedDefective, "cracked spare part");
    broken.parts = Some(vec![Part {
        reference: Some("0070817965D".into()),
        quantity: Some(1),
        note: Some("cracked spare part".into()),
        ..Part::default()
    }]);
    let checked = app.report_status(InterventionId(id), broken).await.unwrap();
    assert!(
        matches!(checked.outcome, Delivery::Delivered { .. }),
        "{:?}",
        checked.outcome
    );
    assert_eq!(
        checked.warnings,
        [RuleWarning::Status(StatusWarning::MissingOrderNumber {
            code: StatusCode::PartsReceivedDefective,
            index: 0
        })]
    );
    assert_eq!(
        sim.state("a").unwrap()["Repairs"][0]["File"]["StateNatures"][0]["Code"],
        "204"
    );
}

#[tokio::test]
async fn a_claim_for_an_oem_without_repair_types_is_sent_with_a_warning() {
    let (_dir, sim, app) = setup("oem5");
    // Miele (5) is in the OEM list (6.3) but has no row in table 6.4.
    let id = synced(
        &sim,
        &app,
        json!({"ManufacturerId": 5, "InterventionTypeId": 1}),
    )
    .await;
    finished(&app, id).await;
    let claim = app.draft_claim(InterventionId(id)).await.unwrap();
    let checked = app
        .submit_claim(InterventionId(id), claim, false)
        .await
        .unwrap();
    let ClaimOutcome::Judged { result, .. } = &checked.outcome else {
        panic!("{:?}", checked.outcome)
    };
    assert!(result.claim_id.is_some(), "AgoraPlus judged it");
    assert_eq!(
        checked.warnings,
        [RuleWarning::OutsideRepairTable {
            manufacturer: ManufacturerId(5),
            repair_type: InterventionTypeId(1),
        }]
    );
    assert_eq!(
        app.repair(InterventionId(id)).await.unwrap().claim_id,
        result.claim_id
    );
}

#[tokio::test]
async fn the_repair_type_is_read_from_the_nested_intervention_type() {
    let (_dir, sim, app) = setup("nested");
    let id = synced(
        &sim,
        &app,
        json!({"ManufacturerId": 19, "InterventionType": {"InterventionTypeId": 1, "Label": "Sous-garantie"}}),
    )
    .await;
    let local = app.repair(InterventionId(id)).await.unwrap();
    assert_eq!(local.lifecycle.repair_type, Some(InterventionTypeId(1)));
    assert_eq!(local.file.intervention_type(), Some(InterventionTypeId(1)));
    finished(&app, id).await;
    // Covered (DeLonghi, type 1): the claim carries its condition, no warning.
    let claim = app.draft_claim(InterventionId(id)).await.unwrap();
    assert_eq!(
        claim.claim_lab.as_ref().unwrap().origin_code.as_deref(),
        Some("WAR")
    );
    let checked = app
        .submit_claim(InterventionId(id), claim, false)
        .await
        .unwrap();
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);
    assert!(matches!(checked.outcome, ClaimOutcome::Judged { .. }));
}

#[tokio::test]
async fn status_602_is_sent_after_the_claim() {
    let (_dir, sim, app) = setup("602");
    let id = synced(
        &sim,
        &app,
        json!({"ManufacturerId": 19, "InterventionTypeId": 1}),
    )
    .await;
    finished(&app, id).await;
    let claim = app.draft_claim(InterventionId(id)).await.unwrap();
    let submitted = app
        .submit_claim(InterventionId(id), claim, false)
        .await
        .unwrap();
    assert!(matches!(submitted.outcome, ClaimOutcome::Judged { .. }));
    let checked = app
        .report_status(
            InterventionId(id),
            StateNature::new(StatusCode::ProductReturnedToConsumer, "returned"),
        )
        .await
        .unwrap();
    assert!(
        matches!(checked.outcome, Delivery::Delivered { .. }),
        "{:?}",
        checked.outcome
    );
    let local = app.repair(InterventionId(id)).await.unwrap();
    assert_eq!(local.lifecycle.phase, RepairPhase::Closed);
    assert_eq!(
        local.file.last_status(),
        Some(&StatusCode::ProductReturnedToConsumer)
    );
    // Any other status stays refused on the closed file, locally.
    assert!(
        app.report_status(
            InterventionId(id),
            StateNature::new(StatusCode::Diagnosis, "late")
        )
        .await
        .is_err()
    );
    let state = sim.state("a").unwrap();
    let codes: Vec<_> = state["Repairs"][0]["File"]["StateNatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Code"].clone())
        .collect();
    assert_eq!(codes.last(), Some(&json!("602")), "{codes:?}");
}

#[tokio::test]
async fn a_sync_reports_the_work_orders_it_set_aside() {
    let mut api = MockMandates::new();
    let aside = SetAside {
        index: 1,
        raw: json!("not a work order"),
        reason: "invalid type: string \"not a work order\", expected a JSON object (NewMandateResponseData)".into(),
    };
    let reply = Reply {
        data: vec![NewMandateResponseData {
            mandate: Some(work_order(
                json!({"ManufacturerId": 19, "InterventionTypeId": 1}),
            )),
            intervention_id: Some(InterventionId(901)),
            ..NewMandateResponseData::default()
        }],
        warning: None,
        set_aside: vec![aside.clone()],
    };
    api.expect_new_mandates()
        .times(1)
        .returning(move |_| Ok(reply.clone()));
    api.expect_accepted_mandates()
        .times(1)
        .returning(|| Ok(Reply::ok(Vec::new())));
    let (_dir, store) = store("aside");
    let app = Agora::new(api, store, clock(), AppConfig::default());
    let report = app.sync_work_orders().await.unwrap();
    assert_eq!(report.accepted, [901], "the rest was used");
    assert_eq!(
        report.warnings,
        [agora_app::Warning::SetAside {
            operation: "GetNewMandates",
            item: aside
        }]
    );
}

#[tokio::test]
async fn a_catalog_sync_reports_the_records_it_set_aside() {
    let mut api = MockCatalog::new();
    let aside = SetAside {
        index: 0,
        raw: json!(17),
        reason: "invalid type: integer `17`, expected a JSON object (SparePart)".into(),
    };
    let summary = DeltaSummary {
        records: 1,
        set_aside: vec![aside.clone()],
        set_aside_total: 1,
        ..DeltaSummary::default()
    };
    api.expect_spare_parts_delta().times(1).returning(move |_| {
        let part = SparePart {
            reference: Some("A".into()),
            ..SparePart::default()
        };
        Ok(Box::new(VecRecords::new(vec![part], 10, summary.clone())))
    });
    let (_dir, store) = store("catalog");
    let app = Agora::new(api, store, clock(), AppConfig::default());
    let sync = app
        .sync_catalog(
            ManufacturerId(19),
            Lcid::ENGLISH,
            CatalogKind::SpareParts,
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(sync.records, 1);
    assert_eq!(sync.set_aside, [aside]);
    assert_eq!(sync.set_aside_total, 1);
}
