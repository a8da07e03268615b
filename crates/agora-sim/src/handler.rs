//! The AgoraPlus routes: dispatched through the shared route table
//! (case-insensitively), authenticated by `api_key` (a header, or a query
//! parameter), with faults applied.

use std::convert::Infallible;

use agora_domain::routes::{Method, Route, delta_path_date, parse_delta_path_date};
use agora_domain::wire::WriteJson;
use agora_domain::{
    CompleteRepairState, CountryCode, InvoiceReference, Lcid, ManufacturerId, WarrantyClaim,
};
use agora_mock::{Answer, AnswerProfile, Delta, SimError, Simulator};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;

use crate::wire::{Query, body, error_response, respond};

/// Raised to abort a connection without answering (drop-after-commit).
/// Carried by `resume_unwind`, which does not run the panic hook: the
/// connection's task ends and the socket closes, silently.
pub(crate) struct DropConnection;

/// Every request that is not a `/_sim` route.
pub(crate) async fn handle(
    State(sim): State<Simulator>,
    method: axum::http::Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let path = uri.path();
    let Some(method) = (match method {
        axum::http::Method::GET => Some(Method::Get),
        axum::http::Method::POST => Some(Method::Post),
        _ => None,
    }) else {
        return not_routed(path);
    };
    let Some(route) = Route::match_path(method, path) else {
        return not_routed(path);
    };
    let query = Query::parse(uri.query());
    let key = api_key(&headers, &query);
    if let Err(e) = sim.authenticate(&key) {
        return error_response(&e);
    }
    let roll = sim.roll_fault(&key, route);
    if roll.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(roll.delay_ms)).await;
    }
    if let Some(refusal) = roll.refuse {
        return error_response(&refusal);
    }
    let response = dispatch(&sim, route, &key, path, &query, &bytes);
    if roll.drop_after_commit {
        std::panic::resume_unwind(Box::new(DropConnection));
    }
    response
}

/// The account's key: the `api_key` header (5.5.1), else the `api_key`
/// query parameter (5.1: the key is "entered as a parameter in the
/// request"). The header wins when both are sent; an empty header counts
/// as none.
fn api_key(headers: &HeaderMap, query: &Query) -> String {
    headers
        .get("api_key")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .or_else(|| query.optional("api_key"))
        .unwrap_or_default()
        .to_owned()
}

/// 405 for a known path with another method, with an `Allow` header
/// naming the method the path takes (GET or POST); 404 otherwise.
fn not_routed(path: &str) -> Response {
    let path = path.trim_end_matches('/');
    let mut allow: Vec<&str> = Route::ALL
        .iter()
        .filter(|r| r.matches(path))
        .map(|r| r.method().as_str())
        .collect();
    allow.dedup();
    if allow.is_empty() {
        return error_response(&SimError::NotFound(format!("no route {path}")));
    }
    let allow = allow.join(", ");
    let mut response = error_response(&SimError::MethodNotAllowed(format!(
        "{path} does not take this method; it takes {allow}"
    )));
    if let Ok(v) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, v);
    }
    response
}

fn dispatch(
    sim: &Simulator,
    route: Route,
    key: &str,
    path: &str,
    q: &Query,
    bytes: &[u8],
) -> Response {
    match run(sim, route, key, path, q, bytes) {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

fn language(q: &Query) -> Result<Lcid, SimError> {
    match q.optional("language") {
        None => Ok(Lcid::ENGLISH),
        Some(raw) => raw
            .parse::<u32>()
            .map(Lcid)
            .map_err(|_| SimError::BadRequest(format!("language `{raw}` is not an LCID"))),
    }
}

/// Answers to one call, worded by the account's profile.
struct Say<'k> {
    profile: AnswerProfile,
    route: Route,
    key: &'k str,
}

impl Say<'_> {
    fn respond<T: Serialize>(&self, result: Result<Answer<T>, SimError>) -> Response {
        respond(&self.profile, self.route, self.key, result)
    }
}

fn run(
    sim: &Simulator,
    route: Route,
    key: &str,
    path: &str,
    q: &Query,
    bytes: &[u8],
) -> Result<Response, SimError> {
    let say = Say {
        profile: sim.profile(key)?,
        route,
        key,
    };
    Ok(match route {
        Route::GetNewMandates => say.respond(sim.new_mandates(key, auto_accept(q)?)),
        Route::GetAcceptedMandates => say.respond(sim.accepted_mandates(key)),
        Route::CreateRepair => {
            say.respond(sim.create_repair(key, body::<CompleteRepairState>(bytes)?))
        }
        Route::UpdateRepair => {
            say.respond(sim.update_repair(key, body::<CompleteRepairState>(bytes)?))
        }
        Route::PlaceRepairSparepartOrder => {
            say.respond(sim.place_order(key, q.parsed("interventionId")?))
        }
        Route::GetSparepartOrderTracking => {
            say.respond(sim.order_tracking(key, q.parsed("interventionId")?))
        }
        Route::CreateWarrantyClaims => say.respond(sim.create_claim(
            key,
            body::<WarrantyClaim>(bytes)?,
            language(q)?,
            transfer_if_valid(q)?,
        )),
        Route::UpdateWarrantyClaim => say.respond(sim.update_claim(
            key,
            body::<WarrantyClaim>(bytes)?,
            language(q)?,
            transfer_if_valid(q)?,
        )),
        Route::GetWarrantyClaimStatus => say.respond(sim.claim_status(key, q.parsed("claimId")?)),
        Route::CreateeInvoice => {
            say.respond(sim.create_invoice(key, body::<InvoiceReference>(bytes)?))
        }
        Route::PrintManufacturerSpareParts => {
            let (m, since, lang) = delta_params(path)?;
            let delta = sim.spare_parts_delta(key, m, since, lang)?;
            stream_delta(delta, "spare parts", since, &say)
        }
        Route::PrintManufacturerProducts => {
            let (m, since, lang) = delta_params(path)?;
            let delta = sim.products_delta(key, m, since, lang)?;
            stream_delta(delta, "products", since, &say)
        }
        Route::SearchProductByRef => say.respond(sim.search_products(
            key,
            ManufacturerId(q.parsed("manufacturerId")?),
            q.required("keyWord")?,
            CountryCode(q.parsed("countryCode")?),
        )),
        Route::PrintBomData => say.respond(sim.bom(key, q.required("productKey")?)),
        _ => {
            return Err(SimError::NotFound(format!(
                "{} is not served",
                route.name()
            )));
        }
    })
}

/// `GetNewMandates`' flag: the reference calls it `AUTOACCEPTED` (2.1)
/// and `Autoaccept` (2.1.1); either is read (names match
/// case-insensitively), and both must agree when both are sent. Absent:
/// false.
fn auto_accept(q: &Query) -> Result<bool, SimError> {
    either_flag(q, "autoAccept", "autoAccepted")
}

/// The claim calls' transfer flag: the reference spells it
/// `transferIsValid` (2.5.1) and `transferIfValid` (2.5.3); either is
/// read, and both must agree when both are sent. Absent: false.
fn transfer_if_valid(q: &Query) -> Result<bool, SimError> {
    either_flag(q, "transferIfValid", "transferIsValid")
}

/// A boolean parameter the reference names two ways: either name is read;
/// both sent must agree (a 400 otherwise). Absent: false.
fn either_flag(q: &Query, one: &str, other: &str) -> Result<bool, SimError> {
    let read = |name: &str| q.optional(name).map(|_| q.flag(name, false)).transpose();
    match (read(one)?, read(other)?) {
        (Some(a), Some(b)) if a != b => Err(SimError::BadRequest(format!(
            "{one} ({a}) and {other} ({b}) disagree"
        ))),
        (a, b) => Ok(a.or(b).unwrap_or(false)),
    }
}

fn delta_params(path: &str) -> Result<(ManufacturerId, jiff::civil::Date, Lcid), SimError> {
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let language = segments.next().unwrap_or_default();
    let date = segments.next().unwrap_or_default();
    let manufacturer = segments.next().unwrap_or_default();
    let m = crate::wire::integral(manufacturer)
        .parse::<u32>()
        .map(ManufacturerId)
        .map_err(|_| SimError::BadRequest(format!("`{manufacturer}` is not a ManufacturerId")))?;
    let since = parse_delta_path_date(date)
        .ok_or_else(|| SimError::BadRequest(format!("`{date}` is not a date (MM-DD-YYYY)")))?;
    let lang = path_language(language).ok_or_else(|| {
        SimError::BadRequest(format!(
            "`{language}` is not a language name (English) or an LCID (1033)"
        ))
    })?;
    Ok((m, since, lang))
}

/// A delta path's language: its English name, as the reference's example
/// (5.5.4, `English`) and the client send it, or its LCID (4.1, 4.2 and
/// 6.2 say the language is an LCID), as the `language` query parameter of
/// the claim calls takes it.
fn path_language(segment: &str) -> Option<Lcid> {
    match segment.parse::<u32>() {
        Ok(lcid) => Some(Lcid(lcid)),
        Err(_) => Lcid::from_path_name(segment),
    }
}

/// Bytes per chunk of a streamed delta.
const CHUNK: usize = 64 * 1024;

/// Streams a delta as an envelope: the status first, the records as they
/// are generated, the summary message last (or, when the account's profile
/// warns, its warning). Memory stays at one chunk. An empty delta is
/// worded as the profile says ("no results", a null or no `ResponseData`).
fn stream_delta<T: WriteJson + Send + 'static>(
    delta: Delta<T>,
    what: &'static str,
    since: jiff::civil::Date,
    say: &Say,
) -> Response {
    struct Chunks<T: Iterator> {
        delta: std::iter::Peekable<T>,
        count: u64,
        state: u8,
        what: &'static str,
        since: String,
        warning: Option<String>,
    }
    impl<T: Iterator<Item = R>, R: WriteJson> Iterator for Chunks<T> {
        type Item = Result<Bytes, Infallible>;
        fn next(&mut self) -> Option<Self::Item> {
            let mut buf = Vec::with_capacity(CHUNK + 1024);
            if self.state == 0 {
                buf.extend_from_slice(if self.warning.is_some() {
                    br#"{"ResponseStatus":"W","IsValid":true,"ResponseErrorMessage":"","ResponseData":["#
                } else {
                    br#"{"ResponseStatus":"S","IsValid":true,"ResponseErrorMessage":"","ResponseData":["#
                });
                self.state = 1;
            }
            if self.state == 1 {
                while buf.len() < CHUNK {
                    let Some(record) = self.delta.next() else {
                        self.state = 2;
                        break;
                    };
                    if self.count > 0 {
                        buf.push(b',');
                    }
                    if record.write_json(&mut buf).is_err() {
                        buf.extend_from_slice(b"null");
                    }
                    self.count += 1;
                }
            }
            if self.state == 2 {
                let message = self.warning.clone().unwrap_or_else(|| {
                    format!(
                        "{} created or updated {} found since {}",
                        self.count, self.what, self.since
                    )
                });
                buf.extend_from_slice(b"],\"ResponseMessage\":");
                if serde_json::to_writer(&mut buf, &message).is_err() {
                    buf.extend_from_slice(b"null");
                }
                buf.push(b'}');
                self.state = 3;
            } else if self.state == 3 {
                return None;
            }
            Some(Ok(Bytes::from(buf)))
        }
    }
    let mut delta = delta.peekable();
    let since = delta_path_date(since).replace('-', "/");
    if delta.peek().is_none() {
        let empty: Answer<Vec<()>> = Answer::with_message(
            Vec::new(),
            format!("0 created or updated {what} found since {since}"),
        );
        return say.respond(Ok(empty));
    }
    let chunks = Chunks {
        delta,
        count: 0,
        state: 0,
        what,
        since,
        warning: say
            .profile
            .word_message(say.profile.warning.clone(), say.key),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap_or_else(|_| error_response(&SimError::Internal))
}
