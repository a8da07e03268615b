//! `agora sim` stops cleanly on SIGINT and SIGTERM, even one sent as soon
//! as it printed its URL (as the `agora-sim` binary does).
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::process::Command;

mod support;
use support::{served, stop};

fn run_and_stop(signal: &str) {
    let (mut child, _) = served(Command::new(env!("CARGO_BIN_EXE_agora")).args([
        "sim",
        "--listen",
        "127.0.0.1:0",
        "--tenant",
        "k1",
    ]));
    // `wait` returns when the process has ended, whatever the time.
    let status = stop(&mut child, signal);
    assert!(status.success(), "{signal}: {status:?}");
}

#[test]
fn agora_sim_stops_on_sigint() {
    run_and_stop("-INT");
}

#[test]
fn agora_sim_stops_on_sigterm() {
    run_and_stop("-TERM");
}

/// `agora sim` takes the `agora-sim` binary's flags and exit codes: a
/// configuration file, 2 when it is unusable, 3 when the address is taken.
#[test]
fn agora_sim_shares_the_simulator_binarys_flags_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"tenants": 7}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["sim", "--listen", "127.0.0.1:0", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tenants"),
        "{out:?}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["sim", "--listen", &address])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}
