//! The measurements that run in child processes, one JSON line each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agora_app::{Agora, AppConfig, CatalogKind};
use agora_domain::{CompleteRepairState, Envelope, Lcid, ManufacturerId, SparePart};
use agora_http::{AgoraClient, ApiKey, ClientConfig, Environment};
use agora_mock::{SimConfig, Simulator};
use agora_ports::{CatalogStore, DeltaSummary, Records, SyncCursors, SystemClock, VecRecords};
use agora_store_sqlite::SqliteStore;
use serde_json::json;

use crate::println_json;

/// The benchmark account's key.
pub(crate) const KEY: &str = "bench-key-000001";
pub(crate) const OEM: ManufacturerId = ManufacturerId(19);
const STATIC_BODY: &str = r#"{"ResponseStatus":"S","IsValid":true,"ResponseMessage":null,"ResponseErrorMessage":"","ResponseData":[]}"#;

/// Peak resident set size of this process, in kB.
pub(crate) fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn temp_store(tag: &str) -> Result<(SqliteStore, std::path::PathBuf), String> {
    let dir = std::env::temp_dir().join(format!("agora-bench-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let store = SqliteStore::open(dir.join("bench.db")).map_err(|e| e.to_string())?;
    Ok((store, dir))
}

pub(crate) fn http() -> Result<reqwest::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| e.to_string())
}

fn delta_url(url: &str) -> String {
    format!("{url}/api/Product/PrintManufacturerSpareParts/19/01-01-2000/English")
}

pub(crate) async fn fetch(url: &str) -> Result<Vec<u8>, String> {
    let resp = http()?
        .get(delta_url(url))
        .header("api_key", KEY)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    resp.bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| e.to_string())
}

pub(crate) fn client(url: &str) -> Result<AgoraClient, String> {
    AgoraClient::new(ClientConfig::new(
        Environment::Custom(url.to_owned()),
        ApiKey::new(KEY),
    ))
    .map_err(|e| e.to_string())
}

/// Serves the simulator (catalog of `size` parts per OEM) and a minimal
/// static handler on the same server stack, until killed.
pub(crate) async fn serve(size: u64) -> Result<(), String> {
    let sim = Simulator::new(SimConfig {
        tenants: vec![KEY.to_owned()],
        catalog_size: size,
        seed: 1,
        ..SimConfig::default()
    });
    let app = agora_sim::router(sim).route("/static", axum::routing::get(|| async { STATIC_BODY }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println_json(&json!({"url": format!("http://{addr}")}));
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

/// The catalog sync through agora-app into a fresh store.
pub(crate) async fn sync(url: &str, records: u64) -> Result<(), String> {
    let (store, dir) = temp_store("sync")?;
    let synced = timed_sync(url, records, store).await;
    let _ = std::fs::remove_dir_all(dir);
    synced
}

/// Times the catalog sync of `records` spare parts from `url` into
/// `store`, and prints the time, the count and the peak RSS.
pub(crate) async fn timed_sync<S: CatalogStore + SyncCursors>(
    url: &str,
    records: u64,
    store: S,
) -> Result<(), String> {
    let app = Agora::new(
        client(url)?,
        store,
        Arc::new(SystemClock),
        AppConfig::default(),
    );
    let started = Instant::now();
    let done = app
        .sync_catalog(OEM, Lcid::ENGLISH, CatalogKind::SpareParts, &mut |_| {})
        .await
        .map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    if done.records != records {
        return Err(format!(
            "synced {} records, expected {records}",
            done.records
        ));
    }
    println_json(&json!({"secs": secs, "records": done.records, "rss_kb": peak_rss_kb()}));
    Ok(())
}

/// P: typed decoding of the whole body from memory.
pub(crate) async fn parse(url: &str, records: u64) -> Result<(), String> {
    let body = fetch(url).await?;
    let started = Instant::now();
    let env = Envelope::<Vec<SparePart>>::from_slice(&body).map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    let n = env.response_data.map_or(0, |d| d.len());
    if n as u64 != records {
        return Err(format!("decoded {n} records, expected {records}"));
    }
    println_json(
        &json!({"secs": secs, "records": n, "bytes": body.len(), "rss_kb": peak_rss_kb()}),
    );
    Ok(())
}

/// W: upserting the already-decoded records into a fresh store.
pub(crate) async fn store(url: &str, records: u64) -> Result<(), String> {
    let body = fetch(url).await?;
    let parts = Envelope::<Vec<SparePart>>::from_slice(&body)
        .map_err(|e| e.to_string())?
        .response_data
        .unwrap_or_default();
    drop(body);
    let (store, dir) = temp_store("store")?;
    // The sync's own write loop (the next batch queued behind the current
    // one), over batches of the client's size already in memory.
    let mut batches: Records<SparePart> = Box::new(VecRecords::new(
        parts,
        agora_http::DEFAULT_DELTA_BATCH,
        DeltaSummary::default(),
    ));
    let started = Instant::now();
    let n = agora_app::pipelined(&mut batches, &mut |_| {}, |batch, _| {
        store.upsert_spare_parts(OEM, Lcid::ENGLISH, batch, jiff::Timestamp::UNIX_EPOCH, None)
    })
    .await
    .map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(dir);
    if n != records {
        return Err(format!("stored {n} records, expected {records}"));
    }
    println_json(&json!({"secs": secs, "records": n, "rss_kb": peak_rss_kb()}));
    Ok(())
}

/// Owned batches of the client's size, the store's unit of work.
fn into_batches(parts: Vec<SparePart>) -> Vec<Vec<SparePart>> {
    let size = agora_http::DEFAULT_DELTA_BATCH;
    let mut batches = Vec::with_capacity(parts.len() / size + 1);
    let mut it = parts.into_iter().peekable();
    while it.peek().is_some() {
        batches.push(it.by_ref().take(size).collect());
    }
    batches
}

/// Naive: the whole body, the whole envelope decoded, then inserted.
pub(crate) async fn naive(url: &str, records: u64) -> Result<(), String> {
    let (store, dir) = temp_store("naive")?;
    let started = Instant::now();
    let body = fetch(url).await?;
    let parts = Envelope::<Vec<SparePart>>::from_slice(&body)
        .map_err(|e| e.to_string())?
        .response_data
        .unwrap_or_default();
    let mut n = 0;
    for batch in into_batches(parts) {
        n += store
            .upsert_spare_parts(OEM, Lcid::ENGLISH, batch, jiff::Timestamp::UNIX_EPOCH, None)
            .await
            .map_err(|e| e.to_string())?;
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(dir);
    if n != records {
        return Err(format!("stored {n} records, expected {records}"));
    }
    println_json(&json!({"secs": secs, "records": n, "rss_kb": peak_rss_kb()}));
    Ok(())
}

/// A repair file of the benchmark account to update again and again.
async fn repair_file(url: &str) -> Result<CompleteRepairState, String> {
    repair_files(url, 1)
        .await?
        .pop()
        .ok_or_else(|| "no repair file".to_owned())
}

/// `n` new repair files of the benchmark account (work orders published
/// through the control API, then pulled and accepted), each with a
/// diagnosis to send in `UpdateRepair` again and again.
pub(crate) async fn repair_files(url: &str, n: usize) -> Result<Vec<CompleteRepairState>, String> {
    let http = http()?;
    for _ in 0..n {
        http.post(format!("{url}/_sim/mandates"))
            .header("content-type", "application/json")
            .header("api_key", KEY)
            .body(json!({"Mandate": {"ManufacturerId": 19, "InterventionTypeId": 1}}).to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
    }
    let reply = agora_ports::Mandates::new_mandates(&client(url)?, true)
        .await
        .map_err(|e| e.to_string())?;
    let files: Vec<CompleteRepairState> = reply
        .data
        .iter()
        .filter_map(|m| {
            let mut file =
                CompleteRepairState::from_work_order(m.mandate.as_ref()?, m.intervention_id?);
            file.commercial_ref = Some("ECAM22.110.B".into());
            file.state_natures = Some(vec![agora_domain::StateNature::new(
                agora_domain::StatusCode::Diagnosis,
                "benchmark",
            )]);
            Some(file)
        })
        .collect();
    if files.len() < n {
        return Err(format!("{} repair files made, {n} asked", files.len()));
    }
    Ok(files)
}

pub(crate) async fn run_concurrently<F, Fut>(
    n: u64,
    concurrency: u64,
    f: F,
) -> Result<(f64, Vec<Duration>), String>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let f = f.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                let t = Instant::now();
                f().await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, String>(latencies)
        }));
    }
    let mut all = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    Ok((started.elapsed().as_secs_f64(), all))
}

/// Client overhead: `UpdateRepair` through agora-http against a bare
/// reqwest loop sending the same request (body and headers, so the server
/// does the same work for both).
///
/// The two alternate in segments of `n / SEGMENTS` calls, the order flipped
/// every pair, over `ROUNDS` rounds of `n` calls each: this machine's speed
/// drifts and hiccups, and a ratio of adjacent segments is blind to drift,
/// while the median of those ratios is blind to hiccups. Throughputs are
/// calls over the summed time of each side's segments.
pub(crate) async fn overhead(url: &str, n: u64, concurrency: u64) -> Result<(), String> {
    const SEGMENTS: u64 = 10;
    const ROUNDS: u64 = 3;
    let file = repair_file(url).await?;
    let body = serde_json::to_vec(&file).map_err(|e| e.to_string())?;
    let agora = client(url)?;
    let user_agent = agora.config().user_agent.clone();
    let bare = http()?;
    // Parsed once, as a careful hand-written loop would.
    let target = reqwest::Url::parse(&format!("{url}/api/Repair/UpdateRepair"))
        .map_err(|e| e.to_string())?;
    let bare_run = move || {
        let bare = bare.clone();
        let target = target.clone();
        let body = body.clone();
        let user_agent = user_agent.clone();
        async move {
            let resp = bare
                .post(target)
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .header("api_key", KEY)
                .header("user-agent", user_agent)
                .body(body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            drain(resp).await
        }
    };
    let file = Arc::new(file);
    let agora_run = move || {
        let agora = agora.clone();
        let file = file.clone();
        async move {
            agora
                .update_repair(&file)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    };
    run_concurrently(500, concurrency, bare_run.clone()).await?;
    run_concurrently(500, concurrency, agora_run.clone()).await?;
    let segment = (n / SEGMENTS).max(1);
    let (mut bare_time, mut agora_time) = (0.0, 0.0);
    let mut ratios = Vec::new();
    let bare_segment = || run_concurrently(segment, concurrency, bare_run.clone());
    let agora_segment = || run_concurrently(segment, concurrency, agora_run.clone());
    for pair in 0..SEGMENTS * ROUNDS {
        let (b, a) = if pair % 2 == 0 {
            let b = bare_segment().await?.0;
            (b, agora_segment().await?.0)
        } else {
            let a = agora_segment().await?.0;
            (bare_segment().await?.0, a)
        };
        bare_time += b;
        agora_time += a;
        ratios.push(b / a);
    }
    ratios.sort_by(f64::total_cmp);
    let calls = (segment * SEGMENTS * ROUNDS) as f64;
    println_json(&json!({
        "bare_rps": calls / bare_time,
        "agora_rps": calls / agora_time,
        "ratio": ratios[ratios.len() / 2],
    }));
    Ok(())
}

/// Reads a whole answer; a status other than 2xx is an error.
async fn drain(resp: reqwest::Response) -> Result<(), String> {
    let status = resp.status();
    resp.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("status {status}"))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Simulator throughput: `GetNewMandates`, `UpdateRepair` and the static
/// handler, each under the same concurrent load.
pub(crate) async fn load(url: &str, n: u64, concurrency: u64) -> Result<(), String> {
    let file = repair_file(url).await?;
    let body = serde_json::to_vec(&file).map_err(|e| e.to_string())?;
    let http = http()?;
    let mut out = serde_json::Map::new();
    for (name, method, path, payload) in [
        ("static", "GET", "/static".to_owned(), None),
        (
            "GetNewMandates",
            "GET",
            "/api/Repair/GetNewMandates?autoAccept=false".to_owned(),
            None,
        ),
        (
            "UpdateRepair",
            "POST",
            "/api/Repair/UpdateRepair".to_owned(),
            Some(body.clone()),
        ),
    ] {
        let http = http.clone();
        let target = format!("{url}{path}");
        let run = move || {
            let http = http.clone();
            let target = target.clone();
            let payload = payload.clone();
            async move {
                let req = if method == "GET" {
                    http.get(&target)
                } else {
                    http.post(&target)
                };
                let req = req
                    .header("api_key", KEY)
                    .header("accept", "application/json");
                let req = match payload {
                    Some(b) => req.header("content-type", "application/json").body(b),
                    None => req,
                };
                drain(req.send().await.map_err(|e| e.to_string())?).await
            }
        };
        run_concurrently(300, concurrency, run.clone()).await?;
        let (secs, mut latencies) = run_concurrently(n, concurrency, run).await?;
        latencies.sort_unstable();
        out.insert(
            name.to_owned(),
            json!({"rps": n as f64 / secs, "p50_ms": percentile(&latencies, 0.5), "p99_ms": percentile(&latencies, 0.99)}),
        );
    }
    println_json(&serde_json::Value::Object(out));
    Ok(())
}
