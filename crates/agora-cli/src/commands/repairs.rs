//! `agora repairs` and `agora status`: the local repair files, and the
//! status codes reported on them.

use agora_domain::{Part, StateNature, StatusCode, WireDateTime};
use agora_ports::{AgoraError, RepairFiles};
use clap::Subcommand;
use serde_json::json;

use super::{App, delivery_exit, describe, warn_all};
use crate::failure::code;
use crate::output::{Out, cell};
use crate::parse;

#[derive(Debug, Subcommand)]
pub(crate) enum RepairsCmd {
    /// Every local repair file and where it stands.
    List,
    /// One repair file, whole (JSON).
    Show {
        /// The repair file (InterventionId).
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum StatusCmd {
    /// Report a status (e.g. 102 with --start/--end, 201 with --part REF:ORDER).
    Report {
        /// The repair file (InterventionId).
        id: i64,
        /// The status code (see `agora ref status-codes`).
        #[arg(value_parser = parse::status_code)]
        code: StatusCode,
        /// A free comment.
        #[arg(long, default_value = "")]
        comment: String,
        /// Appointment start (ISO 8601).
        #[arg(long, value_parser = parse::date)]
        start: Option<WireDateTime>,
        /// Appointment end (ISO 8601).
        #[arg(long, value_parser = parse::date)]
        end: Option<WireDateTime>,
        /// A part concerned: REFERENCE or REFERENCE:ORDER_NUMBER (repeatable).
        #[arg(long = "part")]
        parts: Vec<String>,
    },
}

pub(super) async fn run(app: &App, cmd: RepairsCmd, out: Out) -> Result<u8, AgoraError> {
    match cmd {
        RepairsCmd::List => {
            let repairs = app.store().repairs().await?;
            let rows = repairs
                .iter()
                .map(|r| {
                    vec![
                        r.intervention_id.to_string(),
                        cell(r.mandate_id),
                        cell(r.file.manufacturer_id.and_then(|m| m.name())),
                        cell(
                            r.file
                                .last_status()
                                .map(|s| format!("{s} {}", s.description().unwrap_or(""))),
                        ),
                        format!("{:?}", r.lifecycle.phase),
                        cell(r.claim_id),
                        cell(r.lifecycle.claim.map(|c| c.last_status().to_string())),
                        cell(r.attention.as_deref()),
                    ]
                })
                .collect();
            let value: Vec<_> = repairs
                .iter()
                .map(|r| {
                    json!({"InterventionId": r.intervention_id, "MandateId": r.mandate_id,
                    "Phase": format!("{:?}", r.lifecycle.phase), "ClaimID": r.claim_id,
                    "LastStatus": r.lifecycle.claim.map(|c| c.last_status()),
                    "Invoiced": r.lifecycle.invoiced, "Attention": r.attention})
                })
                .collect();
            out.table(
                &[
                    "file",
                    "work order",
                    "OEM",
                    "last status",
                    "phase",
                    "claim",
                    "claim status",
                    "attention",
                ],
                rows,
                &value,
            );
            Ok(code::OK)
        }
        RepairsCmd::Show { id } => {
            let r = app.repair(id).await?;
            out.json(
                &json!({"File": r.file, "Lifecycle": r.lifecycle, "ClaimID": r.claim_id,
                "Orders": r.orders, "Attention": r.attention}),
            );
            Ok(code::OK)
        }
    }
}

pub(super) async fn run_status(app: &App, cmd: StatusCmd, out: Out) -> Result<u8, AgoraError> {
    let StatusCmd::Report {
        id,
        code: status_code,
        comment,
        start,
        end,
        parts,
    } = cmd;
    let mut status = StateNature::new(status_code.clone(), comment);
    status.appointment_date = start;
    status.appointment_end_date = end;
    if !parts.is_empty() {
        status.parts = Some(
            parts
                .iter()
                .map(|p| {
                    let (reference, order) = p
                        .split_once(':')
                        .map_or((p.as_str(), None), |(r, o)| (r, Some(o)));
                    Part {
                        reference: Some(reference.to_owned()),
                        order_number: order.map(str::to_owned),
                        quantity: Some(1),
                        ..Part::default()
                    }
                })
                .collect(),
        );
    }
    let checked = app.report_status(id, status).await?;
    warn_all(out, "", &checked.warnings);
    let d = checked.outcome;
    out.say(
        &format!(
            "{status_code} {}: {}",
            status_code.description().unwrap_or(""),
            describe(&d)
        ),
        &json!({"code": status_code, "entry": d.entry(), "delivery": describe(&d)}),
    );
    Ok(delivery_exit(&d))
}
