//! `agora outbox`: the operations waiting for delivery: listing them,
//! delivering what is due, and settling by hand an entry in doubt.

use agora_app::{FlushReport, Resolution};
use agora_domain::ClaimId;
use agora_domain::InterventionId;
use agora_ports::{AgoraError, OutboxEntry, OutboxState, blocked_behind};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;

use super::App;
use crate::failure::code;
use crate::output::{Human, List, Out, Render, Row, cell};

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
        claim_id: Option<ClaimId>,
        /// With `--as applied` on a CreateRepair entry: the repair file
        /// AgoraPlus created (looked up in the accepted work orders when
        /// the file came from one).
        #[arg(long)]
        intervention_id: Option<InterventionId>,
        /// With `--as resend` or `--as abandon`: settle at once, even while
        /// the entry's last attempt may still take effect in AgoraPlus (until
        /// its send start + the request timeout + the grace; refused until
        /// then without this). Risks a duplicate: a resend may be applied
        /// twice, an abandoned entry applied all the same (its key stays
        /// held until then). A late answer is still recorded; a second one
        /// is flagged DUPLICATE in `agora outbox list`.
        #[arg(long)]
        force: bool,
    },
}

/// What `--force` risks, said in the output of a forced resolution.
const FORCE_RISK: &str = "forced while its last attempt may still take effect in AgoraPlus: it may be applied twice (resend) or all the same (abandon); a late answer is recorded, a second one flagged DUPLICATE (`agora outbox list`)";

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
            // What pending entries may wait behind: the parked ones.
            let mut parked = app.outbox(OutboxState::InDoubt).await?;
            if states.contains(&OutboxState::Pending) {
                parked.extend(app.outbox(OutboxState::Failed).await?);
            }
            let rows = entries
                .iter()
                .map(|e| EntryRow(e, blocked_behind(e, &parked)))
                .collect();
            out.show(&List(rows));
            Ok(code::OK)
        }
        OutboxCmd::Flush => {
            let r = app.flush_outbox().await?;
            out.show(&Flushed(&r));
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
            force,
        } => {
            let resolution = match resolution {
                ResolveAs::Applied => Resolution::Applied {
                    intervention_id,
                    claim_id,
                },
                ResolveAs::Resend => Resolution::Resend,
                ResolveAs::Abandon => Resolution::Abandon,
            };
            let forced = force && !matches!(resolution, Resolution::Applied { .. });
            let state = app.resolve_with(id, resolution, forced).await?;
            out.show(&Resolved {
                id,
                state: state.as_str(),
                risk: forced.then_some(FORCE_RISK),
            });
            Ok(code::OK)
        }
    }
}

/// An entry of the outbox (`outbox list`), with the entry it waits behind.
#[derive(Debug)]
struct EntryRow<'a>(&'a OutboxEntry, Option<u64>);

impl Serialize for EntryRow<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            id: u64,
            operation: &'static str,
            #[serde(rename = "InterventionId")]
            intervention_id: Option<InterventionId>,
            state: &'static str,
            owner: Option<&'a str>,
            attempts: u32,
            last_error: Option<&'a str>,
            created_at: String,
            next_attempt_at: String,
            sent_at: Option<String>,
            parked_at: Option<String>,
            park_reason: Option<&'static str>,
            blocked_behind: Option<u64>,
            duplicates: usize,
        }
        let e = self.0;
        Json {
            id: e.id,
            operation: e.operation.name(),
            intervention_id: e.intervention_id,
            state: e.state.as_str(),
            owner: e.lease.as_ref().map(|l| l.owner.as_str()),
            attempts: e.attempts,
            last_error: e.last_error.as_deref(),
            created_at: e.created_at.to_string(),
            next_attempt_at: e.next_attempt_at.to_string(),
            sent_at: e.sent_at.map(|t| t.to_string()),
            parked_at: e.parked_at.map(|t| t.to_string()),
            park_reason: e.park_reason.map(|r| r.stored_name()),
            blocked_behind: self.1,
            duplicates: e.duplicates.len(),
        }
        .serialize(serializer)
    }
}

impl Row for EntryRow<'_> {
    const HEADERS: &'static [&'static str] = &[
        "entry",
        "operation",
        "file",
        "state",
        "attempts",
        "last error",
    ];
    fn cells(&self) -> Vec<String> {
        let e = self.0;
        let state = match (self.1, e.park_reason) {
            (Some(first), _) => format!("{} (blocked behind #{first})", e.state.as_str()),
            (None, Some(reason)) if e.state == OutboxState::Failed => {
                format!("{} ({})", e.state.as_str(), reason.as_str())
            }
            _ => e.state.as_str().to_owned(),
        };
        let state = if e.duplicates.is_empty() {
            state
        } else {
            format!("{state}, DUPLICATE")
        };
        vec![
            e.id.to_string(),
            e.operation.name().to_owned(),
            cell(e.intervention_id),
            state,
            e.attempts.to_string(),
            cell(e.last_error.as_deref()),
        ]
    }
}

/// What a flush delivered (`outbox flush`).
#[derive(Debug)]
struct Flushed<'a>(&'a FlushReport);

impl Serialize for Flushed<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json {
            delivered: usize,
            queued: usize,
            in_doubt: usize,
            failed: usize,
        }
        let r = self.0;
        Json {
            delivered: r.delivered,
            queued: r.queued,
            in_doubt: r.in_doubt,
            failed: r.failed,
        }
        .serialize(serializer)
    }
}

impl Render for Flushed<'_> {
    fn human(&self) -> Human {
        let r = self.0;
        Human::line(format!(
            "{} delivered, {} to retry, {} in doubt, {} refused",
            r.delivered, r.queued, r.in_doubt, r.failed
        ))
    }
}

/// An entry settled by hand (`outbox resolve`).
#[derive(Debug, Serialize)]
struct Resolved {
    id: u64,
    state: &'static str,
    /// What a forced resolution risks.
    #[serde(skip_serializing_if = "Option::is_none")]
    risk: Option<&'static str>,
}

impl Render for Resolved {
    fn human(&self) -> Human {
        let line = format!("entry {} is now {}", self.id, self.state);
        Human::line(match self.risk {
            Some(risk) => format!("{line}\nwarning: {risk}"),
            None => line,
        })
    }
}
