//! Recordings: one HTTP exchange with AgoraPlus per JSON file, in the
//! spirit of VCR cassettes and WireMock mappings, pretty-printed so that
//! `git diff` reads them. This module owns the file format, loading a
//! folder of them, masking the api_key, replacing personal data with
//! consistent fakes, the expected outcome a recorder guesses, and how a
//! replayed request is compared with a recorded one. It does no I/O on the
//! network: the recorder (`record`) and the replay server (`replay`) do.
//!
//! ```json
//! {
//!   "recorded_at": "2026-12-01T08:00:00Z",
//!   "note": "where it comes from",
//!   "request": {"method": "GET", "path": "/api/Repair/GetNewMandates",
//!               "query": {"autoAccept": "true"}, "headers": {"api_key": "***"}},
//!   "response": {"status": 200, "headers": {"content-type": "application/json"},
//!                "body": {"ResponseStatus": "S", "IsValid": true, "ResponseData": []}},
//!   "expect": {"outcome": "read"}
//! }
//! ```
//!
//! A body that is JSON is kept as JSON under `body` (its object members
//! in alphabetical order: JSON objects are unordered); any other body is
//! kept as text under `body_text`; an empty body has neither.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use agora_domain::redact::mask_key;
use agora_domain::routes::{Method, Route};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What the api_key is replaced with, wherever it appears.
pub const MASK: &str = "***";

/// One exchange: the request, the answer, and what the client should make
/// of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Recording {
    /// When it was recorded (RFC 3339); absent for transcribed samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<String>,
    /// Where it comes from, for a reader (a reference section, a mend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The request as sent, the key masked.
    pub request: RecordedRequest,
    /// The answer as received, the key masked.
    pub response: RecordedResponse,
    /// What the client is expected to make of the answer.
    pub expect: Expect,
}

/// A recorded request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// `GET`, `POST`…
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query's parameters, decoded (a repeated name keeps its last value).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// Headers by lower-case name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body.
    #[serde(flatten)]
    pub payload: Payload,
}

/// A recorded answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordedResponse {
    /// The HTTP status.
    pub status: u16,
    /// Headers by lower-case name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body.
    #[serde(flatten)]
    pub payload: Payload,
}

/// A body: JSON when it parses as JSON, else text; neither when empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// The body, when it is JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The body, when it is not JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
}

impl Payload {
    /// The payload of a body as it came.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Self::default();
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(value) => Self {
                body: Some(value),
                body_text: None,
            },
            Err(_) => Self {
                body: None,
                body_text: Some(String::from_utf8_lossy(bytes).into_owned()),
            },
        }
    }

    /// The body's bytes (JSON written compactly).
    pub fn to_bytes(&self) -> Vec<u8> {
        match (&self.body, &self.body_text) {
            (Some(value), _) => serde_json::to_vec(value).unwrap_or_default(),
            (None, Some(text)) => text.clone().into_bytes(),
            (None, None) => Vec::new(),
        }
    }

    /// Whether there is no body.
    pub fn is_empty(&self) -> bool {
        self.body.is_none() && self.body_text.as_deref().is_none_or(str::is_empty)
    }
}

/// What the client is expected to make of a recorded answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Expect {
    /// The answer is read, and its data written back losslessly.
    Read,
    /// The answer is refused with an error of this class (a variant of
    /// `agora_ports::AgoraError`: `Rejected`, `Decode`, `NotFound`…).
    Error {
        /// The error's class.
        error: String,
    },
}

impl Expect {
    /// The recorder's guess from the answer alone, by the rules of
    /// docs/wire-notes.md: a success envelope is read; `E` or `IsValid`
    /// false is `Rejected`; JSON that is no envelope is `Decode`; a 404 on
    /// a list route is "no results" (read); other statuses name their
    /// class. A person edits the file where the client should do
    /// otherwise.
    pub fn guess(route: Option<Route>, status: u16, payload: &Payload) -> Self {
        let error = |class: &str| Self::Error {
            error: class.to_owned(),
        };
        let envelope = payload
            .body
            .as_ref()
            .and_then(Value::as_object)
            .filter(|o| {
                o.keys().any(|k| {
                    ENVELOPE_FIELDS
                        .iter()
                        .any(|f| f.eq_ignore_ascii_case(k.as_str()))
                })
            });
        match status {
            200..=299 => match envelope {
                None => error("Decode"),
                Some(fields) => {
                    let field = |name: &str| {
                        fields
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                            .map(|(_, v)| v)
                    };
                    let refused = field("ResponseStatus")
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.trim().eq_ignore_ascii_case("E"))
                        || field("IsValid") == Some(&Value::Bool(false));
                    if refused {
                        error("Rejected")
                    } else {
                        Self::Read
                    }
                }
            },
            404 if route.is_some_and(Route::no_results_is_empty) => Self::Read,
            400 => error("BadRequest"),
            401 => error("Unauthorized"),
            403 => error("Forbidden"),
            404 => error("NotFound"),
            405 => error("MethodNotAllowed"),
            429 => error("Throttled"),
            500 if envelope.is_some() => error("ServerError"),
            503 if envelope.is_some() => error("Unavailable"),
            500..=599 => error("Gateway"),
            _ => error("UnexpectedStatus"),
        }
    }
}

/// The five fields of the envelope (reference 5.3.4).
const ENVELOPE_FIELDS: [&str; 5] = [
    "ResponseStatus",
    "IsValid",
    "ResponseMessage",
    "ResponseErrorMessage",
    "ResponseData",
];

/// A recording that cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingError {
    /// The file or folder cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a recording.
    #[error("{path} is not a recording: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

impl Recording {
    /// Reads one recording.
    pub fn load(path: &Path) -> Result<Self, RecordingError> {
        let text = std::fs::read_to_string(path).map_err(|source| RecordingError::Io {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| RecordingError::Format {
            path: path.to_owned(),
            source,
        })
    }

    /// Every `*.json` file under `dir`, at any depth, in the order of
    /// their paths (so `NNN-…` files replay in the order recorded).
    pub fn load_dir(dir: &Path) -> Result<Vec<(PathBuf, Self)>, RecordingError> {
        let mut files = Vec::new();
        collect_json_files(dir, &mut files)?;
        files.sort();
        files
            .into_iter()
            .map(|path| Self::load(&path).map(|r| (path, r)))
            .collect()
    }

    /// The recording as its file holds it: pretty-printed, ending with a
    /// newline.
    pub fn to_pretty(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The route the request names, when it is one of the table's.
    pub fn route(&self) -> Option<Route> {
        route_of(&self.request.method, &self.request.path)
    }

    /// The file name of the `seq`-th exchange of a session:
    /// `NNN-<route>-<status>.json`.
    pub fn file_name(&self, seq: u32) -> String {
        let route = self.route().map_or_else(
            || {
                let last = self
                    .request
                    .path
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or_default();
                let clean: String = last
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .take(40)
                    .collect();
                if clean.is_empty() {
                    "root".to_owned()
                } else {
                    clean
                }
            },
            |r| r.name().to_owned(),
        );
        format!("{seq:03}-{route}-{}.json", self.response.status)
    }

    /// Replaces every echo of `key` with [`MASK`]: the `api_key` header and
    /// query parameter whatever their value, and the key in the path, in
    /// any query value or header, and in any string or member name of the
    /// bodies (as it is, JSON-escaped or percent-encoded).
    pub fn mask_key(&mut self, key: &str) {
        let mask = |s: &str| mask_key(s, key, MASK);
        self.request.path = mask(&self.request.path);
        for (name, value) in &mut self.request.query {
            *value = if name.eq_ignore_ascii_case("api_key") {
                MASK.to_owned()
            } else {
                mask(value)
            };
        }
        for headers in [&mut self.request.headers, &mut self.response.headers] {
            for (name, value) in headers.iter_mut() {
                *value = if name.eq_ignore_ascii_case("api_key") {
                    MASK.to_owned()
                } else {
                    mask(value)
                };
            }
        }
        for payload in [&mut self.request.payload, &mut self.response.payload] {
            if let Some(body) = payload.body.as_mut() {
                map_strings(body, &mut |s| mask(s));
            }
            if let Some(text) = payload.body_text.as_mut() {
                *text = mask(text);
            }
        }
    }

    /// Whether `key` still appears anywhere in the file's text, in any
    /// form [`mask_key`] knows.
    pub fn holds_key(&self, key: &str) -> bool {
        agora_domain::redact::contains_key(&self.to_pretty(), key)
    }
}

fn collect_json_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), RecordingError> {
    let io = |source| RecordingError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_json_files(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    Ok(())
}

/// The route of a method and path, if the table has it.
pub(crate) fn route_of(method: &str, path: &str) -> Option<Route> {
    let method = if method.eq_ignore_ascii_case("GET") {
        Method::Get
    } else if method.eq_ignore_ascii_case("POST") {
        Method::Post
    } else {
        return None;
    };
    Route::match_path(method, path)
}

/// Applies `f` to every string of a JSON value, member names included.
fn map_strings(value: &mut Value, f: &mut impl FnMut(&str) -> String) {
    match value {
        Value::String(s) => *s = f(s),
        Value::Array(items) => items.iter_mut().for_each(|v| map_strings(v, f)),
        Value::Object(map) => {
            let old = std::mem::take(map);
            *map = old
                .into_iter()
                .map(|(k, mut v)| {
                    map_strings(&mut v, f);
                    (f(&k), v)
                })
                .collect::<Map<_, _>>();
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Kinds of personal data, by the member names that hold them (matched in
/// any ASCII case, at any depth of a body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Personal {
    LastName,
    FirstName,
    Phone,
    Email,
    Address,
    StreetNumber,
    ConsumerId,
}

impl Personal {
    fn of(member: &str) -> Option<Self> {
        const NAMES: [(&str, Personal); 12] = [
            ("LastName", Personal::LastName),
            ("FirstName", Personal::FirstName),
            ("Phone", Personal::Phone),
            ("MobilePhone", Personal::Phone),
            ("SMSCode", Personal::Phone),
            ("ProPhone", Personal::Phone),
            ("Email", Personal::Email),
            ("Address1", Personal::Address),
            ("Address2", Personal::Address),
            ("Address3", Personal::Address),
            ("StreetNumber", Personal::StreetNumber),
            ("ConsumerId", Personal::ConsumerId),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(member))
            .map(|(_, kind)| *kind)
    }

    fn fake(self, n: u32) -> String {
        match self {
            Self::LastName => format!("Lastname{n}"),
            Self::FirstName => format!("Firstname{n}"),
            Self::Phone => format!("0100{n:06}"),
            Self::Email => format!("person{n}@example.invalid"),
            Self::Address => format!("{n} Example Street"),
            Self::StreetNumber => n.to_string(),
            Self::ConsumerId => format!("C{n:06}"),
        }
    }
}

/// The member names whose values are personal data: names
/// (`LastName`, `FirstName`), phones (`Phone`, `MobilePhone`, `SMSCode`,
/// `ProPhone`), `Email`, addresses (`Address1` to `Address3`,
/// `StreetNumber`) and `ConsumerId` (a national identifier in some
/// countries).
pub fn is_personal(member: &str) -> bool {
    Personal::of(member).is_some()
}

/// Replaces personal data with fakes, consistently for one session: the
/// same real value gets the same fake in every file of the session (a
/// name in a work order and in the claim that follows), two values two
/// fakes. Fakes are numbered in the order values are first seen, so they
/// tell nothing of the real ones. The real values stay in memory only.
#[derive(Debug, Default)]
pub struct Faker {
    fakes: HashMap<(Personal, String), String>,
    counts: HashMap<Personal, u32>,
    /// Real values (4 characters or more) and their fakes, longest first,
    /// to replace their echoes in other texts.
    echoes: Vec<(String, String)>,
}

impl Faker {
    /// A new session.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the personal data of both bodies (strings, and numbers
    /// written as numbers), then every echo of a real value seen so far
    /// (4 characters or more) in any other string of the bodies, in the
    /// query and in the path.
    pub fn fake(&mut self, recording: &mut Recording) {
        for payload in [
            &mut recording.request.payload,
            &mut recording.response.payload,
        ] {
            if let Some(body) = payload.body.as_mut() {
                self.fake_members(body);
            }
        }
        if self.echoes.is_empty() {
            return;
        }
        let echoes = &self.echoes;
        let mut replace = |s: &str| {
            let mut out = s.to_owned();
            for (real, fake) in echoes {
                if out.contains(real.as_str()) {
                    out = out.replace(real.as_str(), fake);
                }
            }
            out
        };
        for payload in [
            &mut recording.request.payload,
            &mut recording.response.payload,
        ] {
            if let Some(body) = payload.body.as_mut() {
                map_strings(body, &mut replace);
            }
            if let Some(text) = payload.body_text.as_mut() {
                *text = replace(text);
            }
        }
        for value in recording.request.query.values_mut() {
            *value = replace(value);
        }
        recording.request.path = replace(&recording.request.path);
    }

    fn fake_members(&mut self, value: &mut Value) {
        match value {
            Value::Array(items) => items.iter_mut().for_each(|v| self.fake_members(v)),
            Value::Object(map) => {
                for (member, v) in map.iter_mut() {
                    match Personal::of(member) {
                        Some(kind) => self.fake_value(kind, v),
                        None => self.fake_members(v),
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }

    fn fake_value(&mut self, kind: Personal, value: &mut Value) {
        let real = match value {
            Value::String(s) if !s.trim().is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return,
        };
        let fake = self.fake_of(kind, &real);
        *value = match value {
            Value::Number(_) => fake
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
                .parse::<u64>()
                .map_or_else(|_| Value::String(fake.clone()), Value::from),
            _ => Value::String(fake),
        };
    }

    fn fake_of(&mut self, kind: Personal, real: &str) -> String {
        if let Some(fake) = self.fakes.get(&(kind, real.to_owned())) {
            return fake.clone();
        }
        let n = self.counts.entry(kind).or_insert(0);
        *n += 1;
        let fake = kind.fake(*n);
        self.fakes.insert((kind, real.to_owned()), fake.clone());
        if real.chars().count() >= 4 && !self.echoes.iter().any(|(r, _)| r == real) {
            self.echoes.push((real.to_owned(), fake.clone()));
            self.echoes
                .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        }
        fake
    }
}

/// A request body as replay compares it: the key masked, null members
/// dropped (null and absent are the same on the wire), and personal data
/// left out of the comparison: every personal member's value, and its
/// echoes (4 characters or more) in the body's other strings, replaced by
/// one marker. So a recording made with fakes matches a client that sends
/// real values, or other fakes, as long as what a text echoes is in the
/// same body.
pub fn comparable_body(value: &Value, key: &str) -> Value {
    const MARKER: &str = "<personal data>";
    let mut value = strip_nulls(value);
    if !key.is_empty() {
        map_strings(&mut value, &mut |s| mask_key(s, key, MASK));
    }
    let mut personal = Vec::new();
    personal_values(&value, &mut personal);
    personal.retain(|v| v.chars().count() >= 4);
    personal.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    personal.dedup();
    if !personal.is_empty() {
        map_strings(&mut value, &mut |s| {
            let mut out = s.to_owned();
            for real in &personal {
                if out.contains(real.as_str()) {
                    out = out.replace(real.as_str(), MARKER);
                }
            }
            out
        });
    }
    blank_personal(&mut value, MARKER);
    value
}

fn personal_values(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| personal_values(v, found)),
        Value::Object(map) => {
            for (member, v) in map {
                match v {
                    Value::String(s) if is_personal(member) => found.push(s.clone()),
                    _ => personal_values(v, found),
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// A JSON value without its null object members, at any depth.
pub fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

fn blank_personal(value: &mut Value, marker: &str) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| blank_personal(v, marker)),
        Value::Object(map) => {
            for (member, v) in map.iter_mut() {
                if is_personal(member) {
                    *v = Value::String(marker.to_owned());
                } else {
                    blank_personal(v, marker);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn recording(request: Value, response: Value) -> Recording {
        Recording {
            recorded_at: None,
            note: None,
            request: RecordedRequest {
                method: "POST".into(),
                path: "/api/Repair/UpdateRepair".into(),
                query: BTreeMap::new(),
                headers: BTreeMap::from([("api_key".into(), "Se+cret/Key=1".into())]),
                payload: Payload {
                    body: Some(request),
                    body_text: None,
                },
            },
            response: RecordedResponse {
                status: 200,
                headers: BTreeMap::new(),
                payload: Payload {
                    body: Some(response),
                    body_text: None,
                },
            },
            expect: Expect::Read,
        }
    }

    #[test]
    fn the_key_is_masked_in_headers_query_and_bodies() {
        let key = "Se+cret/Key=1";
        let mut r = recording(
            json!({"Comment": "key Se+cret/Key=1"}),
            json!({"ResponseMessage": "bad key Se%2Bcret%2FKey%3D1"}),
        );
        r.request.query.insert("API_KEY".into(), key.into());
        r.request.query.insert("echo".into(), key.into());
        r.mask_key(key);
        assert!(!r.holds_key(key), "{}", r.to_pretty());
        assert_eq!(r.request.headers["api_key"], MASK);
        assert_eq!(r.request.query["API_KEY"], MASK);
        assert_eq!(r.request.query["echo"], MASK);
        assert_eq!(r.request.payload.body, Some(json!({"Comment": "key ***"})));
    }

    #[test]
    fn personal_data_gets_consistent_fakes_at_any_depth() {
        let mut faker = Faker::new();
        let mut first = recording(
            json!({"Consumer": {"LastName": "Durand", "FirstName": "Paul", "Phone": "0612345678",
                                "Address1": "3 place Bellecour", "Zip": "69002"},
                   "StateNatures": [{"Comment": "called Durand at 0612345678"}]}),
            json!({"ResponseData": [{"Mandate": {"Consumer": {"LastName": "Martin"}}}]}),
        );
        faker.fake(&mut first);
        let mut second = recording(
            json!({"ClaimConso": {"lastName": "Durand", "MobilePhone": "0612345678"}}),
            json!({}),
        );
        faker.fake(&mut second);
        let text = first.to_pretty() + &second.to_pretty();
        for real in ["Durand", "Paul", "0612345678", "Bellecour", "Martin"] {
            assert!(!text.contains(real), "{real} in {text}");
        }
        let body = first.request.payload.body.unwrap();
        assert_eq!(body["Consumer"]["LastName"], "Lastname1");
        assert_eq!(body["Consumer"]["Zip"], "69002");
        assert_eq!(
            body["StateNatures"][0]["Comment"],
            "called Lastname1 at 0100000001"
        );
        let claim = second.request.payload.body.unwrap();
        assert_eq!(claim["ClaimConso"]["lastName"], "Lastname1");
        assert_eq!(claim["ClaimConso"]["MobilePhone"], "0100000001");
        let answer = first.response.payload.body.unwrap();
        assert_eq!(
            answer["ResponseData"][0]["Mandate"]["Consumer"]["LastName"],
            "Lastname2"
        );
    }

    #[test]
    fn comparison_leaves_out_nulls_the_key_and_personal_data() {
        let recorded =
            json!({"InterventionId": 5, "Consumer": {"LastName": "Lastname1"}, "Note": "***"});
        let sent = json!({"InterventionId": 5, "Consumer": {"LastName": "Durand", "Email": null},
                          "Note": "the-secret-key"});
        assert_eq!(
            comparable_body(&recorded, ""),
            comparable_body(&sent, "the-secret-key")
        );
        assert_ne!(
            comparable_body(&json!({"InterventionId": 6}), ""),
            comparable_body(&json!({"InterventionId": 5}), "")
        );
    }

    #[test]
    fn the_guess_follows_the_wire_notes() {
        let body = |v: Value| Payload {
            body: Some(v),
            body_text: None,
        };
        let ok = body(json!({"ResponseStatus": "S", "IsValid": true}));
        let refused = body(json!({"ResponseStatus": "E", "IsValid": false}));
        assert_eq!(Expect::guess(None, 200, &ok), Expect::Read);
        assert_eq!(
            Expect::guess(None, 200, &refused),
            Expect::Error {
                error: "Rejected".into()
            }
        );
        assert_eq!(
            Expect::guess(None, 200, &body(json!({}))),
            Expect::Error {
                error: "Decode".into()
            }
        );
        assert_eq!(
            Expect::guess(Some(Route::GetNewMandates), 404, &Payload::default()),
            Expect::Read
        );
        assert_eq!(
            Expect::guess(Some(Route::PrintBomData), 404, &Payload::default()),
            Expect::Error {
                error: "NotFound".into()
            }
        );
        assert_eq!(
            Expect::guess(None, 502, &Payload::from_bytes(b"<html>")),
            Expect::Error {
                error: "Gateway".into()
            }
        );
    }

    #[test]
    fn a_recording_reads_back_what_it_wrote() {
        let r = recording(json!({"A": [1, 2]}), json!({"B": null}));
        let text = r.to_pretty();
        assert_eq!(serde_json::from_str::<Recording>(&text).unwrap(), r);
        assert_eq!(r.file_name(7), "007-UpdateRepair-200.json");
    }
}
