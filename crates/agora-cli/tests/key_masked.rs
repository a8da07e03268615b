//! The `agora` binary shows the api_key nowhere, however AgoraPlus echoes
//! it (a property test): a server that is not our simulator answers every
//! route with the key in every text field (`tests/src/echo.rs`: as it is,
//! JSON-escaped in the body or in the text, percent-encoded, or cut across
//! two adjacent fields), and a whole repair is run from the command line:
//! work orders synced, listed and shown, a part added, ordered and
//! tracked, a status reported, a claim refused with its findings, the
//! claim tracked, the catalog synced with an element set aside, a bill of
//! materials, then every route refused with the key in the message. Every
//! table (wrapped narrow), every `--json` output, every line on stderr and
//! the logs at trace level are read: no echo of the key, nor half of it
//! (a key cut by a table's wrapping); what goes back to AgoraPlus and what
//! the store keeps is as AgoraPlus sent it.
#![allow(clippy::unwrap_used)]

/// The answers with the key echoed, shared with the library's test.
#[path = "../../../tests/src/echo.rs"]
#[allow(dead_code, unreachable_pub)]
mod echo;

use std::path::Path;
use std::process::{Command, Output};

use agora_domain::redact::contains_key;
use agora_domain::routes::Route;
use echo::{FORMS, Form, Kind, answer, halves, path_pattern};
use proptest::prelude::*;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A server answering every route as `kind`, the key echoed as `form`.
async fn server(key: &str, form: Form, kind: Kind) -> MockServer {
    let server = MockServer::start().await;
    for &route in Route::ALL {
        let (status, body, _) = answer(route, key, form, kind);
        let path = path_pattern(route);
        Mock::given(method(route.method().as_str()))
            .and(path_regex(path))
            .respond_with(
                ResponseTemplate::new(status).set_body_raw(body.into_bytes(), "application/json"),
            )
            .mount(&server)
            .await;
    }
    server
}

/// Runs `agora ARGS` against `server`, narrow tables, logs at trace level.
async fn agora(server: &MockServer, key: &str, db: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agora"));
    command
        .args(args)
        .env("AGORA_BASE_URL", server.uri())
        .env("AGORA_API_KEY", key)
        .env("AGORA_DB", db)
        .env("AGORA_LOG", "trace")
        .env("AGORA_RETRY_ATTEMPTS", "1")
        .env("COLUMNS", "60")
        .env_remove("AGORA_CONFIG")
        .env_remove("AGORA_ENV");
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// A whole repair, then every route refused: everything `agora` printed.
async fn everything_printed(key: &str, form: Form) -> (String, tempfile::TempDir, MockServer) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agora.db");
    let claim = dir.path().join("claim.json");
    std::fs::write(
        &claim,
        r#"{"ClaimType": {"ManufacturerId": 19, "CommercialRef": "CR-1", "SerialNumber": "SN-1"}}"#,
    )
    .unwrap();
    let claim = claim.to_str().unwrap();
    let warned = server(key, form, Kind::Warned).await;
    let runs: &[&[&str]] = &[
        &["work-orders", "sync"],
        &["--json", "work-orders", "sync"],
        &["work-orders", "list"],
        &["--json", "work-orders", "list"],
        &["work-orders", "show", "9001"],
        &["repairs", "list"],
        &["repairs", "show", "500001"],
        &["--json", "repairs", "show", "500001"],
        &["parts", "add", "500001", "P-1"],
        &["parts", "order", "500001"],
        &["parts", "track", "500001"],
        &["--json", "parts", "track", "500001"],
        &["status", "report", "500001", "305"],
        &["claims", "submit", "500001", "--file", claim],
        &["--json", "claims", "submit", "500001", "--file", claim],
        &["claims", "track"],
        &["--json", "claims", "track"],
        &["catalog", "sync", "--oem", "19"],
        &["--json", "catalog", "sync", "--oem", "19", "--products"],
        &["bom", "--oem", "19", "--ref", "CR-1"],
        &["--json", "bom", "--oem", "19", "--ref", "CR-1"],
        &["outbox", "list"],
        &["--json", "outbox", "list"],
    ];
    let mut printed = String::new();
    for args in runs {
        let out = agora(&warned, key, &db, args).await;
        printed.push_str(&format!(
            "\n$ agora {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // Every route refused, the key in its message; and a server's page.
    for kind in [Kind::Refused, Kind::BadRequest, Kind::ServerPage] {
        let refusing = server(key, form, kind).await;
        for args in [
            &["work-orders", "sync"][..],
            &["--json", "work-orders", "sync"],
            &["parts", "track", "500001"],
            &["--json", "claims", "submit", "500001", "--file", claim],
            &["outbox", "flush"],
            &["outbox", "list"],
        ] {
            let out = agora(&refusing, key, &db, args).await;
            printed.push_str(&format!(
                "\n$ agora {} ({kind:?})\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    (printed, dir, warned)
}

/// The key nowhere in what was printed; with the key whole in the
/// answers, not even half of it (a table wrapping a cell cuts a text).
fn nowhere(printed: &str, key: &str, form: Form) {
    let lines: Vec<&str> = printed
        .lines()
        .filter(|l| contains_key(l, key) || l.starts_with("$ agora"))
        .collect();
    assert!(
        !contains_key(printed, key),
        "{form:?}: the key {key:?} is printed:\n{}",
        lines.join("\n")
    );
    if form != Form::Split {
        let (head, tail) = halves(key);
        for half in [head, tail] {
            let lines: Vec<&str> = printed
                .lines()
                .filter(|l| l.contains(half) || l.starts_with("$ agora"))
                .collect();
            assert!(
                half.chars().count() < 6 || !printed.contains(half),
                "{form:?}: half the key ({half:?}) is printed:\n{}",
                lines.join("\n")
            );
        }
        // The texts were shown, masked.
        assert!(printed.contains("[REDACTED]"), "{printed}");
    }
}

/// What goes back to AgoraPlus, and the work order the store keeps, are
/// as AgoraPlus sent them: the consumer's name with its echo of the key.
async fn lossless(key: &str, form: Form, db: &Path, server: &MockServer) {
    let (_, body, data) = answer(Route::GetNewMandates, key, form, Kind::Warned);
    drop(body);
    let sent_name = data[0]["Mandate"]["Consumer"]["LastName"].clone();
    let kept: String = rusqlite::Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT work_order FROM work_orders WHERE mandate_id = 9001",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let kept: serde_json::Value = serde_json::from_str(&kept).unwrap();
    assert_eq!(kept["Consumer"]["LastName"], sent_name, "{kept}");
    let updates: Vec<serde_json::Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| {
            r.url
                .path()
                .eq_ignore_ascii_case(Route::UpdateRepair.path())
        })
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert!(!updates.is_empty());
    for update in updates {
        assert_eq!(update["Consumer"]["LastName"], sent_name, "{update}");
    }
}

async fn case(key: String, form: Form) {
    let (printed, dir, server) = everything_printed(&key, form).await;
    nowhere(&printed, &key, form);
    lossless(&key, form, &dir.path().join("agora.db"), &server).await;
}

/// Each form once, with a key holding every character a server escapes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_is_masked_in_every_output() {
    for form in FORMS {
        case(r#"k+y/"s\e=c:r%e&t!-0123"#.to_owned(), form).await;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 6,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_key_is_printed_nowhere(
        key in "[A-Za-z0-9+/=_.~!$&*@:;,?#%()'\"\\\\-]{12,24}",
        form in proptest::sample::select(FORMS.to_vec()),
    ) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(case(key, form));
    }
}
