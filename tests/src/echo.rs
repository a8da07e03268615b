//! Answers of every route with the account's key echoed in every text, as
//! a server that is not our simulator may answer: for the key-masking
//! property tests (`tests/key_everywhere.rs`, and the command line's).

// Test support over documents it builds itself: a failure is a bug here.
#![allow(clippy::unwrap_used)]

use agora_domain::routes::Route;
use serde_json::{Value, json};

/// How the key is echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// As it is.
    Raw,
    /// Each character `\uXXXX` in the JSON body (the text reads the key).
    BodyEscaped,
    /// `\uXXXX` inside the text itself (a message quoting JSON).
    TextEscaped,
    /// Percent-encoded (a message quoting a URL).
    Percent,
    /// Its first half ends a text, its second half starts the next one.
    Split,
}

/// How every route answers in one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `W`, with the data.
    Warned,
    /// `E`, HTTP 200.
    Refused,
    /// HTTP 400 with AgoraPlus's envelope.
    BadRequest,
    /// HTTP 500 with a page that is not JSON.
    ServerPage,
}

/// Every form.
pub const FORMS: [Form; 5] = [
    Form::Raw,
    Form::BodyEscaped,
    Form::TextEscaped,
    Form::Percent,
    Form::Split,
];

/// The two halves of `key` that [`Form::Split`] puts in adjacent texts.
pub fn halves(key: &str) -> (&str, &str) {
    let mid = key
        .char_indices()
        .nth(key.chars().count() / 2)
        .map_or(0, |(i, _)| i);
    key.split_at(mid)
}

/// Markers put in the documents, replaced by the key's forms once written.
const WHOLE: char = '\u{E000}';
const HEAD: char = '\u{E001}';
const TAIL: char = '\u{E002}';

/// The fields that carry a verdict, not a text: left as they are, so that
/// the answer keeps its meaning.
const VERDICTS: &[&str] = &["ResponseStatus", "MessageType", "IsValid"];

fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')
}

/// The content of a JSON string holding `text`.
fn json_content(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap();
    quoted[1..quoted.len() - 1].to_owned()
}

fn escaped(key: &str) -> String {
    key.chars()
        .map(|c| {
            if plain(c) {
                c.to_string()
            } else {
                format!("\\u{:04X}", c as u32)
            }
        })
        .collect()
}

fn percent(key: &str) -> String {
    key.chars()
        .map(|c| {
            if plain(c) {
                c.to_string()
            } else {
                format!("%{:02X}", c as u32)
            }
        })
        .collect()
}

/// `text` with the key's marker(s) added.
fn inject(text: &str, form: Form) -> String {
    if form == Form::Split {
        format!("{TAIL}{text}{HEAD}")
    } else {
        format!("{text} {WHOLE}")
    }
}

/// Every text of `doc` (object keys aside, verdict fields left alone) with
/// the key's markers; each object gets an unknown field with the key.
pub fn inject_all(doc: &mut Value, form: Form) {
    match doc {
        Value::String(text) => *text = inject(text, form),
        Value::Array(items) => items.iter_mut().for_each(|v| inject_all(v, form)),
        Value::Object(fields) => {
            for (name, value) in fields.iter_mut() {
                if !VERDICTS.contains(&name.as_str()) {
                    inject_all(value, form);
                }
            }
            fields.insert("EchoNote".into(), Value::String(inject("note", form)));
        }
        _ => {}
    }
}

/// The written document with each marker replaced by its form of `key`.
pub fn written(doc: &Value, key: &str, form: Form) -> String {
    let text = doc.to_string();
    let (head, tail) = halves(key);
    let whole = match form {
        Form::Raw | Form::Split => json_content(key),
        Form::BodyEscaped => key
            .chars()
            .map(|c| format!("\\u{:04X}", c as u32))
            .collect(),
        Form::TextEscaped => json_content(&escaped(key)),
        Form::Percent => json_content(&percent(key)),
    };
    text.replace(WHOLE, &whole)
        .replace(HEAD, &json_content(head))
        .replace(TAIL, &json_content(tail))
}

/// The whole answer of `route` (reference shapes, every field filled).
pub fn data_of(route: Route) -> Value {
    let mandate = json!({
        "MandateId": 9001, "ManufacturerId": 19, "OEMId": 19, "ClientCode": "C-1",
        "OrderMission": "mission", "InterventionTypeId": 1,
        "InterventionType": {"InterventionTypeId": 1, "Label": "Garantie", "ShortDescription": "G", "IsUnderWarranty": true},
        "Reseller": {"ResellerId": 4, "ResellerCode": "R-4", "ResellerFileNumber": "F-4"},
        "Consumer": {"Title": "3", "LastName": "Durand", "FirstName": "Paul", "Zip": "69001", "Phone": "0472"},
        "SuggestedParts": [{"SuggestedPartRef": "P-1", "Quantity": 1, "Comment": "pump", "Label": "Pump"}]
    });
    let line = json!({"OrderNumber": "O-1", "Reference": "P-1", "Quantity": 1, "StatusCode": "208", "StatusDate": "2024-03-01T09:00:00.000Z"});
    let claim = json!({
        "ReportNumber": "RN-1", "ClaimID": 77, "IsValid": false, "ErrorMessage": "refused",
        "ValidationErrors": [
            {"Field": "SerialNumber", "ErrorMessage": "too short", "MessageType": "E"},
            {"Field": "Email", "ErrorMessage": "looks odd", "MessageType": "W"}
        ]
    });
    match route {
        Route::GetNewMandates | Route::GetAcceptedMandates => json!([
            {"IsValid": true, "ResponseStatus": "W", "ResponseMessage": "accepted", "ResponseErrorMessage": "mind",
             "Mandate": mandate, "InterventionId": 500001},
            {"IsValid": false, "ResponseStatus": "E", "ResponseMessage": "", "ResponseErrorMessage": "refused",
             "Mandate": mandate}
        ]),
        Route::CreateRepair => json!({"InterventionId": 500001}),
        Route::UpdateRepair | Route::CreateeInvoice => Value::Null,
        Route::PlaceRepairSparepartOrder | Route::GetSparepartOrderTracking => json!([line]),
        Route::CreateWarrantyClaims | Route::UpdateWarrantyClaim => claim,
        Route::GetWarrantyClaimStatus => {
            json!({"ClaimID": 77, "LastStatus": "NOTCONFORM", "Comment": "missing invoice"})
        }
        Route::PrintManufacturerSpareParts => json!([{"Reference": "P-1", "Label": "Pump"}]),
        Route::PrintManufacturerProducts => {
            json!([{"CommercialRef": "CR-1", "TechnicalRef": "TR-1", "Label": "Machine"}])
        }
        Route::SearchProductByRef => json!([
            {"ProductKey": "K-1", "CommercialRef": "CR-1", "TechnicalRef": "TR-1", "Label": "Machine"}
        ]),
        Route::PrintBomData => json!([{"Reference": "P-1", "Label": "Pump", "Quantity": 2}]),
        // A route added later: a bare message.
        _ => json!({"Message": "answered"}),
    }
}

/// The fields of a route's data that are messages (written for people,
/// redacted in the reply), by their path from an item of the data.
pub fn is_message(route: Route, path: &[&str]) -> bool {
    match route {
        Route::GetNewMandates | Route::GetAcceptedMandates => {
            matches!(path, ["ResponseMessage" | "ResponseErrorMessage"])
        }
        Route::CreateWarrantyClaims | Route::UpdateWarrantyClaim => matches!(
            path,
            ["ErrorMessage"] | ["ValidationErrors", "Field" | "ErrorMessage"]
        ),
        Route::GetWarrantyClaimStatus => matches!(path, ["Comment"]),
        _ => false,
    }
}

/// The answer of `route` in this case, as served, and its data as
/// AgoraPlus meant it (decoded from the body, without the element that
/// cannot be read).
pub fn answer(route: Route, key: &str, form: Form, kind: Kind) -> (u16, String, Value) {
    let mut data = data_of(route);
    let list = data.is_array();
    if let Value::Array(items) = &mut data {
        // An element that cannot be read: set aside, shown with its JSON.
        items.push(Value::String("unreadable".into()));
    }
    let (status, mut envelope) = match kind {
        Kind::Warned => (
            200,
            json!({"ResponseStatus": "W", "IsValid": true, "ResponseMessage": "mind this",
                   "ResponseErrorMessage": "", "ResponseData": data}),
        ),
        Kind::Refused | Kind::BadRequest => (
            if kind == Kind::Refused { 200 } else { 400 },
            json!({"ResponseStatus": "E", "IsValid": false, "ResponseMessage": "no",
                   "ResponseErrorMessage": "refused", "ResponseData": null}),
        ),
        Kind::ServerPage => {
            let page = if form == Form::Split {
                format!(
                    "<html><body>Internal error for api_key {WHOLE} {TAIL}x{HEAD}</body></html>"
                )
            } else {
                format!("<html><body>Internal error for api_key {WHOLE}</body></html>")
            };
            let body = written(&Value::String(page), key, form);
            let body: String = serde_json::from_str(&body).unwrap();
            return (500, body, Value::Null);
        }
    };
    inject_all(&mut envelope, form);
    let body = written(&envelope, key, form);
    let mut served: Value = serde_json::from_str(&body).unwrap();
    let mut data = served["ResponseData"].take();
    if let (true, Some(items)) = (list, data.as_array_mut()) {
        items.pop();
    }
    (status, body, data)
}

/// A regular expression matching the path of `route` (any case), its path
/// parameters (a delta's OEM, date and language) included.
pub fn path_pattern(route: Route) -> String {
    let path = route.path();
    match path.find("/{") {
        Some(at) => format!("(?i)^{}/", &path[..at]),
        None => format!("(?i)^{path}$"),
    }
}
