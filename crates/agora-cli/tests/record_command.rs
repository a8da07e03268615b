//! `agora record` and `agora sim --replay` from the command line: a work
//! order sync recorded through the proxy (the simulator upstream) and
//! replayed to a fresh store gives the same result; the files hold no
//! key and no consumer name; a bad upstream is a usage error.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::path::Path;
use std::process::{Child, Command};

use agora_domain::MandateLightResponse;
use agora_mock::{SimConfig, Simulator};
use agora_sim::SimServer;
use serde_json::{Value, json};

mod support;
use support::{served, stop};

const KEY: &str = "record-cli-key-0001";

/// Starts `agora ARGS DIR` (a server) and reads the URL it prints first.
fn start(args: &[&str], dir: &Path) -> (Child, String) {
    served(
        Command::new(env!("CARGO_BIN_EXE_agora"))
            .args(args)
            .arg(dir)
            .env_remove("AGORA_CONFIG"),
    )
}

/// `agora --json work-orders sync` against `url` with a store at `db`.
fn sync(url: &str, db: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["--json", "work-orders", "sync"])
        .env("AGORA_BASE_URL", url)
        .env("AGORA_API_KEY", KEY)
        .env("AGORA_DB", db)
        .env_remove("AGORA_CONFIG")
        .env_remove("AGORA_ENV")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_recorded_by_agora_record_replays_alike() {
    let config = SimConfig {
        tenants: vec![KEY.into()],
        ..SimConfig::default()
    };
    let sim = SimServer::start(Simulator::new(config), ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let order: MandateLightResponse = serde_json::from_value(json!({
        "ManufacturerId": 19, "OEMId": 19, "InterventionTypeId": 1,
        "Consumer": {"LastName": "Durand", "FirstName": "Paul", "Phone": "0478123456"}
    }))
    .unwrap();
    sim.simulator().publish_mandate(KEY, order).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let recordings = dir.path().join("recordings");

    let upstream = sim.url();
    let (mut recorder, url) = tokio::task::spawn_blocking({
        let recordings = recordings.clone();
        move || {
            start(
                &[
                    "record",
                    "--upstream",
                    &upstream,
                    "--listen",
                    "127.0.0.1:0",
                    "--out",
                ],
                &recordings,
            )
        }
    })
    .await
    .unwrap();
    let db = dir.path().join("recorded.db");
    let recorded = tokio::task::spawn_blocking(move || sync(&url, &db))
        .await
        .unwrap();
    assert!(stop(&mut recorder, "-TERM").success());
    assert_eq!(recorded["accepted"].as_array().unwrap().len(), 1);

    let mut names = Vec::new();
    for entry in std::fs::read_dir(&recordings).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in [KEY, "Durand", "Paul", "0478123456"] {
            assert!(!text.contains(secret), "{} holds {secret}", path.display());
        }
        names.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    names.sort();
    assert_eq!(
        names,
        [
            "001-GetNewMandates-200.json",
            "002-GetAcceptedMandates-200.json"
        ]
    );
    sim.shutdown().await.unwrap();

    let (mut replay, url) = tokio::task::spawn_blocking({
        let recordings = recordings.clone();
        move || start(&["sim", "--listen", "127.0.0.1:0", "--replay"], &recordings)
    })
    .await
    .unwrap();
    let db = dir.path().join("replayed.db");
    let replayed = tokio::task::spawn_blocking(move || sync(&url, &db))
        .await
        .unwrap();
    assert!(stop(&mut replay, "-TERM").success());
    assert_eq!(replayed, recorded);
}

#[test]
fn a_bad_upstream_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args([
            "record",
            "--upstream",
            "ftp://example.invalid",
            "--listen",
            "127.0.0.1:0",
            "--out",
        ])
        .arg(dir.path())
        .env_remove("AGORA_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ftp://example.invalid"),
        "{out:?}"
    );
}
