//! Answers on the wire: envelopes for data and errors, decoding of bodies
//! and queries with messages that name the problem.

use std::collections::HashMap;

use agora_domain::ResponseStatus;
use agora_domain::routes::Route;
use agora_mock::{Answer, AnswerProfile, EmptyList, SimError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A JSON response.
pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => error_response(&SimError::BadRequest(format!(
            "cannot encode the answer: {e}"
        ))),
    }
}

/// An envelope as the simulator writes it: the five fields of reference
/// 5.3.4, every one of them, JSON null for those without a value (as the
/// reference's samples show, and as an ASP.NET server writes a model's
/// null properties). `ResponseData` is left out only when the account's
/// profile answers an empty list without it (`EmptyList::NoData`, a server
/// variant). agora-domain's `Envelope` writes back only what it read (the
/// client relies on that), so the simulator has its own writer.
#[derive(Serialize)]
struct WireEnvelope<T> {
    #[serde(rename = "ResponseStatus")]
    status: ResponseStatus,
    #[serde(rename = "IsValid")]
    is_valid: bool,
    #[serde(rename = "ResponseMessage")]
    message: Option<String>,
    #[serde(rename = "ResponseErrorMessage")]
    error_message: Option<String>,
    #[serde(rename = "ResponseData", skip_serializing_if = "Data::is_omitted")]
    data: Data<T>,
}

/// `ResponseData` on the wire: a value, null, or (`NoData`) left out.
enum Data<T> {
    Value(T),
    Null,
    Omitted,
}

impl<T> Data<T> {
    fn is_omitted(&self) -> bool {
        matches!(self, Self::Omitted)
    }
}

impl<T: Serialize> Serialize for Data<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(v) => v.serialize(serializer),
            Self::Null | Self::Omitted => serializer.serialize_none(),
        }
    }
}

/// The envelope of a successful answer: `S`, or `W` when it carries a
/// warning; an empty `ResponseErrorMessage`.
fn success_envelope<T>(message: Option<String>, warning: bool, data: Data<T>) -> WireEnvelope<T> {
    WireEnvelope {
        status: if warning {
            ResponseStatus::Warning
        } else {
            ResponseStatus::Success
        },
        is_valid: true,
        message,
        error_message: Some(String::new()),
        data,
    }
}

/// The envelope of a successful answer, on the wire.
fn answer_response<T: Serialize>(answer: Answer<T>) -> Response {
    let env = success_envelope(answer.message, answer.warning, Data::Value(answer.data));
    json_response(StatusCode::OK, &env)
}

/// Either outcome of an operation on `route`, on the wire, worded as
/// `profile` says: a `W` envelope when it carries a warning; an empty list
/// as "no results" (404), a null or a missing `ResponseData`; titles and
/// codes reworded in the data.
pub(crate) fn respond<T: Serialize>(
    profile: &AnswerProfile,
    route: Route,
    key: &str,
    result: Result<Answer<T>, SimError>,
) -> Response {
    let mut answer = match result {
        Ok(answer) => profile.word_envelope(answer),
        Err(e) => return error_response(&e),
    };
    answer.message = profile.word_message(answer.message.take(), key);
    let empty = profile.empty_list(route);
    if empty == EmptyList::Array && !profile.shapes_data() {
        return answer_response(answer);
    }
    let mut data = match serde_json::to_value(&answer.data) {
        Ok(v) => v,
        Err(e) => {
            return error_response(&SimError::BadRequest(format!(
                "cannot encode the answer: {e}"
            )));
        }
    };
    let mut omit = false;
    if data.as_array().is_some_and(Vec::is_empty) {
        match empty {
            EmptyList::Array => {}
            EmptyList::NotFound => return error_response(&SimError::NoResults),
            EmptyList::NullData => data = serde_json::Value::Null,
            EmptyList::NoData => omit = true,
        }
    }
    profile.shape_data(route, &mut data, key);
    let data = if omit {
        Data::Omitted
    } else {
        Data::Value(data)
    };
    let env = success_envelope(answer.message, answer.warning, data);
    json_response(StatusCode::OK, &env)
}

/// The envelope of an error, with the status AgoraPlus uses for it:
/// `E`, `IsValid` false, the message; `ResponseMessage` and
/// `ResponseData` null.
pub(crate) fn error_response(error: &SimError) -> Response {
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let env: WireEnvelope<()> = WireEnvelope {
        status: ResponseStatus::Error,
        is_valid: false,
        message: None,
        error_message: Some(error.to_string()),
        data: Data::Null,
    };
    let mut response = json_response(status, &env);
    if let SimError::Unavailable {
        retry_after: Some(secs),
    } = error
    {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    response
}

/// Decodes a JSON request body (an integral float read as the integer it
/// is, `agora_domain::decode_request`); a 400 naming the problem otherwise.
pub(crate) fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, SimError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(SimError::BadRequest(
            "the request has no JSON body".to_owned(),
        ));
    }
    agora_domain::decode_request(bytes).map_err(|e| SimError::BadRequest(e.to_string()))
}

/// Query parameters by lower-cased name (AgoraPlus matches them case-insensitively).
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    pub(crate) fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .map(|q| {
                url_pairs(q)
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect()
            })
            .unwrap_or_default();
        Self(pairs)
    }

    /// A required parameter.
    pub(crate) fn required(&self, name: &str) -> Result<&str, SimError> {
        self.0
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
            .ok_or_else(|| {
                SimError::BadRequest(format!("the query parameter `{name}` is required"))
            })
    }

    /// An optional parameter.
    pub(crate) fn optional(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// A required parameter parsed as `T` (a number with a zero
    /// fraction, `5.0`, read as the integer it is: [`integral`]).
    pub(crate) fn parsed<T: std::str::FromStr>(&self, name: &str) -> Result<T, SimError> {
        let raw = self.required(name)?;
        integral(raw).parse().map_err(|_| {
            SimError::BadRequest(format!(
                "the query parameter `{name}` has an invalid value `{raw}`"
            ))
        })
    }

    /// A boolean parameter, `default` when absent.
    pub(crate) fn flag(&self, name: &str, default: bool) -> Result<bool, SimError> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(SimError::BadRequest(format!(
                "the query parameter `{name}` must be true or false, not `{v}`"
            ))),
        }
    }
}

/// A number's text with a zero fraction (`5.0`, `-3.00`) as the integer it
/// writes (`5`, `-3`), as JSON Schema's `integer` takes it; any other text
/// as it is.
pub(crate) fn integral(raw: &str) -> &str {
    match raw.split_once('.') {
        Some((whole, fraction))
            if !fraction.is_empty()
                && fraction.bytes().all(|b| b == b'0')
                && whole
                    .trim_start_matches('-')
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                && !whole.trim_start_matches('-').is_empty() =>
        {
            whole
        }
        _ => raw,
    }
}

pub(crate) fn url_pairs(q: &str) -> impl Iterator<Item = (String, String)> + '_ {
    q.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k), percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_and_ignore_case() {
        let q = Query::parse(Some("keyWord=ECAM%2022&AUTOACCEPT=true&x=%zz&y=a+b&z=%e9%"));
        assert_eq!(q.required("keyword").unwrap(), "ECAM 22");
        assert!(q.flag("autoAccept", false).unwrap());
        assert_eq!(q.optional("x"), Some("%zz"));
        assert_eq!(q.optional("y"), Some("a b"));
        assert_eq!(q.optional("z"), Some("\u{fffd}%"));
        assert!(q.required("nope").is_err());
    }

    #[test]
    fn an_integer_with_a_zero_fraction_is_that_integer() {
        let q = Query::parse(Some("a=5.0&b=-3.00&c=5.5&d=.0&e=5."));
        assert_eq!(q.parsed::<i64>("a").unwrap(), 5);
        assert_eq!(q.parsed::<i64>("b").unwrap(), -3);
        for bad in ["c", "d", "e"] {
            assert!(q.parsed::<i64>(bad).is_err(), "{bad}");
        }
        assert_eq!(integral("12"), "12");
        assert_eq!(integral("-.0"), "-.0");
    }
}
