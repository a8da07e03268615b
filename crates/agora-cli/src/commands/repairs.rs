//! `agora repairs` and `agora status`: the local repair files, and the
//! status codes reported on them.

use agora_app::Delivery;
use agora_domain::OrderNumber;
use agora_domain::edit;
use agora_domain::lifecycle::{RepairLifecycle, RepairPhase};
use agora_domain::{
    ClaimId, ClaimStatus, CompleteRepairState, InterventionId, MandateId, ManufacturerId, Part,
    PartOrderLine, StateNature, StatusCode, WireDateTime,
};
use agora_ports::{AgoraError, LocalRepair, OperationAnswer, RepairFiles};
use clap::Subcommand;
use serde::Serialize;

use super::{App, Sent, delivery_exit, warn_all};
use crate::failure::{Failure, code};
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
    /// Change fields of the file (`SerialNumber=SN-42`, `Consumer.Phone=...`,
    /// `Parts[0].Quantity=2`) and send it: one update.
    ///
    /// PATH is made of wire names (any case) joined by `.`, with `[n]` for a
    /// list's item (`[n]` at the list's length adds one). VALUE is read as
    /// JSON when that reads as the field's type, else as a string
    /// (`Consumer.Zip=69001` is the string "69001"; `null` removes a value).
    /// InterventionId, MandateId and the status history are not changed
    /// here. A bad path or value is a usage error, and nothing is sent.
    Set {
        /// The repair file (InterventionId).
        id: InterventionId,
        /// The changes, applied in order: PATH=VALUE (repeatable).
        #[arg(value_name = "PATH=VALUE", required = true, num_args = 1..)]
        assignments: Vec<String>,
    },
    /// Create a repair file taken in directly, without a work order
    /// (CreateRepair): AgoraPlus numbers it.
    ///
    /// The file is built from `--from FILE` (JSON; `-` reads stdin), then
    /// the PATH=VALUE assignments, as `repairs set` reads them:
    /// `ManufacturerId=19 CommercialRef=ECAM22.110.B ManufacturingCode=2301
    /// Consumer.Title=3 Consumer.LastName=Durand ... Intervention.InterventionType=1
    /// Intervention.RepairOriginCode=CONSUMER`. A file lacking what the
    /// reference marks required is refused, naming every field, and nothing
    /// is sent. A creation is never sent twice: one whose answer was lost
    /// is in doubt, for `agora outbox resolve`.
    Create {
        /// A JSON file to start from (`-` for stdin).
        #[arg(long, value_name = "FILE")]
        from: Option<std::path::PathBuf>,
        /// Fields to set, applied in order: PATH=VALUE (repeatable).
        #[arg(value_name = "PATH=VALUE")]
        assignments: Vec<String>,
    },
    /// Edit the file as JSON in `$VISUAL`, else `$EDITOR`, else vi, and send
    /// it: one update.
    ///
    /// As `kubectl edit`: nothing is sent when the file comes back
    /// unchanged; a file that does not read (JSON, a field's type, an id or
    /// the status history changed) is opened again with the error on top
    /// as `#` lines (lines starting with `#` are ignored); saved again
    /// unchanged, it stops with the error.
    Edit {
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
        RepairsCmd::Set { id, assignments } => set(app, id, &assignments, out).await,
        RepairsCmd::Edit { id } => edit(app, id, out).await,
        RepairsCmd::Create { from, assignments } => {
            create(app, from.as_deref(), &assignments, out).await
        }
    }
}

/// A usage error: printed, its exit code returned.
fn usage(message: impl Into<String>, out: Out) -> u8 {
    Failure::new("usage", message, code::USAGE).print(out)
}

/// Splits `PATH=VALUE`.
fn assignment(text: &str) -> Option<(&str, &str)> {
    text.split_once('=')
        .filter(|(path, _)| !path.trim().is_empty())
}

/// Applies every assignment, in order, to `file`.
fn apply_all(
    file: &CompleteRepairState,
    assignments: &[String],
) -> Result<CompleteRepairState, String> {
    let mut edited = file.clone();
    for text in assignments {
        let (path, value) = assignment(text).ok_or_else(|| {
            format!("`{text}` is not PATH=VALUE (e.g. Consumer.Phone=0472000000)")
        })?;
        edited = edit::set_path(&edited, path.trim(), value).map_err(|e| e.to_string())?;
    }
    Ok(edited)
}

/// The fields changed on a file (`repairs set`): agora's record, the
/// file's id under its wire name.
#[derive(Debug, Serialize)]
struct FileChange {
    #[serde(rename = "InterventionId")]
    intervention_id: InterventionId,
    /// The paths set, in order.
    changed: Vec<String>,
}

async fn set(
    app: &App,
    id: InterventionId,
    assignments: &[String],
    out: Out,
) -> Result<u8, AgoraError> {
    let repair = app.repair(id).await?;
    let edited = match apply_all(&repair.file, assignments) {
        Ok(edited) => edited,
        Err(message) => return Ok(usage(message, out)),
    };
    if edited == repair.file {
        out.note(format_args!("repair file {id} already so: nothing sent"));
        return Ok(code::OK);
    }
    // Redone on the file as read again when another process wrote it
    // meanwhile; the changes were checked on this one.
    let d = app
        .update_file(id, |file| {
            if let Ok(changed) = apply_all(file, assignments) {
                *file = changed;
            }
        })
        .await?;
    let changed: Vec<String> = assignments
        .iter()
        .filter_map(|a| assignment(a).map(|(p, _)| p.trim().to_owned()))
        .collect();
    let what = format!("repair file {id}: {} set", changed.join(", "));
    out.show(&Sent::new(
        FileChange {
            intervention_id: id,
            changed,
        },
        what,
        &d,
    ));
    Ok(delivery_exit(&d))
}

/// A repair file created (`repairs create`): its number once AgoraPlus
/// gave it, under its wire name.
#[derive(Debug, Serialize)]
struct FileCreated {
    #[serde(rename = "InterventionId")]
    intervention_id: Option<InterventionId>,
}

async fn create(
    app: &App,
    from: Option<&std::path::Path>,
    assignments: &[String],
    out: Out,
) -> Result<u8, AgoraError> {
    let base = match from {
        None => CompleteRepairState::default(),
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(path)
            };
            let text = match text {
                Ok(text) => text,
                Err(e) => return Ok(usage(format!("{}: {e}", path.display()), out)),
            };
            match serde_json::from_str(&text) {
                Ok(file) => file,
                Err(e) => return Ok(usage(format!("{}: {e}", path.display()), out)),
            }
        }
    };
    let file = match apply_all(&base, assignments) {
        Ok(file) => file,
        Err(message) => return Ok(usage(message, out)),
    };
    let d = app.create_repair(file).await?;
    let intervention_id = match &d {
        Delivery::Delivered {
            answer: OperationAnswer::Created(id),
            ..
        } => Some(*id),
        _ => None,
    };
    let what = match intervention_id {
        Some(id) => format!("repair file {id} created"),
        None => "new repair file".to_owned(),
    };
    out.show(&Sent::new(FileCreated { intervention_id }, what, &d));
    Ok(delivery_exit(&d))
}

/// The editor to run: `$VISUAL`, else `$EDITOR`, else vi, split on
/// whitespace (`EDITOR="code -w"`).
fn editor() -> Vec<String> {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|e| e.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|words| !words.is_empty())
        .unwrap_or_else(|| vec!["vi".to_owned()])
}

/// Writes `text` to a temporary `.json` file, runs the editor on it and
/// reads it back without its `#` lines.
fn edit_round(text: &str) -> Result<String, String> {
    let file = tempfile::Builder::new()
        .prefix("agora-edit-")
        .suffix(".json")
        .tempfile()
        .map_err(|e| format!("cannot write the temporary file: {e}"))?;
    std::fs::write(file.path(), text)
        .map_err(|e| format!("cannot write {}: {e}", file.path().display()))?;
    let words = editor();
    let status = std::process::Command::new(&words[0])
        .args(&words[1..])
        .arg(file.path())
        .status()
        .map_err(|e| format!("cannot run the editor `{}`: {e}", words.join(" ")))?;
    if !status.success() {
        return Err(format!(
            "the editor `{}` failed ({status}); nothing sent",
            words.join(" ")
        ));
    }
    let back = std::fs::read_to_string(file.path())
        .map_err(|e| format!("cannot read {} back: {e}", file.path().display()))?;
    Ok(back
        .lines()
        .filter(|line| !line.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The file changed by hand (`repairs edit`).
#[derive(Debug, Serialize)]
struct FileEdited {
    #[serde(rename = "InterventionId")]
    intervention_id: InterventionId,
}

async fn edit(app: &App, id: InterventionId, out: Out) -> Result<u8, AgoraError> {
    let repair = app.repair(id).await?;
    let original = serde_json::to_string_pretty(&repair.file).map_err(|e| {
        AgoraError::Invalid(format!("repair file {id} does not write as JSON: {e}"))
    })?;
    let mut text = original.clone();
    let mut error: Option<String> = None;
    let edited = loop {
        let header = match &error {
            Some(e) => format!(
                "# Please edit the file below. Lines starting with '#' are ignored;\n\
                 # saved unchanged, the edit stops.\n#\n# {}\n#\n",
                e.replace('\n', "\n# ")
            ),
            None => String::new(),
        };
        let back = match edit_round(&format!("{header}{text}")) {
            Ok(back) => back,
            Err(message) => return Ok(usage(message, out)),
        };
        if back.trim() == original.trim() {
            out.note(format_args!("Edit cancelled, no changes made."));
            return Ok(code::OK);
        }
        if let Some(e) = &error {
            if back.trim() == text.trim() {
                return Ok(usage(format!("repair file {id} not changed: {e}"), out));
            }
        }
        match edit::read_edited(&repair.file, &back) {
            Ok(edited) if edited == repair.file => {
                out.note(format_args!("Edit cancelled, no changes made."));
                return Ok(code::OK);
            }
            Ok(edited) => break edited,
            Err(e) => {
                error = Some(e.to_string());
                text = back;
            }
        }
    };
    let d = app.update_file(id, |file| *file = edited.clone()).await?;
    out.show(&Sent::new(
        FileEdited {
            intervention_id: id,
        },
        format!("repair file {id} edited"),
        &d,
    ));
    Ok(delivery_exit(&d))
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
