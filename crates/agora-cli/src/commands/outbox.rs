//! `agora outbox`: the operations waiting for delivery: listing them,
//! delivering what is due, and settling by hand an entry in doubt.

use agora_app::Resolution;
use agora_ports::{AgoraError, OutboxState};
use clap::{Subcommand, ValueEnum};
use serde_json::json;

use super::App;
use crate::failure::code;
use crate::output::{Out, cell};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum StateArg {
    Pending,
    InDoubt,
    Failed,
    Delivered,
    All,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ResolveAs {
    /// It was applied in AgoraPlus.
    Applied,
    /// It was not applied: send it again.
    Resend,
    /// Drop it.
    Abandon,
}

#[derive(Debug, Subcommand)]
pub(crate) enum OutboxCmd {
    /// Entries of the outbox.
    List {
        /// Which entries.
        #[arg(long, value_enum, default_value = "all")]
        state: StateArg,
    },
    /// Deliver what is due.
    Flush,
    /// Settle an entry in doubt (or failed).
    Resolve {
        /// The entry.
        id: u64,
        /// What happened.
        #[arg(long = "as", value_enum)]
        resolution: ResolveAs,
        /// With `--as applied` on a CreateWarrantyClaims entry: the claim
        /// AgoraPlus created (checked against its claim tracking).
        #[arg(long)]
        claim_id: Option<i64>,
        /// With `--as applied` on a CreateRepair entry: the repair file
        /// AgoraPlus created (looked up in the accepted work orders when
        /// the file came from one).
        #[arg(long)]
        intervention_id: Option<i64>,
    },
}

pub(super) async fn run(app: &App, cmd: OutboxCmd, out: Out) -> Result<u8, AgoraError> {
    match cmd {
        OutboxCmd::List { state } => {
            let states: &[OutboxState] = match state {
                StateArg::Pending => &[OutboxState::Pending],
                StateArg::InDoubt => &[OutboxState::InDoubt],
                StateArg::Failed => &[OutboxState::Failed],
                StateArg::Delivered => &[OutboxState::Delivered],
                StateArg::All => &[
                    OutboxState::Pending,
                    OutboxState::Sending,
                    OutboxState::InDoubt,
                    OutboxState::Failed,
                    OutboxState::Delivered,
                ],
            };
            let mut entries = Vec::new();
            for s in states {
                entries.extend(app.outbox(*s).await?);
            }
            entries.sort_by_key(|e| e.id);
            let rows = entries
                .iter()
                .map(|e| {
                    vec![
                        e.id.to_string(),
                        e.operation.name().to_owned(),
                        cell(e.intervention_id),
                        e.state.as_str().to_owned(),
                        e.attempts.to_string(),
                        cell(e.last_error.as_deref()),
                    ]
                })
                .collect();
            let value: Vec<_> = entries
                .iter()
                .map(|e| json!({"id": e.id, "operation": e.operation.name(), "InterventionId": e.intervention_id,
                    "state": e.state.as_str(), "owner": e.lease.as_ref().map(|l| &l.owner), "attempts": e.attempts, "last_error": e.last_error,
                    "created_at": e.created_at.to_string(), "next_attempt_at": e.next_attempt_at.to_string()}))
                .collect();
            out.table(
                &[
                    "entry",
                    "operation",
                    "file",
                    "state",
                    "attempts",
                    "last error",
                ],
                rows,
                &value,
            );
            Ok(code::OK)
        }
        OutboxCmd::Flush => {
            let r = app.flush_outbox().await?;
            out.say(
                &format!("{} delivered, {} to retry, {} in doubt, {} refused", r.delivered, r.queued, r.in_doubt, r.failed),
                &json!({"delivered": r.delivered, "queued": r.queued, "in_doubt": r.in_doubt, "failed": r.failed}),
            );
            Ok(if r.in_doubt > 0 {
                code::IN_DOUBT
            } else if r.queued > 0 {
                code::UNREACHABLE
            } else {
                code::OK
            })
        }
        OutboxCmd::Resolve {
            id,
            resolution,
            claim_id,
            intervention_id,
        } => {
            let resolution = match resolution {
                ResolveAs::Applied => Resolution::Applied {
                    intervention_id,
                    claim_id,
                },
                ResolveAs::Resend => Resolution::Resend,
                ResolveAs::Abandon => Resolution::Abandon,
            };
            let state = app.resolve(id, resolution).await?;
            out.say(
                &format!("entry {id} is now {}", state.as_str()),
                &json!({"id": id, "state": state.as_str()}),
            );
            Ok(code::OK)
        }
    }
}
