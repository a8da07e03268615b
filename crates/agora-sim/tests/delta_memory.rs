//! A 1,000,000-part delta is served as a stream: the server's heap peak
//! stays bounded (a few MB) while it sends over 40 MB.
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use agora_mock::{SimConfig, Simulator};
use agora_sim::SimServer;
use futures_util::StreamExt;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_part_delta_is_served_in_bounded_memory() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = SimConfig {
        tenants: vec!["a".into()],
        catalog_size: 1_000_000,
        ..SimConfig::default()
    };
    let server = SimServer::start(Simulator::new(config), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let baseline = LIVE.load(Ordering::SeqCst);
    PEAK.store(baseline, Ordering::SeqCst);
    let resp = client
        .get(format!(
            "{}/api/Product/PrintManufacturerSpareParts/19/01-01-2000/English",
            server.url()
        ))
        .header("api_key", "a")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut stream = resp.bytes_stream();
    let mut total = 0usize;
    let mut records = 0usize;
    let mut tail = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        total += chunk.len();
        // Count keys across chunk boundaries: search the last 11 bytes too.
        let from = tail.len().saturating_sub(11);
        let mut window = tail[from..].to_vec();
        window.extend_from_slice(&chunk);
        records += window
            .windows(12)
            .filter(|w| w == b"\"Reference\":")
            .count();
        tail.extend_from_slice(&chunk);
        if tail.len() > 512 {
            tail.drain(..tail.len() - 512);
        }
    }
    let peak = PEAK.load(Ordering::SeqCst) - baseline;
    let tail = String::from_utf8_lossy(&tail);
    eprintln!("server and client heap peak {peak} bytes for a {total}-byte delta");
    assert_eq!(records, 1_000_000);
    assert!(
        tail.ends_with("1000000 created or updated spare parts found since 01/01/2000\"}"),
        "{tail}"
    );
    assert!(total > 40_000_000, "{total}");
    assert!(peak < 8 * 1024 * 1024, "heap peak {peak}");
}
