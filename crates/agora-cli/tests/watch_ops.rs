//! `agora watch --metrics ADDR` and `--log-format json`, from outside, as
//! an operator sees them: `/healthz` 200 while AgoraPlus (a simulator)
//! answers and 503 naming the failing loop once it is stopped; `/metrics`
//! in the Prometheus text format with its families and labels; logs as
//! one JSON object per line, the api_key masked.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agora_domain::redact::contains_key;

mod support;
use support::{get, served, stop};

/// Waits for `what` to hold of a GET of `path`, for at most a minute (a
/// condition polled, not a sleep whose length is the test).
fn until(addr: &str, path: &str, what: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _, body) = get(addr, path);
        if what(status, &body) {
            return (status, body);
        }
        assert!(
            Instant::now() < deadline,
            "{path} never matched: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `agora sim` on a free port, with account `key`: the child and its URL.
fn simulator(key: &str) -> (Child, String) {
    served(Command::new(env!("CARGO_BIN_EXE_agora")).args([
        "sim",
        "--listen",
        "127.0.0.1:0",
        "--tenant",
        key,
    ]))
}

#[test]
fn healthz_turns_503_naming_the_loop_when_the_simulator_stops_and_metrics_parse() {
    let key = "watch-metrics-key-0001";
    let (mut sim, url) = simulator(key);
    let dir = tempfile::tempdir().unwrap();
    let mut watch = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args([
            "watch",
            "--metrics",
            "127.0.0.1:0",
            "--work-orders-every",
            "1s",
        ])
        .env("AGORA_BASE_URL", &url)
        .env("AGORA_API_KEY", key)
        .env("AGORA_DB", dir.path().join("agora.db"))
        .env("AGORA_RETRY_ATTEMPTS", "1")
        .env_remove("AGORA_CONFIG")
        .env_remove("AGORA_ENV")
        .env_remove("AGORA_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(watch.stderr.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no address said");
        if let Some(rest) = line.trim().strip_prefix("health on http://") {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    // Drain the rest of stderr so that the worker never blocks on it.
    let rest = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });

    // Healthy once each loop ran against the live simulator.
    let (_, body) = until(&addr, "/healthz", |status, body| {
        status == 200 && body.contains("\"last_success\":\"")
    });
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["healthy"], true, "{body}");

    let (status, content_type, text) = get(&addr, "/metrics");
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    for family in [
        "agora_calls_total counter",
        "agora_call_retries_total counter",
        "agora_outbox_entries gauge",
        "agora_loop_last_success_age_seconds gauge",
        "agora_loop_healthy gauge",
        "agora_webhook_events_pending gauge",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family}\n")),
            "{family}\n{text}"
        );
    }
    for sample in [
        "agora_calls_total{route=\"GetNewMandates\",outcome=\"ok\"} ",
        "agora_outbox_entries{state=\"pending\"} 0",
        "agora_loop_healthy{loop=\"work-orders\"} 1",
        "agora_loop_last_success_age_seconds{loop=\"outbox\"} ",
    ] {
        assert!(text.contains(sample), "{sample}\n{text}");
    }
    // Every sample line is `name{labels} number`.
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = l.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{l}");
    }

    // The simulator stops: the next pull fails, and the health says which
    // loop, since when it last succeeded, and why.
    assert!(stop(&mut sim, "-TERM").success());
    let (status, body) = until(&addr, "/healthz", |status, _| status == 503);
    assert_eq!(status, 503);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["healthy"], false);
    let bad: Vec<&serde_json::Value> = health["loops"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["healthy"] == false)
        .collect();
    assert_eq!(bad[0]["loop"], "work-orders", "{body}");
    assert!(bad[0]["last_success"].is_string(), "{body}");
    assert!(
        bad[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot reach AgoraPlus"),
        "{body}"
    );
    let (_, _, text) = get(&addr, "/metrics");
    assert!(
        text.contains("agora_calls_total{route=\"GetNewMandates\",outcome=\"transport\"} "),
        "{text}"
    );
    assert!(
        text.contains("agora_loop_healthy{loop=\"work-orders\"} 0"),
        "{text}"
    );
    assert!(!contains_key(&body, key) && !contains_key(&text, key));

    assert!(stop(&mut watch, "-TERM").success(), "stops cleanly");
    let said = rest.join().unwrap();
    assert!(said.contains("stopping"), "{said}");
}

#[test]
fn json_logs_are_one_object_per_line_with_the_key_masked() {
    // A base URL that holds the key and where nothing listens: the
    // client's debug log of the failed call names the URL, so the key
    // reaches the log writer, which must take it out.
    let key = "json-logs-key-0123456789";
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["work-orders", "sync"])
        .env("AGORA_LOG_FORMAT", "json")
        .env("AGORA_LOG", "debug")
        .env("AGORA_BASE_URL", format!("http://127.0.0.1:{port}/{key}/"))
        .env("AGORA_API_KEY", key)
        .env("AGORA_DB", dir.path().join("agora.db"))
        .env("AGORA_RETRY_ATTEMPTS", "1")
        .env_remove("AGORA_CONFIG")
        .env_remove("AGORA_ENV")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!contains_key(&stderr, key), "{stderr}");
    let logs: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!logs.is_empty(), "{stderr}");
    for log in &logs {
        assert!(
            log["timestamp"].is_string() && log["level"].is_string(),
            "{log}"
        );
        assert!(log["fields"].is_object(), "{log}");
    }
    assert!(
        logs.iter().any(|l| l["fields"]["message"] == "call failed"
            && l["fields"]["error"]
                .as_str()
                .unwrap_or_default()
                .contains("[REDACTED]")),
        "the key reached the logs and was masked there: {stderr}"
    );
    // The lines that are not JSON are the command's own message (the
    // error), not logs in the text format.
    for l in stderr.lines().filter(|l| !l.starts_with('{')) {
        assert!(
            !l.contains(" DEBUG ") && !l.contains(" INFO ") && !l.contains(" WARN "),
            "{l}"
        );
    }
}
