//! `agora invoices match` and `agora invoices register --csv` against the
//! simulator over loopback: the report as a table and as JSON, exit 0 when
//! clean and 8 when not, a register refused while the CSV does not match
//! and sent once when it does.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use agora_domain::lifecycle::ClaimState;
use agora_domain::month_end::Period;
use agora_domain::{
    ClaimId, ClaimStatus, InterventionId, Lcid, MandateLightResponse, ManufacturerId,
};
use agora_mock::SimConfig;
use agora_ports::RepairFiles;
use agora_store_sqlite::SqliteStore;
use serde_json::json;

mod support;
use support::{Env, json_of, text};

const KEY: &str = "cli-month-key-123";

impl Env {
    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.db.with_file_name(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

/// A repair of OEM 1 whose claim the OEM accepted, tracked by `agora
/// claims track`: its claim.
async fn accepted_claim(env: &Env) -> ClaimId {
    let mandate: MandateLightResponse = serde_json::from_value(json!({
        "ManufacturerId": 1, "InterventionTypeId": 1,
        "Consumer": {"Title": "3", "LastName": "Durand", "FirstName": "Paul", "Address1": "3 place Bellecour"}
    }))
    .unwrap();
    env.sim().publish_mandate(KEY, mandate).unwrap();
    let out = env.run(&["--json", "work-orders", "sync"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let id = InterventionId(json_of(&out)["accepted"][0].as_i64().unwrap());
    let claim: agora_domain::WarrantyClaim = serde_json::from_value(json!({
        "ClaimType": {"InterventionId": id.0, "ManufacturerId": 1, "CommercialRef": "CR-1",
                      "SerialNumber": "SN-0001"},
        "ClaimConso": {"LastName": "Durand", "Address1": "3 place Bellecour", "Zip": "69002"},
        "ClaimInfos": {"CallDate": "2026-11-19T10:00:00Z"},
        "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 52.5}
    }))
    .unwrap();
    let how = agora_ports::ClaimSubmission {
        language: Lcid::ENGLISH,
        transfer_if_valid: true,
    };
    let created = agora_ports::Claims::create_claim(&env.sim().client(KEY), &claim, how)
        .await
        .unwrap()
        .data;
    let claim_id = created.claim_id.unwrap();
    {
        let store = SqliteStore::open(&env.db).unwrap();
        let mut local = store.repair(id).await.unwrap().unwrap();
        local.claim_id = Some(claim_id);
        local.lifecycle.claim = Some(ClaimState::Valid { transferred: true });
        store.upsert_repair(&local).await.unwrap();
    }
    env.sim()
        .decide_claim(KEY, claim_id, ClaimStatus::ClosedAccepted, None)
        .unwrap();
    let out = env.run(&["claims", "track"]).await;
    assert!(out.status.success(), "{}", text(&out));
    claim_id
}

/// The month agora saw `claim` accepted in, in Paris.
async fn month_of(db: &Path, claim: ClaimId) -> String {
    let store = SqliteStore::open(db).unwrap();
    let at = store
        .repair_by_claim(claim)
        .await
        .unwrap()
        .unwrap()
        .accepted_at
        .unwrap();
    Period::of(at, &jiff::tz::TimeZone::get("Europe/Paris").unwrap()).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_exits_0_when_clean_8_when_not_and_register_follows_it() {
    let config = SimConfig {
        tenants: vec![KEY.into()],
        seed: 8,
        catalog_size: 100,
        ..SimConfig::default()
    };
    let env = &Env::start("month", config).await;
    let a = accepted_claim(env).await;
    let b = accepted_claim(env).await;
    let period = month_of(&env.db, a).await;
    assert_eq!(month_of(&env.db, b).await, period);
    let (draft, _) = env.sim().draft_invoice(KEY, ManufacturerId(1)).unwrap();
    let csv = env.sim().draft_invoice_csv(KEY, &draft).unwrap().bytes;
    let clean = env.file("clean.csv", &csv);
    let month = ["--oem", "1", "--period", period.as_str()];
    let matching = |file: &str, json: bool| {
        let mut args: Vec<String> = Vec::new();
        if json {
            args.push("--json".into());
        }
        args.extend(
            [
                "invoices",
                "match",
                "--draft",
                draft.as_str(),
                "--csv",
                file,
            ]
            .map(String::from),
        );
        args.extend(month.map(String::from));
        args
    };
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        env.run(&args).await
    };

    // Clean: exit 0, a summary line and the table.
    let out = run(matching(&clean, false)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(shown.contains("2 matched"), "{shown}");
    assert!(shown.contains(": clean"), "{shown}");
    assert!(shown.contains(&a.to_string()), "{shown}");
    let out = run(matching(&clean, true)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = json_of(&out);
    assert_eq!(v["clean"], true, "{v}");
    assert_eq!(v["reconciliation"]["period"], period.as_str());
    assert_eq!(v["reconciliation"]["matched"].as_array().unwrap().len(), 2);
    assert_eq!(v["encoding"], "windows-1252");

    // Missing one accepted claim: exit 8, reported under "missing".
    let lines: Vec<&[u8]> = csv
        .split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let short: Vec<u8> = [lines[0], b"\n", lines[1], b"\n"].concat();
    let short = env.file("short.csv", &short);
    let out = run(matching(&short, true)).await;
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    let v = json_of(&out);
    assert_eq!(v["clean"], false);
    assert_eq!(v["reconciliation"]["missing"][0]["claim_id"], b.0, "{v}");
    let out = run(matching(&short, false)).await;
    assert_eq!(out.status.code(), Some(8));
    assert!(
        text(&out).contains("missing from the CSV"),
        "{}",
        text(&out)
    );

    // The register refuses it: exit 1, nothing sent.
    let register = |file: &str, extra: &[&str]| {
        let mut args: Vec<String> = [
            "invoices",
            "register",
            "--draft",
            draft.as_str(),
            "--invoice",
            "F-2026-1",
            "--csv",
            file,
        ]
        .map(String::from)
        .to_vec();
        args.extend(month.map(String::from));
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let out = run(register(&short, &[])).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("does not match"), "{}", text(&out));
    // A cell that cannot be read: exit 1, its row and column named.
    let bad = env.file("bad.csv", b"Claim ID;Amount\n12;douze\n");
    let out = run(matching(&bad, false)).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("row 2, column 2"), "{}", text(&out));
    // --accept-differences needs --csv; a month is YYYY-MM: usage, exit 2.
    let out = env
        .run(&[
            "invoices", "match", "--draft", &draft, "--csv", &clean, "--period", "2026-13",
        ])
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = env
        .run(&[
            "invoices",
            "register",
            "--draft",
            &draft,
            "--invoice",
            "F-1",
            "--claim",
            "1",
            "--accept-differences",
        ])
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // The clean CSV registers the invoice with both claims, once.
    let out = run(register(&clean, &[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut args = register(&clean, &[]);
    args.insert(0, "--json".into());
    let out = run(args).await;
    assert_eq!(out.status.code(), Some(1), "sent once: {}", text(&out));
    let state = env.sim().state(KEY).unwrap();
    assert!(state.to_string().contains("F-2026-1"), "{state}");
}
