//! The `/_sim` control endpoints: the OEM's side of AgoraPlus (publish work
//! orders, flag one broken, decide on claims, ship parts, issue draft
//! invoices, publish catalog records), fault injection, each account's
//! answer profile and state inspection. Not AgoraPlus: no api_key.

use agora_domain::{
    ClaimId, ClaimStatus, MandateId, MandateLightResponse, ManufacturerId, Product, SparePart,
};
use agora_mock::{AnswerProfile, Faults, SimError, Simulator};
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use crate::wire::{Query, body, error_response, json_response};

/// The control routes: (method, path). The router and the OpenAPI check
/// both read this list.
pub const CONTROL_ROUTES: &[(&str, &str)] = &[
    ("POST", "/_sim/mandates"),
    ("POST", "/_sim/mandates/{MandateId}/broken"),
    ("POST", "/_sim/claims/{ClaimID}/decision"),
    ("POST", "/_sim/orders/{OrderNumber}/logistic"),
    ("POST", "/_sim/invoices/draft"),
    ("GET", "/_sim/invoices/{DraftInvoiceNumber}/csv"),
    ("POST", "/_sim/catalog/{ManufacturerId}/spareparts"),
    ("POST", "/_sim/catalog/{ManufacturerId}/products"),
    ("POST", "/_sim/faults"),
    ("GET", "/_sim/faults"),
    ("GET", "/_sim/state"),
    ("GET", "/_sim/journal"),
    ("POST", "/_sim/profile"),
    ("GET", "/_sim/profile"),
];

/// The control routes on a router.
pub(crate) fn routes() -> axum::Router<Simulator> {
    axum::Router::new()
        .route("/_sim/mandates", post(publish_mandate))
        .route("/_sim/mandates/{mandate_id}/broken", post(flag_broken))
        .route("/_sim/claims/{claim_id}/decision", post(decide_claim))
        .route("/_sim/orders/{order_number}/logistic", post(set_logistic))
        .route("/_sim/invoices/draft", post(draft_invoice))
        .route(
            "/_sim/invoices/{number}/csv",
            get(crate::invoice_csv::draft_csv),
        )
        .route(
            "/_sim/catalog/{manufacturer}/spareparts",
            post(publish_parts),
        )
        .route(
            "/_sim/catalog/{manufacturer}/products",
            post(publish_products),
        )
        .route("/_sim/faults", post(set_faults).get(get_faults))
        .route("/_sim/state", get(state))
        .route("/_sim/journal", get(journal))
        .route("/_sim/profile", post(set_profile).get(get_profile))
}

fn reply(result: Result<serde_json::Value, SimError>) -> Response {
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => error_response(&e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct MandateRequest {
    api_key: String,
    mandate: MandateLightResponse,
    /// Published already broken: accepting it will fail.
    #[serde(default)]
    broken: bool,
}

async fn publish_mandate(State(sim): State<Simulator>, bytes: Bytes) -> Response {
    reply(body::<MandateRequest>(&bytes).and_then(|r| {
        let id = if r.broken {
            sim.publish_broken_mandate(&r.api_key, r.mandate)?
        } else {
            sim.publish_mandate(&r.api_key, r.mandate)?
        };
        Ok(json!({ "MandateId": id, "Broken": r.broken }))
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct BrokenRequest {
    broken: bool,
}

async fn flag_broken(
    State(sim): State<Simulator>,
    Path(mandate_id): Path<String>,
    bytes: Bytes,
) -> Response {
    reply((|| {
        let id: MandateId = mandate_id
            .parse()
            .map_err(|_| SimError::BadRequest(format!("`{mandate_id}` is not a MandateId")))?;
        let r = body::<BrokenRequest>(&bytes)?;
        sim.set_mandate_broken(id, r.broken)?;
        Ok(json!({ "MandateId": id, "Broken": r.broken }))
    })())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct DecisionRequest {
    last_status: ClaimStatus,
    #[serde(default)]
    comment: Option<String>,
}

async fn decide_claim(
    State(sim): State<Simulator>,
    Path(claim_id): Path<String>,
    bytes: Bytes,
) -> Response {
    reply((|| {
        let id: ClaimId = claim_id
            .parse()
            .map_err(|_| SimError::BadRequest(format!("`{claim_id}` is not a ClaimID")))?;
        let r = body::<DecisionRequest>(&bytes)?;
        if !matches!(
            r.last_status,
            ClaimStatus::NotConform | ClaimStatus::ClosedAccepted
        ) {
            return Err(SimError::BadRequest(format!(
                "LastStatus must be NOTCONFORM or CLOSEDACCEPTED, not {}",
                r.last_status
            )));
        }
        let status = sim.decide_claim(id, r.last_status, r.comment)?;
        Ok(json!({ "ClaimID": id, "LastStatus": status }))
    })())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct LogisticRequest {
    status_code: String,
    /// The part whose line it is; every line of the order without it.
    #[serde(default)]
    reference: Option<String>,
}

async fn set_logistic(
    State(sim): State<Simulator>,
    Path(order): Path<String>,
    bytes: Bytes,
) -> Response {
    reply(body::<LogisticRequest>(&bytes).and_then(|r| {
        sim.set_line_logistic(&order, r.reference.as_deref(), &r.status_code)?;
        Ok(json!({ "OrderNumber": order, "Reference": r.reference, "StatusCode": r.status_code }))
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct DraftRequest {
    api_key: String,
    manufacturer_id: ManufacturerId,
    /// The layout of its CSV (`crate::invoice_csv`).
    #[serde(default)]
    csv: Option<crate::invoice_csv::CsvOptions>,
}

async fn draft_invoice(State(sim): State<Simulator>, bytes: Bytes) -> Response {
    reply(body::<DraftRequest>(&bytes).and_then(|r| {
        let layout = r.csv.unwrap_or_default().layout()?;
        let (number, claims) = sim.draft_invoice_in(&r.api_key, r.manufacturer_id, &layout)?;
        let csv = format!("/_sim/invoices/{}/csv", number.as_str());
        Ok(json!({ "DraftInvoiceNumber": number, "ClaimIDs": claims, "Csv": csv }))
    }))
}

fn manufacturer(raw: &str) -> Result<ManufacturerId, SimError> {
    raw.parse()
        .map(ManufacturerId)
        .map_err(|_| SimError::BadRequest(format!("`{raw}` is not a ManufacturerId")))
}

async fn publish_parts(
    State(sim): State<Simulator>,
    Path(m): Path<String>,
    bytes: Bytes,
) -> Response {
    reply(manufacturer(&m).and_then(|m| {
        let n = sim.publish_spare_parts(m, body::<Vec<SparePart>>(&bytes)?)?;
        Ok(json!({ "Published": n }))
    }))
}

async fn publish_products(
    State(sim): State<Simulator>,
    Path(m): Path<String>,
    bytes: Bytes,
) -> Response {
    reply(manufacturer(&m).and_then(|m| {
        let n = sim.publish_products(m, body::<Vec<Product>>(&bytes)?)?;
        Ok(json!({ "Published": n }))
    }))
}

async fn set_faults(State(sim): State<Simulator>, bytes: Bytes) -> Response {
    reply(body::<Faults>(&bytes).and_then(|f| {
        sim.set_faults(f.clone())?;
        serde_json::to_value(f).map_err(|e| SimError::BadRequest(e.to_string()))
    }))
}

async fn get_faults(State(sim): State<Simulator>) -> Response {
    reply(serde_json::to_value(sim.faults()).map_err(|e| SimError::BadRequest(e.to_string())))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ProfileRequest {
    api_key: String,
    /// A preset's name (`default`, `reference-style`) or the options.
    profile: serde_json::Value,
}

async fn set_profile(State(sim): State<Simulator>, bytes: Bytes) -> Response {
    reply(body::<ProfileRequest>(&bytes).and_then(|r| {
        let profile = AnswerProfile::from_setting(r.profile)?;
        sim.set_profile(&r.api_key, profile.clone())?;
        serde_json::to_value(profile).map_err(|e| SimError::BadRequest(e.to_string()))
    }))
}

async fn get_profile(State(sim): State<Simulator>, uri: Uri) -> Response {
    let q = Query::parse(uri.query());
    reply(q.required("apiKey").and_then(|key| {
        serde_json::to_value(sim.profile(key)?).map_err(|e| SimError::BadRequest(e.to_string()))
    }))
}

async fn state(State(sim): State<Simulator>, uri: Uri) -> Response {
    let q = Query::parse(uri.query());
    reply(q.required("apiKey").and_then(|key| sim.state(key)))
}

/// An account's request journal: every change applied, in order, each
/// with its intent and, for a creation applied before, the record it
/// duplicates.
async fn journal(State(sim): State<Simulator>, uri: Uri) -> Response {
    let q = Query::parse(uri.query());
    reply(q.required("apiKey").and_then(|key| {
        serde_json::to_value(sim.journal(key)?).map_err(|e| SimError::BadRequest(e.to_string()))
    }))
}
