//! A generated 1,000,000-record delta is decoded as a stream: the peak of
//! heap allocation stays bounded (a few MB) while the body is over 60 MB,
//! and the envelope's status, sent after the array, is still checked.
#![allow(clippy::unwrap_used)]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use agora_domain::{Lcid, ManufacturerId};
use agora_ports::{AgoraError, DeltaQuery};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const RECORDS: usize = 1_000_000;

/// Serves one delta of `RECORDS` generated parts, written in chunks, with
/// the envelope's status after the array. Returns the base URL and the
/// server's task, which ends with the size of the body once its last byte
/// is written.
async fn generator(status: &'static str) -> (String, tokio::task::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await.unwrap();
        sock.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let mut sent = 0;
        let head = r#"{"ResponseMessage":"generated","ResponseData":["#;
        sock.write_all(head.as_bytes()).await.unwrap();
        sent += head.len();
        let mut chunk = String::with_capacity(128 * 1000);
        for i in 0..RECORDS {
            if i > 0 {
                chunk.push(',');
            }
            chunk.push_str(&format!(
                r#"{{"Reference":"P{i:09}","Label":"Spare part number {i} of the generated catalog"}}"#
            ));
            if chunk.len() > 120_000 {
                sock.write_all(chunk.as_bytes()).await.unwrap();
                sent += chunk.len();
                chunk.clear();
            }
        }
        let tail = format!(
            r#"{chunk}],"ResponseStatus":"{status}","IsValid":{}}}"#,
            status != "E"
        );
        sock.write_all(tail.as_bytes()).await.unwrap();
        sent += tail.len();
        let _ = sock.shutdown().await;
        sent
    });
    (format!("http://{addr}"), server)
}

fn query() -> DeltaQuery {
    DeltaQuery {
        manufacturer: ManufacturerId(19),
        since: jiff::civil::date(2020, 1, 1),
        language: Lcid::ENGLISH,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_record_delta_streams_in_bounded_memory_and_is_judged_at_the_end() {
    let (base, server) = generator("S").await;
    let (client, _) = support::client_for(&base);
    let baseline = LIVE.load(Ordering::SeqCst);
    PEAK.store(baseline, Ordering::SeqCst);
    let mut stream = client.spare_parts_delta(query()).await.unwrap();
    let mut count = 0usize;
    let mut last = String::new();
    while let Some(batch) = stream.next_batch().await.unwrap() {
        count += batch.len();
        if let Some(p) = batch.last() {
            last.clone_from(p.reference.as_ref().unwrap());
        }
    }
    let peak = PEAK.load(Ordering::SeqCst) - baseline;
    // The stream ended, so the server wrote its last byte; its task may
    // still be finishing.
    let body = server.await.unwrap();
    assert_eq!(count, RECORDS);
    assert_eq!(stream.summary().records, RECORDS as u64);
    assert_eq!(last, format!("P{:09}", RECORDS - 1));
    assert!(body > 60_000_000, "body {body}");
    eprintln!("peak heap {peak} bytes while streaming a {body}-byte body");
    // The whole delta decoded at once would need well over 100 MB.
    assert!(
        peak < 16 * 1024 * 1024,
        "peak heap {peak} bytes for a {body}-byte body"
    );

    // In the same test (the counters are process-wide): an error status
    // after a million records still fails the stream.
    let (base, _server) = generator("E").await;
    let (client, _) = support::client_for(&base);
    let mut stream = client.spare_parts_delta(query()).await.unwrap();
    let mut count = 0usize;
    let err = loop {
        match stream.next_batch().await {
            Ok(Some(batch)) => count += batch.len(),
            Ok(None) => panic!("an E envelope must fail the stream"),
            Err(e) => break e,
        }
    };
    assert_eq!(count, RECORDS, "records arrive before the verdict");
    assert!(matches!(err, AgoraError::Rejected(_)), "{err:?}");
}
