//! The in-memory AgoraPlus through the ports: a whole repair, tenant
//! isolation, the rules it enforces, master data, faults and determinism.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_domain::{
    ClaimStatus, CompleteRepairState, CountryCode, Intervention, InterventionTypeId,
    InvoiceReference, Lcid, LogisticStatus, MandateLightResponse, ManufacturerId, Part, SparePart,
    StateNature, StatusCode, WarrantyClaim, WireDateTime,
};
use agora_mock::{Faults, SimConfig, Simulator};
use agora_ports::{
    AgoraError, Catalog, ClaimSubmission, Claims, Clock, DeltaQuery, Invoices, Mandates,
    PartOrders, Repairs, bom_by_reference, collect_records,
};
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
        let mut t = self.0.lock().unwrap();
        *t += d;
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock(Mutex::new(
        "2024-03-01T09:00:00Z".parse().unwrap(),
    )))
}

fn sim_with(tenants: &[&str], locked: &[&str]) -> (Simulator, Arc<ManualClock>) {
    let clock = clock();
    let config = SimConfig {
        tenants: tenants.iter().map(|s| (*s).to_owned()).collect(),
        locked: locked.iter().map(|s| (*s).to_owned()).collect(),
        seed: 7,
        catalog_size: 200,
        ..SimConfig::default()
    };
    (Simulator::with_clock(config, clock.clone()), clock)
}

fn work_order(oem: u32, repair_type: u32) -> MandateLightResponse {
    serde_json::from_value(json!({
        "ManufacturerId": oem, "OEMId": oem, "InterventionTypeId": repair_type,
        "ClientCode": "CL-1",
        "Consumer": {"Title": "2", "LastName": "Martin", "FirstName": "Claire", "Address1": "12 rue des Lilas"}
    }))
    .unwrap()
}

fn at(s: &str) -> WireDateTime {
    WireDateTime::parse(s).unwrap()
}

fn claim_for(intervention: i64, serial: &str) -> WarrantyClaim {
    serde_json::from_value(json!({
        "ClaimType": {"InterventionId": intervention, "ManufacturerId": 19,
                      "CommercialRef": "ECAM22.110.B", "SerialNumber": serial},
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
async fn a_whole_repair_from_work_order_to_invoice() {
    let (sim, _) = sim_with(&["a"], &[]);
    let api = sim.client("a");
    let mandate_id = sim.publish_mandate("a", work_order(19, 1)).unwrap();

    // Listing does not accept; auto-accept creates the repair file.
    let listed = api.new_mandates(false).await.unwrap().data;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].intervention_id, None);
    let accepted = api.new_mandates(true).await.unwrap().data;
    assert_eq!(
        accepted[0].mandate.as_ref().unwrap().mandate_id,
        Some(mandate_id)
    );
    let intervention = accepted[0].intervention_id.unwrap();
    assert!(
        api.new_mandates(true).await.unwrap().data.is_empty(),
        "accepted once"
    );
    let again = api.accepted_mandates().await.unwrap().data;
    assert_eq!(again[0].intervention_id, Some(intervention));

    // Appointment confirmed (102): dates required.
    let mut file = CompleteRepairState {
        intervention_id: Some(intervention),
        commercial_ref: Some("ECAM22.110.B".into()),
        intervention: Some(Intervention {
            intervention_type: Some(InterventionTypeId(1)),
            ..Intervention::default()
        }),
        ..CompleteRepairState::default()
    };
    file.extra.insert("ServiceCenterRef".into(), json!("SC-77"));
    let mut status = StateNature::new(StatusCode::AppointmentConfirmed, "RDV");
    file.state_natures = Some(vec![status.clone()]);
    let err = api.update_repair(&file).await.unwrap_err();
    assert!(
        matches!(err, AgoraError::Rejected(ref m) if m.message.as_deref().unwrap().contains("AppointmentDate")),
        "{err}"
    );
    status.appointment_date = Some(at("2024-03-02T08:00:00.000Z"));
    status.appointment_end_date = Some(at("2024-03-02T09:00:00.000Z"));
    file.state_natures = Some(vec![status]);
    api.update_repair(&file).await.unwrap();
    // The same whole file again changes nothing (idempotent).
    api.update_repair(&file).await.unwrap();

    // A part to order, ordered, shipped, received.
    file.parts = Some(vec![Part {
        reference: Some("00019-00000001".into()),
        quantity: Some(1),
        to_be_ordered: Some(true),
        ..Part::default()
    }]);
    file.state_natures
        .as_mut()
        .unwrap()
        .push(StateNature::new(StatusCode::PartsOrdered, "ordered"));
    api.update_repair(&file).await.unwrap();
    let lines = api.place_order(intervention).await.unwrap().data;
    assert_eq!(lines.len(), 1);
    let order = lines[0].order_number.clone().unwrap();
    assert!(
        api.place_order(intervention).await.unwrap().data.is_empty(),
        "ordered once"
    );
    assert_eq!(
        api.order_tracking(intervention).await.unwrap().data[0].status_code,
        None
    );
    sim.set_logistic("a", &order, "208").unwrap();
    let tracked = api.order_tracking(intervention).await.unwrap().data;
    assert_eq!(tracked[0].status_code, Some(LogisticStatus::Shipped));
    assert!(sim.set_logistic("a", &order, "209").is_err());

    let mut received = StateNature::new(StatusCode::PartsReceived, "received");
    file.state_natures.as_mut().unwrap().push(received.clone());
    assert!(
        api.update_repair(&file).await.is_err(),
        "201 needs reference and order number"
    );
    file.state_natures.as_mut().unwrap().pop();
    received.parts = Some(vec![Part {
        reference: Some("00019-00000001".into()),
        order_number: Some(order.clone()),
        ..Part::default()
    }]);
    file.state_natures.as_mut().unwrap().push(received);
    file.state_natures
        .as_mut()
        .unwrap()
        .push(StateNature::new(StatusCode::RepairFinished, "done"));
    api.update_repair(&file).await.unwrap();

    // A claim with a mistake, judged in French; 601 set by AgoraPlus.
    let french = ClaimSubmission {
        language: Lcid::FRENCH,
        transfer_if_valid: true,
    };
    let result = api
        .create_claim(&claim_for(intervention.0, "12345"), french)
        .await
        .unwrap()
        .data;
    assert_eq!(result.is_valid, Some(false));
    let errors = result.validation_errors.unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field.as_deref(), Some("Serial Number"));
    assert_eq!(
        errors[0].error_message.as_deref(),
        Some("La taille du champ doit être de 19 caractère(s)")
    );
    let claim_id = result.claim_id.unwrap();
    let state = sim.state("a").unwrap();
    let history = state["Repairs"][0]["File"]["StateNatures"]
        .as_array()
        .unwrap();
    assert_eq!(history.last().unwrap()["Code"], "601");
    assert_eq!(
        state["Repairs"][0]["File"]["ServiceCenterRef"], "SC-77",
        "unknown fields kept"
    );
    // The file is closed now.
    let err = api.update_repair(&file).await.unwrap_err();
    assert!(err.to_string().contains("closed"), "{err}");
    assert_eq!(
        api.claim_status(claim_id).await.unwrap().data.last_status,
        Some(ClaimStatus::NotValid)
    );
    // A second claim for the same file is refused.
    assert!(
        api.create_claim(&claim_for(intervention.0, "1234567890123456789"), french)
            .await
            .is_err()
    );

    // Corrected: VALID and transferred; the OEM accepts.
    let mut fixed = claim_for(intervention.0, "1234567890123456789");
    fixed.claim_id = Some(claim_id);
    let result = api.update_claim(&fixed, french).await.unwrap().data;
    assert_eq!(result.is_valid, Some(true));
    assert!(
        sim.decide_claim("a", claim_id, ClaimStatus::Valid, None)
            .is_err()
    );
    sim.decide_claim(
        "a",
        claim_id,
        ClaimStatus::ClosedAccepted,
        Some("OK".into()),
    )
    .unwrap();
    let tracking = api.claim_status(claim_id).await.unwrap().data;
    assert_eq!(tracking.last_status, Some(ClaimStatus::ClosedAccepted));
    assert_eq!(tracking.comment.as_deref(), Some("OK"));

    // Draft invoice matched, invoice reference sent once.
    let (draft, claims) = sim.draft_invoice("a", ManufacturerId(19)).unwrap();
    assert_eq!(claims, [claim_id]);
    assert!(
        sim.draft_invoice("a", ManufacturerId(19)).is_err(),
        "nothing left to draft"
    );
    let reference = InvoiceReference {
        invoice_number: Some("F-2024-001".into()),
        draft_invoice_number: Some(draft.clone()),
        ..InvoiceReference::default()
    };
    api.send_invoice_reference(&reference).await.unwrap();
    let err = api.send_invoice_reference(&reference).await.unwrap_err();
    assert!(err.to_string().contains("already linked"), "{err}");
    assert_eq!(sim.state("a").unwrap()["Repairs"][0]["Invoiced"], true);
}

#[tokio::test]
async fn accounts_are_isolated_and_keys_checked() {
    let (sim, _) = sim_with(&["a", "b"], &["locked"]);
    sim.publish_mandate("a", work_order(19, 1)).unwrap();
    let a = sim.client("a");
    let b = sim.client("b");
    let intervention = a.new_mandates(true).await.unwrap().data[0]
        .intervention_id
        .unwrap();
    assert!(b.new_mandates(true).await.unwrap().data.is_empty());
    assert!(b.accepted_mandates().await.unwrap().data.is_empty());

    // a's repair file, part order, claim, draft invoice and product key
    // exist: a reaches each of them, b none.
    let mut file = CompleteRepairState {
        intervention_id: Some(intervention),
        parts: Some(vec![Part {
            reference: Some("00019-00000001".into()),
            quantity: Some(1),
            to_be_ordered: Some(true),
            ..Part::default()
        }]),
        ..CompleteRepairState::default()
    };
    a.update_repair(&file).await.unwrap();
    let order = a.place_order(intervention).await.unwrap().data[0]
        .order_number
        .clone()
        .unwrap();
    assert_eq!(a.order_tracking(intervention).await.unwrap().data.len(), 1);
    let french = ClaimSubmission {
        language: Lcid::FRENCH,
        transfer_if_valid: true,
    };
    let claim = claim_for(intervention.0, "1234567890123456789");
    let claim_id = a
        .create_claim(&claim, french)
        .await
        .unwrap()
        .data
        .claim_id
        .unwrap();
    assert_eq!(
        a.claim_status(claim_id).await.unwrap().data.last_status,
        Some(ClaimStatus::Valid)
    );
    let hits = a
        .search_products(ManufacturerId(19), "T19-000004", CountryCode(250))
        .await
        .unwrap()
        .data;
    let product_key = hits[0].product_key.clone().unwrap();
    assert!(!a.bom(&product_key).await.unwrap().data.is_empty());

    assert!(matches!(
        b.order_tracking(intervention).await,
        Err(AgoraError::NotFound(_))
    ));
    assert!(matches!(
        b.place_order(intervention).await,
        Err(AgoraError::NotFound(_))
    ));
    file.parts = None;
    assert!(matches!(
        b.update_repair(&file).await,
        Err(AgoraError::NotFound(_))
    ));
    assert!(matches!(
        b.create_claim(&claim, french).await,
        Err(AgoraError::NotFound(_))
    ));
    assert!(matches!(
        b.claim_status(claim_id).await,
        Err(AgoraError::NotFound(_))
    ));
    let mut correction = claim.clone();
    correction.claim_id = Some(claim_id);
    assert!(matches!(
        b.update_claim(&correction, french).await,
        Err(AgoraError::NotFound(_))
    ));
    assert!(matches!(
        b.bom(&product_key).await,
        Err(AgoraError::NotFound(_))
    ));

    // The OEM accepts a's claim and drafts the invoice: only a links it.
    sim.decide_claim("a", claim_id, ClaimStatus::ClosedAccepted, None)
        .unwrap();
    let (draft, _) = sim.draft_invoice("a", ManufacturerId(19)).unwrap();
    let reference = InvoiceReference {
        invoice_number: Some("F-B-1".into()),
        draft_invoice_number: Some(draft.clone()),
        ..InvoiceReference::default()
    };
    assert!(matches!(
        b.send_invoice_reference(&reference).await,
        Err(AgoraError::NotFound(_))
    ));
    a.send_invoice_reference(&reference).await.unwrap();

    // Nothing of a's reached b's account, and b changed nothing of a's.
    let state_b = sim.state("b").unwrap();
    for list in ["Mandates", "Repairs", "Orders", "Claims", "DraftInvoices"] {
        assert_eq!(state_b[list], json!([]), "{list}: {state_b}");
    }
    let state_a = sim.state("a").unwrap();
    assert_eq!(state_a["Orders"][0]["Line"]["OrderNumber"], order.as_str());
    assert_eq!(state_a["Claims"][0]["LastStatus"], "CLOSEDACCEPTED");
    assert_eq!(state_a["Repairs"][0]["Invoiced"], true);

    assert!(matches!(
        sim.client("nobody").accepted_mandates().await,
        Err(AgoraError::Unauthorized(_))
    ));
    assert!(matches!(
        sim.client("locked").accepted_mandates().await,
        Err(AgoraError::Forbidden(_))
    ));
}

#[tokio::test]
async fn claims_only_for_covered_repair_types_and_601_never_from_a_client() {
    let (sim, _) = sim_with(&["a"], &[]);
    let api = sim.client("a");
    sim.publish_mandate("a", work_order(2, 7)).unwrap();
    let intervention = api.new_mandates(true).await.unwrap().data[0]
        .intervention_id
        .unwrap();
    let mut claim = claim_for(intervention.0, "123456789012");
    claim.claim_type.as_mut().unwrap().manufacturer_id = Some(ManufacturerId(2));
    let how = ClaimSubmission {
        language: Lcid::ENGLISH,
        transfer_if_valid: false,
    };
    let err = api.create_claim(&claim, how).await.unwrap_err();
    assert!(err.to_string().contains("does not cover"), "{err}");
    let file = CompleteRepairState {
        intervention_id: Some(intervention),
        state_natures: Some(vec![StateNature::new(
            StatusCode::ClosedWithWarrantyIntervention,
            "",
        )]),
        ..CompleteRepairState::default()
    };
    let err = api.update_repair(&file).await.unwrap_err();
    assert!(err.to_string().contains("601"), "{err}");
    // A direct repair file needs its OEM, reference and repair type.
    let err = api
        .create_repair(&CompleteRepairState::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ManufacturerId"), "{err}");
    // And what the reference marks required, every missing field named;
    // a repair origin other than the reference's two is malformed.
    let lacking: CompleteRepairState = serde_json::from_value(agora_mock::sample::walk_in_with(
        json!({"ManufacturingCode": " ", "Consumer": {"Phone": null}}),
    ))
    .unwrap();
    let err = api.create_repair(&lacking).await.unwrap_err();
    assert!(matches!(err, AgoraError::BadRequest(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("ManufacturingCode and Consumer.Phone are required"),
        "{err}"
    );
    let odd_origin: CompleteRepairState = serde_json::from_value(agora_mock::sample::walk_in_with(
        json!({"Intervention": {"RepairOriginCode": "AAA"}}),
    ))
    .unwrap();
    let err = api.create_repair(&odd_origin).await.unwrap_err();
    assert!(matches!(err, AgoraError::BadRequest(_)), "{err:?}");
    assert!(err.to_string().contains("`AAA`"), "{err}");
    let complete = agora_mock::sample::walk_in("SN-42");
    assert!(api.create_repair(&complete).await.is_ok());
}

#[tokio::test]
async fn deltas_search_and_bom_with_expiring_keys() {
    let (sim, clock) = sim_with(&["a"], &[]);
    let api = sim.client("a");
    let all = DeltaQuery {
        manufacturer: ManufacturerId(19),
        since: jiff::civil::date(2000, 1, 1),
        language: Lcid::ENGLISH,
    };
    let parts = collect_records(api.spare_parts_delta(all).await.unwrap())
        .await
        .unwrap();
    assert_eq!(parts.len(), 200);
    let products = collect_records(api.products_delta(all).await.unwrap())
        .await
        .unwrap();
    assert_eq!(products.len(), 20);
    let recent = DeltaQuery {
        since: jiff::civil::date(2023, 1, 1),
        ..all
    };
    let some = collect_records(api.spare_parts_delta(recent).await.unwrap())
        .await
        .unwrap();
    assert!(!some.is_empty() && some.len() < 200, "{}", some.len());
    // Nothing changed since today… until the OEM publishes.
    let today = DeltaQuery {
        since: jiff::civil::date(2024, 1, 1),
        ..all
    };
    assert!(
        collect_records(api.spare_parts_delta(today).await.unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    let changed = SparePart {
        reference: Some("00019-00000003".into()),
        label: Some("Water pump v2".into()),
        ..SparePart::default()
    };
    sim.publish_spare_parts("a", ManufacturerId(19), vec![changed.clone()])
        .unwrap();
    let delta = collect_records(api.spare_parts_delta(today).await.unwrap())
        .await
        .unwrap();
    assert_eq!(delta, [changed]);
    let full = collect_records(api.spare_parts_delta(all).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        full.len(),
        200,
        "a republished part replaces the generated one"
    );

    // BOM by reference; keys expire.
    let found = bom_by_reference(&api, ManufacturerId(19), "P19-000004", CountryCode(250))
        .await
        .unwrap()
        .unwrap();
    assert!((3..=8).contains(&found.lines.len()));
    let hits = api
        .search_products(ManufacturerId(19), "T19-000004", CountryCode(250))
        .await
        .unwrap()
        .data;
    let key = hits[0].product_key.clone().unwrap();
    assert!(api.bom(&key).await.is_ok());
    clock.advance(Duration::from_secs(601));
    assert!(matches!(
        api.bom(&key).await,
        Err(AgoraError::ProductKeyExpired(_))
    ));
    assert!(matches!(
        sim.client("a").bom("PK-nope").await,
        Err(AgoraError::NotFound(_))
    ));
    assert!(
        api.search_products(ManufacturerId(19), "nothing", CountryCode(250))
            .await
            .unwrap()
            .data
            .is_empty()
    );
}

#[tokio::test]
async fn faults_refuse_or_drop_after_commit() {
    let (sim, _) = sim_with(&["a"], &[]);
    let api = sim.client("a");
    sim.set_faults(
        "a",
        Faults {
            status503_rate: 1.0,
            retry_after_seconds: Some(2),
            ..Faults::default()
        },
    )
    .unwrap();
    let err = api.accepted_mandates().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
    sim.set_faults(
        "a",
        Faults {
            drop_after_commit_rate: 1.0,
            ..Faults::default()
        },
    )
    .unwrap();
    let file: CompleteRepairState = serde_json::from_value(agora_mock::sample::walk_in_with(
        json!({"CommercialRef": "X"
        }),
    ))
    .unwrap();
    let err = api.create_repair(&file).await.unwrap_err();
    assert!(err.is_in_doubt(), "{err:?}");
    sim.set_faults("a", Faults::default()).unwrap();
    assert_eq!(
        sim.state("a").unwrap()["Repairs"].as_array().unwrap().len(),
        1,
        "applied"
    );
    assert!(
        sim.set_faults(
            "a",
            Faults {
                status500_rate: 1.5,
                ..Faults::default()
            }
        )
        .is_err()
    );
}

async fn scripted(seed: u64) -> serde_json::Value {
    let clock = clock();
    let config = SimConfig {
        seed,
        catalog_size: 50,
        ..SimConfig::default()
    };
    let sim = Simulator::with_clock(config, clock);
    sim.set_faults(
        "demo",
        Faults {
            status503_rate: 0.3,
            ..Faults::default()
        },
    )
    .unwrap();
    let api = sim.client("demo");
    let mut outcomes = Vec::new();
    for i in 0..20 {
        sim.publish_mandate("demo", work_order(19, 1)).unwrap();
        outcomes.push(api.new_mandates(true).await.is_ok());
        let hits = api
            .search_products(ManufacturerId(19), &format!("P19-{i:06}"), CountryCode(250))
            .await;
        outcomes.push(hits.is_ok_and(|h| h.data.len() == 1));
    }
    json!({"state": sim.state("demo").unwrap(), "outcomes": outcomes,
           "parts": sim.catalog().part(ManufacturerId(19), 3, Lcid::ENGLISH)})
}

#[tokio::test]
async fn the_same_seed_gives_the_same_run() {
    assert_eq!(scripted(42).await, scripted(42).await);
    assert_ne!(scripted(42).await, scripted(43).await);
}

#[tokio::test]
async fn a_publication_with_a_record_without_key_publishes_nothing() {
    let (sim, _) = sim_with(&["a"], &[]);
    let good = SparePart {
        reference: Some("X-1".into()),
        ..SparePart::default()
    };
    let err = sim
        .publish_spare_parts(
            "a",
            ManufacturerId(19),
            vec![good.clone(), SparePart::default()],
        )
        .unwrap_err();
    assert!(err.to_string().contains("spare part 1 has no key"), "{err}");
    let today = DeltaQuery {
        manufacturer: ManufacturerId(19),
        since: jiff::civil::date(2024, 1, 1),
        language: Lcid::ENGLISH,
    };
    let api = sim.client("a");
    let delta = collect_records(api.spare_parts_delta(today).await.unwrap())
        .await
        .unwrap();
    assert!(delta.is_empty(), "nothing was published: {delta:?}");
    assert_eq!(
        sim.publish_spare_parts("a", ManufacturerId(19), vec![good.clone()])
            .unwrap(),
        1
    );
    let delta = collect_records(api.spare_parts_delta(today).await.unwrap())
        .await
        .unwrap();
    assert_eq!(delta, [good]);
}

/// A repair up to its invoice where every creation is sent twice and the
/// whole file once more in its older version: with the guards on, the
/// second sends are refused or merged and the journal holds each intent
/// once; with them off, each is applied and the journal counts it as a
/// duplicate of the first.
async fn sent_twice(apply_duplicates: bool) -> (Simulator, Vec<agora_mock::JournalRecord>) {
    let (sim, _) = sim_with(&["a"], &[]);
    sim.set_apply_duplicates(apply_duplicates);
    let api = sim.client("a");
    sim.publish_mandate("a", work_order(19, 1)).unwrap();
    let intervention = api.new_mandates(true).await.unwrap().data[0]
        .intervention_id
        .unwrap();
    let mut status = StateNature::new(StatusCode::AppointmentConfirmed, "RDV");
    status.appointment_date = Some(at("2024-03-02T08:00:00.000Z"));
    status.appointment_end_date = Some(at("2024-03-02T09:00:00.000Z"));
    let mut file = CompleteRepairState {
        intervention_id: Some(intervention),
        commercial_ref: Some("ECAM22.110.B".into()),
        intervention: Some(Intervention {
            intervention_type: Some(InterventionTypeId(1)),
            ..Intervention::default()
        }),
        parts: Some(vec![Part {
            reference: Some("00019-00000001".into()),
            quantity: Some(1),
            to_be_ordered: Some(true),
            ..Part::default()
        }]),
        state_natures: Some(vec![status]),
        ..CompleteRepairState::default()
    };
    let older = file.clone();
    api.update_repair(&file).await.unwrap();
    let first = api.place_order(intervention).await.unwrap().data;
    let second = api.place_order(intervention).await.unwrap().data;
    assert_eq!(first.len(), 1);
    assert_eq!(second.len(), usize::from(apply_duplicates), "{second:?}");
    let order = first[0].order_number.clone().unwrap();
    file.parts.as_mut().unwrap()[0].order_number = Some(order.clone());
    file.parts.as_mut().unwrap()[0].to_be_ordered = Some(false);
    let mut received = StateNature::new(StatusCode::PartsReceived, "received");
    received.parts = Some(vec![Part {
        reference: Some("00019-00000001".into()),
        order_number: Some(order),
        ..Part::default()
    }]);
    let history = file.state_natures.as_mut().unwrap();
    history.push(StateNature::new(StatusCode::PartsOrdered, "ordered"));
    history.push(received);
    history.push(StateNature::new(StatusCode::RepairFinished, "done"));
    api.update_repair(&file).await.unwrap();
    // The older whole file lands last.
    api.update_repair(&older).await.unwrap();
    let held = sim.state("a").unwrap()["Repairs"][0]["File"]["StateNatures"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(held, if apply_duplicates { 1 } else { 4 });
    api.update_repair(&file).await.unwrap();

    let how = ClaimSubmission {
        language: Lcid::ENGLISH,
        transfer_if_valid: true,
    };
    let claim = claim_for(intervention.0, "1234567890123456789");
    let claim_id = api.create_claim(&claim, how).await.unwrap().data.claim_id;
    let again = api.create_claim(&claim, how).await;
    assert_eq!(again.is_ok(), apply_duplicates, "{again:?}");
    sim.decide_claim("a", claim_id.unwrap(), ClaimStatus::ClosedAccepted, None)
        .unwrap();
    let (draft, _) = sim.draft_invoice("a", ManufacturerId(19)).unwrap();
    let reference = InvoiceReference {
        invoice_number: Some("F-1".into()),
        draft_invoice_number: Some(draft),
        ..InvoiceReference::default()
    };
    api.send_invoice_reference(&reference).await.unwrap();
    let again = api.send_invoice_reference(&reference).await;
    assert_eq!(again.is_ok(), apply_duplicates, "{again:?}");
    let journal = sim.journal("a").unwrap();
    assert_eq!(
        sim.state("a").unwrap()["Journal"],
        serde_json::to_value(&journal).unwrap(),
        "the state dump carries the journal"
    );
    (sim, journal)
}

#[tokio::test]
async fn the_journal_counts_every_duplicate_the_guards_would_absorb() {
    let intents = |journal: &[agora_mock::JournalRecord]| -> Vec<String> {
        journal
            .iter()
            .filter(|r| r.is_duplicate())
            .map(|r| r.intent.clone())
            .collect()
    };
    let (_, guarded) = sent_twice(false).await;
    assert_eq!(intents(&guarded), Vec::<String>::new(), "{guarded:#?}");
    assert!(
        guarded
            .iter()
            .any(|r| r.intent.starts_with("repair file for work order"))
    );
    assert_eq!(
        guarded
            .iter()
            .filter(|r| r.route == "PlaceRepairSparepartOrder")
            .count(),
        1
    );
    let (_, open) = sent_twice(true).await;
    let dups = intents(&open);
    assert_eq!(dups.len(), 3, "{open:#?}");
    for (route, dup) in [
        (
            "PlaceRepairSparepartOrder",
            "order of part 00019-00000001 for file",
        ),
        ("CreateWarrantyClaims", "claim for file"),
        ("CreateeInvoice", "invoice of draft"),
    ] {
        let record = open
            .iter()
            .find(|r| r.is_duplicate() && r.route == route)
            .unwrap_or_else(|| panic!("no duplicate {route}: {open:#?}"));
        assert!(record.intent.starts_with(dup), "{record:?}");
        let first = &open[record.duplicate_of.unwrap() as usize - 1];
        assert_eq!(first.intent, record.intent);
        assert!(first.seq < record.seq && !first.is_duplicate());
    }
}
