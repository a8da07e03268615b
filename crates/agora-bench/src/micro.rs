//! Domain micro-benchmarks, measured by criterion: claim rule evaluation,
//! status-code parsing, envelope decoding. Each figure is criterion's
//! median time per iteration, read back from the estimates it saves under
//! `CRITERION_HOME` (set by `agora-bench all`; otherwise criterion's own
//! default, `target/criterion`).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use agora_domain::rules::RuleBook;
use agora_domain::{Envelope, Lcid, SparePart, StatusCode, WarrantyClaim};
use criterion::Criterion;
use serde_json::json;

/// Where criterion saves its estimates, by criterion's own rule.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("criterion")
}

/// Criterion's median time of one iteration of benchmark `id`, in seconds.
fn median_secs(id: &str) -> Result<f64, String> {
    let path = criterion_home().join(id).join("new").join("estimates.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let estimates: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    estimates["median"]["point_estimate"]
        .as_f64()
        .map(|ns| ns / 1e9)
        .ok_or_else(|| format!("{}: no median", path.display()))
}

pub(crate) fn run(quick: bool) -> Result<serde_json::Value, String> {
    let mut c = Criterion::default().without_plots();
    c = if quick {
        c.warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300))
            .sample_size(10)
            .nresamples(1_000)
    } else {
        c.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sample_size(50)
    };

    let book = RuleBook::defaults();
    let claim: WarrantyClaim = serde_json::from_value(json!({
        "ClaimType": {"ManufacturerId": 19, "CommercialRef": "ECAM22.110.B", "SerialNumber": "12345"},
        "ClaimConso": {"LastName": "Martin", "Address1": "12 rue des Lilas", "Zip": "69003", "City": "Lyon"},
        "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z", "InterventionStartDateTime": "2024-03-02T08:00:00Z"},
        "ClaimLab": {"OriginCode": "WAR", "LaborCost": 45.5},
        "ClaimParts": [{"PartReference": "00019-00000001", "Quantity": 1}]
    }))
    .map_err(|e| e.to_string())?;
    c.bench_function("claim_rules", |b| {
        b.iter(|| book.check(black_box(&claim), Lcid::FRENCH));
    });

    let codes: Vec<String> = (0..1000).map(|i| (100 + i % 900).to_string()).collect();
    c.bench_function("status_codes", |b| {
        b.iter(|| {
            for code in &codes {
                black_box(StatusCode::lenient(black_box(code)));
            }
        });
    });

    let records: Vec<serde_json::Value> = (0..10_000)
        .map(|i| json!({"Reference": format!("00019-{i:08}"), "Label": format!("Water pump {i}")}))
        .collect();
    let body = serde_json::to_vec(
        &json!({"ResponseStatus": "S", "IsValid": true, "ResponseData": records}),
    )
    .map_err(|e| e.to_string())?;
    c.bench_function("envelope_decode", |b| {
        b.iter(|| Envelope::<Vec<SparePart>>::from_slice(black_box(&body)).ok());
    });

    Ok(json!({
        "claim_checks_per_s": 1.0 / median_secs("claim_rules")?,
        "status_codes_per_s": codes.len() as f64 / median_secs("status_codes")?,
        "envelope_mb_per_s": body.len() as f64 / 1_000_000.0 / median_secs("envelope_decode")?,
    }))
}
