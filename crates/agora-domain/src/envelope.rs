//! The response envelope every AgoraPlus service answers with (reference
//! 5.3.4): `ResponseStatus`, `IsValid`, `ResponseMessage`,
//! `ResponseErrorMessage` and `ResponseData`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codes::ResponseStatus;
use crate::wire::{
    DecodeError, Extra, ReadAnswer, decode_json, decode_json_tracked, short_type_name,
};

/// The generic response envelope, `ResponseData` typed as `T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<T> {
    /// `ResponseStatus`: S, E or W.
    pub response_status: Option<ResponseStatus>,
    /// `IsValid`: false when the response contains an error.
    pub is_valid: Option<bool>,
    /// `ResponseMessage`: a summary.
    pub response_message: Option<String>,
    /// `ResponseErrorMessage`: the error, when not valid.
    pub response_error_message: Option<String>,
    /// `ResponseData`: the content.
    pub response_data: Option<T>,
    /// Fields this version does not know.
    pub extra: Extra,
}

impl<T> Default for Envelope<T> {
    fn default() -> Self {
        Self {
            response_status: None,
            is_valid: None,
            response_message: None,
            response_error_message: None,
            response_data: None,
            extra: Extra::new(),
        }
    }
}

/// An element of a list answer that could not be read at all (not an
/// object of the expected model, say): set aside with its raw JSON and the
/// reason, while the rest of the list is used. The caller is told of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    /// Its position in the list (0-based).
    pub index: usize,
    /// The element as it arrived.
    pub raw: serde_json::Value,
    /// Why it could not be read.
    pub reason: String,
}

impl fmt::Display for SetAside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "item {} set aside: {}", self.index, self.reason)
    }
}

/// How the envelope judged the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `S` (or no status) and not marked invalid.
    Success,
    /// `W`: the data is there, with warnings.
    Warning,
    /// `E`, or `IsValid` false.
    Error,
}

impl<T> Envelope<T> {
    /// A successful envelope around data.
    pub fn success(data: T) -> Self {
        Self {
            response_status: Some(ResponseStatus::Success),
            is_valid: Some(true),
            response_message: None,
            response_error_message: None,
            response_data: Some(data),
            extra: Extra::new(),
        }
    }

    /// An error envelope: `ResponseStatus` E, `IsValid` false and a message.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            response_status: Some(ResponseStatus::Error),
            is_valid: Some(false),
            response_message: None,
            response_error_message: Some(message.into()),
            response_data: None,
            extra: Extra::new(),
        }
    }

    /// The envelope's verdict: an `E` status or `IsValid == false` is an
    /// error; `W` a warning; anything else a success. An unknown status with
    /// `IsValid` not false counts as a success.
    pub fn verdict(&self) -> Verdict {
        verdict_of(
            self.response_status.as_ref().map(ResponseStatus::as_str),
            self.is_valid,
        )
    }

    /// The most telling message of the envelope: the error message, else the summary.
    pub fn message(&self) -> Option<&str> {
        message_of(
            self.response_error_message.as_deref(),
            self.response_message.as_deref(),
        )
    }

    /// Whether the answer holds none of the envelope's five fields (`{}`,
    /// or some other JSON object): it says nothing of the call, so it is
    /// no verdict, neither a success nor an error.
    pub fn is_bare(&self) -> bool {
        self.response_status.is_none()
            && self.is_valid.is_none()
            && self.response_message.is_none()
            && self.response_error_message.is_none()
            && self.response_data.is_none()
    }

    /// The same envelope with its data mapped.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Envelope<U> {
        Envelope {
            response_status: self.response_status,
            is_valid: self.is_valid,
            response_message: self.response_message,
            response_error_message: self.response_error_message,
            response_data: self.response_data.map(f),
            extra: self.extra,
        }
    }
}

/// The verdict of an envelope's `ResponseStatus` and `IsValid`: `E` or
/// `IsValid == false` is an error, `W` a warning, anything else a success.
/// The status is read as a person would: `e`, ` E ` and `Error` are `E`,
/// `w` and `Warning` are `W`.
pub fn verdict_of(status: Option<&str>, is_valid: Option<bool>) -> Verdict {
    let status = status.map(str::trim);
    let is = |s: Option<&str>, letter: &str, word: &str| {
        s.is_some_and(|s| s.eq_ignore_ascii_case(letter) || s.eq_ignore_ascii_case(word))
    };
    if is(status, "E", "Error") || is_valid == Some(false) {
        Verdict::Error
    } else if is(status, "W", "Warning") {
        Verdict::Warning
    } else {
        Verdict::Success
    }
}

fn message_of<'a>(error: Option<&'a str>, summary: Option<&'a str>) -> Option<&'a str> {
    error
        .filter(|m| !m.trim().is_empty())
        .or(summary.filter(|m| !m.trim().is_empty()))
}

/// The envelope of an answer whose data does not matter (an update's), read
/// without allocating: its verdict and, when needed, its message. Its
/// decoder skips `ResponseData` and unknown fields, matches keys as bytes
/// and borrows the strings that hold no escapes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvelopeHead<'a> {
    /// `ResponseStatus`.
    pub response_status: Option<Cow<'a, str>>,
    /// `IsValid`.
    pub is_valid: Option<bool>,
    /// `ResponseMessage`.
    pub response_message: Option<Cow<'a, str>>,
    /// `ResponseErrorMessage`.
    pub response_error_message: Option<Cow<'a, str>>,
}

impl<'a> EnvelopeHead<'a> {
    /// Reads the head of an answer. A flat envelope, the kind update calls
    /// answer with (every value a string without escapes, a boolean or
    /// null), is read by a direct scan; anything else, nesting, numbers,
    /// escapes or a syntax error, by serde_json, which also words every
    /// error. The scan accepts nothing serde_json refuses and reads the
    /// same values (a property test holds it to that).
    pub fn from_slice(bytes: &'a [u8]) -> serde_json::Result<Self> {
        match flat_head(bytes) {
            Some(head) => Ok(head),
            None => serde_json::from_slice(bytes),
        }
    }
}

/// A value of a flat envelope.
enum Flat<'a> {
    Str(&'a str),
    Bool(bool),
    Null,
}

/// A text field's value: `Some(None)` for null, `None` for a boolean.
fn text_of(value: Flat<'_>) -> Option<Option<Cow<'_, str>>> {
    match value {
        Flat::Str(s) => Some(Some(Cow::Borrowed(s))),
        Flat::Null => Some(None),
        Flat::Bool(_) => None,
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The string starting at `i` (an opening quote) and the index after it,
/// when it holds no escape and no control character.
fn plain_string(text: &str, i: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let len = b.get(i + 1..)?.iter().position(|&c| c == b'"')?;
    let inner = b.get(i + 1..i + 1 + len)?;
    if inner.iter().any(|&c| c == b'\\' || c < 0x20) {
        return None;
    }
    // Quotes are ASCII: both ends are character boundaries.
    Some((text.get(i + 1..i + 1 + len)?, i + len + 2))
}

/// The head of a flat envelope, or `None` for anything else.
fn flat_head(bytes: &[u8]) -> Option<EnvelopeHead<'_>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let b = text.as_bytes();
    let mut head = EnvelopeHead::default();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) != Some(&b'}') {
        loop {
            let (key, next) = plain_string(text, i)?;
            i = skip_ws(b, next);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = skip_ws(b, i + 1);
            let rest = b.get(i..)?;
            let value = if rest.first() == Some(&b'"') {
                let (value, next) = plain_string(text, i)?;
                i = next;
                Flat::Str(value)
            } else if rest.starts_with(b"true") {
                i += 4;
                Flat::Bool(true)
            } else if rest.starts_with(b"false") {
                i += 5;
                Flat::Bool(false)
            } else if rest.starts_with(b"null") {
                i += 4;
                Flat::Null
            } else {
                return None;
            };
            // A known key with a value of the wrong type is left to
            // serde_json, which names it.
            match head_key(key.as_bytes()) {
                HeadKey::Status => head.response_status = text_of(value)?,
                HeadKey::Message => head.response_message = text_of(value)?,
                HeadKey::ErrorMessage => head.response_error_message = text_of(value)?,
                HeadKey::IsValid => {
                    head.is_valid = match value {
                        Flat::Bool(v) => Some(v),
                        Flat::Null => None,
                        Flat::Str(_) => return None,
                    }
                }
                HeadKey::Data | HeadKey::Other => {}
            }
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => break,
                _ => return None,
            }
        }
    }
    (skip_ws(b, i + 1) == b.len()).then_some(head)
}

/// A key of the envelope, matched on its bytes (no UTF-8 check, no copy).
#[derive(Clone, Copy)]
enum HeadKey {
    Status,
    IsValid,
    Message,
    ErrorMessage,
    Data,
    Other,
}

/// The envelope field `key` names: exactly, or in another ASCII case
/// (`isValid`, `responseStatus`: a server that writes camelCase names the
/// same fields).
fn head_key(key: &[u8]) -> HeadKey {
    const KEYS: [(&[u8], HeadKey); 5] = [
        (b"ResponseStatus", HeadKey::Status),
        (b"IsValid", HeadKey::IsValid),
        (b"ResponseMessage", HeadKey::Message),
        (b"ResponseErrorMessage", HeadKey::ErrorMessage),
        (b"ResponseData", HeadKey::Data),
    ];
    KEYS.iter()
        .find(|(name, _)| *name == key)
        .or_else(|| KEYS.iter().find(|(name, _)| name.eq_ignore_ascii_case(key)))
        .map_or(HeadKey::Other, |(_, k)| *k)
}

impl<'de> Deserialize<'de> for HeadKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HeadKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<HeadKey, E> {
                Ok(head_key(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<HeadKey, E> {
                self.visit_bytes(v.as_bytes())
            }
        }
        d.deserialize_bytes(V)
    }
}

/// An optional string that borrows from the input when it can.
struct OptCow<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for OptCow<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = OptCow<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or null")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(OptCow(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(OptCow(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(OptCow(Some(Cow::Owned(v))))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(OptCow(None))
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(OptCow(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_str(self)
            }
        }
        d.deserialize_option(V(PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for EnvelopeHead<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = EnvelopeHead<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a response envelope")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut head = EnvelopeHead::default();
                while let Some(key) = map.next_key::<HeadKey>()? {
                    match key {
                        HeadKey::Status => head.response_status = map.next_value::<OptCow<'a>>()?.0,
                        HeadKey::IsValid => head.is_valid = map.next_value()?,
                        HeadKey::Message => {
                            head.response_message = map.next_value::<OptCow<'a>>()?.0
                        }
                        HeadKey::ErrorMessage => {
                            head.response_error_message = map.next_value::<OptCow<'a>>()?.0;
                        }
                        HeadKey::Data | HeadKey::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(head)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

impl EnvelopeHead<'_> {
    /// Whether the answer holds none of the envelope's fields read here
    /// (see [`Envelope::is_bare`]).
    pub fn is_bare(&self) -> bool {
        self.response_status.is_none()
            && self.is_valid.is_none()
            && self.response_message.is_none()
            && self.response_error_message.is_none()
    }

    /// The verdict, by the same rule as [`Envelope::verdict`].
    pub fn verdict(&self) -> Verdict {
        verdict_of(self.response_status.as_deref(), self.is_valid)
    }

    /// The most telling message, by the same rule as [`Envelope::message`].
    pub fn message(&self) -> Option<&str> {
        message_of(
            self.response_error_message.as_deref(),
            self.response_message.as_deref(),
        )
    }
}

impl<T: DeserializeOwned> Envelope<T> {
    /// Decodes an envelope from bytes, naming the failing field on error.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_json(bytes)
    }
}

impl<T: DeserializeOwned + ReadAnswer> Envelope<T> {
    /// Decodes an answer tolerantly (docs/wire-notes.md, "Tolerant
    /// reading"): strictly first, the fast path; when that fails, the
    /// envelope again with `ResponseData` read by [`ReadAnswer`], so that a
    /// value of the wrong type is kept in its model and an element of a
    /// list that cannot be read at all is set aside (returned with its
    /// index, raw JSON and reason) while the rest is used.
    ///
    /// Still errors, naming the failing place: a body that is not JSON or
    /// is cut short, an envelope field of the wrong type (`IsValid:
    /// "yes"`), a `ResponseData` of the wrong shape (an object where a list
    /// is expected).
    pub fn from_slice_tolerant(bytes: &[u8]) -> Result<(Self, Vec<SetAside>), DecodeError> {
        if let Ok(env) = serde_json::from_slice::<Self>(bytes) {
            return Ok((env, Vec::new()));
        }
        // The first failure, named. Outside the data (the body, an envelope
        // field, the shape of `ResponseData` itself) it is the answer's.
        let strict = match decode_json_tracked::<Self>(bytes) {
            Ok(env) => return Ok((env, Vec::new())),
            Err(e) => e,
        };
        let in_data = strict
            .path
            .strip_prefix("ResponseData")
            .is_some_and(|rest| rest.starts_with(['[', '.']));
        if !in_data {
            return Err(strict);
        }
        let raw: Envelope<serde_json::Value> = decode_json(bytes)?;
        let mut set_aside = Vec::new();
        let response_data = match raw.response_data {
            None => None,
            Some(value) => match T::read_answer(value, &mut set_aside) {
                Ok(data) => Some(data),
                // Cannot be, the shape having passed strict reading.
                Err(reason) => {
                    return Err(DecodeError::custom(
                        short_type_name::<Self>(),
                        "ResponseData",
                        reason,
                    ));
                }
            },
        };
        let env = Envelope {
            response_status: raw.response_status,
            is_valid: raw.is_valid,
            response_message: raw.response_message,
            response_error_message: raw.response_error_message,
            response_data,
            extra: raw.extra,
        };
        Ok((env, set_aside))
    }
}

const ENVELOPE_FIELDS: [&str; 5] = [
    "ResponseStatus",
    "IsValid",
    "ResponseMessage",
    "ResponseErrorMessage",
    "ResponseData",
];

impl<T: Serialize> Serialize for Envelope<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(v) = &self.response_status {
            map.serialize_entry("ResponseStatus", v)?;
        }
        if let Some(v) = &self.is_valid {
            map.serialize_entry("IsValid", v)?;
        }
        if let Some(v) = &self.response_message {
            map.serialize_entry("ResponseMessage", v)?;
        }
        if let Some(v) = &self.response_error_message {
            map.serialize_entry("ResponseErrorMessage", v)?;
        }
        if let Some(v) = &self.response_data {
            map.serialize_entry("ResponseData", v)?;
        }
        for (k, v) in &self.extra {
            if !ENVELOPE_FIELDS.contains(&k.as_str()) {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// The envelope's field names, matched without allocating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeField {
    /// `ResponseStatus`.
    ResponseStatus,
    /// `IsValid`.
    IsValid,
    /// `ResponseMessage`.
    ResponseMessage,
    /// `ResponseErrorMessage`.
    ResponseErrorMessage,
    /// `ResponseData`.
    ResponseData,
    /// Any other field.
    Other(String),
}

impl<'de> Deserialize<'de> for EnvelopeField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EnvelopeField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an envelope field name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<EnvelopeField, E> {
                Ok(match head_key(v.as_bytes()) {
                    HeadKey::Status => EnvelopeField::ResponseStatus,
                    HeadKey::IsValid => EnvelopeField::IsValid,
                    HeadKey::Message => EnvelopeField::ResponseMessage,
                    HeadKey::ErrorMessage => EnvelopeField::ResponseErrorMessage,
                    HeadKey::Data => EnvelopeField::ResponseData,
                    HeadKey::Other => EnvelopeField::Other(v.to_owned()),
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Reads the envelope fields other than `ResponseData` into `env`; the
/// caller decides what to do with `ResponseData`. Shared by the whole-body
/// decoder here and the streaming decoder of the HTTP adapter.
pub fn read_envelope_field<'de, A: MapAccess<'de>, T>(
    env: &mut Envelope<T>,
    key: EnvelopeField,
    map: &mut A,
) -> Result<(), A::Error> {
    match key {
        EnvelopeField::ResponseStatus => env.response_status = map.next_value()?,
        EnvelopeField::IsValid => env.is_valid = map.next_value()?,
        EnvelopeField::ResponseMessage => env.response_message = map.next_value()?,
        EnvelopeField::ResponseErrorMessage => env.response_error_message = map.next_value()?,
        EnvelopeField::ResponseData => {
            return Err(serde::de::Error::custom(
                "ResponseData handled by the caller",
            ));
        }
        EnvelopeField::Other(k) => {
            let v: serde_json::Value = map.next_value()?;
            env.extra.insert(k, v);
        }
    }
    Ok(())
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Envelope<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Envelope<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an AgoraPlus response envelope (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope<T>, A::Error> {
                let mut env = Envelope::default();
                while let Some(key) = map.next_key::<EnvelopeField>()? {
                    if key == EnvelopeField::ResponseData {
                        env.response_data = map.next_value()?;
                    } else {
                        read_envelope_field(&mut env, key, &mut map)?;
                    }
                }
                Ok(env)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

#[cfg(test)]
mod tests;
