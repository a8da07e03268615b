//! The api_key never appears in Debug output, error strings or logs, even
//! when the server echoes it back (as a careless gateway might): in an
//! error envelope, in a body that is not JSON, across the cut of an error
//! snippet, and when the key is short.
#![allow(clippy::unwrap_used)]

mod support;

use agora_domain::InterventionId;
use std::error::Error as _;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use agora_http::{AgoraClient, ApiKey, ClientConfig, Environment, RetryPolicy};
use agora_ports::AgoraError;
use serde_json::json;
use support::{KEY, client_for};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every test's logs, from a global subscriber: a per-thread one races
/// with the other tests over tracing's callsite cache.
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
}

/// The logs so far, checked free of every key the tests use.
fn checked_logs() -> String {
    let logs = String::from_utf8(logs().0.lock().unwrap().clone()).unwrap();
    assert!(!logs.contains(KEY), "{logs}");
    assert!(!logs.contains(SHORT_KEY), "{logs}");
    logs
}

/// A key shorter than eight characters.
const SHORT_KEY: &str = "k7Q2x";

/// Everything an error shows: its text, its Debug form and its sources.
fn shown(err: &AgoraError) -> String {
    let mut text = format!("{err} {err:?}");
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    text
}

/// A client of `base` sending `key`, without retries.
fn client_with_key(base: &str, key: &str) -> AgoraClient {
    let config = ClientConfig::new(Environment::Custom(base.to_owned()), ApiKey::new(key))
        .with_retry(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        });
    AgoraClient::new(config).unwrap()
}

#[tokio::test]
async fn the_key_is_in_no_debug_output_error_or_log() {
    logs();
    let server = support::server().await;
    // The server echoes the key back: in a 401 envelope, in a body that is
    // not JSON, in a 503 without envelope.
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "ResponseStatus": "E", "IsValid": false,
            "ResponseErrorMessage": format!("key {KEY} unknown")
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetNewMandates"))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!("oops {KEY}")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/Repair/CreateRepair"))
        .respond_with(
            ResponseTemplate::new(503).set_body_string(format!("Service Unavailable (key {KEY})")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());

    let debug = format!("{client:?}");
    assert!(!debug.contains(KEY), "{debug}");

    // Each error carries what the server said, with the key taken out.
    let unauthorized = client.accepted_mandates().await.unwrap_err();
    assert!(
        matches!(unauthorized, AgoraError::Unauthorized(_)),
        "{unauthorized:?}"
    );
    let text = shown(&unauthorized);
    assert!(text.contains("key [REDACTED] unknown"), "{text}");
    assert!(!text.contains(KEY), "{text}");

    let decode = client.new_mandates(false).await.unwrap_err();
    assert!(matches!(decode, AgoraError::Decode { .. }), "{decode:?}");
    let text = shown(&decode);
    assert!(text.contains("oops [REDACTED]"), "{text}");
    assert!(!text.contains(KEY), "{text}");

    let create = client.create_repair(&Default::default()).await.unwrap_err();
    let text = shown(&create);
    assert!(text.contains("503"), "{text}");
    assert!(
        text.contains("Service Unavailable (key [REDACTED])"),
        "{text}"
    );
    assert!(!text.contains(KEY), "{text}");

    let logs = checked_logs();
    assert!(logs.contains("agora.call"), "spans are logged: {logs}");
    assert!(logs.contains("GetNewMandates"), "{logs}");
}

#[tokio::test]
async fn a_key_across_the_cut_of_a_snippet_leaves_no_part_of_itself() {
    logs();
    let server = support::server().await;
    // The snippet keeps 120 characters: the key starts at 110.
    let body = format!("{}{KEY} and more text after the key", "x".repeat(110));
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetNewMandates"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let err = client.new_mandates(false).await.unwrap_err();
    let AgoraError::Decode { snippet, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(snippet.chars().count(), 120, "{snippet}");
    assert!(snippet.starts_with(&"x".repeat(110)), "{snippet}");
    // What follows the x's is the start of the marker, not of the key.
    assert_eq!(&snippet[110..], &"[REDACTED]"[..10]);
    let text = shown(&err);
    for cut in 4..KEY.len() {
        assert!(
            !text.contains(&KEY[..cut]),
            "{cut} chars of the key: {text}"
        );
    }
}

#[tokio::test]
async fn a_short_key_is_redacted_too() {
    logs();
    let short = SHORT_KEY;
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "ResponseStatus": "E", "IsValid": false,
            "ResponseErrorMessage": format!("key {short} unknown")
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetNewMandates"))
        .respond_with(ResponseTemplate::new(502).set_body_string(format!("bad gateway ({short})")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetSparepartOrderTracking"))
        // 400: on this list route a 404 would be "no results", an empty answer.
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "ResponseStatus": "E", "IsValid": false,
            "ResponseErrorMessage": format!("{short}: no order for key={short}, \"{short}\"-{short}")
        })))
        .mount(&server)
        .await;
    let client = client_with_key(&server.uri(), short);
    let err = client.accepted_mandates().await.unwrap_err();
    let text = shown(&err);
    assert!(text.contains("key [REDACTED] unknown"), "{text}");
    assert!(!text.contains(short), "{text}");
    let err = client.new_mandates(false).await.unwrap_err();
    let text = shown(&err);
    assert!(text.contains("bad gateway ([REDACTED])"), "{text}");
    assert!(!text.contains(short), "{text}");
    // At the start, after `=`, in quotes, before a dash: wherever it
    // stands apart from letters and digits.
    let err = client.order_tracking(InterventionId(1)).await.unwrap_err();
    let text = shown(&err);
    assert!(
        text.contains(r#"[REDACTED]: no order for key=[REDACTED], \"[REDACTED]\"-[REDACTED]"#),
        "{text}"
    );
    assert!(!text.contains(short), "{text}");
    checked_logs();
}

/// A value of the wrong type that is the key: the decode error names the
/// field without showing the value.
#[tokio::test]
async fn a_key_in_a_value_of_the_wrong_type_is_not_shown() {
    logs();
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ResponseStatus": "S", "IsValid": KEY, "ResponseData": []
        })))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let err = client.accepted_mandates().await.unwrap_err();
    let text = shown(&err);
    assert!(!text.contains(KEY), "{text}");
    checked_logs();
}

/// The same in a streamed delta, whose envelope comes after the records.
#[tokio::test]
async fn a_key_in_a_streamed_envelope_is_not_shown() {
    logs();
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path(
            "/api/Product/PrintManufacturerSpareParts/19/01-01-2020/English",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!(
            r#"{{"ResponseData":[{{"Reference":"R1"}}],"ResponseStatus":"S","IsValid":"{KEY}"}}"#
        )))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let query = agora_ports::DeltaQuery {
        manufacturer: agora_domain::ManufacturerId(19),
        since: jiff::civil::date(2020, 1, 1),
        language: agora_domain::Lcid::ENGLISH,
    };
    let mut stream = client.spare_parts_delta(query).await.unwrap();
    let err = loop {
        match stream.next_batch().await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("an unreadable envelope must fail the stream"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, AgoraError::Decode { .. }), "{err:?}");
    let text = shown(&err);
    assert!(text.contains("IsValid"), "{text}");
    assert!(!text.contains(KEY), "{text}");
}

/// A key holding `+` and `/` (a base64 key), echoed as a server writes it
/// back: JSON-escaped (`\/`, `\u002B`) or percent-encoded (`%2B`, in a
/// URL), in a body that is not the envelope and in one that is.
#[tokio::test]
async fn a_key_echoed_escaped_or_encoded_is_not_shown() {
    logs();
    const B64: &str = "Zm9v+YmFy/YmF6+cXV4";
    let echoes = [
        r#"{"error":"bad key Zm9v+YmFy\/YmF6+cXV4"}"#.to_owned(),
        r#"{"error":"bad key Zm9v\u002BYmFy/YmF6\u002BcXV4"}"#.to_owned(),
        r#"{"error":"bad key Zm9v\u002bYmFy\u002fYmF6\u002bcXV4"}"#.to_owned(),
        "<html>GET /api?api_key=Zm9v%2BYmFy%2FYmF6%2BcXV4 refused</html>".to_owned(),
        "<html>GET /api?api_key=Zm9v%2bYmFy%2fYmF6%2bcXV4 refused</html>".to_owned(),
    ];
    for echo in echoes {
        for status in [200, 401, 502] {
            let server = support::server().await;
            Mock::given(method("GET"))
                .and(path("/api/Repair/GetAcceptedMandates"))
                .respond_with(ResponseTemplate::new(status).set_body_string(echo.clone()))
                .mount(&server)
                .await;
            let client = client_with_key(&server.uri(), B64);
            let err = client.accepted_mandates().await.unwrap_err();
            let text = shown(&err);
            for secret in ["Zm9v", "YmFy", "YmF6", "cXV4"] {
                assert!(!text.contains(secret), "{status} {echo}: {text}");
            }
            assert!(text.contains("[REDACTED]"), "{status} {echo}: {text}");
        }
    }
    let logs = checked_logs();
    assert!(!logs.contains("YmFy"), "{logs}");
}
