//! Every recording under `tests/recordings/` (at any depth) is a test, with
//! no code: it is served alone by the replay server (`agora-sim
//! --replay`), the HTTP client makes the call its request implies (its
//! route, query, path and body), and the outcome the recording states is
//! checked:
//!
//! - `read`: the call succeeds; the recorded answer's envelope, read with
//!   the route's model, is written back as recorded (null members aside,
//!   as the domain's round-trip tests compare); so is the request's body
//!   with its model.
//! - `error`: the call fails with that class of `AgoraError` (`Decode`,
//!   `Rejected`, …; an `InDoubt` error also answers to its cause's class).
//!
//! Every failing file is reported by name, all at once.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use agora_domain::routes::{Route, parse_delta_path_date};
use agora_domain::{
    BomLine, ClaimTracking, CompleteRepairState, CountryCode, CreateRepairResult, Envelope,
    InvoiceReference, Lcid, ManufacturerId, NewMandateResponseData, OneOrMany, PartOrderLine,
    Product, ProductSearchHit, SparePart, WarrantyClaim, WarrantyClaimResult,
};
use agora_http::{AgoraClient, ApiKey, ClientConfig, Environment, RetryPolicy};
use agora_ports::{AgoraError, ClaimSubmission, DeltaQuery, collect_records};
use agora_sim::recording::{Expect, Recording, strip_nulls};
use agora_sim::replay::{Replay, ReplayServer};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The client's key: any key is replayed; this one is long enough to be
/// masked wherever it appears.
const KEY: &str = "recordings-test-key-0001";

fn recordings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings")
}

#[tokio::test]
async fn every_recording_gets_the_outcome_it_states() {
    let recordings = Recording::load_dir(&recordings_dir()).unwrap();
    assert!(
        recordings.len() >= 10,
        "the reference's samples are recordings"
    );
    let mut failures = Vec::new();
    for (path, recording) in &recordings {
        if let Err(why) = check(recording).await {
            let name = path.strip_prefix(recordings_dir()).unwrap_or(path);
            failures.push(format!("{}: {why}", name.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} recordings failed:\n{}",
        failures.len(),
        recordings.len(),
        failures.join("\n")
    );
}

async fn check(recording: &Recording) -> Result<(), String> {
    let route = recording
        .route()
        .ok_or_else(|| "its request names no route of the table".to_owned())?;
    let server = ReplayServer::start(
        Replay::new(vec![("this".into(), recording.clone())]),
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .map_err(|e| format!("cannot serve it: {e}"))?;
    let config = ClientConfig::new(Environment::Custom(server.url()), ApiKey::new(KEY))
        .with_retry(RetryPolicy::none());
    let client = AgoraClient::new(config).map_err(|e| e.to_string())?;
    let outcome = call(&client, route, recording).await?;
    let _ = server.shutdown().await;
    match (&recording.expect, outcome) {
        (Expect::Read, Ok(())) => lossless(route, recording),
        (Expect::Read, Err(e)) => Err(format!("expected a read, got {} ({e})", class(&e))),
        (Expect::Error { error }, Ok(())) => Err(format!("expected {error}, the call succeeded")),
        (Expect::Error { error }, Err(e)) => {
            let cause = match &e {
                AgoraError::InDoubt { cause, .. } => Some(class(cause)),
                _ => None,
            };
            if class(&e) == *error || cause.as_deref() == Some(error.as_str()) {
                Ok(())
            } else {
                Err(format!("expected {error}, got {} ({e})", class(&e)))
            }
        }
        (expect, _) => Err(format!("unknown expectation {expect:?}")),
    }
}

/// The variant's name: `Rejected`, `Decode`, `NotFound`…
fn class(e: &AgoraError) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn query<'a>(recording: &'a Recording, name: &str) -> Result<&'a str, String> {
    recording
        .request
        .query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| format!("its query has no `{name}`"))
}

fn parsed<T: std::str::FromStr>(recording: &Recording, name: &str) -> Result<T, String> {
    let raw = query(recording, name)?;
    raw.parse()
        .map_err(|_| format!("`{name}={raw}` does not parse"))
}

fn flag(recording: &Recording, name: &str) -> bool {
    query(recording, name).is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

fn body<T: DeserializeOwned>(recording: &Recording) -> Result<T, String> {
    let body = recording
        .request
        .payload
        .body
        .clone()
        .ok_or_else(|| "its request has no JSON body".to_owned())?;
    serde_json::from_value(body).map_err(|e| format!("its request body does not decode: {e}"))
}

fn delta_query(recording: &Recording) -> Result<DeltaQuery, String> {
    let path = recording.request.path.trim_end_matches('/');
    let mut segments = path.rsplit('/');
    let (language, date, manufacturer) = (
        segments.next().unwrap_or_default(),
        segments.next().unwrap_or_default(),
        segments.next().unwrap_or_default(),
    );
    Ok(DeltaQuery {
        manufacturer: ManufacturerId(
            manufacturer
                .parse()
                .map_err(|_| format!("`{manufacturer}` is no ManufacturerId"))?,
        ),
        since: parse_delta_path_date(date).ok_or_else(|| format!("`{date}` is no date"))?,
        language: language
            .parse()
            .map(Lcid)
            .ok()
            .or_else(|| Lcid::from_path_name(language))
            .ok_or_else(|| format!("`{language}` is no language"))?,
    })
}

fn claim_submission(recording: &Recording) -> Result<ClaimSubmission, String> {
    Ok(ClaimSubmission {
        language: Lcid(parsed(recording, "language")?),
        transfer_if_valid: flag(recording, "transferIfValid") || flag(recording, "transferIsValid"),
    })
}

/// Makes the call the recording's request implies; `Err(String)` when the
/// recording itself cannot say which call.
async fn call(
    api: &AgoraClient,
    route: Route,
    r: &Recording,
) -> Result<Result<(), AgoraError>, String> {
    fn done<T>(result: Result<T, AgoraError>) -> Result<(), AgoraError> {
        result.map(|_| ())
    }
    Ok(match route {
        Route::GetNewMandates => done(api.new_mandates(flag(r, "autoAccept")).await),
        Route::GetAcceptedMandates => done(api.accepted_mandates().await),
        Route::CreateRepair => done(api.create_repair(&body(r)?).await),
        Route::UpdateRepair => done(api.update_repair(&body(r)?).await),
        Route::PlaceRepairSparepartOrder => {
            done(api.place_order(parsed(r, "interventionId")?).await)
        }
        Route::GetSparepartOrderTracking => {
            done(api.order_tracking(parsed(r, "interventionId")?).await)
        }
        Route::CreateWarrantyClaims => {
            done(api.create_claim(&body(r)?, claim_submission(r)?).await)
        }
        Route::UpdateWarrantyClaim => done(api.update_claim(&body(r)?, claim_submission(r)?).await),
        Route::GetWarrantyClaimStatus => done(api.claim_status(parsed(r, "claimId")?).await),
        Route::CreateeInvoice => done(api.send_invoice_reference(&body(r)?).await),
        Route::PrintManufacturerSpareParts => match api.spare_parts_delta(delta_query(r)?).await {
            Ok(records) => done(collect_records(records).await),
            Err(e) => Err(e),
        },
        Route::PrintManufacturerProducts => match api.products_delta(delta_query(r)?).await {
            Ok(records) => done(collect_records(records).await),
            Err(e) => Err(e),
        },
        Route::SearchProductByRef => done(
            api.search_products(
                ManufacturerId(parsed(r, "manufacturerId")?),
                query(r, "keyWord")?,
                CountryCode(parsed(r, "countryCode")?),
            )
            .await,
        ),
        Route::PrintBomData => done(api.bom(query(r, "productKey")?).await),
        other => return Err(format!("no client call for {}", other.name())),
    })
}

/// The recorded answer's envelope, and the request's body, written back
/// as recorded by the route's models.
fn lossless(route: Route, r: &Recording) -> Result<(), String> {
    let answer = r.response.payload.body.as_ref();
    let request = r.request.payload.body.as_ref();
    match route {
        Route::GetNewMandates | Route::GetAcceptedMandates => {
            same::<Envelope<Vec<NewMandateResponseData>>>("answer", answer)
        }
        Route::CreateRepair => {
            same::<Envelope<CreateRepairResult>>("answer", answer)
                .and(same::<CompleteRepairState>("request", request))
        }
        Route::UpdateRepair => {
            same::<Envelope<Value>>("answer", answer)
                .and(same::<CompleteRepairState>("request", request))
        }
        Route::PlaceRepairSparepartOrder | Route::GetSparepartOrderTracking => {
            same::<Envelope<Vec<PartOrderLine>>>("answer", answer)
        }
        Route::CreateWarrantyClaims | Route::UpdateWarrantyClaim => same::<
            Envelope<OneOrMany<WarrantyClaimResult>>,
        >("answer", answer)
        .and(same::<WarrantyClaim>("request", request)),
        Route::GetWarrantyClaimStatus => same::<Envelope<ClaimTracking>>("answer", answer),
        Route::CreateeInvoice => {
            same::<Envelope<Value>>("answer", answer)
                .and(same::<InvoiceReference>("request", request))
        }
        Route::PrintManufacturerSpareParts => same::<Envelope<Vec<SparePart>>>("answer", answer),
        Route::PrintManufacturerProducts => same::<Envelope<Vec<Product>>>("answer", answer),
        Route::SearchProductByRef => same::<Envelope<Vec<ProductSearchHit>>>("answer", answer),
        Route::PrintBomData => same::<Envelope<Vec<BomLine>>>("answer", answer),
        other => Err(format!("no model for {}", other.name())),
    }
}

/// `T` reads `doc` and writes it back as it was, null members aside. A
/// body that is absent or not JSON has nothing to compare.
fn same<T: DeserializeOwned + Serialize>(what: &str, doc: Option<&Value>) -> Result<(), String> {
    let Some(doc) = doc else { return Ok(()) };
    let typed: T = agora_domain::decode_json(doc.to_string().as_bytes())
        .map_err(|e| format!("the {what} does not decode: {e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    if strip_nulls(&back) == strip_nulls(doc) {
        Ok(())
    } else {
        Err(format!(
            "the {what} is not written back as recorded:\n  recorded: {}\n  written:  {}",
            strip_nulls(doc),
            strip_nulls(&back)
        ))
    }
}

#[tokio::test]
async fn a_broken_recording_is_reported_by_name() {
    // The runner's own check: a recording whose stated outcome is wrong
    // fails, naming why.
    let mut recording = Recording::load(
        &recordings_dir().join("reference/010-PrintManufacturerProducts-200-example.json"),
    )
    .unwrap();
    recording.expect = Expect::Error {
        error: "Rejected".into(),
    };
    let why = check(&recording).await.unwrap_err();
    assert!(why.contains("expected Rejected"), "{why}");
}
