//! Answers a real server may give that say less, or say it otherwise, than
//! the reference's samples: a body without the envelope (`{}`), camelCase
//! field names, a status in another case, a byte order mark, ids written as
//! text, a success without the data of a creation, a web server's own 404
//! page, other 4xx statuses. None may pass for a success or for "no
//! results", and none may turn a creation that may exist into "refused".
#![allow(clippy::unwrap_used)]

mod support;

use agora_domain::routes::Route;
use agora_domain::{
    CompleteRepairState, CountryCode, DraftInvoiceNumber, InterventionId, InvoiceNumber,
    InvoiceReference, Lcid, ManufacturerId, WarrantyClaim,
};
use agora_http::RetryPolicy;
use agora_ports::{AgoraError, ClaimSubmission, DeltaQuery, Reach, collect_records};
use serde_json::json;
use support::{answering, client_with};
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, ResponseTemplate};

fn file(id: Option<i64>) -> CompleteRepairState {
    CompleteRepairState {
        intervention_id: id.map(InterventionId),
        ..CompleteRepairState::default()
    }
}

fn invoice() -> InvoiceReference {
    InvoiceReference {
        invoice_number: Some(InvoiceNumber::from("F-1")),
        draft_invoice_number: Some(DraftInvoiceNumber::from("DR-19-00001")),
        ..InvoiceReference::default()
    }
}

fn delta() -> DeltaQuery {
    DeltaQuery {
        manufacturer: ManufacturerId(19),
        since: jiff::civil::date(2020, 1, 1),
        language: Lcid::ENGLISH,
    }
}

fn json_body(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(text.as_bytes().to_vec(), "application/json")
}

fn is_decode(err: &AgoraError) -> bool {
    match err {
        AgoraError::InDoubt { cause, .. } => is_decode(cause),
        AgoraError::Decode { .. } => true,
        _ => false,
    }
}

#[tokio::test]
async fn a_body_without_the_envelope_is_no_verdict_on_any_route() {
    // A list: not an empty list.
    let (client, _s) = answering(Route::GetAcceptedMandates, json_body("{}"), 1).await;
    let err = client.accepted_mandates().await.unwrap_err();
    assert!(is_decode(&err), "{err:?}");
    assert!(
        err.to_string().contains("none of the envelope's fields"),
        "{err}"
    );

    // An update: not done (idempotent, so a plain error, not in doubt).
    let (client, _s) = answering(Route::UpdateRepair, json_body(r#"{"ok":true}"#), 1).await;
    let err = client.update_repair(&file(Some(7))).await.unwrap_err();
    assert!(matches!(err, AgoraError::Decode { .. }), "{err:?}");

    // A state change that may not be sent twice: in doubt, not done.
    let (client, _s) = answering(Route::CreateeInvoice, json_body("{}"), 1).await;
    let err = client.send_invoice_reference(&invoice()).await.unwrap_err();
    assert!(err.is_in_doubt() && is_decode(&err), "{err:?}");

    // A delta: an error, so the cursor stays where it was.
    let (client, _s) = answering(Route::PrintManufacturerProducts, json_body("{}"), 1).await;
    let got = async { collect_records(client.products_delta(delta()).await?).await }.await;
    let err = got.unwrap_err();
    assert!(is_decode(&err), "{err:?}");
}

#[tokio::test]
async fn envelope_fields_are_read_in_any_case_and_the_status_as_a_person_reads_it() {
    let (client, _s) = answering(
        Route::UpdateRepair,
        json_body(r#"{"isValid":false,"responseErrorMessage":"file closed"}"#),
        1,
    )
    .await;
    let err = client.update_repair(&file(Some(7))).await.unwrap_err();
    assert!(matches!(err, AgoraError::Rejected(_)), "{err:?}");
    assert!(err.to_string().contains("file closed"), "{err}");

    let (client, _s) = answering(
        Route::GetAcceptedMandates,
        json_body(r#"{"responseStatus":"S","isValid":true,"responseData":[{"InterventionId":5}]}"#),
        1,
    )
    .await;
    let reply = client.accepted_mandates().await.unwrap();
    assert_eq!(reply.data.len(), 1);
    assert_eq!(reply.data[0].intervention_id, Some(InterventionId(5)));

    for status in ["e", " E ", "Error"] {
        let body = json!({"ResponseStatus": status, "ResponseErrorMessage": "no"}).to_string();
        let (client, _s) = answering(Route::UpdateRepair, json_body(&body), 1).await;
        let err = client.update_repair(&file(Some(7))).await.unwrap_err();
        assert!(
            matches!(err, AgoraError::Rejected(_)),
            "{status:?}: {err:?}"
        );
    }
    let (client, _s) = answering(
        Route::UpdateRepair,
        json_body(r#"{"ResponseStatus":"warning","ResponseMessage":"late"}"#),
        1,
    )
    .await;
    let reply = client.update_repair(&file(Some(7))).await.unwrap();
    assert_eq!(reply.warning.as_deref(), Some("late"));
}

#[tokio::test]
async fn a_byte_order_mark_before_the_json_is_skipped() {
    let bom = |text: &str| {
        let mut body = b"\xEF\xBB\xBF".to_vec();
        body.extend_from_slice(text.as_bytes());
        ResponseTemplate::new(200).set_body_raw(body, "application/json; charset=utf-8")
    };
    let (client, _s) = answering(
        Route::GetAcceptedMandates,
        bom(r#"{"ResponseStatus":"S","IsValid":true,"ResponseData":[{"InterventionId":5}]}"#),
        1,
    )
    .await;
    assert_eq!(client.accepted_mandates().await.unwrap().data.len(), 1);

    let (client, _s) = answering(
        Route::UpdateRepair,
        bom(r#"{"ResponseStatus":"S","IsValid":true}"#),
        1,
    )
    .await;
    client.update_repair(&file(Some(7))).await.unwrap();

    let (client, _s) = answering(
        Route::PrintManufacturerProducts,
        bom(r#"{"ResponseStatus":"S","IsValid":true,"ResponseData":[{"ProductKey":"A"},{"ProductKey":"B"}]}"#),
        1,
    )
    .await;
    let records = collect_records(client.products_delta(delta()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(records.len(), 2);
}

#[tokio::test]
async fn a_creation_answered_success_without_its_data_is_in_doubt_not_refused() {
    for body in [
        r#"{"ResponseStatus":"S","IsValid":true}"#,
        r#"{"ResponseStatus":"S","IsValid":true,"ResponseData":{}}"#,
    ] {
        let (client, _s) = answering(Route::CreateRepair, json_body(body), 1).await;
        let err = client.create_repair(&file(None)).await.unwrap_err();
        assert!(err.is_in_doubt(), "{body}: {err:?}");
        assert_eq!(err.reach(), Reach::Unknown, "{body}");
    }
    let (client, _s) = answering(
        Route::PlaceRepairSparepartOrder,
        json_body(r#"{"ResponseStatus":"S","IsValid":true}"#),
        1,
    )
    .await;
    let err = client.place_order(InterventionId(7)).await.unwrap_err();
    assert!(err.is_in_doubt() && is_decode(&err), "{err:?}");

    // A claim creation answered with no claim result, or two.
    for data in [json!([]), json!([{"ClaimID": 1}, {"ClaimID": 2}])] {
        let body = json!({"ResponseStatus": "S", "IsValid": true, "ResponseData": data});
        let (client, _s) =
            answering(Route::CreateWarrantyClaims, json_body(&body.to_string()), 1).await;
        let how = ClaimSubmission {
            language: Lcid::ENGLISH,
            transfer_if_valid: false,
        };
        let err = client
            .create_claim(&WarrantyClaim::default(), how)
            .await
            .unwrap_err();
        assert!(err.is_in_doubt() && is_decode(&err), "{data}: {err:?}");
    }
}

#[tokio::test]
async fn an_id_written_as_text_is_read() {
    let (client, _s) = answering(
        Route::CreateRepair,
        json_body(
            r#"{"ResponseStatus":"S","IsValid":true,"ResponseData":{"InterventionId":"500009"}}"#,
        ),
        1,
    )
    .await;
    let reply = client.create_repair(&file(None)).await.unwrap();
    assert_eq!(reply.data, InterventionId(500_009));
}

#[tokio::test]
async fn a_404_page_that_is_not_agoraplus_is_not_no_results() {
    let html = ResponseTemplate::new(404).set_body_raw(
        "<html><body>404 - File or directory not found.</body></html>",
        "text/html",
    );
    let (client, _s) = answering(Route::GetAcceptedMandates, html, 1).await;
    let err = client.accepted_mandates().await.unwrap_err();
    assert!(
        matches!(err, AgoraError::UnexpectedStatus { status: 404, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("base URL"), "{err}");

    // A framework's problem details (JSON) is AgoraPlus saying "not found".
    let problem = ResponseTemplate::new(404).set_body_raw(
        r#"{"type":"https://tools.ietf.org/html/rfc7231#section-6.5.4","title":"Not Found","status":404}"#,
        "application/problem+json",
    );
    let (client, _s) = answering(Route::GetAcceptedMandates, problem, 1).await;
    assert!(client.accepted_mandates().await.unwrap().data.is_empty());

    // A delta behind a wrong address does not end well.
    let html = ResponseTemplate::new(404).set_body_raw("Cannot GET /api/product", "text/plain");
    let (client, _s) = answering(Route::PrintManufacturerProducts, html, 1).await;
    assert!(client.products_delta(delta()).await.is_err());
}

#[tokio::test]
async fn another_4xx_was_not_processed_and_a_408_is_tried_again() {
    let (client, _s) = answering(
        Route::CreateRepair,
        ResponseTemplate::new(409).set_body_json(json!({"ResponseErrorMessage": "exists"})),
        1,
    )
    .await;
    let err = client.create_repair(&file(None)).await.unwrap_err();
    assert!(
        matches!(err, AgoraError::UnexpectedStatus { status: 409, .. }),
        "{err:?}"
    );
    assert_eq!(err.reach(), Reach::Refused);
    assert!(!err.is_in_doubt() && !err.is_retryable());

    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(ResponseTemplate::new(408))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(json_body(
            r#"{"ResponseStatus":"S","IsValid":true,"ResponseData":[]}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let (client, sleeps) = client_with(&server.uri(), RetryPolicy::default());
    assert!(client.accepted_mandates().await.unwrap().data.is_empty());
    assert_eq!(sleeps.delays().len(), 1);
}

#[tokio::test]
async fn the_country_is_sent_as_three_digits() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path_regex("(?i)^/api/Product/SearchProductByRef$"))
        .and(query_param("countryCode", "056"))
        .respond_with(json_body(
            r#"{"ResponseStatus":"S","IsValid":true,"ResponseData":[]}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_with(&server.uri(), RetryPolicy::none());
    client
        .search_products(ManufacturerId(19), "WAT28", CountryCode(56))
        .await
        .unwrap();
}
