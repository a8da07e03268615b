//! The simulator over HTTP (the spec's routes: tests/openapi.rs): every error code
//! and its envelope, tenant isolation, fault rates, drop-after-commit,
//! determinism under a seed.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use agora_mock::{SimConfig, Simulator};
use agora_sim::SimServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn start(config: SimConfig) -> SimServer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    SimServer::start(Simulator::new(config), addr)
        .await
        .unwrap()
}

fn config(tenants: &[&str], locked: &[&str], seed: u64) -> SimConfig {
    SimConfig {
        tenants: tenants.iter().map(|s| (*s).to_owned()).collect(),
        locked: locked.iter().map(|s| (*s).to_owned()).collect(),
        seed,
        catalog_size: 100,
        ..SimConfig::default()
    }
}

struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    fn new(server: &SimServer) -> Self {
        Self {
            base: server.url(),
            client: reqwest::Client::new(),
        }
    }
    async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.header("api_key", k);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_owned());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
        (status, value)
    }
}

fn assert_error_envelope(v: &Value) {
    assert_eq!(v["ResponseStatus"], "E", "{v}");
    assert_eq!(v["IsValid"], false, "{v}");
    assert!(
        v["ResponseErrorMessage"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
}

#[tokio::test]
async fn every_error_code_answers_an_envelope() {
    let server = start(config(&["a", "b"], &["locked"], 1)).await;
    let http = Http::new(&server);
    /// (method, path, api_key, body, expected status)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, u16);
    let cases: Vec<Case<'_>> = vec![
        ("GET", "/api/Repair/GetAcceptedMandates", None, None, 401),
        (
            "GET",
            "/api/Repair/GetAcceptedMandates",
            Some("nobody"),
            None,
            401,
        ),
        (
            "GET",
            "/api/Repair/GetAcceptedMandates",
            Some("locked"),
            None,
            403,
        ),
        ("GET", "/api/Repair/NoSuchThing", Some("a"), None, 404),
        ("GET", "/favicon.ico", None, None, 404),
        (
            "GET",
            "/api/Repair/GetSparepartOrderTracking?interventionId=999",
            Some("a"),
            None,
            404,
        ),
        (
            "POST",
            "/api/Repair/GetAcceptedMandates",
            Some("a"),
            Some("{}"),
            405,
        ),
        ("DELETE", "/api/Repair/UpdateRepair", Some("a"), None, 405),
        ("GET", "/_sim/mandates", None, None, 405),
        (
            "POST",
            "/api/Repair/UpdateRepair",
            Some("a"),
            Some("{not json"),
            400,
        ),
        ("POST", "/api/Repair/UpdateRepair", Some("a"), Some(""), 400),
        (
            "POST",
            "/api/Repair/CreateRepair",
            Some("a"),
            Some(r#"{"Consumer":{"Country":"France"}}"#),
            400,
        ),
        (
            "GET",
            "/api/Repair/GetSparepartOrderTracking",
            Some("a"),
            None,
            400,
        ),
        (
            "GET",
            "/api/Repair/GetNewMandates?autoAccept=maybe",
            Some("a"),
            None,
            400,
        ),
        (
            "GET",
            "/api/Product/PrintManufacturerProducts/19/2020-01-01/English",
            Some("a"),
            None,
            400,
        ),
        (
            "POST",
            "/_sim/mandates",
            Some("a"),
            Some(r#"{"ApiKey": 3}"#),
            400,
        ),
        (
            "POST",
            "/_sim/faults",
            Some("a"),
            Some(r#"{"Status503Rate": 2}"#),
            400,
        ),
    ];
    for (method, path, key, body, expected) in cases {
        let (status, v) = http.call(method, path, key, body).await;
        assert_eq!(status.as_u16(), expected, "{method} {path}: {v}");
        assert_error_envelope(&v);
    }
    // The 400 names the field of the wrong type.
    let (_, v) = http
        .call(
            "POST",
            "/api/Repair/CreateRepair",
            Some("a"),
            Some(r#"{"Consumer":{"Country":"France"}}"#),
        )
        .await;
    assert!(
        v["ResponseErrorMessage"]
            .as_str()
            .unwrap()
            .contains("Consumer.Country"),
        "{v}"
    );
    // Routes match case-insensitively.
    let (status, v) = http
        .call("GET", "/API/repair/getacceptedmandates", Some("a"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // Injected 500 and 503 (with Retry-After).
    http.call(
        "POST",
        "/_sim/faults",
        Some("a"),
        Some(r#"{"Status503Rate": 1.0, "RetryAfterSeconds": 3}"#),
    )
    .await;
    let resp = http
        .client
        .get(format!("{}/api/Repair/GetAcceptedMandates", http.base))
        .header("api_key", "a")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "3");
    assert_error_envelope(&serde_json::from_str(&resp.text().await.unwrap()).unwrap());
    http.call(
        "POST",
        "/_sim/faults",
        Some("a"),
        Some(r#"{"Status500Rate": 1.0}"#),
    )
    .await;
    let (status, v) = http
        .call("GET", "/api/Repair/GetAcceptedMandates", Some("a"), None)
        .await;
    assert_eq!(status.as_u16(), 500);
    assert_error_envelope(&v);
}

#[tokio::test]
async fn one_key_never_sees_another_accounts_data() {
    let server = start(config(&["a", "b"], &[], 1)).await;
    let http = Http::new(&server);
    let mandate = json!({"Mandate": {"ManufacturerId": 19, "InterventionTypeId": 1}});
    let (_, v) = http
        .call(
            "POST",
            "/_sim/mandates",
            Some("a"),
            Some(&mandate.to_string()),
        )
        .await;
    assert!(v["MandateId"].as_i64().is_some());
    let (_, v) = http
        .call(
            "GET",
            "/api/Repair/GetNewMandates?autoAccept=true",
            Some("a"),
            None,
        )
        .await;
    let intervention = v["ResponseData"][0]["InterventionId"].as_i64().unwrap();
    let (_, v) = http
        .call("GET", "/api/Repair/GetNewMandates", Some("b"), None)
        .await;
    assert_eq!(v["ResponseData"], json!([]));
    let (_, v) = http
        .call("GET", "/api/Repair/GetAcceptedMandates", Some("b"), None)
        .await;
    assert_eq!(v["ResponseData"], json!([]));
    for (method, path, body) in [
        (
            "POST",
            "/api/Repair/UpdateRepair".to_owned(),
            Some(json!({"InterventionId": intervention}).to_string()),
        ),
        (
            "GET",
            format!("/api/Repair/GetSparepartOrderTracking?interventionId={intervention}"),
            None,
        ),
        (
            "POST",
            format!("/api/Repair/PlaceRepairSparepartOrder?interventionId={intervention}"),
            Some("{}".to_owned()),
        ),
        (
            "POST",
            "/api/Repair/CreateWarrantyClaims?language=1033".to_owned(),
            Some(
                json!({"ClaimType": {"InterventionId": intervention, "ManufacturerId": 19}})
                    .to_string(),
            ),
        ),
    ] {
        let (status, v) = http.call(method, &path, Some("b"), body.as_deref()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {v}");
        assert!(
            !v.to_string().contains("\"Mandate\""),
            "no data of the other account: {v}"
        );
    }
    // a's claim, draft invoice and product key exist: a reaches each of
    // them, b none.
    let claim = json!({
        "ClaimType": {"InterventionId": intervention, "ManufacturerId": 19,
                      "CommercialRef": "ECAM22.110.B", "SerialNumber": "1234567890123456789"},
        "ClaimConso": {"LastName": "Martin", "Address1": "12 rue des Lilas", "Zip": "69003",
                       "City": "Lyon", "MobilePhone": "0612345678"},
        "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z"},
        "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 45.5}
    });
    let (status, v) = http
        .call(
            "POST",
            "/api/Repair/CreateWarrantyClaims?language=1033&transferIfValid=true",
            Some("a"),
            Some(&claim.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["ResponseData"]["IsValid"], true, "{v}");
    let claim_id = v["ResponseData"]["ClaimID"].as_i64().unwrap();
    let status_path = format!("/api/Repair/GetWarrantyClaimStatus?claimId={claim_id}");
    let (status, v) = http.call("GET", &status_path, Some("a"), None).await;
    assert_eq!(
        (status, &v["ResponseData"]["LastStatus"]),
        (StatusCode::OK, &json!("VALID"))
    );
    let (status, v) = http
        .call(
            "POST",
            &format!("/_sim/claims/{claim_id}/decision"),
            Some("a"),
            Some(r#"{"LastStatus": "CLOSEDACCEPTED"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = http
        .call(
            "POST",
            "/_sim/invoices/draft",
            Some("a"),
            Some(r#"{"ManufacturerId": 19}"#),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let draft = v["DraftInvoiceNumber"].as_str().unwrap().to_owned();
    let (status, v) = http
        .call(
            "GET",
            "/api/Product/SearchProductByRef?manufacturerId=19&keyWord=P19-000004&countryCode=250",
            Some("a"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let product_key = v["ResponseData"][0]["ProductKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let bom_path = format!("/api/Product/PrintBOMData?productKey={product_key}");
    let (status, v) = http.call("GET", &bom_path, Some("a"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(!v["ResponseData"].as_array().unwrap().is_empty(), "{v}");

    let correction = {
        let mut c = claim.clone();
        c["ClaimID"] = json!(claim_id);
        c.to_string()
    };
    let invoice = json!({"InvoiceNumber": "F1", "DraftInvoiceNumber": draft}).to_string();
    for (method, path, body) in [
        ("GET", status_path.as_str(), None),
        (
            "POST",
            "/api/Repair/UpdateWarrantyClaim?language=1033",
            Some(correction.as_str()),
        ),
        ("POST", "/api/Repair/CreateeInvoice", Some(invoice.as_str())),
        ("GET", bom_path.as_str(), None),
    ] {
        let (status, v) = http.call(method, path, Some("b"), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {v}");
    }
    // The draft is still a's to link.
    let (status, v) = http
        .call(
            "POST",
            "/api/Repair/CreateeInvoice",
            Some("a"),
            Some(&invoice),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, state_b) = http.call("GET", "/_sim/state", Some("b"), None).await;
    for list in ["Mandates", "Repairs", "Orders", "Claims", "DraftInvoices"] {
        assert_eq!(state_b[list], json!([]), "{list}: {state_b}");
    }
    let (_, state_a) = http.call("GET", "/_sim/state", Some("a"), None).await;
    assert_eq!(state_a["Claims"][0]["LastStatus"], "CLOSEDACCEPTED");
    assert_eq!(state_a["DraftInvoices"][0]["InvoiceNumber"], "F1");
}

#[tokio::test]
async fn fault_rates_hold_within_tolerance() {
    let server = start(config(&["a"], &[], 9)).await;
    let http = Http::new(&server);
    http.call(
        "POST",
        "/_sim/faults",
        Some("a"),
        Some(r#"{"Status503Rate": 0.25, "Status500Rate": 0.1}"#),
    )
    .await;
    let n = 1200;
    let (mut s503, mut s500, mut ok) = (0, 0, 0);
    for _ in 0..n {
        let (status, _) = http
            .call("GET", "/api/Repair/GetAcceptedMandates", Some("a"), None)
            .await;
        match status.as_u16() {
            503 => s503 += 1,
            500 => s500 += 1,
            200 => ok += 1,
            other => panic!("unexpected {other}"),
        }
    }
    let rate = |k: i32| f64::from(k) / f64::from(n);
    assert!((rate(s503) - 0.25).abs() < 0.04, "503 rate {}", rate(s503));
    assert!((rate(s500) - 0.10).abs() < 0.03, "500 rate {}", rate(s500));
    assert_eq!(s503 + s500 + ok, n);
    // Control routes are never faulted.
    let (status, _) = http.call("GET", "/_sim/faults", Some("a"), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn injected_delay_holds_the_answer() {
    let server = start(config(&["a"], &[], 3)).await;
    let http = Http::new(&server);
    http.call(
        "POST",
        "/_sim/faults",
        Some("a"),
        Some(r#"{"DelayMs": 300}"#),
    )
    .await;
    let started = std::time::Instant::now();
    let (status, _) = http
        .call("GET", "/api/Repair/GetAcceptedMandates", Some("a"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
}

#[tokio::test]
async fn drop_after_commit_applies_then_closes_without_answering() {
    let server = start(config(&["a"], &[], 3)).await;
    let http = Http::new(&server);
    http.call(
        "POST",
        "/_sim/faults",
        Some("a"),
        Some(r#"{"DropAfterCommitRate": 1.0}"#),
    )
    .await;
    let file = agora_mock::sample::walk_in_with(json!({"CommercialRef": "X"}));
    let err = http
        .client
        .post(format!("{}/api/Repair/CreateRepair", http.base))
        .header("api_key", "a")
        .header("content-type", "application/json")
        .body(file.to_string())
        .send()
        .await
        .unwrap_err();
    assert!(
        !err.is_status() && !err.is_connect(),
        "no answer at all: {err:?}"
    );
    http.call("POST", "/_sim/faults", Some("a"), Some("{}"))
        .await;
    let (_, state) = http.call("GET", "/_sim/state", Some("a"), None).await;
    assert_eq!(
        state["Repairs"].as_array().unwrap().len(),
        1,
        "the change was applied"
    );
    // The server still serves.
    let (status, _) = http
        .call("GET", "/api/Repair/GetAcceptedMandates", Some("a"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn scripted_run(seed: u64) -> (Value, Value) {
    let server = start(config(&["a"], &[], seed)).await;
    let http = Http::new(&server);
    http.call(
        "POST",
        "/_sim/faults",
        Some("a"),
        Some(r#"{"Status503Rate": 0.3}"#),
    )
    .await;
    let mut statuses = Vec::new();
    for i in 0..10 {
        let mandate = json!({"Mandate": {"ManufacturerId": 4, "InterventionTypeId": 1}});
        http.call(
            "POST",
            "/_sim/mandates",
            Some("a"),
            Some(&mandate.to_string()),
        )
        .await;
        let (s, _) = http
            .call(
                "GET",
                "/api/Repair/GetNewMandates?autoAccept=true",
                Some("a"),
                None,
            )
            .await;
        statuses.push(s.as_u16());
        let (s, v) = http
            .call("GET", &format!("/api/Product/SearchProductByRef?manufacturerId=4&keyWord=P4-{i:06}&countryCode=250"), Some("a"), None)
            .await;
        statuses.push(s.as_u16());
        statuses.push(u16::from(v["ResponseData"][0]["ProductKey"].is_string()));
    }
    http.call("POST", "/_sim/faults", Some("a"), Some("{}"))
        .await;
    let (_, parts) = http
        .call(
            "GET",
            "/api/Product/PrintManufacturerSpareParts/4/01-01-2000/French",
            Some("a"),
            None,
        )
        .await;
    let (_, mut state) = http.call("GET", "/_sim/state", Some("a"), None).await;
    // Creation dates come from the clock; everything else from the seed.
    for r in state["Repairs"].as_array_mut().unwrap() {
        r["File"].as_object_mut().unwrap().remove("CreationDate");
    }
    for j in state["Journal"].as_array_mut().unwrap() {
        j.as_object_mut().unwrap().remove("At");
    }
    (json!({"state": state, "statuses": statuses}), parts)
}

#[tokio::test]
async fn the_same_seed_gives_the_same_simulation() {
    let (run1, parts1) = scripted_run(11).await;
    let (run2, parts2) = scripted_run(11).await;
    let (run3, parts3) = scripted_run(12).await;
    assert_eq!(run1, run2);
    assert_eq!(parts1, parts2);
    assert_ne!(parts1, parts3);
    assert_ne!(run1, run3);
    assert_eq!(parts1["ResponseData"].as_array().unwrap().len(), 100);
}

/// A draft invoice comes with its CSV: served raw, in the layout and
/// encoding asked on the draft call, its charset in the `Content-Type`;
/// a layout the simulator cannot write is a 400 naming the option.
#[tokio::test]
async fn a_draft_invoice_comes_with_its_csv_in_the_layout_asked() {
    let server = start(config(&["a"], &[], 1)).await;
    let http = Http::new(&server);
    let mut claims = Vec::new();
    for _ in 0..2 {
        let mandate = json!({"Mandate": {"ManufacturerId": 19, "InterventionTypeId": 1}});
        http.call(
            "POST",
            "/_sim/mandates",
            Some("a"),
            Some(&mandate.to_string()),
        )
        .await;
        let (_, v) = http
            .call(
                "GET",
                "/api/Repair/GetNewMandates?autoAccept=true",
                Some("a"),
                None,
            )
            .await;
        let intervention = v["ResponseData"][0]["InterventionId"].as_i64().unwrap();
        let claim = json!({
            "ClaimType": {"InterventionId": intervention, "ManufacturerId": 19,
                          "CommercialRef": "ECAM22.110.B", "SerialNumber": "1234567890123456789"},
            "ClaimConso": {"LastName": "Gérard", "Address1": "12 rue des Lilas", "Zip": "69003",
                           "City": "Lyon", "MobilePhone": "0612345678"},
            "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z"},
            "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 1234.5}
        });
        let (_, v) = http
            .call(
                "POST",
                "/api/Repair/CreateWarrantyClaims?language=1033&transferIfValid=true",
                Some("a"),
                Some(&claim.to_string()),
            )
            .await;
        let claim_id = v["ResponseData"]["ClaimID"].as_i64().unwrap();
        http.call(
            "POST",
            &format!("/_sim/claims/{claim_id}/decision"),
            Some("a"),
            Some(r#"{"LastStatus": "CLOSEDACCEPTED"}"#),
        )
        .await;
        claims.push((claim_id, intervention));
    }
    let (status, v) = http
        .call(
            "POST",
            "/_sim/invoices/draft",
            Some("a"),
            Some(r#"{"ManufacturerId": 19, "Csv": {"Separator": ",", "Encoding": "windows-1252", "DecimalComma": false, "Headers": "fr", "Dates": "iso"}}"#),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let draft = v["DraftInvoiceNumber"].as_str().unwrap().to_owned();
    let path = v["Csv"].as_str().unwrap().to_owned();
    assert_eq!(path, format!("/_sim/invoices/{draft}/csv"));
    // The account's own draft: without its key, 401.
    let csv_of = |path: String, key: Option<&'static str>| {
        let mut req = reqwest::Client::new().get(format!("{}{path}", server.url()));
        if let Some(k) = key {
            req = req.header("api_key", k);
        }
        req.send()
    };
    let resp = csv_of(path.clone(), None).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = csv_of(path, Some("a")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"],
        "text/csv; charset=windows-1252"
    );
    let bytes = resp.bytes().await.unwrap();
    assert!(std::str::from_utf8(&bytes).is_err(), "Windows-1252 bytes");
    let header = b"N\xB0 r\xE9clamation,N\xB0 dossier,Montant HT,Date d'acceptation,Client\r\n";
    assert!(bytes.starts_with(header), "{bytes:?}");
    let (claim, file) = claims[0];
    let row = format!("{claim},{file},1234.50,");
    assert!(
        bytes.windows(row.len()).any(|w| w == row.as_bytes()),
        "{bytes:?}"
    );
    assert!(
        bytes.windows(6).any(|w| w == b"G\xE9rard"),
        "the name in Windows-1252: {}",
        String::from_utf8_lossy(&bytes)
    );
    // An unknown draft: 404; an unknown layout: 400 naming it.
    let resp = csv_of("/_sim/invoices/DR-0/csv".to_owned(), Some("a"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let (status, v) = http
        .call(
            "POST",
            "/_sim/invoices/draft",
            Some("a"),
            Some(r#"{"ManufacturerId": 19, "Csv": {"Encoding": "ebcdic"}}"#),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v.to_string().contains("Encoding"), "{v}");
}
