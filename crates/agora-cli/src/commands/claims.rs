//! `agora claims`: submitting (or correcting) a repair's warranty claim,
//! tracking open claims, and showing AgoraPlus's verdict verbatim.

use std::path::PathBuf;

use agora_app::{ClaimOutcome, ClaimUpdate, Warning};
use agora_domain::{
    ClaimId, ClaimStatus, InterventionId, ValidationResult, WarrantyClaim, WarrantyClaimResult,
    WireDateTime,
};
use agora_http::ClientConfig;
use agora_ports::AgoraError;
use clap::Subcommand;
use serde::Serialize;

use super::{App, report_pass, warn_all};
use crate::failure::code;
use crate::output::{Grid, Human, List, Out, Render, Row, cell};
use crate::parse;

#[derive(Debug, Subcommand)]
pub(crate) enum ClaimsCmd {
    /// Submit (or correct) the repair's warranty claim.
    Submit {
        /// The repair file.
        id: InterventionId,
        /// A JSON WarrantyClaim to send; without it, one is drafted from the file.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Check the claim with the local copy of the OEM rules first.
        #[arg(long)]
        precheck: bool,
        /// Set the call date (ISO 8601) on the drafted claim.
        #[arg(long, value_parser = parse::date)]
        call_date: Option<WireDateTime>,
        /// Set the serial number on the drafted claim.
        #[arg(long)]
        serial: Option<String>,
    },
    /// Poll the status of open claims.
    Track,
}

pub(super) async fn run(
    app: &App,
    cmd: ClaimsCmd,
    out: Out,
    client: &ClientConfig,
) -> Result<u8, AgoraError> {
    match cmd {
        ClaimsCmd::Submit {
            id,
            file,
            precheck,
            call_date,
            serial,
        } => {
            let mut claim: WarrantyClaim = match file {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        AgoraError::Invalid(format!("cannot read {}: {e}", path.display()))
                    })?;
                    agora_domain::decode_json(text.as_bytes())
                        .map_err(|e| AgoraError::Invalid(format!("{}: {e}", path.display())))?
                }
                None => app.draft_claim(id).await?,
            };
            if let Some(d) = call_date {
                claim
                    .claim_infos
                    .get_or_insert_with(Default::default)
                    .call_date = Some(d);
            }
            if let Some(s) = serial {
                claim
                    .claim_type
                    .get_or_insert_with(Default::default)
                    .serial_number = Some(s);
            }
            let checked = app.submit_claim(id, claim, precheck).await?;
            warn_all(out, "", &checked.warnings);
            Ok(print_claim_outcome(&checked.outcome, out))
        }
        ClaimsCmd::Track => {
            let pass = app.track_claims().await?;
            out.show(&List(pass.done.iter().map(ClaimRow).collect()));
            Ok(report_pass(&pass, out, client))
        }
    }
}

/// A claim whose status changed (`claims track`).
#[derive(Debug)]
struct ClaimRow<'a>(&'a ClaimUpdate);

impl Serialize for ClaimRow<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Wire<'a> {
            #[serde(rename = "ClaimID")]
            claim_id: ClaimId,
            intervention_id: InterventionId,
            last_status: &'a ClaimStatus,
            comment: Option<&'a str>,
        }
        Wire {
            claim_id: self.0.claim_id,
            intervention_id: self.0.intervention_id,
            last_status: &self.0.status,
            comment: self.0.comment.as_deref(),
        }
        .serialize(serializer)
    }
}

impl Row for ClaimRow<'_> {
    const HEADERS: &'static [&'static str] = &["claim", "file", "status", "comment"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.0.claim_id.to_string(),
            self.0.intervention_id.to_string(),
            self.0.status.to_string(),
            cell(self.0.comment.as_deref()),
        ]
    }
}

/// What became of a claim's submission: AgoraPlus's verdict and messages
/// verbatim (as JSON, its `WarrantyClaimResult`), the local pre-check's
/// findings, or where it waits.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum ClaimReport<'a> {
    Precheck(&'a [ValidationResult]),
    Judged(&'a WarrantyClaimResult),
    Queued { entry: u64, queued: &'a str },
    InDoubt { entry: u64, in_doubt: &'a str },
    Refused { refused: &'a str },
}

impl Render for ClaimReport<'_> {
    fn human(&self) -> Human {
        match self {
            Self::Precheck(findings) => Human::table(finding_grid(
                &["field (local pre-check; nothing sent)", "message", "type"],
                findings,
            )),
            Self::Judged(result) => {
                let valid = result.is_valid == Some(true);
                let findings = result.validation_errors.as_deref().unwrap_or_default();
                // The claim's own `ErrorMessage` (2.5.2) says why, with
                // or without findings.
                let reason = result
                    .error_message
                    .as_deref()
                    .filter(|m| !m.trim().is_empty())
                    .map(|m| format!(": AgoraPlus says: {m}"))
                    .unwrap_or_default();
                Human {
                    line: Some(format!(
                        "claim {} is {}{reason}",
                        cell(result.claim_id),
                        if valid { "VALID" } else { "NOTVALID" }
                    )),
                    table: (!findings.is_empty())
                        .then(|| finding_grid(&["field", "message (AgoraPlus)", "type"], findings)),
                }
            }
            Self::Queued { entry, queued } => {
                Human::line(format!("claim queued as entry {entry}: {queued}"))
            }
            Self::InDoubt { entry, in_doubt } => Human::line(format!(
                "claim submission IN DOUBT (entry {entry}): {in_doubt}; check AgoraPlus, then `agora outbox resolve {entry} --as ...`"
            )),
            Self::Refused { refused } => {
                Human::line(format!("claim refused by AgoraPlus: {refused}"))
            }
        }
    }
}

/// A table of validation findings: field, message (verbatim), type.
fn finding_grid(headers: &'static [&'static str], findings: &[ValidationResult]) -> Grid {
    Grid {
        headers,
        rows: findings
            .iter()
            .map(|f| {
                vec![
                    cell(f.field.as_deref()),
                    cell(f.error_message.as_deref()),
                    cell(f.message_type.as_ref()),
                ]
            })
            .collect(),
    }
}

/// Prints a claim's outcome; returns its exit code.
fn print_claim_outcome(outcome: &ClaimOutcome, out: Out) -> u8 {
    let (report, exit) = match outcome {
        ClaimOutcome::PrecheckFailed(findings) => (ClaimReport::Precheck(findings), code::REFUSED),
        ClaimOutcome::Judged { result, warning } => {
            out.warnings(&Warning::of_envelope("claim verdict", warning.as_deref()));
            out.warnings(&Warning::of_findings(
                "claim verdict",
                result.claim_id,
                result.validation_errors.as_deref().unwrap_or_default(),
            ));
            let exit = if result.is_valid == Some(true) {
                code::OK
            } else {
                code::REFUSED
            };
            (ClaimReport::Judged(result), exit)
        }
        ClaimOutcome::Queued { entry, error } => (
            ClaimReport::Queued {
                entry: *entry,
                queued: error,
            },
            code::UNREACHABLE,
        ),
        ClaimOutcome::InDoubt { entry, error } => (
            ClaimReport::InDoubt {
                entry: *entry,
                in_doubt: error,
            },
            code::IN_DOUBT,
        ),
        ClaimOutcome::Refused(e) => (ClaimReport::Refused { refused: e }, code::REFUSED),
    };
    out.show(&report);
    exit
}
