//! Helpers shared by the domain's integration tests.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::unwrap_used)]

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Object members whose value is null are dropped: the models write an
/// absent and a null field alike (as absent), see docs/wire-notes.md.
pub fn strip_nulls(v: &Value) -> Value {
    match v {
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

/// Decodes a JSON value as `T` and writes it back as a JSON value.
pub fn round_trip<T: DeserializeOwned + Serialize>(input: &Value) -> Value {
    let text = serde_json::to_vec(input).unwrap();
    let typed: T =
        agora_domain::decode_json(&text).unwrap_or_else(|e| panic!("{input} does not decode: {e}"));
    serde_json::to_value(&typed).unwrap()
}

/// Asserts that `T` reads the document and writes back an equivalent one.
pub fn assert_lossless<T: DeserializeOwned + Serialize>(input: &Value) {
    let output = round_trip::<T>(input);
    assert_eq!(
        strip_nulls(&output),
        strip_nulls(input),
        "round trip changed the document"
    );
}
