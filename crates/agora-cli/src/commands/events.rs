//! `agora events`: the events recorded in the store, from an id, as lines
//! (or NDJSON with `--json`), following new ones with `--follow`;
//! `agora events redeliver` queues chosen events to the webhooks again;
//! `agora events webhooks` shows what the webhooks still owe.

use std::time::Duration;

use agora_ports::{
    AgoraError, Clock, Event, EventType, Events, WebhookDeliveries, WebhookEndpoint,
};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::App;
use crate::failure::code;
use crate::output::{Grid, Human, Out, Render};
use crate::parse;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct EventsArgs {
    #[command(subcommand)]
    action: Option<EventsAction>,
    /// Only the events after this id (default: from the first).
    #[arg(long, value_name = "ID", default_value_t = 0)]
    since: u64,
    /// Keep printing new events as they are recorded, until Ctrl-C.
    #[arg(long)]
    follow: bool,
    /// Only events of this type; repeat for several (work_order.received,
    /// repair_file.created, status.delivered, part_order.placed,
    /// part_order.shipped, part_order.unavailable, part_order.cancelled,
    /// claim.created, claim.notvalid, claim.valid, claim.notconform,
    /// claim.closedaccepted, invoice_reference.sent, operation.in_doubt,
    /// catalog.synced).
    #[arg(long = "type", value_name = "TYPE", value_parser = event_type)]
    types: Vec<EventType>,
    /// How often `--follow` looks for new events (default 1s).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse::duration)]
    poll: Duration,
}

#[derive(Debug, Subcommand)]
enum EventsAction {
    /// Queue chosen events to the webhooks again (by id, or --since/--type).
    Redeliver(RedeliverArgs),
    /// What the webhooks still owe: pending and failed deliveries per
    /// endpoint, and the failed ones.
    Webhooks,
}

#[derive(Debug, Args)]
struct RedeliverArgs {
    /// The events, by id.
    #[arg(value_name = "ID")]
    ids: Vec<u64>,
    /// Every event after this id (instead of ids).
    #[arg(long, value_name = "ID", conflicts_with = "ids")]
    since: Option<u64>,
    /// Only events of this type; repeat for several.
    #[arg(long = "type", value_name = "TYPE", value_parser = event_type)]
    types: Vec<EventType>,
    /// Only to this endpoint (by its configured name; default all).
    #[arg(long, value_name = "NAME")]
    endpoint: Option<String>,
}

fn event_type(s: &str) -> Result<EventType, String> {
    EventType::parse(s.trim()).ok_or_else(|| {
        let all: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        format!("`{s}` is not an event type: {}", all.join(", "))
    })
}

/// One event as a JSON line.
#[derive(Serialize)]
struct Line<'a> {
    id: u64,
    #[serde(rename = "type")]
    kind: &'a str,
    at: String,
    intervention_id: Option<i64>,
    data: &'a serde_json::Value,
}

fn print(event: &Event, out: Out) {
    if out.json {
        let line = Line {
            id: event.id,
            kind: &event.kind,
            at: event.at.to_string(),
            intervention_id: event.intervention_id.map(|i| i.0),
            data: &event.data,
        };
        if let Ok(text) = serde_json::to_string(&line) {
            out.line(&text);
        }
    } else {
        out.line(&format!(
            "{}  {}  {}  {}  {}",
            event.id,
            event.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            event.kind,
            event
                .intervention_id
                .map_or_else(|| "-".to_owned(), |i| i.to_string()),
            event.data
        ));
    }
}

/// Prints the events after `last` (of the types asked), and returns the
/// id of the last one read.
async fn print_after(
    app: &App,
    mut last: u64,
    types: &[EventType],
    out: Out,
) -> Result<u64, AgoraError> {
    const PAGE: usize = 500;
    loop {
        let page = app.store().events_after(last, PAGE).await?;
        for event in &page {
            if types.is_empty() || types.iter().any(|t| t.as_str() == event.kind) {
                print(event, out);
            }
            last = event.id;
        }
        if page.len() < PAGE {
            return Ok(last);
        }
    }
}

pub(super) async fn run(
    app: &App,
    args: EventsArgs,
    webhooks: &[WebhookEndpoint],
    out: Out,
) -> Result<u8, AgoraError> {
    match args.action {
        Some(EventsAction::Redeliver(r)) => return redeliver(app, r, webhooks, out).await,
        Some(EventsAction::Webhooks) => return backlog(app, out).await,
        None => {}
    }
    let mut last = print_after(app, args.since, &args.types, out).await?;
    if !args.follow {
        return Ok(code::OK);
    }
    // Ids are commit-ordered in both stores (see docs/architecture.md):
    // reading after the last id seen never skips an event.
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return Ok(code::OK),
            () = tokio::time::sleep(args.poll) => {}
        }
        last = print_after(app, last, &args.types, out).await?;
    }
}

/// What a redelivery queued.
#[derive(Serialize)]
struct Requeued {
    /// Deliveries queued, per endpoint.
    queued: std::collections::BTreeMap<String, usize>,
}

impl Render for Requeued {
    fn human(&self) -> Human {
        let per: Vec<String> = self
            .queued
            .iter()
            .map(|(e, n)| format!("{e} {n}"))
            .collect();
        Human::line(format!("queued again: {}", per.join(", ")))
    }
}

/// The events chosen by `args`, with their types.
async fn chosen(app: &App, args: &RedeliverArgs) -> Result<Vec<Event>, AgoraError> {
    const PAGE: usize = 500;
    let of_type =
        |e: &Event| args.types.is_empty() || args.types.iter().any(|t| t.as_str() == e.kind);
    let mut events = Vec::new();
    if let Some(since) = args.since {
        let mut last = since;
        loop {
            let page = app.store().events_after(last, PAGE).await?;
            let Some(end) = page.last().map(|e| e.id) else {
                break;
            };
            last = end;
            events.extend(page.into_iter().filter(|e| of_type(e)));
        }
    } else {
        for id in &args.ids {
            let found = app.store().events_after(id.saturating_sub(1), 1).await?;
            match found.into_iter().next() {
                Some(e) if e.id == *id => {
                    if of_type(&e) {
                        events.push(e);
                    }
                }
                _ => {
                    return Err(AgoraError::Invalid(format!(
                        "event {id} is not in the store (never recorded, or pruned)"
                    )));
                }
            }
        }
    }
    Ok(events)
}

async fn redeliver(
    app: &App,
    args: RedeliverArgs,
    webhooks: &[WebhookEndpoint],
    out: Out,
) -> Result<u8, AgoraError> {
    if args.ids.is_empty() && args.since.is_none() {
        return Err(AgoraError::Invalid(
            "name the events: by id, or --since ID (--since 0: all kept)".to_owned(),
        ));
    }
    if webhooks.is_empty() {
        return Err(AgoraError::Config(
            "no webhook is configured (`webhooks` in the configuration file)".to_owned(),
        ));
    }
    let targets: Vec<&WebhookEndpoint> = match &args.endpoint {
        Some(name) => vec![webhooks.iter().find(|e| &e.name == name).ok_or_else(|| {
            let names: Vec<&str> = webhooks.iter().map(|e| e.name.as_str()).collect();
            AgoraError::Config(format!(
                "no webhook is named `{name}` (configured: {})",
                names.join(", ")
            ))
        })?],
        None => webhooks.iter().collect(),
    };
    let events = chosen(app, &args).await?;
    let now = agora_ports::SystemClock.now();
    let mut queued = std::collections::BTreeMap::new();
    for endpoint in targets {
        let ids: Vec<u64> = events
            .iter()
            .filter(|e| endpoint.wants(&e.kind))
            .map(|e| e.id)
            .collect();
        let n = app
            .store()
            .requeue_deliveries(&endpoint.name, &ids, now)
            .await?;
        queued.insert(endpoint.name.clone(), n);
    }
    out.show(&Requeued { queued });
    Ok(code::OK)
}

/// The webhooks' backlog.
#[derive(Serialize)]
struct Backlog {
    endpoints: Vec<BacklogLine>,
    failed: Vec<FailedLine>,
}

#[derive(Serialize)]
struct BacklogLine {
    endpoint: String,
    pending: u64,
    failed: u64,
}

#[derive(Serialize)]
struct FailedLine {
    endpoint: String,
    event: u64,
    attempts: u32,
    error: Option<String>,
}

impl Render for Backlog {
    fn human(&self) -> Human {
        if self.endpoints.is_empty() {
            return Human::line("every event was delivered to every webhook");
        }
        let mut rows: Vec<Vec<String>> = self
            .endpoints
            .iter()
            .map(|b| {
                vec![
                    b.endpoint.clone(),
                    b.pending.to_string(),
                    b.failed.to_string(),
                    String::new(),
                ]
            })
            .collect();
        rows.extend(self.failed.iter().map(|f| {
            vec![
                f.endpoint.clone(),
                String::new(),
                format!("event {} ({} attempts)", f.event, f.attempts),
                f.error.clone().unwrap_or_default(),
            ]
        }));
        Human::table(Grid {
            headers: &["ENDPOINT", "PENDING", "FAILED", "LAST ERROR"],
            rows,
        })
    }
}

async fn backlog(app: &App, out: Out) -> Result<u8, AgoraError> {
    let endpoints = app
        .store()
        .webhook_backlog()
        .await?
        .into_iter()
        .map(|b| BacklogLine {
            endpoint: b.endpoint,
            pending: b.pending,
            failed: b.failed,
        })
        .collect();
    let failed = app
        .store()
        .failed_deliveries(100)
        .await?
        .into_iter()
        .map(|f| FailedLine {
            endpoint: f.endpoint,
            event: f.event_id,
            attempts: f.attempts,
            error: f.last_error,
        })
        .collect();
    out.show(&Backlog { endpoints, failed });
    Ok(code::OK)
}
