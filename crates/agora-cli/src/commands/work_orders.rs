//! `agora work-orders`: pulling new work orders (accepting them), saving
//! their repair files, showing what a sync did, and the work orders kept
//! as AgoraPlus sent them.

use std::sync::Arc;

use agora_app::{Agora, WorkOrderSync};
use agora_domain::{InterventionId, MandateId, MandateLightResponse};
use agora_http::ClientConfig;
use agora_ports::{AgoraError, KeptWorkOrder, RepairFiles, SystemClock};
use clap::Subcommand;
use serde::Serialize;

use super::App;
use crate::failure::{self, Failure, code};
use crate::output::{Human, List, Out, Render, Row, cell, warning_lines};

#[derive(Debug, Subcommand)]
pub(crate) enum WorkOrdersCmd {
    /// Pull new work orders (accepting them), save their repair files, and
    /// recover any accepted but not saved.
    Sync {
        /// Only list new work orders; accept them in AgoraPlus yourself.
        #[arg(long)]
        no_accept: bool,
    },
    /// The work orders pulled, accepted or awaiting acceptance, as
    /// AgoraPlus sent them (`--json`: each whole, unknown fields included).
    List,
    /// One work order, whole, as AgoraPlus sent it (JSON), with the repair
    /// file it became.
    Show {
        /// The work order (MandateId).
        id: MandateId,
    },
}

pub(super) async fn run(
    app: &App,
    cmd: WorkOrdersCmd,
    out: Out,
    client: &ClientConfig,
) -> Result<u8, AgoraError> {
    match cmd {
        WorkOrdersCmd::Sync { no_accept } => {
            let report = if no_accept {
                let mut config = app.config().clone();
                config.auto_accept = false;
                Agora::new(
                    app.api().clone(),
                    app.store().clone(),
                    Arc::new(SystemClock),
                    config,
                )
                .sync_work_orders()
                .await?
            } else {
                app.sync_work_orders().await?
            };
            Ok(print_work_order_sync(&report, out, client))
        }
        WorkOrdersCmd::List => {
            let kept = app.store().work_orders().await?;
            out.show(&List(kept.iter().map(WorkOrderView::of).collect()));
            Ok(code::OK)
        }
        WorkOrdersCmd::Show { id } => {
            let kept = app
                .store()
                .work_order(id)
                .await?
                .ok_or_else(|| AgoraError::Missing(format!("work order {id}")))?;
            // A whole work order reads best as JSON, for people too.
            out.json(&WorkOrderView::of(&kept));
            Ok(code::OK)
        }
    }
}

/// A work order kept as AgoraPlus sent it, with the repair file it became
/// (`work-orders list`, `show`): as JSON, the shape of a `GetNewMandates`
/// item (`InterventionId`, null while awaiting acceptance; `Mandate`, the
/// work order whole, unknown fields included).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct WorkOrderView<'a> {
    intervention_id: Option<InterventionId>,
    mandate: &'a MandateLightResponse,
}

impl<'a> WorkOrderView<'a> {
    fn of(kept: &'a KeptWorkOrder) -> Self {
        Self {
            intervention_id: kept.intervention_id,
            mandate: &kept.mandate,
        }
    }
}

impl Row for WorkOrderView<'_> {
    const HEADERS: &'static [&'static str] = &["work order", "OEM", "consumer", "file"];
    fn cells(&self) -> Vec<String> {
        let m = self.mandate;
        let consumer = m.consumer.as_ref().map(|c| {
            [c.first_name.as_deref(), c.last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        });
        vec![
            cell(m.mandate_id),
            cell(m.manufacturer()),
            cell(consumer.filter(|c| !c.is_empty())),
            self.intervention_id
                .map_or_else(|| "awaiting acceptance".to_owned(), |id| id.to_string()),
        ]
    }
}

/// What a work-order sync did (`work-orders sync`).
#[derive(Debug)]
struct Synced<'a>(&'a WorkOrderSync);

impl Serialize for Synced<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Refused<'a> {
            #[serde(rename = "MandateId")]
            mandate_id: Option<MandateId>,
            message: &'a str,
        }
        #[derive(Serialize)]
        struct Failed {
            step: String,
            error: String,
            code: &'static str,
            exit_code: u8,
        }
        #[derive(Serialize)]
        struct Json<'a> {
            accepted: &'a [InterventionId],
            recovered: &'a [InterventionId],
            awaiting_acceptance: &'a [MandateId],
            refused: Vec<Refused<'a>>,
            already_known: usize,
            warnings: Vec<String>,
            failed: Option<Failed>,
        }
        let r = self.0;
        Json {
            accepted: &r.accepted,
            recovered: &r.recovered,
            awaiting_acceptance: &r.awaiting_acceptance,
            refused: r
                .refused
                .iter()
                .map(|(m, e)| Refused {
                    mandate_id: *m,
                    message: e,
                })
                .collect(),
            already_known: r.already_known,
            warnings: warning_lines(&r.warnings),
            failed: r.failed.as_ref().map(|f| Failed {
                step: f.step.to_string(),
                error: f.error.to_string(),
                code: failure::name(&f.error),
                exit_code: failure::exit_code(&f.error),
            }),
        }
        .serialize(serializer)
    }
}

impl Render for Synced<'_> {
    fn human(&self) -> Human {
        let r = self.0;
        Human::line(format!(
            "{} accepted, {} recovered, {} awaiting acceptance, {} refused, {} already known{}",
            r.accepted.len(),
            r.recovered.len(),
            r.awaiting_acceptance.len(),
            r.refused.len(),
            r.already_known,
            if r.failed.is_some() {
                " (incomplete)"
            } else {
                ""
            }
        ))
    }
}

/// Shows what a work-order sync did: the counts on stdout (or the whole
/// report as JSON); AgoraPlus's warnings, the work orders it refused and
/// the half that failed on stderr. The exit code is the failed half's,
/// else 1 when a work order was refused, else 0.
fn print_work_order_sync(report: &WorkOrderSync, out: Out, client: &ClientConfig) -> u8 {
    out.show(&Synced(report));
    out.warnings(&report.warnings);
    for (mandate, message) in &report.refused {
        Failure::new(
            "work_order_refused",
            format!(
                "work order {} was not accepted by AgoraPlus: {message}",
                cell(*mandate)
            ),
            code::REFUSED,
        )
        .print(out);
    }
    match &report.failed {
        Some(failure) => failure::report_step(failure, Some(client), out),
        None if !report.refused.is_empty() => code::REFUSED,
        None => code::OK,
    }
}
