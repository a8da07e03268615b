//! The catalog sync end to end (agora-app over agora-http against
//! agora-sim, into the SQLite store) when the delta does not go well: cut
//! mid-way, judged an error after its records, read by a slow consumer; and
//! the overlap window that catches a change the cursor alone would miss.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_app::{Agora, AppConfig, CatalogKind, CatalogSync};
use agora_domain::{Lcid, ManufacturerId, SparePart};
use agora_http::{AgoraClient, ApiKey, ClientConfig, Environment, RetryPolicy};
use agora_mock::SimConfig;
use agora_ports::{AgoraError, CatalogStore, Clock, DeltaQuery, SyncCursors};
use agora_store_sqlite::SqliteStore;
use agora_tests::{ManualClock, serve};
use jiff::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const KEY: &str = "catalog-sync-key";
const OEM: ManufacturerId = ManufacturerId(19);
const CURSOR: &str = "spareparts/19/1033";

fn config(size: u64) -> SimConfig {
    SimConfig {
        tenants: vec![KEY.into()],
        seed: 12,
        catalog_size: size,
        ..SimConfig::default()
    }
}

/// A client of `url`, without retries (a retry would hide the failure).
fn client_at(url: &str) -> AgoraClient {
    // Batches of 1,000 (not the default 10,000): a delta dropped after a
    // tenth of its 20,000 records has stored some of them.
    let config = ClientConfig::new(Environment::Custom(url.to_owned()), ApiKey::new(KEY))
        .with_retry(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        })
        .with_delta_batch_size(1_000);
    AgoraClient::new(config).unwrap()
}

/// The use cases over a client of `url` and a new store, with `clock`.
fn app_at(
    url: &str,
    clock: Arc<dyn Clock>,
    config: AppConfig,
) -> (tempfile::TempDir, Agora<AgoraClient, SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("agora.db")).unwrap();
    (dir, Agora::new(client_at(url), store, clock, config))
}

async fn sync(app: &Agora<AgoraClient, SqliteStore>) -> Result<CatalogSync, AgoraError> {
    app.sync_catalog(OEM, Lcid::ENGLISH, CatalogKind::SpareParts, &mut |_| {})
        .await
}

async fn stored(app: &Agora<AgoraClient, SqliteStore>) -> u64 {
    app.store()
        .count_spare_parts(OEM, Lcid::ENGLISH)
        .await
        .unwrap()
}

/// A TCP proxy in front of a server. It forwards each answer whole, or only
/// its first `cut` bytes (then closes the connection, as a dropped
/// connection would); it counts the bytes it forwarded, and tells on
/// `blocked` how many it had forwarded when a write to the client first
/// could not proceed (the client stopped reading).
struct Proxy {
    url: String,
    cut: Arc<Mutex<Option<usize>>>,
    forwarded: Arc<AtomicUsize>,
    blocked: watch::Receiver<Option<usize>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let cut = Arc::new(Mutex::new(None));
        let forwarded = Arc::new(AtomicUsize::new(0));
        let (blocked_tx, blocked) = watch::channel(None);
        let blocked_tx = Arc::new(blocked_tx);
        let (cut_at, count) = (cut.clone(), forwarded.clone());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let cut = *cut_at.lock().unwrap();
                let (count, blocked_tx) = (count.clone(), blocked_tx.clone());
                tokio::spawn(async move {
                    let (mut from_client, to_client) = client.into_split();
                    let (mut from_server, mut to_server) = server.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut sent = 0usize;
                    loop {
                        let Ok(n) = from_server.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        let n = cut.map_or(n, |cut| n.min(cut - sent));
                        let mut chunk = &buf[..n];
                        while !chunk.is_empty() {
                            match to_client.try_write(chunk) {
                                Ok(k) => {
                                    chunk = &chunk[k..];
                                    sent += k;
                                    count.fetch_add(k, Ordering::SeqCst);
                                }
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                    blocked_tx.send_if_modified(|b| {
                                        b.get_or_insert(count.load(Ordering::SeqCst));
                                        true
                                    });
                                    if to_client.writable().await.is_err() {
                                        return;
                                    }
                                }
                                Err(_) => return,
                            }
                        }
                        if cut == Some(sent) {
                            return; // drops both halves: the connection closes
                        }
                    }
                });
            }
        });
        Self {
            url,
            cut,
            forwarded,
            blocked,
        }
    }

    /// Answers on later connections stop after `bytes` (`None`: whole).
    fn cut_after(&self, bytes: Option<usize>) {
        *self.cut.lock().unwrap() = bytes;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_dropped_mid_way_keeps_the_cursor_and_a_resync_completes() {
    let (server, clock) = serve(config(20_000)).await;
    let proxy = Proxy::start(server.url()).await;
    let (_dir, app) = app_at(&proxy.url, clock.clone(), AppConfig::default());

    // The connection drops after about a tenth of the body.
    proxy.cut_after(Some(400_000));
    let err = sync(&app).await.unwrap_err();
    assert!(matches!(err, AgoraError::Transport(_)), "{err:?}");
    let partial = stored(&app).await;
    assert!(
        partial > 0 && partial < 20_000,
        "some batches were stored before the drop: {partial}"
    );
    assert_eq!(app.store().cursor(CURSOR).await.unwrap(), None);

    proxy.cut_after(None);
    let done = sync(&app).await.unwrap();
    assert_eq!(done.records, 20_000, "the whole delta again");
    assert_eq!(stored(&app).await, 20_000, "each part once");
    assert_eq!(app.store().cursor(CURSOR).await.unwrap(), Some(clock.now()));
}

/// Records, then an `E` verdict the first time; the same records judged
/// `S` afterwards.
async fn failing_then_good_delta(records: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => request.extend_from_slice(&buf[..k]),
                }
            }
            let items: Vec<String> = (0..records)
                .map(|i| format!(r#"{{"Reference":"R{i:06}","Label":"part {i}"}}"#))
                .collect();
            let verdict = if n == 0 {
                r#""ResponseStatus":"E","IsValid":false,"ResponseErrorMessage":"export failed""#
            } else {
                r#""ResponseStatus":"S","IsValid":true"#
            };
            let body = format!(r#"{{"ResponseData":[{}],{verdict}}}"#, items.join(","));
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (url, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_verdict_after_the_records_keeps_the_cursor() {
    let (url, served) = failing_then_good_delta(3_500).await;
    let clock = ManualClock::at("2024-03-01T09:00:00Z".parse().unwrap());
    let (_dir, app) = app_at(&url, clock.clone(), AppConfig::default());

    let err = sync(&app).await.unwrap_err();
    assert!(
        matches!(&err, AgoraError::Rejected(m) if m.message.as_deref() == Some("export failed")),
        "{err:?}"
    );
    // Every record arrived, and was stored, before the verdict.
    assert_eq!(stored(&app).await, 3_500);
    assert_eq!(app.store().cursor(CURSOR).await.unwrap(), None);

    let done = sync(&app).await.unwrap();
    assert_eq!(done.records, 3_500);
    assert_eq!(done.since, jiff::civil::date(2000, 1, 1), "from the start");
    assert_eq!(stored(&app).await, 3_500);
    assert_eq!(app.store().cursor(CURSOR).await.unwrap(), Some(clock.now()));
    assert_eq!(served.load(Ordering::SeqCst), 2);
}

/// The service center's clock runs ahead of AgoraPlus's: a part AgoraPlus
/// changes at 23:00 its time, after a sync the service center started at
/// 01:00 the next day its time, is only caught because the next delta
/// starts a day before the cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overlap_window_catches_a_change_from_before_the_cursor() {
    // AgoraPlus's clock: 2024-03-01T09:00Z.
    let (server, agoraplus_clock) = serve(config(500)).await;
    let ahead: Timestamp = "2024-03-02T01:00:00Z".parse().unwrap();
    let mut syncs = Vec::new();
    for overlap in [Duration::ZERO, AppConfig::default().delta_overlap] {
        let config = AppConfig {
            delta_overlap: overlap,
            ..AppConfig::default()
        };
        let (dir, app) = app_at(&server.url(), ManualClock::at(ahead), config);
        assert_eq!(sync(&app).await.unwrap().records, 500);
        syncs.push((dir, app));
    }
    agoraplus_clock.advance(Duration::from_secs(14 * 3600)); // 23:00 at AgoraPlus
    let changed = SparePart {
        reference: Some("00019-00000003".into()),
        label: Some("Water pump v2".into()),
        ..SparePart::default()
    };
    server
        .simulator()
        .publish_spare_parts(KEY, OEM, vec![changed.clone()])
        .unwrap();

    let (_, without) = &syncs[0];
    let missed = sync(without).await.unwrap();
    assert_eq!(missed.since, jiff::civil::date(2024, 3, 2));
    assert_eq!(missed.records, 0, "without overlap the change is missed");

    let (_, with) = &syncs[1];
    let caught = sync(with).await.unwrap();
    assert_eq!(caught.since, jiff::civil::date(2024, 3, 1));
    assert_eq!(caught.records, 1);
    let rows = rusqlite_labels(with.store().path(), "00019-00000003");
    assert_eq!(rows, ["Water pump v2"]);
}

/// The stored labels of a part, read from the database file.
fn rusqlite_labels(db: &std::path::Path, reference: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT record FROM spare_parts WHERE reference = ?1")
        .unwrap();
    stmt.query_map([reference], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|json| {
            let part: SparePart = serde_json::from_str(&json.unwrap()).unwrap();
            part.label.unwrap_or_default()
        })
        .collect()
}

/// A consumer that stops reading holds the server back: the proxy's writes
/// to the client block long before the body is through and stay blocked
/// while the consumer holds; once it reads on, every record arrives, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_holds_the_server_back() {
    const PARTS: usize = 500_000;
    let (server, _) = serve(config(PARTS as u64)).await;
    let mut proxy = Proxy::start(server.url()).await;
    let client = client_at(&proxy.url);
    let query = DeltaQuery {
        manufacturer: OEM,
        since: jiff::civil::date(2000, 1, 1),
        language: Lcid::ENGLISH,
    };
    let mut stream = client.spare_parts_delta(query).await.unwrap();
    let mut references = BTreeSet::new();
    let first = stream.next_batch().await.unwrap().unwrap();
    references.extend(first.into_iter().filter_map(|p| p.reference));

    // The consumer holds; the proxy finds the client no longer reading.
    let held_at = tokio::time::timeout(
        Duration::from_secs(60),
        proxy.blocked.wait_for(Option::is_some),
    )
    .await
    .expect("the client kept reading while its consumer held")
    .unwrap()
    .unwrap();
    // Still held a while later: the client reads nothing more. (The wait
    // bounds how long to watch for bytes that must not come; without
    // backpressure the rest of the body would pass in far less.)
    tokio::time::sleep(Duration::from_secs(1)).await;
    let while_held = proxy.forwarded.load(Ordering::SeqCst);

    let mut count = references.len();
    while let Some(batch) = stream.next_batch().await.unwrap() {
        count += batch.len();
        references.extend(batch.into_iter().filter_map(|p| p.reference));
    }
    let body = proxy.forwarded.load(Ordering::SeqCst);
    assert_eq!(count, PARTS);
    assert_eq!(references.len(), PARTS, "no record twice");
    assert_eq!(stream.summary().records, PARTS as u64);
    assert!(
        held_at < body / 3 && while_held < body / 3,
        "held back after {held_at} (then {while_held}) of {body} bytes"
    );
}
