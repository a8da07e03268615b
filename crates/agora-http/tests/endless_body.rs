//! A server that never stops sending: the client's peak resident memory
//! stays under 64 MB, whatever the route. The peak is the kernel's own
//! high-water mark of this process (`VmHWM`, reset first through
//! `/proc/self/clear_refs`), read once every case has ended: it does not
//! depend on when it is sampled. This test is alone in its binary, so
//! nothing else runs in the process meanwhile.
#![allow(clippy::unwrap_used)]
#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;

use agora_domain::{Lcid, ManufacturerId};
use agora_http::{AgoraClient, ApiKey, ClientConfig, Environment, Limits, RetryPolicy};
use agora_ports::{AgoraError, DeltaQuery};
use support::{KEY, endless};

const MB: u64 = 1_000_000;
const OK_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";

/// A field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// Guards the shared machine should a limit be broken: a process past
/// 512 MB stops at once (the test has failed by then anyway).
fn watchdog() {
    std::thread::spawn(|| {
        loop {
            if status_bytes("VmRSS:") > 512 * MB {
                eprintln!("resident memory past 512 MB: a limit does not hold");
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
}

fn client(base: &str, limits: Limits) -> AgoraClient {
    let config = ClientConfig::new(Environment::Custom(base.to_owned()), ApiKey::new(KEY))
        .with_retry(RetryPolicy::none())
        .with_limits(limits);
    AgoraClient::new(config).unwrap()
}

fn query() -> DeltaQuery {
    DeltaQuery {
        manufacturer: ManufacturerId(19),
        since: jiff::civil::date(2020, 1, 1),
        language: Lcid::ENGLISH,
    }
}

fn records(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| {
            format!(r#"{{"Reference":"P{i:09}","Label":"Spare part {i} of a catalog that never ends"}},"#)
        })
        .collect::<String>()
        .into_bytes()
}

/// Reads a delta to its end or its error.
async fn drain<T>(mut stream: agora_ports::Records<T>) -> AgoraError {
    loop {
        match stream.next_batch().await {
            Ok(Some(batch)) => drop(batch),
            Ok(None) => panic!("an endless delta cannot end"),
            Err(e) => return e,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_never_takes_the_client_past_64_mb() {
    watchdog();
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_bytes("VmRSS:");

    // A delta whose one record never ends, with the default limits.
    let mut start =
        br#"{"ResponseStatus":"S","ResponseData":[{"Reference":"P1","Label":""#.to_vec();
    start.extend_from_slice(&b"x".repeat(10));
    let (base, _) = endless(OK_HEAD, start, b"an endless label ".repeat(1000)).await;
    let stream = client(&base, Limits::default())
        .spare_parts_delta(query())
        .await
        .unwrap();
    let err = drain(stream).await;
    assert!(
        matches!(&err, AgoraError::TooLarge { limit, .. } if *limit == Limits::default().delta_record_bytes),
        "{err:?}"
    );

    // A delta of endless records: they stream through, until the deadline.
    let (base, _) = endless(
        OK_HEAD,
        br#"{"ResponseStatus":"S","ResponseData":["#.to_vec(),
        records(1000),
    )
    .await;
    let limits = Limits {
        delta_deadline: Duration::from_secs(2),
        ..Limits::default()
    };
    let stream = client(&base, limits).products_delta(query()).await.unwrap();
    let err = drain(stream).await;
    assert!(matches!(err, AgoraError::Timeout(_)), "{err:?}");

    // A list answer that never ends, with the default limits.
    let (base, _) = endless(
        OK_HEAD,
        br#"{"ResponseStatus":"S","ResponseData":["#.to_vec(),
        records(1000),
    )
    .await;
    let err = client(&base, Limits::default())
        .new_mandates(false)
        .await
        .unwrap_err();
    assert!(matches!(err, AgoraError::TooLarge { .. }), "{err:?}");

    // A gateway's error page that never ends, with the default limits.
    let (base, _) = endless(
        "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n",
        b"<html>".to_vec(),
        b"<p>upstream is gone</p>".repeat(1000),
    )
    .await;
    let err = client(&base, Limits::default())
        .accepted_mandates()
        .await
        .unwrap_err();
    assert!(matches!(err, AgoraError::Gateway { .. }), "{err:?}");

    let peak = status_bytes("VmHWM:");
    eprintln!(
        "resident: {} MB before, peak {} MB (high-water mark reset: {reset})",
        before / MB,
        peak / MB
    );
    assert!(peak < 64 * MB, "peak resident memory {} MB", peak / MB);
}
