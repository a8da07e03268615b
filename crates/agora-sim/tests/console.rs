//! The OEM console's server side: the page and its files served at `/`
//! under a policy that allows nothing but them, `/_sim/accounts` (every
//! account for the admin token, only the one named otherwise), the entity
//! tag of `/_sim/state` (a 304 while nothing changed, a new tag once
//! something did), and the status history with its descriptions.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;

use agora_mock::{SimConfig, Simulator};
use agora_sim::{AdminToken, CONSOLE_ROUTES, ServeSettings, SimServer};
use serde_json::json;
use support::Http;

async fn server(admin: Option<&str>) -> SimServer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let config = SimConfig {
        tenants: vec!["acct-a".into(), "acct-b".into()],
        locked: vec!["acct-locked".into()],
        seed: 3,
        catalog_size: 20,
        ..SimConfig::default()
    };
    let settings = ServeSettings {
        admin_token: admin.map(|t| AdminToken::new(t).unwrap()),
        ..ServeSettings::default()
    };
    SimServer::start_with(Simulator::new(config), addr, settings)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_page_and_its_files_are_served_under_a_strict_policy() {
    let server = server(None).await;
    let client = reqwest::Client::new();
    let mut texts = Vec::new();
    for (method, path) in CONSOLE_ROUTES {
        assert_eq!(*method, "GET");
        let resp = client
            .get(format!("{}{path}", server.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let h = resp.headers().clone();
        let policy = h["content-security-policy"].to_str().unwrap().to_owned();
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(policy.contains("form-action 'none'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let kind = h["content-type"].to_str().unwrap().to_owned();
        let text = resp.text().await.unwrap();
        match *path {
            "/" => {
                assert!(kind.starts_with("text/html"), "{kind}");
                assert!(text.contains(r#"<script src="/console/console.js""#));
                assert!(text.contains(r#"href="/console/console.css""#));
                // Nothing inline: the policy would block it.
                assert!(!text.contains("<script>") && !text.contains("style="));
            }
            p if p.ends_with(".js") => assert!(kind.starts_with("text/javascript"), "{kind}"),
            _ => assert!(kind.starts_with("text/css"), "{kind}"),
        }
        texts.push(text);
    }
    // The script sends keys in headers, never in a URL.
    let script = &texts[1];
    assert!(script.contains("h.api_key = account"));
    assert!(!script.contains("apiKey=") && !script.contains("api_key="));
}

#[tokio::test]
async fn accounts_lists_every_account_for_the_admin_and_only_its_own_otherwise() {
    let server = server(Some("tok-123")).await;
    let http = Http::new(&server);
    let all = http
        .call_with(
            "GET",
            "/_sim/accounts",
            &[("authorization", "Bearer tok-123")],
        )
        .await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(
        all.body,
        json!({"Admin": true, "Accounts": [
            {"ApiKey": "acct-a", "Locked": false},
            {"ApiKey": "acct-b", "Locked": false},
            {"ApiKey": "acct-locked", "Locked": true},
        ]})
    );
    let own = http.get("/_sim/accounts", "acct-b").await;
    assert_eq!(
        own.body,
        json!({"Admin": false, "Accounts": [{"ApiKey": "acct-b", "Locked": false}]})
    );
    let named = http
        .call_with(
            "GET",
            "/_sim/accounts",
            &[("authorization", "Bearer tok-123"), ("api_key", "acct-a")],
        )
        .await;
    assert_eq!(
        named.body,
        json!({"Admin": true, "Accounts": [{"ApiKey": "acct-a", "Locked": false}]})
    );
    for headers in [
        &[][..],
        &[("api_key", "nobody")][..],
        &[("authorization", "Bearer wrong")][..],
    ] {
        let got = http.call_with("GET", "/_sim/accounts", headers).await;
        assert_eq!(got.status, 401, "{headers:?}: {}", got.body);
        assert_eq!(got.body["ResponseStatus"], "E");
        let said = got.body["ResponseErrorMessage"].as_str().unwrap();
        assert!(!said.contains("acct-a"), "{said}");
    }
}

#[tokio::test]
async fn the_state_is_answered_304_until_it_changes() {
    let server = server(None).await;
    let http = Http::new(&server);
    let first = http.get("/_sim/state", "acct-a").await;
    assert_eq!(first.status, 200);
    let tag = first.headers["etag"].to_str().unwrap().to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");

    let client = reqwest::Client::new();
    let conditional = |key: &'static str, tag: String| {
        client
            .get(format!("{}/_sim/state", server.url()))
            .header("api_key", key)
            .header("if-none-match", tag)
            .send()
    };
    let same = conditional("acct-a", tag.clone()).await.unwrap();
    assert_eq!(same.status().as_u16(), 304);
    assert_eq!(same.headers()["etag"].to_str().unwrap(), tag);
    assert!(same.bytes().await.unwrap().is_empty());

    // Another account's change leaves this account's tag alone.
    let got = http
        .post(
            "/_sim/mandates",
            "acct-b",
            json!({"Mandate": {"ManufacturerId": 1, "InterventionTypeId": 1}}),
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(
        conditional("acct-a", tag.clone())
            .await
            .unwrap()
            .status()
            .as_u16(),
        304
    );

    // Its own change is a new state with a new tag.
    let got = http
        .post(
            "/_sim/mandates",
            "acct-a",
            json!({"Mandate": {"ManufacturerId": 1, "InterventionTypeId": 1}}),
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    let changed = conditional("acct-a", tag.clone()).await.unwrap();
    assert_eq!(changed.status().as_u16(), 200);
    let new_tag = changed.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_tag, tag);
    let body: serde_json::Value = changed.json_body().await;
    assert_eq!(body["Mandates"].as_array().unwrap().len(), 1);
    // An error is never a 304, whatever the tag.
    let refused = conditional("nobody", new_tag).await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
}

#[tokio::test]
async fn repair_files_carry_their_status_history_with_descriptions() {
    let server = server(None).await;
    let sim = server.simulator();
    let mandate =
        serde_json::from_value(json!({"ManufacturerId": 1, "InterventionTypeId": 1})).unwrap();
    sim.publish_mandate("acct-a", mandate).unwrap();
    let http = Http::new(&server);
    let got = http
        .get("/api/Repair/GetNewMandates?autoAccept=true", "acct-a")
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    let state = http.get("/_sim/state", "acct-a").await.body;
    assert_eq!(state["Repairs"][0]["StatusHistory"], json!([]), "{state}");
    // The network confirms an appointment.
    let mut file = state["Repairs"][0]["File"].clone();
    file["StateNatures"] = json!([{
        "Code": 102, "Comment": "by phone",
        "AppointmentDate": "2026-11-20T08:00:00Z", "AppointmentEndDate": "2026-11-20T09:00:00Z",
    }]);
    sim.update_repair("acct-a", serde_json::from_value(file).unwrap())
        .unwrap();
    let state = http.get("/_sim/state", "acct-a").await.body;
    assert_eq!(
        state["Repairs"][0]["StatusHistory"],
        json!([{"Code": state["Repairs"][0]["File"]["StateNatures"][0]["Code"],
            "Description": "APPOINTMENT CONFIRMED", "Comment": "by phone"}]),
        "{state}"
    );
}

/// `.json()` needs reqwest's `json` feature, which the workspace leaves out.
trait JsonBody {
    async fn json_body(self) -> serde_json::Value;
}

impl JsonBody for reqwest::Response {
    async fn json_body(self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes().await.unwrap()).unwrap()
    }
}
