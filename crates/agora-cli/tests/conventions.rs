//! The conventions of the `agora` command line shared by every command:
//! with `--json`, errors are one JSON object on stderr (code, message,
//! hint, exit code), whatever their kind (refused, configuration, local
//! store, usage); an output whose reader has gone ends quietly; values
//! with a form (dates, codes, environments, languages) are checked by
//! clap (exit 2); `--help` names each setting's variable; `-q`; shell
//! completions; the man pages in docs/man are those `agora` renders;
//! tables fit the terminal's width.
#![allow(clippy::unwrap_used)]

use agora_domain::{InterventionId, MandateId};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use agora_mock::{SimConfig, Simulator};
use agora_sim::SimServer;
use serde_json::Value;

const KEY: &str = "conventions-key-123";

/// `agora ARGS` with the given store, against `url`, with no other
/// `AGORA_` variable of the test run's environment.
fn agora(url: &str, db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_agora"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AGORA_") {
            c.env_remove(name);
        }
    }
    c.args(args)
        .env("AGORA_BASE_URL", url)
        .env("AGORA_API_KEY", KEY)
        .env("AGORA_DB", db);
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The one JSON error of a failed run: stderr is exactly one line, a JSON
/// object whose `exit_code` is the process's; returns it.
fn json_error(o: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", text(o));
    let error: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        error["exit_code"].as_i64(),
        o.status.code().map(i64::from),
        "{error}"
    );
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    error
}

async fn run(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_json_errors_are_one_json_object_on_stderr() {
    let config = SimConfig {
        tenants: vec![KEY.into()],
        catalog_size: 10,
        ..SimConfig::default()
    };
    let server = SimServer::start(Simulator::new(config), ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agora.db");

    // Refused locally: no such repair file.
    let out = run(agora(
        &url,
        &db,
        &["--json", "status", "report", "12345", "406"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let error = json_error(&out);
    assert_eq!(error["code"], "missing", "{error}");
    assert!(error["hint"].as_str().is_some(), "{error}");

    // Configuration: no api_key.
    let mut c = agora(&url, &db, &["--json", "work-orders", "sync"]);
    c.env_remove("AGORA_API_KEY");
    let out = run(c).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let error = json_error(&out);
    assert_eq!(error["code"], "config", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("AGORA_API_KEY"),
        "{error}"
    );

    // Authentication: a key AgoraPlus does not know.
    let mut c = agora(&url, &db, &["--json", "work-orders", "sync"]);
    c.env("AGORA_API_KEY", "wrong-key-abcdef-XY");
    let out = run(c).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(json_error(&out)["code"], "unauthorized");

    // The local store cannot be opened.
    let missing = dir.path().join("no-such-dir").join("agora.db");
    let out = run(agora(&url, &missing, &["--json", "repairs", "list"])).await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert_eq!(json_error(&out)["code"], "store");

    // Usage: clap's message, exit 2.
    let out = run(agora(&url, &db, &["--json", "nonsense"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let error = json_error(&out);
    assert_eq!(error["code"], "usage", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("nonsense"),
        "{error}"
    );
    let out = run(agora(&url, &db, &["--json", "parts", "order", "x"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(json_error(&out)["code"], "usage");

    // Without --json, the same errors are text.
    let out = run(agora(&url, &missing, &["repairs", "list"])).await;
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: local store") && stderr.contains("\nhint: "),
        "{stderr}"
    );
    let out = run(agora(&url, &db, &["nonsense"])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: unrecognized subcommand"));
}

/// Repair files planted straight into a SQLite store.
async fn plant_repairs(db: &Path, count: i64) {
    use agora_ports::{LocalRepair, RepairFiles};
    let store = agora_store_sqlite::SqliteStore::open(db).unwrap();
    for id in 0..count {
        let repair = LocalRepair {
            intervention_id: InterventionId(700_000 + id),
            mandate_id: Some(MandateId(800_000 + id)),
            file: agora_domain::CompleteRepairState::default(),
            lifecycle: agora_domain::lifecycle::RepairLifecycle::from_work_order(
                Some(agora_domain::ManufacturerId(19)),
                Some(agora_domain::InterventionTypeId(1)),
            ),
            claim_id: None,
            orders: Vec::new(),
            attention: Some("planted by the test of a closed pipe".to_owned()),
            revision: 0,
            work_order: None,
            accepted_at: None,
        };
        store.upsert_repair(&repair).await.unwrap();
    }
}

/// `agora --json repairs list` (and its table) on a store whose listing
/// outgrows a pipe's buffer (64 KiB), read only in part, then the pipe
/// closed: the run ends with its normal code, no panic, nothing said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pipe_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agora.db");
    plant_repairs(&db, 1500).await;
    for args in [&["--json", "repairs", "list"][..], &["repairs", "list"]] {
        // The whole output, to know it is larger than the pipe's buffer.
        let full = run(agora("http://127.0.0.1:9", &db, args)).await;
        assert!(full.status.success(), "{}", text(&full));
        assert!(full.stdout.len() > 128 * 1024, "{}", full.stdout.len());

        let mut c = agora("http://127.0.0.1:9", &db, args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = tokio::task::spawn_blocking(move || {
            let mut child = c.spawn().unwrap();
            let mut start = [0u8; 4096];
            child.stdout.take().unwrap().read_exact(&mut start).unwrap();
            // The read end is dropped here: the rest meets a closed pipe.
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// A bad date, status code, environment or language is a usage error:
/// clap's message with the usage, exit 2, before any setting is read.
#[test]
fn values_with_a_form_are_checked_by_clap() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agora.db");
    let url = "http://127.0.0.1:9";
    let cases: [(&[&str], &str); 6] = [
        (
            &["status", "report", "1", "102", "--start", "tomorrow"],
            "--start",
        ),
        (
            &["status", "report", "1", "102", "--end", "2026-13-01"],
            "--end",
        ),
        (&["status", "report", "1", "999"], "agora ref status-codes"),
        (
            &["claims", "submit", "1", "--call-date", "noon"],
            "--call-date",
        ),
        (&["--env", "staging", "repairs", "list"], "--env"),
        (&["--language", "9999", "repairs", "list"], "1036 French"),
    ];
    for (args, said) in cases {
        let out = agora(url, &db, args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error: invalid value") && stderr.contains(said),
            "{args:?}: {stderr}"
        );
    }
    // From the environment too; a blank variable is unset.
    let mut c = agora(url, &db, &["repairs", "list"]);
    let out = c.env("AGORA_ENV", "staging").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let mut c = agora(url, &db, &["repairs", "list"]);
    let out = c.env("AGORA_ENV", "").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // A good language by name.
    let out = agora(url, &db, &["--language", "French", "repairs", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// `--help` names the variable of each setting, never its value.
#[test]
fn help_names_each_setting_s_variable() {
    let mut c = agora(
        "http://secret-host.example",
        Path::new("/secret/agora.db"),
        &["--help"],
    );
    let out = c.env("AGORA_API_KEY_FILE", "/secret/key").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "AGORA_DB",
        "AGORA_CONFIG",
        "AGORA_BASE_URL",
        "AGORA_ENV",
        "AGORA_API_KEY_FILE",
        "AGORA_LANGUAGE",
        "AGORA_CONNECT_TIMEOUT",
        "AGORA_REQUEST_TIMEOUT",
        "AGORA_READ_TIMEOUT",
        "AGORA_RETRY_ATTEMPTS",
        "AGORA_RETRY_MAX_ELAPSED",
        "AGORA_RETRY_MAX_BACKOFF",
        "AGORA_LEASE",
        "AGORA_GRACE",
    ] {
        assert!(help.contains(&format!("[env: {var}]")), "{var}: {help}");
    }
    assert!(!help.contains("secret"), "{help}");
}

/// `-q` leaves only errors on stderr; it and `-v` exclude each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_leaves_only_errors() {
    let config = SimConfig {
        tenants: vec![KEY.into()],
        catalog_size: 10,
        ..SimConfig::default()
    };
    let server = SimServer::start(Simulator::new(config), ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agora.db");
    // AgoraPlus warns on every answer: a sync says so on stderr, unless -q.
    server
        .simulator()
        .set_profile(
            KEY,
            agora_mock::AnswerProfile {
                warning: Some("reseller unknown".into()),
                ..agora_mock::AnswerProfile::default()
            },
        )
        .unwrap();
    let loud = run(agora(&url, &db, &["work-orders", "sync"])).await;
    let quiet = run(agora(&url, &db, &["-q", "work-orders", "sync"])).await;
    assert_eq!(loud.status.code(), Some(0), "{}", text(&loud));
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet));
    assert!(
        String::from_utf8_lossy(&loud.stderr).contains("warning: GetNewMandates"),
        "{}",
        text(&loud)
    );
    assert!(quiet.stderr.is_empty(), "{}", text(&quiet));
    assert!(!quiet.stdout.is_empty());
    // Errors are still said.
    let out = run(agora(
        &url,
        &db,
        &["-q", "status", "report", "12345", "406"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
    let out = run(agora(&url, &db, &["-q", "-v", "repairs", "list"])).await;
    assert_eq!(out.status.code(), Some(2));
}

/// `agora completions SHELL` prints a completion script that knows the
/// subcommands; an unknown shell is a usage error.
#[test]
fn completions_for_each_shell() {
    for (shell, mark) in [
        ("bash", "complete -F _agora"),
        ("zsh", "#compdef agora"),
        ("fish", "complete -c agora"),
        ("elvish", "agora"),
        ("powershell", "agora"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_agora"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {}", text(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(mark), "{shell}: {script}");
        assert!(script.contains("work-orders"), "{shell}");
        assert!(!script.contains("__man"), "{shell}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// docs/man holds the pages `agora __man` renders now: `cargo xtask man`
/// after a change of the command line.
#[test]
fn the_man_pages_are_current() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/man");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_agora"))
        .arg("__man")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let pages = |d: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".1"))
            .collect();
        names.sort();
        names
    };
    let rendered = pages(dir.path());
    assert!(rendered.contains(&"agora.1".to_owned()), "{rendered:?}");
    assert!(rendered.contains(&"agora-status-report.1".to_owned()));
    assert_eq!(pages(&committed), rendered, "run `cargo xtask man`");
    for page in rendered {
        assert_eq!(
            std::fs::read_to_string(committed.join(&page)).unwrap(),
            std::fs::read_to_string(dir.path().join(&page)).unwrap(),
            "{page}: run `cargo xtask man`"
        );
    }
}

/// Tables wrap their cells to fit `COLUMNS` (else the terminal's width);
/// into a pipe, without `COLUMNS`, each row stays on one line.
#[test]
fn tables_fit_the_width() {
    let widest = |columns: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_agora"));
        c.args(["ref", "repair-types"]).env_remove("COLUMNS");
        if let Some(columns) = columns {
            c.env("COLUMNS", columns);
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.chars().count())
            .max()
            .unwrap()
    };
    assert!(widest(None) > 100);
    assert!(widest(Some("60")) <= 60);
}

/// The timing settings: (file key, flag, variable, the default as logged).
const TIMING: [(&str, &str, &str, &str); 8] = [
    (
        "connect_timeout",
        "--connect-timeout",
        "AGORA_CONNECT_TIMEOUT",
        "10s",
    ),
    (
        "request_timeout",
        "--request-timeout",
        "AGORA_REQUEST_TIMEOUT",
        "60s",
    ),
    (
        "read_timeout",
        "--read-timeout",
        "AGORA_READ_TIMEOUT",
        "60s",
    ),
    (
        "retry_attempts",
        "--retry-attempts",
        "AGORA_RETRY_ATTEMPTS",
        "4",
    ),
    (
        "retry_max_elapsed",
        "--retry-max-elapsed",
        "AGORA_RETRY_MAX_ELAPSED",
        "30s",
    ),
    (
        "retry_max_backoff",
        "--retry-max-backoff",
        "AGORA_RETRY_MAX_BACKOFF",
        "10s",
    ),
    ("lease", "--lease", "AGORA_LEASE", "60s"),
    ("grace", "--grace", "AGORA_GRACE", "30s"),
];

/// The timing settings a run used, as its debug log says them.
fn timing_used(o: &Output) -> std::collections::HashMap<String, String> {
    let stderr = String::from_utf8_lossy(&o.stderr);
    let line = stderr
        .lines()
        .find_map(|l| l.split_once("timing: ").map(|(_, t)| t.to_owned()))
        .unwrap_or_else(|| panic!("no timing in the log: {}", text(o)));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Each timing setting is read from its flag, else its variable, else the
/// configuration file, else its default; the outbox's send bound follows
/// the client's (attempts × request timeout + the retries' waits).
#[test]
fn timing_settings_come_from_the_flag_the_variable_the_file_or_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agora.db");
    let url = "http://127.0.0.1:9";
    let file = dir.path().join("agora.json");
    // File 2, variable 3, flag 5 (seconds, or attempts).
    let mut keys = serde_json::Map::new();
    for (i, (key, ..)) in TIMING.iter().enumerate() {
        // A number of seconds and the string form both read.
        let value = if i % 2 == 0 || *key == "retry_attempts" {
            Value::from(2)
        } else {
            Value::from("2000ms")
        };
        keys.insert((*key).to_owned(), value);
    }
    std::fs::write(&file, Value::Object(keys).to_string()).unwrap();
    let base = ["-vv", "repairs", "list"];
    let with = |c: &mut Command, with_file: bool, with_vars: bool| {
        if with_file {
            c.env("AGORA_CONFIG", &file);
        }
        if with_vars {
            for (_, _, var, _) in TIMING {
                c.env(var, "3");
            }
        }
    };
    let mut flags: Vec<String> = Vec::new();
    for (_, flag, _, _) in TIMING {
        flags.push(flag.to_owned());
        flags.push("5".to_owned());
    }
    let flag_args: Vec<&str> = flags
        .iter()
        .map(String::as_str)
        .chain(base.iter().copied())
        .collect();
    let expect = |o: &Output, value: &dyn Fn(&str, &str) -> String| {
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
        let used = timing_used(o);
        for (key, _, _, default) in TIMING {
            assert_eq!(used[key], value(key, default), "{key}: {}", text(o));
        }
    };
    let number = |n: u32| {
        move |key: &str, _: &str| {
            if key == "retry_attempts" {
                n.to_string()
            } else {
                format!("{n}s")
            }
        }
    };
    let out = agora(url, &db, &base).output().unwrap();
    expect(&out, &|_, default| default.to_owned());
    assert_eq!(timing_used(&out)["send_bound"], "270s");
    let mut c = agora(url, &db, &base);
    with(&mut c, true, false);
    let out = c.output().unwrap();
    expect(&out, &number(2));
    // 2 attempts of 2 s, and 2 s of waits.
    assert_eq!(timing_used(&out)["send_bound"], "6s");
    let mut c = agora(url, &db, &base);
    with(&mut c, true, true);
    expect(&c.output().unwrap(), &number(3));
    let mut c = agora(url, &db, &flag_args);
    with(&mut c, true, true);
    expect(&c.output().unwrap(), &number(5));
}

/// A bad timing value is refused naming its setting: a usage error from
/// the flag or the variable (exit 2), a configuration error from the file
/// (exit 3).
#[test]
fn a_bad_timing_value_is_refused_naming_its_setting() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agora.db");
    let url = "http://127.0.0.1:9";
    for (key, flag, var, _) in TIMING {
        for bad in ["soon", "0"] {
            if bad == "0" && matches!(key, "grace" | "retry_max_elapsed") {
                continue;
            }
            let out = agora(url, &db, &[flag, bad, "repairs", "list"])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{flag} {bad}: {}", text(&out));
            assert!(
                String::from_utf8_lossy(&out.stderr).contains(flag),
                "{flag}: {}",
                text(&out)
            );
            let mut c = agora(url, &db, &["repairs", "list"]);
            let out = c.env(var, bad).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{var} {bad}: {}", text(&out));
            assert!(
                String::from_utf8_lossy(&out.stderr).contains(flag),
                "{var}: {}",
                text(&out)
            );
            let file = dir.path().join(format!("{key}.json"));
            let value = if bad == "0" {
                Value::from(0)
            } else {
                Value::from(bad)
            };
            std::fs::write(&file, serde_json::json!({ key: value }).to_string()).unwrap();
            let mut c = agora(url, &db, &["--json", "repairs", "list"]);
            let out = c.env("AGORA_CONFIG", &file).output().unwrap();
            assert_eq!(out.status.code(), Some(3), "{key} {bad}: {}", text(&out));
            let error = json_error(&out);
            assert_eq!(error["code"], "config", "{error}");
            assert!(
                error["message"].as_str().unwrap().contains(key),
                "{key}: {error}"
            );
        }
    }
}
