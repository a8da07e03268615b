//! Replay: serving recorded exchanges back (`agora-sim --replay DIR`).
//!
//! A request is answered by the first recording not yet served whose
//! request matches it:
//!
//! - the method, in any case;
//! - the path, in any case (a trailing `/` aside);
//! - the query: the same parameters, names in any case, values decoded
//!   and compared exactly, `api_key` left out;
//! - the body: two JSON bodies are compared as JSON values, null members
//!   dropped, the key masked, and personal data left out of the comparison
//!   (`recording::comparable_body`: a recording's fakes match whatever
//!   names and phones a client sends); any other body is compared as text,
//!   the key masked. Headers are not compared.
//!
//! Recordings are tried in the order of their paths, so identical requests
//! replay in the order recorded; once every match was served, the last one
//! is served again (a tracking poll repeated past the recording sees its
//! last answer). A request nothing matches gets 501 with an AgoraPlus
//! envelope naming its method, path and query. Any `api_key` is accepted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use agora_domain::redact::mask_key;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::Served;
use crate::recording::{MASK, Payload, Recording, RecordingError, comparable_body};
use crate::wire::{Query, url_pairs};

/// Recordings being replayed, and which were served.
#[derive(Debug)]
pub struct Replay {
    entries: Vec<(String, Recording)>,
    served: Mutex<Vec<bool>>,
}

impl Replay {
    /// Recordings, in the order they are tried; each with a name for
    /// messages (its file).
    pub fn new(entries: Vec<(String, Recording)>) -> Self {
        let served = Mutex::new(vec![false; entries.len()]);
        Self { entries, served }
    }

    /// Every recording under `dir` (at any depth, in the order of their
    /// paths).
    pub fn from_dir(dir: &Path) -> Result<Self, RecordingError> {
        let entries = Recording::load_dir(dir)?
            .into_iter()
            .map(|(path, r)| {
                let name = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                (name, r)
            })
            .collect();
        Ok(Self::new(entries))
    }

    /// How many recordings there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The recording that answers a request, marked served; `None` when
    /// none matches.
    pub fn answer(&self, method: &str, uri: &Uri, key: &str, body: &[u8]) -> Option<&Recording> {
        let incoming = Incoming::new(method, uri, key, body);
        let matching: Vec<usize> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, (_, r))| incoming.matches(r))
            .map(|(i, _)| i)
            .collect();
        let last = *matching.last()?;
        let mut served = self.served.lock().unwrap_or_else(PoisonError::into_inner);
        let pick = matching.into_iter().find(|i| !served[*i]).unwrap_or(last);
        served[pick] = true;
        Some(&self.entries[pick].1)
    }
}

/// A request as replay compares it.
struct Incoming {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    body: Option<Value>,
    text: Option<String>,
    key: String,
}

impl Incoming {
    fn new(method: &str, uri: &Uri, key: &str, body: &[u8]) -> Self {
        let query = uri
            .query()
            .into_iter()
            .flat_map(url_pairs)
            .filter(|(k, _)| !k.eq_ignore_ascii_case("api_key"))
            .map(|(k, v)| (k.to_ascii_lowercase(), mask_key(&v, key, MASK)))
            .collect();
        let payload = Payload::from_bytes(body);
        Self {
            method: method.to_owned(),
            path: uri.path().trim_end_matches('/').to_owned(),
            query,
            body: payload.body.map(|b| comparable_body(&b, key)),
            text: payload.body_text.map(|t| mask_key(&t, key, MASK)),
            key: key.to_owned(),
        }
    }

    fn matches(&self, recording: &Recording) -> bool {
        let request = &recording.request;
        if !request.method.eq_ignore_ascii_case(&self.method)
            || !request
                .path
                .trim_end_matches('/')
                .eq_ignore_ascii_case(&self.path)
        {
            return false;
        }
        let query: BTreeMap<String, String> = request
            .query
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("api_key"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        if query != self.query {
            return false;
        }
        let _ = &self.key;
        match (&request.payload.body, &request.payload.body_text) {
            (Some(body), _) => self
                .body
                .as_ref()
                .is_some_and(|b| *b == comparable_body(body, "")),
            (None, Some(text)) => self.text.as_deref() == Some(text.as_str()),
            (None, None) => self.body.is_none() && self.text.is_none(),
        }
    }
}

/// The router serving `replay`: every method and path.
pub fn router(replay: Arc<Replay>) -> Router {
    Router::new().fallback(handle).with_state(replay)
}

async fn handle(
    State(replay): State<Arc<Replay>>,
    method: axum::http::Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = Query::parse(uri.query());
    let key = headers
        .get("api_key")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .or_else(|| query.optional("api_key"))
        .unwrap_or_default()
        .to_owned();
    match replay.answer(method.as_str(), &uri, &key, &body) {
        Some(recording) => respond(recording),
        None => no_match(method.as_str(), &uri, &key),
    }
}

/// Headers a server sets for each answer itself.
const NOT_REPLAYED: [&str; 4] = ["content-length", "transfer-encoding", "connection", "date"];

fn respond(recording: &Recording) -> Response {
    let answer = &recording.response;
    let mut response = Response::new(Body::from(answer.payload.to_bytes()));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in &answer.headers {
        if NOT_REPLAYED.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    if answer.payload.body.is_some() && !headers.contains_key("content-type") {
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    response
}

/// 501 with an AgoraPlus envelope naming the request (the key masked).
fn no_match(method: &str, uri: &Uri, key: &str) -> Response {
    let request = mask_key(&uri.to_string(), key, MASK);
    let envelope = serde_json::json!({
        "ResponseStatus": "E",
        "IsValid": false,
        "ResponseMessage": null,
        "ResponseErrorMessage": format!("no recording matches {method} {request}"),
        "ResponseData": null,
    });
    let mut response = Response::new(Body::from(envelope.to_string()));
    *response.status_mut() = StatusCode::NOT_IMPLEMENTED;
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// Recordings served on a loopback (or any) address.
#[derive(Debug)]
pub struct ReplayServer(Served);

impl ReplayServer {
    /// Binds `addr` (port 0 for a free port) and serves `replay` until
    /// stopped.
    pub async fn start(replay: Replay, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self(Served::spawn(listener, router(Arc::new(replay)))?))
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        self.0.url()
    }

    /// Stops accepting connections, lets in-flight calls finish, and waits.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.0.shutdown().await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn rec(
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
        n: u16,
    ) -> Recording {
        let text = json!({
            "request": {"method": method, "path": path,
                        "query": query.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect::<serde_json::Map<_, _>>(),
                        "body": body},
            "response": {"status": n},
            "expect": {"outcome": "read"}
        });
        serde_json::from_value(text).unwrap()
    }

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn matches_path_in_any_case_query_without_the_key_and_bodies_as_json() {
        let replay = Replay::new(vec![
            (
                "a".into(),
                rec(
                    "GET",
                    "/api/Repair/GetNewMandates",
                    &[("autoAccept", "true")],
                    None,
                    200,
                ),
            ),
            (
                "b".into(),
                rec(
                    "POST",
                    "/api/Repair/UpdateRepair",
                    &[],
                    Some(json!({"InterventionId": 5, "Consumer": {"LastName": "Lastname1"}})),
                    201,
                ),
            ),
        ]);
        let got = replay
            .answer(
                "get",
                &uri("/API/repair/getnewmandates/?AUTOACCEPT=true&api_key=k"),
                "k",
                b"",
            )
            .unwrap();
        assert_eq!(got.response.status, 200);
        assert!(
            replay
                .answer(
                    "GET",
                    &uri("/api/Repair/GetNewMandates?autoAccept=false"),
                    "",
                    b""
                )
                .is_none()
        );
        let body = br#"{"Consumer":{"LastName":"Durand","Email":null},"InterventionId":5}"#;
        assert_eq!(
            replay
                .answer("POST", &uri("/api/Repair/UpdateRepair"), "", body)
                .unwrap()
                .response
                .status,
            201
        );
        assert!(
            replay
                .answer(
                    "POST",
                    &uri("/api/Repair/UpdateRepair"),
                    "",
                    b"{\"InterventionId\":6}"
                )
                .is_none()
        );
    }

    #[test]
    fn repeated_requests_replay_in_order_then_the_last_repeats() {
        let path = "/api/Repair/GetAcceptedMandates";
        let replay = Replay::new(vec![
            ("1".into(), rec("GET", path, &[], None, 200)),
            ("2".into(), rec("GET", path, &[], None, 404)),
        ]);
        let statuses: Vec<u16> = (0..3)
            .map(|_| {
                replay
                    .answer("GET", &uri(path), "", b"")
                    .unwrap()
                    .response
                    .status
            })
            .collect();
        assert_eq!(statuses, [200, 404, 404]);
    }
}
