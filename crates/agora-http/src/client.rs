//! The client core: one way to send a call of the route table, decode its
//! envelope, map failures to typed errors, and retry what is safe to retry.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agora_domain::routes::{Method, Route};
use agora_domain::{Envelope, EnvelopeHead, ReadAnswer};
use agora_ports::{
    AgoraError, CallMeter, CallOutcome, Clock, Reach, Reply, ServiceMessage, SystemClock,
};
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::bounds::read_prefix;
use crate::config::{ClientConfig, RetryPolicy};

mod delta;
mod transport;

use crate::answers::*;
pub use transport::tls_config;
use transport::*;

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
    /// Counts each call by route and outcome, and each retry.
    meter: Option<Arc<dyn CallMeter>>,
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
            meter: None,
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

    /// Counts every call (by route and outcome, after its retries) and
    /// every retry through `meter`: the one place calls are counted.
    #[must_use]
    pub fn with_meter(mut self, meter: Arc<dyn CallMeter>) -> Self {
        self.meter = Some(meter);
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
                    if let Some(meter) = &self.meter {
                        meter.call(call.route.name(), CallOutcome::Ok);
                    }
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
                if let Some(meter) = &self.meter {
                    meter.call(call.route.name(), outcome(call.route, &error));
                }
                return Err(in_doubt_unless_settled(call, error));
            }
            if let Some(meter) = &self.meter {
                meter.retry(call.route.name());
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
        let resp = req.send().await.map_err(|e| self.transport_error(e))?;
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
        let retry_after = retry_after(resp.headers());
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
    pub(crate) fn transport_error(&self, e: reqwest::Error) -> AgoraError {
        let reason = describe(&e);
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
            AgoraError::Transport(agora_ports::Cause::with_source(reason, e.without_url()))
        }
    }
}

/// How a failed call is counted: as [`CallOutcome::of`], except that a
/// 404 of a route where it means "no results" (an empty list) is an
/// answer like any other.
fn outcome(route: Route, error: &AgoraError) -> CallOutcome {
    match error {
        AgoraError::NotFound(_) if route.no_results_is_empty() => CallOutcome::Ok,
        _ => CallOutcome::of(error),
    }
}

/// The wait before the attempt after `attempt`: the policy's jittered
/// backoff, or the server's `Retry-After` when longer; never more than the
/// policy's longest wait.
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
            AgoraError::transport("timed out while reading the answer")
        } else {
            AgoraError::Transport(agora_ports::Cause::with_source(
                format!("the answer was cut short: {}", describe(&e)),
                e.without_url(),
            ))
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
/// (against the answer's own `Date`, else this machine's clock), as the
/// server asked (the waits between attempts clamp it, see
/// [`retry_delay`]); a value that does not read is ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    let now = headers
        .get(reqwest::header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| jiff::fmt::rfc2822::parse(d).ok())
        .map_or_else(|| SystemClock.now(), |d| d.timestamp());
    parse_retry_after(value, now)
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
                    Ok(_) => AgoraError::transport("the answer is not an envelope"),
                };
                return Err(in_doubt_unless_settled(&call, error));
            }
        };
        // A body that says nothing (`{}`) is no verdict (see `judge`).
        if head.is_bare() {
            let error = bare_answer(route, &bytes, &self.config.api_key);
            return Err(in_doubt_unless_settled(&call, error));
        }
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
mod tests;
