//! Strict JSON decoding that names the field that failed (`DecodeError`).

use serde::de::DeserializeOwned;

/// A JSON document that could not be decoded into the expected type.
///
/// Names the path of the field that failed (`ResponseData[3].Quantity`) and
/// what was wrong with it; the underlying serde error is its `source()`.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode {target} at `{path}`: {message}")]
pub struct DecodeError {
    /// The type that was being decoded.
    pub target: &'static str,
    /// JSON path of the failing value, `.` when the document itself failed.
    pub path: String,
    /// What was wrong, without the source's own text repeated elsewhere.
    pub message: String,
    /// Line and column in the document.
    pub line: usize,
    /// Column in the document.
    pub column: usize,
    #[source]
    source: serde_json::Error,
}

impl DecodeError {
    /// Whether the document ended before it was complete (a truncated body).
    pub fn is_truncated(&self) -> bool {
        self.source.is_eof()
    }

    /// Whether the bytes were not JSON at all (as opposed to JSON of the wrong shape).
    pub fn is_syntax(&self) -> bool {
        self.source.is_syntax() || self.source.is_eof()
    }

    /// An error about the value at `path`, found after parsing (no place
    /// in the document): `target` names what was being read.
    pub fn custom(target: &'static str, path: &str, message: String) -> Self {
        Self {
            target,
            path: path.to_owned(),
            source: serde::de::Error::custom(&message),
            message,
            line: 0,
            column: 0,
        }
    }

    /// The same error with `secret` taken out of its message: serde quotes
    /// the value it could not read, and a server may echo a secret (the
    /// api_key) in any value.
    #[must_use]
    pub fn redacted(self, secret: &str) -> Self {
        if secret.is_empty() || !self.source.to_string().contains(secret) {
            return self;
        }
        let message = self.message.replace(secret, "[REDACTED]");
        Self {
            source: <serde_json::Error as serde::de::Error>::custom(&message),
            message,
            ..self
        }
    }

    /// Builds the error from a path-tracking serde_json failure.
    pub fn from_path_error(
        target: &'static str,
        err: serde_path_to_error::Error<serde_json::Error>,
    ) -> Self {
        let path = err.path().to_string();
        let source = err.into_inner();
        let message = strip_position(&source.to_string());
        Self {
            target,
            path,
            message,
            line: source.line(),
            column: source.column(),
            source,
        }
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(pos) => message[..pos].to_owned(),
        None => message.to_owned(),
    }
}

pub(crate) fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// Decodes a JSON document, naming the failing field's path on error.
///
/// The document is decoded without path tracking first; only a document
/// that fails is decoded again, tracking the path, to name the field. The
/// common case pays nothing for the diagnosis.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(_) => decode_json_tracked(bytes),
    }
}

/// Decodes a request body: strictly, and where that fails, once more with
/// every number that has no fractional part written as the integer it is
/// (`69.0` is `69`, as JSON Schema's `integer` takes it), so that a
/// number's form alone does not refuse a request. A value of the wrong
/// type is still refused, with the strict error naming its path.
pub fn decode_request<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let strict = match decode_json(bytes) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Err(strict);
    };
    if !integral_numbers_as_integers(&mut value) {
        return Err(strict);
    }
    serde_json::to_vec(&value)
        .ok()
        .and_then(|again| decode_json(&again).ok())
        .ok_or(strict)
}

/// Writes every float of `value` that has no fractional part (and fits an
/// `i64`) as that integer; true when one was.
fn integral_numbers_as_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            // The range is exclusive at the top: 2^63 is not an i64.
            Some(f)
                if f.fract() == 0.0
                    && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) =>
            {
                #[allow(clippy::cast_possible_truncation)]
                let i = f as i64;
                *value = Value::from(i);
                true
            }
            _ => false,
        },
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |any, v| integral_numbers_as_integers(v) | any),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |any, v| integral_numbers_as_integers(v) | any),
        _ => false,
    }
}

pub(crate) fn decode_json_tracked<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| DecodeError::from_path_error(short_type_name::<T>(), e))?;
    de.end().map_err(|source| DecodeError {
        target: short_type_name::<T>(),
        path: ".".to_owned(),
        message: strip_position(&source.to_string()),
        line: source.line(),
        column: source.column(),
        source,
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_reads_integral_floats_as_integers_and_nothing_else() {
        let part: crate::Part = decode_request(br#"{"Quantity": 3.0, "X": [2.0, 2.5]}"#).unwrap();
        assert_eq!(part.quantity, Some(3));
        assert_eq!(part.extra["X"], serde_json::json!([2, 2.5]));
        // Strictly, the float is refused; a fraction stays refused.
        assert!(decode_json::<crate::Part>(br#"{"Quantity": 3.0}"#).is_err());
        let e = decode_request::<crate::Part>(br#"{"Quantity": 3.5}"#).unwrap_err();
        assert_eq!(e.path, "Quantity");
        assert!(decode_request::<crate::Part>(br#"{"Quantity": 1e300}"#).is_err());
        assert!(decode_request::<crate::Part>(br#"{"Quantity": "3"}"#).is_err());
    }
}
