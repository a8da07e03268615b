//! `agora claims`: submitting (or correcting) a repair's warranty claim,
//! tracking open claims, and showing AgoraPlus's verdict verbatim.

use std::path::PathBuf;

use agora_app::{ClaimOutcome, Warning};
use agora_domain::{WarrantyClaim, WireDateTime};
use agora_http::ClientConfig;
use agora_ports::AgoraError;
use clap::Subcommand;
use serde_json::json;

use super::{App, report_pass, warn_all};
use crate::failure::code;
use crate::output::{Out, cell};
use crate::parse;

#[derive(Debug, Subcommand)]
pub(crate) enum ClaimsCmd {
    /// Submit (or correct) the repair's warranty claim.
    Submit {
        /// The repair file.
        id: i64,
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
            let rows = pass
                .done
                .iter()
                .map(|u| {
                    vec![
                        u.claim_id.to_string(),
                        u.intervention_id.to_string(),
                        u.status.to_string(),
                        cell(u.comment.as_deref()),
                    ]
                })
                .collect();
            let value: Vec<_> = pass
                .done
                .iter()
                .map(|u| json!({"ClaimID": u.claim_id, "InterventionId": u.intervention_id, "LastStatus": u.status, "Comment": u.comment}))
                .collect();
            out.table(&["claim", "file", "status", "comment"], rows, &value);
            Ok(report_pass(&pass, out, client))
        }
    }
}

/// Table rows of validation findings: field, message (verbatim), type.
fn finding_rows(findings: &[agora_domain::ValidationResult]) -> Vec<Vec<String>> {
    findings
        .iter()
        .map(|f| {
            vec![
                cell(f.field.as_deref()),
                cell(f.error_message.as_deref()),
                cell(f.message_type.as_ref()),
            ]
        })
        .collect()
}

/// Prints a claim's outcome: AgoraPlus's messages verbatim.
fn print_claim_outcome(outcome: &ClaimOutcome, out: Out) -> u8 {
    match outcome {
        ClaimOutcome::PrecheckFailed(findings) => {
            let rows = finding_rows(findings);
            out.table(
                &["field (local pre-check; nothing sent)", "message", "type"],
                rows,
                findings,
            );
            code::REFUSED
        }
        ClaimOutcome::Judged(result) => {
            let valid = result.is_valid == Some(true);
            out.warnings(&Warning::of_findings(
                "claim verdict",
                result.claim_id,
                result.validation_errors.as_deref().unwrap_or_default(),
            ));
            if !out.json {
                out.line(&format!(
                    "claim {} is {}",
                    cell(result.claim_id),
                    if valid { "VALID" } else { "NOTVALID" }
                ));
            }
            let rows = finding_rows(result.validation_errors.as_deref().unwrap_or_default());
            if out.json || !rows.is_empty() {
                out.table(&["field", "message (AgoraPlus)", "type"], rows, result);
            }
            if valid { code::OK } else { code::REFUSED }
        }
        ClaimOutcome::Queued { entry, error } => {
            out.say(
                &format!("claim queued as entry {entry}: {error}"),
                &json!({"entry": entry, "queued": error}),
            );
            code::UNREACHABLE
        }
        ClaimOutcome::InDoubt { entry, error } => {
            out.say(
                &format!("claim submission IN DOUBT (entry {entry}): {error}; check AgoraPlus, then `agora outbox resolve {entry} --as ...`"),
                &json!({"entry": entry, "in_doubt": error}),
            );
            code::IN_DOUBT
        }
        ClaimOutcome::Refused(e) => {
            out.say(
                &format!("claim refused by AgoraPlus: {e}"),
                &json!({"refused": e}),
            );
            code::REFUSED
        }
    }
}
