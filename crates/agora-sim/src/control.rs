//! The `/_sim` control endpoints: the OEM's side of AgoraPlus (publish work
//! orders, flag one broken, decide on claims, ship parts, issue draft
//! invoices, publish catalog records), fault injection, each account's
//! answer profile, its clock and autopilot, and state inspection.
//!
//! Every call is scoped to one account: it carries that account's key in
//! the `api_key` header (as the AgoraPlus routes take it) and reaches only
//! that account's data (another account's claim, order or work order is a
//! 404). A key in the URL is refused. The admin token (`--admin-token`,
//! sent as `Authorization: Bearer TOKEN`) reaches every account: with it,
//! the `api_key` header names the account, and without one it speaks for
//! the simulator as a whole (only `/_sim/clock` has such a meaning).

use std::sync::Arc;

use agora_domain::{
    ClaimId, ClaimStatus, MandateId, MandateLightResponse, ManufacturerId, Product, SparePart,
};
use agora_mock::{AnswerProfile, Autopilot, ClockChange, Faults, SimError, Simulator};
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::IgnoredAny;
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
    ("GET", "/_sim/accounts"),
    ("GET", "/_sim/journal"),
    ("POST", "/_sim/profile"),
    ("GET", "/_sim/profile"),
    ("GET", "/_sim/clock"),
    ("POST", "/_sim/clock"),
    ("GET", "/_sim/autopilot"),
    ("POST", "/_sim/autopilot"),
];

/// The admin token of a simulator (`--admin-token`): it reaches every
/// account's controls. Compared in constant time; never shown.
#[derive(Clone)]
pub struct AdminToken(Arc<str>);

impl AdminToken {
    /// A token; refused when empty or not a visible ASCII string (it
    /// travels in a header).
    pub fn new(token: &str) -> Result<Self, String> {
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "the admin token must be a non-empty string of visible ASCII characters".to_owned(),
            );
        }
        Ok(Self(Arc::from(token)))
    }

    /// Whether `offered` is the token, in time that does not depend on
    /// where they differ.
    fn matches(&self, offered: &[u8]) -> bool {
        let token = self.0.as_bytes();
        let mut differ = u8::from(token.len() != offered.len());
        for (i, t) in token.iter().enumerate() {
            differ |= t ^ offered.get(i).copied().unwrap_or(!t);
        }
        differ == 0
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// What the routes of a simulator share: the simulator and its admin token.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) sim: Simulator,
    pub(crate) admin: Option<AdminToken>,
}

impl FromRef<AppState> for Simulator {
    fn from_ref(state: &AppState) -> Self {
        state.sim.clone()
    }
}

/// The control routes on a router.
pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/_sim/mandates", post(publish_mandate))
        .route("/_sim/mandates/{mandate_id}/broken", post(flag_broken))
        .route("/_sim/claims/{claim_id}/decision", post(decide_claim))
        .route("/_sim/orders/{order_number}/logistic", post(set_logistic))
        .route("/_sim/invoices/draft", post(draft_invoice))
        .route("/_sim/invoices/{number}/csv", get(draft_csv))
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
        .route("/_sim/accounts", get(accounts))
        .route("/_sim/journal", get(journal))
        .route("/_sim/profile", post(set_profile).get(get_profile))
        .route("/_sim/clock", post(change_clock).get(get_clock))
        .route("/_sim/autopilot", post(set_autopilot).get(get_autopilot))
}

/// Who a control call speaks for.
enum Caller {
    /// An account, by its key.
    Account(String),
    /// The admin token, for the account its `api_key` header names, or
    /// for the simulator as a whole.
    Admin(Option<String>),
}

impl Caller {
    /// The account the call is about.
    fn account(&self) -> Result<&str, SimError> {
        match self {
            Self::Account(key) | Self::Admin(Some(key)) => Ok(key),
            Self::Admin(None) => Err(SimError::BadRequest(
                "name the account with the `api_key` header: this control acts on one account"
                    .to_owned(),
            )),
        }
    }

    /// The account the call is about, or `None` for the simulator (admin
    /// token without an account).
    fn scope(&self) -> Option<&str> {
        match self {
            Self::Account(key) | Self::Admin(Some(key)) => Some(key),
            Self::Admin(None) => None,
        }
    }
}

/// What a control call without credentials is told.
const HOW_TO_AUTHENTICATE: &str = "a /_sim call needs the account's key in the `api_key` header \
     (as the AgoraPlus routes take it), or the admin token as `Authorization: Bearer TOKEN`";

/// Who is calling: the account of the `api_key` header, or the admin.
/// A key in the URL is refused (400); no credentials, an unknown key or a
/// wrong admin token are a 401 saying how to authenticate.
fn caller(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Result<Caller, SimError> {
    let query = Query::parse(uri.query());
    if query.optional("apiKey").is_some() || query.optional("api_key").is_some() {
        return Err(SimError::BadRequest(
            "the account's key is not taken in the URL (it would be logged): send it in the \
             `api_key` header"
                .to_owned(),
        ));
    }
    let key = headers
        .get("api_key")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let offered = auth.as_bytes().strip_prefix(b"Bearer ").ok_or_else(|| {
            control_unauthorized("the admin token goes as `Authorization: Bearer TOKEN`")
        })?;
        let admin = state.admin.as_ref().ok_or_else(|| {
            control_unauthorized("this simulator has no admin token (--admin-token)")
        })?;
        if !admin.matches(offered) {
            return Err(control_unauthorized("wrong admin token"));
        }
        if let Some(k) = &key {
            if !state.sim.has_account(k) {
                return Err(SimError::NotFound(format!(
                    "no account with the key of the api_key header ({} chars)",
                    k.chars().count()
                )));
            }
        }
        return Ok(Caller::Admin(key));
    }
    match key {
        Some(k) if state.sim.has_account(&k) => Ok(Caller::Account(k)),
        Some(_) => Err(control_unauthorized("unknown api_key")),
        None => Err(control_unauthorized("no credentials")),
    }
}

fn control_unauthorized(why: &str) -> SimError {
    SimError::ControlUnauthorized(format!("{why}: {HOW_TO_AUTHENTICATE}"))
}

fn reply(result: Result<serde_json::Value, SimError>) -> Response {
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => error_response(&e),
    }
}

/// Runs `f` for the caller, or answers why the caller is refused.
fn as_caller(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    f: impl FnOnce(&Simulator, &Caller) -> Result<serde_json::Value, SimError>,
) -> Response {
    reply(caller(state, headers, uri).and_then(|c| f(&state.sim, &c)))
}

/// Refuses the account's key sent in a body, as the control API once took
/// it: it goes in the `api_key` header now.
fn no_key_in_body(key: Option<&IgnoredAny>) -> Result<(), SimError> {
    match key {
        Some(_) => Err(SimError::BadRequest(
            "`ApiKey` in the body is no longer read: send the account's key in the `api_key` header"
                .to_owned(),
        )),
        None => Ok(()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct MandateRequest {
    #[serde(default)]
    api_key: Option<IgnoredAny>,
    mandate: MandateLightResponse,
    /// Published already broken: accepting it will fail.
    #[serde(default)]
    broken: bool,
}

async fn publish_mandate(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        let key = c.account()?;
        let r = body::<MandateRequest>(&bytes)?;
        no_key_in_body(r.api_key.as_ref())?;
        let id = if r.broken {
            sim.publish_broken_mandate(key, r.mandate)?
        } else {
            sim.publish_mandate(key, r.mandate)?
        };
        Ok(json!({ "MandateId": id, "Broken": r.broken }))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct BrokenRequest {
    broken: bool,
}

async fn flag_broken(
    State(state): State<AppState>,
    Path(mandate_id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        let key = c.account()?;
        let id: MandateId = mandate_id
            .parse()
            .map_err(|_| SimError::BadRequest(format!("`{mandate_id}` is not a MandateId")))?;
        let r = body::<BrokenRequest>(&bytes)?;
        sim.set_mandate_broken(key, id, r.broken)?;
        Ok(json!({ "MandateId": id, "Broken": r.broken }))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct DecisionRequest {
    last_status: ClaimStatus,
    #[serde(default)]
    comment: Option<String>,
}

async fn decide_claim(
    State(state): State<AppState>,
    Path(claim_id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        let key = c.account()?;
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
        let status = sim.decide_claim(key, id, r.last_status, r.comment)?;
        Ok(json!({ "ClaimID": id, "LastStatus": status }))
    })
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
    State(state): State<AppState>,
    Path(order): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        let key = c.account()?;
        let r = body::<LogisticRequest>(&bytes)?;
        sim.set_line_logistic(key, &order, r.reference.as_deref(), &r.status_code)?;
        Ok(json!({ "OrderNumber": order, "Reference": r.reference, "StatusCode": r.status_code }))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct DraftRequest {
    #[serde(default)]
    api_key: Option<IgnoredAny>,
    manufacturer_id: ManufacturerId,
    /// The layout of its CSV (`crate::invoice_csv`).
    #[serde(default)]
    csv: Option<crate::invoice_csv::CsvOptions>,
}

async fn draft_invoice(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        let key = c.account()?;
        let r = body::<DraftRequest>(&bytes)?;
        no_key_in_body(r.api_key.as_ref())?;
        sim.catch_up(key);
        let layout = r.csv.unwrap_or_default().layout()?;
        let (number, claims) = sim.draft_invoice_in(key, r.manufacturer_id, &layout)?;
        let csv = format!("/_sim/invoices/{}/csv", number.as_str());
        Ok(json!({ "DraftInvoiceNumber": number, "ClaimIDs": claims, "Csv": csv }))
    })
}

/// `GET /_sim/invoices/{number}/csv`: the raw bytes of the account's draft.
async fn draft_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(number): Path<String>,
) -> Response {
    let caller = caller(&state, &headers, &uri);
    let key = caller
        .as_ref()
        .map_err(Clone::clone)
        .and_then(Caller::account);
    crate::invoice_csv::draft_csv(&state.sim, key, &number)
}

fn manufacturer(raw: &str) -> Result<ManufacturerId, SimError> {
    raw.parse()
        .map(ManufacturerId)
        .map_err(|_| SimError::BadRequest(format!("`{raw}` is not a ManufacturerId")))
}

async fn publish_parts(
    State(state): State<AppState>,
    Path(m): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        let key = c.account()?;
        let m = manufacturer(&m)?;
        let n = sim.publish_spare_parts(key, m, body::<Vec<SparePart>>(&bytes)?)?;
        Ok(json!({ "Published": n }))
    })
}

async fn publish_products(
    State(state): State<AppState>,
    Path(m): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        let key = c.account()?;
        let m = manufacturer(&m)?;
        let n = sim.publish_products(key, m, body::<Vec<Product>>(&bytes)?)?;
        Ok(json!({ "Published": n }))
    })
}

fn to_json<T: serde::Serialize>(value: T) -> Result<serde_json::Value, SimError> {
    serde_json::to_value(value).map_err(|e| SimError::BadRequest(e.to_string()))
}

async fn set_faults(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        let key = c.account()?;
        let f = body::<Faults>(&bytes)?;
        sim.set_faults(key, f.clone())?;
        to_json(f)
    })
}

async fn get_faults(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        let key = c.account()?;
        to_json(sim.faults(key)?)
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ProfileRequest {
    #[serde(default)]
    api_key: Option<IgnoredAny>,
    /// A preset's name (`default`, `reference-style`) or the options.
    profile: serde_json::Value,
}

async fn set_profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        let key = c.account()?;
        let r = body::<ProfileRequest>(&bytes)?;
        no_key_in_body(r.api_key.as_ref())?;
        let profile = AnswerProfile::from_setting(r.profile)?;
        sim.set_profile(key, profile.clone())?;
        to_json(profile)
    })
}

async fn get_profile(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        to_json(sim.profile(c.account()?)?)
    })
}

/// `GET /_sim/state`: the account's whole state, with an `ETag` of its
/// bytes; a request whose `If-None-Match` names it is answered 304 without
/// a body, so a page can poll for changes cheaply.
async fn state(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    match caller(&state, &headers, &uri).and_then(|c| state.sim.state(c.account()?)) {
        Ok(v) => tagged(&headers, &v),
        Err(e) => error_response(&e),
    }
}

/// `value` as JSON with its entity tag, or 304 when the caller's
/// `If-None-Match` names that tag.
fn tagged(headers: &HeaderMap, value: &serde_json::Value) -> Response {
    use std::hash::{Hash, Hasher};
    let Ok(bytes) = serde_json::to_vec(value) else {
        return json_response(StatusCode::OK, value);
    };
    let mut hasher = std::hash::DefaultHasher::new();
    bytes.hash(&mut hasher);
    let tag = format!("\"{:016x}-{:x}\"", hasher.finish(), bytes.len());
    let Ok(etag) = HeaderValue::from_str(&tag) else {
        return json_response(StatusCode::OK, value);
    };
    let named = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag
        });
    let cache = HeaderValue::from_static("no-cache");
    if named {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            ),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /_sim/accounts`: the accounts the caller may act on, each key
/// with whether it is locked: every account for the admin token without
/// an `api_key` header, otherwise the one account named (so the console
/// checks a key it is given). Only the admin learns other accounts' keys.
async fn accounts(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        let admin = matches!(c, Caller::Admin(_));
        let list: Vec<serde_json::Value> = match c.scope() {
            Some(key) => vec![json!({ "ApiKey": key, "Locked": sim.is_locked(key) })],
            None => sim
                .accounts()
                .into_iter()
                .map(|(key, locked)| json!({ "ApiKey": key, "Locked": locked }))
                .collect(),
        };
        Ok(json!({ "Admin": admin, "Accounts": list }))
    })
}

/// An account's request journal: every change applied, in order, each
/// with its intent and, for a creation applied before, the record it
/// duplicates.
async fn journal(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        to_json(sim.journal(c.account()?)?)
    })
}

async fn get_clock(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        to_json(sim.clock(c.scope())?)
    })
}

/// `POST /_sim/clock`: `{"Action": "freeze" | "advance" | "set" |
/// "resume", "By": "1h 30m" | "PT1H30M" (advance), "To": "2027-01-01T00:00:00Z" (set)}`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ClockRequest {
    action: String,
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

impl ClockRequest {
    fn change(self) -> Result<ClockChange, SimError> {
        let unused = |name: &str, v: &Option<String>| match v {
            Some(_) => Err(SimError::BadRequest(format!(
                "`{name}` does not go with the action `{}`",
                self.action
            ))),
            None => Ok(()),
        };
        match self.action.to_ascii_lowercase().as_str() {
            "freeze" | "resume" => {
                unused("By", &self.by)?;
                unused("To", &self.to)?;
                Ok(if self.action.eq_ignore_ascii_case("freeze") {
                    ClockChange::Freeze
                } else {
                    ClockChange::Resume
                })
            }
            "advance" => {
                unused("To", &self.to)?;
                let raw = self.by.as_deref().ok_or_else(|| {
                    SimError::BadRequest(
                        "advance needs `By`: a duration (\"2h\", \"PT2H\")".to_owned(),
                    )
                })?;
                raw.parse::<jiff::SignedDuration>()
                    .map(ClockChange::Advance)
                    .map_err(|e| {
                        SimError::BadRequest(format!(
                            "`By`: `{raw}` is not a duration (\"90s\", \"2h 30m\", \"PT2H\"): {e}"
                        ))
                    })
            }
            "set" => {
                unused("By", &self.by)?;
                let raw = self.to.as_deref().ok_or_else(|| {
                    SimError::BadRequest(
                        "set needs `To`: a time (\"2027-01-01T00:00:00Z\")".to_owned(),
                    )
                })?;
                raw.parse::<jiff::Timestamp>()
                    .map(ClockChange::Set)
                    .map_err(|e| {
                        SimError::BadRequest(format!(
                            "`To`: `{raw}` is not a time with its offset (\"2027-01-01T00:00:00Z\"): {e}"
                        ))
                    })
            }
            other => Err(SimError::BadRequest(format!(
                "`Action` must be freeze, advance, set or resume, not `{other}`"
            ))),
        }
    }
}

async fn change_clock(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        let change = body::<ClockRequest>(&bytes)?.change()?;
        to_json(sim.change_clock(c.scope(), &change)?)
    })
}

async fn get_autopilot(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| sim.autopilot(c.account()?))
}

/// `POST /_sim/autopilot`: the settings of the configuration file's
/// `autopilot` (`{"work_orders_per_hour": 12, ...}`), `true` for its
/// defaults, or `false` to stop it, for the account.
async fn set_autopilot(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> Response {
    as_caller(&state, &headers, &uri, |sim, c| {
        let key = c.account()?;
        let setting = body::<serde_json::Value>(&bytes)?;
        let pilot = match setting {
            serde_json::Value::Bool(false) | serde_json::Value::Null => None,
            serde_json::Value::Bool(true) => Some(Autopilot::default()),
            v => Some(
                serde_json::from_value::<Autopilot>(v)
                    .map_err(|e| SimError::BadRequest(format!("autopilot: {e}")))?,
            ),
        };
        if let Some(p) = &pilot {
            if !p.accounts.is_empty() {
                return Err(SimError::BadRequest(
                    "autopilot: `accounts` is for the configuration file; this call sets the \
                     account of the api_key header"
                        .to_owned(),
                ));
            }
        }
        sim.set_autopilot(key, pilot)?;
        sim.autopilot(key)
    })
}
