//! `agora repairs` and `agora status`: the local repair files, and the
//! status codes reported on them.

use agora_domain::OrderNumber;
use agora_domain::lifecycle::{RepairLifecycle, RepairPhase};
use agora_domain::{
    ClaimId, ClaimStatus, CompleteRepairState, InterventionId, MandateId, ManufacturerId, Part,
    PartOrderLine, StateNature, StatusCode, WireDateTime,
};
use agora_ports::{AgoraError, LocalRepair, RepairFiles};
use clap::Subcommand;
use serde::Serialize;

use super::{App, Sent, delivery_exit, warn_all};
use crate::failure::code;
use crate::output::{List, Out, Row, cell};
use crate::parse;

#[derive(Debug, Subcommand)]
pub(crate) enum RepairsCmd {
    /// Every local repair file and where it stands.
    List,
    /// One repair file, whole (JSON).
    Show {
        /// The repair file (InterventionId).
        id: InterventionId,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum StatusCmd {
    /// Report a status (e.g. 102 with --start/--end, 201 with --part REF:ORDER).
    Report {
        /// The repair file (InterventionId).
        id: InterventionId,
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
            out.show(&List(repairs.iter().map(RepairRow::of).collect()));
            Ok(code::OK)
        }
        RepairsCmd::Show { id } => {
            let r = app.repair(id).await?;
            // A whole file reads best as JSON, for people too.
            out.json(&RepairView {
                file: &r.file,
                lifecycle: &r.lifecycle,
                claim_id: r.claim_id,
                orders: &r.orders,
                attention: r.attention.as_deref(),
            });
            Ok(code::OK)
        }
    }
}

/// A local repair file and where it stands (`repairs list`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RepairRow<'a> {
    intervention_id: InterventionId,
    mandate_id: Option<MandateId>,
    manufacturer_id: Option<ManufacturerId>,
    /// The file's last status code.
    last_state_code: Option<&'a StatusCode>,
    phase: RepairPhase,
    #[serde(rename = "ClaimID")]
    claim_id: Option<ClaimId>,
    /// The claim's last status.
    last_status: Option<ClaimStatus>,
    invoiced: bool,
    attention: Option<&'a str>,
}

impl<'a> RepairRow<'a> {
    fn of(r: &'a LocalRepair) -> Self {
        Self {
            intervention_id: r.intervention_id,
            mandate_id: r.mandate_id,
            manufacturer_id: r.file.manufacturer_id,
            last_state_code: r.file.last_status(),
            phase: r.lifecycle.phase,
            claim_id: r.claim_id,
            last_status: r.lifecycle.claim.map(|c| c.last_status()),
            invoiced: r.lifecycle.invoiced,
            attention: r.attention.as_deref(),
        }
    }
}

impl Row for RepairRow<'_> {
    const HEADERS: &'static [&'static str] = &[
        "file",
        "work order",
        "OEM",
        "last status",
        "phase",
        "claim",
        "claim status",
        "attention",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.intervention_id.to_string(),
            cell(self.mandate_id),
            cell(self.manufacturer_id.and_then(|m| m.name())),
            cell(
                self.last_state_code
                    .map(|s| format!("{s} {}", s.description().unwrap_or(""))),
            ),
            phase_name(self.phase).to_owned(),
            cell(self.claim_id),
            cell(self.last_status.as_ref()),
            cell(self.attention),
        ]
    }
}

/// A repair's phase in words.
pub(super) fn phase_name(phase: RepairPhase) -> &'static str {
    match phase {
        RepairPhase::Open => "open",
        RepairPhase::InProgress => "in progress",
        RepairPhase::Finished => "finished",
        RepairPhase::NotPossible => "not possible",
        RepairPhase::Closed => "closed",
    }
}

/// One repair file, whole (`repairs show`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RepairView<'a> {
    file: &'a CompleteRepairState,
    lifecycle: &'a RepairLifecycle,
    #[serde(rename = "ClaimID")]
    claim_id: Option<ClaimId>,
    orders: &'a [PartOrderLine],
    attention: Option<&'a str>,
}

/// A status reported on a file.
#[derive(Debug, Serialize)]
struct StatusChange {
    code: StatusCode,
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
                        order_number: order.map(OrderNumber::from),
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
    let what = format!("{status_code} {}", status_code.description().unwrap_or(""));
    out.show(&Sent::new(StatusChange { code: status_code }, what, &d));
    Ok(delivery_exit(&d))
}
