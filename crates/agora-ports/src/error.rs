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
    Transport(String),
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
    Store(String),
    /// The object was not found in the local store.
    #[error("not in the local store: {0}")]
    Missing(String),
    /// Another process changed the local object since it was read: read it
    /// again and redo the change.
    #[error("changed by another process meanwhile: {0}")]
    Conflict(String),
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
            | Self::Rejected(_)
            | Self::ProductKeyExpired(_)
            | Self::Missing(_)
            | Self::Conflict(_) => Reach::Refused,
            Self::ServerError(_)
            | Self::UnexpectedStatus { .. }
            | Self::Decode { .. }
            | Self::Timeout(_)
            | Self::Transport(_)
            | Self::InDoubt { .. }
            | Self::Store(_) => Reach::Unknown,
        }
    }

    /// Whether the same call may succeed if tried again later (a transient
    /// failure: 500, 503, timeouts, connection failures). Says nothing of
    /// whether resending is *safe*: see [`AgoraError::is_in_doubt`].
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::ServerError(_)
                | Self::Unavailable { .. }
                | Self::Timeout(_)
                | Self::Transport(_)
                | Self::Connect { .. }
        )
    }

    /// Whether this is a state-changing call whose outcome is unknown.
    pub fn is_in_doubt(&self) -> bool {
        matches!(self, Self::InDoubt { .. })
    }

    /// The server's requested delay, for a 503 with `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Unavailable { retry_after, .. } => *retry_after,
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
            | Self::UnexpectedStatus { message: m, .. } => Some(m),
            Self::InDoubt { cause, .. } => cause.service_message(),
            _ => None,
        }
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
}
