//! The worker's webhook and retention loops, and the event stream, on
//! tokio's paused clock against a SQLite store, with a receiver that
//! checks every signature and answers as each test says. No real sleep:
//! time moves only when every task waits.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_app::{Agora, AppConfig, RetentionConfig, Stop, Watch, WatchConfig, WebhookConfig};
use agora_domain::{InterventionId, OrderNumber, PartOrderLine};
use agora_mock::{SimClient, SimConfig, Simulator};
use agora_ports::{
    Attempt, Clock, DEFAULT_TOLERANCE, DeliveryState, EventType, Events, Lease, LocalRepair,
    Operation, OperationAnswer, Outbox, RepairFiles, SendFailure, WebhookBacklog,
    WebhookDeliveries, WebhookEndpoint, WebhookRetry, WebhookSecret, WebhookSender,
    verify_signature,
};
use agora_store_sqlite::SqliteStore;
use async_trait::async_trait;
use futures_util::StreamExt;
use jiff::Timestamp;
use tokio::time::{Instant, sleep};

/// A clock that follows tokio's (paused) clock, from a fixed instant.
struct TokioClock {
    base: Timestamp,
    start: Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        self.base + (Instant::now() - self.start)
    }
}

/// One POST the receiver saw.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    endpoint: String,
    event: u64,
    kind: String,
    /// Seconds since the test started (tokio's clock).
    at: u64,
    ok: bool,
}

type Rule = Box<dyn Fn(&str, u64, u32) -> bool + Send + Sync>;

/// A receiver: checks each signature with each secret of the endpoint
/// alone (either must verify), and answers 2xx as `rule(endpoint, event,
/// attempt)` says.
struct Receiver {
    start: Instant,
    clock: Arc<TokioClock>,
    rule: Rule,
    seen: Mutex<Vec<Seen>>,
    attempts: Mutex<HashMap<(String, u64), u32>>,
}

impl Receiver {
    fn new(clock: Arc<TokioClock>, rule: Rule) -> Self {
        Self {
            start: clock.start,
            clock,
            rule,
            seen: Mutex::new(Vec::new()),
            attempts: Mutex::new(HashMap::new()),
        }
    }

    fn seen(&self, endpoint: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.endpoint == endpoint)
            .cloned()
            .collect()
    }
}

#[async_trait]
impl WebhookSender for Receiver {
    async fn post(
        &self,
        endpoint: &WebhookEndpoint,
        body: Vec<u8>,
        signature: String,
    ) -> Result<(), SendFailure> {
        for secret in &endpoint.secrets {
            verify_signature(
                &signature,
                &body,
                std::slice::from_ref(secret),
                self.clock.now(),
                DEFAULT_TOLERANCE,
            )
            .expect("each secret alone verifies");
        }
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let event = json["id"].as_u64().unwrap();
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let n = attempts.entry((endpoint.name.clone(), event)).or_default();
            *n += 1;
            *n
        };
        let ok = (self.rule)(&endpoint.name, event, attempt);
        self.seen.lock().unwrap().push(Seen {
            endpoint: endpoint.name.clone(),
            event,
            kind: json["type"].as_str().unwrap().to_owned(),
            at: (Instant::now() - self.start).as_secs(),
            ok,
        });
        if ok {
            Ok(())
        } else {
            Err(SendFailure("answered 503".into()))
        }
    }
}

struct World {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    clock: Arc<TokioClock>,
    sim: Simulator,
}

fn world(base: Timestamp) -> World {
    let dir = tempfile::Builder::new()
        .prefix("agora-hooks-")
        .tempdir()
        .unwrap();
    let store = SqliteStore::open(dir.path().join("agora.db")).unwrap();
    let clock = Arc::new(TokioClock {
        base,
        start: Instant::now(),
    });
    let sim = Simulator::with_clock(
        SimConfig {
            tenants: vec!["a".into()],
            ..SimConfig::default()
        },
        clock.clone(),
    );
    World {
        _dir: dir,
        store,
        clock,
        sim,
    }
}

impl World {
    fn watch(&self) -> Watch<SimClient, SqliteStore> {
        Watch::new(
            Agora::new(
                self.sim.client("a"),
                self.store.clone(),
                self.clock.clone(),
                AppConfig {
                    worker: "w1".into(),
                    ..AppConfig::default()
                },
            ),
            WatchConfig::default(),
        )
    }
}

fn secret(s: &str) -> WebhookSecret {
    WebhookSecret::new(s).unwrap()
}

fn endpoint(name: &str, secrets: &[&str]) -> WebhookEndpoint {
    WebhookEndpoint::new(
        name,
        &format!("http://127.0.0.1:9/{name}"),
        vec![],
        secrets.iter().map(|s| secret(s)).collect(),
    )
    .unwrap()
}

/// A repair file never stored.
fn repair(id: i64) -> LocalRepair {
    let file = agora_domain::CompleteRepairState {
        intervention_id: Some(InterventionId(id)),
        ..Default::default()
    };
    LocalRepair {
        intervention_id: InterventionId(id),
        mandate_id: None,
        file,
        lifecycle: agora_domain::lifecycle::RepairLifecycle::direct(None, None),
        claim_id: None,
        orders: vec![],
        attention: None,
        revision: 0,
        work_order: None,
        accepted_at: None,
    }
}

/// Records: file 1 created, file 2 created, a part order placed on file 1.
async fn three_events(store: &SqliteStore) -> [u64; 3] {
    store.upsert_repair(&repair(1)).await.unwrap();
    store.upsert_repair(&repair(2)).await.unwrap();
    let mut r = store.repair(InterventionId(1)).await.unwrap().unwrap();
    r.orders.push(PartOrderLine {
        order_number: Some(OrderNumber::from("ORD-1")),
        ..PartOrderLine::default()
    });
    store.upsert_repair(&r).await.unwrap();
    let events = store.events_after(0, 10).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "repair_file.created",
            "repair_file.created",
            "part_order.placed"
        ]
    );
    [events[0].id, events[1].id, events[2].id]
}

fn hooks(endpoints: Vec<WebhookEndpoint>) -> WebhookConfig {
    WebhookConfig {
        endpoints,
        retry: WebhookRetry {
            base: Duration::from_secs(5),
            max_delay: Duration::from_secs(20),
            max_age: Duration::from_secs(60),
        },
        poll: Duration::from_secs(1),
        ..WebhookConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn endpoints_are_served_apart_and_a_failing_event_holds_back_only_its_file() {
    let w = world("2024-03-01T09:00:00Z".parse().unwrap());
    let [a1, b1, a2] = three_events(&w.store).await;
    let receiver = Arc::new(Receiver::new(
        w.clock.clone(),
        Box::new(move |endpoint, event, attempt| match endpoint {
            "down" => false,
            // Fails file 1's first event twice, nothing else.
            "picky" => !(event == a1 && attempt <= 2),
            _ => true,
        }),
    ));
    let watch = Arc::new(w.watch());
    let stop = Stop::new();
    let config = hooks(vec![
        endpoint("ok", &["new", "old"]),
        endpoint("down", &["s"]),
        endpoint("picky", &["s"]),
    ]);
    let task = {
        let (watch, stop, receiver, config) = (
            watch.clone(),
            stop.clone(),
            receiver.clone(),
            config.clone(),
        );
        tokio::spawn(async move { watch.webhooks(&stop, &*receiver, &config).await })
    };

    sleep(Duration::from_millis(500)).await;
    // A healthy endpoint has every event at once, whatever the others do.
    let ok: Vec<(u64, bool)> = receiver
        .seen("ok")
        .iter()
        .map(|s| (s.event, s.ok))
        .collect();
    assert_eq!(ok, [(a1, true), (b1, true), (a2, true)]);
    // Picky: file 2 went through; file 1's later event waits behind its
    // first.
    let picky: Vec<(u64, bool)> = receiver
        .seen("picky")
        .iter()
        .map(|s| (s.event, s.ok))
        .collect();
    assert_eq!(picky, [(a1, false), (b1, true)]);

    sleep(Duration::from_secs(20)).await;
    let picky: Vec<(u64, u64, bool)> = receiver
        .seen("picky")
        .iter()
        .map(|s| (s.event, s.at, s.ok))
        .collect();
    assert_eq!(
        picky,
        [
            (a1, 0, false),
            (b1, 0, true),
            (a1, 5, false),
            (a1, 15, true),
            (a2, 15, true)
        ],
        "retried after 5 s then 10 s; file 1's later event right after"
    );

    // Down: retried with a doubling delay capped at 20 s, given up once
    // the next attempt would pass the maximum age (60 s); its later event
    // then goes, and is given up at its first failure (queued at 0).
    sleep(Duration::from_secs(45)).await;
    let tries: Vec<u64> = receiver
        .seen("down")
        .iter()
        .filter(|s| s.event == a1)
        .map(|s| s.at)
        .collect();
    assert_eq!(tries, [0, 5, 15, 35, 55]);
    assert_eq!(
        w.store.delivery_state("down", a1).await.unwrap(),
        Some(DeliveryState::Failed)
    );
    assert_eq!(
        w.store.delivery_state("down", a2).await.unwrap(),
        Some(DeliveryState::Failed)
    );
    assert_eq!(
        w.store.webhook_backlog().await.unwrap(),
        [WebhookBacklog {
            endpoint: "down".into(),
            pending: 0,
            failed: 3
        }]
    );

    // Redelivered: queued again, and sent from its first attempt.
    w.store
        .requeue_deliveries("down", &[b1], w.clock.now())
        .await
        .unwrap();
    sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.seen("down").last().unwrap().event, b1);

    stop.signal();
    let report = task.await.unwrap();
    assert_eq!(report.delivered, 3 + 3, "ok's three, picky's three");
    assert_eq!(report.gave_up, 3);
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_gets_only_the_types_it_wants_and_events_recorded_later() {
    let w = world("2024-03-01T09:00:00Z".parse().unwrap());
    let receiver = Arc::new(Receiver::new(w.clock.clone(), Box::new(|_, _, _| true)));
    let watch = Arc::new(w.watch());
    let stop = Stop::new();
    let parts = WebhookEndpoint::new(
        "parts",
        "http://localhost:9/parts",
        vec![EventType::PartOrderPlaced],
        vec![secret("s")],
    )
    .unwrap();
    let config = hooks(vec![parts]);
    let task = {
        let (watch, stop, receiver) = (watch.clone(), stop.clone(), receiver.clone());
        tokio::spawn(async move { watch.webhooks(&stop, &*receiver, &config).await })
    };
    sleep(Duration::from_secs(3)).await;
    assert!(receiver.seen("parts").is_empty(), "nothing recorded yet");
    let [_, _, placed] = three_events(&w.store).await;
    sleep(Duration::from_secs(2)).await;
    let seen = receiver.seen("parts");
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].event, seen[0].kind.as_str()),
        (placed, "part_order.placed")
    );
    stop.signal();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_worker_prunes_what_is_older_than_the_retention_period() {
    // Events are stamped by the store's clock (the real one): the test's
    // clock starts now.
    let w = world(agora_ports::SystemClock.now());
    three_events(&w.store).await;
    // A delivered outbox entry (sent now) and a pending one.
    let delivered = w
        .store
        .enqueue(
            Some(InterventionId(1)),
            &Operation::PlaceOrder(InterventionId(1)),
            w.clock.now(),
        )
        .await
        .unwrap();
    let lease = Lease {
        owner: "w".into(),
        until: w.clock.now() + Duration::from_secs(60),
    };
    let got = w
        .store
        .claim(delivered, w.clock.now(), &lease)
        .await
        .unwrap()
        .unwrap();
    w.store
        .finish(
            delivered,
            "w",
            got.attempts,
            &Attempt::Delivered(OperationAnswer::Done),
            w.clock.now(),
        )
        .await
        .unwrap();
    let pending = w
        .store
        .enqueue(
            Some(InterventionId(2)),
            &Operation::PlaceOrder(InterventionId(2)),
            w.clock.now(),
        )
        .await
        .unwrap();

    let watch = Arc::new(w.watch());
    let stop = Stop::new();
    let config = RetentionConfig {
        keep: Duration::from_secs(86_400),
        every: Duration::from_secs(3600),
    };
    let task = {
        let (watch, stop) = (watch.clone(), stop.clone());
        tokio::spawn(async move { watch.retention(&stop, &config).await })
    };
    sleep(Duration::from_secs(23 * 3600)).await;
    assert_eq!(w.store.events_after(0, 10).await.unwrap().len(), 3);
    assert!(w.store.entry(delivered).await.unwrap().is_some());

    sleep(Duration::from_secs(2 * 3600 + 1800)).await;
    assert!(
        w.store.events_after(0, 10).await.unwrap().is_empty(),
        "pruned by the run at 25 h (the one at 24 h found them just younger)"
    );
    assert!(w.store.entry(delivered).await.unwrap().is_none());
    assert!(
        w.store.entry(pending).await.unwrap().is_some(),
        "a pending entry is kept"
    );
    stop.signal();
    let pruned = task.await.unwrap();
    assert_eq!((pruned.events, pruned.outbox_entries), (3, 1));
}

#[tokio::test(start_paused = true)]
async fn the_event_stream_reads_from_an_id_then_follows_new_events() {
    let w = world("2024-03-01T09:00:00Z".parse().unwrap());
    let [a1, b1, a2] = three_events(&w.store).await;
    let app = Agora::new(
        w.sim.client("a"),
        w.store.clone(),
        w.clock.clone(),
        AppConfig::default(),
    );
    let stream = app.events_from(a1, Duration::from_secs(1));
    futures_util::pin_mut!(stream);
    let first: Vec<u64> = stream
        .as_mut()
        .take(2)
        .map(|e| e.unwrap().id)
        .collect()
        .await;
    assert_eq!(first, [b1, a2], "after the id given, in order");

    let store = w.store.clone();
    tokio::spawn(async move {
        sleep(Duration::from_secs(30)).await;
        store.upsert_repair(&repair(3)).await.unwrap();
    });
    let started = Instant::now();
    let next = stream.next().await.unwrap().unwrap();
    assert_eq!(next.kind, "repair_file.created");
    assert_eq!(next.intervention_id, Some(InterventionId(3)));
    let waited = Instant::now() - started;
    assert!(
        waited >= Duration::from_secs(30) && waited <= Duration::from_secs(31),
        "seen within a poll of its recording: {waited:?}"
    );
}

/// PostgreSQL: a worker whose clock runs an hour ahead takes no delivery
/// another worker holds under a live lease (leases are judged by the
/// database's clock), and sends the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_worker_whose_clock_runs_ahead_takes_no_live_webhook_lease() {
    use agora_store_postgres::PostgresStore;
    let server =
        agora_store_postgres::throwaway::Server::start().unwrap_or_else(|why| panic!("{why}"));
    let url = server.create_database("hooks").await.unwrap();
    let store = PostgresStore::connect(&url).await.unwrap();
    store.upsert_repair(&repair(1)).await.unwrap();
    let held = store.events_after(0, 10).await.unwrap()[0].id;
    let db_now = store.clock().await.unwrap().unwrap();
    assert!(
        store
            .queue_deliveries("hooks", 0, held, &[held], db_now)
            .await
            .unwrap()
    );
    let lease = Lease {
        owner: "slow#webhook-hooks".into(),
        until: db_now + Duration::from_secs(60),
    };
    let claimed = store
        .claim_deliveries("hooks", db_now, &lease, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    store.upsert_repair(&repair(2)).await.unwrap();
    let free = store.events_after(held, 10).await.unwrap()[0].id;

    let ahead = Arc::new(TokioClock {
        base: agora_ports::SystemClock.now() + Duration::from_secs(3600),
        start: Instant::now(),
    });
    let receiver = Arc::new(Receiver::new(ahead.clone(), Box::new(|_, _, _| true)));
    let watch = Arc::new(Watch::new(
        Agora::new(
            Simulator::new(SimConfig {
                tenants: vec!["a".into()],
                ..SimConfig::default()
            })
            .client("a"),
            PostgresStore::connect(&url).await.unwrap(),
            ahead,
            AppConfig {
                worker: "fast".into(),
                ..AppConfig::default()
            },
        ),
        WatchConfig::default(),
    ));
    let stop = Stop::new();
    let task = {
        let (watch, stop, receiver) = (watch.clone(), stop.clone(), receiver.clone());
        let config = hooks(vec![endpoint("hooks", &["s"])]);
        tokio::spawn(async move { watch.webhooks(&stop, receiver.as_ref(), &config).await })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.seen("hooks").is_empty() {
        assert!(Instant::now() < deadline, "the free event was never sent");
        sleep(Duration::from_millis(10)).await;
    }
    // The round that sent it is over once the worker stops.
    stop.signal();
    task.await.unwrap();
    let sent: Vec<u64> = receiver.seen("hooks").iter().map(|s| s.event).collect();
    assert_eq!(sent, [free], "the held delivery stays its holder's");
}
