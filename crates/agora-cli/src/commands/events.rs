//! `agora events`: the events recorded in the store, from an id, as lines
//! (or NDJSON with `--json`), following new ones with `--follow`.

use std::time::Duration;

use agora_ports::{AgoraError, Event, EventType, Events};
use clap::Args;
use serde::Serialize;

use super::App;
use crate::failure::code;
use crate::output::Out;
use crate::parse;

#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
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

pub(super) async fn run(app: &App, args: EventsArgs, out: Out) -> Result<u8, AgoraError> {
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
