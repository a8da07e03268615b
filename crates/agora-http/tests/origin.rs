//! The api_key stays with its origin: a redirect is followed only within
//! the base URL's scheme, host and port; one elsewhere is an error naming
//! its `Location`, and the other origin never sees a request. An `http://`
//! base URL that is not loopback needs an explicit opt-in.
#![allow(clippy::unwrap_used)]

mod support;

use agora_domain::CompleteRepairState;
use agora_http::{AgoraClient, ApiKey, ClientConfig, Environment, RetryPolicy};
use agora_ports::{AgoraError, Reach};
use serde_json::json;
use support::{KEY, client_with, ok};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A server on a second loopback address, 127.0.0.2, that answers
/// anything: it must never be asked.
async fn elsewhere() -> MockServer {
    let listener = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
    let server = MockServer::builder().listener(listener).start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ok(json!([])))
        .mount(&server)
        .await;
    server
}

fn redirect(status: u16, location: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).insert_header("Location", location)
}

async fn nothing_reached(server: &MockServer) {
    let seen = server.received_requests().await.unwrap();
    assert!(
        seen.iter().all(|r| !r.headers.contains_key("api_key")),
        "the key reached the other origin"
    );
    assert!(
        seen.is_empty(),
        "{} requests reached the other origin",
        seen.len()
    );
}

#[tokio::test]
async fn a_redirect_to_another_host_is_refused_and_never_followed() {
    let other = elsewhere().await;
    let target = format!("{}/api/Repair/GetAcceptedMandates", other.uri());
    assert!(target.starts_with("http://127.0.0.2:"), "{target}");
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(redirect(307, &target))
        .expect(1)
        .mount(&server)
        .await;
    let (client, sleeps) = client_with(&server.uri(), RetryPolicy::default());
    let err = client.accepted_mandates().await.unwrap_err();
    let AgoraError::Redirect {
        status,
        location,
        reach,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*status, location.as_str(), *reach),
        (307, target.as_str(), Reach::Refused)
    );
    assert!(err.to_string().contains(&target), "{err}");
    assert!(sleeps.delays().is_empty(), "not retried");
    nothing_reached(&other).await;
}

#[tokio::test]
async fn another_port_or_scheme_is_another_origin() {
    let other = support::server().await;
    let server = support::server().await;
    let https_here = server.uri().replace("http://", "https://");
    for target in [
        format!("{}/api/Repair/GetAcceptedMandates", other.uri()),
        format!("{https_here}/api/Repair/GetAcceptedMandates"),
    ] {
        server.reset().await;
        Mock::given(method("GET"))
            .and(path("/api/Repair/GetAcceptedMandates"))
            .respond_with(redirect(302, &target))
            .expect(1)
            .mount(&server)
            .await;
        let (client, _) = client_with(&server.uri(), RetryPolicy::none());
        let err = client.accepted_mandates().await.unwrap_err();
        assert!(
            matches!(&err, AgoraError::Redirect { location, .. } if *location == target),
            "{err:?}"
        );
    }
    assert!(other.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_redirect_within_the_origin_is_followed_with_the_key() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(redirect(307, "/v2/api/Repair/GetAcceptedMandates"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/api/Repair/GetAcceptedMandates"))
        .and(header("api_key", KEY))
        .respond_with(ok(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_with(&server.uri(), RetryPolicy::none());
    assert!(client.accepted_mandates().await.unwrap().data.is_empty());
}

#[tokio::test]
async fn a_post_redirected_elsewhere_is_refused_or_in_doubt_after_a_303() {
    let other = elsewhere().await;
    let target = format!("{}/api/Repair/CreateRepair", other.uri());
    let server = support::server().await;
    Mock::given(method("POST"))
        .and(path("/api/Repair/CreateRepair"))
        .respond_with(redirect(308, &target))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    // 303 "See Other": the usual answer once a POST was processed.
    Mock::given(method("POST"))
        .and(path("/api/Repair/CreateRepair"))
        .respond_with(redirect(303, &target))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_with(&server.uri(), RetryPolicy::default());
    let file = CompleteRepairState::default();
    let err = client.create_repair(&file).await.unwrap_err();
    assert!(
        matches!(
            &err,
            AgoraError::Redirect {
                status: 308,
                reach: Reach::Refused,
                ..
            }
        ),
        "{err:?}"
    );
    let err = client.create_repair(&file).await.unwrap_err();
    let AgoraError::InDoubt { cause, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(**cause, AgoraError::Redirect { status: 303, .. }),
        "{err:?}"
    );
    nothing_reached(&other).await;
}

fn config(url: &str) -> ClientConfig {
    ClientConfig::new(Environment::Custom(url.to_owned()), ApiKey::new(KEY))
}

#[test]
fn clear_text_http_needs_an_opt_in_unless_it_is_loopback() {
    for url in [
        "http://agora.example.com",
        "http://10.0.0.8:8787",
        "http://0.0.0.0:8787",
        "http://[2001:db8::1]/",
        "http://localhost.example.com",
    ] {
        let err = AgoraClient::new(config(url)).unwrap_err();
        assert!(
            matches!(&err, AgoraError::Config(m) if m.contains("AGORA_ALLOW_INSECURE_HTTP") && m.contains("clear")),
            "{url}: {err}"
        );
        assert!(
            AgoraClient::new(config(url).with_insecure_http(true)).is_ok(),
            "{url}"
        );
    }
    for url in [
        "http://127.0.0.1:8787",
        "http://127.0.0.2:1",
        "http://localhost:8787",
        "http://LOCALHOST",
        "http://[::1]:8787",
        "https://agora.example.com",
    ] {
        assert!(AgoraClient::new(config(url)).is_ok(), "{url}");
    }
}
