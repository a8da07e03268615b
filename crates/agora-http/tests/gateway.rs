//! What a gateway in front of AgoraPlus may answer: 429 throttling
//! (retried on every route, honouring a clamped `Retry-After`), 502, 504
//! and 5xx pages that are not AgoraPlus's JSON envelope (unavailable, reach
//! unknown: retried on idempotent routes, in doubt for the others).
#![allow(clippy::unwrap_used)]

mod support;

use agora_domain::InterventionId;
use std::time::Duration;

use agora_domain::CompleteRepairState;
use agora_http::RetryPolicy;
use agora_ports::{AgoraError, Reach};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use support::{KEY, client_for, fixture, ok};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn new_file() -> CompleteRepairState {
    let mut file: CompleteRepairState =
        serde_json::from_value(fixture("full/repair-file.json")).unwrap();
    file.intervention_id = None;
    file
}

/// `first` answered `times` times on `route_path`, then `then`.
async fn answers(
    verb: &str,
    route_path: &str,
    first: ResponseTemplate,
    times: u64,
    then: Option<ResponseTemplate>,
) -> MockServer {
    let server = support::server().await;
    Mock::given(method(verb))
        .and(path(route_path))
        .respond_with(first)
        .up_to_n_times(times)
        .expect(times)
        .mount(&server)
        .await;
    if let Some(then) = then {
        Mock::given(method(verb))
            .and(path(route_path))
            .respond_with(then)
            .expect(1)
            .mount(&server)
            .await;
    }
    server
}

fn proxy_page(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        format!(
            "<html><head><title>{status} Bad Gateway</title></head><body><center>nginx</center><!-- upstream said api_key={KEY} --></body></html>"
        ),
        "text/html",
    )
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_even_for_a_create() {
    let server = answers(
        "GET",
        "/api/Repair/GetNewMandates",
        ResponseTemplate::new(429).insert_header("Retry-After", "1"),
        1,
        Some(ok(json!([]))),
    )
    .await;
    let (client, sleeps) = client_for(&server.uri());
    assert!(client.new_mandates(true).await.unwrap().data.is_empty());
    assert_eq!(sleeps.delays(), [Duration::from_secs(1)]);

    // The request was not processed: resending a creation is safe.
    let server = answers(
        "POST",
        "/api/Repair/CreateRepair",
        ResponseTemplate::new(429).insert_header("Retry-After", "2"),
        2,
        Some(ok(json!({"InterventionId": 880_001}))),
    )
    .await;
    let (client, sleeps) = client_for(&server.uri());
    assert_eq!(
        client.create_repair(&new_file()).await.unwrap().data,
        InterventionId(880_001)
    );
    assert_eq!(sleeps.delays(), [Duration::from_secs(2); 2]);
}

#[tokio::test]
async fn a_429_retry_after_may_be_an_http_date() {
    let server = answers(
        "GET",
        "/api/Repair/GetAcceptedMandates",
        ResponseTemplate::new(429)
            .insert_header("Date", "Wed, 21 Oct 2015 07:28:00 GMT")
            .insert_header("Retry-After", "Wed, 21 Oct 2015 07:28:03 GMT"),
        1,
        Some(ok(json!([]))),
    )
    .await;
    let (client, sleeps) = client_for(&server.uri());
    client.accepted_mandates().await.unwrap();
    assert_eq!(sleeps.delays(), [Duration::from_secs(3)]);
}

#[tokio::test]
async fn throttled_to_the_end_is_a_refusal_never_in_doubt() {
    let server = answers(
        "POST",
        "/api/Repair/CreateRepair",
        ResponseTemplate::new(429).set_body_json(json!({
            "ResponseStatus": "E", "IsValid": false, "ResponseErrorMessage": "Too many requests"
        })),
        4,
        None,
    )
    .await;
    let (client, sleeps) = client_for(&server.uri());
    let err = client.create_repair(&new_file()).await.unwrap_err();
    let AgoraError::Throttled { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(message.message.as_deref(), Some("Too many requests"));
    assert_eq!(err.reach(), Reach::Refused);
    assert!(!err.is_in_doubt());
    assert_eq!(sleeps.delays().len(), 3, "4 attempts in all");
}

#[tokio::test]
async fn a_proxy_page_on_a_get_is_retried_then_named_without_the_key() {
    for status in [502u16, 503, 504, 500] {
        let server = answers(
            "GET",
            "/api/Repair/GetNewMandates",
            proxy_page(status),
            4,
            None,
        )
        .await;
        let (client, sleeps) = client_for(&server.uri());
        let err = client.new_mandates(false).await.unwrap_err();
        let AgoraError::Gateway { status: got, .. } = &err else {
            panic!("{status}: {err:?}")
        };
        assert_eq!(*got, status);
        assert_eq!(err.reach(), Reach::Unknown);
        assert_eq!(sleeps.delays().len(), 3, "{status}: retried on a GET");
        let text = err.to_string();
        assert!(text.contains("not JSON"), "{text}");
        assert!(text.contains("<html><head><title>"), "{text}");
        // Not even in part, where the snippet's cut falls into it.
        assert!(
            !text.contains(&KEY[..9]) && !format!("{err:?}").contains(&KEY[..9]),
            "{text}"
        );
        assert!(text.contains("api_key=[REDACTED]"), "{text}");
    }
}

#[tokio::test]
async fn a_gateway_failure_on_a_create_is_in_doubt_and_not_resent() {
    let server = answers("POST", "/api/Repair/CreateRepair", proxy_page(502), 1, None).await;
    let (client, sleeps) = client_for(&server.uri());
    let err = client.create_repair(&new_file()).await.unwrap_err();
    let AgoraError::InDoubt { cause, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(matches!(**cause, AgoraError::Gateway { status: 502, .. }));
    assert!(sleeps.delays().is_empty());
}

#[tokio::test]
async fn a_502_or_504_is_a_gateway_s_whatever_its_body() {
    // Even with AgoraPlus's envelope, 502 and 504 come from in between.
    let server = answers(
        "GET",
        "/api/Product/PrintBOMData",
        ResponseTemplate::new(504).set_body_json(json!({
            "ResponseStatus": "E", "IsValid": false, "ResponseErrorMessage": "upstream timed out"
        })),
        1,
        None,
    )
    .await;
    let (client, _) = support::client_with(&server.uri(), RetryPolicy::none());
    let err = client.bom("K").await.unwrap_err();
    assert!(
        matches!(&err, AgoraError::Gateway { status: 504, body, .. } if body.contains("upstream timed out")),
        "{err:?}"
    );
    // Empty, and a gateway's own JSON.
    for (answer, says) in [
        (ResponseTemplate::new(502), "is empty"),
        (
            ResponseTemplate::new(503).set_body_json(json!({"message": "no healthy upstream"})),
            "not AgoraPlus's envelope",
        ),
    ] {
        let server = answers("GET", "/api/Product/PrintBOMData", answer, 1, None).await;
        let (client, _) = support::client_with(&server.uri(), RetryPolicy::none());
        let err = client.bom("K").await.unwrap_err();
        assert!(
            matches!(&err, AgoraError::Gateway { .. }) && err.to_string().contains(says),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_gateway_s_retry_after_is_honoured_and_clamped() {
    let server = answers(
        "GET",
        "/api/Repair/GetAcceptedMandates",
        proxy_page(503).insert_header("Retry-After", "86400"),
        1,
        Some(ok(json!([]))),
    )
    .await;
    let (client, sleeps) = client_for(&server.uri());
    client.accepted_mandates().await.unwrap();
    assert_eq!(sleeps.delays(), [RetryPolicy::default().max_backoff]);
}

/// Any `Retry-After` a server sends, on a 429 to a GET and to a creation:
/// no panic, every wait within the policy's longest, attempts bounded.
#[test]
fn any_retry_after_is_safe() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(MockServer::start());
    let mut runner = TestRunner::new(Config::with_cases(40));
    let value = prop_oneof![
        "[0-9]{1,30}",
        "[!-~][ -~]{0,30}[!-~]",
        "(Mon|Fri), [0-9]{2} (Jan|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
    ];
    runner
        .run(&value, |value| {
            rt.block_on(async {
                server.reset().await;
                Mock::given(wiremock::matchers::any())
                    .respond_with(
                        ResponseTemplate::new(429).insert_header("Retry-After", value.as_str()),
                    )
                    .mount(&server)
                    .await;
                let (client, sleeps) = client_for(&server.uri());
                let err = client.accepted_mandates().await.unwrap_err();
                assert!(matches!(err, AgoraError::Throttled { .. }), "{err:?}");
                let err = client.create_repair(&new_file()).await.unwrap_err();
                assert!(matches!(err, AgoraError::Throttled { .. }), "{err:?}");
                let policy = RetryPolicy::default();
                let delays = sleeps.delays();
                assert!(delays.len() <= 2 * (policy.max_attempts as usize - 1));
                assert!(
                    delays.iter().all(|d| *d <= policy.max_backoff),
                    "{value}: {delays:?}"
                );
            });
            Ok(())
        })
        .unwrap();
}
