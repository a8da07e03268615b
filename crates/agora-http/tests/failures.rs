//! Failures: each HTTP error code, envelope E and W, undecodable bodies,
//! retries with backoff (recorded, not slept), Retry-After, and no retry of
//! a state-changing call that may have reached the server.
#![allow(clippy::unwrap_used)]

mod support;

use agora_domain::InterventionId;
use std::sync::atomic::Ordering;
use std::time::Duration;

use agora_domain::CompleteRepairState;
use agora_http::RetryPolicy;
use agora_ports::{AgoraError, Reach};
use serde_json::json;
use support::{KEY, client_for, client_with, fixture, ok, raw_server};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

fn envelope_error(message: &str) -> serde_json::Value {
    json!({"ResponseStatus": "E", "IsValid": false, "ResponseErrorMessage": message, "ResponseData": null})
}

/// An envelope-bodied 503 or 500: AgoraPlus's own answer.
fn agoraplus(code: u16) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(envelope_error("try later"))
}

#[tokio::test]
async fn each_http_error_code_is_its_own_typed_error() {
    for code in [400u16, 401, 403, 404, 405, 500, 503] {
        let server = support::server().await;
        // A 404 on a list route is "no results" (tests/no_results.rs): the
        // codes are tried on a route about one thing.
        Mock::given(method("GET"))
            .and(path("/api/Product/PrintBOMData"))
            .respond_with(ResponseTemplate::new(code).set_body_json(envelope_error("told you")))
            .mount(&server)
            .await;
        let (client, _) = client_with(&server.uri(), RetryPolicy::none());
        let err = client.bom("k").await.unwrap_err();
        let ok = match (code, &err) {
            (400, AgoraError::BadRequest(m))
            | (401, AgoraError::Unauthorized(m))
            | (403, AgoraError::Forbidden(m))
            | (404, AgoraError::NotFound(m))
            | (405, AgoraError::MethodNotAllowed(m))
            | (500, AgoraError::ServerError(m))
            | (503, AgoraError::Unavailable { message: m, .. }) => {
                m.message.as_deref() == Some("told you")
            }
            _ => false,
        };
        assert!(ok, "{code} gave {err:?}");
        assert!(err.to_string().contains(&code.to_string()), "{err}");
    }
}

#[tokio::test]
async fn an_error_envelope_in_a_200_is_an_error_and_a_warning_is_data() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope_error("account suspended")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetNewMandates"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ResponseStatus": "W", "IsValid": true, "ResponseMessage": "1 order could not be accepted",
            "ResponseData": [fixture("full/work-order.json")]
        })))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let err = client.accepted_mandates().await.unwrap_err();
    assert!(
        matches!(err, AgoraError::Rejected(ref m) if m.message.as_deref() == Some("account suspended"))
    );
    assert_eq!(err.reach(), Reach::Refused);
    let reply = client.new_mandates(true).await.unwrap();
    assert_eq!(reply.data.len(), 1);
    assert_eq!(
        reply.warning.as_deref(),
        Some("1 order could not be accepted")
    );
}

#[tokio::test]
async fn undecodable_bodies_are_decode_errors_with_a_short_snippet() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!(
                "<html><body>Gateway says hello {KEY} {}</body></html>",
                "x".repeat(500)
            ),
            "text/html",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetNewMandates"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"ResponseStatus":"S","IsValid":true,"ResponseData":[{"Mandate":{"MandateId":"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let err = client.accepted_mandates().await.unwrap_err();
    let AgoraError::Decode { error, snippet } = &err else {
        panic!("{err:?}")
    };
    assert!(error.is_syntax());
    assert!(snippet.starts_with("<html>"));
    assert!(snippet.chars().count() <= 120);
    assert!(
        !err.to_string().contains(KEY) && !snippet.contains(KEY),
        "{err}"
    );
    let err = client.new_mandates(false).await.unwrap_err();
    let AgoraError::Decode { error, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(error.is_truncated(), "{err}");
    // A value of the wrong type is kept in its model, an element that is no
    // object is set aside: the answer is used (issue 11, tolerant reading).
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(ok(json!([
            {"Mandate": {"MandateId": "seven", "ManufacturerId": 19}, "InterventionId": 7},
            "not a work order"
        ])))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let reply = client.accepted_mandates().await.unwrap();
    let mandate = reply.data[0].mandate.as_ref().unwrap();
    assert_eq!(mandate.mandate_id, None);
    assert_eq!(mandate.raw("MandateId"), Some(&json!("seven")));
    assert_eq!(reply.data[0].intervention_id, Some(InterventionId(7)));
    assert_eq!(reply.set_aside.len(), 1);
    assert_eq!(reply.set_aside[0].index, 1);
    assert_eq!(reply.set_aside[0].raw, json!("not a work order"));
    // A ResponseData of the wrong shape still names it.
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(ok(json!({"Mandate": {"MandateId": 7}})))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let err = client.accepted_mandates().await.unwrap_err();
    assert!(err.to_string().contains("`ResponseData`"), "{err}");
}

#[tokio::test]
async fn gets_retry_503_and_500_with_growing_jittered_backoff() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(agoraplus(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(ok(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let (client, sleeps) = client_for(&server.uri());
    client.accepted_mandates().await.unwrap();
    let d = sleeps.delays();
    assert_eq!(d.len(), 2);
    // 200 ms then 400 ms, each jittered down to no less than half.
    assert!(
        d[0] >= Duration::from_millis(100) && d[0] <= Duration::from_millis(200),
        "{d:?}"
    );
    assert!(
        d[1] >= Duration::from_millis(200) && d[1] <= Duration::from_millis(400),
        "{d:?}"
    );

    // Attempts are bounded: 4 in all, then the last error.
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(agoraplus(500))
        .expect(4)
        .mount(&server)
        .await;
    let (client, sleeps) = client_for(&server.uri());
    let err = client.accepted_mandates().await.unwrap_err();
    assert!(matches!(err, AgoraError::ServerError(_)));
    assert_eq!(sleeps.delays().len(), 3);
}

#[tokio::test]
async fn retry_after_is_honoured_clamped_and_bounded_by_the_time_budget() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(agoraplus(503).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(ok(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let (client, sleeps) = client_for(&server.uri());
    client.accepted_mandates().await.unwrap();
    assert_eq!(sleeps.delays(), [Duration::from_secs(7)]);

    // A Retry-After past the policy's longest wait (10 s) is clamped to
    // it between attempts; the attempts and the time budget (30 s) still
    // end the retries. The error keeps what the server asked, for a
    // caller that waits longer (the outbox).
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(agoraplus(503).insert_header("Retry-After", "120"))
        .expect(4)
        .mount(&server)
        .await;
    let (client, sleeps) = client_for(&server.uri());
    let err = client.accepted_mandates().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(sleeps.delays(), [Duration::from_secs(10); 3]);

    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(agoraplus(503).insert_header("Retry-After", "120"))
        .expect(2)
        .mount(&server)
        .await;
    let budget = RetryPolicy {
        max_elapsed: Duration::from_secs(15),
        ..RetryPolicy::default()
    };
    let (client, sleeps) = client_with(&server.uri(), budget);
    client.accepted_mandates().await.unwrap_err();
    assert_eq!(sleeps.delays(), [Duration::from_secs(10)]);
}

fn new_file() -> CompleteRepairState {
    let mut file: CompleteRepairState =
        serde_json::from_value(fixture("full/repair-file.json")).unwrap();
    file.intervention_id = None;
    file
}

#[tokio::test]
async fn a_create_that_failed_on_the_server_is_in_doubt_and_not_resent() {
    let server = support::server().await;
    Mock::given(method("POST"))
        .and(path("/api/Repair/CreateRepair"))
        .respond_with(agoraplus(500))
        .expect(1)
        .mount(&server)
        .await;
    let (client, sleeps) = client_for(&server.uri());
    let err = client.create_repair(&new_file()).await.unwrap_err();
    assert!(err.is_in_doubt(), "{err:?}");
    assert!(sleeps.delays().is_empty());

    // AgoraPlus's own 503 is a refusal: not in doubt, not resent either.
    let server = support::server().await;
    Mock::given(method("POST"))
        .and(path("/api/Repair/CreateRepair"))
        .respond_with(agoraplus(503))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let err = client.create_repair(&new_file()).await.unwrap_err();
    assert!(matches!(err, AgoraError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn a_dropped_connection_leaves_a_create_in_doubt_and_retries_a_get() {
    // The server reads the request, then closes without answering.
    let (base, requests) = raw_server(|_| None).await;
    let (client, _) = client_for(&base);
    let err = client.create_repair(&new_file()).await.unwrap_err();
    assert!(err.is_in_doubt(), "{err:?}");
    assert!(
        reaches_reqwest(&err),
        "the HTTP stack's error is kept: {err:?}"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1, "never resent");

    let (base, requests) = raw_server(|n| {
        (n >= 2).then(|| {
            let body = r#"{"ResponseStatus":"S","IsValid":true,"ResponseData":[]}"#;
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        })
    })
    .await;
    let (client, sleeps) = client_for(&base);
    client.accepted_mandates().await.unwrap();
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    assert_eq!(sleeps.delays().len(), 2);
}

#[tokio::test]
async fn a_body_cut_short_on_a_create_is_in_doubt() {
    let (base, requests) = raw_server(|_| {
        Some(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{\"ResponseStatus\":\"S\""
                .to_vec(),
        )
    })
    .await;
    let (client, _) = client_for(&base);
    let err = client.create_repair(&new_file()).await.unwrap_err();
    assert!(err.is_in_doubt(), "{err:?}");
    assert!(
        reaches_reqwest(&err),
        "the HTTP stack's error is kept: {err:?}"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

/// Whether walking `source()` from `err` reaches reqwest's own error.
fn reaches_reqwest(err: &AgoraError) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<reqwest::Error>().is_some() {
            return true;
        }
        next = e.source();
    }
    false
}

#[tokio::test]
async fn connection_refused_is_retried_even_for_a_create() {
    // Bind then drop a listener: nothing listens on that port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (client, sleeps) = client_for(&format!("http://127.0.0.1:{port}"));
    let err = client.create_repair(&new_file()).await.unwrap_err();
    assert!(matches!(err, AgoraError::Connect { .. }), "{err:?}");
    assert_eq!(err.reach(), Reach::NotSent);
    assert_eq!(
        sleeps.delays().len(),
        3,
        "4 attempts: the request never left"
    );
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(ok(json!([])).set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let config = agora_http::ClientConfig::new(
        agora_http::Environment::Custom(server.uri()),
        agora_http::ApiKey::new(KEY),
    )
    .with_retry(RetryPolicy::none())
    .with_timeouts(
        Duration::from_secs(1),
        Duration::from_millis(300),
        Duration::from_millis(300),
    );
    let client = agora_http::AgoraClient::new(config).unwrap();
    let err = client.accepted_mandates().await.unwrap_err();
    assert!(matches!(err, AgoraError::Timeout(_)), "{err:?}");
}
