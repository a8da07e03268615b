//! Reading an answer: the envelope's verdict, the status's error, error
//! snippets with the key redacted, and the reply handed back.

use std::time::Duration;

use agora_domain::envelope::Verdict;
use agora_domain::routes::{NO_RESULTS_MESSAGE, Route};
use agora_domain::{DecodeError, Envelope, ReadAnswer};
use agora_ports::{AgoraError, Reply, ServiceMessage};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::config::ApiKey;

/// The most of a body kept for an error's snippet.
pub(crate) const SNIPPET_CHARS: usize = 120;

/// A short, printable, secret-free start of a body. The key is removed
/// before the cut, so a key across the cut leaves no part of itself.
pub(crate) fn snippet(body: &[u8], key: &ApiKey) -> String {
    // Redacted before the cut, so that a key the cut falls into is not
    // shown in part; only as much as the cut can show is looked at.
    let text = String::from_utf8_lossy(body);
    // Any key that starts before the cut ends within this much, in its
    // longest form (each character escaped as two `\uXXXX`).
    let longest = 12 * key.expose().chars().count();
    let head: String = text.chars().take(SNIPPET_CHARS + longest).collect();
    redact(&head, key)
        .chars()
        .take(SNIPPET_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Removes the key from a text the server sent (a careless gateway may
/// echo it), however short the key, and however the server wrote its
/// characters back: as they are, JSON-escaped (`\/`, or `\u002B` as
/// System.Text.Json writes `+`) or percent-encoded (`%2B`, in a URL it
/// echoes). The rule is `agora_domain::redact`, which the recorder masks
/// recordings with and the command line masks every line with.
pub(crate) fn redact(text: &str, key: &ApiKey) -> String {
    agora_domain::redact::redact(text, key.expose())
}

/// The first bytes of an error's answer (up to the error-body limit), and
/// whether the body went on past them.
#[derive(Default)]
pub(crate) struct Body {
    /// The bytes read.
    pub bytes: bytes::Bytes,
    /// Whether the rest was left unread.
    pub cut: bool,
}

/// What an error's body says: AgoraPlus's envelope, or something else.
pub(crate) enum Said {
    /// A JSON object with at least one field of AgoraPlus's envelope.
    Envelope(ServiceMessage),
    /// JSON, but not AgoraPlus's envelope (a gateway's own JSON).
    OtherJson(String),
    /// Not JSON (an HTML page, text, a body cut at its limit) or empty.
    NotJson(String),
}

pub(crate) fn said(body: &Body, key: &ApiKey) -> Said {
    let bytes = &body.bytes[..];
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Said::NotJson(String::new());
    }
    let text = || {
        let mut text = snippet(bytes, key).trim().to_owned();
        if body.cut
            || String::from_utf8_lossy(bytes)
                .chars()
                .nth(SNIPPET_CHARS)
                .is_some()
        {
            text.push('…');
        }
        text
    };
    if body.cut {
        // Cut at its limit: whatever it was, it does not parse whole.
        return Said::NotJson(text());
    }
    match Envelope::<serde::de::IgnoredAny>::from_slice(bytes) {
        Ok(env) if !env.is_bare() => Said::Envelope(ServiceMessage {
            message: env.message().map(|m| redact(m, key)),
            status: env.response_status,
        }),
        _ if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() => {
            Said::OtherJson(text())
        }
        _ => Said::NotJson(text()),
    }
}

/// Maps an HTTP error status, with what its body said. A 429 is
/// throttling; a 502 or 504, or a 5xx without AgoraPlus's envelope, comes
/// from a gateway in between.
pub(crate) fn status_error(
    route: Route,
    status: StatusCode,
    body: &Body,
    retry_after: Option<Duration>,
    key: &ApiKey,
) -> AgoraError {
    let said = said(body, key);
    let code = status.as_u16();
    let gateway = |body: String| AgoraError::Gateway {
        status: code,
        body,
        retry_after,
    };
    match (&said, code) {
        (Said::Envelope(m), 502 | 504) => {
            return gateway(format!(
                "is AgoraPlus's envelope{}",
                m.message
                    .as_deref()
                    .map(|m| format!(", saying: {m}"))
                    .unwrap_or_default()
            ));
        }
        (Said::NotJson(text), 500..=599) if text.is_empty() => {
            return gateway("is empty".to_owned());
        }
        (Said::NotJson(text), 500..=599) => {
            return gateway(format!("is not JSON, it starts: {text:?}"));
        }
        (Said::OtherJson(text), 500..=599) => {
            return gateway(format!(
                "is JSON but not AgoraPlus's envelope, it starts: {text:?}"
            ));
        }
        // On a route where "no results" is empty, a 404 is read as empty
        // when it is AgoraPlus's (its envelope, JSON, no body, or the
        // reference's words); a page of text or HTML is not "no results"
        // but a wrong address, and must not pass for an empty list.
        (Said::NotJson(text), 404)
            if route.no_results_is_empty()
                && !text.is_empty()
                && !text
                    .to_ascii_lowercase()
                    .contains(&NO_RESULTS_MESSAGE.to_ascii_lowercase()) =>
        {
            return AgoraError::UnexpectedStatus {
                status: code,
                message: ServiceMessage {
                    status: None,
                    message: Some(format!(
                        "{} answered a page that is not AgoraPlus's \"{NO_RESULTS_MESSAGE}\" (is the base URL right?); it starts: {text:?}",
                        route.name()
                    )),
                },
            };
        }
        _ => {}
    }
    let message = match said {
        Said::Envelope(m) => m,
        Said::OtherJson(text) | Said::NotJson(text) => ServiceMessage {
            status: None,
            message: (!text.is_empty()).then_some(text),
        },
    };
    match code {
        400 => AgoraError::BadRequest(message),
        401 => AgoraError::Unauthorized(message),
        403 => AgoraError::Forbidden(message),
        404 if route == Route::PrintBomData
            && message
                .message
                .as_deref()
                .is_some_and(|m| m.to_ascii_lowercase().contains("expired")) =>
        {
            AgoraError::ProductKeyExpired(message)
        }
        404 => AgoraError::NotFound(message),
        405 => AgoraError::MethodNotAllowed(message),
        429 => AgoraError::Throttled {
            message,
            retry_after,
        },
        500 => AgoraError::ServerError(message),
        503 => AgoraError::Unavailable {
            message,
            retry_after,
        },
        other => AgoraError::UnexpectedStatus {
            status: other,
            message,
        },
    }
}

/// Wraps a decode failure with a snippet of the body, the key taken out of both.
pub(crate) fn decode_error(error: DecodeError, body: &[u8], key: &ApiKey) -> AgoraError {
    AgoraError::Decode {
        error: error.redacted(key.expose()),
        snippet: snippet(body, key),
    }
}

/// The error of an answer (`bytes`) that holds none of the envelope's
/// fields: it says nothing of the call (see [`judge`]).
pub(crate) fn bare_answer(route: Route, bytes: &[u8], key: &ApiKey) -> AgoraError {
    decode_error(bare_envelope(route), bytes, key)
}

/// What is wrong with an answer that holds none of the envelope's fields.
pub(crate) fn bare_envelope(route: Route) -> DecodeError {
    let why = "none of the envelope's fields (ResponseStatus, IsValid, ResponseMessage, ResponseErrorMessage, ResponseData)";
    DecodeError::custom(route.name(), ".", why.to_owned())
}

/// Judges a decoded envelope (`bytes`, for the snippet of an error): an
/// error verdict fails the call, except on routes whose data carries its
/// own verdict (claims) when data came back.
///
/// An answer that says nothing is not a success: a body holding none of
/// the envelope's fields (`{}`, another service's JSON), or a success
/// without the data the route returns (outside the routes where "no
/// results" is empty). Both are unreadable answers, so a call that
/// changes state ends in doubt, never "done" nor "refused".
pub(crate) fn judge<T>(
    route: Route,
    mut env: Envelope<T>,
    bytes: &[u8],
    key: &ApiKey,
    empty: Option<fn() -> T>,
) -> Result<Reply<T>, AgoraError> {
    if env.is_bare() {
        return Err(bare_answer(route, bytes, key));
    }
    let data = env.response_data.take();
    let verdict = env.verdict();
    if data.is_none() && empty.is_none() && verdict != Verdict::Error {
        let why = "a success without the data this route answers with";
        let error = DecodeError::custom(route.name(), "ResponseData", why.to_owned());
        return Err(decode_error(error, bytes, key));
    }
    settle(route, verdict, data, empty, || ServiceMessage {
        message: env.message().map(|m| redact(m, key)),
        status: env.response_status.clone(),
    })
}

/// What a verdict makes of a call: its reply, or the error. The message is
/// built (and redacted) only when it is used: a plain success, the common
/// case, pays nothing for it. A success without data is `empty()` where
/// "no results" is empty (see [`AgoraClient::send_list`]).
pub(crate) fn settle<T>(
    route: Route,
    verdict: Verdict,
    data: Option<T>,
    empty: Option<fn() -> T>,
    message: impl FnOnce() -> ServiceMessage,
) -> Result<Reply<T>, AgoraError> {
    let data = match (verdict, data, empty) {
        (Verdict::Success | Verdict::Warning, None, Some(empty)) => Some(empty()),
        (_, data, _) => data,
    };
    match (verdict, data) {
        (Verdict::Success, Some(data)) => Ok(Reply::ok(data)),
        (Verdict::Error, Some(data)) if route.data_carries_verdict() => {
            Ok(Reply::warned(data, message().message))
        }
        (Verdict::Warning, Some(data)) => Ok(Reply::warned(data, message().message)),
        // A success without data never gets here (see `judge`).
        (Verdict::Error, _) | (_, None) => Err(AgoraError::Rejected(message())),
    }
}

/// Decodes an answer tolerantly (strictly first; see
/// `Envelope::from_slice_tolerant`): the list items set aside come back in
/// the reply.
pub(crate) fn into_reply<T: DeserializeOwned + ReadAnswer>(
    route: Route,
    bytes: &[u8],
    key: &ApiKey,
    empty: Option<fn() -> T>,
) -> Result<Reply<T>, AgoraError> {
    let (env, set_aside) =
        Envelope::<T>::from_slice_tolerant(bytes).map_err(|e| decode_error(e, bytes, key))?;
    let mut reply = judge(route, env, bytes, key, empty)?;
    reply.set_aside = set_aside;
    for item in &mut reply.set_aside {
        agora_domain::redact::redact_json(&mut item.raw, key.expose());
        item.reason = redact(&item.reason, key);
    }
    Ok(reply)
}

/// A failed call of a route where "no results" is empty (`empty` given):
/// a 404 is an empty result, whatever its body (reference 5.3.3: "No
/// results match your request"). Any other failure stays one.
pub(crate) fn no_results<T>(
    error: AgoraError,
    empty: Option<fn() -> T>,
) -> Result<Reply<T>, AgoraError> {
    match (error, empty) {
        (AgoraError::NotFound(_), Some(empty)) => Ok(Reply::ok(empty())),
        (error, _) => Err(error),
    }
}
