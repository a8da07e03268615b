//! agora-http against agora-sim over loopback: every port end to end, the
//! errors as the client sees them, retries over injected faults, in-doubt
//! creates, streamed deltas and expiring product keys.
#![allow(clippy::unwrap_used)]

use agora_domain::{ClaimId, InterventionId};
use std::time::Duration;

use agora_domain::{
    ClaimStatus, CompleteRepairState, CountryCode, Intervention, InterventionTypeId,
    InvoiceReference, Lcid, LogisticStatus, MandateLightResponse, ManufacturerId, Part,
    StateNature, StatusCode, WarrantyClaim, WireDateTime,
};
use agora_mock::{Faults, SimConfig};
use agora_ports::{AgoraError, ClaimSubmission, DeltaQuery, bom_by_reference, collect_records};
use agora_tests::{client, serve};
use serde_json::json;

/// The two accounts' api keys (keys of a realistic length: a one-letter
/// key would be redacted from every message that holds the letter).
const A: &str = "tenant-a-key";
const B: &str = "tenant-b-key";

fn config(size: u64) -> SimConfig {
    SimConfig {
        tenants: vec![A.into(), B.into()],
        locked: vec!["locked".into()],
        seed: 3,
        catalog_size: size,
        ..SimConfig::default()
    }
}

fn work_order() -> MandateLightResponse {
    serde_json::from_value(json!({
        "ManufacturerId": 19, "OEMId": 19, "InterventionTypeId": 1,
        "Consumer": {"Title": "3", "LastName": "Durand", "FirstName": "Paul", "Address1": "3 place Bellecour"}
    }))
    .unwrap()
}

fn claim(intervention: i64, serial: &str) -> WarrantyClaim {
    serde_json::from_value(json!({
        "ClaimType": {"InterventionId": intervention, "ManufacturerId": 19,
                      "CommercialRef": "ECAM22.110.B", "SerialNumber": serial},
        "ClaimConso": {"LastName": "Durand", "Address1": "3 place Bellecour", "Zip": "69002",
                       "City": "Lyon", "MobilePhone": "0612345678"},
        "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z"},
        "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 45.5}
    }))
    .unwrap()
}

#[tokio::test]
async fn a_whole_repair_over_http() {
    let (server, _) = serve(config(100)).await;
    let sim = server.simulator().clone();
    let api = client(&server, A);
    sim.publish_mandate(A, work_order()).unwrap();

    let orders = api.new_mandates(true).await.unwrap().data;
    let intervention = orders[0].intervention_id.unwrap();
    assert_eq!(api.accepted_mandates().await.unwrap().data.len(), 1);

    let mut file = CompleteRepairState {
        intervention_id: Some(intervention),
        commercial_ref: Some("ECAM22.110.B".into()),
        intervention: Some(Intervention {
            intervention_type: Some(InterventionTypeId(1)),
            ..Intervention::default()
        }),
        parts: Some(vec![Part {
            reference: Some("00019-00000007".into()),
            quantity: Some(1),
            to_be_ordered: Some(true),
            ..Part::default()
        }]),
        ..CompleteRepairState::default()
    };
    let mut appointment = StateNature::new(StatusCode::AppointmentConfirmed, "RDV");
    appointment.appointment_date = Some(WireDateTime::parse("2024-03-02T08:00:00.000Z").unwrap());
    appointment.appointment_end_date =
        Some(WireDateTime::parse("2024-03-02T09:00:00.000Z").unwrap());
    file.state_natures = Some(vec![
        appointment,
        StateNature::new(StatusCode::Diagnosis, "diag"),
    ]);
    api.update_repair(&file).await.unwrap();

    let lines = api.place_order(intervention).await.unwrap().data;
    let order = lines[0].order_number.clone().unwrap();
    sim.set_logistic(A, &order, "208").unwrap();
    let tracked = api.order_tracking(intervention).await.unwrap().data;
    assert_eq!(tracked[0].status_code, Some(LogisticStatus::Shipped));
    assert!(tracked[0].status_date.is_some());

    let mut received = StateNature::new(StatusCode::PartsReceived, "received");
    received.parts = Some(vec![Part {
        reference: Some("00019-00000007".into()),
        order_number: Some(order),
        ..Part::default()
    }]);
    file.state_natures.as_mut().unwrap().push(received);
    file.state_natures
        .as_mut()
        .unwrap()
        .push(StateNature::new(StatusCode::RepairFinished, "done"));
    api.update_repair(&file).await.unwrap();

    let english = ClaimSubmission {
        language: Lcid::ENGLISH,
        transfer_if_valid: true,
    };
    let first = api
        .create_claim(&claim(intervention.0, "12345"), english)
        .await
        .unwrap()
        .data;
    assert_eq!(first.is_valid, Some(false));
    let message = first.validation_errors.unwrap()[0]
        .error_message
        .clone()
        .unwrap();
    assert_eq!(message, "The size of the field should be 19 character(s)");
    let id = first.claim_id.unwrap();
    // The file is closed (601): the client sees AgoraPlus's refusal.
    let err = api.update_repair(&file).await.unwrap_err();
    assert!(matches!(err, AgoraError::Rejected(_)), "{err:?}");

    let mut fixed = claim(intervention.0, "1234567890123456789");
    fixed.claim_id = Some(id);
    assert_eq!(
        api.update_claim(&fixed, english)
            .await
            .unwrap()
            .data
            .is_valid,
        Some(true)
    );
    assert_eq!(
        api.claim_status(id).await.unwrap().data.last_status,
        Some(ClaimStatus::Valid)
    );
    sim.decide_claim(A, id, ClaimStatus::ClosedAccepted, None)
        .unwrap();
    assert_eq!(
        api.claim_status(id).await.unwrap().data.last_status,
        Some(ClaimStatus::ClosedAccepted)
    );
    let (draft, _) = sim.draft_invoice(A, ManufacturerId(19)).unwrap();
    let reference = InvoiceReference {
        invoice_number: Some("F-1".into()),
        draft_invoice_number: Some(draft),
        ..InvoiceReference::default()
    };
    api.send_invoice_reference(&reference).await.unwrap();
    assert!(matches!(
        api.send_invoice_reference(&reference).await,
        Err(AgoraError::Rejected(_))
    ));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_client_sees_each_error_as_its_type() {
    let (server, _) = serve(config(10)).await;
    assert!(matches!(
        client(&server, "nobody").accepted_mandates().await,
        Err(AgoraError::Unauthorized(_))
    ));
    assert!(matches!(
        client(&server, "locked").accepted_mandates().await,
        Err(AgoraError::Forbidden(_))
    ));
    let api = client(&server, A);
    // Tracking routes are list routes: AgoraPlus's 404 "no results" is an
    // empty answer there (reference 5.3.3).
    assert!(
        api.order_tracking(InterventionId(42))
            .await
            .unwrap()
            .data
            .is_empty()
    );
    assert_eq!(
        api.claim_status(ClaimId(42))
            .await
            .unwrap()
            .data
            .last_status,
        None
    );
    let err = api
        .create_repair(&CompleteRepairState::default())
        .await
        .unwrap_err();
    // The reference's 400 "the request is incomplete" (5.3.3); an E
    // envelope saying the same is read as Rejected.
    assert!(
        matches!(err, AgoraError::BadRequest(ref m) | AgoraError::Rejected(ref m)
            if m.message.as_deref().unwrap().contains("ManufacturerId")),
        "{err:?}"
    );
}

#[tokio::test]
async fn retries_ride_over_injected_faults_and_creates_end_in_doubt() {
    let (server, _) = serve(config(10)).await;
    let sim = server.simulator().clone();
    let api = client(&server, A);
    sim.set_faults(
        A,
        Faults {
            status503_rate: 0.4,
            ..Faults::default()
        },
    )
    .unwrap();
    let mut ok = 0;
    for _ in 0..50 {
        if api.accepted_mandates().await.is_ok() {
            ok += 1;
        }
    }
    // 6 attempts at 40% failure: a call fails only when all six do (0.4^6 = 0.4%).
    assert!(ok >= 48, "{ok}/50");

    sim.set_faults(
        A,
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
    sim.set_faults(A, Faults::default()).unwrap();
    let state = sim.state(A).unwrap();
    assert_eq!(
        state["Repairs"].as_array().unwrap().len(),
        1,
        "created exactly once"
    );
}

#[tokio::test]
async fn a_claim_correction_that_transfers_is_never_resent_by_the_client() {
    let (server, _) = serve(config(10)).await;
    let sim = server.simulator().clone();
    let api = client(&server, A);
    sim.publish_mandate(A, work_order()).unwrap();
    let intervention = api.new_mandates(true).await.unwrap().data[0]
        .intervention_id
        .unwrap();
    let how = |transfer_if_valid| ClaimSubmission {
        language: Lcid::ENGLISH,
        transfer_if_valid,
    };
    let id = api
        .create_claim(&claim(intervention.0, "12345"), how(false))
        .await
        .unwrap()
        .data
        .claim_id
        .unwrap();
    let mut fixed = claim(intervention.0, "1234567890123456789");
    fixed.claim_id = Some(id);
    sim.set_faults(
        A,
        Faults {
            drop_after_commit_rate: 1.0,
            ..Faults::default()
        },
    )
    .unwrap();
    // A correction that keeps the claim: sending it again is harmless, so
    // the client tries again after each lost answer.
    let calls = sim.fault_counts().calls;
    let err = api.update_claim(&fixed, how(false)).await.unwrap_err();
    assert!(!err.is_in_doubt(), "{err:?}");
    assert!(sim.fault_counts().calls - calls > 1);
    // A correction that transfers: the first attempt applied it; a second
    // would be refused as not correctable. Sent once, and in doubt.
    let calls = sim.fault_counts().calls;
    let err = api.update_claim(&fixed, how(true)).await.unwrap_err();
    assert!(err.is_in_doubt(), "{err:?}");
    assert_eq!(sim.fault_counts().calls - calls, 1, "sent once");
    sim.set_faults(A, Faults::default()).unwrap();
    assert_eq!(
        api.claim_status(id).await.unwrap().data.last_status,
        Some(ClaimStatus::Valid),
        "the correction was applied and transferred"
    );
}

#[tokio::test]
async fn a_large_delta_streams_through_the_client() {
    let (server, _) = serve(config(100_000)).await;
    let api = client(&server, A);
    let query = DeltaQuery {
        manufacturer: ManufacturerId(4),
        since: jiff::civil::date(2000, 1, 1),
        language: Lcid::FRENCH,
    };
    let mut stream = api.spare_parts_delta(query).await.unwrap();
    let mut n = 0;
    let mut max_batch = 0;
    while let Some(batch) = stream.next_batch().await.unwrap() {
        n += batch.len();
        max_batch = max_batch.max(batch.len());
    }
    assert_eq!(n, 100_000);
    assert_eq!(max_batch, agora_http::DEFAULT_DELTA_BATCH);
    assert_eq!(stream.summary().records, 100_000);
    assert!(
        stream
            .summary()
            .message
            .unwrap()
            .starts_with("100000 created or updated")
    );
    let products = collect_records(api.products_delta(query).await.unwrap())
        .await
        .unwrap();
    assert_eq!(products.len(), 10_000);
}

#[tokio::test]
async fn bom_lookup_survives_an_expired_key() {
    let (server, clock) = serve(config(100)).await;
    let api = client(&server, A);
    let hits = api
        .search_products(ManufacturerId(19), "P19-000002", CountryCode(250))
        .await
        .unwrap()
        .data;
    let key = hits[0].product_key.clone().unwrap();
    assert!(!api.bom(&key).await.unwrap().data.is_empty());
    clock.advance(Duration::from_secs(3600));
    assert!(matches!(
        api.bom(&key).await,
        Err(AgoraError::ProductKeyExpired(_))
    ));
    let found = bom_by_reference(&api, ManufacturerId(19), "P19-000002", CountryCode(250))
        .await
        .unwrap()
        .unwrap();
    assert!(!found.lines.is_empty());
}

/// The port traits (as agora-app and other generic code call them) reach
/// the same calls as the client's own methods.
#[tokio::test]
async fn the_port_traits_delegate_to_the_client() {
    use agora_ports::{Catalog, Claims, Invoices, Mandates, PartOrders, Repairs};
    let (server, _) = serve(config(100)).await;
    let sim = server.simulator().clone();
    let api = client(&server, A);
    sim.publish_mandate(A, work_order()).unwrap();

    let mandates: &dyn Mandates = &api;
    let orders = mandates.new_mandates(true).await.unwrap().data;
    let intervention = orders[0].intervention_id.unwrap();
    assert_eq!(
        mandates.accepted_mandates().await.unwrap().data.len(),
        api.accepted_mandates().await.unwrap().data.len()
    );

    let repairs: &dyn Repairs = &api;
    let file = CompleteRepairState {
        intervention_id: Some(intervention),
        state_natures: Some(vec![StateNature::new(StatusCode::Diagnosis, "diag")]),
        parts: Some(vec![Part {
            reference: Some("00019-00000007".into()),
            quantity: Some(1),
            to_be_ordered: Some(true),
            ..Part::default()
        }]),
        ..CompleteRepairState::default()
    };
    repairs.update_repair(&file).await.unwrap();
    let unnamed = CompleteRepairState::default();
    assert!(matches!(
        repairs.update_repair(&unnamed).await,
        Err(AgoraError::Invalid(_))
    ));

    let parts: &dyn PartOrders = &api;
    let lines = parts.place_order(intervention).await.unwrap().data;
    let order = lines[0].order_number.clone().unwrap();
    sim.set_logistic(A, &order, "208").unwrap();
    let tracked = parts.order_tracking(intervention).await.unwrap().data;
    assert_eq!(tracked.len(), 1);
    assert_eq!(tracked[0].order_number.as_deref(), Some(order.as_str()));
    assert_eq!(tracked[0].status_code, Some(LogisticStatus::Shipped));
    assert_eq!(
        tracked,
        api.order_tracking(intervention).await.unwrap().data
    );

    let claims: &dyn Claims = &api;
    assert_eq!(
        claims
            .claim_status(ClaimId(999_999))
            .await
            .unwrap()
            .data
            .last_status,
        None
    );

    let invoices: &dyn Invoices = &api;
    assert!(matches!(
        invoices
            .send_invoice_reference(&InvoiceReference::default())
            .await,
        Err(AgoraError::Invalid(_))
    ));

    let catalog: &dyn Catalog = &api;
    let hits = catalog
        .search_products(ManufacturerId(19), "P19-000002", CountryCode(250))
        .await
        .unwrap()
        .data;
    let direct = api
        .search_products(ManufacturerId(19), "P19-000002", CountryCode(250))
        .await
        .unwrap()
        .data;
    // Each search issues a fresh product key; the hits are the same products.
    let refs = |hits: &[agora_domain::ProductSearchHit]| {
        hits.iter()
            .map(|h| h.commercial_ref.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(refs(&hits), refs(&direct));
    assert!(!hits.is_empty());
}
