//! The api_key never appears in Debug output, error strings or logs.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

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

#[tokio::test]
async fn the_key_is_in_no_debug_output_error_or_log() {
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = support::server().await;
    // The server echoes the key back in its error, as a careless gateway might.
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
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());

    let debug = format!("{client:?}");
    assert!(!debug.contains(KEY), "{debug}");

    let decode = client.new_mandates(false).await.unwrap_err();
    let text = format!("{decode} {decode:?}");
    assert!(!text.contains(KEY), "{text}");

    let create = client.create_repair(&Default::default()).await.unwrap_err();
    assert!(!format!("{create} {create:?}").contains(KEY));

    let _ = client.accepted_mandates().await.unwrap_err();
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("agora.call"), "spans are logged: {logs}");
    assert!(logs.contains("GetNewMandates"));
    assert!(!logs.contains(KEY), "{logs}");
}
