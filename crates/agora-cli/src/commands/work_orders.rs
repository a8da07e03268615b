//! `agora work-orders`: pulling new work orders (accepting them), saving
//! their repair files, and showing what a sync did.

use std::sync::Arc;

use agora_app::{Agora, WorkOrderSync};
use agora_http::ClientConfig;
use agora_ports::{AgoraError, SystemClock};
use clap::Subcommand;
use serde_json::json;

use super::App;
use crate::failure::{self, Failure, code};
use crate::output::{Out, cell, warning_lines};

#[derive(Debug, Subcommand)]
pub(crate) enum WorkOrdersCmd {
    /// Pull new work orders (accepting them), save their repair files, and
    /// recover any accepted but not saved.
    Sync {
        /// Only list new work orders; accept them in AgoraPlus yourself.
        #[arg(long)]
        no_accept: bool,
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
    }
}

/// Shows what a work-order sync did: the counts on stdout (or the whole
/// report as JSON); AgoraPlus's warnings, the work orders it refused and
/// the half that failed on stderr. The exit code is the failed half's,
/// else 1 when a work order was refused, else 0.
fn print_work_order_sync(report: &WorkOrderSync, out: Out, client: &ClientConfig) -> u8 {
    let value = json!({
        "accepted": report.accepted, "recovered": report.recovered,
        "awaiting_acceptance": report.awaiting_acceptance,
        "refused": report.refused.iter().map(|(m, e)| json!({"MandateId": m, "message": e})).collect::<Vec<_>>(),
        "already_known": report.already_known,
        "warnings": warning_lines(&report.warnings),
        "failed": report.failed.as_ref().map(|f| json!({
            "step": f.step.to_string(), "error": f.error.to_string(),
            "code": failure::name(&f.error), "exit_code": failure::exit_code(&f.error),
        })),
    });
    out.say(
        &format!(
            "{} accepted, {} recovered, {} awaiting acceptance, {} refused, {} already known{}",
            report.accepted.len(),
            report.recovered.len(),
            report.awaiting_acceptance.len(),
            report.refused.len(),
            report.already_known,
            if report.failed.is_some() {
                " (incomplete)"
            } else {
                ""
            }
        ),
        &value,
    );
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
