//! Building the HTTP clients: the api_key header, agora's own TLS, the
//! same-origin redirect policy, and what counts as this machine.

use std::sync::Arc;
use std::time::Duration;

use agora_ports::AgoraError;
use reqwest::Url;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};

use crate::config::ClientConfig;

/// A reqwest client with the headers every call carries. Calls are bounded
/// by a total timeout each (one timer per call); `read_timeout` is for the
/// delta pool only.
pub(crate) fn build_http(
    config: &ClientConfig,
    base: &Url,
    read_timeout: Option<Duration>,
) -> Result<reqwest::Client, AgoraError> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let mut key = HeaderValue::from_str(config.api_key.expose()).map_err(|_| {
        AgoraError::Config("the api_key holds characters a header cannot carry".to_owned())
    })?;
    key.set_sensitive(true);
    headers.insert("api_key", key);
    let start = match &config.http_client {
        Some(product) if product.own_tls() => product.make(),
        Some(product) => product.make().tls_backend_preconfigured(tls_config()?),
        None => reqwest::Client::builder().tls_backend_preconfigured(tls_config()?),
    };
    let mut builder = start
        .default_headers(headers)
        .user_agent(config.user_agent.clone())
        .connect_timeout(config.connect_timeout)
        .redirect(same_origin_only(base))
        .referer(false);
    if let Some(read_timeout) = read_timeout {
        builder = builder.read_timeout(read_timeout);
    }
    // reqwest panics when TLS has no crypto provider (a product's builder
    // keeping its own TLS without naming one): an error, not a crash.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.build()))
        .map_err(|_| {
            AgoraError::Config(
                "cannot build the HTTP client: its TLS has no crypto provider (preconfigure one on the builder, or install a process-wide one)".to_owned(),
            )
        })?
        .map_err(|e| AgoraError::Config(format!("cannot build the HTTP client: {e}")))
}

/// agora's own TLS: rustls with ring and the platform's roots, set on the
/// client only (no process-wide provider is installed: the host
/// application's choice stays its own). Other HTTP adapters of agora (the
/// webhook sender) use the same.
pub fn tls_config() -> Result<rustls::ClientConfig, AgoraError> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls_error = |e: rustls::Error| AgoraError::Config(format!("cannot set up TLS: {e}"));
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_platform_verifier()
        .map_err(tls_error)?
        .with_no_client_auth())
}

/// The most redirects followed in a row, all within the base's origin.
pub(crate) const MAX_REDIRECTS: usize = 10;

/// Follows a redirect only within the base URL's origin (scheme, host and
/// port): the `api_key` header goes with every request of the client, so a
/// redirect elsewhere is stopped and answered as
/// [`AgoraError::Redirect`].
pub(crate) fn same_origin_only(base: &Url) -> reqwest::redirect::Policy {
    let origin = base.origin();
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.url().origin() != origin {
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// Whether a URL's host is this machine: `127.0.0.0/8`, `::1` or
/// `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(agora_ports::is_loopback_host)
}
