//! A fault run: the use cases over agora-http against agora-sim answering
//! 503s, 500s, delays and drop-after-commit at meaningful rates, for a few
//! hundred operations. Afterwards the simulator's state and the local store
//! agree: nothing lost, no duplicate repair file, order or claim, and every
//! operation whose outcome is unknown is listed in doubt.
#![allow(clippy::unwrap_used)]

use agora_domain::{ClaimId, InterventionId};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use agora_app::{Agora, AppConfig, ClaimOutcome, Resolution};
use agora_domain::{
    MandateLightResponse, Part, StateNature, StatusCode, WarrantyClaim, WireDateTime,
};
use agora_mock::{Faults, SimConfig};
use agora_ports::{Operation, OutboxState, RepairFiles};
use agora_store_sqlite::SqliteStore;
use agora_tests::{client, serve};
use serde_json::json;

const FILES: usize = 40;

fn mandate() -> MandateLightResponse {
    serde_json::from_value(json!({
        "ManufacturerId": 1, "InterventionTypeId": 1,
        "Consumer": {"Title": "3", "LastName": "Durand", "FirstName": "Paul", "Address1": "3 place Bellecour"}
    }))
    .unwrap()
}

fn claim() -> WarrantyClaim {
    serde_json::from_value(json!({
        "ClaimType": {"ManufacturerId": 1, "CommercialRef": "CR-1", "SerialNumber": "SN-1"},
        "ClaimConso": {"LastName": "Durand", "Address1": "3 place Bellecour", "Zip": "69002"},
        "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z"}
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_faults_nothing_is_lost_or_duplicated_and_doubts_are_listed() {
    let (server, clock) = serve(SimConfig {
        tenants: vec!["fault-run-key".into()],
        seed: 77,
        catalog_size: 10,
        ..SimConfig::default()
    })
    .await;
    let sim = server.simulator().clone();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("agora.db")).unwrap();
    let app = Agora::new(
        client(&server, "fault-run-key"),
        store,
        clock.clone(),
        AppConfig {
            retry_base: Duration::from_secs(1),
            ..AppConfig::default()
        },
    );
    for _ in 0..FILES {
        sim.publish_mandate("fault-run-key", mandate()).unwrap();
    }
    sim.set_faults(
        "fault-run-key",
        Faults {
            status503_rate: 0.15,
            status500_rate: 0.05,
            delay_ms: 1,
            drop_after_commit_rate: 0.1,
            ..Faults::default()
        },
    )
    .unwrap();

    let mut operations = 0;
    // Work orders: repeat the sync until every file is saved locally.
    for _ in 0..30 {
        operations += 1;
        let _ = app.sync_work_orders().await;
        if app.store().repairs().await.unwrap().len() == FILES {
            break;
        }
    }
    let files: Vec<InterventionId> = app
        .store()
        .repairs()
        .await
        .unwrap()
        .iter()
        .map(|r| r.intervention_id)
        .collect();
    assert_eq!(files.len(), FILES, "every accepted work order recovered");

    let mut appointment = StateNature::new(StatusCode::AppointmentConfirmed, "RDV");
    appointment.appointment_date = Some(WireDateTime::parse("2024-03-02T08:00:00Z").unwrap());
    appointment.appointment_end_date = Some(WireDateTime::parse("2024-03-02T09:00:00Z").unwrap());
    let mut orders_placed = BTreeMap::new();
    for &id in &files {
        for status in [
            appointment.clone(),
            StateNature::new(StatusCode::Diagnosis, "diag"),
        ] {
            operations += 1;
            app.report_status(InterventionId(id.0), status)
                .await
                .unwrap();
        }
        operations += 1;
        app.update_file(InterventionId(id.0), |f| {
            f.parts = Some(vec![Part {
                reference: Some(format!("00001-{id:08}")),
                quantity: Some(1),
                to_be_ordered: Some(true),
                ..Part::default()
            }]);
        })
        .await
        .unwrap();
        operations += 1;
        if let Ok(d) = app.order_parts(InterventionId(id.0)).await {
            orders_placed.insert(id, d);
        }
        operations += 1;
        app.report_status(
            InterventionId(id.0),
            StateNature::new(StatusCode::RepairFinished, "done"),
        )
        .await
        .unwrap();
    }
    // Deliver what waits (AgoraPlus back to normal), moving the clock past every backoff.
    sim.set_faults("fault-run-key", Faults::default()).unwrap();
    for _ in 0..20 {
        clock.advance(Duration::from_secs(600));
        app.flush_outbox().await.unwrap();
    }
    // The later updates of a file wait behind its order in doubt; the
    // operator settles each one as `agora outbox resolve` would, from what
    // AgoraPlus shows (the clock is past every attempt's window), and what
    // waited behind it goes.
    let mut settled = 0;
    for entry in app.outbox(OutboxState::InDoubt).await.unwrap() {
        if let Operation::PlaceOrder(file) = entry.operation {
            let state = sim.state("fault-run-key").unwrap();
            let ordered = state["Orders"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["InterventionId"] == file.0);
            let how = if ordered {
                Resolution::Applied {
                    intervention_id: None,
                    claim_id: None,
                }
            } else {
                Resolution::Resend
            };
            app.resolve(entry.id, how).await.unwrap();
            settled += 1;
        }
    }
    for _ in 0..5 {
        clock.advance(Duration::from_secs(600));
        app.flush_outbox().await.unwrap();
    }
    eprintln!("fault run: {settled} order(s) in doubt settled by the operator");
    // Claims, under faults again.
    sim.set_faults(
        "fault-run-key",
        Faults {
            status503_rate: 0.15,
            status500_rate: 0.05,
            delay_ms: 1,
            drop_after_commit_rate: 0.1,
            ..Faults::default()
        },
    )
    .unwrap();
    let mut in_doubt_claims = BTreeSet::new();
    for &id in &files {
        operations += 1;
        if let Ok(ClaimOutcome::InDoubt { .. }) = app
            .submit_claim(InterventionId(id.0), claim(), false)
            .await
            .map(|c| c.outcome)
        {
            in_doubt_claims.insert(id);
        }
    }
    sim.set_faults("fault-run-key", Faults::default()).unwrap();
    for _ in 0..20 {
        clock.advance(Duration::from_secs(600));
        app.flush_outbox().await.unwrap();
    }
    assert!(operations >= 200, "{operations} operations");

    // The two sides agree.
    let state = sim.state("fault-run-key").unwrap();
    let remote_files = state["Repairs"].as_array().unwrap();
    assert_eq!(remote_files.len(), FILES, "no duplicate repair file");
    let local = app.store().repairs().await.unwrap();
    for repair in &local {
        let remote = remote_files
            .iter()
            .find(|r| r["File"]["InterventionId"] == repair.intervention_id.0)
            .unwrap();
        let codes: Vec<&str> = remote["File"]["StateNatures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Code"].as_str().unwrap())
            .collect();
        for code in ["102", "406", "305"] {
            assert_eq!(
                codes.iter().filter(|c| **c == code).count(),
                1,
                "file {}: status {code} exactly once in {codes:?}",
                repair.intervention_id
            );
        }
    }
    // Orders: each file's part ordered at most once.
    let orders = state["Orders"].as_array().unwrap();
    let mut per_file = BTreeMap::new();
    for o in orders {
        *per_file
            .entry(o["InterventionId"].as_i64().unwrap())
            .or_insert(0) += 1;
    }
    assert!(per_file.values().all(|n| *n == 1), "{per_file:?}");
    // Claims: at most one per file; every remote claim is known locally or
    // listed in doubt; every local claim exists remotely.
    let remote_claims: BTreeMap<InterventionId, ClaimId> = state["Claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                InterventionId(c["InterventionId"].as_i64().unwrap()),
                ClaimId(c["ClaimID"].as_i64().unwrap()),
            )
        })
        .collect();
    assert_eq!(
        remote_claims.len(),
        state["Claims"].as_array().unwrap().len(),
        "one claim per file"
    );
    let doubts: BTreeSet<InterventionId> = app
        .outbox(OutboxState::InDoubt)
        .await
        .unwrap()
        .iter()
        .filter_map(|e| e.intervention_id)
        .collect();
    for (file, claim_id) in &remote_claims {
        let local_claim = app.store().repair(*file).await.unwrap().unwrap().claim_id;
        assert!(
            local_claim == Some(*claim_id) || doubts.contains(file),
            "claim {claim_id} of file {file} is neither known locally nor listed in doubt"
        );
    }
    for repair in &local {
        if let Some(claim_id) = repair.claim_id {
            assert_eq!(remote_claims.get(&repair.intervention_id), Some(&claim_id));
        }
    }
    for file in &in_doubt_claims {
        assert!(doubts.contains(file));
    }
    // Nothing is left waiting: every entry is delivered, in doubt or refused.
    assert!(app.outbox(OutboxState::Pending).await.unwrap().is_empty());
    assert!(app.outbox(OutboxState::Sending).await.unwrap().is_empty());
    let doubtful_ops: Vec<_> = app.outbox(OutboxState::InDoubt).await.unwrap();
    assert!(
        doubtful_ops
            .iter()
            .all(|e| !matches!(e.operation, Operation::UpdateRepair(_))),
        "idempotent updates are never left in doubt"
    );
    eprintln!(
        "fault run: {operations} operations, {} files, {} orders, {} claims, {} in doubt",
        remote_files.len(),
        orders.len(),
        remote_claims.len(),
        doubtful_ops.len()
    );
}
