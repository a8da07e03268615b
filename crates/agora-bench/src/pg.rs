//! The PostgreSQL benchmarks: the catalog sync into PostgreSQL against the
//! store-only load of the same decoded records (the binary `COPY` path),
//! and outbox delivery by 1, 2 and 4 worker processes against the
//! simulator, with the same requests sent straight (no store) as the
//! ceiling.
//!
//! The harness starts a throwaway PostgreSQL server
//! (`agora_store_postgres::throwaway`) and gives every measurement a new
//! database, dropped afterwards. Measurements run in child processes
//! (`pg-sync`, `pg-store`, `pg-deliver`, `pg-direct`), so each peak RSS is
//! the client's own; the server's processes are not counted in it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use agora_app::{Agora, AppConfig};
use agora_domain::{CompleteRepairState, Envelope, Lcid, SparePart};
use agora_ports::{
    CatalogStore, Clock, DeltaSummary, Operation, Outbox, OutboxState, Records, SystemClock,
    VecRecords,
};
use agora_store_postgres::PostgresStore;
use agora_store_postgres::throwaway::Server;
use serde_json::{Value, json};

use crate::measure::{self, OEM, peak_rss_kb};
use crate::println_json;
use crate::report::{child, exe, f, machine, median, median_fields, server, today, verdict};

/// Opens the store and connects its catalog writer (which connects on its
/// first job), so that neither is timed.
async fn connect(pg: &str) -> Result<PostgresStore, String> {
    let store = PostgresStore::connect(pg)
        .await
        .map_err(|e| e.to_string())?;
    store
        .count_spare_parts(OEM, Lcid::ENGLISH)
        .await
        .map_err(|e| e.to_string())?;
    Ok(store)
}

/// The catalog sync through agora-app into a new PostgreSQL database.
pub(crate) async fn sync(url: &str, records: u64, pg: &str) -> Result<(), String> {
    measure::timed_sync(url, records, connect(pg).await?).await
}

/// W on PostgreSQL: the already-decoded records upserted with the sync's
/// own write loop, batches of the client's size (on a first sync, one
/// binary `COPY` per batch straight into the table; else into the staging
/// table, one `INSERT … ON CONFLICT` per batch).
pub(crate) async fn store(url: &str, records: u64, pg: &str) -> Result<(), String> {
    let body = measure::fetch(url).await?;
    let parts = Envelope::<Vec<SparePart>>::from_slice(&body)
        .map_err(|e| e.to_string())?
        .response_data
        .unwrap_or_default();
    drop(body);
    let store = connect(pg).await?;
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
    if n != records {
        return Err(format!("stored {n} records, expected {records}"));
    }
    println_json(&json!({"secs": secs, "records": n, "rss_kb": peak_rss_kb()}));
    Ok(())
}

/// The floor: the same records, already written as the rows the catalog
/// holds (key, the record as JSON, OEM, language, sync time), loaded with
/// one bare binary `COPY` into the empty `spare_parts` table (its primary
/// key included) in one transaction. Only the `COPY` is timed.
pub(crate) async fn copy(url: &str, records: u64, pg: &str) -> Result<(), String> {
    use agora_domain::wire::WriteJson;
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::Type;
    let body = measure::fetch(url).await?;
    let parts = Envelope::<Vec<SparePart>>::from_slice(&body)
        .map_err(|e| e.to_string())?
        .response_data
        .unwrap_or_default();
    drop(body);
    let mut rows = Vec::with_capacity(parts.len());
    for part in &parts {
        let mut json = Vec::new();
        part.write_json(&mut json).map_err(|e| e.to_string())?;
        let json = String::from_utf8(json).map_err(|e| e.to_string())?;
        rows.push((part.reference.clone().unwrap_or_default(), json));
    }
    drop(parts);
    // The schema, as the store makes it.
    drop(connect(pg).await?);
    let (mut client, connection) = tokio_postgres::connect(pg, tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let (oem, language, synced) = (i64::from(OEM.0), i64::from(Lcid::ENGLISH.0), 0i64);
    let started = Instant::now();
    let tx = client.transaction().await.map_err(|e| e.to_string())?;
    let sink = tx
        .copy_in(
            "COPY spare_parts (manufacturer, language, reference, record, synced_ms) FROM STDIN BINARY",
        )
        .await
        .map_err(|e| e.to_string())?;
    let types = [Type::INT8, Type::INT8, Type::TEXT, Type::TEXT, Type::INT8];
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
    for (key, json) in &rows {
        writer
            .as_mut()
            .write(&[&oem, &language, key, json, &synced])
            .await
            .map_err(|e| e.to_string())?;
    }
    let n = writer.finish().await.map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    if n != records {
        return Err(format!("copied {n} rows, expected {records}"));
    }
    println_json(&json!({"secs": secs, "records": n, "rss_kb": peak_rss_kb()}));
    Ok(())
}

/// Says it is ready, then waits for the harness's go (a line on stdin), so
/// that the processes of one measurement start together.
async fn ready_set_go() -> Result<(), String> {
    println_json(&json!({"ready": true}));
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(drop)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())
}

/// One outbox worker: flushes the outbox (`Agora::flush_outbox`: claim a
/// few entries, send them one at a time, record each outcome while the
/// next is sent) until nothing is due.
pub(crate) async fn deliver(url: &str, pg: &str, name: &str) -> Result<(), String> {
    let store = PostgresStore::connect(pg)
        .await
        .map_err(|e| e.to_string())?;
    let app = Agora::new(
        measure::client(url)?,
        store,
        Arc::new(SystemClock),
        AppConfig {
            worker: name.to_owned(),
            ..AppConfig::default()
        },
    );
    ready_set_go().await?;
    let started = Instant::now();
    let flushed = app.flush_outbox().await.map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    println_json(&json!({
        "delivered": flushed.delivered,
        "other": flushed.queued + flushed.in_doubt + flushed.failed,
        "secs": secs,
        "rss_kb": peak_rss_kb(),
    }));
    Ok(())
}

/// The same requests as the outbox's, sent straight: the `UpdateRepair`
/// entries with `id % of == slot` are read from the store first, then
/// sent by `tasks` concurrent loops through agora-http, no store involved.
pub(crate) async fn direct(
    url: &str,
    pg: &str,
    (slot, of): (u64, u64),
    tasks: u64,
) -> Result<(), String> {
    let store = PostgresStore::connect(pg)
        .await
        .map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    for state in [
        OutboxState::Pending,
        OutboxState::Sending,
        OutboxState::Delivered,
        OutboxState::InDoubt,
        OutboxState::Failed,
    ] {
        for entry in store.entries(state).await.map_err(|e| e.to_string())? {
            if let (true, Operation::UpdateRepair(file)) = (entry.id % of == slot, entry.operation)
            {
                files.push(file);
            }
        }
    }
    drop(store);
    let client = measure::client(url)?;
    let files = Arc::new(files);
    let next = Arc::new(AtomicUsize::new(0));
    ready_set_go().await?;
    let started = Instant::now();
    let mut loops = Vec::new();
    for _ in 0..tasks.max(1) {
        let (client, files, next) = (client.clone(), files.clone(), next.clone());
        loops.push(tokio::spawn(async move {
            while let Some(file) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                client
                    .update_repair(file)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        }));
    }
    for l in loops {
        l.await.map_err(|e| e.to_string())??;
    }
    let secs = started.elapsed().as_secs_f64();
    println_json(&json!({"sent": files.len(), "secs": secs}));
    Ok(())
}

/// The throwaway server and the databases of the measurements.
struct Postgres {
    server: Server,
}

impl Postgres {
    fn start() -> Result<Self, String> {
        Ok(Self {
            server: tokio::task::block_in_place(Server::start)?,
        })
    }

    /// A new, empty database; its URL.
    async fn fresh(&self, db: &str) -> Result<String, String> {
        self.drop(db).await?;
        self.server.create_database(db).await
    }

    async fn drop(&self, db: &str) -> Result<(), String> {
        self.server
            .admin(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
            .await
    }

    async fn version(&self) -> String {
        let url = self.server.url("postgres");
        let Ok((client, connection)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await
        else {
            return "unknown".to_owned();
        };
        tokio::spawn(connection);
        client
            .query_one("SHOW server_version", &[])
            .await
            .map(|r| r.get::<_, String>(0))
            .unwrap_or_else(|_| "unknown".to_owned())
    }
}

/// A measurement in a new database: `args` with the database's URL
/// appended, dropped afterwards.
async fn in_fresh_db(pg: &Postgres, args: &[&str]) -> Result<Value, String> {
    let db = format!("bench_{}", args.first().unwrap_or(&"").replace('-', "_"));
    let url = pg.fresh(&db).await?;
    let mut all = args.to_vec();
    all.push(&url);
    let result = tokio::task::block_in_place(|| child(&all));
    pg.drop(&db).await?;
    result
}

/// Child processes started together: each says it is ready, then all are
/// told to go; their results, in order.
fn together(commands: &[Vec<String>]) -> Result<Vec<Value>, String> {
    let mut children: Vec<(Child, BufReader<ChildStdout>)> = Vec::new();
    for args in commands {
        let mut child = Command::new(exe()?)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| e.to_string())?;
        let out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        children.push((child, out));
    }
    for (_, out) in &mut children {
        let mut line = String::new();
        out.read_line(&mut line).map_err(|e| e.to_string())?;
        if !line.contains("ready") {
            return Err(format!("a child said {line:?} instead of ready"));
        }
    }
    for (child, _) in &mut children {
        let stdin = child.stdin.as_mut().ok_or("no stdin")?;
        stdin.write_all(b"go\n").map_err(|e| e.to_string())?;
        stdin.flush().map_err(|e| e.to_string())?;
    }
    let mut results = Vec::new();
    for ((mut child, out), args) in children.into_iter().zip(commands) {
        let last = out.lines().map_while(Result::ok).last().unwrap_or_default();
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("{args:?} failed"));
        }
        results
            .push(serde_json::from_str(&last).map_err(|e| format!("{args:?} said {last:?}: {e}"))?);
    }
    Ok(results)
}

/// Fills the outbox of `pg_url` with `n` `UpdateRepair` entries, spread
/// over `files` in turn (each entry on its file, so that a file's entries
/// are delivered in order, as the outbox promises). Written as rows, as
/// `Outbox::enqueue` would write them one at a time: `enqueue` writes a
/// file's newer update into its pending one (the newest file wins), which
/// would leave one entry per file to deliver.
async fn fill(pg_url: &str, files: &[CompleteRepairState], n: usize) -> Result<(), String> {
    // The store's migrations have run once it connects.
    PostgresStore::connect(pg_url)
        .await
        .map_err(|e| e.to_string())?;
    let files = Arc::new(files.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let mut loops = Vec::new();
    for _ in 0..8 {
        let (client, connection) = tokio_postgres::connect(pg_url, tokio_postgres::NoTls)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let (files, next) = (files.clone(), next.clone());
        loops.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, String>(());
                }
                let file = &files[i % files.len()];
                let operation = serde_json::to_string(&Operation::UpdateRepair(file.clone()))
                    .map_err(|e| e.to_string())?;
                let now = SystemClock.now().as_millisecond();
                client
                    .execute(
                        "INSERT INTO outbox (intervention_id, operation, idempotent, state,
                           attempts, next_attempt_ms, created_ms)
                         VALUES ($1, $2, TRUE, 'pending', 0, $3, $3)",
                        &[&file.intervention_id.map(i64::from), &operation, &now],
                    )
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }));
    }
    for l in loops {
        l.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// Operations per second of processes started together: all they did over
/// the longest of their times.
fn rate(results: &[Value], done: &str) -> (f64, f64) {
    let total: f64 = results.iter().map(|r| f(r, done)).sum();
    let secs = results.iter().map(|r| f(r, "secs")).fold(0.0, f64::max);
    (total, total / secs)
}

/// Worker processes (outbox delivery) and the same requests straight.
const WORKERS: [usize; 3] = [1, 2, 4];
/// Concurrent loops per process when the simulator's capacity is measured
/// (4 processes).
const CAPACITY_TASKS: u64 = 8;

/// Runs the PostgreSQL benchmarks; their section of `docs/benchmarks.md`
/// and whether every target was met.
pub(crate) async fn all(quick: bool) -> Result<(String, bool), String> {
    let (big, small, runs) = if quick {
        (100_000u64, 10_000u64, 1)
    } else {
        (1_000_000, 100_000, 3)
    };
    let rounds = runs + 2 * usize::from(!quick);
    let (entries, files) = if quick { (2_000, 100) } else { (20_000, 1_000) };
    let started = Instant::now();
    let pg = Postgres::start()?;
    let version = pg.version().await;

    // The catalog: sync against W, P beside them, in rounds.
    let mut catalog = Vec::new();
    let mut ratios = Vec::new();
    let mut ratios_pw = Vec::new();
    let mut ratios_copy = Vec::new();
    let mut copies = Vec::new();
    for size in [small, big] {
        eprintln!("PostgreSQL: catalog of {size} spare parts…");
        let s = tokio::task::block_in_place(|| server(size))?;
        let n = size.to_string();
        let (mut syncs, mut parses, mut stores) = (Vec::new(), Vec::new(), Vec::new());
        if size == big {
            for round in 0..rounds {
                let flip = round % 2 == 1;
                let (first, last) = if flip {
                    ("pg-store", "pg-sync")
                } else {
                    ("pg-sync", "pg-store")
                };
                let a = in_fresh_db(&pg, &[first, &s.url, &n]).await?;
                let parse = tokio::task::block_in_place(|| child(&["parse", &s.url, &n]))?;
                let b = in_fresh_db(&pg, &[last, &s.url, &n]).await?;
                let copy = in_fresh_db(&pg, &["pg-copy", &s.url, &n]).await?;
                let (sync, store) = if flip { (b, a) } else { (a, b) };
                ratios.push(f(&sync, "secs") / f(&store, "secs"));
                ratios_copy.push(f(&sync, "secs") / f(&copy, "secs"));
                copies.push(copy);
                ratios_pw.push(f(&sync, "secs") / (f(&parse, "secs") + f(&store, "secs")));
                syncs.push(sync);
                parses.push(parse);
                stores.push(store);
            }
        } else {
            for _ in 0..runs {
                syncs.push(in_fresh_db(&pg, &["pg-sync", &s.url, &n]).await?);
            }
        }
        catalog.push((
            median_fields(&syncs),
            (!parses.is_empty()).then(|| median_fields(&parses)),
            (!stores.is_empty()).then(|| median_fields(&stores)),
        ));
    }

    // The outbox: for each number of workers, a database of `entries`
    // entries delivered by the workers, and the same requests sent
    // straight by as many processes; the order flipped every round.
    eprintln!("PostgreSQL: outbox delivery…");
    let s = tokio::task::block_in_place(|| server(10))?;
    let made = measure::repair_files(&s.url, files).await?;
    let mut delivered: Vec<Vec<f64>> = vec![Vec::new(); WORKERS.len()];
    let mut straight: Vec<Vec<f64>> = vec![Vec::new(); WORKERS.len()];
    let mut capacity = Vec::new();
    for round in 0..runs {
        for (i, k) in WORKERS.into_iter().enumerate() {
            let url = pg.fresh("bench_outbox").await?;
            fill(&url, &made, entries).await?;
            let workers: Vec<Vec<String>> = (0..k)
                .map(|w| {
                    vec![
                        "pg-deliver".to_owned(),
                        s.url.clone(),
                        url.clone(),
                        format!("bench-worker-{w}"),
                    ]
                })
                .collect();
            let senders = |tasks: u64, of: usize| -> Vec<Vec<String>> {
                (0..of)
                    .map(|slot| {
                        vec![
                            "pg-direct".to_owned(),
                            s.url.clone(),
                            url.clone(),
                            slot.to_string(),
                            of.to_string(),
                            tasks.to_string(),
                        ]
                    })
                    .collect()
            };
            let deliver = || -> Result<f64, String> {
                let results = together(&workers)?;
                let (done, ops) = rate(&results, "delivered");
                let other: f64 = results.iter().map(|r| f(r, "other")).sum();
                if done as usize != entries || other > 0.0 {
                    return Err(format!(
                        "{k} workers delivered {done} of {entries} entries ({other} not delivered)"
                    ));
                }
                Ok(ops)
            };
            let send = || tokio::task::block_in_place(|| together(&senders(1, k)));
            if round % 2 == 0 {
                delivered[i].push(tokio::task::block_in_place(deliver)?);
                straight[i].push(rate(&send()?, "sent").1);
            } else {
                straight[i].push(rate(&send()?, "sent").1);
                delivered[i].push(tokio::task::block_in_place(deliver)?);
            }
            if k == 4 {
                let results =
                    tokio::task::block_in_place(|| together(&senders(CAPACITY_TASKS, k)))?;
                capacity.push(rate(&results, "sent").1);
            }
            pg.drop("bench_outbox").await?;
        }
    }
    drop(s);
    drop(pg);

    let (sync_small, _, _) = &catalog[0];
    let (sync_big, parse, store) = &catalog[1];
    let p = parse.as_ref().map_or(f64::NAN, |v| f(v, "secs"));
    let w = store.as_ref().map_or(f64::NAN, |v| f(v, "secs"));
    let sync_secs = f(sync_big, "secs");
    let rss_big = f(sync_big, "rss_kb") / 1024.0;
    let rss_small = f(sync_small, "rss_kb") / 1024.0;
    let ratio = median(ratios);
    let ratio_pw = median(ratios_pw);
    let ratio_copy = median(ratios_copy);
    let bare = if copies.is_empty() {
        f64::NAN
    } else {
        f(&median_fields(&copies), "secs")
    };
    let t4 = ratio_copy <= 1.5;
    let t1 = ratio <= 1.1;
    let t2 = rss_big <= 100.0;
    let t3 = rss_big <= rss_small * 1.2;
    let delivered: Vec<f64> = delivered.into_iter().map(median).collect();
    let straight: Vec<f64> = straight.into_iter().map(median).collect();
    let capacity = median(capacity);
    let one_worker = delivered[0] / straight[0];
    let t5 = one_worker >= 0.5;

    let mut md = String::new();
    md.push_str(&format!(
        "Run: {} on {}; PostgreSQL {version} (a throwaway server on this machine, unix socket, fsync off); {runs} run(s) per figure (median); total {:.0} s{}.\n\n",
        today(),
        machine(),
        started.elapsed().as_secs_f64(),
        if quick {
            "; QUICK mode (small sizes, not the targets' sizes)"
        } else {
            ""
        }
    ));
    md.push_str(&format!("### 5. Catalog sync into PostgreSQL (agora-sim → agora-http → agora-app → PostgreSQL; {rounds} rounds of sync, P and W at {big} parts, the order flipped every round, a new database for each)\n\n"));
    md.push_str("| figure | value |\n|---|---|\n");
    md.push_str(&format!(
        "| sync of {big} parts, wall time | {sync_secs:.2} s ({:.0} records/s) |\n",
        big as f64 / sync_secs
    ));
    md.push_str(&format!(
        "| P: parse-only (typed decode of the whole body in memory) | {p:.2} s |\n"
    ));
    let batch = agora_http::DEFAULT_DELTA_BATCH;
    md.push_str(&format!(
        "| W: store-only (the decoded records upserted with the sync's write loop, batches of {batch}: into an empty catalog, one binary COPY per batch straight into the table) | {w:.2} s |\n"
    ));
    md.push_str(&format!(
        "| sync / W (median of the rounds' ratios) | {ratio:.2} (target ≤ 1.1: {}) |\n",
        verdict(t1)
    ));
    md.push_str(&format!(
        "| sync / (P + W) (median of the rounds' ratios) | {ratio_pw:.2} |\n"
    ));
    md.push_str(&format!(
        "| C: the floor, one bare binary COPY of the same rows (already written) into the empty table, primary key included | {bare:.2} s |\n"
    ));
    md.push_str(&format!(
        "| sync / C, a first full sync against the floor (median of the rounds' ratios) | {ratio_copy:.2} (target ≤ 1.5: {}) |\n",
        verdict(t4)
    ));
    md.push_str(&format!("| client peak RSS, sync of {small} → {big} | {rss_small:.1} MB → {rss_big:.1} MB (target ≤ 100 MB: {}; flat within 20%: {}) |\n\n", verdict(t2), verdict(t3)));
    md.push_str(&format!("### 6. Outbox delivery on PostgreSQL ({entries} UpdateRepair entries over {files} repair files per measurement, a new database for each; {runs} rounds, the order flipped every round)\n\nEach worker is a process of its own flushing the outbox (`Agora::flush_outbox`: claim up to {} idempotent entries in one statement with `FOR UPDATE SKIP LOCKED`, then send each, its lease confirmed first unless it is idempotent and fresh; the outcomes that ended while a recording was under way are recorded together, in one transaction, beside the next sends and claims). \"Straight\" sends the same requests through agora-http from as many processes, one call at a time each, without a store: the ceiling for that many workers.\n\n| worker processes | delivered | straight (no store) | delivered / straight |\n|---|---|---|---|\n", agora_app::CLAIM_BATCH));
    for (i, k) in WORKERS.into_iter().enumerate() {
        md.push_str(&format!(
            "| {k} | {:.0} ops/s | {:.0} req/s | {:.2} |\n",
            delivered[i],
            straight[i],
            delivered[i] / straight[i]
        ));
    }
    let last = WORKERS.len() - 1;
    md.push_str(&format!(
        "\n| figure | value |\n|---|---|\n| 1 worker: delivered / straight | {one_worker:.2} (target ≥ 0.5: {}) |\n| 4 workers / 1 worker | {:.2} (straight: {:.2}) |\n| simulator capacity: the same requests straight, 4 processes × {CAPACITY_TASKS} concurrent | {capacity:.0} req/s (4 workers deliver {:.0}% of it) |\n",
        verdict(t5),
        delivered[last] / delivered[0],
        straight[last] / straight[0],
        delivered[last] * 100.0 / capacity
    ));
    Ok((md, t1 && t2 && t3 && t4 && t5))
}
