//! The one error type of the ports, classifying each failure: whether it is
//! worth retrying, and whether the call may have taken effect (*in doubt*).

use std::time::Duration;

use agora_domain::{DecodeError, ResponseStatus};

/// What AgoraPlus said along with an error: the envelope's messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceMessage {
    /// `ResponseStatus` of the envelope, when there was one.
    pub status: Option<ResponseStatus>,
    /// `ResponseErrorMessage`, else `ResponseMessage`.
    pub message: Option<String>,
}

impl std::fmt::Display for ServiceMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.message {
            Some(m) => write!(f, ": {m}"),
            None => Ok(()),
        }
    }
}

/// What went wrong in a library agora relies on (the store's database, the
/// HTTP stack): one sentence, with the library's own error kept as its
/// [`source`](std::error::Error::source), so a caller can walk to it (a
/// `rusqlite::Error`, a `reqwest::Error`, a `tokio_postgres::Error`).
#[derive(Debug)]
pub struct Cause {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Cause {
    /// A cause with no library error behind it.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// A cause told by `message`, keeping `source` behind it.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The sentence.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<String> for Cause {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for Cause {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

/// How far a failed call got, which decides what may be done next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The request certainly never reached the server (connection refused,
    /// bad configuration): any call may be resent.
    NotSent,
    /// The server answered that it did not do it (4xx, 503, an error
    /// envelope): nothing happened; resending is safe but may fail again.
    Refused,
    /// The request may have been processed (timeout after sending, a reset
    /// connection, a 500, an unreadable answer to a call that changes
    /// state): the outcome is unknown.
    Unknown,
}

/// Every failure a port can report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgoraError {
    /// HTTP 400: the request is incomplete or malformed.
    #[error("AgoraPlus refused the request as malformed (400){0}")]
    BadRequest(ServiceMessage),
    /// HTTP 401: the api_key is missing or invalid.
    #[error("AgoraPlus did not accept the api_key (401){0}")]
    Unauthorized(ServiceMessage),
    /// HTTP 403: the account may not do this, or is locked.
    #[error("AgoraPlus forbids this to the account, or the account is locked (403){0}")]
    Forbidden(ServiceMessage),
    /// HTTP 404: no such object (or route) for this account.
    #[error("not found (404){0}")]
    NotFound(ServiceMessage),
    /// HTTP 405: the route does not take this method.
    #[error("method not allowed (405){0}")]
    MethodNotAllowed(ServiceMessage),
    /// HTTP 500: AgoraPlus failed while processing.
    #[error("AgoraPlus failed while processing (500){0}")]
    ServerError(ServiceMessage),
    /// HTTP 503: AgoraPlus is unavailable; try again later.
    #[error("AgoraPlus is unavailable (503){message}")]
    Unavailable {
        /// What the envelope said.
        message: ServiceMessage,
        /// How long the server asked to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// HTTP 429: AgoraPlus (or its gateway) throttles the account. The
    /// request was not processed: resending it is safe on every route, after
    /// the delay asked for.
    #[error("AgoraPlus is throttling the account (429){message}{}", wait(*retry_after))]
    Throttled {
        /// What the answer said.
        message: ServiceMessage,
        /// How long the server asked to wait (`Retry-After`), as it asked.
        retry_after: Option<Duration>,
    },
    /// HTTP 502 or 504, or any 5xx that is not AgoraPlus's JSON envelope (a
    /// proxy's HTML page): something between here and AgoraPlus answered.
    /// Whether AgoraPlus received the request is unknown.
    #[error(
        "AgoraPlus is unavailable: HTTP {status} from a gateway or proxy in between; its body {body}"
    )]
    Gateway {
        /// The status.
        status: u16,
        /// What the body was, secret-free: `is not JSON, it starts: "…"`,
        /// `is empty`, or what AgoraPlus's envelope said.
        body: String,
        /// How long the server asked to wait (`Retry-After`), as it asked.
        retry_after: Option<Duration>,
    },
    /// A redirect to another origin (scheme, host or port): not followed,
    /// so that the api_key never leaves the configured origin.
    #[error(
        "AgoraPlus answered {status}, a redirect to {location}, which is another origin than {origin}: not followed, the api_key is sent to {origin} only"
    )]
    Redirect {
        /// The redirect's status (301, 302, 303, 307, 308).
        status: u16,
        /// Where it pointed (resolved against the request's URL).
        location: String,
        /// The configured origin.
        origin: String,
        /// How far the call got: `Refused` for a GET and for a POST
        /// redirected with 301, 302, 307 or 308 (the resource is elsewhere:
        /// nothing was done here); `Unknown` for a POST answered 303 (See
        /// Other: the usual answer once a POST *was* processed).
        reach: Reach,
    },
    /// An answer passed one of the client's size bounds: the rest was not
    /// read and the connection was dropped.
    #[error("{what} is larger than the client's limit of {}; the rest was not read and the connection was dropped", bytes(*limit))]
    TooLarge {
        /// What passed the limit (`the GetNewMandates answer`, `record 3 of
        /// the PrintManufacturerProducts answer`…).
        what: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// Another HTTP status.
    #[error("unexpected HTTP status {status}{message}")]
    UnexpectedStatus {
        /// The status.
        status: u16,
        /// What the envelope said.
        message: ServiceMessage,
    },
    /// A 200 whose envelope says `E` or `IsValid=false`.
    #[error("AgoraPlus answered with an error{0}")]
    Rejected(ServiceMessage),
    /// The temporary product key of a BOM request has expired.
    #[error("the temporary product key has expired{0}")]
    ProductKeyExpired(ServiceMessage),
    /// The answer could not be decoded (not JSON, truncated, wrong types).
    #[error("unreadable answer from AgoraPlus: {error} (body starts: {snippet:?})")]
    Decode {
        /// What failed, naming the field.
        #[source]
        error: DecodeError,
        /// The start of the body, secret-free, for diagnosis.
        snippet: String,
    },
    /// The server could not be reached: the request was never sent.
    #[error("cannot reach AgoraPlus at {url}: {reason}")]
    Connect {
        /// The base URL tried.
        url: String,
        /// Why (connection refused, DNS…).
        reason: String,
    },
    /// The call timed out after the request was sent.
    #[error("AgoraPlus did not answer in time ({0:?})")]
    Timeout(Duration),
    /// The connection failed while the request or answer was in flight.
    #[error("the connection to AgoraPlus failed mid-call: {0}")]
    Transport(#[source] Cause),
    /// A call that changes state failed after it may have reached the
    /// server: it is not resent; reconcile before trying again.
    #[error("{operation} may or may not have been applied: {cause}")]
    InDoubt {
        /// The operation (`CreateRepair`, …).
        operation: &'static str,
        /// What happened.
        #[source]
        cause: Box<AgoraError>,
    },
    /// The configuration is unusable (base URL, key, language…).
    #[error("configuration: {0}")]
    Config(String),
    /// A local rule refused the operation before anything was sent.
    #[error("refused locally: {0}")]
    Invalid(String),
    /// The local store failed.
    #[error("local store: {0}")]
    Store(#[source] Cause),
    /// The object was not found in the local store.
    #[error("not in the local store: {0}")]
    Missing(String),
    /// Another process changed the local object since it was read: read it
    /// again and redo the change.
    #[error("changed by another process meanwhile: {0}")]
    Conflict(String),
    /// An operator's resend or abandon came too early: an earlier attempt
    /// of the outbox entry may still take effect in AgoraPlus until
    /// `until` (its send start + the request timeout + the grace). Nothing
    /// was changed; resolve it after `until`, or force it.
    #[error(
        "outbox entry {entry} may not be resolved so yet: its attempt sent at {sent_at} may still take effect in AgoraPlus until {until}; resolve it after {until}, or force it (risking a duplicate)"
    )]
    TooSoon {
        /// The outbox entry.
        entry: u64,
        /// When the attempt that may still land started sending.
        sent_at: jiff::Timestamp,
        /// When the entry may be resent or abandoned.
        until: jiff::Timestamp,
    },
}

impl AgoraError {
    /// A store failure told by `message` (no library error behind it).
    pub fn store(message: impl Into<String>) -> Self {
        Self::Store(Cause::new(message))
    }

    /// A store failure told by `message`, keeping the library's error.
    pub fn store_from(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Store(Cause::with_source(message, source))
    }

    /// A connection failure mid-call told by `message`.
    pub fn transport(message: impl Into<String>) -> Self {
        Self::Transport(Cause::new(message))
    }
}

impl AgoraError {
    /// How far the failed call got.
    pub fn reach(&self) -> Reach {
        match self {
            Self::Connect { .. } | Self::Config(_) | Self::Invalid(_) => Reach::NotSent,
            Self::BadRequest(_)
            | Self::Unauthorized(_)
            | Self::Forbidden(_)
            | Self::NotFound(_)
            | Self::MethodNotAllowed(_)
            | Self::Unavailable { .. }
            | Self::Throttled { .. }
            | Self::Rejected(_)
            | Self::ProductKeyExpired(_)
            | Self::Missing(_)
            | Self::Conflict(_) => Reach::Refused,
            Self::TooSoon { .. } => Reach::NotSent,
            Self::Redirect { reach, .. } => *reach,
            // Another 4xx (408, 409, 413, 415, 422…): HTTP's "client error",
            // the request was not processed.
            Self::UnexpectedStatus { status, .. } if (400..500).contains(status) => Reach::Refused,
            Self::ServerError(_)
            | Self::Gateway { .. }
            | Self::TooLarge { .. }
            | Self::UnexpectedStatus { .. }
            | Self::Decode { .. }
            | Self::Timeout(_)
            | Self::Transport(_)
            | Self::InDoubt { .. }
            | Self::Store(_) => Reach::Unknown,
        }
    }

    /// Whether the same call may succeed if tried again later (a transient
    /// failure: 408, 429, 500, 502, 503, 504, timeouts, connection failures).
    /// Says nothing of whether resending is *safe*: see
    /// [`AgoraError::resend_is_safe`] and [`AgoraError::is_in_doubt`].
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::ServerError(_)
                | Self::Unavailable { .. }
                | Self::Throttled { .. }
                | Self::Gateway { .. }
                | Self::Timeout(_)
                | Self::Transport(_)
                | Self::Connect { .. }
                | Self::UnexpectedStatus { status: 408, .. }
        )
    }

    /// Whether resending the same call is safe whatever the call, even one
    /// that changes state: it certainly had no effect, because it never
    /// left (`Reach::NotSent`) or because it was throttled or timed out by
    /// the server before being processed (429, 408).
    pub fn resend_is_safe(&self) -> bool {
        self.reach() == Reach::NotSent
            || matches!(
                self,
                Self::Throttled { .. } | Self::UnexpectedStatus { status: 408, .. }
            )
    }

    /// Whether this is a state-changing call whose outcome is unknown.
    pub fn is_in_doubt(&self) -> bool {
        matches!(self, Self::InDoubt { .. })
    }

    /// The server's requested delay (`Retry-After` on a 429, 503 or a
    /// gateway's 5xx), as it asked: the HTTP client's own waits between
    /// attempts are clamped to its retry policy's longest wait, and the
    /// outbox's to its `retry_max`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Unavailable { retry_after, .. }
            | Self::Throttled { retry_after, .. }
            | Self::Gateway { retry_after, .. } => *retry_after,
            Self::InDoubt { cause, .. } => cause.retry_after(),
            _ => None,
        }
    }

    /// What AgoraPlus said, when it said anything.
    pub fn service_message(&self) -> Option<&ServiceMessage> {
        match self {
            Self::BadRequest(m)
            | Self::Unauthorized(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::MethodNotAllowed(m)
            | Self::ServerError(m)
            | Self::Rejected(m)
            | Self::ProductKeyExpired(m)
            | Self::Unavailable { message: m, .. }
            | Self::Throttled { message: m, .. }
            | Self::UnexpectedStatus { message: m, .. } => Some(m),
            Self::InDoubt { cause, .. } => cause.service_message(),
            _ => None,
        }
    }
}

/// `; retry after N s` when the server asked for a delay.
fn wait(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|d| format!("; retry after {} s", d.as_secs_f64().ceil()))
        .unwrap_or_default()
}

/// A byte count as people read it: `64 KiB`, `1 MiB`, `1000 bytes`.
fn bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = KIB * KIB;
    if n >= MIB && n % MIB == 0 {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n % KIB == 0 {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let connect = AgoraError::Connect {
            url: "http://127.0.0.1:1".into(),
            reason: "refused".into(),
        };
        assert_eq!(connect.reach(), Reach::NotSent);
        assert!(connect.is_retryable());
        let unavailable = AgoraError::Unavailable {
            message: ServiceMessage::default(),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(unavailable.reach(), Reach::Refused);
        assert_eq!(unavailable.retry_after(), Some(Duration::from_secs(3)));
        let doubt = AgoraError::InDoubt {
            operation: "CreateRepair",
            cause: Box::new(AgoraError::Timeout(Duration::from_secs(30))),
        };
        assert!(doubt.is_in_doubt());
        assert!(!doubt.is_retryable());
        assert_eq!(doubt.reach(), Reach::Unknown);
        assert!(doubt.to_string().starts_with("CreateRepair may or may not"));
        assert!(!AgoraError::Unauthorized(ServiceMessage::default()).is_retryable());
    }

    #[test]
    fn gateway_failure_classes() {
        let throttled = AgoraError::Throttled {
            message: ServiceMessage::default(),
            retry_after: Some(Duration::from_millis(1500)),
        };
        assert_eq!(throttled.reach(), Reach::Refused);
        assert!(throttled.is_retryable());
        assert!(throttled.resend_is_safe(), "429: not processed");
        assert_eq!(throttled.retry_after(), Some(Duration::from_millis(1500)));
        assert_eq!(
            throttled.to_string(),
            "AgoraPlus is throttling the account (429); retry after 2 s"
        );

        // AgoraPlus's own 503 is a refusal, but not "certainly not processed".
        let unavailable = AgoraError::Unavailable {
            message: ServiceMessage::default(),
            retry_after: None,
        };
        assert!(!unavailable.resend_is_safe());

        let gateway = AgoraError::Gateway {
            status: 502,
            body: "is not JSON, it starts: \"<html>\"".into(),
            retry_after: None,
        };
        assert_eq!(gateway.reach(), Reach::Unknown);
        assert!(gateway.is_retryable());
        assert!(!gateway.resend_is_safe());
        assert!(gateway.to_string().contains("502"));
        assert!(gateway.to_string().contains("not JSON"));

        let redirect = |reach| AgoraError::Redirect {
            status: 307,
            location: "https://elsewhere.example/x".into(),
            origin: "https://api.agoraplus.com".into(),
            reach,
        };
        assert_eq!(redirect(Reach::Refused).reach(), Reach::Refused);
        assert_eq!(redirect(Reach::Unknown).reach(), Reach::Unknown);
        assert!(!redirect(Reach::Refused).is_retryable());
        assert!(
            redirect(Reach::Refused)
                .to_string()
                .contains("https://elsewhere.example/x")
        );

        let large = AgoraError::TooLarge {
            what: "the GetNewMandates answer".into(),
            limit: 64 * 1024 * 1024,
        };
        assert_eq!(large.reach(), Reach::Unknown);
        assert!(!large.is_retryable());
        assert!(large.to_string().contains("64 MiB"), "{large}");
        assert_eq!(bytes(64 * 1024), "64 KiB");
        assert_eq!(bytes(1000), "1000 bytes");
    }
}
