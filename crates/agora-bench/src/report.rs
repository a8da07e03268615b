//! `agora-bench all`: runs every measurement in child processes, takes the
//! medians, checks the targets as ratios of this run's own figures, prints
//! the tables and writes them to `docs/benchmarks.md`. The PostgreSQL
//! benchmarks (`crate::pg`) have a section of their own there: `--postgres`
//! runs only them, `--no-postgres` all but them, and a run rewrites only
//! the sections it measured.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The simulator serving from a child process, until dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn exe() -> Result<std::path::PathBuf, String> {
    std::env::current_exe().map_err(|e| e.to_string())
}

pub(crate) fn server(size: u64) -> Result<Server, String> {
    let mut child = Command::new(exe()?)
        .args(["serve", &size.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&line).map_err(|e| format!("server said {line:?}: {e}"))?;
    let url = v["url"].as_str().ok_or("no url")?.to_owned();
    Ok(Server { child, url })
}

pub(crate) fn child(args: &[&str]) -> Result<Value, String> {
    child_with(args, &[])
}

/// Like [`child`], with environment variables for the child.
fn child_with(args: &[&str], envs: &[(&str, &std::path::Path)]) -> Result<Value, String> {
    let out = Command::new(exe()?)
        .args(args)
        .envs(envs.iter().copied())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{args:?} failed"));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).map_err(|e| format!("{args:?} said {last:?}: {e}"))
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs a child `runs` times; the medians of each numeric field.
fn medians(args: &[&str], runs: usize) -> Result<Value, String> {
    let results: Vec<Value> = (0..runs).map(|_| child(args)).collect::<Result<_, _>>()?;
    Ok(median_fields(&results))
}

/// The median of each numeric field (and of each numeric field one level
/// down) over several results of one measurement.
pub(crate) fn median_fields(results: &[Value]) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(first) = results.first().and_then(Value::as_object) {
        for (key, value) in first {
            if value.is_number() {
                let xs: Vec<f64> = results.iter().filter_map(|r| r[key].as_f64()).collect();
                out.insert(key.clone(), serde_json::json!(median(xs)));
            } else if value.is_object() {
                let mut inner = serde_json::Map::new();
                for sub in value.as_object().into_iter().flat_map(|o| o.keys()) {
                    let xs: Vec<f64> = results
                        .iter()
                        .filter_map(|r| r[key][sub].as_f64())
                        .collect();
                    inner.insert(sub.clone(), serde_json::json!(median(xs)));
                }
                out.insert(key.clone(), Value::Object(inner));
            }
        }
    }
    Value::Object(out)
}

pub(crate) fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(f64::NAN)
}

pub(crate) fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cores} cores ({cpu}), {mem_gib:.0} GiB memory")
}

#[allow(clippy::disallowed_methods)] // the report's date
pub(crate) fn today() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%d %H:%M UTC")
        .to_string()
}

pub(crate) fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// Which benchmarks `all` runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts {
    /// The catalog sync into SQLite, the client overhead, the simulator's
    /// throughput and the domain micro-benchmarks.
    pub(crate) core: bool,
    /// The PostgreSQL benchmarks.
    pub(crate) postgres: bool,
    /// `agora watch`: idle resources and event latency, over `idle_secs`
    /// (default 60, 10 in quick mode).
    pub(crate) watch: bool,
    /// The idle window of the watch benchmark, in seconds.
    pub(crate) idle_secs: Option<u64>,
}

const CORE_HEADING: &str = "## Latest run";
const POSTGRES_HEADING: &str = "## Latest run on PostgreSQL";
const WATCH_HEADING: &str = "## Latest run of agora watch";

/// The section under `heading` in an earlier `docs/benchmarks.md`, up to
/// the next heading of its level.
fn earlier_section<'a>(existing: &'a str, heading: &str) -> Option<&'a str> {
    let heading = format!("{heading}\n");
    let start = existing.find(&heading)?;
    let rest = &existing[start..];
    let end = rest[heading.len()..]
        .find("\n## ")
        .map_or(rest.len(), |i| heading.len() + i + 1);
    Some(rest[..end].trim_end())
}

/// Runs the benchmarks of `parts`, prints their tables and, with `out`,
/// writes them to that file (keeping the sections not measured and the
/// Notes).
pub(crate) async fn all(quick: bool, out: Option<&str>, parts: Parts) -> Result<(), String> {
    let core = if parts.core {
        Some(core(quick).await?)
    } else {
        None
    };
    let postgres = if parts.postgres {
        Some(crate::pg::all(quick).await?)
    } else {
        None
    };
    let watch = if parts.watch {
        Some(crate::watch::all(quick, parts.idle_secs).await?)
    } else {
        None
    };
    let mut sections = Vec::new();
    let existing = out
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default();
    let mut all_met = true;
    for (heading, measured) in [
        (CORE_HEADING, &core),
        (POSTGRES_HEADING, &postgres),
        (WATCH_HEADING, &watch),
    ] {
        match measured {
            Some((md, met)) => {
                #[allow(clippy::print_stdout)]
                {
                    println!("{heading}\n\n{md}");
                }
                all_met &= met;
                sections.push(format!("{heading}\n\n{}", md.trim_end()));
            }
            None => sections.extend(earlier_section(&existing, heading).map(str::to_owned)),
        }
    }
    if let Some(path) = out {
        let notes = existing
            .split_once("## Notes")
            .map(|(_, n)| format!("## Notes{n}"))
            .unwrap_or_default();
        let doc = format!(
            "# Benchmarks\n\nWritten by `cargo xtask bench` (do not edit above the Notes): every figure is measured in one run, targets are ratios between figures of the same run. `cargo xtask bench --postgres` runs only the PostgreSQL benchmarks, `--watch` only those of `agora watch` (`--idle-secs N` for its idle window), and `--no-postgres` all but the PostgreSQL ones; each rewrites only its own section.\n\n{}\n\n{notes}",
            sections.join("\n\n")
        );
        std::fs::write(path, doc).map_err(|e| format!("cannot write {path}: {e}"))?;
        eprintln!("written to {path}");
    }
    if !all_met && !quick {
        eprintln!("agora-bench: some targets were missed (see the tables)");
    }
    Ok(())
}

/// The catalog sync into SQLite, the client overhead, the simulator's
/// throughput, the domain micro-benchmarks: their section, and whether
/// every target was met.
async fn core(quick: bool) -> Result<(String, bool), String> {
    let (big, small, runs, calls) = if quick {
        (100_000u64, 10_000u64, 1, 2_000u64)
    } else {
        (1_000_000, 100_000, 3, 20_000)
    };
    let sync_rounds = runs + 2 * usize::from(!quick);
    let started = std::time::Instant::now();
    let mut sizes = Vec::new();
    let mut sync_ratios = Vec::new();
    for size in [small, big] {
        eprintln!("catalog of {size} spare parts…");
        let s = server(size)?;
        let n = size.to_string();
        let (sync, parse, store) = if size == big {
            // Sync, P and W run side by side in each round, and the target's
            // ratio is the median of the rounds' ratios: the machine's drift
            // between rounds cancels out. The order flips every round, and
            // the ratio sits near its target on a noisy machine: more rounds.
            let (mut syncs, mut parses, mut stores) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..sync_rounds {
                let flip = round % 2 == 1;
                let (a, b) = if flip {
                    ("store", "sync")
                } else {
                    ("sync", "store")
                };
                let first = child(&[a, &s.url, &n])?;
                let parse = child(&["parse", &s.url, &n])?;
                let last = child(&[b, &s.url, &n])?;
                let (sync, store) = if flip { (last, first) } else { (first, last) };
                sync_ratios.push(f(&sync, "secs") / (f(&parse, "secs") + f(&store, "secs")));
                syncs.push(sync);
                parses.push(parse);
                stores.push(store);
            }
            (
                median_fields(&syncs),
                Some(median_fields(&parses)),
                Some(median_fields(&stores)),
            )
        } else {
            (medians(&["sync", &s.url, &n], runs)?, None, None)
        };
        let naive = medians(&["naive", &s.url, &n], runs)?;
        sizes.push((size, sync, naive, parse, store));
    }
    eprintln!("client overhead and simulator throughput…");
    let s = server(10)?;
    let calls_s = calls.to_string();
    // The ratio sits near its target and an A/A run spreads ±4%: more runs.
    let overhead_runs = sync_rounds;
    let overhead = medians(&["overhead", &s.url, &calls_s, "32"], overhead_runs)?;
    let load = medians(&["load", &s.url, &calls_s, "32"], runs)?;
    drop(s);
    eprintln!("domain micro-benchmarks…");
    // criterion keeps its estimates in a directory of this run's own.
    let criterion_home = std::env::temp_dir().join(format!("agora-bench-{}", std::process::id()));
    let micro = child_with(
        if quick {
            &["micro", "--quick"]
        } else {
            &["micro"]
        },
        &[("CRITERION_HOME", &criterion_home)],
    );
    let _ = std::fs::remove_dir_all(&criterion_home);
    let micro = micro?;
    let burst_n: u64 = if quick { 1_000 } else { 10_000 };
    eprintln!("webhook burst of {burst_n} events…");
    let hooks = child(&["webhooks", &burst_n.to_string()])?;

    let (_, sync_small, naive_small, _, _) = &sizes[0];
    let (_, sync_big, naive_big, parse, store) = &sizes[1];
    let p = parse.as_ref().map_or(f64::NAN, |v| f(v, "secs"));
    let w = store.as_ref().map_or(f64::NAN, |v| f(v, "secs"));
    let sync_secs = f(sync_big, "secs");
    let rss_big = f(sync_big, "rss_kb") / 1024.0;
    let rss_small = f(sync_small, "rss_kb") / 1024.0;
    let naive_rss_big = f(naive_big, "rss_kb") / 1024.0;
    let naive_rss_small = f(naive_small, "rss_kb") / 1024.0;
    let bare = f(&overhead, "bare_rps");
    let agora = f(&overhead, "agora_rps");
    let ratio = f(&overhead, "ratio");
    let static_rps = load["static"]["rps"].as_f64().unwrap_or(f64::NAN);
    let mandates_rps = load["GetNewMandates"]["rps"].as_f64().unwrap_or(f64::NAN);
    let update_rps = load["UpdateRepair"]["rps"].as_f64().unwrap_or(f64::NAN);

    let sync_ratio = median(sync_ratios);
    let t1 = sync_ratio <= 1.0;
    let t2 = rss_big <= 100.0;
    let t3 = rss_big <= rss_small * 1.2;
    let t4 = ratio >= 0.9;
    let t5 = mandates_rps >= 0.5 * static_rps && update_rps >= 0.5 * static_rps;
    let t6 = f(&hooks, "delivered") >= burst_n as f64 && f(&hooks, "bad_signatures") == 0.0;

    let mut md = String::new();
    md.push_str(&format!(
        "Run: {} on {}; {} run(s) per figure (median); total {:.0} s{}.\n\n",
        today(),
        machine(),
        runs,
        started.elapsed().as_secs_f64(),
        if quick {
            "; QUICK mode (small sizes, not the targets' sizes)"
        } else {
            ""
        }
    ));
    md.push_str(&format!("### 1. Catalog sync (agora-sim → agora-http → agora-app → SQLite; {sync_rounds} rounds of sync, P and W at {big} parts, the order flipped every round)\n\n"));
    md.push_str("| figure | value |\n|---|---|\n");
    md.push_str(&format!(
        "| sync of {big} parts, wall time | {sync_secs:.2} s ({:.0} records/s) |\n",
        big as f64 / sync_secs
    ));
    md.push_str(&format!(
        "| P: parse-only (typed decode of the whole body in memory) | {p:.2} s |\n"
    ));
    let batch = agora_http::DEFAULT_DELTA_BATCH;
    md.push_str(&format!(
        "| W: store-only (upsert of decoded records, batches of {batch}) | {w:.2} s |\n"
    ));
    md.push_str(&format!(
        "| naive (whole body, whole decode, then insert) | {:.2} s |\n",
        f(naive_big, "secs")
    ));
    md.push_str(&format!(
        "| sync / (P + W) (median of the rounds' ratios) | {sync_ratio:.2} (target ≤ 1.0: {}) |\n",
        verdict(t1)
    ));
    md.push_str(&format!("| client peak RSS, sync of {small} → {big} | {rss_small:.1} MB → {rss_big:.1} MB (target ≤ 100 MB: {}; flat within 20%: {}) |\n", verdict(t2), verdict(t3)));
    md.push_str(&format!("| naive peak RSS, {small} → {big} | {naive_rss_small:.1} MB → {naive_rss_big:.1} MB (×{:.1}) |\n\n", naive_rss_big / naive_rss_small));
    md.push_str(&format!("### 2. Client overhead ({calls} UpdateRepair calls a round, 3 rounds a run, {overhead_runs} runs, concurrency 32)\n\nThe two alternate in segments of {} calls, the order flipped every pair.\n\n| figure | value |\n|---|---|\n", calls / 10));
    md.push_str(&format!(
        "| bare reqwest, the same request (body and headers) | {bare:.0} req/s |\n| agora-http | {agora:.0} req/s |\n"
    ));
    md.push_str(&format!(
        "| agora-http / bare (median of adjacent segments' ratios; median of the runs) | {ratio:.2} (target ≥ 0.9: {}) |\n\n",
        verdict(t4)
    ));
    md.push_str(&format!("### 3. Simulator throughput ({calls} requests per route, concurrency 32, load from a separate process)\n\n| route | req/s | p50 | p99 | vs static |\n|---|---|---|---|---|\n"));
    for name in ["static", "GetNewMandates", "UpdateRepair"] {
        let r = &load[name];
        md.push_str(&format!(
            "| {name} | {:.0} | {:.2} ms | {:.2} ms | {:.2} |\n",
            r["rps"].as_f64().unwrap_or(f64::NAN),
            r["p50_ms"].as_f64().unwrap_or(f64::NAN),
            r["p99_ms"].as_f64().unwrap_or(f64::NAN),
            r["rps"].as_f64().unwrap_or(f64::NAN) / static_rps
        ));
    }
    md.push_str(&format!(
        "\nTarget ≥ 0.5 × static for both AgoraPlus routes: {}.\n\n",
        verdict(t5)
    ));
    md.push_str("### 4. Domain micro-benchmarks (criterion, median time per iteration)\n\n| figure | value |\n|---|---|\n");
    md.push_str(&format!(
        "| claim rule evaluation (DeLonghi default set, French) | {:.0} claims/s |\n",
        f(&micro, "claim_checks_per_s")
    ));
    md.push_str(&format!(
        "| status-code parsing | {:.0} codes/s |\n",
        f(&micro, "status_codes_per_s")
    ));
    md.push_str(&format!(
        "| envelope decoding (10,000 spare parts) | {:.0} MB/s |\n",
        f(&micro, "envelope_mb_per_s")
    ));

    md.push_str(&format!(
        "\n### 5. Webhook burst ({burst_n} events recorded in SQLite, 5 per repair file, delivered by the worker's webhook loop over HTTP to a receiver on 127.0.0.1 in the same process, which checks every signature)\n\n| figure | value |\n|---|---|\n"
    ));
    md.push_str(&format!(
        "| delivered, deduplicated by id | {:.0} of {:.0} (target: all: {}) |\n",
        f(&hooks, "delivered"),
        f(&hooks, "events"),
        verdict(t6)
    ));
    md.push_str(&format!(
        "| duplicates, signatures refused, retries | {:.0}, {:.0}, {:.0} |\n",
        f(&hooks, "duplicates"),
        f(&hooks, "bad_signatures"),
        f(&hooks, "retried")
    ));
    md.push_str(&format!(
        "| throughput | {:.0} events/s ({:.2} s in all) |\n",
        f(&hooks, "events_per_s"),
        f(&hooks, "secs")
    ));

    Ok((md, t1 && t2 && t3 && t4 && t5 && t6))
}
