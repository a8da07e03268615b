//! `agora doctor` on a store an earlier version left wrong: a file without
//! the work order's consumer fields. Without `--fix` it lists the change
//! and exits 1, changing nothing; `--fix` makes it (one update queued for
//! AgoraPlus) and exits 0; a second run has nothing to mend.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use agora_domain::lifecycle::RepairLifecycle;
use agora_domain::{CompleteRepairState, InterventionId, MandateLightResponse};
use agora_ports::{LocalRepair, Outbox, OutboxState, RepairFiles};
use agora_store_sqlite::SqliteStore;
use serde_json::{Value, json};

fn agora(db: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(args)
        // Nothing is sent: the doctor reads and writes the store only.
        .env("AGORA_BASE_URL", "http://127.0.0.1:9")
        .env("AGORA_API_KEY", "doctor-test-key-123")
        .env("AGORA_DB", db)
        .env_remove("AGORA_CONFIG")
        .env_remove("AGORA_ENV")
        .output()
        .unwrap()
}

#[tokio::test]
async fn doctor_lists_then_fixes_then_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agora.db");
    let store = SqliteStore::open(&db).unwrap();
    let work_order: MandateLightResponse = serde_json::from_value(json!({
        "MandateId": 9001, "ManufacturerId": 19, "InterventionTypeId": 1,
        "Consumer": {"Title": "3", "LastName": "Durand", "Zip": "69001", "Town": "Lyon"}
    }))
    .unwrap();
    let file: CompleteRepairState = serde_json::from_value(json!({
        "InterventionId": 500001, "MandateId": 9001, "ManufacturerId": 19,
        "Consumer": {"Title": 3, "LastName": "Durand"}
    }))
    .unwrap();
    store
        .upsert_repair(&LocalRepair {
            intervention_id: InterventionId(500_001),
            mandate_id: file.mandate_id,
            lifecycle: RepairLifecycle::direct(file.manufacturer_id, file.intervention_type()),
            file,
            claim_id: None,
            orders: Vec::new(),
            attention: None,
            revision: 0,
            work_order: Some(work_order),
            accepted_at: None,
        })
        .await
        .unwrap();

    let listed = agora(&db, &["--json", "doctor"]);
    assert_eq!(listed.status.code(), Some(1), "{listed:?}");
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["fixed"], false);
    let changes: Vec<&str> = listed["mends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["change"].as_str().unwrap())
        .collect();
    assert_eq!(
        changes,
        [
            "Consumer.Town filled from the work order",
            "Consumer.Zip filled from the work order"
        ]
    );
    assert!(
        store
            .entries(OutboxState::Pending)
            .await
            .unwrap()
            .is_empty()
    );

    let fixed = agora(&db, &["doctor", "--fix"]);
    assert!(fixed.status.success(), "{fixed:?}");
    let text = String::from_utf8_lossy(&fixed.stdout);
    assert!(text.contains("2 change(s) made"), "{text}");
    assert!(text.contains("work-order-field"), "{text}");
    let repair = store
        .repair(InterventionId(500_001))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(repair.file.consumer.unwrap().zip.as_deref(), Some("69001"));
    assert_eq!(store.entries(OutboxState::Pending).await.unwrap().len(), 1);

    let again = agora(&db, &["doctor"]);
    assert!(again.status.success(), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to mend"));
    assert_eq!(store.entries(OutboxState::Pending).await.unwrap().len(), 1);
}
