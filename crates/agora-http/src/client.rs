//! The client core: one way to send a call of the route table, decode its
//! envelope, map failures to typed errors, and retry what is safe to retry.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agora_domain::envelope::Verdict;
use agora_domain::routes::{Method, Route};
use agora_domain::{DecodeError, Envelope, EnvelopeHead};
use agora_ports::{AgoraError, Reach, Reply, ServiceMessage};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::config::{ApiKey, ClientConfig};

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
        // rustls needs a process-wide crypto provider; ring is this
        // project's one TLS stack. Installing fails only when one already is.
        let _ = rustls::crypto::ring::default_provider().install_default();
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
        let http = build_http(&config, None)?;
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
            url,
            body: None,
        }
    }

    /// Sends a call and decodes its envelope, retrying what is safe to
    /// retry. Returns the data and the warning of a `W` envelope.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<Reply<T>, AgoraError> {
        let route = call.route;
        let bytes = self.with_retries(&call, read_body).await?;
        into_reply(route, &bytes, &self.config.api_key)
            .map_err(|e| in_doubt_unless_settled(route, e))
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
            let safe = if call.route.is_idempotent() {
                error.is_retryable()
            } else {
                error.is_retryable() && error.reach() == Reach::NotSent
            };
            let mut delay = policy.backoff(attempt + 1, fastrand::f64());
            if let Some(asked) = error.retry_after() {
                delay = delay.max(asked);
            }
            if !safe || attempt >= policy.max_attempts || waited + delay > policy.max_elapsed {
                return Err(in_doubt_unless_settled(call.route, error));
            }
            tracing::info!(
                route = call.route.name(),
                attempt,
                delay_ms = delay.as_millis() as u64,
                "retrying"
            );
            self.sleeper.sleep(delay).await;
            waited += delay;
            attempt += 1;
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
                    let built = build_http(&self.config, Some(self.config.read_timeout))?;
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
        let retry_after = retry_after(resp.headers());
        let body = read_body(resp).await.unwrap_or_default();
        Err(status_error(
            call.route,
            status,
            &body,
            retry_after,
            &self.config.api_key,
        ))
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
    read_timeout: Option<Duration>,
) -> Result<reqwest::Client, AgoraError> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let mut key = HeaderValue::from_str(config.api_key.expose()).map_err(|_| {
        AgoraError::Config("the api_key holds characters a header cannot carry".to_owned())
    })?;
    key.set_sensitive(true);
    headers.insert("api_key", key);
    let mut builder = reqwest::Client::builder()
        .default_headers(headers)
        .user_agent(config.user_agent.clone())
        .connect_timeout(config.connect_timeout);
    if let Some(read_timeout) = read_timeout {
        builder = builder.read_timeout(read_timeout);
    }
    builder
        .build()
        .map_err(|e| AgoraError::Config(format!("cannot build the HTTP client: {e}")))
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
fn in_doubt_unless_settled(route: Route, error: AgoraError) -> AgoraError {
    if !route.is_idempotent() && error.reach() == Reach::Unknown {
        AgoraError::InDoubt {
            operation: route.name(),
            cause: Box::new(error),
        }
    } else {
        error
    }
}

async fn read_body(resp: reqwest::Response) -> Result<bytes::Bytes, AgoraError> {
    resp.bytes().await.map_err(|e| {
        if e.is_timeout() {
            AgoraError::Transport("timed out while reading the answer".to_owned())
        } else {
            AgoraError::Transport(format!("the answer was cut short: {}", describe(&e)))
        }
    })
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // An HTTP date: the delay from the server's own `Date`, when it sent one.
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let now = headers
        .get(reqwest::header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| jiff::fmt::rfc2822::parse(d).ok())?
        .timestamp();
    let secs = at.duration_since(now).as_secs();
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// A short, printable, secret-free start of a body. The key is removed
/// before the cut, so a key across the cut leaves no part of itself.
pub(crate) fn snippet(body: &[u8], key: &ApiKey) -> String {
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

fn message_of(body: &[u8], key: &ApiKey) -> ServiceMessage {
    match Envelope::<serde_json::Value>::from_slice(body) {
        Ok(env) => ServiceMessage {
            message: env.message().map(|m| redact(m, key)),
            status: env.response_status,
        },
        Err(_) => ServiceMessage {
            status: None,
            message: (!body.is_empty())
                .then(|| snippet(body, key).trim().to_owned())
                .filter(|m| !m.is_empty()),
        },
    }
}

/// Maps an HTTP error status, with what its body said.
pub(crate) fn status_error(
    route: Route,
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
    key: &ApiKey,
) -> AgoraError {
    let message = message_of(body, key);
    match status.as_u16() {
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
) -> Result<Reply<T>, AgoraError> {
    let data = env.response_data.take();
    settle(route, env.verdict(), data, || ServiceMessage {
        message: env.message().map(|m| redact(m, key)),
        status: env.response_status.clone(),
    })
}

/// What a verdict makes of a call: its reply, or the error. The message is
/// built (and redacted) only when it is used: a plain success, the common
/// case, pays nothing for it.
fn settle<T>(
    route: Route,
    verdict: Verdict,
    data: Option<T>,
    message: impl FnOnce() -> ServiceMessage,
) -> Result<Reply<T>, AgoraError> {
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

fn into_reply<T: DeserializeOwned>(
    route: Route,
    bytes: &[u8],
    key: &ApiKey,
) -> Result<Reply<T>, AgoraError> {
    let env = Envelope::<T>::from_slice(bytes).map_err(|e| decode_error(e, bytes, key))?;
    judge(route, env, key)
}

/// Like [`AgoraClient::send`] for routes that may answer without data.
impl AgoraClient {
    pub(crate) async fn send_unit(&self, call: Call<'_>) -> Result<Reply<()>, AgoraError> {
        let route = call.route;
        let bytes = self.with_retries(&call, read_body).await?;
        // The verdict is read without allocating; a body that does not read
        // as an envelope is decoded again, naming the failing field.
        let head = match EnvelopeHead::from_slice(&bytes) {
            Ok(head) => head,
            Err(_) => {
                let error = match Envelope::<serde::de::IgnoredAny>::from_slice(&bytes) {
                    Err(e) => decode_error(e, &bytes, &self.config.api_key),
                    Ok(_) => AgoraError::Transport("the answer is not an envelope".to_owned()),
                };
                return Err(in_doubt_unless_settled(route, error));
            }
        };
        // An update answers no data: the verdict alone settles it.
        settle(route, head.verdict(), Some(()), || ServiceMessage {
            message: head.message().map(|m| redact(m, &self.config.api_key)),
            status: head
                .response_status
                .as_deref()
                .map(agora_domain::ResponseStatus::lenient),
        })
    }
}
