//! `agora record` and `agora-sim --replay` round-trip a whole repair: the
//! recorder, with the simulator as its upstream, records every call of a
//! repair run by the HTTP client (work order auto-accepted, statuses,
//! order and tracking, a claim refused then corrected, its tracking, the
//! invoice reference, a catalog delta); no file holds the key in any form
//! or the consumer's personal data; the replay server, serving those
//! files, gives the same client the same answers, and 501 to a request
//! nothing recorded.
//!
//! `AGORA_WRITE_RECORDINGS=1 cargo test -p agora-tests --test
//! record_replay` also writes the files to `tests/recordings/sim-whole-repair/`,
//! where `recordings.rs` reads them.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use agora_domain::{
    ClaimStatus, CompleteRepairState, Lcid, MandateLightResponse, ManufacturerId, WarrantyClaim,
};
use agora_http::{AgoraClient, ApiKey, ClientConfig, Environment, RetryPolicy};
use agora_mock::{SimConfig, Simulator};
use agora_ports::{AgoraError, ClaimSubmission, DeltaQuery, Reply, collect_records};
use agora_sim::record::{RecorderConfig, RecorderServer};
use agora_sim::recording::{Recording, comparable_body};
use agora_sim::replay::{Replay, ReplayServer};
use agora_tests::serve;
use serde::Serialize;
use serde_json::{Value, json};

/// A key with characters a server escapes in JSON (`+`, `/`) and in a URL
/// (`+`, `/`, `=`), so that every masked form is exercised.
const KEY: &str = "rec+Key/Whole=Repair-0001";

/// The consumer's personal data, which no recording may hold.
const PERSONAL: [&str; 6] = [
    "Durand",
    "Paul",
    "3 place Bellecour",
    "0612345678",
    "0478123456",
    "paul.durand@example.com",
];

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn client(url: String) -> AgoraClient {
    let config = ClientConfig::new(Environment::Custom(url), ApiKey::new(KEY))
        .with_retry(RetryPolicy::none());
    AgoraClient::new(config).unwrap()
}

fn work_order() -> MandateLightResponse {
    serde_json::from_value(json!({
        "ManufacturerId": 19, "OEMId": 19, "InterventionTypeId": 1,
        "Consumer": {"Title": "3", "LastName": "Durand", "FirstName": "Paul",
                     "Address1": "3 place Bellecour", "Phone": "0478123456"}
    }))
    .unwrap()
}

fn repair_file(intervention: i64, statuses: &Value) -> CompleteRepairState {
    serde_json::from_value(json!({
        "InterventionId": intervention,
        "CommercialRef": "ECAM22.110.B",
        "Consumer": {"Title": 3, "LastName": "Durand", "FirstName": "Paul",
                     "Address1": "3 place Bellecour", "Zip": "69002", "Town": "Lyon",
                     "Country": 250, "Phone": "0478123456", "SMSCode": "0612345678",
                     "Email": "paul.durand@example.com"},
        "Intervention": {"InterventionType": 1, "RepairOriginCode": "CONSUMER"},
        "Parts": [{"Reference": "00019-00000007", "Quantity": 1, "ToBeOrdered": true}],
        "StateNatures": statuses,
    }))
    .unwrap()
}

fn claim(intervention: i64, serial: &str, claim_id: Option<i64>) -> WarrantyClaim {
    serde_json::from_value(json!({
        "ClaimID": claim_id,
        "ClaimType": {"InterventionId": intervention, "ManufacturerId": 19,
                      "CommercialRef": "ECAM22.110.B", "SerialNumber": serial},
        "ClaimConso": {"LastName": "Durand", "FirstName": "Paul", "StreetNumber": "3",
                       "Address1": "3 place Bellecour", "Zip": "69002", "City": "Lyon",
                       "MobilePhone": "0612345678", "Email": "paul.durand@example.com"},
        "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z"},
        "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 45.5}
    }))
    .unwrap()
}

/// What the OEM does between the client's calls: on the simulator while
/// recording; nothing while replaying (the recordings hold its effects).
struct Oem<'a>(Option<&'a Simulator>);

impl Oem<'_> {
    fn publish(&self) {
        if let Some(sim) = self.0 {
            sim.publish_mandate(KEY, work_order()).unwrap();
        }
    }
    fn ship(&self, order: &str) {
        if let Some(sim) = self.0 {
            sim.set_logistic(KEY, order, "208").unwrap();
        }
    }
    fn accept_claim(&self, claim: agora_domain::ClaimId) {
        if let Some(sim) = self.0 {
            sim.decide_claim(KEY, claim, ClaimStatus::ClosedAccepted, None)
                .unwrap();
        }
    }
    fn draft_invoice(&self) -> Option<String> {
        self.0.map(|sim| {
            sim.draft_invoice(KEY, ManufacturerId(19))
                .unwrap()
                .0
                .to_string()
        })
    }
}

/// One step's outcome as compared between the runs: the data, personal
/// data left out (replayed answers carry fakes), or the error's text.
fn seen<T: Serialize>(log: &mut Vec<Value>, step: &str, result: &Result<Reply<T>, AgoraError>) {
    let outcome = match result {
        Ok(reply) => {
            json!({"data": comparable_body(&serde_json::to_value(&reply.data).unwrap(), ""),
                            "warning": reply.warning})
        }
        Err(e) => json!({"error": e.to_string()}),
    };
    log.push(json!({"step": step, "outcome": outcome}));
}

/// A whole repair through the client; the log of what it saw. `draft` is
/// the draft invoice number when the OEM does not make one (replay).
async fn whole_repair(api: &AgoraClient, oem: &Oem<'_>, draft: Option<String>) -> Vec<Value> {
    let mut log = Vec::new();
    oem.publish();
    let orders = api.new_mandates(true).await;
    seen(&mut log, "GetNewMandates", &orders);
    let intervention = orders.unwrap().data[0].intervention_id.unwrap();
    seen(
        &mut log,
        "GetAcceptedMandates",
        &api.accepted_mandates().await,
    );

    let appointment = json!([
        {"Code": "102", "Comment": "RDV with Paul Durand", "AppointmentNumber": 1,
         "AppointmentDate": "2024-03-02T08:00:00.000Z", "AppointmentEndDate": "2024-03-02T09:00:00.000Z"},
        {"Code": "406", "Comment": "Diagnosis in progress"}
    ]);
    let file = repair_file(intervention.0, &appointment);
    seen(&mut log, "UpdateRepair", &api.update_repair(&file).await);

    let lines = api.place_order(intervention).await;
    seen(&mut log, "PlaceRepairSparepartOrder", &lines);
    let order = lines.unwrap().data[0].order_number.clone().unwrap();
    oem.ship(order.as_str());
    seen(
        &mut log,
        "GetSparepartOrderTracking",
        &api.order_tracking(intervention).await,
    );

    let mut done = appointment.as_array().unwrap().clone();
    done.push(json!({"Code": "201", "Comment": "received",
                     "Parts": [{"Reference": "00019-00000007", "OrderNumber": order.as_str()}]}));
    done.push(json!({"Code": "305", "Comment": "Repair completed"}));
    let file = repair_file(intervention.0, &Value::Array(done));
    seen(&mut log, "UpdateRepair", &api.update_repair(&file).await);

    let how = ClaimSubmission {
        language: Lcid::ENGLISH,
        transfer_if_valid: true,
    };
    let first = api
        .create_claim(&claim(intervention.0, "12345", None), how)
        .await;
    seen(&mut log, "CreateWarrantyClaims", &first);
    let claim_id = first.unwrap().data.claim_id.unwrap();
    // The file is closed by the claim (601): AgoraPlus refuses the update.
    seen(&mut log, "UpdateRepair", &api.update_repair(&file).await);
    let fixed = claim(intervention.0, "1234567890123456789", Some(claim_id.0));
    seen(
        &mut log,
        "UpdateWarrantyClaim",
        &api.update_claim(&fixed, how).await,
    );
    seen(
        &mut log,
        "GetWarrantyClaimStatus",
        &api.claim_status(claim_id).await,
    );
    oem.accept_claim(claim_id);
    seen(
        &mut log,
        "GetWarrantyClaimStatus",
        &api.claim_status(claim_id).await,
    );

    let draft = oem.draft_invoice().or(draft).unwrap();
    let reference = serde_json::from_value(
        json!({"InvoiceNumber": "F-2024-0001", "DraftInvoiceNumber": draft.as_str()}),
    )
    .unwrap();
    seen(
        &mut log,
        "CreateeInvoice",
        &api.send_invoice_reference(&reference).await,
    );
    seen(
        &mut log,
        "CreateeInvoice",
        &api.send_invoice_reference(&reference).await,
    );

    let delta = DeltaQuery {
        manufacturer: ManufacturerId(19),
        since: jiff::civil::date(2020, 1, 1),
        language: Lcid::ENGLISH,
    };
    let products = match api.products_delta(delta).await {
        Ok(records) => collect_records(records).await.map(Reply::ok),
        Err(e) => Err(e),
    };
    seen(&mut log, "PrintManufacturerProducts", &products);
    log.push(json!({"draft": draft}));
    log
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_whole_repair_is_recorded_and_replayed_alike() {
    let (sim, _clock) = serve(SimConfig {
        tenants: vec![KEY.into()],
        seed: 7,
        catalog_size: 20,
        ..SimConfig::default()
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let at = jiff::Timestamp::from_second(1_709_283_600).unwrap();
    let config = RecorderConfig::new(sim.url(), out.path(), Arc::new(move || at));
    let recorder = RecorderServer::start(config, loopback()).await.unwrap();

    let recorded = whole_repair(&client(recorder.url()), &Oem(Some(sim.simulator())), None).await;
    recorder.shutdown().await.unwrap();
    sim.shutdown().await.unwrap();

    // One file per call, named in the order of the session.
    let names: Vec<String> = files(out.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let expected = [
        "001-GetNewMandates-200.json",
        "002-GetAcceptedMandates-200.json",
        "003-UpdateRepair-200.json",
        "004-PlaceRepairSparepartOrder-200.json",
        "005-GetSparepartOrderTracking-200.json",
        "006-UpdateRepair-200.json",
        "007-CreateWarrantyClaims-200.json",
        "008-UpdateRepair-200.json",
        "009-UpdateWarrantyClaim-200.json",
        "010-GetWarrantyClaimStatus-200.json",
        "011-GetWarrantyClaimStatus-200.json",
        "012-CreateeInvoice-200.json",
        "013-CreateeInvoice-200.json",
        "014-PrintManufacturerProducts-200.json",
    ];
    assert_eq!(names, expected);

    // No key in any form, no personal data; fakes in their place.
    let escaped = KEY.replace('/', "\\/").replace('+', "\\u002B");
    let encoded = KEY
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let mut all = String::new();
    for path in files(out.path()) {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.display();
        for form in [KEY, escaped.as_str(), encoded.as_str()] {
            assert!(!text.contains(form), "{name} holds the key as {form}");
        }
        assert!(!agora_domain::redact::contains_key(&text, KEY), "{name}");
        for real in PERSONAL {
            assert!(!text.contains(real), "{name} holds {real}");
        }
        let recording = Recording::load(&path).unwrap();
        assert_eq!(recording.request.headers["api_key"], "***", "{name}");
        all.push_str(&text);
    }
    for fake in [
        "Lastname1",
        "Firstname1",
        "person1@example.invalid",
        "1 Example Street",
    ] {
        assert!(all.contains(fake), "no {fake} in the recordings");
    }
    // The client's own comment echoes the name: faked there too.
    assert!(all.contains("RDV with Firstname1 Lastname1"), "{all}");

    // Replayed: the same client sees the same answers.
    let draft = recorded
        .last()
        .and_then(|v| v["draft"].as_str())
        .map(str::to_owned);
    let replay = ReplayServer::start(Replay::from_dir(out.path()).unwrap(), loopback())
        .await
        .unwrap();
    let api = client(replay.url());
    let replayed = whole_repair(&api, &Oem(None), draft).await;
    assert_eq!(replayed, recorded);

    // A request nothing recorded: 501, naming it.
    let err = api
        .claim_status(agora_domain::ClaimId(999_999))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, AgoraError::UnexpectedStatus { status: 501, .. }),
        "{err:?}"
    );
    assert!(
        text.contains("GET /api/Repair/GetWarrantyClaimStatus?claimId=999999"),
        "{text}"
    );
    replay.shutdown().await.unwrap();

    if std::env::var_os("AGORA_WRITE_RECORDINGS").is_some() {
        let keep = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings/sim-whole-repair");
        let _ = std::fs::remove_dir_all(&keep);
        std::fs::create_dir_all(&keep).unwrap();
        for path in files(out.path()) {
            std::fs::copy(&path, keep.join(path.file_name().unwrap())).unwrap();
        }
    }
}
