//! What an adapter of AgoraPlus tells whoever counts its calls: one rule
//! for a call's outcome ([`CallOutcome::of`]), one port to tell it through
//! ([`CallMeter`]). The HTTP client calls it once per call (retries
//! included) and once per retry, from its one call path; `agora-app`'s
//! metrics implement it.

use crate::AgoraError;

/// How a call to AgoraPlus ended, as counted (a few values, so that a
/// metric labelled with it stays small).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallOutcome {
    /// A 2xx answer.
    Ok,
    /// Refused by AgoraPlus (a 4xx other than 408 and 429, a redirect not
    /// followed, an `E` envelope, an expired product key).
    Refused,
    /// Throttled (429).
    Throttled,
    /// AgoraPlus or a gateway in between failed or was unavailable (5xx).
    Unavailable,
    /// No answer in time.
    Timeout,
    /// Not reached, or the connection failed mid-call.
    Transport,
    /// An answer that could not be read (undecodable, too large).
    Unreadable,
    /// Anything else (a local refusal before sending, the configuration).
    Other,
}

impl CallOutcome {
    /// The outcome of a call that failed with `error` (an in-doubt error
    /// counts as what caused the doubt).
    pub fn of(error: &AgoraError) -> Self {
        match error {
            AgoraError::BadRequest(_)
            | AgoraError::Unauthorized(_)
            | AgoraError::Forbidden(_)
            | AgoraError::NotFound(_)
            | AgoraError::MethodNotAllowed(_)
            | AgoraError::Redirect { .. }
            | AgoraError::Rejected(_)
            | AgoraError::ProductKeyExpired(_) => Self::Refused,
            AgoraError::UnexpectedStatus { status: 408, .. } | AgoraError::Timeout(_) => {
                Self::Timeout
            }
            AgoraError::UnexpectedStatus { status: 429, .. } | AgoraError::Throttled { .. } => {
                Self::Throttled
            }
            AgoraError::UnexpectedStatus { status, .. } if *status >= 500 => Self::Unavailable,
            AgoraError::UnexpectedStatus { .. } => Self::Refused,
            AgoraError::ServerError(_)
            | AgoraError::Unavailable { .. }
            | AgoraError::Gateway { .. } => Self::Unavailable,
            AgoraError::Connect { .. } | AgoraError::Transport(_) => Self::Transport,
            AgoraError::Decode { .. } | AgoraError::TooLarge { .. } => Self::Unreadable,
            AgoraError::InDoubt { cause, .. } => Self::of(cause),
            AgoraError::Config(_)
            | AgoraError::Invalid(_)
            | AgoraError::Store(_)
            | AgoraError::Missing(_)
            | AgoraError::Conflict(_)
            | AgoraError::TooSoon { .. } => Self::Other,
        }
    }

    /// The label's value (`ok`, `refused`, `throttled`, `unavailable`,
    /// `timeout`, `transport`, `unreadable`, `other`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Throttled => "throttled",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Transport => "transport",
            Self::Unreadable => "unreadable",
            Self::Other => "other",
        }
    }
}

/// Counts the calls an adapter makes to AgoraPlus. Called on the call
/// path, so it must not block (counters, not I/O).
pub trait CallMeter: Send + Sync {
    /// A call of `route` (its name in the route table) ended with
    /// `outcome`, after all its attempts.
    fn call(&self, route: &'static str, outcome: CallOutcome);
    /// A call of `route` is being tried again.
    fn retry(&self, route: &'static str);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServiceMessage;
    use std::time::Duration;

    #[test]
    fn outcomes_follow_the_error() {
        let m = ServiceMessage::default;
        assert_eq!(
            CallOutcome::of(&AgoraError::Rejected(m())),
            CallOutcome::Refused
        );
        assert_eq!(
            CallOutcome::of(&AgoraError::Throttled {
                message: m(),
                retry_after: None
            }),
            CallOutcome::Throttled
        );
        assert_eq!(
            CallOutcome::of(&AgoraError::Unavailable {
                message: m(),
                retry_after: None
            }),
            CallOutcome::Unavailable
        );
        assert_eq!(
            CallOutcome::of(&AgoraError::Timeout(Duration::from_secs(1))),
            CallOutcome::Timeout
        );
        let doubt = AgoraError::InDoubt {
            operation: "CreateRepair",
            cause: Box::new(AgoraError::transport("reset")),
        };
        assert_eq!(CallOutcome::of(&doubt), CallOutcome::Transport);
        assert_eq!(CallOutcome::Unreadable.as_str(), "unreadable");
    }
}
