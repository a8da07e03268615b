//! Webhooks end to end: the simulator (in memory) plays AgoraPlus, the use
//! cases record events in a SQLite store, the worker's webhook loop sends
//! them over real HTTP (`HttpSender`) to receivers served here (axum, the
//! simulator's HTTP server), which check every signature. Each test waits
//! for what its receivers report, never for a set time.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_app::{Agora, AppConfig, Stop, Watch, WatchConfig, WebhookConfig};
use agora_domain::{MandateLightResponse, StateNature, StatusCode, WireDateTime};
use agora_mock::{SimClient, SimConfig, Simulator};
use agora_ports::{
    DEFAULT_TOLERANCE, Events, RepairFiles, SIGNATURE_HEADER, SystemClock, WebhookDeliveries,
    WebhookEndpoint, WebhookRetry, WebhookSecret, verify_signature,
};
use agora_store_sqlite::SqliteStore;
use agora_webhooks::HttpSender;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as Http};
use tokio::sync::Notify;

/// What a receiver accepted, in the order it accepted it.
#[derive(Default)]
struct Log {
    /// (event id, repair file, type) of each request answered 2xx.
    accepted: Vec<(u64, Option<i64>, String)>,
    /// Requests answered 500 on purpose.
    refused: u64,
    /// Requests whose signature did not verify.
    bad_signatures: u64,
}

struct Receiver {
    secrets: Vec<WebhookSecret>,
    /// Fails every other request (half of them).
    flaky: bool,
    log: Mutex<Log>,
    requests: Mutex<u64>,
    changed: Notify,
}

impl Receiver {
    fn new(secrets: &[&str], flaky: bool) -> Arc<Self> {
        Arc::new(Self {
            secrets: secrets
                .iter()
                .map(|s| WebhookSecret::new(*s).unwrap())
                .collect(),
            flaky,
            log: Mutex::new(Log::default()),
            requests: Mutex::new(0),
            changed: Notify::new(),
        })
    }

    fn distinct(&self) -> BTreeSet<u64> {
        self.log
            .lock()
            .unwrap()
            .accepted
            .iter()
            .map(|a| a.0)
            .collect()
    }

    /// Waits until it accepted every id of `ids` (at most 60 s).
    async fn wait_for(&self, ids: &BTreeSet<u64>) {
        let all = async {
            loop {
                let changed = self.changed.notified();
                if ids.is_subset(&self.distinct()) {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(60), all)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "not every event arrived: missing {:?}",
                    ids.difference(&self.distinct()).collect::<Vec<_>>()
                )
            });
    }
}

async fn hook(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Http {
    let answer = {
        let mut n = r.requests.lock().unwrap();
        *n += 1;
        let signature = headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let verified = verify_signature(
            signature,
            &body,
            &r.secrets,
            agora_ports::Clock::now(&SystemClock),
            DEFAULT_TOLERANCE,
        );
        let mut log = r.log.lock().unwrap();
        if verified.is_err() {
            log.bad_signatures += 1;
            Http::BAD_REQUEST
        } else if r.flaky && *n % 2 == 1 {
            log.refused += 1;
            Http::INTERNAL_SERVER_ERROR
        } else {
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            log.accepted.push((
                json["id"].as_u64().unwrap(),
                json["intervention_id"].as_i64(),
                json["type"].as_str().unwrap().to_owned(),
            ));
            Http::NO_CONTENT
        }
    };
    r.changed.notify_waiters();
    answer
}

/// Serves `receiver` on 127.0.0.1; its URL.
async fn serve(receiver: Arc<Receiver>) -> String {
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

fn work_order(oem: u32) -> MandateLightResponse {
    serde_json::from_value(serde_json::json!({
        "ManufacturerId": oem, "InterventionTypeId": 1,
        "Consumer": {"Title": "1", "LastName": "Martin", "FirstName": "Claire", "Address1": "12 rue des Lilas"}
    }))
    .unwrap()
}

struct World {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    app: Agora<SimClient, SqliteStore>,
}

/// `files` work orders pulled from the simulator, each repair file then
/// reported twice (two statuses delivered): events of every file in an
/// order of their own.
async fn world(files: usize) -> World {
    let dir = tempfile::Builder::new()
        .prefix("agora-hooks-e2e-")
        .tempdir()
        .unwrap();
    let store = SqliteStore::open(dir.path().join("agora.db")).unwrap();
    let sim = Simulator::new(SimConfig {
        tenants: vec!["a".into()],
        ..SimConfig::default()
    });
    for _ in 0..files {
        sim.publish_mandate("a", work_order(19)).unwrap();
    }
    let app = Agora::new(
        sim.client("a"),
        store.clone(),
        Arc::new(SystemClock),
        AppConfig {
            worker: "e2e".into(),
            ..AppConfig::default()
        },
    );
    let sync = app.sync_work_orders().await.unwrap();
    assert_eq!(sync.accepted.len(), files);
    let ids: Vec<_> = store
        .repairs()
        .await
        .unwrap()
        .iter()
        .map(|r| r.intervention_id)
        .collect();
    let mut rdv = StateNature::new(StatusCode::AppointmentConfirmed, "rdv");
    rdv.appointment_date = Some(WireDateTime::parse("2024-03-02T08:00:00.000Z").unwrap());
    rdv.appointment_end_date = Some(WireDateTime::parse("2024-03-02T09:00:00.000Z").unwrap());
    for status in [rdv, StateNature::new(StatusCode::Diagnosis, "diag")] {
        for id in &ids {
            app.report_status(*id, status.clone()).await.unwrap();
        }
    }
    World {
        _dir: dir,
        store,
        app,
    }
}

async fn all_events(store: &SqliteStore) -> Vec<(u64, Option<i64>)> {
    store
        .events_after(0, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.id, e.intervention_id.map(|i| i.0)))
        .collect()
}

fn endpoint(name: &str, url: &str, secrets: &[&str]) -> WebhookEndpoint {
    WebhookEndpoint::new(
        name,
        url,
        vec![],
        secrets
            .iter()
            .map(|s| WebhookSecret::new(*s).unwrap())
            .collect(),
    )
    .unwrap()
}

fn hooks(endpoints: Vec<WebhookEndpoint>) -> WebhookConfig {
    WebhookConfig {
        endpoints,
        retry: WebhookRetry {
            base: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            max_age: Duration::from_secs(600),
        },
        poll: Duration::from_millis(50),
        ..WebhookConfig::default()
    }
}

/// Each file's accepted event ids, in the order they were accepted.
fn per_file(accepted: &[(u64, Option<i64>, String)]) -> BTreeMap<i64, Vec<u64>> {
    let mut files: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    for (id, file, _) in accepted {
        if let Some(f) = file {
            files.entry(*f).or_default().push(*id);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_in_order_per_file_signed_with_both_secrets_through_a_flaky_receiver() {
    let w = world(6).await;
    let events = all_events(&w.store).await;
    assert!(events.len() >= 6 * 4, "{events:?}");
    let ids: BTreeSet<u64> = events.iter().map(|e| e.0).collect();

    // Rotating: agora signs with the new and the old secret; one receiver
    // knows only the old, the other only the new. The first fails every
    // other request.
    let flaky = Receiver::new(&["whsec_old"], true);
    let steady = Receiver::new(&["whsec_new"], false);
    let config = hooks(vec![
        endpoint(
            "flaky",
            &serve(flaky.clone()).await,
            &["whsec_new", "whsec_old"],
        ),
        endpoint(
            "steady",
            &serve(steady.clone()).await,
            &["whsec_new", "whsec_old"],
        ),
    ]);
    let watch = Arc::new(Watch::new(w.app.clone(), WatchConfig::default()));
    let stop = Stop::new();
    let sender = HttpSender::new(Duration::from_secs(5)).unwrap();
    let task = {
        let (watch, stop) = (watch.clone(), stop.clone());
        tokio::spawn(async move { watch.webhooks(&stop, &sender, &config).await })
    };
    flaky.wait_for(&ids).await;
    steady.wait_for(&ids).await;
    stop.signal();
    let report = task.await.unwrap();

    for (name, r) in [("flaky", &flaky), ("steady", &steady)] {
        let log = r.log.lock().unwrap();
        assert_eq!(log.bad_signatures, 0, "{name}: every signature verifies");
        let distinct: BTreeSet<u64> = log.accepted.iter().map(|a| a.0).collect();
        assert_eq!(distinct, ids, "{name}: every event, once deduplicated");
        assert_eq!(
            log.accepted.len(),
            ids.len(),
            "{name}: exactly once (no lease expired)"
        );
        for (file, order) in per_file(&log.accepted) {
            assert!(
                order.windows(2).all(|p| p[0] < p[1]),
                "{name}: file {file} in order: {order:?}"
            );
        }
    }
    let refused = flaky.log.lock().unwrap().refused;
    assert!(
        refused >= ids.len() as u64 / 2,
        "half the requests failed ({refused})"
    );
    assert_eq!(report.delivered, 2 * ids.len() as u64);
    assert_eq!(report.retried, refused);
    assert!(w.store.webhook_backlog().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_cannot_be_reached_does_not_hold_back_another() {
    let w = world(3).await;
    let ids: BTreeSet<u64> = all_events(&w.store).await.iter().map(|e| e.0).collect();
    let alive = Receiver::new(&["s"], false);
    // A port nothing listens on: connections are refused.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let config = hooks(vec![
        endpoint("dead", &format!("http://{closed}/hook"), &["s"]),
        endpoint("alive", &serve(alive.clone()).await, &["s"]),
    ]);
    let watch = Arc::new(Watch::new(w.app.clone(), WatchConfig::default()));
    let stop = Stop::new();
    let sender = HttpSender::new(Duration::from_secs(5)).unwrap();
    let task = {
        let (watch, stop) = (watch.clone(), stop.clone());
        tokio::spawn(async move { watch.webhooks(&stop, &sender, &config).await })
    };
    alive.wait_for(&ids).await;
    stop.signal();
    let report = task.await.unwrap();
    assert_eq!(report.delivered, ids.len() as u64);
    assert!(report.retried > 0, "the dead endpoint was tried");
    let backlog = w.store.webhook_backlog().await.unwrap();
    assert_eq!(backlog.len(), 1);
    assert_eq!(backlog[0].endpoint, "dead");
    assert_eq!(backlog[0].pending, ids.len() as u64);
}
