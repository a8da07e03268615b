//! A simulator fit to share: `/_sim` controls scoped to the account of the
//! `api_key` header (another account's data is a 404), the admin token,
//! faults and catalog publications per account, the simulator's clock,
//! product keys evicted at expiry, body limits answered with an envelope,
//! and the header-read and request timeouts (on tokio's paused clock).
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use agora_mock::{SimConfig, Simulator};
use agora_sim::{AdminToken, ServeSettings, SimServer};
use serde_json::{Value, json};
use support::{Got, Http, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn two_accounts() -> SimConfig {
    SimConfig {
        tenants: vec!["a".into(), "b".into()],
        seed: 5,
        catalog_size: 20,
        product_key_ttl: Duration::from_secs(600),
        ..SimConfig::default()
    }
}

async fn with_admin(token: &str) -> SimServer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let settings = ServeSettings {
        admin_token: Some(AdminToken::new(token).unwrap()),
        ..ServeSettings::default()
    };
    SimServer::start_with(Simulator::new(two_accounts()), addr, settings)
        .await
        .unwrap()
}

fn assert_envelope(got: &Got, status: u16, says: &str) {
    assert_eq!(got.status, status, "{}", got.body);
    assert_eq!(got.body["ResponseStatus"], "E", "{}", got.body);
    assert_eq!(got.body["IsValid"], false, "{}", got.body);
    let message = got.body["ResponseErrorMessage"].as_str().unwrap();
    assert!(message.contains(says), "{message}");
}

/// Account a's work order, repair file, order line and transferred claim.
async fn a_story(http: &Http) -> (i64, i64, String, i64) {
    let got = http
        .post(
            "/_sim/mandates",
            "a",
            json!({"Mandate": {"ManufacturerId": 19, "InterventionTypeId": 1}}),
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    let mandate = got.body["MandateId"].as_i64().unwrap();
    let got = http
        .get("/api/Repair/GetNewMandates?autoAccept=true", "a")
        .await;
    let file = got.body["ResponseData"][0]["InterventionId"]
        .as_i64()
        .unwrap();
    let got = http
        .post(
            "/api/Repair/UpdateRepair",
            "a",
            json!({"InterventionId": file, "ManufacturerId": 19,
                   "Parts": [{"Reference": "00019-00000001", "Quantity": 1, "ToBeOrdered": true}]}),
        )
        .await;
    assert_eq!(got.body["ResponseStatus"], "S", "{}", got.body);
    let got = http
        .post(
            &format!("/api/Repair/PlaceRepairSparepartOrder?interventionId={file}"),
            "a",
            json!({}),
        )
        .await;
    let order = got.body["ResponseData"][0]["OrderNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = http
        .post(
            "/api/Repair/CreateWarrantyClaims?language=1033&transferIfValid=true",
            "a",
            json!({
                "ClaimType": {"InterventionId": file, "ManufacturerId": 19,
                              "CommercialRef": "ECAM22.110.B", "SerialNumber": "1234567890123456789"},
                "ClaimConso": {"LastName": "Martin", "Address1": "12 rue des Lilas", "Zip": "69003",
                               "City": "Lyon", "MobilePhone": "0612345678"},
                "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z",
                               "InterventionStartDateTime": "2024-03-02T08:00:00Z",
                               "InterventionEndDateTime": "2024-03-02T09:00:00Z"},
                "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 45.5},
                "ClaimParts": [{"PartReference": "00019-00000001", "Quantity": 1}]
            }),
        )
        .await;
    assert_eq!(got.body["ResponseData"]["IsValid"], true, "{}", got.body);
    let claim = got.body["ResponseData"]["ClaimID"].as_i64().unwrap();
    (mandate, file, order, claim)
}

#[tokio::test]
async fn one_account_s_controls_neither_see_nor_change_another_s_data() {
    let server = serve(two_accounts()).await;
    let http = Http::new(&server);
    let (mandate, _, order, claim) = a_story(&http).await;

    // b cannot reach a's claim, order or work order: 404, nothing changed.
    let decision = json!({"LastStatus": "CLOSEDACCEPTED"});
    let got = http
        .post(
            &format!("/_sim/claims/{claim}/decision"),
            "b",
            decision.clone(),
        )
        .await;
    assert_envelope(&got, 404, &format!("no claim {claim}"));
    let got = http
        .post(
            &format!("/_sim/orders/{order}/logistic"),
            "b",
            json!({"StatusCode": "208"}),
        )
        .await;
    assert_envelope(&got, 404, &order);
    let got = http
        .post(
            &format!("/_sim/mandates/{mandate}/broken"),
            "b",
            json!({"Broken": true}),
        )
        .await;
    assert_envelope(&got, 404, &mandate.to_string());
    let got = http
        .post("/_sim/invoices/draft", "b", json!({"ManufacturerId": 19}))
        .await;
    assert_eq!(got.status, 409, "b has no accepted claim: {}", got.body);
    let state_b = http.get("/_sim/state", "b").await.body;
    for list in ["Mandates", "Repairs", "Orders", "Claims"] {
        assert_eq!(state_b[list], json!([]), "{list}");
    }
    let state_a = http.get("/_sim/state", "a").await.body;
    assert_eq!(state_a["Claims"][0]["LastStatus"], "VALID");
    assert_eq!(state_a["Orders"][0]["Line"]["StatusCode"], Value::Null);

    // a can.
    let got = http
        .post(&format!("/_sim/claims/{claim}/decision"), "a", decision)
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    let got = http
        .post(
            &format!("/_sim/orders/{order}/logistic"),
            "a",
            json!({"StatusCode": "208"}),
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
}

#[tokio::test]
async fn a_control_call_needs_the_key_in_the_header_never_in_the_url() {
    let server = serve(two_accounts()).await;
    let http = Http::new(&server);
    for (method, path) in [
        ("GET", "/_sim/state"),
        ("GET", "/_sim/faults"),
        ("GET", "/_sim/journal"),
        ("GET", "/_sim/clock"),
    ] {
        let got = http.call(method, path, None, None).await;
        assert_envelope(&got, 401, "`api_key` header");
    }
    let got = http
        .call(
            "POST",
            "/_sim/faults",
            None,
            Some(json!({"Status503Rate": 1.0})),
        )
        .await;
    assert_envelope(&got, 401, "`api_key` header");
    let got = http.get("/_sim/state", "nobody").await;
    assert_envelope(&got, 401, "unknown api_key");
    // A key in the URL is refused, even with the header, and not echoed.
    for path in ["/_sim/state?apiKey=a", "/_sim/journal?api_key=a"] {
        let got = http.get(path, "a").await;
        assert_envelope(&got, 400, "send it in the `api_key` header");
        assert!(!got.body.to_string().contains("apiKey=a"));
    }
    // A key in the body, as the control API once took it, says where it goes.
    let got = http
        .post(
            "/_sim/mandates",
            "a",
            json!({"ApiKey": "b", "Mandate": {"ManufacturerId": 19}}),
        )
        .await;
    assert_envelope(&got, 400, "`api_key` header");
    // A bearer token on a simulator without one is refused.
    let got = Http::new(&server)
        .call_with(
            "GET",
            "/_sim/state",
            &[("authorization", "Bearer x"), ("api_key", "a")],
        )
        .await;
    assert_envelope(&got, 401, "no admin token");
}

#[tokio::test]
async fn faults_and_publications_are_the_account_s_own() {
    let server = serve(two_accounts()).await;
    let http = Http::new(&server);
    let got = http
        .post(
            "/_sim/faults",
            "a",
            json!({"Status503Rate": 1.0, "Routes": ["GetAcceptedMandates"]}),
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(
        http.get("/api/Repair/GetAcceptedMandates", "a")
            .await
            .status,
        503
    );
    assert_eq!(
        http.get("/api/Repair/GetNewMandates", "a").await.status,
        200
    );
    assert_eq!(
        http.get("/api/Repair/GetAcceptedMandates", "b")
            .await
            .status,
        200
    );
    assert_eq!(
        http.get("/_sim/faults", "b").await.body["Status503Rate"],
        0.0
    );

    let part = json!([{"Reference": "A-ONLY-1", "Label": "a's part"}]);
    let got = http.post("/_sim/catalog/19/spareparts", "a", part).await;
    assert_eq!(got.body["Published"], 1, "{}", got.body);
    let delta = "/api/Product/PrintManufacturerSpareParts/19/01-01-2025/English";
    let got = http.get(delta, "a").await;
    assert_eq!(
        got.body["ResponseData"][0]["Reference"], "A-ONLY-1",
        "{}",
        got.body
    );
    let got = http.get(delta, "b").await;
    assert_eq!(got.body["ResponseData"], json!([]), "{}", got.body);
}

#[tokio::test]
async fn the_admin_token_reaches_every_account_and_the_simulator_s_clock() {
    let server = with_admin("s3cret-token").await;
    let http = Http::new(&server);
    a_story(&http).await;
    let admin = |key: &'static str| [("authorization", "Bearer s3cret-token"), ("api_key", key)];
    let got = http.call_with("GET", "/_sim/state", &admin("a")).await;
    assert_eq!(
        got.body["Claims"].as_array().unwrap().len(),
        1,
        "{}",
        got.body
    );
    let got = http.call_with("GET", "/_sim/state", &admin("b")).await;
    assert_eq!(got.body["Claims"], json!([]));
    // Wrong token; no account named where one is needed.
    let got = http
        .call_with(
            "GET",
            "/_sim/state",
            &[("authorization", "Bearer s3cret-tokeN"), ("api_key", "a")],
        )
        .await;
    assert_envelope(&got, 401, "wrong admin token");
    let got = http
        .call_with(
            "GET",
            "/_sim/state",
            &[("authorization", "Bearer s3cret-token")],
        )
        .await;
    assert_envelope(&got, 400, "name the account");
    // The simulator's clock: only with the admin token and no account.
    let got = http
        .call_json(
            "POST",
            "/_sim/clock",
            &[("authorization", "Bearer s3cret-token")],
            json!({"Action": "freeze"}),
        )
        .await;
    assert_eq!(got.body["Scope"], "simulator", "{}", got.body);
    let frozen = got.body["Now"].as_str().unwrap().to_owned();
    let got = http
        .call_json(
            "POST",
            "/_sim/clock",
            &[("authorization", "Bearer s3cret-token")],
            json!({"Action": "advance", "By": "2h"}),
        )
        .await;
    let later: jiff::Timestamp = got.body["Now"].as_str().unwrap().parse().unwrap();
    let before: jiff::Timestamp = frozen.parse().unwrap();
    assert_eq!(
        later.duration_since(before),
        jiff::SignedDuration::from_hours(2)
    );
    // Every account without its own setting follows it.
    let got = http.get("/_sim/clock", "b").await;
    assert_eq!(got.body["Now"].as_str().unwrap(), later.to_string());
    assert_eq!(got.body["Scope"], "account");
}

#[tokio::test]
async fn an_account_s_clock_moves_its_own_time_and_product_keys_expire_on_it() {
    let server = serve(two_accounts()).await;
    let http = Http::new(&server);
    let freeze = http
        .post("/_sim/clock", "a", json!({"Action": "freeze"}))
        .await;
    assert_eq!(freeze.body["Frozen"], true, "{}", freeze.body);
    let got = http
        .get(
            "/api/Product/SearchProductByRef?manufacturerId=19&keyWord=P19-000001&countryCode=250",
            "a",
        )
        .await;
    let key = got.body["ResponseData"][0]["ProductKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let bom = format!("/api/Product/PrintBOMData?productKey={key}");
    assert_eq!(http.get("/_sim/state", "a").await.body["ProductKeys"], 1);
    let got = http
        .post(
            "/_sim/clock",
            "a",
            json!({"Action": "advance", "By": "9m 59s"}),
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(http.get(&bom, "a").await.status, 200);
    http.post("/_sim/clock", "a", json!({"Action": "advance", "By": "1s"}))
        .await;
    // Evicted at its expiry, and still answered as expired.
    assert_eq!(http.get("/_sim/state", "a").await.body["ProductKeys"], 0);
    let got = http.get(&bom, "a").await;
    assert_envelope(&got, 404, "ProductKey expired");
    // b's clock did not move; a's never goes back.
    let b = http.get("/_sim/clock", "b").await.body;
    assert_eq!(b["Frozen"], false);
    assert_eq!(b["OwnSetting"], false);
    for bad in [
        json!({"Action": "advance", "By": "-1h"}),
        json!({"Action": "set", "To": "2000-01-01T00:00:00Z"}),
        json!({"Action": "advance", "By": "soon"}),
        json!({"Action": "rewind"}),
        json!({"Action": "freeze", "By": "1h"}),
    ] {
        let got = http.post("/_sim/clock", "a", bad.clone()).await;
        assert_eq!(got.status, 400, "{bad}: {}", got.body);
    }
    let got = http
        .post("/_sim/clock", "a", json!({"Action": "resume"}))
        .await;
    assert_eq!(got.body["Frozen"], false, "{}", got.body);
}

#[tokio::test]
async fn a_body_over_the_route_s_limit_gets_a_413_envelope() {
    let server = serve(two_accounts()).await;
    let client = reqwest::Client::new();
    let big = vec![b' '; 20 * 1024 * 1024];
    let resp = client
        .post(format!("{}/api/Repair/CreateRepair", server.url()))
        .header("api_key", "a")
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(body["ResponseStatus"], "E", "{body}");
    assert!(
        body["ResponseErrorMessage"]
            .as_str()
            .unwrap()
            .contains("8388608 bytes at most"),
        "{body}"
    );
    // Without a declared length (chunked), the same.
    let chunks = chunked(2 * 1024 * 1024);
    let resp = client
        .post(format!("{}/_sim/faults", server.url()))
        .header("api_key", "a")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert!(
        body["ResponseErrorMessage"]
            .as_str()
            .unwrap()
            .contains("1048576"),
        "{body}"
    );
    // Within the limit, as before.
    let http = Http::new(&server);
    assert_eq!(http.post("/_sim/faults", "a", json!({})).await.status, 200);
}

/// `n` bytes of spaces in 64 KiB chunks, with no declared length.
fn chunked(n: usize) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let chunk = 64 * 1024;
    futures_util::stream::iter((0..n / chunk).map(move |_| Ok(vec![b' '; chunk])))
}

/// A server with the given timeouts, on tokio's paused clock.
async fn paused_server(header: u64, request: u64) -> SimServer {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let settings = ServeSettings {
        header_timeout: Duration::from_secs(header),
        request_timeout: Duration::from_secs(request),
        ..ServeSettings::default()
    };
    SimServer::start_with(Simulator::new(two_accounts()), addr, settings)
        .await
        .unwrap()
}

/// A client that sends a header line every 5 s is cut once the
/// header-read timeout (10 s) has passed since its request began.
#[tokio::test(start_paused = true)]
async fn a_client_trickling_headers_is_cut_at_the_header_timeout() {
    let server = paused_server(10, 60).await;
    let mut sock = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let started = tokio::time::Instant::now();
    sock.write_all(b"GET /_sim/clock HTTP/1.1\r\nHost: sim\r\n")
        .await
        .unwrap();
    let (mut read, mut write) = sock.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_secs(5)).await;
            if write.write_all(b"X-Slow: 1\r\n").await.is_err() {
                return;
            }
        }
    });
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(100), read.read_to_end(&mut buf)).await;
    let elapsed = started.elapsed();
    assert!(closed.is_ok(), "still open after 100 s");
    assert!(
        elapsed >= Duration::from_secs(10) && elapsed < Duration::from_secs(11),
        "cut after {elapsed:?}"
    );
    trickle.abort();
}

/// A request whose body does not arrive within the request timeout is
/// answered 408 with an envelope.
#[tokio::test(start_paused = true)]
async fn a_body_that_does_not_arrive_is_answered_408() {
    let server = paused_server(10, 30).await;
    let mut sock = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let started = tokio::time::Instant::now();
    sock.write_all(
        b"POST /_sim/faults HTTP/1.1\r\nHost: sim\r\napi_key: a\r\nContent-Length: 100\r\n\r\n{\"Status",
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(100), sock.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(30) && elapsed < Duration::from_secs(31),
        "{elapsed:?}"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"ResponseStatus\":\"E\""), "{text}");
}
