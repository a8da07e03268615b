//! The client core: one way to send a call of the route table, decode its
//! envelope, map failures to typed errors, and retry what is safe to retry.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agora_domain::envelope::Verdict;
use agora_domain::routes::{Method, Route};
use agora_domain::{DecodeError, Envelope, EnvelopeHead, ReadAnswer};
use agora_ports::{AgoraError, Clock, Reach, Reply, ServiceMessage, SystemClock};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::bounds::read_prefix;
use crate::config::{ApiKey, ClientConfig, RetryPolicy};

/// Waits: the client sleeps between retries through this, so tests can
/// record the delays instead of sleeping.
pub trait Sleeper: Send + Sync {
    /// Sleeps for `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Sleeps on the tokio timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The AgoraPlus HTTP client. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct AgoraClient {
    http: reqwest::Client,
    /// The pool of master-data deltas, bounded by a timeout between reads
    /// instead of a total one (a delta may take minutes). Built on the first
    /// delta: most processes never need it, and each pool loads the
    /// platform's root certificates.
    stream_http: Arc<std::sync::OnceLock<reqwest::Client>>,
    pub(crate) base: Url,
    pub(crate) config: Arc<ClientConfig>,
    sleeper: Arc<dyn Sleeper>,
    /// The URL of each route without path parameters, built once.
    route_urls: Arc<Vec<(Route, Url)>>,
}

impl std::fmt::Debug for AgoraClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgoraClient")
            .field("base", &self.base.as_str())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A call ready to send.
pub(crate) struct Call<'a> {
    pub route: Route,
    /// Whether the call may be sent again after an answer was lost: the
    /// route's rule, narrowed by what the call asks (a claim correction
    /// that transfers may not).
    pub idempotent: bool,
    /// Borrowed from the client's route table when the route has no
    /// parameters (no copy per call).
    pub url: Cow<'a, Url>,
    /// Shared, so that a retry resends it without a copy.
    pub body: Option<bytes::Bytes>,
}

/// The most of a body kept for an error's snippet.
const SNIPPET_CHARS: usize = 120;

impl AgoraClient {
    /// Builds a client.
    pub fn new(config: ClientConfig) -> Result<Self, AgoraError> {
        let base = Url::parse(config.environment.base_url()).map_err(|e| {
            AgoraError::Config(format!(
                "invalid base URL `{}`: {e}",
                config.environment.base_url()
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(AgoraError::Config(format!(
                "base URL `{base}` is not http or https"
            )));
        }
        if base.scheme() == "http" && !is_loopback(&base) && !config.allow_insecure_http {
            return Err(AgoraError::Config(format!(
                "base URL `{}` is http:// to a host that is not this machine: the api_key would travel in clear; use https://, or allow it explicitly (AGORA_ALLOW_INSECURE_HTTP=true)",
                base.as_str().trim_end_matches('/')
            )));
        }
        let http = build_http(&config, &base, None)?;
        let mut client = Self {
            http,
            stream_http: Arc::new(std::sync::OnceLock::new()),
            base,
            config: Arc::new(config),
            sleeper: Arc::new(TokioSleeper),
            route_urls: Arc::new(Vec::new()),
        };
        client.route_urls = Arc::new(
            Route::ALL
                .iter()
                .filter(|r| !r.path().contains('{'))
                .map(|r| (*r, client.url(r.path(), &[])))
                .collect(),
        );
        Ok(client)
    }

    /// Replaces the sleeper used between retries (tests record delays).
    #[must_use]
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The URL of a route, with a path already filled in and a query.
    pub(crate) fn url(&self, path: &str, query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}{path}"));
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    /// A call of a route without path parameters.
    pub(crate) fn call(&self, route: Route, query: &[(&str, String)]) -> Call<'_> {
        let url = match self.route_urls.iter().find(|(r, _)| *r == route) {
            Some((_, url)) if query.is_empty() => Cow::Borrowed(url),
            _ => Cow::Owned(self.url(route.path(), query)),
        };
        Call {
            route,
            idempotent: route.is_idempotent(),
            url,
            body: None,
        }
    }

    /// Sends a call and decodes its envelope, retrying what is safe to
    /// retry. Returns the data, the warning of a `W` envelope and the list
    /// items set aside by tolerant reading.
    pub(crate) async fn send<T: DeserializeOwned + ReadAnswer>(
        &self,
        call: Call<'_>,
    ) -> Result<Reply<T>, AgoraError> {
        self.send_as(call, None).await
    }

    /// As [`AgoraClient::send`], for a list or search route: where the
    /// route table says "no results" is empty
    /// ([`Route::no_results_is_empty`]), a 404 or a success without
    /// `ResponseData` gives `T::default()` (an empty list).
    pub(crate) async fn send_list<T: DeserializeOwned + ReadAnswer + Default>(
        &self,
        call: Call<'_>,
    ) -> Result<Reply<T>, AgoraError> {
        self.send_as(call, Some(T::default)).await
    }

    async fn send_as<T: DeserializeOwned + ReadAnswer>(
        &self,
        call: Call<'_>,
        empty: Option<fn() -> T>,
    ) -> Result<Reply<T>, AgoraError> {
        let route = call.route;
        debug_assert_eq!(empty.is_some(), route.no_results_is_empty(), "{route:?}");
        let empty = empty.filter(|_| route.no_results_is_empty());
        let limit = self.config.limits.answer_bytes;
        let bytes = match self
            .with_retries(&call, |resp| read_answer(resp, route, limit))
            .await
        {
            Ok(bytes) => bytes,
            Err(error) => return no_results(error, empty),
        };
        // The decode path: the body's envelope, then its verdict.
        into_reply(route, &bytes, &self.config.api_key, empty)
            .map_err(|e| in_doubt_unless_settled(&call, e))
    }

    /// Runs attempts of `call` until one succeeds or retrying is not allowed;
    /// `on_ok` consumes a 2xx answer (reading the body, or starting a stream).
    pub(crate) async fn with_retries<R, F, Fut>(
        &self,
        call: &Call<'_>,
        on_ok: F,
    ) -> Result<R, AgoraError>
    where
        F: Fn(reqwest::Response) -> Fut,
        Fut: Future<Output = Result<R, AgoraError>>,
    {
        let policy = &self.config.retry;
        let mut waited = Duration::ZERO;
        let mut attempt = 1u32;
        loop {
            let span = tracing::info_span!(
                "agora.call",
                route = call.route.name(),
                attempt,
                status = tracing::field::Empty,
                duration_ms = tracing::field::Empty,
            );
            let started = (!span.is_disabled()).then(Instant::now);
            let result = self.attempt(call, &on_ok).instrument(span.clone()).await;
            if let Some(started) = started {
                span.record("duration_ms", started.elapsed().as_millis() as u64);
            }
            let error = match result {
                Ok(r) => {
                    span.record("status", 200);
                    return Ok(r);
                }
                Err(e) => e,
            };
            span.in_scope(|| tracing::debug!(error = %error, "call failed"));
            // A call that changes state is resent only when it certainly
            // had no effect (never sent, or throttled).
            let safe = error.is_retryable() && (call.idempotent || error.resend_is_safe());
            let delay = retry_delay(policy, attempt, error.retry_after(), fastrand::f64());
            if !safe
                || attempt >= policy.max_attempts
                || waited.saturating_add(delay) > policy.max_elapsed
            {
                return Err(in_doubt_unless_settled(call, error));
            }
            tracing::info!(
                route = call.route.name(),
                attempt,
                delay_ms = delay.as_millis() as u64,
                "retrying"
            );
            self.sleeper.sleep(delay).await;
            waited = waited.saturating_add(delay);
            attempt = attempt.saturating_add(1);
        }
    }

    /// One attempt. A call is bounded by the request timeout from its start
    /// to the end of its answer's body; a delta, which may take minutes, by
    /// the read timeout of its pool instead.
    async fn attempt<R, F, Fut>(&self, call: &Call<'_>, on_ok: &F) -> Result<R, AgoraError>
    where
        F: Fn(reqwest::Response) -> Fut,
        Fut: Future<Output = Result<R, AgoraError>>,
    {
        if call.route.is_delta() {
            return self.exchange(call, on_ok).await;
        }
        // One timer around the whole exchange; reqwest's own per-request
        // timeout would add a boxed timer, an extensions map and a body
        // wrapper to every call.
        tokio::time::timeout(self.config.request_timeout, self.exchange(call, on_ok))
            .await
            .unwrap_or(Err(AgoraError::Timeout(self.config.request_timeout)))
    }

    async fn exchange<R, F, Fut>(&self, call: &Call<'_>, on_ok: &F) -> Result<R, AgoraError>
    where
        F: Fn(reqwest::Response) -> Fut,
        Fut: Future<Output = Result<R, AgoraError>>,
    {
        let http = if call.route.is_delta() {
            match self.stream_http.get() {
                Some(http) => http,
                None => {
                    let built =
                        build_http(&self.config, &self.base, Some(self.config.read_timeout))?;
                    self.stream_http.get_or_init(|| built)
                }
            }
        } else {
            &self.http
        };
        let mut req = match call.route.method() {
            Method::Get => http.get(call.url.as_ref().clone()),
            Method::Post => http.post(call.url.as_ref().clone()),
        };
        if let Some(body) = &call.body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let resp = req.send().await.map_err(|e| self.transport_error(&e))?;
        let status = resp.status();
        tracing::Span::current().record("status", status.as_u16());
        if status.is_success() {
            return on_ok(resp).await;
        }
        if status.is_redirection() {
            if let Some(error) = self.refused_redirect(call.route, &resp) {
                // Dropped unread: the connection closes.
                return Err(error);
            }
        }
        let retry_after = retry_after(resp.headers(), &self.config.retry);
        // An error's body is read up to its own, small, limit.
        let body = read_prefix(resp, self.config.limits.error_body_bytes, false)
            .await
            .map(|prefix| Body {
                cut: prefix.cut,
                bytes: prefix.bytes,
            })
            .unwrap_or_default();
        Err(status_error(
            call.route,
            status,
            &body,
            retry_after,
            &self.config.api_key,
        ))
    }

    /// The error for a redirect this client did not follow: one to another
    /// origin (the policy of [`build_http`] stops there).
    fn refused_redirect(&self, route: Route, resp: &reqwest::Response) -> Option<AgoraError> {
        let location = resp.headers().get(reqwest::header::LOCATION)?;
        let location = String::from_utf8_lossy(location.as_bytes());
        let target = resp
            .url()
            .join(&location)
            .map_or_else(|_| location.into_owned(), |u| u.to_string());
        let status = resp.status().as_u16();
        // A POST answered 303 ("see the result over there") was processed,
        // as far as anyone can tell; the other redirects say the resource
        // is elsewhere: nothing was done here.
        let reach = if route.method() == Method::Post && status == 303 {
            Reach::Unknown
        } else {
            Reach::Refused
        };
        Some(AgoraError::Redirect {
            status,
            location: redact(&target, &self.config.api_key),
            origin: self.base.origin().ascii_serialization(),
            reach,
        })
    }

    /// Maps a reqwest failure, never showing the URL's query or the key.
    pub(crate) fn transport_error(&self, e: &reqwest::Error) -> AgoraError {
        let reason = describe(e);
        if e.is_connect() {
            AgoraError::Connect {
                url: self.base.as_str().trim_end_matches('/').to_owned(),
                reason,
            }
        } else if e.is_timeout() {
            AgoraError::Timeout(self.config.request_timeout)
        } else if e.is_builder() {
            AgoraError::Config(reason)
        } else {
            AgoraError::Transport(reason)
        }
    }
}

/// A reqwest client with the headers every call carries. Calls are bounded
/// by a total timeout each (one timer per call); `read_timeout` is for the
/// delta pool only.
fn build_http(
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
/// application's choice stays its own).
fn tls_config() -> Result<rustls::ClientConfig, AgoraError> {
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
const MAX_REDIRECTS: usize = 10;

/// Follows a redirect only within the base URL's origin (scheme, host and
/// port): the `api_key` header goes with every request of the client, so a
/// redirect elsewhere is stopped and answered as
/// [`AgoraError::Redirect`].
fn same_origin_only(base: &Url) -> reqwest::redirect::Policy {
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
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// The wait before the attempt after `attempt`: the policy's jittered
/// backoff, or the server's `Retry-After` when longer (already clamped to
/// the policy's longest wait when read); never more than that longest wait.
pub(crate) fn retry_delay(
    policy: &RetryPolicy,
    attempt: u32,
    asked: Option<Duration>,
    unit: f64,
) -> Duration {
    let backoff = policy.backoff(attempt.saturating_add(1), unit);
    match asked {
        Some(asked) => backoff.max(policy.clamp_server_delay(asked)),
        None => backoff,
    }
}

/// The innermost cause of a reqwest error, without the URL.
fn describe(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    last.unwrap_or_else(|| e.without_url_ref().to_string())
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let text = self.to_string();
        match text.find(" for url (") {
            Some(i) => text[..i].to_owned(),
            None => text,
        }
    }
}

/// A failure of a state-changing call that may have reached the server
/// becomes *in doubt*.
fn in_doubt_unless_settled(call: &Call<'_>, error: AgoraError) -> AgoraError {
    if !call.idempotent && error.reach() == Reach::Unknown {
        AgoraError::InDoubt {
            operation: call.route.name(),
            cause: Box::new(error),
        }
    } else {
        error
    }
}

/// Reads a whole answer of `route`, up to `limit` bytes; past it, the call
/// fails with [`AgoraError::TooLarge`] and the connection is dropped.
pub(crate) async fn read_answer(
    resp: reqwest::Response,
    route: Route,
    limit: u64,
) -> Result<bytes::Bytes, AgoraError> {
    let prefix = read_prefix(resp, limit, true).await.map_err(|e| {
        if e.is_timeout() {
            AgoraError::Transport("timed out while reading the answer".to_owned())
        } else {
            AgoraError::Transport(format!("the answer was cut short: {}", describe(&e)))
        }
    })?;
    if prefix.cut {
        return Err(AgoraError::TooLarge {
            what: format!("the {} answer", route.name()),
            limit,
        });
    }
    Ok(prefix.bytes)
}

/// The delay a `Retry-After` header asks for: seconds, or an HTTP date
/// (against the answer's own `Date`, else this machine's clock). Clamped
/// to the policy's longest wait; a value that does not read is ignored.
fn retry_after(headers: &HeaderMap, policy: &RetryPolicy) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    let now = headers
        .get(reqwest::header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| jiff::fmt::rfc2822::parse(d).ok())
        .map_or_else(|| SystemClock.now(), |d| d.timestamp());
    parse_retry_after(value, now).map(|d| policy.clamp_server_delay(d))
}

/// Reads a `Retry-After` value: a count of seconds (any number of digits:
/// too many for a `u64` is "very long"), or an HTTP date, whose delay is
/// counted from `now`; a date in the past is no delay.
pub(crate) fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let ahead = at.duration_since(now);
    Some(Duration::try_from(ahead).unwrap_or(Duration::ZERO))
}

/// A short, printable, secret-free start of a body. The key is removed
/// before the cut, so a key across the cut leaves no part of itself.
pub(crate) fn snippet(body: &[u8], key: &ApiKey) -> String {
    // Redacted before the cut, so that a key the cut falls into is not
    // shown in part; only as much as the cut can show is looked at.
    let text = String::from_utf8_lossy(body);
    // Any key that starts before the cut ends within this much.
    let head: String = text
        .chars()
        .take(SNIPPET_CHARS + key.expose().chars().count())
        .collect();
    redact(&head, key)
        .chars()
        .take(SNIPPET_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Keys at least this long are removed wherever they appear; a shorter one
/// (`demo`, a test account's `a`) could be part of any word, so it is
/// removed where it stands alone: not between letters or digits.
const REDACT_ANYWHERE_LEN: usize = 8;

/// Removes the key from a text the server sent (a careless gateway may
/// echo it), however short the key.
pub(crate) fn redact(text: &str, key: &ApiKey) -> String {
    let secret = key.expose();
    if secret.is_empty() {
        return text.to_owned();
    }
    if secret.chars().count() >= REDACT_ANYWHERE_LEN {
        return text.replace(secret, "[REDACTED]");
    }
    let in_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, _) in text.match_indices(secret) {
        let end = at + secret.len();
        if in_word(text[..at].chars().next_back()) || in_word(text[end..].chars().next()) {
            continue;
        }
        out.push_str(&text[copied..at]);
        out.push_str("[REDACTED]");
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The first bytes of an error's answer (up to the error-body limit), and
/// whether the body went on past them.
#[derive(Default)]
pub(crate) struct Body {
    /// The bytes read.
    pub bytes: bytes::Bytes,
    /// Whether the rest was left unread.
    pub cut: bool,
}

/// What an error's body says: AgoraPlus's envelope, or something else.
enum Said {
    /// A JSON object with at least one field of AgoraPlus's envelope.
    Envelope(ServiceMessage),
    /// JSON, but not AgoraPlus's envelope (a gateway's own JSON).
    OtherJson(String),
    /// Not JSON (an HTML page, text, a body cut at its limit) or empty.
    NotJson(String),
}

fn said(body: &Body, key: &ApiKey) -> Said {
    let bytes = &body.bytes[..];
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Said::NotJson(String::new());
    }
    let text = || {
        let mut text = snippet(bytes, key).trim().to_owned();
        if body.cut
            || String::from_utf8_lossy(bytes)
                .chars()
                .nth(SNIPPET_CHARS)
                .is_some()
        {
            text.push('…');
        }
        text
    };
    if body.cut {
        // Cut at its limit: whatever it was, it does not parse whole.
        return Said::NotJson(text());
    }
    match Envelope::<serde::de::IgnoredAny>::from_slice(bytes) {
        Ok(env) if is_envelope(&env) => Said::Envelope(ServiceMessage {
            message: env.message().map(|m| redact(m, key)),
            status: env.response_status,
        }),
        _ if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() => {
            Said::OtherJson(text())
        }
        _ => Said::NotJson(text()),
    }
}

/// Whether a decoded object carried any field of the envelope (5.3.4).
fn is_envelope<T>(env: &Envelope<T>) -> bool {
    env.response_status.is_some()
        || env.is_valid.is_some()
        || env.response_message.is_some()
        || env.response_error_message.is_some()
        || env.response_data.is_some()
}

/// Maps an HTTP error status, with what its body said. A 429 is
/// throttling; a 502 or 504, or a 5xx without AgoraPlus's envelope, comes
/// from a gateway in between.
pub(crate) fn status_error(
    route: Route,
    status: StatusCode,
    body: &Body,
    retry_after: Option<Duration>,
    key: &ApiKey,
) -> AgoraError {
    let said = said(body, key);
    let code = status.as_u16();
    let gateway = |body: String| AgoraError::Gateway {
        status: code,
        body,
        retry_after,
    };
    match (&said, code) {
        (Said::Envelope(m), 502 | 504) => {
            return gateway(format!(
                "is AgoraPlus's envelope{}",
                m.message
                    .as_deref()
                    .map(|m| format!(", saying: {m}"))
                    .unwrap_or_default()
            ));
        }
        (Said::NotJson(text), 500..=599) if text.is_empty() => {
            return gateway("is empty".to_owned());
        }
        (Said::NotJson(text), 500..=599) => {
            return gateway(format!("is not JSON, it starts: {text:?}"));
        }
        (Said::OtherJson(text), 500..=599) => {
            return gateway(format!(
                "is JSON but not AgoraPlus's envelope, it starts: {text:?}"
            ));
        }
        _ => {}
    }
    let message = match said {
        Said::Envelope(m) => m,
        Said::OtherJson(text) | Said::NotJson(text) => ServiceMessage {
            status: None,
            message: (!text.is_empty()).then_some(text),
        },
    };
    match code {
        400 => AgoraError::BadRequest(message),
        401 => AgoraError::Unauthorized(message),
        403 => AgoraError::Forbidden(message),
        404 if route == Route::PrintBomData
            && message
                .message
                .as_deref()
                .is_some_and(|m| m.to_ascii_lowercase().contains("expired")) =>
        {
            AgoraError::ProductKeyExpired(message)
        }
        404 => AgoraError::NotFound(message),
        405 => AgoraError::MethodNotAllowed(message),
        429 => AgoraError::Throttled {
            message,
            retry_after,
        },
        500 => AgoraError::ServerError(message),
        503 => AgoraError::Unavailable {
            message,
            retry_after,
        },
        other => AgoraError::UnexpectedStatus {
            status: other,
            message,
        },
    }
}

/// Wraps a decode failure with a snippet of the body, the key taken out of both.
pub(crate) fn decode_error(error: DecodeError, body: &[u8], key: &ApiKey) -> AgoraError {
    AgoraError::Decode {
        error: error.redacted(key.expose()),
        snippet: snippet(body, key),
    }
}

/// Judges a decoded envelope: an error verdict fails the call, except on
/// routes whose data carries its own verdict (claims) when data came back.
pub(crate) fn judge<T>(
    route: Route,
    mut env: Envelope<T>,
    key: &ApiKey,
    empty: Option<fn() -> T>,
) -> Result<Reply<T>, AgoraError> {
    let data = env.response_data.take();
    settle(route, env.verdict(), data, empty, || ServiceMessage {
        message: env.message().map(|m| redact(m, key)),
        status: env.response_status.clone(),
    })
}

/// What a verdict makes of a call: its reply, or the error. The message is
/// built (and redacted) only when it is used: a plain success, the common
/// case, pays nothing for it. A success without data is `empty()` where
/// "no results" is empty (see [`AgoraClient::send_list`]).
fn settle<T>(
    route: Route,
    verdict: Verdict,
    data: Option<T>,
    empty: Option<fn() -> T>,
    message: impl FnOnce() -> ServiceMessage,
) -> Result<Reply<T>, AgoraError> {
    let data = match (verdict, data, empty) {
        (Verdict::Success | Verdict::Warning, None, Some(empty)) => Some(empty()),
        (_, data, _) => data,
    };
    match (verdict, data) {
        (Verdict::Success, Some(data)) => Ok(Reply::ok(data)),
        (Verdict::Error, Some(data)) if route.data_carries_verdict() => {
            Ok(Reply::warned(data, message().message))
        }
        (Verdict::Error, _) => Err(AgoraError::Rejected(message())),
        (Verdict::Warning, Some(data)) => Ok(Reply::warned(data, message().message)),
        (_, None) => {
            let message = message();
            Err(AgoraError::Rejected(ServiceMessage {
                message: Some(format!(
                    "{} answered without ResponseData{}",
                    route.name(),
                    message
                        .message
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                )),
                status: message.status,
            }))
        }
    }
}

/// Decodes an answer tolerantly (strictly first; see
/// `Envelope::from_slice_tolerant`): the list items set aside come back in
/// the reply.
fn into_reply<T: DeserializeOwned + ReadAnswer>(
    route: Route,
    bytes: &[u8],
    key: &ApiKey,
    empty: Option<fn() -> T>,
) -> Result<Reply<T>, AgoraError> {
    let (env, set_aside) =
        Envelope::<T>::from_slice_tolerant(bytes).map_err(|e| decode_error(e, bytes, key))?;
    let mut reply = judge(route, env, key, empty)?;
    reply.set_aside = set_aside;
    Ok(reply)
}

/// A failed call of a route where "no results" is empty (`empty` given):
/// a 404 is an empty result, whatever its body (reference 5.3.3: "No
/// results match your request"). Any other failure stays one.
fn no_results<T>(error: AgoraError, empty: Option<fn() -> T>) -> Result<Reply<T>, AgoraError> {
    match (error, empty) {
        (AgoraError::NotFound(_), Some(empty)) => Ok(Reply::ok(empty())),
        (error, _) => Err(error),
    }
}

/// Like [`AgoraClient::send`] for routes that may answer without data.
impl AgoraClient {
    pub(crate) async fn send_unit(&self, call: Call<'_>) -> Result<Reply<()>, AgoraError> {
        let route = call.route;
        let limit = self.config.limits.answer_bytes;
        let bytes = self
            .with_retries(&call, |resp| read_answer(resp, route, limit))
            .await?;
        // The verdict is read without allocating; a body that does not read
        // as an envelope is decoded again, naming the failing field.
        let head = match EnvelopeHead::from_slice(&bytes) {
            Ok(head) => head,
            Err(_) => {
                let error = match Envelope::<serde::de::IgnoredAny>::from_slice(&bytes) {
                    Err(e) => decode_error(e, &bytes, &self.config.api_key),
                    Ok(_) => AgoraError::Transport("the answer is not an envelope".to_owned()),
                };
                return Err(in_doubt_unless_settled(&call, error));
            }
        };
        // An update answers no data: the verdict alone settles it.
        settle(route, head.verdict(), Some(()), None, || ServiceMessage {
            message: head.message().map(|m| redact(m, &self.config.api_key)),
            status: head
                .response_status
                .as_deref()
                .map(agora_domain::ResponseStatus::lenient),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(s: &str) -> jiff::Timestamp {
        jiff::fmt::rfc2822::parse(s).unwrap().timestamp()
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = at("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // A date in the past is no delay; a huge count is "very long".
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn a_server_delay_is_clamped_to_the_longest_wait() {
        let policy = RetryPolicy::default();
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3600"));
        assert_eq!(retry_after(&headers, &policy), Some(policy.max_backoff));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers, &policy), Some(Duration::from_secs(3)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:04 GMT"),
        );
        headers.insert(
            reqwest::header::DATE,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers, &policy), Some(Duration::from_secs(4)));
        assert_eq!(
            retry_delay(&policy, 1, Some(Duration::MAX), 1.0),
            policy.max_backoff
        );
        assert_eq!(
            retry_delay(&policy, 1, Some(Duration::from_secs(3)), 1.0),
            Duration::from_secs(3)
        );
    }

    fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::MAX),
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
            (0u64..100_000).prop_map(Duration::from_millis),
        ]
    }

    fn any_policy() -> impl Strategy<Value = RetryPolicy> {
        (any::<u32>(), any_duration(), any_duration(), any_duration()).prop_map(
            |(max_attempts, initial_backoff, max_backoff, max_elapsed)| RetryPolicy {
                max_attempts,
                initial_backoff,
                max_backoff,
                max_elapsed,
            },
        )
    }

    proptest! {
        /// Whatever a `Retry-After` holds, reading it neither panics nor
        /// yields more than the policy's longest wait.
        #[test]
        fn any_retry_after_header_is_safe(
            value in prop_oneof![
                "[0-9]{0,40}",
                "[ -~]{0,40}",
                "(Mon|Tue|Sat), [0-9]{1,2} (Jan|Feb|Dec) [0-9]{1,5} [0-9]{2}:[0-9]{2}:[0-9]{2} (GMT|\\+9999|-0000)",
            ],
            date in prop::option::of("(Mon|Sun), [0-9]{1,2} (Jan|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT"),
            policy in any_policy(),
        ) {
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(RETRY_AFTER, v);
            }
            if let Some(Ok(d)) = date.map(|d| HeaderValue::from_str(&d)) {
                headers.insert(reqwest::header::DATE, d);
            }
            if let Some(d) = retry_after(&headers, &policy) {
                prop_assert!(d <= policy.max_backoff);
            }
        }

        /// The wait between attempts never panics, never passes the
        /// policy's longest wait, and the running total saturates instead
        /// of overflowing, for any policy, attempt and server delay.
        #[test]
        fn the_wait_between_attempts_is_bounded(
            policy in any_policy(),
            attempt in any::<u32>(),
            asked in prop::option::of(any_duration()),
            unit in prop_oneof![any::<f64>(), 0.0f64..1.0],
            waited in any_duration(),
        ) {
            let delay = retry_delay(&policy, attempt, asked, unit);
            prop_assert!(delay <= policy.max_backoff);
            if let Some(asked) = asked {
                prop_assert!(delay >= asked.min(policy.max_backoff));
            }
            let total = waited.saturating_add(delay);
            prop_assert!(total >= waited);
        }
    }
}
