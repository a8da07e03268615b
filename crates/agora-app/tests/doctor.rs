//! `Agora::doctor` on a store seeded with each kind of damage earlier
//! versions left (a part AgoraPlus ordered still to be ordered, a refused
//! status still in the file, the work order's fields missing from the
//! file): listed without changing anything, mended with `fix` (one update
//! queued where AgoraPlus must learn of it), and a second run finds
//! nothing. On SQLite, and on a throwaway PostgreSQL server.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use agora_app::{Agora, AppConfig, MendKind};
use agora_domain::lifecycle::RepairLifecycle;
use agora_domain::{
    CompleteRepairState, InterventionId, MandateLightResponse, OrderNumber, Part, PartOrderLine,
    StateNature,
};
use agora_ports::{
    Attempt, LocalRepair, Operation, OperationAnswer, Outbox, OutboxState, RepairFiles, SystemClock,
};
use serde_json::json;

const DAMAGED: InterventionId = InterventionId(500_001);
const HEALTHY: InterventionId = InterventionId(500_002);

fn status(code: &str) -> StateNature {
    StateNature::new(code.parse().unwrap(), format!("status {code}"))
}

fn part(reference: &str) -> Part {
    Part {
        reference: Some(reference.to_owned()),
        quantity: Some(1),
        to_be_ordered: Some(true),
        ..Part::default()
    }
}

fn work_order() -> MandateLightResponse {
    serde_json::from_value(json!({
        "MandateId": 9001, "ManufacturerId": 19, "InterventionTypeId": 1,
        "SerialNumber": "SN-42",
        "Consumer": {"Title": "3", "LastName": "Durand", "Zip": "69001", "Town": "Lyon", "Phone": "0472000000"}
    }))
    .unwrap()
}

fn line(number: &str, reference: Option<&str>) -> PartOrderLine {
    PartOrderLine {
        order_number: Some(OrderNumber::from(number)),
        reference: reference.map(str::to_owned),
        ..PartOrderLine::default()
    }
}

/// The file as earlier versions made it from the work order: the
/// consumer's name only.
fn file_as_made(id: InterventionId, parts: Vec<Part>) -> CompleteRepairState {
    serde_json::from_value::<CompleteRepairState>(json!({
        "InterventionId": id.0, "MandateId": 9001, "ManufacturerId": 19,
        "Consumer": {"Title": 3, "LastName": "Durand"},
        "Intervention": {"InterventionType": 1},
        "StateNatures": [{"Code": "102", "Comment": "status 102"}]
    }))
    .map(|mut f| {
        f.parts = Some(parts);
        f
    })
    .unwrap()
}

async fn delivered<S: Outbox>(
    store: &S,
    id: InterventionId,
    op: Operation,
    attempt: Attempt,
) -> u64 {
    let now = agora_ports::Clock::now(&SystemClock);
    let entry = store.enqueue(Some(id), &op, now).await.unwrap();
    let lease = agora_ports::Lease {
        owner: "seed".into(),
        until: now + Duration::from_secs(60),
    };
    let claimed = store.claim(entry, now, &lease).await.unwrap().unwrap();
    store
        .finish(entry, "seed", claimed.attempts, &attempt, now)
        .await
        .unwrap();
    entry
}

/// Seeds `store`: one file with each damage, one healthy file.
async fn seed<S: RepairFiles + Outbox>(store: &S) -> u64 {
    for (id, with_work_order) in [(DAMAGED, true), (HEALTHY, false)] {
        let mut file = file_as_made(id, Vec::new());
        if !with_work_order {
            file.mandate_id = Some(agora_domain::MandateId(9002));
        }
        store
            .upsert_repair(&LocalRepair {
                intervention_id: id,
                mandate_id: file.mandate_id,
                lifecycle: RepairLifecycle::direct(file.manufacturer_id, file.intervention_type()),
                file,
                claim_id: None,
                orders: Vec::new(),
                attention: None,
                revision: 0,
                work_order: with_work_order.then(work_order),
                accepted_at: None,
            })
            .await
            .unwrap();
    }
    // Two parts sent, then ordered under one number for the call.
    let sent = file_as_made(DAMAGED, vec![part("A"), part("B")]);
    delivered(
        store,
        DAMAGED,
        Operation::UpdateRepair(sent.clone()),
        Attempt::Delivered(OperationAnswer::Done),
    )
    .await;
    delivered(
        store,
        DAMAGED,
        Operation::PlaceOrder(DAMAGED),
        Attempt::Delivered(OperationAnswer::Ordered(vec![line("O-1", None)])),
    )
    .await;
    // A status refused (E).
    let mut refused = sent.clone();
    refused.state_natures.as_mut().unwrap().push(status("305"));
    let refused_entry = delivered(
        store,
        DAMAGED,
        Operation::UpdateRepair(refused),
        Attempt::Refused("AgoraPlus answered with an error: status 305 refused".into()),
    )
    .await;
    // The file as earlier versions left it: B still to be ordered, one
    // order line, the refused status kept.
    let mut repair = store.repair(DAMAGED).await.unwrap().unwrap();
    let parts = repair.file.parts.as_mut().unwrap();
    parts.clear();
    parts.push(Part {
        order_number: Some(OrderNumber::from("O-1")),
        to_be_ordered: Some(false),
        ..part("A")
    });
    parts.push(part("B"));
    repair.orders = vec![line("O-1", Some("A"))];
    repair
        .file
        .state_natures
        .as_mut()
        .unwrap()
        .push(status("305"));
    store.upsert_repair(&repair).await.unwrap();
    refused_entry
}

async fn doctor_mends_each_damage_once<S: RepairFiles + Outbox + Clone>(store: S) {
    let refused_entry = seed(&store).await;
    let app = Agora::new(
        (),
        store.clone(),
        Arc::new(SystemClock),
        AppConfig::default(),
    );
    let before = store.repair(DAMAGED).await.unwrap().unwrap();

    // Listed, nothing changed.
    let listed = app.doctor(false).await.unwrap();
    assert!(!listed.fixed);
    let kinds =
        |c: &agora_app::Checkup, k: MendKind| c.mends.iter().filter(|m| m.kind == k).count();
    assert_eq!(kinds(&listed, MendKind::PartOrdered), 2, "{listed:#?}");
    assert_eq!(kinds(&listed, MendKind::RefusedStatus), 1, "{listed:#?}");
    assert_eq!(kinds(&listed, MendKind::WorkOrderField), 4, "{listed:#?}");
    assert!(listed.mends.iter().all(|m| m.intervention_id == DAMAGED));
    assert!(listed.mends.iter().all(|m| m.update_entry.is_none()));
    assert!(
        listed
            .mends
            .iter()
            .any(|m| m.change.contains("status 305")
                && m.change.contains(&refused_entry.to_string())),
        "{listed:#?}"
    );
    assert_eq!(store.repair(DAMAGED).await.unwrap().unwrap(), before);
    assert!(
        store
            .entries(OutboxState::Pending)
            .await
            .unwrap()
            .is_empty()
    );

    // Mended.
    let fixed = app.doctor(true).await.unwrap();
    assert!(fixed.fixed);
    assert_eq!(fixed.mends.len(), listed.mends.len(), "{fixed:#?}");
    let after = store.repair(DAMAGED).await.unwrap().unwrap();
    let parts = after.file.parts.as_ref().unwrap();
    assert!(!after.file.has_parts_to_order(), "{parts:?}");
    assert_eq!(parts[1].order_number, Some(OrderNumber::from("O-1")));
    assert_eq!(after.orders.len(), 2, "{:?}", after.orders);
    let codes: Vec<String> = after
        .file
        .state_natures
        .iter()
        .flatten()
        .map(|s| s.code.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(codes, ["102"]);
    assert!(
        after
            .attention
            .as_deref()
            .unwrap()
            .contains(&refused_entry.to_string())
    );
    let consumer = after.file.consumer.as_ref().unwrap();
    assert_eq!(consumer.zip.as_deref(), Some("69001"));
    assert_eq!(consumer.town.as_deref(), Some("Lyon"));
    assert_eq!(consumer.last_name.as_deref(), Some("Durand"));
    assert_eq!(after.file.serial_number.as_deref(), Some("SN-42"));

    // AgoraPlus learns of the filled fields: one update of the mended file.
    let pending = store.entries(OutboxState::Pending).await.unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    let Operation::UpdateRepair(sent) = &pending[0].operation else {
        panic!("{pending:?}");
    };
    assert_eq!(sent, &after.file);
    let entries: Vec<Option<u64>> = fixed
        .mends
        .iter()
        .filter(|m| m.kind == MendKind::WorkOrderField)
        .map(|m| m.update_entry)
        .collect();
    assert!(
        entries.iter().all(|e| *e == Some(pending[0].id)),
        "{entries:?}"
    );
    assert!(
        fixed
            .mends
            .iter()
            .filter(|m| m.kind != MendKind::WorkOrderField)
            .all(|m| m.update_entry.is_none())
    );

    // A second run finds nothing and changes nothing.
    let again = app.doctor(true).await.unwrap();
    assert!(again.mends.is_empty(), "{again:#?}");
    assert_eq!(store.repair(DAMAGED).await.unwrap().unwrap(), after);
    assert_eq!(store.entries(OutboxState::Pending).await.unwrap().len(), 1);
    assert!(app.doctor(false).await.unwrap().mends.is_empty());
}

#[tokio::test]
async fn doctor_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = agora_store_sqlite::SqliteStore::open(dir.path().join("agora.db")).unwrap();
    doctor_mends_each_damage_once(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_on_postgres() {
    let server =
        agora_store_postgres::throwaway::Server::start().unwrap_or_else(|why| panic!("{why}"));
    let url = server.create_database("doctor").await.unwrap();
    let store = agora_store_postgres::PostgresStore::connect(&url)
        .await
        .unwrap();
    doctor_mends_each_damage_once(store).await;
}
