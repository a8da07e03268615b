//! The api_key masked in every text (a property test). A server that is not
//! our simulator answers every route with the account's key injected into
//! every text field of every model (and into an unknown field of each, the
//! envelope's message, and a list element that cannot be read): as it is,
//! JSON-escaped in the body, JSON-escaped inside the text, percent-encoded,
//! or cut in two across adjacent fields. Every path meant for people or
//! logs is read back (the reply's warning and set-aside items, the
//! library's typed warnings, error Display and Debug with their sources,
//! the tracing logs at every level) and holds no echo of the key; the data
//! the caller keeps and sends back is lossless: exactly as AgoraPlus sent
//! it, the message fields (written for people, never sent back) redacted.
//!
//! A key cut across two texts is no key in either: what is guaranteed for
//! it is that no path joins two of AgoraPlus's texts into one without a
//! separator (see `agora_domain::redact`).
#![allow(clippy::unwrap_used)]

use std::error::Error as _;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use agora_app::Warning;
use agora_domain::redact::{contains_key, redact};
use agora_domain::routes::Route;
use agora_domain::{
    ClaimId, CompleteRepairState, CountryCode, InterventionId, InvoiceReference, Lcid,
    ManufacturerId, WarrantyClaim,
};
use agora_http::{AgoraClient, ApiKey, ClientConfig, Environment, RetryPolicy};
use agora_ports::{AgoraError, ClaimSubmission, DeltaQuery, Records, Reply};
use agora_tests::echo::{FORMS, Form, Kind, answer, is_message, path_pattern};
use proptest::prelude::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Checks `got` (the reply's data, written back) against `served`: every
/// value as it came, the message fields redacted.
fn lossless(route: Route, served: &Value, got: &Value, key: &str, path: &mut Vec<String>) {
    match (served, got) {
        (Value::Object(s), Value::Object(g)) => {
            for (name, value) in s.iter().filter(|(_, v)| !v.is_null()) {
                let Some(mine) = g.get(name) else {
                    panic!("{route:?}: {path:?}.{name} lost: {got}");
                };
                path.push(name.clone());
                lossless(route, value, mine, key, path);
                path.pop();
            }
        }
        (Value::Array(s), Value::Array(g)) => {
            assert_eq!(s.len(), g.len(), "{route:?}: {path:?}");
            for (s, g) in s.iter().zip(g) {
                lossless(route, s, g, key, path);
            }
        }
        (Value::String(s), Value::String(g)) => {
            let at: Vec<&str> = path.iter().map(String::as_str).collect();
            if is_message(route, &at) {
                assert_eq!(g, &redact(s, key), "{route:?}: message {at:?}");
            } else {
                assert_eq!(g, s, "{route:?}: data {at:?} changed");
            }
        }
        (s, g) => assert_eq!(g, s, "{route:?}: {path:?}"),
    }
}

/// What one case saw: the texts shown, each reply's data checked.
struct Seen<'a> {
    kind: Kind,
    key: &'a str,
    served: &'a std::collections::HashMap<Route, Value>,
    shown: &'a mut String,
}

impl Seen<'_> {
    /// A reply: its texts kept, its data checked lossless; the data.
    fn reply<T: serde::Serialize>(
        &mut self,
        route: Route,
        result: Result<Reply<T>, AgoraError>,
    ) -> Option<T> {
        match result {
            Ok(reply) => {
                assert_eq!(self.kind, Kind::Warned, "{route:?} succeeded");
                let warnings = Warning::of_reply(route.name(), &reply);
                assert!(reply.warning.is_some(), "{route:?}: the W is dropped");
                self.warnings(&warnings);
                self.shown.push_str(&format!("{:?}", reply.set_aside));
                let mut got = serde_json::to_value(&reply.data).unwrap();
                let mut served = self.served[&route].clone();
                if route == Route::CreateRepair {
                    // The reply is the id alone.
                    got = json!({"InterventionId": got});
                    served = json!({"InterventionId": served["InterventionId"]});
                }
                if served.is_array() {
                    assert_eq!(reply.set_aside.len(), 1, "{route:?}: {:?}", reply.set_aside);
                }
                lossless(route, &served, &got, self.key, &mut Vec::new());
                Some(reply.data)
            }
            Err(e) => {
                assert_ne!(self.kind, Kind::Warned, "{route:?}: {e}");
                self.shown.push_str(&shown_error(&e));
                None
            }
        }
    }

    /// A delta read whole, with its summary.
    fn delta<T: serde::Serialize>(
        &mut self,
        route: Route,
        result: Result<(Vec<T>, String), AgoraError>,
    ) {
        match result {
            Ok((records, summary)) => {
                assert_eq!(self.kind, Kind::Warned, "{route:?} succeeded");
                self.shown.push_str(&summary);
                let got = serde_json::to_value(records).unwrap();
                lossless(route, &self.served[&route], &got, self.key, &mut Vec::new());
            }
            Err(e) => {
                assert_ne!(self.kind, Kind::Warned, "{route:?}: {e}");
                self.shown.push_str(&shown_error(&e));
            }
        }
    }

    /// The library's typed warnings, as text and Debug.
    fn warnings(&mut self, warnings: &[Warning]) {
        for w in warnings {
            self.shown.push_str(&format!("{w}\n{w:?}\n"));
        }
    }
}

/// Everything an error shows: its text, its Debug form and its sources.
fn shown_error(err: &AgoraError) -> String {
    let mut text = format!("{err} {err:?}");
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    text
}

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

/// Every log line, at every level, from one global subscriber.
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

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// Runs one case at a time: the logs are one buffer for the process.
fn run_case(key: String, form: Form, kind: Kind) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    logs();
    runtime().block_on(one_case(key, form, kind));
}

/// Reads a delta whole, with its summary.
async fn whole<T>(records: Result<Records<T>, AgoraError>) -> Result<(Vec<T>, String), AgoraError> {
    let mut records = records?;
    let mut all = Vec::new();
    while let Some(batch) = records.next_batch().await? {
        all.extend(batch);
    }
    Ok((all, format!("{:?}", records.summary())))
}

/// One case: every route answered as `kind`, the key echoed as `form`.
async fn one_case(key: String, form: Form, kind: Kind) {
    let server = &MockServer::start().await;
    logs().0.lock().unwrap().clear();
    let mut served = std::collections::HashMap::new();
    for &route in Route::ALL {
        let (status, body, data) = answer(route, &key, form, kind);
        served.insert(route, data);
        let path = path_pattern(route);
        Mock::given(method(route.method().as_str()))
            .and(path_regex(path))
            .respond_with(
                ResponseTemplate::new(status).set_body_raw(body.into_bytes(), "application/json"),
            )
            .mount(server)
            .await;
    }
    let config = ClientConfig::new(Environment::Custom(server.uri()), ApiKey::new(key.clone()))
        .with_retry(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        })
        .with_timeouts(
            Duration::from_secs(5),
            Duration::from_secs(10),
            Duration::from_secs(10),
        );
    let client = AgoraClient::new(config).unwrap();
    let mut shown = format!("{client:?}");
    let file = CompleteRepairState {
        intervention_id: Some(InterventionId(500_001)),
        ..CompleteRepairState::default()
    };
    let claim = WarrantyClaim {
        claim_id: Some(ClaimId(77)),
        ..WarrantyClaim::default()
    };
    let how = ClaimSubmission {
        language: Lcid(1033),
        transfer_if_valid: false,
    };
    let query = DeltaQuery {
        manufacturer: ManufacturerId(19),
        since: jiff::civil::date(2024, 1, 1),
        language: Lcid(1033),
    };
    let invoice = InvoiceReference {
        invoice_number: Some("INV-1".into()),
        draft_invoice_number: Some("D-1".into()),
        ..InvoiceReference::default()
    };

    let mut seen = Seen {
        kind,
        key: &key,
        served: &served,
        shown: &mut shown,
    };
    seen.reply(Route::GetNewMandates, client.new_mandates(true).await);
    seen.reply(Route::GetAcceptedMandates, client.accepted_mandates().await);
    if let Some(id) = seen.reply(Route::CreateRepair, client.create_repair(&file).await) {
        assert_eq!(id, InterventionId(500_001));
    }
    seen.reply(Route::UpdateRepair, client.update_repair(&file).await);
    let id = InterventionId(500_001);
    seen.reply(
        Route::PlaceRepairSparepartOrder,
        client.place_order(id).await,
    );
    seen.reply(
        Route::GetSparepartOrderTracking,
        client.order_tracking(id).await,
    );
    if let Some(judged) = seen.reply(
        Route::CreateWarrantyClaims,
        client.create_claim(&claim, how).await,
    ) {
        let findings = judged.validation_errors.unwrap_or_default();
        let warnings = Warning::of_findings("CreateWarrantyClaims", Some(ClaimId(77)), &findings);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        seen.warnings(&warnings);
    }
    seen.reply(
        Route::UpdateWarrantyClaim,
        client.update_claim(&claim, how).await,
    );
    seen.reply(
        Route::GetWarrantyClaimStatus,
        client.claim_status(ClaimId(77)).await,
    );
    seen.reply(
        Route::CreateeInvoice,
        client.send_invoice_reference(&invoice).await,
    );
    let country = CountryCode(250);
    seen.reply(
        Route::SearchProductByRef,
        client
            .search_products(ManufacturerId(19), "CR-1", country)
            .await,
    );
    seen.reply(Route::PrintBomData, client.bom("K-1").await);
    let parts = whole(client.spare_parts_delta(query).await).await;
    seen.delta(Route::PrintManufacturerSpareParts, parts);
    let products = whole(client.products_delta(query).await).await;
    seen.delta(Route::PrintManufacturerProducts, products);

    assert!(
        !contains_key(&shown, &key),
        "{form:?} {kind:?}: the key {key:?} is shown: {shown}"
    );
    if form != Form::Split {
        assert!(
            shown.contains("[REDACTED]"),
            "{form:?} {kind:?}: nothing masked: {shown}"
        );
    }
    let logged = String::from_utf8(std::mem::take(&mut *logs().0.lock().unwrap())).unwrap();
    assert!(
        !contains_key(&logged, &key),
        "{form:?} {kind:?}: the key {key:?} is logged: {logged}"
    );
}

fn key_strategy() -> impl Strategy<Value = String> {
    // Keys of 8 characters or more are masked wherever they appear
    // (`MASK_ANYWHERE_LEN`); every character a key may hold in a header,
    // those a server escapes in JSON or in a URL included.
    "[A-Za-z0-9+/=_.~!$&*@:;,?#%()\\[\\]{}'\"\\\\-]{8,24}"
}

fn form_strategy() -> impl Strategy<Value = Form> {
    prop_oneof![
        Just(Form::Raw),
        Just(Form::BodyEscaped),
        Just(Form::TextEscaped),
        Just(Form::Percent),
        Just(Form::Split),
    ]
}

fn kind_strategy() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => Just(Kind::Warned),
        1 => Just(Kind::Refused),
        1 => Just(Kind::BadRequest),
        1 => Just(Kind::ServerPage),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 40,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_key_is_in_no_text_and_the_data_is_lossless(
        key in key_strategy(),
        form in form_strategy(),
        kind in kind_strategy(),
    ) {
        run_case(key, form, kind);
    }
}

/// Each form and each kind at least once, whatever the draw.
#[test]
fn every_form_and_every_kind() {
    for form in FORMS {
        for kind in [
            Kind::Warned,
            Kind::Refused,
            Kind::BadRequest,
            Kind::ServerPage,
        ] {
            run_case(r#"k+y/"s\e=c:r%e&t!-0123"#.to_owned(), form, kind);
        }
    }
}
