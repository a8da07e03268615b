//! Webhooks from the command line: endpoints checked when the
//! configuration is read (clear-text HTTP only to this machine), and
//! `agora events redeliver` / `agora events webhooks` against the
//! simulator over loopback.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use agora_domain::MandateLightResponse;
use agora_mock::{SimConfig, Simulator};
use agora_sim::SimServer;
use serde_json::{Value, json};

const KEY: &str = "cli-hooks-key-123";

/// `agora` with no `AGORA_` variable of the test run, the simulator's URL
/// and key, the store `db` and the configuration file `config`.
fn agora(url: &str, db: &Path, config: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_agora"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AGORA_") {
            c.env_remove(name);
        }
    }
    c.env("AGORA_BASE_URL", url)
        .env("AGORA_API_KEY", KEY)
        .env("AGORA_DB", db)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn hooks(config: &Path, urls: &[&str]) {
    let endpoints: Vec<Value> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| json!({"name": format!("h{i}"), "url": url, "secrets": ["whsec_1"]}))
        .collect();
    std::fs::write(config, json!({ "webhooks": endpoints }).to_string()).unwrap();
}

#[test]
fn clear_text_webhooks_elsewhere_are_refused_when_the_configuration_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (db, config) = (dir.path().join("agora.db"), dir.path().join("agora.json"));
    // No AgoraPlus is called: `agora events` only reads the store.
    let url = "http://127.0.0.1:9";
    for (endpoint, exit) in [
        ("http://hooks.example.com/agora", 3),
        ("http://10.1.2.3/agora", 3),
        ("https://hooks.example.com/agora", 0),
        ("http://127.0.0.1:9000/agora", 0),
        ("http://localhost:9000/agora", 0),
        ("http://[::1]:9000/agora", 0),
    ] {
        hooks(&config, &[endpoint]);
        let out = agora(url, &db, &config, &["events"]);
        assert_eq!(out.status.code(), Some(exit), "{endpoint}: {}", text(&out));
        if exit == 3 {
            let says = text(&out);
            assert!(
                says.contains("webhook `h0`") && says.contains("use https://"),
                "{says}"
            );
        }
    }
    // Three secrets, an unknown type: refused too, naming the endpoint.
    std::fs::write(
        &config,
        json!({"webhooks": [{"name": "p", "url": "https://h/", "secrets": ["a", "b", "c"]}]})
            .to_string(),
    )
    .unwrap();
    let out = agora(url, &db, &config, &["events"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    std::fs::write(
        &config,
        json!({"webhooks": [{"name": "p", "url": "https://h/", "secrets": ["a"], "types": ["claim.maybe"]}]})
            .to_string(),
    )
    .unwrap();
    let out = agora(url, &db, &config, &["events"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("claim.maybe"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeliver_queues_chosen_events_again_and_webhooks_shows_the_backlog() {
    let server = SimServer::start(
        Simulator::new(SimConfig {
            tenants: vec![KEY.into()],
            ..SimConfig::default()
        }),
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let mandate: MandateLightResponse = serde_json::from_value(json!({
        "ManufacturerId": 19, "InterventionTypeId": 1,
        "Consumer": {"Title": "3", "LastName": "Durand", "FirstName": "Paul", "Address1": "3 place Bellecour"}
    }))
    .unwrap();
    for _ in 0..2 {
        server
            .simulator()
            .publish_mandate(KEY, mandate.clone())
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let (db, config) = (dir.path().join("agora.db"), dir.path().join("agora.json"));
    hooks(
        &config,
        &["http://127.0.0.1:9/one", "http://127.0.0.1:9/two"],
    );
    let url = server.url().to_owned();
    let run = move |args: &[&str]| {
        let (url, db, config) = (url.clone(), db.clone(), config.clone());
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            agora(&url, &db, &config, &args)
        })
    };
    let out = run(&["work-orders", "sync"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["--json", "events"]).await.unwrap();
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let created = events
        .iter()
        .filter(|e| e["type"] == "repair_file.created")
        .count();
    assert_eq!(created, 2, "{events:?}");

    // Nothing owed before a redelivery (no worker ran).
    let out = run(&["events", "webhooks"]).await.unwrap();
    assert!(
        text(&out).contains("every event was delivered"),
        "{}",
        text(&out)
    );

    let out = run(&[
        "--json",
        "events",
        "redeliver",
        "--since",
        "0",
        "--type",
        "repair_file.created",
        "--endpoint",
        "h1",
    ])
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let queued: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(queued, json!({"queued": {"h1": 2}}));

    let out = run(&["--json", "events", "webhooks"]).await.unwrap();
    let backlog: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        backlog["endpoints"],
        json!([{"endpoint": "h1", "pending": 2, "failed": 0}])
    );

    // By id, to every endpoint; an id not kept is refused.
    let first = events[0]["id"].as_u64().unwrap().to_string();
    let out = run(&["--json", "events", "redeliver", &first])
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let queued: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(queued, json!({"queued": {"h0": 1, "h1": 1}}));
    let out = run(&["events", "redeliver", "999999"]).await.unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("not in the store"), "{}", text(&out));
    let out = run(&["events", "redeliver", "--since", "0", "--endpoint", "nope"])
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("h0, h1"), "{}", text(&out));
}
