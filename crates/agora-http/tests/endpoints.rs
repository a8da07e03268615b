//! Every endpoint: exact method, path, query, headers and body, and the
//! decoding of the reference's samples.
#![allow(clippy::unwrap_used)]

mod support;

use agora_domain::{ClaimId, InterventionId};
use agora_domain::{
    ClaimStatus, CompleteRepairState, CountryCode, InvoiceReference, Lcid, LogisticStatus,
    ManufacturerId, StateNature, StatusCode, WarrantyClaim,
};
use agora_ports::{AgoraError, ClaimSubmission, DeltaQuery, bom_by_reference, collect_records};
use serde_json::json;
use support::{KEY, client_for, fixture, ok, server};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn new_mandates_sends_auto_accept_and_the_headers() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetNewMandates"))
        .and(query_param("autoAccept", "true"))
        .and(header("api_key", KEY))
        .and(header("accept", "application/json"))
        .respond_with(ok(json!([fixture("full/work-order.json")])))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let orders = client.new_mandates(true).await.unwrap().data;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].intervention_id, Some(InterventionId(880_001)));
    let mandate = orders[0].mandate.as_ref().unwrap();
    assert_eq!(mandate.manufacturer_id, Some(ManufacturerId(19)));
    assert_eq!(
        mandate.suggested_parts.as_ref().unwrap()[0]
            .suggested_part_ref
            .as_deref(),
        Some("5513227851")
    );
}

#[tokio::test]
async fn accepted_mandates() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .and(header("api_key", KEY))
        .respond_with(ok(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    assert!(client.accepted_mandates().await.unwrap().data.is_empty());
}

fn repair_file() -> CompleteRepairState {
    serde_json::from_value(fixture("full/repair-file.json")).unwrap()
}

#[tokio::test]
async fn create_and_update_repair_post_the_whole_file() {
    let server = server().await;
    let mut file = repair_file();
    file.intervention_id = None;
    Mock::given(method("POST"))
        .and(path("/api/Repair/CreateRepair"))
        .and(header("content-type", "application/json"))
        .and(header("api_key", KEY))
        .and(body_json(serde_json::to_value(&file).unwrap()))
        .respond_with(ok(json!({"InterventionId": 42})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    assert_eq!(
        client.create_repair(&file).await.unwrap().data,
        InterventionId(42)
    );

    let mut file = repair_file();
    file.state_natures = Some(vec![StateNature::new(
        StatusCode::Diagnosis,
        "Diagnosis in progress",
    )]);
    file.extra
        .insert("UnknownField".into(), json!({"kept": true}));
    let sent = serde_json::to_value(&file).unwrap();
    assert_eq!(sent["UnknownField"], json!({"kept": true}));
    Mock::given(method("POST"))
        .and(path("/api/Repair/UpdateRepair"))
        .and(body_json(sent))
        .respond_with(ok(json!(null)))
        .expect(1)
        .mount(&server)
        .await;
    client.update_repair(&file).await.unwrap();

    // An update without InterventionId is refused before anything is sent.
    file.intervention_id = None;
    assert!(matches!(
        client.update_repair(&file).await,
        Err(AgoraError::Invalid(_))
    ));
}

#[tokio::test]
async fn part_orders_and_tracking() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/Repair/PlaceRepairSparepartOrder"))
        .and(query_param("interventionId", "880001"))
        .respond_with(ok(
            json!([{"OrderNumber": "PO-1", "Reference": "0070817965D", "Quantity": 1}]),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetSparepartOrderTracking"))
        .and(query_param("interventionId", "880001"))
        .respond_with(ok(json!([fixture("full/part-order-line.json")])))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let lines = client
        .place_order(InterventionId(880_001))
        .await
        .unwrap()
        .data;
    assert_eq!(lines[0].order_number.as_deref(), Some("PO-1"));
    let tracking = client
        .order_tracking(InterventionId(880_001))
        .await
        .unwrap()
        .data;
    assert_eq!(tracking[0].status_code, Some(LogisticStatus::Shipped));
}

#[tokio::test]
async fn claims_come_back_with_their_validation_errors_as_data() {
    let server = server().await;
    let claim: WarrantyClaim = serde_json::from_value(fixture("full/claim.json")).unwrap();
    let sample = fixture("reference/08-claim-response.json");
    Mock::given(method("POST"))
        .and(path("/api/Repair/CreateWarrantyClaims"))
        .and(query_param("language", "1036"))
        .and(query_param("transferIfValid", "true"))
        .and(query_param("transferIsValid", "true"))
        .and(body_json(serde_json::to_value(&claim).unwrap()))
        .respond_with(ResponseTemplate::new(200).set_body_json(sample))
        .expect(1)
        .mount(&server)
        .await;
    // The same claim judged in an envelope that says E: still data.
    Mock::given(method("POST"))
        .and(path("/api/Repair/UpdateWarrantyClaim"))
        .and(query_param("language", "1033"))
        .and(query_param("transferIfValid", "false"))
        .and(query_param("transferIsValid", "false"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ResponseStatus": "E", "IsValid": false, "ResponseErrorMessage": "Claim not valid",
            "ResponseData": [{"ClaimID": 5272901, "IsValid": false,
                "ValidationErrors": [{"Field": "Call date", "ErrorMessage": "Data is mandatory", "MessageType": "E"}]}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetWarrantyClaimStatus"))
        .and(query_param("claimId", "5272901"))
        .respond_with(ok(fixture("full/claim-tracking.json")))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let how = ClaimSubmission {
        language: Lcid::FRENCH,
        transfer_if_valid: true,
    };
    let result = client.create_claim(&claim, how).await.unwrap().data;
    assert_eq!(result.claim_id, Some(ClaimId(5_272_901)));
    assert_eq!(result.validation_errors.as_ref().unwrap().len(), 6);
    assert_eq!(
        result.validation_errors.as_ref().unwrap()[0]
            .error_message
            .as_deref(),
        Some("The size of the field should be 19 character(s)")
    );
    let how = ClaimSubmission {
        language: Lcid::ENGLISH,
        transfer_if_valid: false,
    };
    let reply = client.update_claim(&claim, how).await.unwrap();
    assert_eq!(reply.data.is_valid, Some(false));
    assert_eq!(reply.warning.as_deref(), Some("Claim not valid"));
    let status = client.claim_status(ClaimId(5_272_901)).await.unwrap().data;
    assert_eq!(status.last_status, Some(ClaimStatus::NotConform));
}

#[tokio::test]
async fn invoice_reference() {
    let server = server().await;
    let reference: InvoiceReference =
        serde_json::from_value(fixture("full/invoice-reference.json")).unwrap();
    Mock::given(method("POST"))
        .and(path("/api/Repair/CreateeInvoice"))
        .and(body_json(
            json!({"InvoiceNumber": "F2022-0042", "DraftInvoiceNumber": "DR-19-202205"}),
        ))
        .respond_with(ok(json!(null)))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    client.send_invoice_reference(&reference).await.unwrap();
    assert!(matches!(
        client
            .send_invoice_reference(&InvoiceReference::default())
            .await,
        Err(AgoraError::Invalid(_))
    ));
}

#[tokio::test]
async fn deltas_use_the_reference_path_form() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(
            "/api/Product/PrintManufacturerProducts/19/01-01-2020/English",
        ))
        .and(header("api_key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ResponseStatus": "S", "IsValid": true,
            "ResponseMessage": "2 created or updated products found since 01/01/2020",
            "ResponseData": [fixture("full/product.json"), {"CommercialRef": "B"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/api/Product/PrintManufacturerSpareParts/4/03-15-2024/French",
        ))
        .respond_with(ok(json!([fixture("full/spare-part.json")])))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let query = DeltaQuery {
        manufacturer: ManufacturerId(19),
        since: jiff::civil::date(2020, 1, 1),
        language: Lcid::ENGLISH,
    };
    let mut stream = client.products_delta(query).await.unwrap();
    let mut all = Vec::new();
    while let Some(batch) = stream.next_batch().await.unwrap() {
        all.extend(batch);
    }
    assert_eq!(all.len(), 2);
    assert_eq!(stream.summary().records, 2);
    assert!(stream.summary().message.unwrap().starts_with("2 created"));
    let parts = client
        .spare_parts_delta(DeltaQuery {
            manufacturer: ManufacturerId(4),
            since: jiff::civil::date(2024, 3, 15),
            language: Lcid::FRENCH,
        })
        .await
        .unwrap();
    let parts = collect_records(parts).await.unwrap();
    assert_eq!(parts[0].reference.as_deref(), Some("0070817965D"));
}

#[tokio::test]
async fn an_error_envelope_after_the_records_fails_the_stream() {
    let server = server().await;
    let body = r#"{"ResponseData":[{"Reference":"A"},{"Reference":"B"}],"ResponseStatus":"E","IsValid":false,"ResponseErrorMessage":"export aborted"}"#;
    Mock::given(method("GET"))
        .and(path(
            "/api/Product/PrintManufacturerSpareParts/19/01-01-2020/English",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let stream = client
        .spare_parts_delta(DeltaQuery {
            manufacturer: ManufacturerId(19),
            since: jiff::civil::date(2020, 1, 1),
            language: Lcid::ENGLISH,
        })
        .await
        .unwrap();
    let err = collect_records(stream).await.unwrap_err();
    assert!(
        matches!(err, AgoraError::Rejected(ref m) if m.message.as_deref() == Some("export aborted")),
        "{err}"
    );
}

#[tokio::test]
async fn a_delta_for_a_language_without_a_path_name_is_a_config_error() {
    let (client, _) = client_for("http://127.0.0.1:9");
    let err = client
        .spare_parts_delta(DeltaQuery {
            manufacturer: ManufacturerId(19),
            since: jiff::civil::date(2020, 1, 1),
            language: Lcid(9999),
        })
        .await
        .err()
        .unwrap();
    assert!(matches!(err, AgoraError::Config(_)), "{err}");
}

#[tokio::test]
async fn search_then_bom_and_search_again_once_when_the_key_expired() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/Product/SearchProductByRef"))
        .and(query_param("manufacturerId", "19"))
        .and(query_param("keyWord", "ECAM22.110.B"))
        .and(query_param("countryCode", "250"))
        .respond_with(ok(json!([fixture("full/product-search-hit.json")])))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/Product/PrintBOMData"))
        .and(query_param("productKey", "tmp-8f2c"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "ResponseStatus": "E", "IsValid": false, "ResponseErrorMessage": "ProductKey expired"
        })))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/Product/PrintBOMData"))
        .and(query_param("productKey", "tmp-8f2c"))
        .respond_with(ok(json!([fixture("full/bom-line.json")])))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let found = bom_by_reference(
        &client,
        ManufacturerId(19),
        "ECAM22.110.B",
        CountryCode(250),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(found.lines[0].quantity, Some(2));
}
