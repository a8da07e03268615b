//! Bounded reading: an answer past its size limit, an error body past its
//! own, a delta record past its limit and a delta past its deadline each
//! end the call with an error naming the limit, and the client drops the
//! connection instead of reading on (the server sees its writes fail).
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use agora_domain::{Lcid, ManufacturerId};
use agora_http::{AgoraClient, ApiKey, ClientConfig, Environment, Limits, RetryPolicy};
use agora_ports::{AgoraError, DeltaQuery};
use serde_json::json;
use support::{KEY, endless, endless_paced};
use tokio::sync::mpsc::UnboundedReceiver;
use wiremock::Mock;
use wiremock::matchers::{method, path};

const OK_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";

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

/// Waits for the server to see the connection dropped; the bound only
/// guards against a hang, it decides nothing.
async fn dropped(rx: &mut UnboundedReceiver<u64>) -> u64 {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("the client never dropped the connection")
        .unwrap()
}

/// A record of about 100 bytes.
fn record(i: usize) -> String {
    format!(r#"{{"Reference":"P{i:09}","Label":"Spare part number {i} of an endless catalog"}},"#)
}

#[tokio::test]
async fn an_answer_announced_past_the_limit_is_not_read() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(support::ok(json!(["x".repeat(4096)])))
        .expect(1)
        .mount(&server)
        .await;
    let limits = Limits {
        answer_bytes: 1024,
        ..Limits::default()
    };
    let err = client(&server.uri(), limits)
        .accepted_mandates()
        .await
        .unwrap_err();
    let AgoraError::TooLarge { what, limit } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (what.as_str(), *limit),
        ("the GetAcceptedMandates answer", 1024)
    );
    assert!(err.to_string().contains("1 KiB"), "{err}");
}

#[tokio::test]
async fn an_endless_answer_stops_at_the_limit_and_the_connection_is_dropped() {
    let (base, mut rx) = endless(
        OK_HEAD,
        br#"{"ResponseStatus":"S","ResponseData":["#.to_vec(),
        record(1).into_bytes(),
    )
    .await;
    let limits = Limits {
        answer_bytes: 256 * 1024,
        ..Limits::default()
    };
    let err = client(&base, limits).new_mandates(false).await.unwrap_err();
    assert!(
        matches!(&err, AgoraError::TooLarge { limit, .. } if *limit == 256 * 1024),
        "{err:?}"
    );
    assert!(err.to_string().contains("256 KiB"), "{err}");
    // The server wrote more than the limit (socket buffers hold some), but
    // the client stopped reading: its writes failed.
    assert!(dropped(&mut rx).await > 256 * 1024);
}

#[tokio::test]
async fn an_endless_error_page_is_read_up_to_its_own_limit() {
    let (base, mut rx) = endless(
        "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n",
        b"<html><body><h1>502 Bad Gateway</h1>".to_vec(),
        b"<p>upstream is gone</p>".repeat(40),
    )
    .await;
    let err = client(&base, Limits::default())
        .accepted_mandates()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AgoraError::Gateway { status: 502, body, .. } if body.contains("not JSON") && body.contains("<h1>502 Bad Gateway")),
        "{err:?}"
    );
    dropped(&mut rx).await;
}

#[tokio::test]
async fn a_delta_record_that_never_ends_stops_at_the_record_limit() {
    let mut start = br#"{"ResponseStatus":"S","ResponseData":["#.to_vec();
    start.extend_from_slice(record(0).as_bytes());
    start.extend_from_slice(br#"{"Reference":"P1","Label":""#);
    let (base, mut rx) = endless(OK_HEAD, start, b"label text ".repeat(400)).await;
    let mut config = ClientConfig::new(Environment::Custom(base), ApiKey::new(KEY))
        .with_retry(RetryPolicy::none())
        .with_limits(Limits {
            delta_record_bytes: 64 * 1024,
            ..Limits::default()
        });
    config.delta_batch_size = 1;
    let mut stream = AgoraClient::new(config)
        .unwrap()
        .spare_parts_delta(query())
        .await
        .unwrap();
    let mut got = 0;
    let err = loop {
        match stream.next_batch().await {
            Ok(Some(batch)) => got += batch.len(),
            Ok(None) => panic!("an endless record cannot end"),
            Err(e) => break e,
        }
    };
    let AgoraError::TooLarge { what, limit } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(what, "record 1 of the PrintManufacturerSpareParts answer");
    assert_eq!(*limit, 64 * 1024);
    assert!(err.to_string().contains("64 KiB"), "{err}");
    assert_eq!(got, 1, "the record before it was delivered (batches of 1)");
    dropped(&mut rx).await;
}

#[tokio::test]
async fn an_endless_delta_ends_at_its_deadline() {
    let records: String = (0..100).map(record).collect();
    let (base, mut rx) = endless(
        OK_HEAD,
        br#"{"ResponseStatus":"S","ResponseData":["#.to_vec(),
        records.into_bytes(),
    )
    .await;
    let limits = Limits {
        delta_deadline: Duration::from_millis(500),
        ..Limits::default()
    };
    let mut stream = client(&base, limits).products_delta(query()).await.unwrap();
    let err = loop {
        match stream.next_batch().await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("an endless delta cannot end"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, AgoraError::Timeout(d) if d == Duration::from_millis(500)),
        "{err:?}"
    );
    dropped(&mut rx).await;
}

#[tokio::test]
async fn a_trickling_delta_ends_at_its_deadline_though_each_read_is_quick() {
    // A byte every 20 ms: the read timeout (5 s) never fires.
    let (base, mut rx) = endless_paced(
        OK_HEAD,
        br#"{"ResponseStatus":"S","ResponseData":["#.to_vec(),
        b" ".to_vec(),
        Some(Duration::from_millis(20)),
    )
    .await;
    let config = ClientConfig::new(Environment::Custom(base), ApiKey::new(KEY))
        .with_retry(RetryPolicy::none())
        .with_timeouts(
            Duration::from_secs(5),
            Duration::from_secs(5),
            Duration::from_secs(5),
        )
        .with_limits(Limits {
            delta_deadline: Duration::from_millis(400),
            ..Limits::default()
        });
    let mut stream = AgoraClient::new(config)
        .unwrap()
        .spare_parts_delta(query())
        .await
        .unwrap();
    let err = stream.next_batch().await.unwrap_err();
    assert!(matches!(err, AgoraError::Timeout(_)), "{err:?}");
    dropped(&mut rx).await;
}
