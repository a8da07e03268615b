//! The `agora` binary against the simulator over loopback: every use case
//! from the command line, errors and exit codes, the demo, runs killed
//! with SIGKILL mid-sync that resume without loss or duplicates, and the
//! outbox settled by hand (an answer lost, a send cut by a crash and
//! recovered at the next start, refused entries).
//!
//! (These live in agora-cli's tests because cargo gives the path of a
//! binary only to its own package's tests.)
#![allow(clippy::unwrap_used)]

use agora_domain::{ClaimId, InterventionId};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use agora_domain::{ClaimStatus, MandateLightResponse, ManufacturerId};
use agora_mock::{Faults, SimConfig};
use serde_json::{Value, json};

mod support;
use support::{Env, text};

const KEY: &str = "cli-test-key-123";

/// A simulator with account `KEY` and `catalog_size` parts per OEM, and
/// a store beside it.
async fn new_env(name: &str, catalog_size: u64) -> Env {
    let config = SimConfig {
        tenants: vec![KEY.into()],
        seed: 8,
        catalog_size,
        ..SimConfig::default()
    };
    Env::start(name, config).await
}

fn mandate(oem: u32) -> MandateLightResponse {
    serde_json::from_value(json!({
        "ManufacturerId": oem, "InterventionTypeId": 1,
        "Consumer": {"Title": "3", "LastName": "Durand", "FirstName": "Paul", "Address1": "3 place Bellecour"}
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_use_case_from_the_command_line() {
    let env = new_env("all", 2000).await;
    let codes = env.json(&["ref", "status-codes"]).await;
    assert_eq!(codes.as_array().unwrap().len(), 47);
    assert_eq!(
        env.json(&["ref", "repair-types", "--oem", "2"])
            .await
            .as_array()
            .unwrap()
            .len(),
        7
    );

    env.sim().publish_mandate(KEY, mandate(1)).unwrap();
    let sync = env.json(&["work-orders", "sync"]).await;
    let id = sync["accepted"][0].as_i64().unwrap();
    assert_eq!(
        env.json(&["work-orders", "sync"]).await["accepted"],
        json!([])
    );
    let ids = id.to_string();
    let ids = ids.as_str();
    assert_eq!(
        env.json(&["repairs", "list"]).await[0]["InterventionId"],
        id
    );

    // A status missing what its code requires: refused locally, exit 1.
    let out = env.run(&["status", "report", ids, "102"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("AppointmentDate"), "{}", text(&out));
    let out = env
        .run(&[
            "status",
            "report",
            ids,
            "102",
            "--start",
            "2026-11-20T08:00:00Z",
            "--end",
            "2026-11-20T09:00:00Z",
        ])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("APPOINTMENT CONFIRMED"));
    // An unknown code is a usage error, said by clap.
    let out = env.run(&["status", "report", ids, "999"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("agora ref status-codes"),
        "{}",
        text(&out)
    );

    assert!(
        env.run(&["parts", "add", ids, "00001-00000009"])
            .await
            .status
            .success()
    );
    let lines = env.json(&["parts", "order", ids]).await;
    let order = lines[0]["OrderNumber"].as_str().unwrap().to_owned();
    env.sim().set_logistic(KEY, &order, "208").unwrap();
    let tracked = env.json(&["parts", "track", ids]).await;
    assert_eq!(tracked[0]["StatusCode"], "208");
    let part = format!("00001-00000009:{order}");
    assert!(
        env.run(&["status", "report", ids, "201", "--part", &part])
            .await
            .status
            .success()
    );
    assert!(
        env.run(&["status", "report", ids, "305"])
            .await
            .status
            .success()
    );

    // A claim from a file, with a mistake: AgoraPlus's message verbatim, exit 1.
    let claim = |serial: &str| {
        json!({
            "ClaimType": {"ManufacturerId": 1, "CommercialRef": "CR-1", "SerialNumber": serial},
            "ClaimConso": {"LastName": "Durand", "Address1": "3 place Bellecour", "Zip": "69002"},
            "ClaimInfos": {"CallDate": "2026-11-19T10:00:00Z"}
        })
    };
    let file = env.db.with_file_name("claim.json");
    std::fs::write(&file, claim("").to_string()).unwrap();
    let out = env
        .run(&[
            "--language",
            "1036",
            "claims",
            "submit",
            ids,
            "--file",
            file.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("Donnée obligatoire"), "{}", text(&out));
    std::fs::write(&file, claim("SN-0001").to_string()).unwrap();
    let result = env
        .json(&[
            "claims",
            "submit",
            ids,
            "--file",
            file.to_str().unwrap(),
            "--precheck",
        ])
        .await;
    assert_eq!(result["IsValid"], true, "{result}");
    let claim_id = result["ClaimID"].as_i64().unwrap();

    env.sim()
        .decide_claim(KEY, ClaimId(claim_id), ClaimStatus::ClosedAccepted, None)
        .unwrap();
    let updates = env.json(&["claims", "track"]).await;
    assert_eq!(updates[0]["LastStatus"], "CLOSEDACCEPTED");
    let (draft, _) = env.sim().draft_invoice(KEY, ManufacturerId(1)).unwrap();
    let c = claim_id.to_string();
    let out = env
        .run(&[
            "invoices",
            "register",
            "--draft",
            &draft,
            "--invoice",
            "F-9",
            "--claim",
            &c,
        ])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let out = env
        .run(&[
            "invoices",
            "register",
            "--draft",
            &draft,
            "--invoice",
            "F-9",
            "--claim",
            &c,
        ])
        .await;
    assert_eq!(out.status.code(), Some(1), "once: {}", text(&out));

    let sync = env.json(&["catalog", "sync", "--oem", "1"]).await;
    assert_eq!(sync["records"], 2000);
    assert_eq!(
        env.json(&["catalog", "sync", "--oem", "1", "--products"])
            .await["records"],
        200
    );
    assert!(
        !env.json(&["bom", "--oem", "1", "--ref", "P1-000003"])
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    let outbox = env.json(&["outbox", "list"]).await;
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["state"] == "delivered"),
        "{outbox}"
    );
    assert_eq!(env.json(&["outbox", "flush"]).await["delivered"], 0);
    let state = env.sim().state(KEY).unwrap();
    assert_eq!(state["Repairs"][0]["Invoiced"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_one_sentence_with_a_hint_and_an_exit_code() {
    let env = new_env("errors", 10).await;
    let out = env.run(&["repairs", "list"]).await;
    assert!(out.status.success());
    let mut c = env.command(&["work-orders", "sync"]);
    c.env("AGORA_API_KEY", "wrong-key-abcdef-XY");
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("401") && err.contains("hint:") && err.contains("…XY (19 chars)"),
        "{err}"
    );
    assert!(!err.contains("wrong-key-abcdef-XY"), "{err}");
    let mut c = env.command(&["work-orders", "sync"]);
    c.env_remove("AGORA_API_KEY");
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AGORA_API_KEY"));
    let mut c = env.command(&["work-orders", "sync"]);
    c.env("AGORA_BASE_URL", "http://127.0.0.1:9");
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let out = env.run(&["status", "report", "12345", "406"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("repair file 12345"), "{}", text(&out));
    let out = env.run(&["nonsense"]).await;
    assert_eq!(out.status.code(), Some(2));
}

/// A walk-in repair (CreateRepair): refused before anything is sent while
/// it lacks what the reference marks required, naming every field; then
/// created once, numbered by AgoraPlus, and kept locally under its number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_in_repair_is_created_once_with_what_the_reference_requires() {
    let env = new_env("walk-in", 10).await;
    let partial = [
        "repairs",
        "create",
        "ManufacturerId=19",
        "CommercialRef=ECAM22.110.B",
        "Intervention.InterventionType=1",
        "Consumer.LastName=Durand",
    ];
    let out = env.run(&partial).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    for field in [
        "ManufacturingCode",
        "Consumer.Title",
        "Consumer.Phone",
        "Intervention.RepairOriginCode",
    ] {
        assert!(said.contains(field), "{field}: {said}");
    }
    assert!(!said.contains("Consumer.LastName"), "{said}");
    // A file AgoraPlus already numbered is no new one.
    let numbered = env.dir.path().join("numbered.json");
    std::fs::write(&numbered, r#"{"InterventionId": 500001}"#).unwrap();
    let out = env
        .run(&["repairs", "create", "--from", numbered.to_str().unwrap()])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("already repair file 500001"),
        "{}",
        text(&out)
    );
    let outbox = env.json(&["outbox", "list"]).await;
    assert_eq!(outbox.as_array().map(Vec::len), Some(0), "{outbox}");

    let dir = env.dir.path().join("walk-in.json");
    std::fs::write(
        &dir,
        json!({"ManufacturerId": 19, "CommercialRef": "ECAM22.110.B",
               "Consumer": {"Title": 3, "LastName": "Durand", "FirstName": "Paul",
                            "Address1": "3 place Bellecour", "Zip": "69002", "Town": "Lyon",
                            "Country": 250, "Phone": "0412345678"},
               "Intervention": {"InterventionType": 1}})
        .to_string(),
    )
    .unwrap();
    let created = env
        .json(&[
            "repairs",
            "create",
            "--from",
            dir.to_str().unwrap(),
            "ManufacturingCode=2301",
            "Intervention.RepairOriginCode=CONSUMER",
        ])
        .await;
    let id = created["InterventionId"].as_u64().unwrap();
    let shown = env.json(&["repairs", "show", &id.to_string()]).await;
    assert_eq!(shown["File"]["ManufacturingCode"], json!("2301"), "{shown}");
    assert_eq!(shown["File"]["Consumer"]["Zip"], json!("69002"), "{shown}");
    let state = env.sim().state(KEY).unwrap();
    let held: Vec<&Value> = state["Repairs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["File"]["CommercialRef"] == json!("ECAM22.110.B"))
        .collect();
    assert_eq!(held.len(), 1, "{state}");
    assert_eq!(held[0]["File"]["InterventionId"], json!(id));
}

/// Clear-text HTTP to a host other than this machine only when the
/// configuration file says so, whatever the environment of the test run
/// (the child starts without any `AGORA_` variable).
#[test]
fn clear_text_http_elsewhere_needs_the_configuration_s_consent() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "k-0123456789").unwrap();
    let config = dir.path().join("agora.json");
    for (extra, exit) in [("", 3), (r#", "allow_insecure_http": true"#, 0)] {
        std::fs::write(
            &config,
            format!(
                r#"{{"base_url": "http://agora.example.com", "api_key_file": {:?}, "db": {:?}{extra}}}"#,
                key.display().to_string(),
                dir.path().join("agora.db").display().to_string(),
            ),
        )
        .unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_agora"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AGORA_") {
                c.env_remove(name);
            }
        }
        // `repairs list` builds the client but only reads the store.
        let out = c
            .args(["--config", config.to_str().unwrap(), "repairs", "list"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(exit), "{extra:?}: {}", text(&out));
        if exit == 3 {
            assert!(
                stderr(&out).contains("AGORA_ALLOW_INSECURE_HTTP"),
                "{}",
                text(&out)
            );
        }
    }
}

/// The codes and statuses a demo run observes, step by step.
const DEMO_TIMELINE: [&str; 16] = [
    "NEW",
    "ACCEPTED",
    "UpdateRepair",
    "102",
    "406",
    "205",
    "order",
    "208",
    "201",
    "305",
    "NOTVALID",
    "601",
    "VALID",
    "CLOSEDACCEPTED",
    "CreateeInvoice",
    "catalog",
];

async fn demo(args: &'static [&'static str]) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_agora"))
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_the_codes_it_observed() {
    let out = demo(&["demo", "--catalog-size", "3000"]).await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // Each step line is `  n. CODE  what`: the code is the second token.
    let codes: Vec<&str> = t
        .lines()
        .filter_map(|l| {
            let mut tokens = l.split_whitespace();
            let n = tokens.next()?.strip_suffix('.')?;
            n.parse::<u32>().ok()?;
            tokens.next()
        })
        .collect();
    assert_eq!(codes, DEMO_TIMELINE, "{t}");
    assert!(
        t.contains("- Serial Number: The size of the field should be 19 character(s)"),
        "{t}"
    );
    assert!(t.contains("3000 DeLonghi spare parts"), "{t}");

    let out = demo(&["--json", "demo", "--catalog-size", "100"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = run["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, DEMO_TIMELINE, "{run}");
    let summary = &run["summary"];
    assert_eq!(
        summary["statuses"],
        json!(["102", "406", "205", "201", "305", "601"]),
        "{summary}"
    );
    assert_eq!(summary["logistic_status"], "208");
    assert_eq!(
        summary["claim_statuses"],
        json!(["NOTVALID", "VALID", "CLOSEDACCEPTED"])
    );
    assert_eq!(summary["catalog_records"], 100);
    assert_eq!(summary["outbox"]["in_doubt"], 0);
}

/// Kills `child` (SIGKILL) as soon as `ready` holds: the event the kill
/// waits for, observed from outside (the simulator's state, the store).
/// The child must still be running then, so the kill lands mid-work.
#[cfg(unix)]
fn kill_when(mut child: std::process::Child, what: &str, ready: impl Fn() -> bool) {
    use std::os::unix::process::ExitStatusExt;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !ready() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what}: the run ended ({status}) before the kill");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: never happened"
        );
        // How often to look, not what to conclude.
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "{what}: the run had ended before the kill ({status})"
    );
}

/// Spare parts of OEM 19 in the store, read while a child may be writing
/// (0 until the store exists).
fn parts_in(db: &std::path::Path) -> u64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row(
        "SELECT COUNT(*) FROM spare_parts WHERE manufacturer = 19",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map_or(0, |n| u64::try_from(n).unwrap_or(0))
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_sync_then_restarted_nothing_lost_nothing_twice() {
    const PARTS: u64 = 300_000;
    let env = new_env("crash", PARTS).await;
    for _ in 0..60 {
        env.sim().publish_mandate(KEY, mandate(19)).unwrap();
    }
    // Slow answers, so a run is still at work after what the kill waits for.
    env.sim()
        .set_faults(
            KEY,
            Faults {
                delay_ms: 400,
                ..Faults::default()
            },
        )
        .unwrap();
    let spawn = |args: &[&str]| {
        env.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };

    // Killed once AgoraPlus has accepted the work orders: the run is
    // saving them, or reconciling.
    let child = spawn(&["work-orders", "sync"]);
    let sim = env.sim().clone();
    tokio::task::spawn_blocking(move || {
        kill_when(child, "work orders accepted", || {
            sim.state(KEY).unwrap()["Mandates"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["Status"] == "ACCEPTED")
        });
    })
    .await
    .unwrap();

    // Killed twice mid-catalog: once some batches are stored, then once a
    // second run has stored more than the first.
    let mut stored = 0;
    for round in 0..2 {
        let child = spawn(&["catalog", "sync", "--oem", "19"]);
        let db = env.db.clone();
        let before = stored;
        stored = tokio::task::spawn_blocking(move || {
            kill_when(child, &format!("catalog round {round}"), || {
                parts_in(&db) > before
            });
            parts_in(&db)
        })
        .await
        .unwrap();
        assert!(
            stored < PARTS,
            "round {round}: the kill landed after the whole delta ({stored})"
        );
    }
    // The delta never completed: the cursor did not move.
    {
        use agora_ports::SyncCursors;
        let store = agora_store_sqlite::SqliteStore::open(&env.db).unwrap();
        assert_eq!(store.cursor("spareparts/19/1033").await.unwrap(), None);
    }
    env.sim().set_faults(KEY, Faults::default()).unwrap();

    // Restarted: complete, no duplicates.
    let sync = env.json(&["work-orders", "sync"]).await;
    let repairs = env.json(&["repairs", "list"]).await;
    assert_eq!(repairs.as_array().unwrap().len(), 60, "{sync}");
    let mut ids: Vec<i64> = repairs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["MandateId"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 60, "one repair file per work order");
    let state = env.sim().state(KEY).unwrap();
    assert_eq!(state["Repairs"].as_array().unwrap().len(), 60);
    // The whole delta again, from the start, since the cursor never moved.
    let catalog = env.json(&["catalog", "sync", "--oem", "19"]).await;
    assert_eq!(catalog["records"], PARTS, "{catalog}");
    // The store holds each part once: a fresh full count equals the catalog size.
    assert_eq!(stored_parts(&env.db).await, PARTS);
}

async fn stored_parts(db: &std::path::Path) -> u64 {
    use agora_ports::CatalogStore;
    agora_store_sqlite::SqliteStore::open(db)
        .unwrap()
        .count_spare_parts(ManufacturerId(19), agora_domain::Lcid::ENGLISH)
        .await
        .unwrap()
}

// ----- warnings, partial work and exit codes (both answer profiles) -----

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

/// Adds a part to a file, orders it, and returns its order number.
async fn order_a_part(env: &Env, id: &str) -> String {
    let out = env.run(&["parts", "add", id, "00019-00000009"]).await;
    assert!(out.status.success(), "{}", text(&out));
    env.json(&["parts", "order", id]).await[0]["OrderNumber"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The work-order sync and both tracking passes, run as a scheduled job
/// would, against an account answering with `profile`: every run exits 0
/// and the data is imported.
async fn sync_and_track_exit_zero(env: &Env, profile: agora_mock::AnswerProfile) {
    env.sim().set_profile(KEY, profile).unwrap();
    // Nothing yet: empty answers, whatever their wording.
    let out = env.run(&["--json", "work-orders", "sync"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stdout_json(&out)["failed"], Value::Null);
    env.sim().publish_mandate(KEY, mandate(19)).unwrap();
    let out = env.run(&["--json", "work-orders", "sync"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = stdout_json(&out)["accepted"][0].as_i64().unwrap();
    let repairs = env.json(&["repairs", "list"]).await;
    assert_eq!(repairs.as_array().unwrap().len(), 1);
    let out = env.run(&["work-orders", "sync"]).await;
    assert_eq!(out.status.code(), Some(0), "again: {}", text(&out));

    let ids = id.to_string();
    // A file without orders: its tracking is empty.
    let out = env.run(&["--json", "parts", "track", &ids]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stdout_json(&out), json!([]));
    let order = order_a_part(env, &ids).await;
    env.sim().set_logistic(KEY, &order, "208").unwrap();
    let out = env.run(&["--json", "parts", "track"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let tracked = stdout_json(&out);
    assert_eq!(tracked[0]["InterventionId"], id);
    // Wire data is shown as it came: a code sent as a number stays one.
    let code = &tracked[0]["Lines"][0]["StatusCode"];
    assert!(code == "208" || code == 208, "{tracked}");
    let out = env.run(&["--json", "claims", "track"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_and_tracking_exit_zero_in_the_default_profile() {
    let env = new_env("default-profile", 10).await;
    sync_and_track_exit_zero(&env, agora_mock::AnswerProfile::default()).await;
    let out = env.run(&["work-orders", "sync"]).await;
    assert!(!stderr(&out).contains("warning:"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_and_tracking_exit_zero_in_the_reference_style_profile() {
    let env = new_env("reference-profile", 10).await;
    sync_and_track_exit_zero(&env, agora_mock::AnswerProfile::reference_style()).await;
    let out = env.run(&["work-orders", "sync"]).await;
    assert!(stderr(&out).contains("warning: "), "{}", text(&out));
    let repair = env.json(&["repairs", "list"]).await;
    assert_eq!(repair.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_results_and_null_data_are_empty_lists() {
    let env = new_env("no-results", 10).await;
    let profile = agora_mock::AnswerProfile {
        empty_lists: agora_mock::EmptyList::NotFound,
        empty_lists_by_route: [
            (
                "GetAcceptedMandates".to_owned(),
                agora_mock::EmptyList::NullData,
            ),
            (
                "GetSparepartOrderTracking".to_owned(),
                agora_mock::EmptyList::NullData,
            ),
        ]
        .into(),
        ..agora_mock::AnswerProfile::default()
    };
    sync_and_track_exit_zero(&env, profile).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn titles_as_labels_and_numeric_codes_are_imported() {
    let env = new_env("labels", 10).await;
    let profile = agora_mock::AnswerProfile {
        title_labels: true,
        numeric_logistic_codes: true,
        ..agora_mock::AnswerProfile::default()
    };
    sync_and_track_exit_zero(&env, profile).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_are_shown_one_line_each_and_the_run_exits_zero() {
    let env = new_env("warnings", 10).await;
    env.sim()
        .set_profile(
            KEY,
            agora_mock::AnswerProfile {
                warning: Some("reseller unknown".into()),
                item_warning: Some("phone missing".into()),
                ..agora_mock::AnswerProfile::default()
            },
        )
        .unwrap();
    let mandate_id = env.sim().publish_mandate(KEY, mandate(19)).unwrap();
    let out = env.run(&["work-orders", "sync"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 3, "{err}");
    assert!(err.contains("warning: GetNewMandates: AgoraPlus warns: reseller unknown"));
    assert!(err.contains("warning: GetAcceptedMandates: AgoraPlus warns: reseller unknown"));
    assert!(
        err.contains(&format!(
            "warning: GetNewMandates: work order {mandate_id}: "
        )),
        "{err}"
    );
    // With --json they are in the result too.
    env.sim().publish_mandate(KEY, mandate(19)).unwrap();
    let out = env.run(&["--json", "work-orders", "sync"]).await;
    assert_eq!(out.status.code(), Some(0));
    let value = stdout_json(&out);
    assert_eq!(value["warnings"].as_array().unwrap().len(), 3, "{value}");
    assert_eq!(
        stderr(&out)
            .lines()
            .filter(|l| l.starts_with("warning: "))
            .count(),
        3
    );

    let id = value["accepted"][0].as_i64().unwrap().to_string();
    let out = env.run(&["parts", "track", &id]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out)
            .contains("warning: GetSparepartOrderTracking: AgoraPlus warns: reseller unknown"),
        "{}",
        text(&out)
    );
    // A delta's W envelope, too.
    let out = env.run(&["catalog", "sync", "--oem", "19"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stderr(&out).contains("warning: catalog: AgoraPlus warns: reseller unknown"),
        "{}",
        text(&out)
    );

    // A claim finding of type W: shown, and the claim is still valid.
    env.sim()
        .set_profile(KEY, agora_mock::AnswerProfile::default())
        .unwrap();
    let file = env.db.with_file_name("claim-w.json");
    std::fs::write(
        &file,
        json!({
            "ClaimType": {"ManufacturerId": 19, "CommercialRef": "ECAM22.110.B",
                          "SerialNumber": "1234567890123456789"},
            "ClaimConso": {"LastName": "Martin", "Address1": "12 rue des Lilas", "Zip": "69003",
                           "City": "Lyon", "MobilePhone": "0612345678", "Email": "no-at-sign"},
            "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z",
                           "InterventionStartDateTime": "2024-03-02T08:00:00Z",
                           "InterventionEndDateTime": "2024-03-02T09:00:00Z"},
            "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 45.5},
            "ClaimParts": [{"PartReference": "00019-00000001", "Quantity": 1}]
        })
        .to_string(),
    )
    .unwrap();
    let out = env
        .run(&["claims", "submit", &id, "--file", file.to_str().unwrap()])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = stderr(&out);
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("warning: claim verdict: claim "))
            .count(),
        1,
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_that_did_half_its_work_says_which_and_exits_with_its_code() {
    let env = new_env("half", 10).await;
    // Accepted in AgoraPlus but never saved here, then GetNewMandates fails.
    env.sim().publish_mandate(KEY, mandate(19)).unwrap();
    use agora_ports::Mandates;
    let recovered = env.sim().client(KEY).new_mandates(true).await.unwrap().data[0]
        .intervention_id
        .unwrap();
    env.sim().publish_mandate(KEY, mandate(19)).unwrap();
    env.sim()
        .set_faults(
            KEY,
            Faults {
                status500_rate: 1.0,
                routes: vec!["GetNewMandates".into()],
                ..Faults::default()
            },
        )
        .unwrap();
    let out = env.run(&["--json", "work-orders", "sync"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    // With --json, the failed half is a JSON error on stderr.
    let err = stderr(&out);
    let error: Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("pulling new work orders (GetNewMandates) failed:")
            && error["hint"].is_string()
            && error["exit_code"] == 4,
        "{err}"
    );
    let value = stdout_json(&out);
    assert_eq!(value["recovered"], json!([recovered]), "{value}");
    assert_eq!(value["failed"]["exit_code"], 4, "{value}");
    assert!(
        value["failed"]["step"]
            .as_str()
            .unwrap()
            .contains("GetNewMandates")
    );

    // The other half: pulled and saved, reconciling failed.
    env.sim()
        .set_faults(
            KEY,
            Faults {
                status503_rate: 1.0,
                routes: vec!["GetAcceptedMandates".into()],
                ..Faults::default()
            },
        )
        .unwrap();
    let out = env.run(&["work-orders", "sync"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        stderr(&out).contains(
            "error: reconciling with the accepted work orders (GetAcceptedMandates) failed:"
        ),
        "{}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("1 accepted"),
        "{}",
        text(&out)
    );
    assert_eq!(
        env.json(&["repairs", "list"])
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A work order AgoraPlus refuses: said, exit 1; the others are saved.
    env.sim().set_faults(KEY, Faults::default()).unwrap();
    let broken = env.sim().publish_broken_mandate(KEY, mandate(19)).unwrap();
    env.sim().publish_mandate(KEY, mandate(19)).unwrap();
    let out = env.run(&["work-orders", "sync"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!(
            "error: work order {broken} was not accepted by AgoraPlus"
        )),
        "{}",
        text(&out)
    );
    assert_eq!(
        env.json(&["repairs", "list"])
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );
    env.sim().set_mandate_broken(KEY, broken, false).unwrap();
    let out = env.run(&["work-orders", "sync"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A local repair file AgoraPlus does not know, with an open order line
/// or a claim.
async fn plant_unknown_file(db: &std::path::Path, id: i64, claim: Option<i64>) {
    use agora_ports::{LocalRepair, RepairFiles};
    let repair = LocalRepair {
        intervention_id: InterventionId(id),
        mandate_id: None,
        file: agora_domain::CompleteRepairState::default(),
        lifecycle: agora_domain::lifecycle::RepairLifecycle::from_work_order(
            Some(ManufacturerId(19)),
            Some(agora_domain::InterventionTypeId(1)),
        ),
        claim_id: claim.map(ClaimId::from),
        orders: vec![agora_domain::PartOrderLine {
            order_number: Some(format!("ORD-GONE-{id}").into()),
            ..agora_domain::PartOrderLine::default()
        }],
        attention: None,
        revision: 0,
        work_order: None,
        accepted_at: None,
    };
    agora_store_sqlite::SqliteStore::open(db)
        .unwrap()
        .upsert_repair(&repair)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracking_pass_reads_unknown_files_as_empty_and_stops_when_every_call_would_fail() {
    let env = new_env("pass", 10).await;
    env.sim().publish_mandate(KEY, mandate(19)).unwrap();
    let id = env.json(&["work-orders", "sync"]).await["accepted"][0]
        .as_i64()
        .unwrap();
    let order = order_a_part(&env, &id.to_string()).await;
    env.sim().set_logistic(KEY, &order, "208").unwrap();
    plant_unknown_file(&env.db, 1, Some(424_242)).await;
    plant_unknown_file(&env.db, 2, None).await;

    // Files AgoraPlus does not know: its 404 "no results" on these list
    // routes is an empty answer (reference 5.3.3), so the pass completes.
    let out = env.run(&["--json", "parts", "track"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let tracked = stdout_json(&out);
    let lines = |file: i64| {
        tracked
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["InterventionId"] == file)
            .map(|t| t["Lines"].as_array().unwrap().len())
    };
    assert_eq!(lines(id), Some(1), "{tracked}");
    assert_eq!(lines(1), Some(0), "{tracked}");
    let out = env.run(&["claims", "track"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // AgoraPlus unavailable: the pass stops at the first file, says what it
    // did not reach, and exits 4.
    env.sim()
        .set_faults(
            KEY,
            Faults {
                status503_rate: 1.0,
                routes: vec!["GetSparepartOrderTracking".into()],
                ..Faults::default()
            },
        )
        .unwrap();
    let out = env.run(&["parts", "track"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("repair file 1 (GetSparepartOrderTracking) failed"),
        "{err}"
    );
    assert!(
        err.contains(
            "error: stopped there; 1 not reached: tracking the part orders of repair file 2"
        ),
        "{err}"
    );
}

// ----- the outbox by hand: in doubt, recovery at start-up, resolutions -----

/// A repair file with a part to order; its id.
async fn file_with_a_part(env: &Env) -> String {
    env.sim().publish_mandate(KEY, mandate(19)).unwrap();
    let id = env.json(&["work-orders", "sync"]).await["accepted"][0]
        .as_i64()
        .unwrap()
        .to_string();
    let out = env.run(&["parts", "add", &id, "00019-00000009"]).await;
    assert!(out.status.success(), "{}", text(&out));
    id
}

/// The outbox entries in `state` (`in-doubt`, `failed`, ...), as listed.
async fn entries(env: &Env, state: &str) -> Vec<Value> {
    let listed = env.json(&["outbox", "list", "--state", state]).await;
    listed.as_array().unwrap().clone()
}

/// The part orders AgoraPlus holds.
fn orders_at_agoraplus(env: &Env) -> usize {
    env.sim().state(KEY).unwrap()["Orders"]
        .as_array()
        .unwrap()
        .len()
}

/// The order numbers the local file `id` knows.
async fn local_orders(env: &Env, id: &str) -> Vec<String> {
    env.json(&["repairs", "show", id]).await["Orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["OrderNumber"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_answer_is_lost_exits_5_and_is_resolved_as_applied() {
    let env = new_env("doubt", 10).await;
    let id = file_with_a_part(&env).await;
    // AgoraPlus places the order, then the connection drops unanswered.
    env.sim()
        .set_faults(
            KEY,
            Faults {
                drop_after_commit_rate: 1.0,
                routes: vec!["PlaceRepairSparepartOrder".into()],
                ..Faults::default()
            },
        )
        .unwrap();
    let out = env.run(&["--json", "parts", "order", &id]).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    let said = stdout_json(&out);
    let entry = said["entry"].as_u64().unwrap();
    assert!(
        said["delivery"]
            .as_str()
            .unwrap()
            .contains(&format!("entry {entry} is IN DOUBT")),
        "{said}"
    );
    assert_eq!(orders_at_agoraplus(&env), 1, "the order was placed");
    env.sim().set_faults(KEY, Faults::default()).unwrap();

    // Never resent by a flush; listed for a person to settle.
    let flushed = env.json(&["outbox", "flush"]).await;
    assert_eq!(flushed["delivered"], 0, "{flushed}");
    assert_eq!(orders_at_agoraplus(&env), 1, "not placed twice");
    let in_doubt = entries(&env, "in-doubt").await;
    assert_eq!(in_doubt.len(), 1, "{in_doubt:?}");
    assert_eq!(in_doubt[0]["id"], entry);
    assert_eq!(in_doubt[0]["operation"], "PlaceRepairSparepartOrder");
    assert!(local_orders(&env, &id).await.is_empty());

    // Too soon to resend: the attempt may still take effect in AgoraPlus;
    // refused (exit 1), saying until when. Forced, it would go.
    let e = entry.to_string();
    let out = env
        .run(&["--json", "outbox", "resolve", &e, "--as", "resend"])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err: Value = serde_json::from_str(stderr(&out).lines().last().unwrap()).unwrap();
    assert_eq!(err["code"], "too_soon", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("may still take effect in AgoraPlus until"),
        "{err}"
    );
    assert!(err["hint"].as_str().unwrap().contains("--force"), "{err}");
    let help = env.run(&["outbox", "resolve", "--help"]).await;
    assert!(text(&help).contains("Risks a duplicate"), "{}", text(&help));
    assert_eq!(entries(&env, "in-doubt").await.len(), 1);

    // A status reported meanwhile waits behind the order, listed so.
    let out = env.run(&["status", "report", &id, "406"]).await;
    assert!(text(&out).contains("waits"), "{}", text(&out));
    let pending = entries(&env, "pending").await;
    assert_eq!(pending[0]["blocked_behind"], entry, "{pending:?}");
    let out = env.run(&["outbox", "list"]).await;
    assert!(
        text(&out).contains(&format!("blocked behind #{entry}")),
        "{}",
        text(&out)
    );

    // The person sees the order in AgoraPlus: applied. The file learns the
    // order number from AgoraPlus's tracking.
    let out = env.run(&["outbox", "resolve", &e, "--as", "applied"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("entry {entry} is now delivered")),
        "{}",
        text(&out)
    );
    let placed = env.sim().state(KEY).unwrap()["Orders"][0]["Line"]["OrderNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(local_orders(&env, &id).await, [placed]);
    assert!(entries(&env, "in-doubt").await.is_empty());

    // A delivered entry is not resolved again.
    let out = env.run(&["outbox", "resolve", &e, "--as", "resend"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("only entries in doubt or failed are resolved by hand"),
        "{}",
        text(&out)
    );
    // The order settled, the status goes; the order is not placed again.
    assert_eq!(env.json(&["outbox", "flush"]).await["delivered"], 1);
    assert_eq!(orders_at_agoraplus(&env), 1);
}

/// The outbox rows in `state`, read from the store file: (id, operation).
fn rows_in_state(db: &std::path::Path, state: &str) -> Vec<(i64, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, operation FROM outbox WHERE state = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([state], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_cut_by_a_crash_is_in_doubt_at_the_next_start_and_resent_by_hand() {
    let env = new_env("recover", 10).await;
    let id = file_with_a_part(&env).await;
    // AgoraPlus holds the order call, then refuses it (503): the call is
    // in flight, and whatever happens it is never applied.
    env.sim()
        .set_faults(
            KEY,
            Faults {
                status503_rate: 1.0,
                delay_ms: 30_000,
                routes: vec!["PlaceRepairSparepartOrder".into()],
                ..Faults::default()
            },
        )
        .unwrap();
    let child = env
        .command(&["parts", "order", &id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sim = env.sim().clone();
    tokio::task::spawn_blocking(move || {
        kill_when(child, "the order call reached AgoraPlus", || {
            sim.fault_counts().status503 > 0
        });
    })
    .await
    .unwrap();
    env.sim().set_faults(KEY, Faults::default()).unwrap();
    let sending = rows_in_state(&env.db, "sending");
    assert_eq!(sending.len(), 1, "killed mid-send: {sending:?}");
    let entry = sending[0].0;

    // Its lease (60 s, taken just before the call) runs out, and the grace
    // recovery allows for clocks that disagree (30 s) too, as they would a
    // minute and a half after the crash.
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    conn.execute(
        "UPDATE outbox SET lease_until_ms = lease_until_ms - 91000 WHERE id = ?1",
        [entry],
    )
    .unwrap();

    // The next command, whatever it is, parks the entry in doubt at
    // start-up and says so once.
    let out = env
        .run(&["--json", "outbox", "list", "--state", "in-doubt"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stderr(&out).contains(
            "warning: 1 operation(s) were interrupted mid-send (their process stopped) and are in doubt"
        ),
        "{}",
        text(&out)
    );
    let listed = stdout_json(&out);
    assert_eq!(listed[0]["id"], entry, "{listed}");
    assert_eq!(listed[0]["operation"], "PlaceRepairSparepartOrder");
    let out = env.run(&["outbox", "list"]).await;
    assert!(!stderr(&out).contains("interrupted"), "{}", text(&out));

    // A flush does not resend it.
    assert_eq!(env.json(&["outbox", "flush"]).await["delivered"], 0);
    assert_eq!(orders_at_agoraplus(&env), 0);

    // The person finds no order in AgoraPlus: resend; refused while the
    // cut call may still take effect (its send start + the client's
    // longest call, 270 s with the default timing, + grace 30 s),
    // accepted once it cannot, as 301 s after the send.
    let e = entry.to_string();
    let out = env.run(&["outbox", "resolve", &e, "--as", "resend"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("--force"), "{}", text(&out));
    conn.execute(
        "UPDATE outbox SET sent_ms = sent_ms - 301000 WHERE id = ?1",
        [entry],
    )
    .unwrap();
    drop(conn);
    let out = env.run(&["outbox", "resolve", &e, "--as", "resend"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("entry {entry} is now pending")),
        "{}",
        text(&out)
    );
    assert_eq!(env.json(&["outbox", "flush"]).await["delivered"], 1);
    assert_eq!(orders_at_agoraplus(&env), 1);
    assert_eq!(local_orders(&env, &id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_entries_are_resent_or_abandoned_by_hand() {
    let env = new_env("failed", 10).await;
    env.sim().publish_mandate(KEY, mandate(19)).unwrap();
    let id = env.json(&["work-orders", "sync"]).await["accepted"][0]
        .as_i64()
        .unwrap()
        .to_string();
    // Two changes sent with a key AgoraPlus does not know: refused (401),
    // failed, exit 1.
    for args in [
        ["status", "report", &id, "406"],
        ["parts", "add", &id, "00019-00000009"],
    ] {
        let mut c = env.command(&args);
        c.env("AGORA_API_KEY", "revoked-key-000");
        let out = tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
    }
    let failed = entries(&env, "failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    let (status, part) = (failed[0]["id"].to_string(), failed[1]["id"].to_string());

    // With the right key again: the status is resent, the part abandoned.
    let out = env
        .run(&["outbox", "resolve", &status, "--as", "resend"])
        .await;
    assert!(
        text(&out).contains(&format!("entry {status} is now pending")),
        "{}",
        text(&out)
    );
    let out = env
        .run(&["outbox", "resolve", &part, "--as", "abandon"])
        .await;
    assert!(
        text(&out).contains(&format!("entry {part} is now failed")),
        "{}",
        text(&out)
    );
    let flushed = env.json(&["outbox", "flush"]).await;
    assert_eq!(
        (&flushed["delivered"], &flushed["failed"]),
        (&json!(1), &json!(0)),
        "{flushed}"
    );
    let state = env.sim().state(KEY).unwrap();
    let file = &state["Repairs"][0]["File"];
    assert_eq!(file["StateNatures"][0]["Code"], "406", "{file}");
    assert_eq!(
        file["Parts"],
        Value::Null,
        "the abandoned part was not sent: {file}"
    );
    let failed = entries(&env, "failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["last_error"], "resolved by hand: abandoned");
    assert_eq!(env.json(&["outbox", "flush"]).await["delivered"], 0);
}

// ----- the repair file completed by hand: `repairs set`, `repairs edit` -----

/// A repair file accepted from a work order; its id.
async fn accepted_file(env: &Env) -> String {
    env.sim().publish_mandate(KEY, mandate(1)).unwrap();
    env.json(&["work-orders", "sync"]).await["accepted"][0]
        .as_i64()
        .unwrap()
        .to_string()
}

/// The file `id` as AgoraPlus holds it.
fn file_at_agoraplus(env: &Env, id: &str) -> Value {
    env.sim().state(KEY).unwrap()["Repairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["File"]["InterventionId"]
                .as_i64()
                .map(|i| i.to_string())
                .as_deref()
                == Some(id)
        })
        .unwrap()["File"]
        .clone()
}

/// How many outbox entries there are.
async fn outbox_len(env: &Env) -> usize {
    env.json(&["outbox", "list"])
        .await
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repairs_set_sends_one_update_and_refuses_a_bad_path_or_value() {
    let env = new_env("set", 100).await;
    let id = accepted_file(&env).await;
    let before = outbox_len(&env).await;

    let sent = env
        .json(&[
            "repairs",
            "set",
            &id,
            "serialnumber=SN-42",
            "Consumer.Phone=+33 4 72 00 00 00",
            "Consumer.Zip=69001",
            "Parts[0].Reference=00001-00000001",
            "Parts[0].Quantity=2",
        ])
        .await;
    assert_eq!(sent["changed"].as_array().unwrap().len(), 5, "{sent}");
    assert!(sent["delivery"].as_str().unwrap().starts_with("delivered"));
    assert_eq!(outbox_len(&env).await, before + 1);
    let file = file_at_agoraplus(&env, &id);
    assert_eq!(file["SerialNumber"], "SN-42");
    assert_eq!(file["Consumer"]["Zip"], "69001");
    assert_eq!(file["Consumer"]["Phone"], "+33 4 72 00 00 00");
    assert_eq!(file["Consumer"]["LastName"], "Durand");
    assert_eq!(file["Parts"][0]["Quantity"], 2);
    let local = env.json(&["repairs", "show", &id]).await;
    assert_eq!(local["File"]["SerialNumber"], "SN-42");

    for (args, named) in [
        (vec!["Consumer.Phon=1"], "Consumer.Phon"),
        (
            vec!["SerialNumber=SN-1", "Consumer.Country=France"],
            "Consumer.Country",
        ),
        (vec!["Parts[3].Quantity=1"], "Parts[3].Quantity"),
        (vec!["InterventionId=1"], "InterventionId"),
        (vec!["SerialNumber"], "SerialNumber"),
    ] {
        let mut full = vec!["repairs", "set", id.as_str()];
        full.extend(args);
        let out = env.run(&full).await;
        assert_eq!(out.status.code(), Some(2), "{full:?}: {}", text(&out));
        assert!(stderr(&out).contains(named), "{full:?}: {}", text(&out));
    }
    assert_eq!(outbox_len(&env).await, before + 1, "nothing queued");
    assert_eq!(file_at_agoraplus(&env, &id)["SerialNumber"], "SN-42");
}

/// An editor script: `sh SCRIPT FILE`, counting its runs in `count`.
fn editor(dir: &std::path::Path, body: &str) -> String {
    let script = dir.join("editor.sh");
    std::fs::write(
        &script,
        format!(
            "n=$(cat '{count}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{count}'\n{body}\n",
            count = dir.join("count").display()
        ),
    )
    .unwrap();
    format!("sh {}", script.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repairs_edit_sends_a_changed_file_and_reopens_an_invalid_one() {
    let env = new_env("edit", 100).await;
    let id = accepted_file(&env).await;
    let before = outbox_len(&env).await;
    let edit = |editor: &str| {
        let mut c = env.command(&["repairs", "edit", &id]);
        c.env_remove("VISUAL").env("EDITOR", editor);
        c.output().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let runs = || std::fs::read_to_string(dir.path().join("count")).unwrap();

    // Saved unchanged: nothing sent.
    let out = edit(&editor(dir.path(), "true"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stderr(&out).contains("Edit cancelled, no changes made."));
    assert_eq!(outbox_len(&env).await, before);

    // Changed: one update.
    std::fs::remove_file(dir.path().join("count")).unwrap();
    let out = edit(&editor(
        dir.path(),
        r#"sed -i '1s/{/{"SerialNumber": "SN-7",/' "$1""#,
    ));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(outbox_len(&env).await, before + 1);
    assert_eq!(file_at_agoraplus(&env, &id)["SerialNumber"], "SN-7");

    // Invalid, then fixed in the second round, the error on top.
    std::fs::remove_file(dir.path().join("count")).unwrap();
    let out = edit(&editor(
        dir.path(),
        r#"if [ "$n" = 1 ]; then sed -i 's/"SerialNumber": "SN-7"/"SerialNumber": 8/' "$1"; else grep -q '^# .*SerialNumber' "$1" || exit 1; sed -i 's/"SerialNumber": 8/"SerialNumber": "SN-8"/' "$1"; fi"#,
    ));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(runs().trim(), "2");
    assert_eq!(outbox_len(&env).await, before + 2);
    assert_eq!(file_at_agoraplus(&env, &id)["SerialNumber"], "SN-8");

    // Invalid, then saved unchanged: stops with the error, nothing sent.
    std::fs::remove_file(dir.path().join("count")).unwrap();
    let out = edit(&editor(
        dir.path(),
        r#"if [ "$n" = 1 ]; then sed -i 's/"SerialNumber": "SN-8"/"SerialNumber": 9/' "$1"; fi"#,
    ));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("SerialNumber"), "{}", text(&out));
    assert_eq!(runs().trim(), "2");
    assert_eq!(outbox_len(&env).await, before + 2);
}

/// A work order is kept as AgoraPlus sent it: synced, `work-orders show`
/// prints it whole with the fields agora does not know (at the top and
/// nested) unchanged, and `work-orders list` shows it, by person and as
/// JSON; an unknown work order is an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_orders_are_kept_as_received_and_shown() {
    let env = new_env("kept", 10).await;
    let sent = json!({
        "ManufacturerId": 19, "InterventionTypeId": 1,
        "RetailerChannel": "web",
        "Consumer": {"Title": "3", "LastName": "Durand", "FirstName": "Paul", "Fax": "+33 4 78 00 00 00"}
    });
    let mandate_id = env
        .sim()
        .publish_mandate(KEY, serde_json::from_value(sent.clone()).unwrap())
        .unwrap();
    let id = env.json(&["work-orders", "sync"]).await["accepted"][0]
        .as_i64()
        .unwrap();

    let mandate = mandate_id.to_string();
    let out = env.run(&["work-orders", "show", &mandate]).await;
    assert!(out.status.success(), "{}", text(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["InterventionId"], id);
    let kept = &shown["Mandate"];
    assert_eq!(kept["MandateId"], json!(mandate_id));
    for (field, value) in sent.as_object().unwrap() {
        assert_eq!(&kept[field], value, "{field} in {kept}");
    }

    let listed = env.json(&["work-orders", "list"]).await;
    assert_eq!(listed, json!([shown]));
    let out = env.run(&["work-orders", "list"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    for cell in [mandate.as_str(), "19", "Paul Durand", &id.to_string()] {
        assert!(table.contains(cell), "{cell} in {table}");
    }

    let out = env.run(&["work-orders", "show", "999999"]).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("work order 999999"), "{}", text(&out));

    // Not accepted (auto-accept off): kept too, awaiting acceptance.
    let waiting = env
        .sim()
        .publish_mandate(KEY, serde_json::from_value(sent.clone()).unwrap())
        .unwrap();
    let sync = env.json(&["work-orders", "sync", "--no-accept"]).await;
    assert_eq!(sync["awaiting_acceptance"], json!([waiting]));
    let listed = env.json(&["work-orders", "list"]).await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed[1]["InterventionId"], Value::Null);
    assert_eq!(listed[1]["Mandate"]["MandateId"], json!(waiting));
    assert_eq!(
        listed[1]["Mandate"]["Consumer"]["Fax"],
        sent["Consumer"]["Fax"]
    );
    let shown = env
        .json(&["work-orders", "show", &waiting.to_string()])
        .await;
    assert_eq!(shown, listed[1]);
    let out = env.run(&["work-orders", "list"]).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("awaiting acceptance"),
        "{}",
        text(&out)
    );
}

/// Events of a kind in the store, read while a child may be writing (0
/// until the store exists).
fn events_of(db: &std::path::Path, kind: &str) -> u64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT COUNT(*) FROM events WHERE kind = ?1", [kind], |r| {
        r.get::<_, i64>(0)
    })
    .map_or(0, |n| u64::try_from(n).unwrap_or(0))
}

/// `agora watch` pulls a work order at once, stops cleanly on SIGTERM and
/// says what it did; `agora events` prints the events as NDJSON, by type
/// and after an id.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_pulls_and_stops_on_sigterm_and_events_are_printed_as_ndjson() {
    let env = new_env("watch", 100).await;
    env.sim().publish_mandate(KEY, mandate(19)).unwrap();
    let mut child = env
        .command(&["--json", "watch", "--work-orders-every", "1h"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while events_of(&env.db, "repair_file.created") == 0 {
        assert!(child.try_wait().unwrap().is_none(), "watch ended early");
        assert!(std::time::Instant::now() < deadline, "no work order pulled");
        // How often to look, not what to conclude.
        std::thread::sleep(Duration::from_millis(10));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["runs"]["work-orders"], 1, "{report}");
    assert_eq!(report["cut"], false);

    let all = env.run(&["--json", "events"]).await;
    assert!(all.status.success(), "{}", text(&all));
    let lines: Vec<Value> = String::from_utf8_lossy(&all.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["work_order.received", "repair_file.created"],
        "{lines:?}"
    );
    assert!(lines[0]["id"].as_u64() < lines[1]["id"].as_u64());
    let first = lines[0]["id"].to_string();
    let after = env.run(&["--json", "events", "--since", &first]).await;
    assert_eq!(String::from_utf8_lossy(&after.stdout).lines().count(), 1);
    let typed = env
        .run(&["--json", "events", "--type", "work_order.received"])
        .await;
    let typed: Vec<Value> = String::from_utf8_lossy(&typed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(typed.len(), 1);
    assert_eq!(typed[0]["data"]["manufacturer_id"], 19);
    let bad = env.run(&["events", "--type", "nothing.happened"]).await;
    assert_eq!(bad.status.code(), Some(2));
}
