//! The run's table, printed and written to `docs/reliability.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::events::{OpKind, Outcome};
use crate::harness::{ChaosConfig, ChaosReport, StoreKind};

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".to_owned();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// The summary: (what, figure) rows.
pub fn summary(report: &ChaosReport, config: &ChaosConfig) -> Vec<(String, String)> {
    let f = &report.faults;
    let before = &report.before;
    let after = &report.after;
    let in_run_applied = report.outcomes(Outcome::ResolvedApplied);
    let in_run_resend = report.outcomes(Outcome::ResolvedResend);
    let in_doubt_all = in_run_applied + in_run_resend + before.in_doubt.len() as u64;
    let verdict = if report.passed(config.kills + config.point_kills) {
        "PASSED"
    } else {
        "FAILED"
    };
    vec![
        ("result".into(), verdict.into()),
        (
            "operations".into(),
            format!(
                "{} by {} worker processes on {}",
                thousands(report.total_operations()),
                report.workers,
                report.store.shared()
            ),
        ),
        (
            "repair files".into(),
            format!("{} (from {} work orders)", report.files, report.work_orders),
        ),
        ("AgoraPlus calls".into(), thousands(f.calls)),
        (
            "faults injected".into(),
            format!(
                "{} ({} of calls): 503 {}, 500 {}, slow past the client timeout {}, dropped after commit {}",
                thousands(f.total()),
                pct(f.total(), f.calls),
                thousands(f.status503),
                thousands(f.status500),
                thousands(f.slow),
                thousands(f.dropped_after_commit)
            ),
        ),
        (
            "updates held past the client's timeout, applied later".into(),
            format!("{} (held {} ms)", thousands(f.held), config.faults.hold_ms),
        ),
        (
            "kills (SIGKILL, restarted)".into(),
            format!(
                "{}; their leases recovered: {} parked in doubt, {} requeued",
                report.kills, report.left_in_doubt, report.left_requeued
            ),
        ),
        (
            "kills at named points".into(),
            if report.point_kills.is_empty() {
                "0".to_owned()
            } else {
                crate::events::Point::ALL
                    .into_iter()
                    .map(|p| {
                        format!(
                            "{} {}",
                            p.label(),
                            report.point_kills.get(&p).copied().unwrap_or(0)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
        (
            "workers paused past their lease (SIGSTOP, SIGCONT)".into(),
            format!(
                "{} (stopped {} ms)",
                report.pauses,
                config.pause.as_millis()
            ),
        ),
        (
            "store unavailable".into(),
            format!(
                "{} times for {} ms ({})",
                report.outages,
                config.outage.as_millis(),
                match report.store {
                    StoreKind::Sqlite => "the file locked by an exclusive transaction",
                    StoreKind::Postgres => "the server stopped and started again",
                }
            ),
        ),
        (
            "clocks off the true time".into(),
            format!(
                "{} worker(s) {} ms ahead ({}; grace {} ms)",
                report.skewed_workers,
                config.clock_skew.as_millis(),
                match report.store {
                    StoreKind::Sqlite => "each process's clock judges leases",
                    StoreKind::Postgres => "the database's clock judges leases",
                },
                config.grace().as_millis()
            ),
        ),
        ("outbox entries".into(), thousands(after.entries as u64)),
        (
            "delivered".into(),
            format!(
                "{} before the operator's end, {} after",
                thousands(before.delivered as u64),
                thousands(after.delivered as u64)
            ),
        ),
        (
            "in doubt".into(),
            format!(
                "{} in all: {} resolved during the run, {} left when the workers ended",
                thousands(in_doubt_all),
                in_run_applied + in_run_resend,
                before.in_doubt.len()
            ),
        ),
        (
            "resolved by the operator path".into(),
            format!(
                "{} during the run (applied {in_run_applied}, resend {in_run_resend}); {} at the end (applied {}, resend {}); unresolved {}",
                in_run_applied + in_run_resend,
                report.resolved_applied + report.resolved_resend,
                report.resolved_applied,
                report.resolved_resend,
                report.unresolved.len()
            ),
        ),
        (
            "failed with their reason".into(),
            thousands(after.failed.len() as u64),
        ),
        (
            "second open creation refused".into(),
            thousands(report.outcomes(Outcome::RefusedOpenCreation)),
        ),
        (
            "conflicts (file written by another worker)".into(),
            thousands(report.outcomes(Outcome::Conflict)),
        ),
        (
            "left pending or sending".into(),
            format!(
                "{} (before the operator's end: {}, of which {} behind a parked entry of their file)",
                after.open.len(),
                before.open.len(),
                before.waiting.len()
            ),
        ),
        (
            "duplicates".into(),
            (after.duplicates.len().max(before.duplicates.len())).to_string(),
        ),
        (
            "duplicated (from the request journal)".into(),
            format!(
                "{} of {} requests applied{}",
                after.journal_duplicates.len(),
                thousands(after.journaled as u64),
                if config.apply_duplicates {
                    " (the simulator's guards against re-sends off)"
                } else {
                    ""
                }
            ),
        ),
        (
            "files differing (field by field)".into(),
            format!(
                "{} of {} (before the operator's end: {})",
                after.differing.len(),
                report.files,
                before.differing.len()
            ),
        ),
        (
            "doubts settled".into(),
            format!(
                "{} of {}",
                in_doubt_all as usize - after.in_doubt.len().min(in_doubt_all as usize),
                in_doubt_all
            ),
        ),
        (
            "lost".into(),
            format!(
                "{} (before the operator's end: {})",
                after.lost.len(),
                before.lost.len()
            ),
        ),
        (
            "wall time".into(),
            format!(
                "{:.0} s ({:.0} s of workers, {:.0} s of recovery, resolution and reconciliation)",
                report.wall_time.as_secs_f64(),
                report.run_time.as_secs_f64(),
                (report.wall_time - report.run_time).as_secs_f64()
            ),
        ),
    ]
}

/// The intents checked: (kind, count) rows.
pub fn intents(report: &ChaosReport) -> Vec<(&'static str, usize)> {
    let i = &report.after.intents;
    vec![
        ("work orders (repair file per MandateId)", i.work_orders),
        ("status reports (file + comment)", i.statuses),
        ("part orders (file + part reference)", i.orders),
        ("claims (file)", i.claims),
        ("claim corrections (claim + version)", i.corrections),
        ("invoice references (draft)", i.invoices),
    ]
}

fn columns(report: &ChaosReport) -> Vec<Outcome> {
    Outcome::ALL
        .into_iter()
        .filter(|o| report.outcomes(*o) > 0)
        .collect()
}

fn kind_rows(report: &ChaosReport) -> Vec<(OpKind, &BTreeMap<Outcome, u64>)> {
    OpKind::ALL
        .into_iter()
        .filter_map(|k| report.operations.get(&k).map(|o| (k, o)))
        .collect()
}

/// The whole report as text, for the terminal.
pub fn text(report: &ChaosReport, config: &ChaosConfig) -> String {
    let mut out = String::new();
    let rows = summary(report, config);
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in &rows {
        let _ = writeln!(out, "{k:<width$}  {v}");
    }
    let _ = writeln!(out);
    let cols = columns(report);
    let _ = write!(out, "{:<42}{:>7}", "operation", "count");
    for c in &cols {
        let _ = write!(out, "  {:>w$}", c.label(), w = c.label().len());
    }
    let _ = writeln!(out);
    for (kind, outcomes) in kind_rows(report) {
        let _ = write!(
            out,
            "{:<42}{:>7}",
            kind.label(),
            outcomes.values().sum::<u64>()
        );
        for c in &cols {
            let n = outcomes.get(c).copied().unwrap_or(0);
            let _ = write!(out, "  {:>w$}", n, w = c.label().len());
        }
        let _ = writeln!(out);
    }
    for (title, items) in findings(report) {
        let _ = writeln!(out, "\n{title}:");
        for item in items {
            let _ = writeln!(out, "  - {item}");
        }
    }
    out
}

/// Lists worth showing: what was lost or duplicated, failures by reason,
/// crashes.
fn findings(report: &ChaosReport) -> Vec<(&'static str, Vec<String>)> {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for f in &report.after.failed {
        let reason: String = f.reason.chars().take(140).collect();
        *reasons
            .entry(format!("{}: {reason}", f.operation))
            .or_default() += 1;
    }
    let mut lists = vec![
        ("lost", report.after.lost.clone()),
        ("lost before the operator's end", report.before.lost.clone()),
        ("duplicated", report.after.duplicates.clone()),
        (
            "duplicated, from the request journal",
            report.after.journal_duplicates.clone(),
        ),
        ("files differing", report.after.differing.clone()),
        ("unresolved doubts", report.unresolved.clone()),
        ("worker crashes", report.crashes.clone()),
        (
            "failed entries, by reason",
            reasons
                .into_iter()
                .map(|(r, n)| format!("{n} × {r}"))
                .collect(),
        ),
    ];
    lists.retain(|(_, items)| !items.is_empty());
    lists
}

/// Items of a finding listed in `docs/reliability.md`.
const LISTED: usize = 25;

/// The heading of a store's section in `docs/reliability.md`.
fn section_heading(store: StoreKind) -> String {
    format!("## Latest run on {}", store.label())
}

/// The heading of the API conformance section of `docs/reliability.md`
/// (schemathesis against the simulator, kept as it is by the chaos run).
pub const CONFORMANCE_HEADING: &str = "## API conformance: schemathesis";

/// The section of `store` in an earlier `docs/reliability.md`, from its
/// heading to the next heading of its level.
fn earlier_section(existing: &str, store: StoreKind) -> Option<&str> {
    section_under(existing, &section_heading(store))
}

/// The section under `heading` in an earlier `docs/reliability.md`, from
/// its heading to the next heading of its level.
fn section_under<'a>(existing: &'a str, heading: &str) -> Option<&'a str> {
    let heading = format!("{heading}\n");
    let start = existing.find(&heading)?;
    let rest = &existing[start..];
    let end = rest[heading.len()..]
        .find("\n## ")
        .map_or(rest.len(), |i| heading.len() + i + 1);
    Some(rest[..end].trim_end())
}

/// `docs/reliability.md`: the section of this run's store written anew,
/// the other store's section and the API conformance section kept from
/// `existing` (the file as it was).
pub fn markdown(report: &ChaosReport, config: &ChaosConfig, existing: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Reliability: the chaos run\n\n\
         Written by `cargo xtask chaos` (SQLite) and `cargo xtask chaos --store postgres` \
         (PostgreSQL), each run rewriting its store's section (do not edit by hand). {} \
         worker processes share one store (a SQLite file, or one database of a PostgreSQL \
         server) and drive {} operations of every use case against \
         `agora-sim`, with {:.0}% of AgoraPlus calls faulted and {} workers killed with \
         SIGKILL at random moments and restarted (beside the faults counted in each \
         table: kills at named points, pauses past the lease, clock skew, held \
         updates, the store unavailable); then the simulator's state is \
         reconciled with the store, every doubt is resolved by the operator path, and \
         the reconciliation is made again. How it works, and what each figure means, \
         is under the tables.\n",
        config.workers,
        thousands(config.operations),
        (config.faults.status503_rate
            + config.faults.status500_rate
            + config.faults.slow_rate
            + (1.0 - config.faults.status503_rate - config.faults.status500_rate)
                * config.faults.drop_after_commit_rate)
            * 100.0,
        config.kills
    );
    for store in [StoreKind::Sqlite, StoreKind::Postgres] {
        if store == report.store {
            let _ = writeln!(out, "{}", section(report, config));
        } else if let Some(earlier) = earlier_section(existing, store) {
            let _ = writeln!(out, "{earlier}\n");
        }
    }
    let _ = writeln!(out, "{}", METHOD.trim());
    if let Some(conformance) = section_under(existing, CONFORMANCE_HEADING) {
        let _ = writeln!(out, "\n{conformance}");
    }
    out
}

/// The section of one run: its summary, operations, intents, findings
/// and settings.
fn section(report: &ChaosReport, config: &ChaosConfig) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n\n| | |\n|---|---|", section_heading(report.store));
    for (k, v) in summary(report, config) {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    let cols = columns(report);
    let _ = write!(out, "\n### Operations\n\n| operation | count |");
    for c in &cols {
        let _ = write!(out, " {} |", c.label());
    }
    let _ = write!(out, "\n|---|---:|");
    for _ in &cols {
        let _ = write!(out, "---:|");
    }
    let _ = writeln!(out);
    for (kind, outcomes) in kind_rows(report) {
        let _ = write!(
            out,
            "| {} | {} |",
            kind.label(),
            thousands(outcomes.values().sum())
        );
        for c in &cols {
            let _ = write!(
                out,
                " {} |",
                thousands(outcomes.get(c).copied().unwrap_or(0))
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "\n### Intents reconciled\n\n| intent (key) | count |\n|---|---:|"
    );
    for (k, n) in intents(report) {
        let _ = writeln!(out, "| {k} | {} |", thousands(n as u64));
    }
    for (title, items) in findings(report) {
        let _ = writeln!(out, "\n### {}{}\n", title[..1].to_uppercase(), &title[1..]);
        for item in items.iter().take(LISTED) {
            let _ = writeln!(out, "- {item}");
        }
        if items.len() > LISTED {
            let _ = writeln!(
                out,
                "- … and {} more (the run's text output lists them all)",
                items.len() - LISTED
            );
        }
    }
    let _ = writeln!(
        out,
        "\nSettings: lease {} ms, client timeout {} ms, slow calls held {} ms, \
         operator grace {} s, {} repair files in hand at once, NOTCONFORM share {:.0}%, seed {}.",
        config.lease.as_millis(),
        config.client_timeout.as_millis(),
        config.faults.slow_ms,
        config.operator_grace.as_secs(),
        config.window,
        config.not_conform_rate * 100.0,
        config.seed
    );
    out
}

const METHOD: &str = r#"
## How the run works

- **The harness** (`crates/agora-chaos`, `agora-chaos run`) serves the simulator in-process on a loopback port, with the faults set through the simulator's `Faults` (503, 500, slow calls held past the client's timeout and then handled, drop-after-commit) and a count of the requests in flight. It starts the workers: the same binary in `worker` mode, each with its own `AppConfig::worker` name and a 2-second lease.
- **The store** is one SQLite file in the run's directory, or, with `--store postgres`, one database on a throwaway PostgreSQL server that the harness starts for the run (`initdb` in a temporary directory, listening on a unix socket only, removed at the end); every worker gets its path or URL and opens it with `agora_store::Store`, so both stores run the same code.
- **The workers** share the store. Each operation picks a repair file among the lowest-numbered ones not done (shared by every worker, so they meet on the same files and their writes conflict) and does the file's next step, read from the store: details, appointment (102), diagnosis (406), the part, 205, the part order, the OEM ships it (control API) and the order is tracked, 201, 305, the claim (first with a typo: NOTVALID), its correction (VALID, transferred), the OEM's decision (control API; NOTCONFORM sends it back for another correction), claim tracking, the OEM's draft invoice (control API) and the invoice reference. The OEM publishes the work orders through the control API and the workers pull them with auto-accept. Some operations flush the outbox (recovering expired leases first). A worker counts a conflict or a refused second creation as an outcome, never as a failure.
- **Kills** are synchronised on events, never on sleeps: a worker writes a line when an operation begins and when it ends, and the simulator's router tells the harness which worker (by its `User-Agent`) sends a call. Once the run's count reaches a kill point, the harness kills (SIGKILL) either the next worker that begins an operation writing and sending an outbox entry, after a random delay of up to 8 ms so that it lands anywhere in that operation, or, every other time from the first, the next worker whose state-changing call reaches the simulator: the call is held until the worker is dead, then handled, so its change may be applied and its answer goes nowhere. On PostgreSQL, the server rolls back the dead worker's open transactions as its connections close. The harness waits for the worker's exit and starts its successor, which waits for the dead worker's leases to expire and recovers them (`Agora::recover`): idempotent entries are requeued, the others parked in doubt.
- **Faults beyond the simulator's answers**, each counted in the table: *updates held* (`HoldRate`, `HoldMs`: a share of `UpdateRepair` calls held past the client's timeout and its retries, then applied, so that an older file may land after a newer one); *kills at named points*: the worker's store (`probe::Probe`, wrapping the shared store; `agora-app` has no hook) reports, when the harness has armed it through the worker's standard input, the moment the file and its entry are saved, an entry is claimed, a call has ended before its outcome is recorded, and the recording starts, and waits there until the harness kills it (inside recording, it goes on and the kill lands in or just after the write); *workers paused past their lease*: armed at the claim, stopped with SIGSTOP for longer than the lease, then let go on with SIGCONT; *clocks that disagree*: every other worker reads a clock ahead of the true time (its use cases' `Clock`). On PostgreSQL every worker reads the one database clock, as processes sharing a server do, and leases, due times and settlements are judged by it, so the workers' grace stays 5 s; on SQLite each process's own clock judges leases, and the outbox promises nothing to processes whose clocks disagree by more than the grace, so the run's grace is the skew plus 5 s (`ChaosConfig::grace`). An earlier PostgreSQL run lost two status reports and applied one part order twice: it offset each skewed worker's reading of the database clock (one database read as two clocks, which no deployment has), and it found two defects since fixed, each with a test in `crates/agora-app/tests/fence.rs` that fails without its fix: an operator's resend or abandon was judged by the operator's own clock against a send start taken by the database's (`on_postgres_an_operator_s_fast_clock_settles_nothing_early`), and an entry written by a worker whose clock ran ahead was not due until that worker's time (`on_postgres_a_writer_whose_clock_runs_ahead_does_not_hold_its_entries_back`); *the store unavailable*: the throwaway PostgreSQL server stopped (fast: connections closed) and started again after a few seconds, or the SQLite file held by an exclusive transaction for as long.
- **Doubts during the run** are resolved by the operator path once they are older than the grace period (longer than any call that may still land): the simulator's state is read (`/_sim/state`), and the entry is resolved with `Agora::resolve` as applied, with the identifier found there (order lines, `ClaimID`, the claim version, the draft's invoice), or as resend when AgoraPlus shows nothing.
- **The end**: faults off, the harness waits until no request is in flight, recovers and flushes until nothing is sending or pending, pulls the work orders and tracks claims and orders a last time and reconciles (*before*). It then resolves every doubt left by the same operator path, flushes again and reconciles (*after*).

## What the chaos run found

- **A claim correction that transfers was resent by the HTTP client.** `UpdateWarrantyClaim?transferIfValid=true` counted as idempotent for the client's retries: after a dropped connection or a timeout, the client sent it again; the first attempt had transferred the claim, so AgoraPlus refused the second as not correctable, and the entry was recorded as *failed* although it was applied: the store kept the claim NOTVALID while AgoraPlus had it VALID and transferred (the reconciliation's "failed, yet AgoraPlus holds its version"). Fixed: the rule is the domain's `Route::is_idempotent_claim_submission`, shared by the client and the outbox; the client sends such a correction once and reports the doubt.
- **Two processes opening a new store at once.** Converting the file to WAL needs it to itself, and SQLite does not wait for that (the busy timeout does not apply): a worker starting beside another failed with "database is locked". Fixed: the store sets WAL only when the file is not in WAL yet and retries the conversion, with backoff, within the busy timeout.
- **Tracking stopped at the first conflict** (nothing was lost): `track_claims` and `track_part_orders` wrote each file once, without reading it again when another process had written it meanwhile, so a pass over the files ended at the first conflict (440 conflicts of OEM decisions and claim tracking in a run of 10,000 operations). Fixed: the tracking passes read the file again and redo their change on a conflict; the conflicts left are those of other use cases, reported to their caller.

## What the figures mean

- **Intent keys.** A repair file per work order (`MandateId`); a status report per file and comment (each comment is unique in the run); a part order per file and part reference; a claim per file; a claim version per claim and mark (`ClaimInfos.IRISSymptom`, unique per correction); an invoice reference per draft invoice.
- **Duplicated (from the request journal)**: the simulator runs with its guards against re-sends off (a second claim for a file, a second order of a part, a second invoice link to a draft are applied, not refused; `UpdateRepair` replaces the status history, not merges it), and journals every change it applies with its intent key (`GET /_sim/journal`); a creation whose intent an earlier applied request carried is a duplicate, whatever the simulator's state shows at the end.
- **Files differing (field by field)**: every field of every repair file compared between the store and AgoraPlus, after a last tracking pass: the file's own fields (the `CreationDate` AgoraPlus stamps on a file it creates, which the store never receives, once the store has one), its status history (AgoraPlus's closure status compared by its presence), its order lines (order number, part, quantity, logistic status), its claim and the claim's status, whether it is invoiced.
- **Duplicates**: AgoraPlus holds the same intent twice: two repair files for one work order, one status twice in a file's history, two order lines for one part, two claims for one file, one invoice number on two drafts, or two delivered invoice references for one draft.
- **Lost**: the two sides disagree and no entry in doubt explains it: an entry delivered whose effect AgoraPlus does not show (a status missing from the history, an order line, a claim, a claim version, an invoice link); an order, claim or invoice link AgoraPlus made that the store does not know (its identifier lost); an order or claim the store knows that AgoraPlus does not hold; a file invoiced on one side only; a failed correction whose version AgoraPlus holds; an entry still pending or sending at the end; a failed entry without its reason; a work order never pulled or not saved.
- **In doubt**: entries parked because their outcome was unknown (a timeout, a dropped connection or a 500 on a creation; a sender killed mid-send). **Failed**: refused by AgoraPlus for good, each with AgoraPlus's reason (listed above when there are any).
- **Second open creation refused**: a worker asked for a part order, a claim or an invoice reference while another entry for the same thing was still open (pending, sending or in doubt); the outbox refused it, naming that entry.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_rewrites_its_stores_section_and_keeps_the_others() {
        let config = ChaosConfig::reduced("agora-chaos");
        let sqlite = ChaosReport::default();
        let postgres = ChaosReport {
            store: StoreKind::Postgres,
            ..ChaosReport::default()
        };
        let first = markdown(&sqlite, &config, "");
        assert!(first.contains("## Latest run on SQLite\n"), "{first}");
        assert!(!first.contains("## Latest run on PostgreSQL"), "{first}");
        let both = markdown(&postgres, &config, &first);
        let again = markdown(&sqlite, &config, &both);
        for doc in [&both, &again] {
            let sqlite_at = doc.find("## Latest run on SQLite\n").unwrap();
            let postgres_at = doc.find("## Latest run on PostgreSQL\n").unwrap();
            let method_at = doc.find("## How the run works").unwrap();
            assert!(sqlite_at < postgres_at && postgres_at < method_at, "{doc}");
            assert_eq!(doc.matches("### Operations").count(), 2, "{doc}");
            assert_eq!(doc.matches("## How the run works").count(), 1, "{doc}");
        }
        assert!(both.contains("on one PostgreSQL database"), "{both}");
        assert_eq!(both, again);
        // The API conformance section, written by hand, stays as it was.
        let conformance = format!("{CONFORMANCE_HEADING}\n\n0 failures.");
        let with = format!("{again}\n{conformance}\n");
        let kept = markdown(&postgres, &config, &with);
        let rekept = markdown(&sqlite, &config, &kept);
        for doc in [&kept, &rekept] {
            assert!(doc.trim_end().ends_with(&conformance), "{doc}");
            assert_eq!(doc.matches(CONFORMANCE_HEADING).count(), 1, "{doc}");
        }
    }
}
