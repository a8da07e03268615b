//! The conventions of the `agora` command line shared by every command:
//! with `--json`, errors are one JSON object on stderr (code, message,
//! hint, exit code), whatever their kind (refused, configuration, local
//! store, usage); an output whose reader has gone ends quietly.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use agora_mock::{SimConfig, Simulator};
use agora_sim::SimServer;
use serde_json::Value;

const KEY: &str = "conventions-key-123";

/// `agora ARGS` with the given store, against `url`, with no other
/// `AGORA_` variable of the test run's environment.
fn agora(url: &str, db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_agora"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AGORA_") {
            c.env_remove(name);
        }
    }
    c.args(args)
        .env("AGORA_BASE_URL", url)
        .env("AGORA_API_KEY", KEY)
        .env("AGORA_DB", db);
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The one JSON error of a failed run: stderr is exactly one line, a JSON
/// object whose `exit_code` is the process's; returns it.
fn json_error(o: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", text(o));
    let error: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        error["exit_code"].as_i64(),
        o.status.code().map(i64::from),
        "{error}"
    );
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    error
}

async fn run(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_json_errors_are_one_json_object_on_stderr() {
    let config = SimConfig {
        tenants: vec![KEY.into()],
        catalog_size: 10,
        ..SimConfig::default()
    };
    let server = SimServer::start(Simulator::new(config), ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agora.db");

    // Refused locally: no such repair file.
    let out = run(agora(
        &url,
        &db,
        &["--json", "status", "report", "12345", "406"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let error = json_error(&out);
    assert_eq!(error["code"], "missing", "{error}");
    assert!(error["hint"].as_str().is_some(), "{error}");

    // Configuration: no api_key.
    let mut c = agora(&url, &db, &["--json", "work-orders", "sync"]);
    c.env_remove("AGORA_API_KEY");
    let out = run(c).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let error = json_error(&out);
    assert_eq!(error["code"], "config", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("AGORA_API_KEY"),
        "{error}"
    );

    // Authentication: a key AgoraPlus does not know.
    let mut c = agora(&url, &db, &["--json", "work-orders", "sync"]);
    c.env("AGORA_API_KEY", "wrong-key-abcdef-XY");
    let out = run(c).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(json_error(&out)["code"], "unauthorized");

    // The local store cannot be opened.
    let missing = dir.path().join("no-such-dir").join("agora.db");
    let out = run(agora(&url, &missing, &["--json", "repairs", "list"])).await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert_eq!(json_error(&out)["code"], "store");

    // Usage: clap's message, exit 2.
    let out = run(agora(&url, &db, &["--json", "nonsense"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let error = json_error(&out);
    assert_eq!(error["code"], "usage", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("nonsense"),
        "{error}"
    );
    let out = run(agora(&url, &db, &["--json", "parts", "order", "x"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(json_error(&out)["code"], "usage");

    // Without --json, the same errors are text.
    let out = run(agora(&url, &missing, &["repairs", "list"])).await;
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: local store") && stderr.contains("\nhint: "),
        "{stderr}"
    );
    let out = run(agora(&url, &db, &["nonsense"])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: unrecognized subcommand"));
}

/// Repair files planted straight into a SQLite store.
async fn plant_repairs(db: &Path, count: i64) {
    use agora_ports::{LocalRepair, RepairFiles};
    let store = agora_store_sqlite::SqliteStore::open(db).unwrap();
    for id in 0..count {
        let repair = LocalRepair {
            intervention_id: 700_000 + id,
            mandate_id: Some(800_000 + id),
            file: agora_domain::CompleteRepairState::default(),
            lifecycle: agora_domain::lifecycle::RepairLifecycle::from_work_order(
                Some(agora_domain::ManufacturerId(19)),
                Some(agora_domain::InterventionTypeId(1)),
            ),
            claim_id: None,
            orders: Vec::new(),
            attention: Some("planted by the test of a closed pipe".to_owned()),
            revision: 0,
        };
        store.upsert_repair(&repair).await.unwrap();
    }
}

/// `agora --json repairs list` (and its table) on a store whose listing
/// outgrows a pipe's buffer (64 KiB), read only in part, then the pipe
/// closed: the run ends with its normal code, no panic, nothing said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pipe_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agora.db");
    plant_repairs(&db, 1500).await;
    for args in [&["--json", "repairs", "list"][..], &["repairs", "list"]] {
        // The whole output, to know it is larger than the pipe's buffer.
        let full = run(agora("http://127.0.0.1:9", &db, args)).await;
        assert!(full.status.success(), "{}", text(&full));
        assert!(full.stdout.len() > 128 * 1024, "{}", full.stdout.len());

        let mut c = agora("http://127.0.0.1:9", &db, args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = tokio::task::spawn_blocking(move || {
            let mut child = c.spawn().unwrap();
            let mut start = [0u8; 4096];
            child.stdout.take().unwrap().read_exact(&mut start).unwrap();
            // The read end is dropped here: the rest meets a closed pipe.
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}
