//! schemathesis against a fresh `agora-sim` binary with the simulator's own
//! OpenAPI document (`/openapi.json`): every check, a bounded number of
//! examples per operation, requests carrying a valid `api_key`, on the
//! AgoraPlus routes (the `/_sim` controls change faults and clocks, which
//! would turn the run against itself). It passes only when schemathesis
//! reports no failure: no server error, no answer outside its schema, no
//! schema-valid request refused, no schema-invalid one taken, every other
//! method a 405 with `Allow`.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// The version `cargo xtask test` installs.
const PINNED: &str = "4.32.5";

/// How to get schemathesis when it is missing.
const INSTALL_HINT: &str = "schemathesis is missing: run `python3 -m pip install \
     schemathesis==4.32.5`, or the tests with `cargo xtask test`, which installs it";

/// The account the run speaks for.
const KEY: &str = "schemathesis-key";

/// Test cases per operation (about 2,600 in all with the coverage phase's):
/// the run takes about 25 s on two cores. `AGORA_SCHEMATHESIS_EXAMPLES`
/// sets another number, for a deeper run by hand.
const MAX_EXAMPLES: &str = "25";

/// The simulator's process, stopped when dropped.
struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `schemathesis` on the PATH.
fn schemathesis() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("schemathesis"))
        .find(|p| p.is_file())
}

#[test]
fn schemathesis_finds_no_disagreement_between_the_spec_and_the_simulator() {
    let Some(st) = schemathesis() else {
        panic!("{INSTALL_HINT}");
    };
    let version = Command::new(&st).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agora-sim"))
        .args(["--listen", "127.0.0.1:0", "--tenant", KEY, "--seed", "7"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let sim = Sim(child);
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let report = tempfile::tempdir().unwrap();
    let junit = report.path().join("junit.xml");
    let examples =
        std::env::var("AGORA_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| MAX_EXAMPLES.to_owned());
    let started = Instant::now();
    let out = Command::new(&st)
        .args([
            "run",
            &format!("{url}/openapi.json"),
            "--url",
            &url,
            "--checks",
            "all",
            "--max-examples",
            &examples,
            "--include-path-regex",
            "^/api/",
            "--header",
            &format!("api_key: {KEY}"),
            "--seed",
            "1",
            // One worker: schemathesis 4.32.5 on Python 3.11 fails
            // internally now and then (a "Runtime Error" compiling its
            // generated code) with two; one is also the faster here.
            "--workers",
            "1",
            "--report",
            "junit",
            "--report-junit-path",
        ])
        .arg(&junit)
        // Its cache (.schemathesis/) goes there too, not into the crate.
        .current_dir(report.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let took = started.elapsed();
    drop(sim);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The summary: from its heading to the end.
    let summary: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.contains(" SUMMARY "))
        .filter(|l| !l.trim().is_empty())
        .collect();
    eprintln!(
        "{version} (pinned {PINNED}), {} s:\n{}",
        took.as_secs(),
        summary.join("\n")
    );
    assert!(
        out.status.success(),
        "schemathesis found disagreements ({version}, {} s):\n{stdout}\n{}",
        took.as_secs(),
        String::from_utf8_lossy(&out.stderr)
    );
    // It ran: every AgoraPlus operation, no failure in its report.
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert!(junit.contains("tests=\""), "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    assert!(!junit.contains("<error"), "{junit}");
}
