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

/// Runs `agora ARGS --db DB repairs list` (nothing else to reach), and
/// returns its exit code and everything it printed.
async fn open_with(db: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_agora"));
    c.args(args)
        .args(["--db", db, "repairs", "list"])
        .env("AGORA_BASE_URL", "http://127.0.0.1:9")
        .env("AGORA_API_KEY", KEY)
        .env_remove("AGORA_DB")
        .env_remove("AGORA_LOG")
        .env_remove("AGORA_CONFIG")
        .env_remove("AGORA_ENV")
        .env_remove("AGORA_DB_PASSWORD_FILE");
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), all)
}

/// Every way opening a store with a password can fail (a scheme in
/// capitals, libpq's key=value form, an unreachable host, a bad port, a
/// missing database, a refused password, a scheme agora does not know, a
/// malformed key=value string) says what failed, plain and in JSON and in
/// the logs, and never the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_failing_path_prints_the_password() {
    const PW: &str = "pw-Zq7-s3cret";
    let pg = Server::start().unwrap_or_else(|why| panic!("{why}"));
    // One role must give its password on the socket; the others stay trusted.
    pg.admin("CREATE ROLE pwuser LOGIN PASSWORD 'the-right-one'")
        .await
        .unwrap();
    pg.admin("CREATE DATABASE present OWNER pwuser")
        .await
        .unwrap();
    let socket = pg.socket_dir().display().to_string();
    std::fs::write(
        pg.socket_dir().join("data/pg_hba.conf"),
        "local all pwuser scram-sha-256\nlocal all all trust\n",
    )
    .unwrap();
    pg.admin("SELECT pg_reload_conf()").await.unwrap();

    let cases: Vec<(String, i32, &str)> = vec![
        (
            format!("POSTGRES://svc:{PW}@127.0.0.1:1/agora?connect_timeout=5"),
            6,
            "svc@127.0.0.1:1/agora",
        ),
        (
            format!("host=127.0.0.1 port=1 user=svc password={PW} dbname=agora connect_timeout=5"),
            6,
            "svc@127.0.0.1:1/agora",
        ),
        (
            format!("host=127.0.0.1 port=1 user=svc password='{PW} two' dbname=agora"),
            6,
            "svc@127.0.0.1:1/agora",
        ),
        (
            format!("postgres://svc:{PW}@unreachable.invalid/agora?connect_timeout=5"),
            6,
            "svc@unreachable.invalid:5432/agora",
        ),
        (
            format!("postgres://svc:{PW}@127.0.0.1:notaport/agora"),
            3,
            "`port`",
        ),
        (
            format!("postgres://agora:{PW}@/missing?host={socket}"),
            6,
            "missing",
        ),
        (
            format!("postgresql://pwuser:{PW}@/present?host={socket}"),
            6,
            "password authentication failed",
        ),
        (
            format!("mysql://svc:{PW}@db.example/agora"),
            3,
            "`mysql://`",
        ),
        (
            format!("host=db.example password={PW} stray"),
            3,
            "key=value",
        ),
    ];
    for (db, exit, says) in &cases {
        for args in [&["--json"][..], &[][..], &["-vvv"][..]] {
            let (code, all) = open_with(db, args).await;
            assert!(!all.contains(PW), "{args:?} {db}: {all}");
            assert!(!all.contains("Zq7"), "{args:?} {db}: {all}");
            assert_eq!(code, Some(*exit), "{args:?} {db}: {all}");
            assert!(all.contains(says), "{args:?} {db}: {all}");
        }
    }
    // The right password opens it: the failures above were the password's.
    let (code, all) = open_with(
        &format!("postgresql://pwuser:the-right-one@/present?host={socket}"),
        &["--json"],
    )
    .await;
    assert_eq!(code, Some(0), "{all}");
}
