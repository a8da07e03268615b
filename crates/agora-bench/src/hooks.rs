//! The webhook burst: N events recorded in a SQLite store, then delivered
//! by the worker's webhook loop (`Watch::webhooks`, `agora-webhooks`'s
//! HTTP sender) to a receiver on 127.0.0.1 in this process (axum), which
//! checks every signature. Reported: events delivered once deduplicated by
//! id (the target: all of them), duplicates, and the throughput from the
//! loop's start to the last new id received.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agora_app::{Agora, AppConfig, Stop, Watch, WatchConfig, WebhookConfig};
use agora_domain::{CompleteRepairState, InterventionId, OrderNumber, PartOrderLine};
use agora_ports::{
    DEFAULT_TOLERANCE, LocalRepair, RepairFiles, SIGNATURE_HEADER, SystemClock, WebhookEndpoint,
    WebhookSecret, verify_signature,
};
use agora_store_sqlite::SqliteStore;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;
use tokio::sync::Notify;

/// Events per repair file: its creation and four part order lines placed.
const PER_FILE: u64 = 5;

struct Receiver {
    secrets: Vec<WebhookSecret>,
    seen: Mutex<(HashSet<u64>, u64, u64)>,
    want: usize,
    done: Notify,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut seen = r
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if verify_signature(
        signature,
        &body,
        &r.secrets,
        agora_ports::Clock::now(&SystemClock),
        DEFAULT_TOLERANCE,
    )
    .is_err()
    {
        seen.2 += 1;
        return StatusCode::BAD_REQUEST;
    }
    let id = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["id"].as_u64())
        .unwrap_or_default();
    if !seen.0.insert(id) {
        seen.1 += 1;
    }
    if seen.0.len() >= r.want {
        r.done.notify_one();
    }
    StatusCode::NO_CONTENT
}

fn repair(id: i64) -> LocalRepair {
    LocalRepair {
        intervention_id: InterventionId(id),
        mandate_id: None,
        file: CompleteRepairState {
            intervention_id: Some(InterventionId(id)),
            ..CompleteRepairState::default()
        },
        lifecycle: agora_domain::lifecycle::RepairLifecycle::direct(None, None),
        claim_id: None,
        orders: vec![],
        attention: None,
        revision: 0,
        work_order: None,
        accepted_at: None,
    }
}

/// `agora-bench webhooks N`: the burst of about N events; what it
/// measured, as JSON (`events`, `delivered` once deduplicated by id,
/// `duplicates`, `bad_signatures`, `retried`, `secs`, `events_per_s`,
/// `rss_kb`).
pub(crate) async fn burst(n: u64) -> Result<serde_json::Value, String> {
    let err = |e: agora_ports::AgoraError| e.to_string();
    let dir = std::env::temp_dir().join(format!("agora-bench-hooks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let store = SqliteStore::open(dir.join("agora.db")).map_err(err)?;
    let files = (n / PER_FILE).max(1);
    let setup = Instant::now();
    for f in 1..=i64::try_from(files).unwrap_or(i64::MAX) {
        store.upsert_repair(&repair(f)).await.map_err(err)?;
        for line in 1..PER_FILE {
            let mut r = store
                .repair(InterventionId(f))
                .await
                .map_err(err)?
                .ok_or("file vanished")?;
            r.orders.push(PartOrderLine {
                order_number: Some(OrderNumber::from(format!("ORD-{f}-{line}").as_str())),
                ..PartOrderLine::default()
            });
            store.upsert_repair(&r).await.map_err(err)?;
        }
    }
    let events = usize::try_from(files * PER_FILE).unwrap_or(usize::MAX);
    eprintln!(
        "{events} events recorded in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let secrets = vec![WebhookSecret::new("whsec_bench").map_err(err)?];
    let receiver = Arc::new(Receiver {
        secrets: secrets.clone(),
        seen: Mutex::new((HashSet::new(), 0, 0)),
        want: events,
        done: Notify::new(),
    });
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move { axum::serve(listener, router).await });

    let endpoint = WebhookEndpoint::new("bench", &format!("http://{addr}/hook"), vec![], secrets)
        .map_err(err)?;
    let config = WebhookConfig {
        endpoints: vec![endpoint],
        poll: Duration::from_millis(50),
        ..WebhookConfig::default()
    };
    let app = Agora::new(
        agora_mock::Simulator::new(agora_mock::SimConfig::default()).client("bench"),
        store,
        Arc::new(SystemClock),
        AppConfig::default(),
    );
    let watch = Arc::new(Watch::new(app, WatchConfig::default()));
    let sender = agora_webhooks::HttpSender::new(Duration::from_secs(10)).map_err(err)?;
    let stop = Stop::new();
    let started = Instant::now();
    let task = {
        let (watch, stop) = (watch.clone(), stop.clone());
        tokio::spawn(async move { watch.webhooks(&stop, &sender, &config).await })
    };
    let done = receiver.done.notified();
    tokio::time::timeout(Duration::from_secs(600), done)
        .await
        .map_err(|_| "not every event arrived within 600 s")?;
    let secs = started.elapsed().as_secs_f64();
    stop.signal();
    let report = task.await.map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    let (distinct, duplicates, bad) = {
        let seen = receiver
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (seen.0.len(), seen.1, seen.2)
    };
    Ok(json!({
        "events": events,
        "delivered": distinct,
        "duplicates": duplicates,
        "bad_signatures": bad,
        "retried": report.retried,
        "secs": secs,
        "events_per_s": events as f64 / secs,
        "rss_kb": crate::measure::peak_rss_kb(),
    }))
}
