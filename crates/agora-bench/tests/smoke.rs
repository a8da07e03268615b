//! The bench harness starts: its micro mode runs criterion and reports
//! every figure; its webhook burst delivers every event.
//! (Timings are not checked here: benchmarks stay out of the test run.)
#![allow(clippy::unwrap_used)]

#[test]
fn the_harness_starts_and_reports() {
    let home = tempfile::Builder::new()
        .prefix("agora-bench-smoke-")
        .tempdir()
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agora-bench"))
        .args(["micro", "--quick"])
        .env("CRITERION_HOME", home.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // criterion reports on stdout first; the figures are the last line.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    for key in [
        "claim_checks_per_s",
        "status_codes_per_s",
        "envelope_mb_per_s",
    ] {
        assert!(v[key].as_f64().unwrap() > 0.0, "{key}: {v}");
    }
    let usage = std::process::Command::new(env!("CARGO_BIN_EXE_agora-bench"))
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn the_webhook_burst_delivers_every_event() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agora-bench"))
        .args(["webhooks", "200"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(v["events"], 200, "{v}");
    assert_eq!(v["delivered"], 200, "{v}");
    assert_eq!(v["bad_signatures"], 0, "{v}");
    assert!(v["events_per_s"].as_f64().unwrap() > 0.0, "{v}");
}
