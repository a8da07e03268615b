//! The resource ceilings and the event latency of `agora watch`, measured
//! on the real `agora` binary (built next to this harness: `cargo xtask
//! bench` builds both) against the simulator serving from a child process:
//!
//! - idle: `agora watch` with nothing to do for `idle` seconds (default
//!   60; `--idle-secs N`, 10 in quick mode): its peak RSS (`VmHWM`) and the
//!   CPU it used over the window (`utime + stime` from `/proc/PID/stat`),
//!   as a share of one core;
//! - latency: a work order published in the simulator (`POST
//!   /_sim/mandates`) until its `work_order.received` line is printed by
//!   `agora events --follow --json`, with the worker pulling every second;
//!   the target is the pull interval plus one second;
//! - the webhook burst ([`crate::hooks::burst`]): 10,000 events (2,000 in
//!   quick mode) delivered to a receiver in this process; the target is
//!   every one of them, none lost, every signature good.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::measure::{KEY, http};
use crate::report::{median, server, today, verdict};

/// The `agora` binary: `AGORA_BENCH_AGORA`, else next to this harness.
fn agora_exe() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("AGORA_BENCH_AGORA") {
        return Ok(PathBuf::from(path));
    }
    let exe = crate::report::exe()?.with_file_name("agora");
    if exe.exists() {
        Ok(exe)
    } else {
        Err(format!(
            "{} not found: build it (`cargo build --release -p agora-cli`) or set AGORA_BENCH_AGORA",
            exe.display()
        ))
    }
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `agora ARGS` against the simulator at `url`, on the store `db`.
fn agora(url: &str, db: &Path, args: &[&str], stderr: Stdio) -> Result<Killed, String> {
    Command::new(agora_exe()?)
        .args(args)
        .env("AGORA_BASE_URL", url)
        .env("AGORA_API_KEY", KEY)
        .env("AGORA_DB", db)
        .env_remove("AGORA_CONFIG")
        .env_remove("AGORA_ENV")
        .env_remove("AGORA_LOG")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map(Killed)
        .map_err(|e| e.to_string())
}

/// Clock ticks per second of `/proc/PID/stat`'s times (`getconf CLK_TCK`,
/// 100 on Linux when it cannot be asked).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The CPU time `pid` used so far (user + system), in ticks.
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // The fields after the command's name, which is in parentheses.
    let rest = stat.rsplit_once(')').ok_or("bad stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let utime: u64 = fields
        .get(11)
        .and_then(|v| v.parse().ok())
        .ok_or("no utime")?;
    let stime: u64 = fields
        .get(12)
        .and_then(|v| v.parse().ok())
        .ok_or("no stime")?;
    Ok(utime + stime)
}

/// `pid`'s peak resident set size, in kB.
fn peak_rss_kb(pid: u32) -> Result<u64, String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| e.to_string())?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM".to_owned())
}

/// A store of its own for one measurement.
fn temp_db(tag: &str) -> Result<(PathBuf, PathBuf), String> {
    let dir = std::env::temp_dir().join(format!("agora-bench-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok((dir.join("agora.db"), dir))
}

/// Waits for the worker's "watching" line on its stderr; the rest of it
/// is drained in a thread so that it never blocks.
fn wait_watching(child: &mut Child) -> Result<(), String> {
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut lines = BufReader::new(stderr);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("agora watch ended before watching".to_owned());
        }
        if line.starts_with("watching") {
            break;
        }
    }
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    Ok(())
}

/// Idle `agora watch` over `secs` seconds: peak RSS in MB, CPU in % of
/// one core.
fn idle(url: &str, secs: u64) -> Result<(f64, f64), String> {
    let (db, dir) = temp_db("watch-idle")?;
    let mut watch = agora(url, &db, &["watch"], Stdio::piped())?;
    wait_watching(&mut watch.0)?;
    let pid = watch.0.id();
    // Its first runs (each job runs at start) are over within a second.
    std::thread::sleep(Duration::from_secs(1));
    let (t0, c0) = (Instant::now(), cpu_ticks(pid)?);
    std::thread::sleep(Duration::from_secs(secs));
    let (elapsed, c1) = (t0.elapsed().as_secs_f64(), cpu_ticks(pid)?);
    let rss = peak_rss_kb(pid)? as f64 / 1024.0;
    drop(watch);
    let _ = std::fs::remove_dir_all(dir);
    let cpu = (c1 - c0) as f64 / clock_ticks() / elapsed * 100.0;
    Ok((rss, cpu))
}

/// Reads NDJSON lines until one of type `work_order.received`.
fn next_received(lines: &mut BufReader<ChildStdout>) -> Result<(), String> {
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("agora events ended".to_owned());
        }
        let v: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("{line:?}: {e}"))?;
        if v["type"] == "work_order.received" {
            return Ok(());
        }
    }
}

/// `samples` latencies, in seconds, from a work order published to its
/// event line, the worker pulling every `every`.
async fn latency(url: &str, every: Duration, samples: usize) -> Result<Vec<f64>, String> {
    let (db, dir) = temp_db("watch-latency")?;
    let every_arg = format!("{}ms", every.as_millis());
    let mut watch = agora(
        url,
        &db,
        &["watch", "--work-orders-every", &every_arg],
        Stdio::piped(),
    )?;
    wait_watching(&mut watch.0)?;
    let mut events = agora(
        url,
        &db,
        &["events", "--follow", "--json", "--poll", "100ms"],
        Stdio::null(),
    )?;
    let stdout = events.0.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel::<Result<Instant, String>>();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout);
        loop {
            let got = next_received(&mut lines).map(|()| Instant::now());
            let end = got.is_err();
            if tx.send(got).is_err() || end {
                return;
            }
        }
    });
    let http = http()?;
    let mut out = Vec::new();
    for i in 0..samples {
        // Published at a different point of the pull interval each time.
        let offset = every.mul_f64((i as f64 * 0.37).fract());
        tokio::time::sleep(offset).await;
        let sent = Instant::now();
        http.post(format!("{url}/_sim/mandates"))
            .header("content-type", "application/json")
            .header("api_key", KEY)
            .body(json!({"Mandate": {"ManufacturerId": 19, "InterventionTypeId": 1}}).to_string())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("publishing a work order: {e}"))?;
        let seen =
            tokio::task::block_in_place(|| rx.recv_timeout(every * 10 + Duration::from_secs(10)))
                .map_err(|_| "no event line in time".to_owned())??;
        out.push(seen.duration_since(sent).as_secs_f64());
    }
    drop(events);
    drop(watch);
    let _ = std::fs::remove_dir_all(dir);
    Ok(out)
}

/// The watch section, and whether its targets were met.
pub(crate) async fn all(quick: bool, idle_secs: Option<u64>) -> Result<(String, bool), String> {
    let started = Instant::now();
    let secs = idle_secs.unwrap_or(if quick { 10 } else { 60 });
    let samples = if quick { 5 } else { 20 };
    let every = Duration::from_secs(1);
    let s = server(10)?;
    eprintln!("agora watch idle for {secs} s…");
    let (rss, cpu) = idle(&s.url, secs)?;
    eprintln!("agora watch event latency ({samples} work orders)…");
    let lat = latency(&s.url, every, samples).await?;
    drop(s);
    let burst_events = if quick { 2_000 } else { 10_000 };
    eprintln!("webhook burst ({burst_events} events)…");
    let burst = crate::hooks::burst(burst_events).await?;
    let max = lat.iter().copied().fold(0.0, f64::max);
    let p50 = median(lat.clone());
    let bound = every.as_secs_f64() + 1.0;
    let t1 = rss <= 30.0;
    let t2 = cpu <= 1.0;
    let t3 = max <= bound;
    let mut md = String::new();
    md.push_str(&format!(
        "Run: {} on {}; total {:.0} s{}.\n\n",
        today(),
        crate::report::machine(),
        started.elapsed().as_secs_f64(),
        if quick {
            "; QUICK mode (shorter idle window, fewer samples)"
        } else {
            ""
        }
    ));
    md.push_str(&format!("### Idle (`agora watch` with default settings and nothing to do, against the simulator; {secs} s window after its first runs; read from /proc of the process)\n\n| figure | value |\n|---|---|\n"));
    md.push_str(&format!(
        "| peak RSS (VmHWM) | {rss:.1} MB (target ≤ 30 MB: {}) |\n",
        verdict(t1)
    ));
    md.push_str(&format!(
        "| CPU over the window (user + system) | {cpu:.3} % of one core (target ≤ 1 %: {}) |\n\n",
        verdict(t2)
    ));
    md.push_str(&format!("### Event latency (work order published in the simulator → its `work_order.received` line from `agora events --follow --json --poll 100ms`; `agora watch --work-orders-every 1s`; {samples} samples at different points of the interval)\n\n| figure | value |\n|---|---|\n"));
    md.push_str(&format!("| median | {p50:.2} s |\n"));
    md.push_str(&format!(
        "| max | {max:.2} s (target ≤ interval + 1 s = {bound:.0} s: {}) |\n",
        verdict(t3)
    ));
    md.push_str(&format!(
        "| max / (interval + 1 s) | {:.2} |\n",
        max / bound
    ));
    let figure = |k: &str| burst[k].as_f64().unwrap_or(f64::NAN);
    let t4 = burst["delivered"] == burst["events"] && figure("bad_signatures") == 0.0;
    md.push_str(&format!("\n### Webhook burst ({} events recorded in a SQLite store, 5 per repair file, then delivered by the worker's webhook loop and `agora-webhooks`'s HTTP sender to a receiver on 127.0.0.1 in the same process, which checks every signature)\n\n| figure | value |\n|---|---|\n", burst["events"]));
    md.push_str(&format!(
        "| delivered, once deduplicated by id | {} of {} (target: all, none lost: {}) |\n",
        burst["delivered"],
        burst["events"],
        verdict(t4)
    ));
    md.push_str(&format!(
        "| duplicates / signatures refused / retries | {} / {} / {} |\n",
        burst["duplicates"], burst["bad_signatures"], burst["retried"]
    ));
    md.push_str(&format!(
        "| time, the loop's start to the last new id | {:.2} s |\n| throughput | {:.0} events/s |\n",
        figure("secs"),
        figure("events_per_s")
    ));
    Ok((md, t1 && t2 && t3 && t4))
}
