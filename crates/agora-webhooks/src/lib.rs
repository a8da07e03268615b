//! # agora-webhooks
//!
//! The HTTP adapter of the [`WebhookSender`] port: each event POSTed as
//! JSON with its `Agora-Signature` header, through `reqwest` with agora's
//! TLS (rustls, ring, the platform's roots). The rules (who may be an
//! endpoint, what is signed, when to retry) live in `agora-ports`; the
//! loop that delivers lives in `agora_app::Watch::webhooks`.
//!
//! A 2xx answer is a delivery; any other status, a timeout or no
//! connection is a failure the loop retries with backoff. Redirects are
//! not followed (a receiver answers where it is configured).

use std::time::Duration;

use agora_ports::{AgoraError, SIGNATURE_HEADER, SendFailure, WebhookEndpoint, WebhookSender};
use async_trait::async_trait;

/// The sender's default timeout for one POST, answer included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// POSTs events over HTTP. Cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct HttpSender {
    http: reqwest::Client,
}

impl HttpSender {
    /// A sender whose POSTs give up after `timeout` (answer included).
    pub fn new(timeout: Duration) -> Result<Self, AgoraError> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(agora_http::tls_config()?)
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("agora-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AgoraError::Config(format!("cannot build the webhook client: {e}")))?;
        Ok(Self { http })
    }
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn post(
        &self,
        endpoint: &WebhookEndpoint,
        body: Vec<u8>,
        signature: String,
    ) -> Result<(), SendFailure> {
        let answer = self
            .http
            .post(&endpoint.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                SendFailure(if e.is_timeout() {
                    "timed out".to_owned()
                } else if e.is_connect() {
                    "cannot connect".to_owned()
                } else {
                    format!("request failed: {e}")
                })
            })?;
        let status = answer.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SendFailure(format!("answered {status}")))
        }
    }
}
