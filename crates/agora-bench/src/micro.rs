//! Domain micro-benchmarks: claim rule evaluation, status-code parsing,
//! envelope decoding. Timing loops in-process; each figure is the median
//! of several rounds.

use std::hint::black_box;
use std::time::Instant;

use agora_domain::rules::RuleBook;
use agora_domain::{Envelope, Lcid, SparePart, StatusCode, WarrantyClaim};
use serde_json::json;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `f` `iterations` times per round and returns the median rate per second.
fn rate(rounds: usize, iterations: u64, mut f: impl FnMut()) -> f64 {
    let mut rates = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..iterations {
            f();
        }
        rates.push(iterations as f64 / t.elapsed().as_secs_f64());
    }
    median(rates)
}

pub(crate) fn run(quick: bool) -> Result<serde_json::Value, String> {
    let (rounds, scale) = if quick { (3, 1) } else { (7, 20) };
    let book = RuleBook::defaults();
    let claim: WarrantyClaim = serde_json::from_value(json!({
        "ClaimType": {"ManufacturerId": 19, "CommercialRef": "ECAM22.110.B", "SerialNumber": "12345"},
        "ClaimConso": {"LastName": "Martin", "Address1": "12 rue des Lilas", "Zip": "69003", "City": "Lyon"},
        "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z", "InterventionStartDateTime": "2024-03-02T08:00:00Z"},
        "ClaimLab": {"OriginCode": "WAR", "LaborCost": 45.5},
        "ClaimParts": [{"PartReference": "00019-00000001", "Quantity": 1}]
    }))
    .map_err(|e| e.to_string())?;
    let claims_per_s = rate(rounds, 500 * scale, || {
        black_box(book.check(black_box(&claim), Lcid::FRENCH));
    });
    let codes: Vec<String> = (0..1000).map(|i| (100 + i % 900).to_string()).collect();
    let parse_per_s = rate(rounds, 20 * scale, || {
        for c in &codes {
            black_box(StatusCode::lenient(black_box(c)));
        }
    }) * 1000.0;
    let records: Vec<serde_json::Value> = (0..10_000)
        .map(|i| json!({"Reference": format!("00019-{i:08}"), "Label": format!("Water pump {i}")}))
        .collect();
    let body = serde_json::to_vec(
        &json!({"ResponseStatus": "S", "IsValid": true, "ResponseData": records}),
    )
    .map_err(|e| e.to_string())?;
    let decodes_per_s = rate(rounds, scale, || {
        black_box(Envelope::<Vec<SparePart>>::from_slice(black_box(&body)).ok());
    });
    Ok(json!({
        "claim_checks_per_s": claims_per_s,
        "status_codes_per_s": parse_per_s,
        "envelope_mb_per_s": decodes_per_s * body.len() as f64 / 1_000_000.0,
    }))
}
