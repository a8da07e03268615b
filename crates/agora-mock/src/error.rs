//! How the simulated AgoraPlus answers: data with an optional warning, or
//! an error that the HTTP face turns into a status code and envelope.

use agora_domain::ResponseStatus;
use agora_ports::{AgoraError, ServiceMessage};

/// A successful answer of the simulated AgoraPlus.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    /// `ResponseData`.
    pub data: T,
    /// `ResponseMessage`.
    pub message: Option<String>,
    /// Whether the envelope says `W`.
    pub warning: bool,
}

impl<T> Answer<T> {
    /// A plain success.
    pub fn ok(data: T) -> Self {
        Self {
            data,
            message: None,
            warning: false,
        }
    }

    /// A success with a summary message.
    pub fn with_message(data: T, message: impl Into<String>) -> Self {
        Self {
            data,
            message: Some(message.into()),
            warning: false,
        }
    }
}

/// A refusal of the simulated AgoraPlus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// 401: no key, or a key no account has.
    #[error("missing or unknown api_key")]
    Unauthorized,
    /// 401 on a control (`/_sim`) call: no credentials, an unknown key or
    /// a wrong admin token, and how to authenticate.
    #[error("{0}")]
    ControlUnauthorized(String),
    /// 403: the account is locked.
    #[error("the account is locked")]
    Locked,
    /// 404: no such object for this account (never another account's data).
    #[error("{0}")]
    NotFound(String),
    /// 404 meaning "nothing found" on a list or search route, worded as the
    /// reference's 5.3.3 words it (an answer profile's choice).
    #[error("{}", agora_domain::routes::NO_RESULTS_MESSAGE)]
    NoResults,
    /// 404 with a message saying so: the temporary product key has expired.
    #[error("ProductKey expired: search the product again")]
    KeyExpired,
    /// 405: a known route called with another method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 400: malformed request.
    #[error("{0}")]
    BadRequest(String),
    /// 200 with an `E` envelope: a business rule refused the request.
    #[error("{0}")]
    Rejected(String),
    /// 409 (control side only): the OEM action does not apply.
    #[error("{0}")]
    Conflict(String),
    /// 413: the request's body is larger than the route takes.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 408: the request was not received and handled in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// 503, injected.
    #[error("service unavailable (injected fault)")]
    Unavailable {
        /// The `Retry-After` to send, in seconds.
        retry_after: Option<u64>,
    },
    /// 500, injected.
    #[error("internal error (injected fault)")]
    Internal,
}

impl SimError {
    /// The HTTP status the simulator answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Unauthorized | Self::ControlUnauthorized(_) => 401,
            Self::PayloadTooLarge(_) => 413,
            Self::RequestTimeout(_) => 408,
            Self::Locked => 403,
            Self::NotFound(_) | Self::NoResults | Self::KeyExpired => 404,
            Self::BadRequest(_) => 400,
            Self::MethodNotAllowed(_) => 405,
            Self::Rejected(_) => 200,
            Self::Conflict(_) => 409,
            Self::Unavailable { .. } => 503,
            Self::Internal => 500,
        }
    }
}

impl From<SimError> for AgoraError {
    fn from(e: SimError) -> Self {
        let message = ServiceMessage {
            status: Some(ResponseStatus::Error),
            message: Some(e.to_string()),
        };
        match e {
            SimError::Unauthorized | SimError::ControlUnauthorized(_) => {
                Self::Unauthorized(message)
            }
            SimError::PayloadTooLarge(_) => Self::UnexpectedStatus {
                status: 413,
                message,
            },
            SimError::RequestTimeout(_) => Self::UnexpectedStatus {
                status: 408,
                message,
            },
            SimError::Locked => Self::Forbidden(message),
            SimError::NotFound(_) | SimError::NoResults => Self::NotFound(message),
            SimError::BadRequest(_) => Self::BadRequest(message),
            SimError::MethodNotAllowed(_) => Self::MethodNotAllowed(message),
            SimError::KeyExpired => Self::ProductKeyExpired(message),
            SimError::Rejected(_) => Self::Rejected(message),
            SimError::Conflict(_) => Self::UnexpectedStatus {
                status: 409,
                message,
            },
            SimError::Unavailable { retry_after } => Self::Unavailable {
                message,
                retry_after: retry_after.map(std::time::Duration::from_secs),
            },
            SimError::Internal => Self::ServerError(message),
        }
    }
}
