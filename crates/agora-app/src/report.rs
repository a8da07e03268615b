//! What a use case reports besides its result: the warnings AgoraPlus gave
//! with a success (a `W` envelope, an item with its own `W`, a claim
//! finding of type `W`, a list item set aside as unreadable), and the part
//! of its work that failed while the rest was done. A caller (the CLI, a
//! scheduled job) shows every warning and never takes a partial run for a
//! complete one.

use std::fmt;

use agora_domain::envelope::{Verdict, verdict_of};
use agora_domain::{
    ClaimId, InterventionId, MessageType, NewMandateResponseData, ResponseStatus, SetAside,
    ValidationResult,
};
use agora_ports::{AgoraError, Reply};

/// How much of a set-aside item's raw JSON a warning shows.
const RAW_SHOWN: usize = 120;

/// Something AgoraPlus said along with a success, for a person to see.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Warning {
    /// The answer's envelope said `W`.
    Envelope {
        /// The AgoraPlus operation (`GetNewMandates`…).
        operation: &'static str,
        /// The envelope's message.
        message: String,
    },
    /// One item of the answer carried its own warning: a work order whose
    /// `ResponseStatus` is `W`, a claim finding whose `MessageType` is `W`.
    Item {
        /// The AgoraPlus operation, or the answer it came in (`claim verdict`).
        operation: &'static str,
        /// Which item (`work order 100001`, `claim 5000001, Email`).
        item: String,
        /// What AgoraPlus said of it.
        message: String,
    },
    /// An element of a list answer that could not be read at all: set
    /// aside, the rest of the list used.
    SetAside {
        /// The AgoraPlus operation.
        operation: &'static str,
        /// The element, its raw JSON and the reason.
        item: SetAside,
    },
}

impl Warning {
    /// The warnings of a reply: its envelope's `W`, and one per list item
    /// set aside.
    pub fn of_reply<T>(operation: &'static str, reply: &Reply<T>) -> Vec<Warning> {
        let envelope = reply.warning.iter().map(|message| Warning::Envelope {
            operation,
            message: message.clone(),
        });
        let set_aside = reply.set_aside.iter().map(|item| Warning::SetAside {
            operation,
            item: item.clone(),
        });
        envelope.chain(set_aside).collect()
    }

    /// The envelope's warning of an answer, if any, as a list of warnings.
    pub fn of_envelope(operation: &'static str, message: Option<&str>) -> Vec<Warning> {
        message
            .map(|message| Warning::Envelope {
                operation,
                message: message.to_owned(),
            })
            .into_iter()
            .collect()
    }

    /// The findings of type `W` of a claim's verdict, one warning each;
    /// `operation` names where they came from.
    pub fn of_findings(
        operation: &'static str,
        claim: Option<ClaimId>,
        findings: &[ValidationResult],
    ) -> Vec<Warning> {
        let claim = claim.map_or_else(|| "claim".to_owned(), |id| format!("claim {id}"));
        findings
            .iter()
            .filter(|f| f.message_type == Some(MessageType::Warning))
            .map(|f| Warning::Item {
                operation,
                item: match &f.field {
                    Some(field) => format!("{claim}, {field}"),
                    None => claim.clone(),
                },
                message: f.error_message.clone().unwrap_or_default(),
            })
            .collect()
    }

    /// The AgoraPlus operation the warning came with.
    pub fn operation(&self) -> &'static str {
        match self {
            Self::Envelope { operation, .. }
            | Self::Item { operation, .. }
            | Self::SetAside { operation, .. } => operation,
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Envelope { operation, message } => {
                write!(f, "{operation}: AgoraPlus warns: {message}")
            }
            Self::Item {
                operation,
                item,
                message,
            } => write!(f, "{operation}: {item}: {message}"),
            Self::SetAside { operation, item } => {
                let raw = item.raw.to_string();
                let shown: String = raw.chars().take(RAW_SHOWN).collect();
                let more = if shown.len() < raw.len() { "…" } else { "" };
                write!(f, "{operation}: {item} (it reads {shown}{more})")
            }
        }
    }
}

/// How AgoraPlus judged one work order of a list: the item's own
/// `ResponseStatus` and `IsValid` (reference 2.1.1), by the envelope's rule.
pub(crate) fn item_verdict(item: &NewMandateResponseData) -> Verdict {
    verdict_of(
        item.response_status.as_ref().map(ResponseStatus::as_str),
        item.is_valid,
    )
}

/// What AgoraPlus said of one item: its error message, else its message.
pub(crate) fn item_message(item: &NewMandateResponseData) -> Option<String> {
    item.response_error_message
        .clone()
        .filter(|m| !m.trim().is_empty())
        .or_else(|| item.response_message.clone())
        .filter(|m| !m.trim().is_empty())
}

/// One part of a command's work, as a failure names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Pulling (and accepting) new work orders: `GetNewMandates`.
    NewWorkOrders,
    /// Reconciling with the accepted work orders: `GetAcceptedMandates`.
    AcceptedWorkOrders,
    /// Tracking the part orders of one repair file.
    PartOrders(InterventionId),
    /// Tracking one claim.
    Claim {
        /// The claim.
        claim: ClaimId,
        /// Its repair file.
        intervention: InterventionId,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NewWorkOrders => f.write_str("pulling new work orders (GetNewMandates)"),
            Self::AcceptedWorkOrders => {
                f.write_str("reconciling with the accepted work orders (GetAcceptedMandates)")
            }
            Self::PartOrders(id) => write!(
                f,
                "tracking the part orders of repair file {id} (GetSparepartOrderTracking)"
            ),
            Self::Claim {
                claim,
                intervention,
            } => write!(
                f,
                "tracking claim {claim} of repair file {intervention} (GetWarrantyClaimStatus)"
            ),
        }
    }
}

/// A part of the work that failed while the rest was done.
#[derive(Debug)]
pub struct StepFailure {
    /// What could not be done.
    pub step: Step,
    /// Why: the caller's exit code comes from it.
    pub error: AgoraError,
}

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.step, self.error)
    }
}

/// A pass over many repair files (tracking their orders or claims): what it
/// did, what AgoraPlus warned about, what failed, and what it did not
/// reach. A failure about one file (not found, refused, unreadable) does
/// not stop the pass; a failure that would strike every call alike (the
/// key, the connection, AgoraPlus unavailable) stops it, and the files
/// left are listed as not reached. A local store failure ends the pass
/// with an error.
#[derive(Debug)]
pub struct Pass<T> {
    /// What was done, file by file.
    pub done: Vec<T>,
    /// What AgoraPlus warned about.
    pub warnings: Vec<Warning>,
    /// The files whose step failed.
    pub failed: Vec<StepFailure>,
    /// The steps not tried once the pass stopped.
    pub not_reached: Vec<Step>,
}

impl<T> Default for Pass<T> {
    fn default() -> Self {
        Self {
            done: Vec::new(),
            warnings: Vec::new(),
            failed: Vec::new(),
            not_reached: Vec::new(),
        }
    }
}

impl<T> Pass<T> {
    /// Whether every step was done.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && self.not_reached.is_empty()
    }
}

/// Whether a failure concerns only the thing asked about (this file, this
/// claim), so that a pass over many goes on. Anything else (the api_key,
/// the connection, AgoraPlus failing, a failure this version does not
/// know) would strike every call alike: the pass stops there.
pub(crate) fn concerns_one_item(error: &AgoraError) -> bool {
    matches!(
        error,
        AgoraError::NotFound(_)
            | AgoraError::Rejected(_)
            | AgoraError::BadRequest(_)
            | AgoraError::Decode { .. }
            | AgoraError::UnexpectedStatus { .. }
            | AgoraError::Invalid(_)
            | AgoraError::Missing(_)
    )
}

#[cfg(test)]
mod tests {
    use agora_ports::ServiceMessage;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_reply_gives_its_envelope_warning_and_each_item_set_aside() {
        let mut reply = Reply::warned(vec![1], Some("partial".to_owned()));
        reply.set_aside.push(SetAside {
            index: 2,
            raw: json!({"MandateId": "x".repeat(300)}),
            reason: "MandateId: not a number".to_owned(),
        });
        let warnings = Warning::of_reply("GetNewMandates", &reply);
        assert_eq!(warnings.len(), 2);
        assert_eq!(
            warnings[0].to_string(),
            "GetNewMandates: AgoraPlus warns: partial"
        );
        let line = warnings[1].to_string();
        assert!(
            line.starts_with("GetNewMandates: item 2 set aside: MandateId: not a number (it reads {\"MandateId\":\"xxx"),
            "{line}"
        );
        assert!(line.ends_with("…)") && line.len() < 250, "{line}");
        assert!(Warning::of_reply("GetNewMandates", &Reply::ok(())).is_empty());
    }

    #[test]
    fn only_findings_of_type_w_are_warnings() {
        let findings = [
            ValidationResult::new("Email", "looks wrong", MessageType::Warning),
            ValidationResult::new("Serial", "mandatory", MessageType::Error),
        ];
        let warnings = Warning::of_findings("CreateWarrantyClaims", Some(ClaimId(7)), &findings);
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            warnings[0].to_string(),
            "CreateWarrantyClaims: claim 7, Email: looks wrong"
        );
    }

    #[test]
    fn each_warning_names_the_operation_it_came_with() {
        let warnings = [
            Warning::Envelope {
                operation: "GetNewMandates",
                message: "partial".to_owned(),
            },
            Warning::Item {
                operation: "claim verdict",
                item: "claim 7, Email".to_owned(),
                message: "looks wrong".to_owned(),
            },
            Warning::SetAside {
                operation: "GetAcceptedMandates",
                item: SetAside {
                    index: 0,
                    raw: json!({}),
                    reason: "unreadable".to_owned(),
                },
            },
        ];
        assert_eq!(
            warnings.iter().map(Warning::operation).collect::<Vec<_>>(),
            ["GetNewMandates", "claim verdict", "GetAcceptedMandates"]
        );
    }

    #[test]
    fn a_set_aside_item_is_shown_whole_up_to_its_limit_and_cut_past_it() {
        let shown = |chars: usize| {
            // A JSON string of `chars` characters, quotes included.
            let raw = json!("x".repeat(chars - 2));
            assert_eq!(raw.to_string().len(), chars);
            Warning::SetAside {
                operation: "GetNewMandates",
                item: SetAside {
                    index: 1,
                    raw,
                    reason: "not an object".to_owned(),
                },
            }
            .to_string()
        };
        let whole = shown(RAW_SHOWN);
        assert!(
            whole.ends_with(&format!("(it reads \"{}\")", "x".repeat(RAW_SHOWN - 2))),
            "{whole}"
        );
        let cut = shown(RAW_SHOWN + 1);
        assert!(
            cut.ends_with(&format!("(it reads \"{}…)", "x".repeat(RAW_SHOWN - 1))),
            "{cut}"
        );
    }

    #[test]
    fn a_pass_stops_only_on_failures_that_strike_every_call() {
        assert!(concerns_one_item(&AgoraError::NotFound(
            ServiceMessage::default()
        )));
        assert!(concerns_one_item(&AgoraError::Rejected(
            ServiceMessage::default()
        )));
        assert!(!concerns_one_item(&AgoraError::Unauthorized(
            ServiceMessage::default()
        )));
        assert!(!concerns_one_item(&AgoraError::Connect {
            url: "http://127.0.0.1:9".into(),
            reason: "refused".into()
        }));
        assert!(!concerns_one_item(&AgoraError::ServerError(
            ServiceMessage::default()
        )));
    }
}
