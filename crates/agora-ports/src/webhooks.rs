//! Webhooks: the events POSTed to the endpoints a service center
//! configures, signed, retried with backoff through the store until
//! delivered or given up.
//!
//! The rules live here, pure: what an endpoint may be ([`WebhookEndpoint::new`]:
//! https, or http to this machine only), what is sent ([`webhook_body`]),
//! how it is signed and checked ([`sign`], [`verify_signature`]: the Stripe
//! scheme, `Agora-Signature: t=TIMESTAMP,v1=HEX`, HEX the HMAC-SHA256 of
//! `"TIMESTAMP.BODY"` under each valid secret), and when a failed delivery
//! is tried again or given up ([`WebhookRetry::after_failure`]). The store
//! keeps a delivery per event per endpoint ([`WebhookDeliveries`]); the
//! worker's loop (`agora_app::Watch::webhooks`) sends them through a
//! [`WebhookSender`], an HTTP adapter outside the use cases.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{KeyInit, Mac};
use jiff::Timestamp;
use serde::Serialize;

use crate::error::AgoraError;
use crate::events::{Event, EventType};
use crate::outbox::Lease;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Agora-Signature";

/// How far a signature's `t` may be from the receiver's clock by default
/// (5 minutes, as Stripe's libraries): an older request is refused as a
/// possible replay.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Whether `host` (a URL's host, IPv6 in brackets or not) is this machine:
/// `localhost`, `127.0.0.0/8` or `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// A signing secret. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// A secret; refused when empty.
    pub fn new(secret: impl Into<String>) -> Result<Self, AgoraError> {
        let secret = secret.into();
        if secret.trim().is_empty() {
            return Err(AgoraError::Config("a webhook secret is empty".to_owned()));
        }
        Ok(Self(secret))
    }

    /// The secret's bytes, to sign with.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// An endpoint events are POSTed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Its name: the key its deliveries are kept under (`planning`).
    pub name: String,
    /// Where events are POSTed.
    pub url: String,
    /// The kinds of events it wants; empty: all.
    pub types: Vec<EventType>,
    /// One secret, or two while one is rotated: each request is signed
    /// with every one (a `v1=` entry each), so that a receiver that knows
    /// either accepts it.
    pub secrets: Vec<WebhookSecret>,
}

impl WebhookEndpoint {
    /// An endpoint, checked: a name of letters, digits, `-`, `_` or `.`;
    /// an `https://` URL, or `http://` to this machine only (`localhost`,
    /// `127.0.0.0/8`, `::1`); one or two secrets. A typed
    /// [`AgoraError::Config`] naming the endpoint otherwise.
    pub fn new(
        name: &str,
        url: &str,
        types: Vec<EventType>,
        secrets: Vec<WebhookSecret>,
    ) -> Result<Self, AgoraError> {
        let bad = |why: String| AgoraError::Config(format!("webhook `{name}`: {why}"));
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(AgoraError::Config(format!(
                "webhook name `{name}`: use letters, digits, `-`, `_` or `.`"
            )));
        }
        let parsed = url::Url::parse(url).map_err(|e| bad(format!("invalid URL `{url}`: {e}")))?;
        match parsed.scheme() {
            "https" => {}
            "http" if parsed.host_str().is_some_and(is_loopback_host) => {}
            "http" => {
                return Err(bad(format!(
                    "`{url}` is http:// to a host that is not this machine: the events would travel in clear; use https:// (http:// is allowed to localhost, 127.0.0.0/8 and ::1 only)"
                )));
            }
            other => return Err(bad(format!("`{url}`: expected https:// (not {other}://)"))),
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad(format!("`{url}` names no host")));
        }
        if secrets.is_empty() || secrets.len() > 2 {
            return Err(bad(format!(
                "give one secret, or two while rotating (got {})",
                secrets.len()
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            url: url.to_owned(),
            types,
            secrets,
        })
    }

    /// Whether it wants events of kind `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.types.is_empty() || self.types.iter().any(|t| t.as_str() == kind)
    }
}

/// An event as POSTed: the same fields as `agora events --json` prints.
#[derive(Serialize)]
struct Body<'a> {
    id: u64,
    #[serde(rename = "type")]
    kind: &'a str,
    at: String,
    intervention_id: Option<i64>,
    data: &'a serde_json::Value,
}

/// The JSON body POSTed for `event`: `{"id", "type", "at", "intervention_id",
/// "data"}`.
pub fn webhook_body(event: &Event) -> Vec<u8> {
    serde_json::to_vec(&Body {
        id: event.id,
        kind: &event.kind,
        at: event.at.to_string(),
        intervention_id: event.intervention_id.map(|i| i.0),
        data: &event.data,
    })
    .unwrap_or_default()
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length.
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The `v1` signature of `body` at `t` (Unix seconds) under `secret`: the
/// hex HMAC-SHA256 of `"t.body"`.
pub fn signature_v1(secret: &[u8], t: i64, body: &[u8]) -> String {
    hex(&mac(secret, t, body).finalize().into_bytes())
}

/// The `Agora-Signature` header's value for `body` sent at `t`:
/// `t=T,v1=HEX` with one `v1=` per secret.
pub fn sign(secrets: &[WebhookSecret], t: i64, body: &[u8]) -> String {
    let mut header = format!("t={t}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&signature_v1(secret.expose(), t, body));
    }
    header
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The header is not `t=…,v1=…`.
    #[error("the Agora-Signature header is malformed (expected t=TIMESTAMP,v1=HEX)")]
    Malformed,
    /// `t` is further from now than the tolerance: a replay, or a clock off.
    #[error("the signature's time {t} is {off_by_secs} s from now, more than the tolerance")]
    OutsideTolerance {
        /// The header's `t`.
        t: i64,
        /// How far from now, in seconds.
        off_by_secs: i64,
    },
    /// No `v1` signature matches any of the secrets.
    #[error("no v1 signature matches")]
    NoMatch,
}

/// Checks an `Agora-Signature` header for `body` (the raw bytes received)
/// against the receiver's secrets (any may match: during a rotation, the
/// old and the new), and that its `t` is within `tolerance` of `now`.
/// Signatures are compared in constant time. Returns `t`.
///
/// ```
/// use agora_ports::{WebhookSecret, sign, verify_signature, DEFAULT_TOLERANCE};
/// let secret = WebhookSecret::new("whsec_test").unwrap();
/// let header = sign(&[secret.clone()], 1_700_000_000, br#"{"id":1}"#);
/// let now = jiff::Timestamp::from_second(1_700_000_010).unwrap();
/// assert!(verify_signature(&header, br#"{"id":1}"#, &[secret], now, DEFAULT_TOLERANCE).is_ok());
/// ```
pub fn verify_signature(
    header: &str,
    body: &[u8],
    secrets: &[WebhookSecret],
    now: Timestamp,
    tolerance: Duration,
) -> Result<i64, SignatureError> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", v)) => v1.push(v),
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let Some(t) = t else {
        return Err(SignatureError::Malformed);
    };
    if v1.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let off = now.as_second().saturating_sub(t).saturating_abs();
    if u64::try_from(off).unwrap_or(u64::MAX) > tolerance.as_secs() {
        return Err(SignatureError::OutsideTolerance {
            t,
            off_by_secs: off,
        });
    }
    let matches = v1.iter().filter_map(|v| unhex(v)).any(|sig| {
        secrets
            .iter()
            // `verify_slice` compares in constant time.
            .any(|s| mac(s.expose(), t, body).verify_slice(&sig).is_ok())
    });
    if matches {
        Ok(t)
    } else {
        Err(SignatureError::NoMatch)
    }
}

/// When a failed delivery is tried again: after `base`, doubling per
/// attempt up to `max_delay`; given up once it was queued more than
/// `max_age` ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookRetry {
    /// The first delay (default 5 s).
    pub base: Duration,
    /// The longest delay (default 1 h).
    pub max_delay: Duration,
    /// How long a delivery is tried before it is given up and shown as
    /// failed (default 3 days).
    pub max_age: Duration,
}

impl Default for WebhookRetry {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            max_delay: Duration::from_secs(3600),
            max_age: Duration::from_secs(3 * 86_400),
        }
    }
}

impl WebhookRetry {
    /// The delay after the `attempts`-th failed attempt (1 for the first).
    pub fn delay(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(20);
        self.base.saturating_mul(factor).min(self.max_delay)
    }

    /// After the `attempts`-th attempt failed at `now`, of a delivery
    /// queued at `queued_at`: when to try again, or `None` to give it up
    /// (its next attempt would come after `max_age`).
    pub fn after_failure(
        &self,
        attempts: u32,
        queued_at: Timestamp,
        now: Timestamp,
    ) -> Option<Timestamp> {
        let next = now.checked_add(self.delay(attempts)).ok()?;
        let deadline = queued_at.checked_add(self.max_age).ok()?;
        (next <= deadline).then_some(next)
    }
}

/// A delivery's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Not yet delivered: due at its next attempt time (maybe being sent).
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Given up after `max_age` of failures (`agora events redeliver`
    /// queues it again).
    Failed,
}

impl DeliveryState {
    /// The name it is stored under.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// The state stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// A delivery claimed for sending: the event, and where its retries stand.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    /// The endpoint's name.
    pub endpoint: String,
    /// The event.
    pub event: Event,
    /// Attempts made before this one.
    pub attempts: u32,
    /// When it was queued (or queued again): `max_age` counts from here.
    pub queued_at: Timestamp,
}

/// How an attempt went, as [`WebhookDeliveries::finish_delivery`] records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The endpoint answered 2xx at this time.
    Delivered(Timestamp),
    /// It failed (why); try again at this time.
    Retry {
        /// When.
        at: Timestamp,
        /// Why it failed.
        error: String,
    },
    /// It failed (why) and is given up.
    GaveUp(String),
}

/// The deliveries of one endpoint not yet delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookBacklog {
    /// The endpoint's name.
    pub endpoint: String,
    /// Deliveries pending (due or waiting for a retry).
    pub pending: u64,
    /// Deliveries given up.
    pub failed: u64,
}

/// A delivery given up, for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedDelivery {
    /// The endpoint's name.
    pub endpoint: String,
    /// The event's id.
    pub event_id: u64,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's failure.
    pub last_error: Option<String>,
}

/// The store's webhook deliveries: one per event per endpoint, with a
/// state, attempts, the next attempt's time and a lease.
///
/// The contract, which every store implements and the conformance tests
/// check:
/// - `queue_deliveries` moves the endpoint's cursor from `after` to `upto`
///   and queues a pending delivery of each of `events` (ids in
///   `(after, upto]`), due at `now`, in one transaction; it does nothing
///   and returns `false` if the cursor is not at `after` (another worker
///   moved it). A delivery already there is left as it is.
/// - `claim_deliveries` leases up to `limit` pending deliveries of the
///   endpoint that are due at `now` and not leased by another owner (an
///   expired lease is free), by event id, and at most one per repair file:
///   none whose repair file has an earlier pending delivery to the same
///   endpoint (leased or not); deliveries of no repair file wait for
///   nothing.
/// - `finish_delivery` records an attempt's outcome only while `owner`
///   holds the lease; `false` otherwise (and nothing changes).
/// - `requeue_deliveries` makes the deliveries of `events` to the
///   endpoint pending again, due at `now`, attempts reset and queued at
///   `now` (creating those missing for events still kept).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WebhookDeliveries: Send + Sync {
    /// The last event id considered for `endpoint` (0 at first).
    async fn webhook_cursor(&self, endpoint: &str) -> Result<u64, AgoraError>;
    /// Queues deliveries and moves the cursor, as the contract says.
    async fn queue_deliveries(
        &self,
        endpoint: &str,
        after: u64,
        upto: u64,
        events: &[u64],
        now: Timestamp,
    ) -> Result<bool, AgoraError>;
    /// Leases due deliveries, as the contract says.
    async fn claim_deliveries(
        &self,
        endpoint: &str,
        now: Timestamp,
        lease: &Lease,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, AgoraError>;
    /// Records the outcome of `owner`'s attempt at delivering `event`.
    async fn finish_delivery(
        &self,
        endpoint: &str,
        event: u64,
        owner: &str,
        outcome: &DeliveryOutcome,
    ) -> Result<bool, AgoraError>;
    /// Queues the deliveries of `events` to `endpoint` again; returns how
    /// many were queued.
    async fn requeue_deliveries(
        &self,
        endpoint: &str,
        events: &[u64],
        now: Timestamp,
    ) -> Result<usize, AgoraError>;
    /// The deliveries pending and given up, per endpoint that has any
    /// (the "events pending per webhook" of the metrics).
    async fn webhook_backlog(&self) -> Result<Vec<WebhookBacklog>, AgoraError>;
    /// Up to `limit` deliveries given up, newest event first.
    async fn failed_deliveries(&self, limit: usize) -> Result<Vec<FailedDelivery>, AgoraError>;
    /// The state of `event`'s delivery to `endpoint`, if there is one.
    async fn delivery_state(
        &self,
        endpoint: &str,
        event: u64,
    ) -> Result<Option<DeliveryState>, AgoraError>;
}

/// What a prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Events.
    pub events: u64,
    /// Delivered outbox entries.
    pub outbox_entries: u64,
    /// Webhook deliveries delivered or given up.
    pub deliveries: u64,
}

/// Retention: what is kept only for a while.
///
/// The contract: `prune(before)` deletes, in one transaction, the outbox
/// entries delivered whose last send started (else: were written) before
/// `before`; the webhook deliveries delivered or given up of events
/// recorded before `before`; and the events recorded before `before` that
/// no delivery still needs (none pending). Nothing else: pending, in
/// doubt and failed outbox entries, and pending deliveries, are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Retention: Send + Sync {
    /// Prunes what is older than `before`, as the contract says.
    async fn prune(&self, before: Timestamp) -> Result<Pruned, AgoraError>;
}

/// Why an attempt at POSTing an event failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SendFailure(pub String);

/// The HTTP side of webhooks: POSTs a body with its signature header.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs `body` (JSON) to `endpoint.url` with `Agora-Signature:
    /// signature`; `Ok` on a 2xx answer, a failure (the status, a timeout,
    /// no connection) otherwise.
    async fn post(
        &self,
        endpoint: &WebhookEndpoint,
        body: Vec<u8>,
        signature: String,
    ) -> Result<(), SendFailure>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn secret(s: &str) -> WebhookSecret {
        WebhookSecret::new(s).unwrap()
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // RFC 4231, test case 2 (HMAC-SHA256, key "Jefe"): checked through
        // the same MAC the signatures use, with the "t." prefix left out.
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signing_matches_a_known_vector_with_one_entry_per_secret() {
        let body = br#"{"id":1}"#;
        assert_eq!(
            sign(&[secret("whsec_test")], 1_700_000_000, body),
            "t=1700000000,v1=2f441ba4b3b2d50d28a9ab9d9fd8880376ecd1eb5d0435401553f5d8d0a5dcf8"
        );
        assert_eq!(
            sign(
                &[secret("whsec_test"), secret("whsec_old")],
                1_700_000_000,
                body
            ),
            "t=1700000000,v1=2f441ba4b3b2d50d28a9ab9d9fd8880376ecd1eb5d0435401553f5d8d0a5dcf8,\
             v1=19ba26ec17fc1d669efd043b897a630ed12f38e7ad371c6b410f5e93155c5a8e"
        );
    }

    #[test]
    fn verification_accepts_either_secret_and_refuses_tampering_and_replays() {
        let body = br#"{"id":1}"#;
        let now = Timestamp::from_second(1_700_000_100).unwrap();
        let both = sign(&[secret("new"), secret("old")], 1_700_000_000, body);
        for known in ["new", "old"] {
            assert_eq!(
                verify_signature(&both, body, &[secret(known)], now, DEFAULT_TOLERANCE),
                Ok(1_700_000_000)
            );
        }
        assert_eq!(
            verify_signature(&both, body, &[secret("other")], now, DEFAULT_TOLERANCE),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify_signature(
                &both,
                br#"{"id":2}"#,
                &[secret("new")],
                now,
                DEFAULT_TOLERANCE
            ),
            Err(SignatureError::NoMatch)
        );
        let late = Timestamp::from_second(1_700_000_301).unwrap();
        assert_eq!(
            verify_signature(&both, body, &[secret("new")], late, DEFAULT_TOLERANCE),
            Err(SignatureError::OutsideTolerance {
                t: 1_700_000_000,
                off_by_secs: 301
            })
        );
        for bad in ["", "v1=00", "t=x,v1=00", "t=1700000000", "garbage"] {
            assert_eq!(
                verify_signature(bad, body, &[secret("new")], now, DEFAULT_TOLERANCE),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn http_is_refused_except_to_this_machine() {
        let s = || vec![secret("s")];
        for ok in [
            "https://hooks.example.com/agora",
            "http://127.0.0.1:9000/hook",
            "http://127.8.9.10/hook",
            "http://localhost:9000/",
            "http://[::1]:9000/",
        ] {
            assert!(WebhookEndpoint::new("a", ok, vec![], s()).is_ok(), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/agora",
            "http://10.0.0.5/hook",
            "http://localhost.example.com/",
            "ftp://127.0.0.1/",
            "not a url",
        ] {
            let e = WebhookEndpoint::new("a", bad, vec![], s()).unwrap_err();
            assert!(matches!(e, AgoraError::Config(_)), "{bad}: {e}");
        }
        let e = WebhookEndpoint::new("a", "http://hooks.example.com/", vec![], s()).unwrap_err();
        assert!(e.to_string().contains("use https://"), "{e}");
        assert!(WebhookEndpoint::new("a", "https://h/", vec![], vec![]).is_err());
        assert!(
            WebhookEndpoint::new(
                "a",
                "https://h/",
                vec![],
                vec![secret("1"), secret("2"), secret("3")]
            )
            .is_err()
        );
        assert!(WebhookEndpoint::new("a b", "https://h/", vec![], s()).is_err());
        assert!(WebhookSecret::new(" ").is_err());
        assert_eq!(format!("{:?}", secret("hidden")), "WebhookSecret(***)");
    }

    #[test]
    fn an_endpoint_wants_its_types_or_all() {
        let all = WebhookEndpoint::new("a", "https://h/", vec![], vec![secret("s")]).unwrap();
        assert!(all.wants("claim.valid"));
        let some = WebhookEndpoint::new(
            "a",
            "https://h/",
            vec![EventType::ClaimValid],
            vec![secret("s")],
        )
        .unwrap();
        assert!(some.wants("claim.valid"));
        assert!(!some.wants("claim.notvalid"));
    }

    #[test]
    fn retries_back_off_to_a_cap_and_give_up_past_the_maximum_age() {
        let r = WebhookRetry {
            base: Duration::from_secs(5),
            max_delay: Duration::from_secs(60),
            max_age: Duration::from_secs(600),
        };
        let delays: Vec<u64> = (1..=6).map(|n| r.delay(n).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 60, 60]);
        let q = Timestamp::from_second(1_700_000_000).unwrap();
        let at = |s: i64| Timestamp::from_second(1_700_000_000 + s).unwrap();
        assert_eq!(r.after_failure(1, q, at(0)), Some(at(5)));
        assert_eq!(r.after_failure(9, q, at(540)), Some(at(600)));
        assert_eq!(r.after_failure(9, q, at(541)), None, "past max_age");
    }
}
