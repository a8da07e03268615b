//! The `agora` binary on a PostgreSQL store (`--db postgres://…`), against
//! the simulator over loopback and a throwaway PostgreSQL server: two
//! processes share one state, and a URL's password is never printed.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use agora_domain::MandateLightResponse;
use agora_mock::{SimConfig, Simulator};
use agora_sim::SimServer;
use agora_store_postgres::throwaway::Server;
use serde_json::{Value, json};

const KEY: &str = "cli-pg-test-key-123";

async fn agora(sim: &SimServer, db: &str, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_agora"));
    c.arg("--json")
        .args(args)
        .env("AGORA_BASE_URL", sim.url())
        .env("AGORA_API_KEY", KEY)
        .env("AGORA_DB", db)
        .env_remove("AGORA_CONFIG")
        .env_remove("AGORA_ENV")
        .env_remove("AGORA_DB_PASSWORD_FILE");
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn simulator() -> SimServer {
    let config = SimConfig {
        tenants: vec![KEY.into()],
        seed: 8,
        catalog_size: 500,
        ..SimConfig::default()
    };
    SimServer::start(Simulator::new(config), ([127, 0, 0, 1], 0).into())
        .await
        .unwrap()
}

fn mandate() -> MandateLightResponse {
    serde_json::from_value(json!({
        "ManufacturerId": 1, "InterventionTypeId": 1,
        "Consumer": {"Title": "3", "LastName": "Durand", "FirstName": "Paul", "Address1": "3 place Bellecour"}
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_orders_sync_on_postgres_is_shared_by_every_process() {
    let pg = Server::start().unwrap_or_else(|why| panic!("{why}"));
    let db = pg.create_database("cli").await.unwrap();
    let sim = simulator().await;
    sim.simulator().publish_mandate(KEY, mandate()).unwrap();

    let sync = json_of(&agora(&sim, &db, &["work-orders", "sync"]).await);
    let id = sync["accepted"][0].as_i64().unwrap();
    // Another process on the same database sees the file, and a second
    // sync accepts nothing twice.
    let listed = json_of(&agora(&sim, &db, &["repairs", "list"]).await);
    assert_eq!(listed[0]["InterventionId"], id);
    let again = json_of(&agora(&sim, &db, &["work-orders", "sync"]).await);
    assert_eq!(again["accepted"], json!([]));
    // The catalog goes through COPY and keeps its cursor there too.
    let synced = json_of(&agora(&sim, &db, &["catalog", "sync", "--oem", "19"]).await);
    assert_eq!(synced["records"], 500, "{synced}");
    let listed = json_of(&agora(&sim, &db, &["repairs", "list"]).await);
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_password_in_the_url_is_never_printed() {
    let sim = simulator().await;
    // Nothing listens on port 1: the store cannot be opened.
    let out = agora(
        &sim,
        "postgres://svc:pw-s3cret-9@127.0.0.1:1/agora?connect_timeout=5",
        &["work-orders", "sync"],
    )
    .await;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(6), "{all}");
    assert!(all.contains("svc@127.0.0.1:1/agora"), "{all}");
    assert!(!all.contains("pw-s3cret-9"), "{all}");
}
