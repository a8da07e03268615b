//! Several `agora` processes on one store: a command started while another
//! is sending never calls that live send interrupted, never requeues it,
//! and never sends it a second time.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use agora_mock::{Faults, SimConfig, Simulator};
use agora_sim::SimServer;
use serde_json::json;

const KEY: &str = "concurrent-test-key";

fn agora(server: &SimServer, db: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_agora"));
    c.args(args)
        .env("AGORA_BASE_URL", server.url())
        .env("AGORA_API_KEY", KEY)
        .env("AGORA_DB", db)
        .env_remove("AGORA_CONFIG")
        .env_remove("AGORA_ENV")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The state of outbox entry `id`, read from the store file directly.
fn entry_state(db: &std::path::Path, id: i64) -> Option<String> {
    let conn = rusqlite::Connection::open(db).ok()?;
    conn.query_row("SELECT state FROM outbox WHERE id = ?1", [id], |r| r.get(0))
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_started_during_another_ones_send_raises_no_false_doubt() {
    let config = SimConfig {
        tenants: vec![KEY.into()],
        seed: 3,
        catalog_size: 10,
        ..SimConfig::default()
    };
    let server = SimServer::start(Simulator::new(config), ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let dir = tempfile::Builder::new()
        .prefix("agora-concurrent-")
        .tempdir()
        .unwrap();
    let db = dir.path().join("agora.db");

    let mandate = serde_json::from_value(json!({
        "ManufacturerId": 19, "InterventionTypeId": 1,
        "Consumer": {"Title": "3", "LastName": "Durand", "FirstName": "Paul", "Address1": "3 place Bellecour"}
    }))
    .unwrap();
    server.simulator().publish_mandate(KEY, mandate).unwrap();
    let sync = agora(&server, &db, &["--json", "work-orders", "sync"])
        .output()
        .unwrap();
    assert!(sync.status.success(), "{}", text(&sync));
    let id = serde_json::from_slice::<serde_json::Value>(&sync.stdout).unwrap()["accepted"][0]
        .as_i64()
        .unwrap()
        .to_string();

    // A slow AgoraPlus: the first command's send lasts seconds.
    server
        .simulator()
        .set_faults(
            KEY,
            Faults {
                delay_ms: 4_000,
                ..Faults::default()
            },
        )
        .unwrap();
    let first = agora(&server, &db, &["status", "report", &id, "406"])
        .spawn()
        .unwrap();
    // Wait until its entry (the first of the store) is being sent.
    let started = std::time::Instant::now();
    while entry_state(&db, 1).as_deref() != Some("sending") {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first command never started sending"
        );
        // A poll interval, not a decision: the state read decides.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Two other commands meanwhile: one that only reads, one that flushes.
    let list = agora(&server, &db, &["repairs", "list"]).output().unwrap();
    let flush = agora(&server, &db, &["--json", "outbox", "flush"])
        .output()
        .unwrap();
    assert_eq!(
        entry_state(&db, 1).as_deref(),
        Some("sending"),
        "the live send was taken from its process"
    );
    let first = first.wait_with_output().unwrap();
    for (name, out) in [("repairs list", &list), ("outbox flush", &flush)] {
        assert!(out.status.success(), "{name}: {}", text(out));
        assert!(
            !text(out).contains("interrupted") && !text(out).contains("in doubt"),
            "{name} raised a false doubt: {}",
            text(out)
        );
    }
    let flushed: serde_json::Value = serde_json::from_slice(&flush.stdout).unwrap();
    assert_eq!(flushed["delivered"], 0, "the held entry was sent twice");
    assert!(first.status.success(), "{}", text(&first));
    assert_eq!(entry_state(&db, 1).as_deref(), Some("delivered"));
    let state = server.simulator().state(KEY).unwrap();
    let natures = state["Repairs"][0]["File"]["StateNatures"]
        .as_array()
        .unwrap();
    assert_eq!(
        natures.iter().filter(|s| s["Code"] == "406").count(),
        1,
        "{natures:?}"
    );
}
