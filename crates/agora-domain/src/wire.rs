//! Building blocks of the wire models: the unknown-field store, the model
//! macro that keeps unknown fields, `OneOrMany`, and JSON decoding that names
//! the field that failed.

use serde::de::DeserializeOwned;

/// Fields a model does not know, kept in arrival form and written back
/// unchanged, so that an update built from a fetched object never erases
/// what this version of the library did not understand.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// Declares a wire model: a struct whose fields are all optional (AgoraPlus
/// marks almost everything optional and elides the rest with `...`), whose
/// JSON names are given explicitly, and which keeps every unknown field in
/// `extra`.
///
/// Serialization writes the known fields that are `Some`, then the unknown
/// ones. Deserialization matches keys without allocating for known names,
/// so large master-data deltas decode fast; a null value reads as `None`.
macro_rules! wire_model {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $wire:literal
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[doc = concat!("\n\nWire name: `", $wire, "`.")]
                pub $field: Option<$ty>,
            )*
            /// Fields this version does not know: kept and written back unchanged.
            pub extra: $crate::wire::Extra,
        }

        impl $name {
            /// The wire names of the fields this type knows, in declaration order.
            pub const WIRE_FIELDS: &'static [&'static str] = &[$($wire),*];
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(None)?;
                $(
                    if let Some(value) = &self.$field {
                        map.serialize_entry($wire, value)?;
                    }
                )*
                for (key, value) in &self.extra {
                    if !Self::WIRE_FIELDS.contains(&key.as_str()) {
                        map.serialize_entry(key, value)?;
                    }
                }
                map.end()
            }
        }

        impl $crate::wire::WriteJson for $name {
            fn write_json(&self, out: &mut Vec<u8>) -> Result<(), ::serde_json::Error> {
                // Each key comes pre-escaped with its separator: `,"Name":`.
                out.push(b'{');
                let start = out.len();
                $(
                    if let Some(value) = &self.$field {
                        let key = concat!(",\"", $wire, "\":").as_bytes();
                        out.extend_from_slice(if out.len() == start { &key[1..] } else { key });
                        $crate::wire::WriteJson::write_json(value, out)?;
                    }
                )*
                for (key, value) in &self.extra {
                    if !Self::WIRE_FIELDS.contains(&key.as_str()) {
                        if out.len() != start {
                            out.push(b',');
                        }
                        $crate::wire::WriteJson::write_json(key.as_str(), out)?;
                        out.push(b':');
                        ::serde_json::to_writer(&mut *out, value)?;
                    }
                }
                out.push(b'}');
                Ok(())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                #[allow(non_camel_case_types)]
                enum Field {
                    $($field,)*
                    Other(String),
                }
                struct FieldVisitor;
                impl ::serde::de::Visitor<'_> for FieldVisitor {
                    type Value = Field;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str("a field name")
                    }
                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<Field, E> {
                        Ok(match v {
                            $($wire => Field::$field,)*
                            other => Field::Other(other.to_owned()),
                        })
                    }
                }
                impl<'de> ::serde::Deserialize<'de> for Field {
                    fn deserialize<D2: ::serde::Deserializer<'de>>(d: D2) -> Result<Self, D2::Error> {
                        d.deserialize_identifier(FieldVisitor)
                    }
                }
                struct ModelVisitor;
                impl<'de> ::serde::de::Visitor<'de> for ModelVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a JSON object (", stringify!($name), ")"))
                    }
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<Field>()? {
                            match key {
                                $(Field::$field => out.$field = map.next_value()?,)*
                                Field::Other(key) => {
                                    let value: ::serde_json::Value = map.next_value()?;
                                    out.extra.insert(key, value);
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                deserializer.deserialize_map(ModelVisitor)
            }
        }
    };
}
pub(crate) use wire_model;

/// Writes a value as JSON straight into a buffer: the very bytes
/// `serde_json::to_writer` writes for its `Serialize` form (a test holds
/// every model to that), without serde's call per item and with each wire
/// name written pre-escaped. Request bodies are encoded with it.
pub trait WriteJson {
    /// Appends the JSON of `self` to `out`.
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error>;
}

/// Encodes a value with [`WriteJson`], into a buffer of `capacity` bytes.
pub fn to_json_vec<T: WriteJson + ?Sized>(
    value: &T,
    capacity: usize,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(capacity);
    value.write_json(&mut out)?;
    Ok(out)
}

impl WriteJson for str {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        // Most wire text needs no escape: copied whole. Anything else is
        // left to serde_json, so the two paths cannot disagree.
        if self.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
            return serde_json::to_writer(&mut *out, self);
        }
        out.reserve(self.len() + 2);
        out.push(b'"');
        out.extend_from_slice(self.as_bytes());
        out.push(b'"');
        Ok(())
    }
}

impl WriteJson for String {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        self.as_str().write_json(out)
    }
}

impl WriteJson for bool {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
        Ok(())
    }
}

impl WriteJson for i64 {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        out.extend_from_slice(itoa::Buffer::new().format(*self).as_bytes());
        Ok(())
    }
}

impl<T: WriteJson> WriteJson for Vec<T> {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        out.push(b'[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            item.write_json(out)?;
        }
        out.push(b']');
        Ok(())
    }
}

/// Types whose JSON is written by their `Serialize` impl through serde_json.
macro_rules! write_json_via_serde {
    ($($ty:ty),* $(,)?) => {
        $(
            impl WriteJson for $ty {
                fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
                    serde_json::to_writer(&mut *out, self)
                }
            }
        )*
    };
}

write_json_via_serde!(
    serde_json::Value,
    crate::time::WireDateTime,
    crate::money::Money,
    crate::tables::CountryCode,
    crate::tables::Lcid,
    crate::tables::Title,
    crate::tables::TitleText,
    crate::tables::ManufacturerId,
    crate::tables::InterventionTypeId,
);

/// `ResponseData` as AgoraPlus sends it: the models say array, but some
/// answers (the claim sample) carry a single object. Both decode; the form
/// that arrived is the form written back.
#[derive(Debug, Clone, PartialEq)]
pub enum OneOrMany<T> {
    /// A single object.
    One(T),
    /// An array of objects.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The items, whatever the form.
    pub fn as_slice(&self) -> &[T] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }

    /// The items as a vector, whatever the form.
    pub fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        Self::Many(Vec::new())
    }
}

impl<T: serde::Serialize> serde::Serialize for OneOrMany<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::One(one) => one.serialize(serializer),
            Self::Many(many) => many.serialize(serializer),
        }
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{MapAccess, SeqAccess, Visitor, value::MapAccessDeserializer};
        use std::marker::PhantomData;

        struct V<T>(PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object or an array of objects")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(item) = seq.next_element()? {
                    out.push(item);
                }
                Ok(OneOrMany::Many(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

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

fn short_type_name<T>() -> &'static str {
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

fn decode_json_tracked<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
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

/// A value outside the set this version knows, refused where only a known
/// value is acceptable (a request being built, a reference lookup).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownValue {
    /// What was being parsed ("status code", "claim status", …).
    pub kind: &'static str,
    /// The raw value.
    pub value: String,
}

/// Declares a string-valued wire enum whose unknown values are kept in an
/// explicit `Unknown(String)` variant. Generates `as_str`, `KNOWN`,
/// `is_known`, a lenient infallible `FromStr` (for responses), a strict
/// `parse_known` (for requests), `Display` and serde impls that agree.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($kind:literal) {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $wire:literal
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[doc = concat!("\n\nWire value: `", $wire, "`.")]
                $variant,
            )*
            /// A value this version does not know, kept as it arrived.
            Unknown(String),
        }

        impl $name {
            /// Every value this version knows.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),*];

            /// The wire form.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)*
                    $name::Unknown(raw) => raw,
                }
            }

            /// Whether this is a value this version knows.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }

            /// Strict parse: only a known value is accepted.
            pub fn parse_known(s: &str) -> Result<Self, $crate::wire::UnknownValue> {
                match Self::lenient(s) {
                    $name::Unknown(value) => Err($crate::wire::UnknownValue { kind: $kind, value }),
                    known => Ok(known),
                }
            }

            /// Lenient parse: an unknown value becomes `Unknown`.
            pub fn lenient(s: &str) -> Self {
                match s {
                    $($wire => $name::$variant,)*
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::lenient(s))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl $crate::wire::WriteJson for $name {
            fn write_json(&self, out: &mut Vec<u8>) -> Result<(), ::serde_json::Error> {
                $crate::wire::WriteJson::write_json(self.as_str(), out)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl ::serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a ", $kind, " string"))
                    }
                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::lenient(v))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}
pub(crate) use wire_enum;
