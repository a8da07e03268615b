//! "No results" (reference 5.3.3): on the list and search routes of the
//! route table, a 404 whatever its body, and a success envelope whose
//! `ResponseData` is null or missing, are an empty result; on a route about
//! one thing, a 404 stays "not found".
#![allow(clippy::unwrap_used)]

mod support;

use agora_domain::routes::{NO_RESULTS_MESSAGE, Route};
use agora_domain::{ClaimId, InterventionId};
use agora_domain::{Lcid, ManufacturerId};
use agora_http::{AgoraClient, RetryPolicy};
use agora_ports::{AgoraError, DeltaQuery, collect_records};
use serde_json::json;
use support::{answering, client_with};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// The ways a server may say "nothing matches".
fn no_results_answers() -> Vec<(&'static str, ResponseTemplate)> {
    vec![
        (
            "404 with an error envelope",
            ResponseTemplate::new(404).set_body_json(json!({
                "ResponseStatus": "E", "IsValid": false,
                "ResponseErrorMessage": NO_RESULTS_MESSAGE, "ResponseData": null
            })),
        ),
        (
            "404 with plain text",
            ResponseTemplate::new(404).set_body_raw(NO_RESULTS_MESSAGE, "text/plain"),
        ),
        ("404 with no body", ResponseTemplate::new(404)),
        (
            "200 S with null ResponseData",
            ResponseTemplate::new(200).set_body_json(json!({
                "ResponseStatus": "S", "IsValid": true, "ResponseMessage": NO_RESULTS_MESSAGE,
                "ResponseData": null
            })),
        ),
        (
            "200 S without ResponseData",
            ResponseTemplate::new(200)
                .set_body_json(json!({"ResponseStatus": "S", "IsValid": true})),
        ),
    ]
}

fn query() -> DeltaQuery {
    DeltaQuery {
        manufacturer: ManufacturerId(19),
        since: jiff::civil::date(2020, 1, 1),
        language: Lcid::ENGLISH,
    }
}

/// How many items the route's call gave (the claim tracking: 0 when it has
/// no status).
async fn count(client: &AgoraClient, route: Route) -> Result<usize, AgoraError> {
    Ok(match route {
        Route::GetNewMandates => client.new_mandates(true).await?.data.len(),
        Route::GetAcceptedMandates => client.accepted_mandates().await?.data.len(),
        Route::GetSparepartOrderTracking => {
            client.order_tracking(InterventionId(42)).await?.data.len()
        }
        Route::GetWarrantyClaimStatus => {
            let tracking = client.claim_status(ClaimId(42)).await?.data;
            usize::from(tracking != Default::default())
        }
        Route::SearchProductByRef => client
            .search_products(ManufacturerId(19), "WAT28", agora_domain::CountryCode(250))
            .await?
            .data
            .len(),
        Route::PrintManufacturerSpareParts => {
            let mut stream = client.spare_parts_delta(query()).await?;
            let mut n = 0;
            while let Some(batch) = stream.next_batch().await? {
                n += batch.len();
            }
            assert_eq!(stream.summary().records, 0);
            n
        }
        Route::PrintManufacturerProducts => collect_records(client.products_delta(query()).await?)
            .await?
            .len(),
        other => panic!("{other:?} is not a list route"),
    })
}

#[tokio::test]
async fn every_list_route_reads_no_results_as_empty() {
    let lists: Vec<Route> = Route::ALL
        .iter()
        .copied()
        .filter(|r| r.no_results_is_empty())
        .collect();
    assert_eq!(lists.len(), 7);
    for route in lists {
        for (case, answer) in no_results_answers() {
            let (client, _server) = answering(route, answer, 1).await;
            let got = count(&client, route).await;
            assert!(matches!(got, Ok(0)), "{} on {case}: {got:?}", route.name());
        }
    }
}

#[tokio::test]
async fn an_error_envelope_without_data_stays_an_error_on_a_list_route() {
    let (client, _server) = answering(
        Route::GetAcceptedMandates,
        ResponseTemplate::new(200).set_body_json(json!({
            "ResponseStatus": "E", "IsValid": false,
            "ResponseErrorMessage": "account suspended", "ResponseData": null
        })),
        1,
    )
    .await;
    let err = client.accepted_mandates().await.unwrap_err();
    assert!(matches!(err, AgoraError::Rejected(_)), "{err:?}");
}

#[tokio::test]
async fn a_warning_without_data_is_empty_and_keeps_its_warning() {
    let (client, _server) = answering(
        Route::GetNewMandates,
        ResponseTemplate::new(200).set_body_json(json!({
            "ResponseStatus": "W", "IsValid": true, "ResponseMessage": "nothing new today"
        })),
        1,
    )
    .await;
    let reply = client.new_mandates(false).await.unwrap();
    assert!(reply.data.is_empty());
    assert_eq!(reply.warning.as_deref(), Some("nothing new today"));
}

#[tokio::test]
async fn a_delta_answered_404_keeps_its_message_in_the_summary() {
    let (client, _server) = answering(
        Route::PrintManufacturerProducts,
        ResponseTemplate::new(404).set_body_json(json!({
            "ResponseStatus": "E", "IsValid": false, "ResponseErrorMessage": NO_RESULTS_MESSAGE
        })),
        1,
    )
    .await;
    let mut stream = client.products_delta(query()).await.unwrap();
    assert!(stream.next_batch().await.unwrap().is_none());
    let summary = stream.summary();
    assert_eq!(summary.records, 0);
    assert_eq!(summary.message.as_deref(), Some(NO_RESULTS_MESSAGE));
}

#[tokio::test]
async fn on_a_route_about_one_thing_404_stays_not_found() {
    for (case, answer) in no_results_answers()
        .into_iter()
        .filter(|(case, _)| case.starts_with("404"))
    {
        let (client, _server) = answering(Route::PrintBomData, answer, 1).await;
        let err = client.bom("KEY-1").await.unwrap_err();
        assert!(matches!(err, AgoraError::NotFound(_)), "{case}: {err:?}");
    }
    // An update of a repair file that does not exist.
    let server = support::server().await;
    Mock::given(method("POST"))
        .and(path("/api/Repair/UpdateRepair"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(NO_RESULTS_MESSAGE, "text/plain"))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_with(&server.uri(), RetryPolicy::none());
    let file = agora_domain::CompleteRepairState {
        intervention_id: Some(InterventionId(7)),
        ..Default::default()
    };
    let err = client.update_repair(&file).await.unwrap_err();
    assert!(matches!(err, AgoraError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn on_a_route_about_one_thing_a_success_without_data_is_an_error() {
    let (client, _server) = answering(
        Route::PrintBomData,
        ResponseTemplate::new(200)
            .set_body_json(json!({"ResponseStatus": "S", "ResponseData": null})),
        1,
    )
    .await;
    let err = client.bom("KEY-1").await.unwrap_err();
    assert!(matches!(err, AgoraError::Decode { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("a success without the data this route answers with"),
        "{err}"
    );
}
