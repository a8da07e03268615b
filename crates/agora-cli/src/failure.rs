//! Errors as one clear sentence with a hint, and the documented exit codes.

use std::process::ExitCode;

use agora_app::StepFailure;
use agora_http::ClientConfig;
use agora_ports::AgoraError;
use serde::Serialize;

use crate::output::{Out, eprint};

/// Exit codes of `agora` (documented in the README and `agora --help`).
pub(crate) mod code {
    /// Success.
    pub(crate) const OK: u8 = 0;
    /// AgoraPlus or a local rule refused the request.
    pub(crate) const REFUSED: u8 = 1;
    /// Wrong usage (clap's own).
    pub(crate) const USAGE: u8 = 2;
    /// Configuration or authentication (no key, 401, 403, bad URL).
    pub(crate) const CONFIG: u8 = 3;
    /// AgoraPlus unreachable or unavailable (after retries).
    pub(crate) const UNREACHABLE: u8 = 4;
    /// An operation is in doubt: see `agora outbox list --state in-doubt`.
    pub(crate) const IN_DOUBT: u8 = 5;
    /// The local store failed.
    pub(crate) const STORE: u8 = 6;
    /// AgoraPlus answered, but with something this version cannot read
    /// (not its envelope, a shape the route does not answer with): the
    /// server is up; retrying will not help.
    pub(crate) const UNREADABLE: u8 = 7;
    /// `agora invoices match`: the OEM's CSV and the local files differ.
    pub(crate) const DIFFERENCES: u8 = 8;
}

/// An error as shown to the user: on stderr, `error: MESSAGE` and
/// `hint: HINT` lines, or with `--json` one JSON object on one line.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Failure {
    /// A stable snake_case name of the kind of error, for scripts.
    pub code: &'static str,
    /// One clear sentence.
    pub message: String,
    /// What to do about it, when there is something to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The exit code it leads to (see `agora --help`).
    pub exit_code: u8,
}

impl Failure {
    /// A failure without a hint.
    pub(crate) fn new(code: &'static str, message: impl Into<String>, exit_code: u8) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
            exit_code,
        }
    }

    /// The failure of an error of the use cases, with its hint.
    pub(crate) fn of(error: &AgoraError, client: Option<&ClientConfig>) -> Self {
        let (hint, exit_code) = hint(error, client);
        Self {
            code: name(error),
            message: error.to_string(),
            hint,
            exit_code,
        }
    }

    /// The failure of one part of a command's work (the rest was done).
    pub(crate) fn of_step(failure: &StepFailure, client: Option<&ClientConfig>) -> Self {
        Self {
            message: failure.to_string(),
            ..Self::of(&failure.error, client)
        }
    }

    /// A usage error found by clap: its message, and its tip and usage
    /// line as the hint.
    pub(crate) fn usage(error: &clap::Error) -> Self {
        let text = error.render().to_string();
        let text = text.trim();
        let text = text.strip_prefix("error: ").unwrap_or(text);
        let (message, hint) = match text.split_once("\n\n") {
            Some((message, rest)) => (message, Some(rest.trim().to_owned())),
            None => (text, None),
        };
        Self {
            code: "usage",
            message: message.trim().to_owned(),
            hint,
            exit_code: u8::try_from(error.exit_code()).unwrap_or(code::USAGE),
        }
    }

    /// Prints it on stderr (as JSON with `--json`); returns its exit code.
    pub(crate) fn print(&self, out: Out) -> u8 {
        if out.json {
            match serde_json::to_string(self) {
                Ok(line) => eprint(format_args!("{line}")),
                Err(_) => eprint(format_args!("error: {}", self.message)),
            }
        } else {
            eprint(format_args!("error: {}", self.message));
            if let Some(hint) = &self.hint {
                eprint(format_args!("hint: {hint}"));
            }
        }
        self.exit_code
    }
}

/// Prints an error and its hint on stderr; returns the exit code.
pub(crate) fn report(error: &AgoraError, client: Option<&ClientConfig>, out: Out) -> ExitCode {
    ExitCode::from(Failure::of(error, client).print(out))
}

/// Prints the failure of one part of a command's work (the rest was done)
/// and its hint on stderr; returns its exit code.
pub(crate) fn report_step(failure: &StepFailure, client: Option<&ClientConfig>, out: Out) -> u8 {
    Failure::of_step(failure, client).print(out)
}

/// The exit code of an error.
pub(crate) fn exit_code(error: &AgoraError) -> u8 {
    hint(error, None).1
}

/// The stable name of an error's kind (the `code` of a JSON error).
pub(crate) fn name(error: &AgoraError) -> &'static str {
    match error {
        AgoraError::BadRequest(_) => "bad_request",
        AgoraError::Unauthorized(_) => "unauthorized",
        AgoraError::Forbidden(_) => "forbidden",
        AgoraError::NotFound(_) => "not_found",
        AgoraError::MethodNotAllowed(_) => "method_not_allowed",
        AgoraError::ServerError(_) => "server_error",
        AgoraError::Unavailable { .. } => "unavailable",
        AgoraError::Throttled { .. } => "throttled",
        AgoraError::Gateway { .. } => "gateway",
        AgoraError::Redirect { .. } => "redirect",
        AgoraError::TooLarge { .. } => "too_large",
        AgoraError::UnexpectedStatus { .. } => "unexpected_status",
        AgoraError::Rejected(_) => "rejected",
        AgoraError::ProductKeyExpired(_) => "product_key_expired",
        AgoraError::Decode { .. } => "decode",
        AgoraError::Connect { .. } => "connect",
        AgoraError::Timeout(_) => "timeout",
        AgoraError::Transport(_) => "transport",
        AgoraError::InDoubt { .. } => "in_doubt",
        AgoraError::Config(_) => "config",
        AgoraError::Invalid(_) => "invalid",
        AgoraError::Store(_) => "store",
        AgoraError::Missing(_) => "missing",
        AgoraError::Conflict(_) => "conflict",
        AgoraError::TooSoon { .. } => "too_soon",
        _ => "error",
    }
}

fn hint(error: &AgoraError, client: Option<&ClientConfig>) -> (Option<String>, u8) {
    let who = client.map(|c| format!("the api_key {} on {}", c.api_key.hint(), c.environment));
    match error {
        AgoraError::Unauthorized(_) => (
            Some(format!(
                "{} was refused; check AGORA_API_KEY (or the key file) and AGORA_ENV / AGORA_BASE_URL: pre-production and production keys differ",
                who.unwrap_or_else(|| "the api_key".to_owned())
            )),
            code::CONFIG,
        ),
        AgoraError::Forbidden(_) => (
            Some(format!(
                "{} authenticates but the account may not do this or is locked; ask AgoraPlus support",
                who.unwrap_or_else(|| "the api_key".to_owned())
            )),
            code::CONFIG,
        ),
        AgoraError::Config(_) => (
            Some("see `agora --help` for the settings and their environment variables".to_owned()),
            code::CONFIG,
        ),
        AgoraError::TooSoon { until, .. } => (
            Some(format!(
                "its last attempt may still reach AgoraPlus: try again after {until} (check in AgoraPlus meanwhile; `--as applied` is accepted at once), or add --force to risk a duplicate"
            )),
            code::REFUSED,
        ),
        AgoraError::Connect { .. } | AgoraError::Timeout(_) | AgoraError::Transport(_) => (
            Some("AgoraPlus could not be reached; state changes wait in the outbox: `agora outbox flush` later".to_owned()),
            code::UNREACHABLE,
        ),
        AgoraError::ServerError(_) | AgoraError::Unavailable { .. } => (
            Some("AgoraPlus is failing or unavailable; try again later (`agora outbox flush`)".to_owned()),
            code::UNREACHABLE,
        ),
        AgoraError::Throttled { .. } => (
            Some("AgoraPlus is limiting this account's calls; wait a little and try again (`agora outbox flush` resends what is queued)".to_owned()),
            code::UNREACHABLE,
        ),
        AgoraError::Gateway { .. } => (
            Some("a proxy or gateway between here and AgoraPlus failed; try again later (`agora outbox flush`)".to_owned()),
            code::UNREACHABLE,
        ),
        AgoraError::Redirect { .. } => (
            Some("the api_key is only sent to the configured origin; if AgoraPlus has moved, set AGORA_BASE_URL (or AGORA_ENV) to its new address".to_owned()),
            code::CONFIG,
        ),
        AgoraError::TooLarge { .. } => (
            Some("AgoraPlus sent more than this client reads in one answer; set AGORA_LOG=debug and report it".to_owned()),
            code::UNREACHABLE,
        ),
        AgoraError::InDoubt { .. } => (
            Some("check in AgoraPlus whether it was applied, then `agora outbox resolve ID --as applied|resend|abandon`".to_owned()),
            code::IN_DOUBT,
        ),
        AgoraError::Store(_) => (
            Some("the local store (--db / AGORA_DB) is unreadable or locked by another process".to_owned()),
            code::STORE,
        ),
        AgoraError::Missing(_) => (
            Some("`agora repairs list` shows the repair files known here; `agora work-orders sync` pulls new ones".to_owned()),
            code::REFUSED,
        ),
        AgoraError::Decode { .. } => (
            Some("AgoraPlus answered, but with something this version cannot read; set AGORA_LOG=debug and report it (`agora record` captures the exchange)".to_owned()),
            code::UNREADABLE,
        ),
        _ => (None, code::REFUSED),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use agora_ports::{Reach, ServiceMessage};

    use super::*;

    #[test]
    fn a_gateway_s_failures_are_unavailable() {
        let cases = [
            (
                AgoraError::Throttled {
                    message: ServiceMessage::default(),
                    retry_after: Some(Duration::from_secs(1)),
                },
                code::UNREACHABLE,
            ),
            (
                AgoraError::Gateway {
                    status: 502,
                    body: "is not JSON, it starts: \"<html>\"".to_owned(),
                    retry_after: None,
                },
                code::UNREACHABLE,
            ),
            (
                AgoraError::TooLarge {
                    what: "the GetNewMandates answer".to_owned(),
                    limit: 1024,
                },
                code::UNREACHABLE,
            ),
            (
                AgoraError::Redirect {
                    status: 307,
                    location: "https://elsewhere.example/".to_owned(),
                    origin: "https://api.agoraplus.com".to_owned(),
                    reach: Reach::Refused,
                },
                code::CONFIG,
            ),
            (
                AgoraError::InDoubt {
                    operation: "CreateRepair",
                    cause: Box::new(AgoraError::Gateway {
                        status: 504,
                        body: "is empty".to_owned(),
                        retry_after: None,
                    }),
                },
                code::IN_DOUBT,
            ),
        ];
        for (error, exit) in cases {
            let (hint, got) = hint(&error, None);
            assert_eq!(got, exit, "{error}");
            assert!(hint.is_some(), "{error}");
        }
    }
}
