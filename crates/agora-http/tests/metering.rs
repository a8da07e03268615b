//! The client counts each call once, by route and outcome, after its
//! retries, and each retry, through the `CallMeter` it was given.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};

use agora_domain::InterventionId;
use agora_ports::{CallMeter, CallOutcome};
use support::{client_for, ok, server};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[derive(Default)]
struct Counted {
    calls: Mutex<Vec<(&'static str, CallOutcome)>>,
    retries: Mutex<Vec<&'static str>>,
}

impl CallMeter for Counted {
    fn call(&self, route: &'static str, outcome: CallOutcome) {
        self.calls.lock().unwrap().push((route, outcome));
    }
    fn retry(&self, route: &'static str) {
        self.retries.lock().unwrap().push(route);
    }
}

#[tokio::test]
async fn each_call_is_counted_once_after_its_retries_and_each_retry_too() {
    let server = server().await;
    // GetNewMandates: 503 twice, then an answer.
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetNewMandates"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetNewMandates"))
        .respond_with(ok(serde_json::json!([])))
        .with_priority(2)
        .mount(&server)
        .await;
    // GetAcceptedMandates: refused (401).
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetAcceptedMandates"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    // Order tracking: 404, "no results" on this route: an answer.
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetSparepartOrderTracking"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;

    let meter = Arc::new(Counted::default());
    let (client, _) = client_for(&server.uri());
    let client = client.with_meter(meter.clone());
    client.new_mandates(true).await.unwrap();
    client.accepted_mandates().await.unwrap_err();
    assert!(
        client
            .order_tracking(InterventionId(42))
            .await
            .unwrap()
            .data
            .is_empty()
    );

    assert_eq!(
        *meter.calls.lock().unwrap(),
        [
            ("GetNewMandates", CallOutcome::Ok),
            ("GetAcceptedMandates", CallOutcome::Refused),
            ("GetSparepartOrderTracking", CallOutcome::Ok),
        ]
    );
    assert_eq!(
        *meter.retries.lock().unwrap(),
        ["GetNewMandates", "GetNewMandates"]
    );
}
