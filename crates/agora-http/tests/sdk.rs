//! What a product linking agora-http gets: building a client installs
//! nothing process-wide (its own test binary, so nothing else installs a
//! provider first), and a product's own reqwest settings are the start of
//! the client, agora's protocol headers added on top.
#![allow(clippy::unwrap_used)]

use agora_http::{AgoraClient, ApiKey, ClientConfig, Environment, HttpClientBuilder};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[test]
fn building_a_client_installs_no_process_wide_tls_provider() {
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    let config = ClientConfig::new(Environment::PreProduction, ApiKey::new("k-123456789"));
    AgoraClient::new(config).unwrap();
    let config = ClientConfig::new(
        Environment::Custom("https://agora.example.invalid/api-root".into()),
        ApiKey::new("k-123456789"),
    );
    AgoraClient::new(config).unwrap();
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "the host application's TLS provider is its own choice"
    );
}

#[tokio::test]
async fn a_products_own_reqwest_settings_are_kept_and_the_key_still_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .and(header("x-product", "after-sales-42"))
        .and(header("api_key", "k-123456789"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"ResponseStatus":"S","IsValid":true,"ResponseData":[]}"#),
        )
        .expect(1)
        .mount(&server)
        .await;
    let product = HttpClientBuilder::new(|| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-product", "after-sales-42".parse().unwrap());
        reqwest::Client::builder().default_headers(headers)
    });
    let config = ClientConfig::new(
        Environment::Custom(server.uri()),
        ApiKey::new("k-123456789"),
    )
    .with_http_client(product);
    assert!(!format!("{config:?}").contains("k-123456789"));
    let client = AgoraClient::new(config).unwrap();
    assert!(client.accepted_mandates().await.unwrap().data.is_empty());
}

#[test]
fn a_builder_keeping_a_tls_without_provider_is_a_configuration_error() {
    let config = ClientConfig::new(Environment::PreProduction, ApiKey::new("k-123456789"))
        .with_http_client(HttpClientBuilder::with_own_tls(reqwest::Client::builder));
    let err = AgoraClient::new(config).unwrap_err();
    assert!(err.to_string().contains("crypto provider"), "{err}");
}
