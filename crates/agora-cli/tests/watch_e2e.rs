//! The whole product end to end, as a service center runs it. The
//! simulator on autopilot plays the OEM over loopback HTTP: work orders
//! arrive, ordered parts ship or turn out unavailable, claims are decided,
//! all on its clock, which the test advances. `agora watch` (the binary)
//! pulls, tracks and sends, and POSTs every event to a receiver served
//! here, which checks each signature and refuses the first try of every
//! other event. The service center's own commands (`agora status report`,
//! `agora parts add` and `order`, `agora claims submit`) run beside it on
//! the same store. A SIGTERM while the worker is sending leaves nothing in
//! doubt. After a restart, the rest of a month (an order cancelled, a claim
//! not valid, an order in doubt then resolved, an invoice sent, a catalog
//! synced) gives every type of event; every event recorded has arrived,
//! exactly once when duplicates are dropped by id, in order per repair
//! file.
//!
//! Each wait is for a condition (an event, a metric, a receiver's log),
//! polled with a deadline; the simulator's time moves only when the test
//! advances it.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agora_mock::{Autopilot, ClockChange, Faults, SimConfig};
use agora_ports::{DEFAULT_TOLERANCE, SIGNATURE_HEADER, WebhookSecret, verify_signature};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as Http};
use jiff::SignedDuration;
use serde_json::{Value, json};

mod support;
use support::{Env, get, stop, text};

const KEY: &str = "watch-e2e-key-0001";
const SECRET: &str = "whsec_e2e_0123456789";
/// Work orders the autopilot publishes in the hour the test advances.
const FILES: usize = 4;

/// What the receiver saw.
#[derive(Default)]
struct Log {
    /// (event id, repair file, type) of each request answered 2xx, in order.
    accepted: Vec<(u64, Option<i64>, String)>,
    /// Event ids refused once on purpose.
    refused: BTreeSet<u64>,
    /// Requests whose signature did not verify.
    bad_signatures: u64,
}

/// A webhook receiver that refuses the first try of every other event.
#[derive(Default)]
struct Receiver {
    log: Mutex<Log>,
}

impl Receiver {
    fn distinct(&self) -> BTreeSet<u64> {
        self.log
            .lock()
            .unwrap()
            .accepted
            .iter()
            .map(|a| a.0)
            .collect()
    }
}

async fn hook(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Http {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let secrets = [WebhookSecret::new(SECRET).unwrap()];
    let now = agora_ports::Clock::now(&agora_ports::SystemClock);
    let mut log = r.log.lock().unwrap();
    if verify_signature(signature, &body, &secrets, now, DEFAULT_TOLERANCE).is_err() {
        log.bad_signatures += 1;
        return Http::BAD_REQUEST;
    }
    let event: Value = serde_json::from_slice(&body).unwrap();
    let id = event["id"].as_u64().unwrap();
    if id % 2 == 1 && log.refused.insert(id) {
        return Http::SERVICE_UNAVAILABLE;
    }
    log.accepted.push((
        id,
        event["intervention_id"].as_i64(),
        event["type"].as_str().unwrap().to_owned(),
    ));
    Http::NO_CONTENT
}

/// Serves `receiver` on loopback; its URL.
async fn serve(receiver: Arc<Receiver>) -> String {
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

impl Env {
    /// Every event recorded, from `agora events --json` (NDJSON).
    async fn events(&self) -> Vec<Value> {
        let out = self.run(&["events", "--json"]).await;
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits until the events recorded satisfy `what` (at most 60 s).
    async fn until_events(&self, what: &str, holds: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let events = self.events().await;
            if holds(&events) {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "never: {what}; events: {}",
                events
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn advance(&self, by: SignedDuration) {
        self.sim()
            .change_clock(Some(KEY), &ClockChange::Advance(by))
            .unwrap();
    }
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["type"] == kind).count()
}

/// The repair files with an event of one of `kinds`.
fn files_with(events: &[Value], kinds: &[&str]) -> BTreeSet<i64> {
    events
        .iter()
        .filter(|e| kinds.iter().any(|k| e["type"] == *k))
        .filter_map(|e| e["intervention_id"].as_i64())
        .collect()
}

/// A running `agora watch`: the child, its health address, and its stderr
/// as read so far (drained by a thread so that it never blocks).
struct Worker {
    child: Option<Child>,
    metrics: String,
    stderr: Arc<Mutex<String>>,
}

/// A test that fails leaves no worker running.
impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Worker {
    /// The child, which the worker no longer kills when dropped.
    fn take(mut self) -> Child {
        self.child.take().unwrap()
    }

    fn start(env: &Env) -> Self {
        let mut child = env
            .command(&[
                "watch",
                "--work-orders-every",
                "1s",
                "--tracking-every",
                "1s",
                "--outbox-poll",
                "200ms",
                "--metrics",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let metrics = loop {
            line.clear();
            assert!(lines.read_line(&mut line).unwrap() > 0, "no address said");
            if let Some(rest) = line.trim().strip_prefix("health on http://") {
                break rest.split('/').next().unwrap().to_owned();
            }
        };
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = lines.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            child: Some(child),
            metrics,
            stderr,
        }
    }

    /// A gauge or counter of `/metrics`, summed over the lines whose name
    /// and labels start with `series`.
    async fn metric(&self, series: &str) -> f64 {
        let addr = self.metrics.clone();
        let (_, _, body) = tokio::task::spawn_blocking(move || get(&addr, "/metrics"))
            .await
            .unwrap();
        body.lines()
            .filter(|l| l.starts_with(series))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// SIGTERM, then waits for it to end: whether it ended well.
    async fn terminate(self) -> bool {
        let mut child = self.take();
        let status = tokio::task::spawn_blocking(move || stop(&mut child, "-TERM"))
            .await
            .unwrap();
        status.success()
    }
}

/// A claim for a file of the autopilot's work orders (DeLonghi, under
/// warranty), written where `agora claims submit --file` reads it.
fn claim_file(dir: &Path, id: i64) -> PathBuf {
    let path = dir.join(format!("claim-{id}.json"));
    std::fs::write(
        &path,
        json!({
            "ClaimType": {"InterventionId": id, "ManufacturerId": 19, "CommercialRef": "ECAM22.110.B",
                          "SerialNumber": "1234567890123456789"},
            "ClaimConso": {"LastName": "Martin", "Address1": "12 rue des Lilas", "Zip": "69003",
                           "City": "Lyon", "MobilePhone": "0612345678"},
            "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z",
                           "InterventionStartDateTime": "2024-03-02T08:00:00Z",
                           "InterventionEndDateTime": "2024-03-02T09:00:00Z"},
            "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 45.5},
            "ClaimParts": [{"PartReference": "00019-00000001", "Quantity": 1}]
        })
        .to_string(),
    )
    .unwrap();
    path
}

/// A claim missing what the OEM's rules require (the serial number, the
/// product's reference): AgoraPlus answers NOTVALID with its messages.
fn not_valid_claim_file(dir: &Path, id: i64) -> PathBuf {
    let path = dir.join(format!("claim-{id}-not-valid.json"));
    std::fs::write(
        &path,
        json!({
            "ClaimType": {"InterventionId": id, "ManufacturerId": 19},
            "ClaimConso": {"LastName": "Martin"},
            "ClaimLab": {"OriginCode": "WAR"}
        })
        .to_string(),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_against_the_autopilot_delivers_every_event_once_in_order_and_stops_with_nothing_in_doubt()
 {
    let config = SimConfig {
        tenants: vec![KEY.into()],
        seed: 21,
        catalog_size: 100,
        // A re-sent report is journaled again, so a duplicate shows.
        apply_duplicates: true,
        autopilot: Some(Autopilot {
            work_orders_per_hour: FILES as f64,
            ship_after_seconds: 600,
            unavailable_rate: 0.5,
            decide_after_seconds: 600,
            not_conform_rate: 0.5,
            monthly_drafts: false,
            accounts: vec![],
        }),
        ..SimConfig::default()
    };
    let mut env = Env::start("watch-e2e", config).await;
    env.sim()
        .change_clock(Some(KEY), &ClockChange::Freeze)
        .unwrap();
    let receiver = Arc::new(Receiver::default());
    let url = serve(receiver.clone()).await;
    let config_path = env.dir.path().join("agora.json");
    std::fs::write(
        &config_path,
        json!({"webhooks": [{"name": "products", "url": url, "secrets": [SECRET]}]}).to_string(),
    )
    .unwrap();
    env.config = Some(config_path);

    let worker = Worker::start(&env);

    // An hour of the OEM's time: its work orders arrive, the worker pulls
    // them.
    env.advance(SignedDuration::from_hours(1));
    let events = env
        .until_events("every work order pulled", |e| {
            count(e, "repair_file.created") == FILES
        })
        .await;
    let files: Vec<i64> = events
        .iter()
        .filter(|e| e["type"] == "repair_file.created")
        .map(|e| e["intervention_id"].as_i64().unwrap())
        .collect();

    // The service center works on each file from the command line.
    for id in &files {
        let id = id.to_string();
        env.json(&[
            "status",
            "report",
            &id,
            "102",
            "--start",
            "2024-03-02T08:00:00Z",
            "--end",
            "2024-03-02T09:00:00Z",
        ])
        .await;
        env.json(&["parts", "add", &id, "00019-00000009"]).await;
        env.json(&["parts", "order", &id]).await;
        let claim = claim_file(env.dir.path(), id.parse().unwrap());
        env.json(&["claims", "submit", &id, "--file", claim.to_str().unwrap()])
            .await;
    }

    // Another hour: the OEM ships or gives up each order and decides each
    // claim; the worker's tracking sees it.
    env.advance(SignedDuration::from_hours(1));
    let events = env
        .until_events("every order and claim settled", |e| {
            // A NOTCONFORM claim whose messages change (an order of its
            // file turned out unavailable) is an event again.
            files_with(e, &["part_order.shipped", "part_order.unavailable"]).len() == FILES
                && files_with(e, &["claim.closedaccepted", "claim.notconform"]).len() == FILES
                && count(e, "repair_file.created") == 2 * FILES
        })
        .await;

    // A SIGTERM while the worker is sending, on the files of the second
    // hour. AgoraPlus refuses updates for a while, so the commands leave
    // their reports in the outbox for the worker; then it holds each
    // update 1.5 s before applying it.
    let second: Vec<i64> = files_with(&events, &["repair_file.created"])
        .into_iter()
        .filter(|f| !files.contains(f))
        .collect();
    env.sim()
        .set_faults(
            KEY,
            Faults {
                status503_rate: 1.0,
                routes: vec!["UpdateRepair".into()],
                ..Faults::default()
            },
        )
        .unwrap();
    for id in &second {
        let out = env
            .run(&[
                "--retry-attempts",
                "1",
                "status",
                "report",
                &id.to_string(),
                "102",
                "--start",
                "2024-03-04T08:00:00Z",
                "--end",
                "2024-03-04T09:00:00Z",
            ])
            .await;
        assert!(
            text(&out).contains("queued as entry"),
            "refused for now: {}",
            text(&out)
        );
    }
    env.sim()
        .set_faults(
            KEY,
            Faults {
                hold_rate: 1.0,
                hold_ms: 1500,
                routes: vec!["UpdateRepair".into()],
                ..Faults::default()
            },
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while worker
        .metric("agora_outbox_entries{state=\"sending\"}")
        .await
        < 1.0
    {
        if Instant::now() > deadline {
            let outbox = env.json(&["outbox", "list"]).await;
            panic!(
                "the worker never sent: {outbox}\n{}",
                worker.stderr.lock().unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let said = worker.stderr.clone();
    assert!(worker.terminate().await, "{}", said.lock().unwrap());
    let outbox = env.json(&["outbox", "list"]).await;
    let reports: Vec<&Value> = outbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| second.contains(&e["InterventionId"].as_i64().unwrap_or_default()))
        .collect();
    assert_eq!(reports.len(), FILES, "{outbox}");
    assert!(
        reports
            .iter()
            .all(|e| e["state"] == "delivered" || e["state"] == "pending"),
        "nothing in doubt or left sending: {reports:?}"
    );
    assert!(
        reports.iter().any(|e| e["state"] == "delivered"),
        "the send under way finished: {reports:?}"
    );

    // Restarted, the worker sends the rest and delivers every event.
    env.sim().set_faults(KEY, Faults::default()).unwrap();
    let worker = Worker::start(&env);
    env.until_events("every status report delivered", |e| {
        files_with(e, &["status.delivered"]).len() == 2 * FILES
    })
    .await;

    // The rest of a month, beside the restarted worker: an order the OEM
    // cancels, a claim AgoraPlus finds not valid, an order cut after
    // AgoraPlus applied it (in doubt, then resolved), a draft invoice the
    // OEM issues for the accepted claims and the invoice sent for it, a
    // catalog synced.
    let (cancelled, not_valid, cut) = (
        second[0].to_string(),
        second[1].to_string(),
        second[2].to_string(),
    );
    env.json(&["parts", "add", &cancelled, "00019-00000009"])
        .await;
    let order = env.json(&["parts", "order", &cancelled]).await;
    let order = order[0]["OrderNumber"].as_str().unwrap().to_owned();
    env.sim().set_logistic(KEY, &order, "207").unwrap();
    let claim = not_valid_claim_file(env.dir.path(), not_valid.parse().unwrap());
    let out = env
        .run(&[
            "claims",
            "submit",
            &not_valid,
            "--file",
            claim.to_str().unwrap(),
        ])
        .await;
    assert!(text(&out).contains("NOTVALID"), "{}", text(&out));
    env.json(&["parts", "add", &cut, "00019-00000009"]).await;
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
    let out = env.run(&["parts", "order", &cut]).await;
    assert_eq!(out.status.code(), Some(5), "in doubt: {}", text(&out));
    env.sim().set_faults(KEY, Faults::default()).unwrap();
    let doubt = env.json(&["outbox", "list", "--state", "in-doubt"]).await;
    let doubt = doubt[0]["id"].as_u64().unwrap().to_string();
    env.json(&["outbox", "resolve", &doubt, "--as", "applied"])
        .await;
    let (draft, claims) = env
        .sim()
        .draft_invoice(KEY, agora_domain::ManufacturerId(19))
        .unwrap();
    assert!(!claims.is_empty(), "accepted claims to invoice");
    let mut register = vec![
        "invoices".to_owned(),
        "register".to_owned(),
        "--draft".to_owned(),
        draft.to_string(),
        "--invoice".to_owned(),
        "INV-E2E-1".to_owned(),
    ];
    for c in &claims {
        register.extend(["--claim".to_owned(), c.to_string()]);
    }
    env.json(&register.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    env.json(&["catalog", "sync", "--oem", "19"]).await;
    let events = env
        .until_events("the cancelled order tracked", |e| {
            count(e, "part_order.cancelled") == 1
        })
        .await;
    for kind in agora_ports::EventType::ALL.map(agora_ports::EventType::as_str) {
        assert!(count(&events, kind) > 0, "no {kind}: {:?}", types(&events));
    }
    let ids: BTreeSet<u64> = events.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ids.is_subset(&receiver.distinct()) {
        assert!(
            Instant::now() < deadline,
            "not every event arrived: missing {:?}",
            ids.difference(&receiver.distinct()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(worker.terminate().await);

    let outbox = env.json(&["outbox", "list"]).await;
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["state"] == "delivered"),
        "{outbox}"
    );
    let log = receiver.log.lock().unwrap();
    assert_eq!(log.bad_signatures, 0, "every signature verifies");
    assert!(!log.refused.is_empty(), "the receiver refused some tries");
    let distinct: BTreeSet<u64> = log.accepted.iter().map(|a| a.0).collect();
    assert_eq!(distinct, ids, "every event, once deduplicated");
    let mut per_file: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    for (id, file, _) in &log.accepted {
        if let Some(f) = file {
            per_file.entry(*f).or_default().push(*id);
        }
    }
    for (file, order) in per_file {
        let mut seen = BTreeSet::new();
        let firsts: Vec<u64> = order.into_iter().filter(|i| seen.insert(*i)).collect();
        assert!(
            firsts.windows(2).all(|p| p[0] < p[1]),
            "file {file}: in order: {firsts:?}"
        );
    }
    // Each status report reached AgoraPlus once: the simulator's journal
    // (which applies a re-send as a duplicate) holds one per report.
    let reports = env
        .sim()
        .journal(KEY)
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.route == "UpdateRepair"
                && second.iter().any(|f| {
                    r.intent.starts_with("status 102 ")
                        && r.intent.ends_with(&format!(" of file {f}"))
                })
        })
        .collect::<Vec<_>>();
    assert_eq!(
        reports.len(),
        FILES,
        "each held report applied once: {reports:?}"
    );
}
