//! The OEM console in a real browser: headless Chromium, driven through
//! chromedriver, against a fresh simulator (`agora sim`, with an admin
//! token), while the `agora` binary plays the service network: a work
//! order published in the page is accepted by `agora work-orders sync`
//! and its repair file appears in the page; a part order shipped in the
//! page is tracked as 208 by `agora parts track`; a claim decided in the
//! page is reported by `agora claims track`. A form shows the simulator's
//! own error message. Every step leaves a screenshot under
//! `target/console-screenshots/`. The page is waited for (an element or a
//! text, with a deadline), never slept on.
//!
//! (In agora-cli's tests because cargo gives the path of a binary only to
//! its own package's tests.)
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

mod support;
mod webdriver;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::served;
use webdriver::{Browser, missing_browser, screenshot_dir};

const KEY: &str = "console-key-42";
const OTHER: &str = "another-account";
const TOKEN: &str = "console-admin-token";
/// How long the page may take to show a change.
const SOON: Duration = Duration::from_secs(15);

/// `agora sim` as a child process, stopped when dropped.
struct Sim {
    child: Child,
    url: String,
}

impl Sim {
    fn start() -> Self {
        let (child, url) = served(
            Command::new(env!("CARGO_BIN_EXE_agora"))
                .args([
                    "sim",
                    "--listen",
                    "127.0.0.1:0",
                    "--tenant",
                    OTHER,
                    "--tenant",
                    KEY,
                    "--seed",
                    "8",
                    "--catalog-size",
                    "50",
                ])
                .env("AGORA_SIM_ADMIN_TOKEN", TOKEN),
        );
        Self { child, url }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `agora` binary against the simulator, with its own store.
struct Agora {
    url: String,
    db: PathBuf,
}

impl Agora {
    async fn json(&self, args: &[&str]) -> Value {
        let mut c = Command::new(env!("CARGO_BIN_EXE_agora"));
        c.arg("--json")
            .args(args)
            .env("AGORA_BASE_URL", &self.url)
            .env("AGORA_API_KEY", KEY)
            .env("AGORA_DB", &self.db)
            .env_remove("AGORA_CONFIG")
            .env_remove("AGORA_ENV");
        let out = tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "agora {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "agora {args:?}: {e}: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}

async fn shot(browser: &Browser, dir: &Path, name: &str) {
    browser.screenshot(&dir.join(format!("{name}.png"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oem_console_drives_a_repair_through_the_browser() {
    if let Some(line) = missing_browser() {
        panic!("{line}");
    }
    let started = Instant::now();
    let shots = screenshot_dir();
    let sim = Sim::start();
    let store = tempfile::Builder::new()
        .prefix("agora-console-")
        .tempdir()
        .unwrap();
    let agora = Agora {
        url: sim.url.clone(),
        db: store.path().join("agora.db"),
    };
    let b = Browser::start(Duration::from_secs(20)).await;

    // Sign in with the admin token and choose the account.
    b.goto(&format!("{}/", sim.url)).await;
    let token = b.wait_for("#admin-token", SOON).await;
    b.fill(&token, TOKEN).await;
    let open = b.wait_for("#sign-in-form button[type=submit]", SOON).await;
    b.click(&open).await;
    b.wait_for("#account-picker:not([hidden])", SOON).await;
    let option = b
        .wait_for(&format!("#account option[value=\"{KEY}\"]"), SOON)
        .await;
    b.click(&option).await;
    let stored = b
        .run("return sessionStorage.getItem('agora-console');", json!([]))
        .await;
    assert!(stored.as_str().unwrap().contains(KEY), "{stored}");
    // No key in the page's address.
    let address = b.run("return location.href;", json!([])).await;
    assert_eq!(address, json!(format!("{}/", sim.url)));
    shot(&b, &shots, "01-signed-in").await;

    // A form shows the simulator's own message.
    let rate = b.wait_for("#f-503", SOON).await;
    b.fill(&rate, "2").await;
    b.click(&b.wait_for("#set-faults", SOON).await).await;
    b.wait_for_text("#faults-form .result", "must be between 0 and 1", SOON)
        .await;
    shot(&b, &shots, "02-simulator-error").await;
    b.fill(&rate, "0").await;

    // Publish a work order in the page; `agora work-orders sync` accepts it.
    let last = b.wait_for("#wo-last", SOON).await;
    b.fill(&last, "Lefebvre").await;
    b.click(&b.wait_for("#publish", SOON).await).await;
    b.wait_for_text("#publish-form .result", "published", SOON)
        .await;
    b.wait_for_text("#mandates tbody", "Lefebvre", SOON).await;
    shot(&b, &shots, "03-work-order-published").await;
    let sync = agora.json(&["work-orders", "sync"]).await;
    let file = sync["accepted"][0]
        .as_i64()
        .unwrap_or_else(|| panic!("{sync}"));
    let ids = file.to_string();
    b.wait_for(&format!("#repairs tbody tr[data-id=\"{file}\"]"), SOON)
        .await;
    shot(&b, &shots, "04-repair-file-appears").await;

    // The network orders a part; the page ships it; `agora parts track` says 208.
    agora.json(&["parts", "add", &ids, "00001-00000009"]).await;
    let lines = agora.json(&["parts", "order", &ids]).await;
    let order = lines[0]["OrderNumber"]
        .as_str()
        .unwrap_or_else(|| panic!("{lines}"))
        .to_owned();
    let ship = b
        .wait_for(
            &format!("#orders button[data-order=\"{order}\"][data-code=\"208\"]"),
            SOON,
        )
        .await;
    b.click(&ship).await;
    b.wait_for_text("#orders-result", "208", SOON).await;
    b.wait_for_text(&format!("#orders tr[data-order=\"{order}\"]"), "208", SOON)
        .await;
    shot(&b, &shots, "05-part-shipped").await;
    let tracked = agora.json(&["parts", "track", &ids]).await;
    assert_eq!(tracked[0]["StatusCode"], "208", "{tracked}");

    // The network submits a claim; the page accepts it with a comment;
    // `agora claims track` reports the decision.
    let claim_file = store.path().join("claim.json");
    let claim = json!({
        "ClaimType": {"ManufacturerId": 1, "CommercialRef": "CR-1", "SerialNumber": "SN-0001"},
        "ClaimConso": {"LastName": "Lefebvre", "Address1": "3 place Bellecour", "Zip": "69002"},
        "ClaimInfos": {"CallDate": "2026-11-19T10:00:00Z"}
    });
    std::fs::write(&claim_file, claim.to_string()).unwrap();
    let submitted = agora
        .json(&[
            "claims",
            "submit",
            &ids,
            "--file",
            claim_file.to_str().unwrap(),
        ])
        .await;
    let claim_id = submitted["ClaimID"]
        .as_i64()
        .unwrap_or_else(|| panic!("{submitted}"));
    b.wait_for(&format!("#claims tbody tr[data-id=\"{claim_id}\"]"), SOON)
        .await;
    let pick = b
        .wait_for(&format!("#decide-claim option[value=\"{claim_id}\"]"), SOON)
        .await;
    b.click(&pick).await;
    let accept = b
        .wait_for("#decide-status option[value=\"CLOSEDACCEPTED\"]", SOON)
        .await;
    b.click(&accept).await;
    let comment = b.wait_for("#decide-comment", SOON).await;
    b.fill(&comment, "Accepted from the console").await;
    b.click(&b.wait_for("#decide", SOON).await).await;
    b.wait_for_text("#decide-form .result", "CLOSEDACCEPTED", SOON)
        .await;
    b.wait_for_text(
        &format!("#claims tbody tr[data-id=\"{claim_id}\"]"),
        "Accepted from the console",
        SOON,
    )
    .await;
    shot(&b, &shots, "06-claim-decided").await;
    let updates = agora.json(&["claims", "track"]).await;
    let update = updates
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["ClaimID"] == claim_id)
        .unwrap_or_else(|| panic!("{updates}"));
    assert_eq!(update["LastStatus"], "CLOSEDACCEPTED", "{updates}");

    // By keyboard: Enter in the OEM field issues the draft invoice.
    let oem = b.wait_for("#draft-oem", SOON).await;
    b.fill(&oem, "1\u{E007}").await;
    b.wait_for_text("#draft-form .result", "issued", SOON).await;
    b.wait_for_text("#drafts tbody", &claim_id.to_string(), SOON)
        .await;
    shot(&b, &shots, "07-draft-issued").await;

    b.close().await;
    drop(sim);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(120), "took {took:?}");
}
