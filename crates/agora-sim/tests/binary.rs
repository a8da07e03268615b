//! The `agora-sim` binary: prints the URL it serves once ready, answers,
//! and stops cleanly on SIGTERM and SIGINT.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn get(url: &str, path: &str, key: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut sock = TcpStream::connect(addr).unwrap();
    write!(
        sock,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\napi_key: {key}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    sock.read_to_string(&mut out).unwrap();
    out
}

fn run_and_stop(signal: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agora-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tenant",
            "k1",
            "--locked",
            "k2",
            "--seed",
            "5",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(get(&url, "/api/Repair/GetAcceptedMandates", "k1").starts_with("HTTP/1.1 200"));
    assert!(get(&url, "/api/Repair/GetAcceptedMandates", "k2").starts_with("HTTP/1.1 403"));
    assert!(get(&url, "/api/Repair/GetAcceptedMandates", "demo").starts_with("HTTP/1.1 401"));
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{signal}: {status:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "did not stop on {signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serves_then_stops_on_sigterm() {
    run_and_stop("-TERM");
}

#[test]
fn serves_then_stops_on_sigint() {
    run_and_stop("-INT");
}

#[test]
fn a_bad_configuration_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(&path, r#"{"seed": "seven"}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_agora-sim"))
        .args(["--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("configuration file") && err.contains("seed"),
        "{err}"
    );
}

#[test]
fn an_address_outside_loopback_needs_allow_remote_and_warns() {
    let out = Command::new(env!("CARGO_BIN_EXE_agora-sim"))
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a loopback address") && err.contains("--allow-remote"),
        "{err}"
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_agora-sim"))
        .args(["--listen", "0.0.0.0:0", "--allow-remote"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("http://0.0.0.0:"), "{line}");
    let mut warning = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut warning)
        .unwrap();
    assert!(
        warning.starts_with("warning: listening on 0.0.0.0:")
            && warning.contains("outside loopback"),
        "{warning}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn autopilot_from_the_flag_or_the_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.json");
    std::fs::write(
        &path,
        r#"{"tenants": ["k1"], "autopilot": {"work_orders_per_hour": 60, "accounts": ["k1"]}}"#,
    )
    .unwrap();
    for args in [
        vec!["--tenant", "k1", "--autopilot"],
        vec!["--config", path.to_str().unwrap()],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_agora-sim"))
            .args(["--listen", "127.0.0.1:0"])
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let got = get(line.trim(), "/_sim/autopilot", "k1");
        assert!(got.starts_with("HTTP/1.1 200"), "{args:?}: {got}");
        assert!(got.contains("\"Settings\""), "{args:?}: {got}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
    std::fs::write(&path, r#"{"autopilot": {"not_conform_rate": 2}}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_agora-sim"))
        .args(["--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not_conform_rate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
