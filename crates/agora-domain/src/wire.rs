//! Building blocks of the wire models: the unknown-field store, the model
//! macro that keeps unknown fields, `OneOrMany`, and JSON decoding that names
//! the field that failed.

/// Fields a model does not know, kept in arrival form and written back
/// unchanged, so that an update built from a fetched object never erases
/// what this version of the library did not understand.
pub type Extra = serde_json::Map<String, serde_json::Value>;

mod decode;
mod lenient;
mod write;

pub use decode::*;
pub use lenient::*;
pub(crate) use lenient::{Form, form_of, join_path, strict_error};
pub use write::*;

/// Declares a wire model: a struct whose fields are all optional (AgoraPlus
/// marks almost everything optional and elides the rest with `...`), whose
/// JSON names are given explicitly, and which keeps every unknown field in
/// `extra`.
///
/// Serialization writes the known fields that are `Some`, then the unknown
/// ones. Deserialization matches keys without allocating for known names,
/// so large master-data deltas decode fast; a null value reads as `None`.
///
/// A field the reference marks required (its type without ", optional")
/// carries `(required)` after its wire name: `FIELD_MARKS` and
/// `required_fields` list them, and the OpenAPI schema (feature `openapi`)
/// requires them. The field stays an `Option`: what a server sends is
/// read whatever it lacks.
///
/// Field names are matched exactly, then in any ASCII case (a camelCase
/// server's `interventionId` is `InterventionId`); they are written back
/// under their wire names.
///
/// Deserialization is strict: a known field of the wrong type fails it.
/// Answers are read by the tolerant path ([`ReadLenient`]) when the strict
/// one fails: a known field whose value does not read as its type keeps
/// the value as it arrived in `extra`, under its wire name, with the typed
/// field `None`; a value read from another form (a number where a code
/// string is expected) is typed and keeps its arrival form there too. Both
/// writers write a kept form back at its key, unchanged (the typed value
/// instead, once it no longer reads from the kept form).
macro_rules! wire_model {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[doc = $fdoc:literal])*
                $field:ident : $ty:ty = $wire:literal $(($required:ident))?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $(
                $(#[doc = $fdoc])*
                #[doc = concat!("\n\nWire name: `", $wire, "`.")]
                $(#[doc = $crate::wire::required_note!($required)])?
                pub $field: Option<$ty>,
            )*
            /// Fields this version does not know, and the arrival form of
            /// known fields kept by tolerant reading: written back unchanged.
            pub extra: $crate::wire::Extra,
        }

        impl $name {
            /// The wire names of the fields this type knows, in declaration order.
            pub const WIRE_FIELDS: &'static [&'static str] = &[$($wire),*];

            /// Each known field's wire name with whether the reference
            /// marks it required (every other field is "optional"), in
            /// declaration order: the one record of those marks.
            pub const FIELD_MARKS: &'static [(&'static str, bool)] =
                &[$(($wire, $crate::wire::is_required!($($required)?))),*];

            /// The wire names of the fields the reference marks required.
            pub fn required_fields() -> impl Iterator<Item = &'static str> {
                Self::FIELD_MARKS.iter().filter(|(_, r)| *r).map(|(w, _)| *w)
            }

            /// Whether the known field `wire` holds a typed value.
            fn is_typed(&self, wire: &str) -> bool {
                match wire {
                    $($wire => self.$field.is_some(),)*
                    _ => false,
                }
            }

            /// The value of the known field `wire` as it arrived, when
            /// tolerant reading kept it: a value that does not read as the
            /// field's type (the field is then `None`), or one read from
            /// another form. `None` for a field read as its type, or a name
            /// this type does not know.
            pub fn raw(&self, wire: &str) -> Option<&::serde_json::Value> {
                if Self::WIRE_FIELDS.contains(&wire) {
                    self.extra.get(wire)
                } else {
                    None
                }
            }

            /// Forgets the arrival form of every known field that holds a
            /// typed value, so the writers write the typed value in its own
            /// form (`3`, not the `"Mr."` it was read from): for a value
            /// carried into another model whose field has another form.
            pub fn forget_arrival_forms(&mut self) {
                let typed: Vec<&'static str> = Self::WIRE_FIELDS
                    .iter()
                    .copied()
                    .filter(|w| self.is_typed(w))
                    .collect();
                for wire in typed {
                    self.extra.remove(wire);
                }
            }

            /// The known fields of this object whose value could not be
            /// read as their type, by wire name, with the value as it
            /// arrived ([`crate::wire::raw_text`] reads it as text).
            pub fn unread_fields(&self) -> Vec<(&'static str, &::serde_json::Value)> {
                if self.extra.is_empty() {
                    return Vec::new();
                }
                Self::WIRE_FIELDS
                    .iter()
                    .filter(|w| !self.is_typed(w))
                    .filter_map(|w| self.extra.get(*w).map(|v| (*w, v)))
                    .collect()
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(None)?;
                $(
                    match $crate::wire::form_of(&self.$field, &self.extra, $wire) {
                        Some($crate::wire::Form::Typed(value)) => map.serialize_entry($wire, value)?,
                        Some($crate::wire::Form::Raw(raw)) => map.serialize_entry($wire, raw)?,
                        None => {}
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
                    if let Some(form) = $crate::wire::form_of(&self.$field, &self.extra, $wire) {
                        let key = concat!(",\"", $wire, "\":").as_bytes();
                        out.extend_from_slice(if out.len() == start { &key[1..] } else { key });
                        match form {
                            $crate::wire::Form::Typed(value) => $crate::wire::WriteJson::write_json(value, out)?,
                            $crate::wire::Form::Raw(raw) => ::serde_json::to_writer(&mut *out, raw)?,
                        }
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

        impl $crate::wire::ReadLenient for $name {
            fn read_lenient(value: ::serde_json::Value) -> $crate::wire::Reading<Self> {
                #[allow(non_camel_case_types)]
                enum Field {
                    $($field,)*
                    Other,
                }
                let map = match value {
                    ::serde_json::Value::Object(map) => map,
                    other => {
                        let reason = $crate::wire::strict_error::<Self>(&other);
                        return $crate::wire::Reading::Unreadable(other, reason);
                    }
                };
                let mut out = $name::default();
                for (key, value) in map {
                    let slot = match key.as_str() {
                        $($wire => Field::$field,)*
                        $(other if other.eq_ignore_ascii_case($wire) => Field::$field,)*
                        _ => Field::Other,
                    };
                    match slot {
                        $(Field::$field => {
                            // As in strict reading, null is no value.
                            if value.is_null() {
                                out.$field = None;
                                continue;
                            }
                            // A kept form goes under the wire name, so that
                            // it is written back once, at its field.
                            match <$ty as $crate::wire::ReadLenient>::read_lenient(value) {
                                $crate::wire::Reading::Exact(v) => out.$field = Some(v),
                                $crate::wire::Reading::Reinterpreted(v, raw) => {
                                    out.$field = Some(v);
                                    out.extra.insert($wire.to_owned(), raw);
                                }
                                $crate::wire::Reading::Unreadable(raw, _) => {
                                    out.$field = None;
                                    out.extra.insert($wire.to_owned(), raw);
                                }
                            }
                        })*
                        Field::Other => {
                            out.extra.insert(key, value);
                        }
                    }
                }
                $crate::wire::Reading::Exact(out)
            }

            fn collect_unread(&self, path: &str, out: &mut Vec<$crate::wire::UnreadValue>) {
                $(
                    let here = $crate::wire::join_path(path, $wire);
                    match &self.$field {
                        Some(value) => $crate::wire::ReadLenient::collect_unread(value, &here, out),
                        None => {
                            if let Some(raw) = self.extra.get($wire) {
                                out.push($crate::wire::UnreadValue { path: here, raw: raw.clone() });
                            }
                        }
                    }
                )*
            }
        }

        impl $crate::wire::ReadAnswer for $name {
            fn read_answer(
                value: ::serde_json::Value,
                _set_aside: &mut Vec<$crate::envelope::SetAside>,
            ) -> Result<Self, String> {
                match <Self as $crate::wire::ReadLenient>::read_lenient(value) {
                    $crate::wire::Reading::Exact(v) | $crate::wire::Reading::Reinterpreted(v, _) => Ok(v),
                    $crate::wire::Reading::Unreadable(_, reason) => Err(reason),
                }
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
                            // Another ASCII case of a known name (a camelCase
                            // server's `interventionId`): the same field.
                            $(other if other.eq_ignore_ascii_case($wire) => Field::$field,)*
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

        #[cfg(feature = "openapi")]
        impl $crate::openapi::WireSchema for $name {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::Schema> {
                ::utoipa::openapi::Ref::from_schema_name(stringify!($name)).into()
            }

            fn components(out: &mut $crate::openapi::Components) {
                if out.contains_key(stringify!($name)) {
                    return;
                }
                // Listed before its fields' types: a model that holds
                // itself (none does today) stops here.
                out.insert(stringify!($name).to_owned(), Self::definition().into());
                $(<$ty as $crate::openapi::WireSchema>::components(out);)*
            }
        }

        #[cfg(feature = "openapi")]
        impl $name {
            /// This model's OpenAPI schema: every known field with its type
            /// and description, the reference's required marks; other
            /// fields are allowed (kept in `extra`).
            pub fn definition() -> ::utoipa::openapi::Schema {
                let object = ::utoipa::openapi::ObjectBuilder::new();
                $(
                    let object = object.property(
                        $wire,
                        $crate::openapi::field::<$ty>(
                            $crate::wire::is_required!($($required)?),
                            concat!($($fdoc, "\n"),*),
                        ),
                    );
                )*
                let object = Self::required_fields().fold(object, |o, w| o.required(w));
                ::utoipa::openapi::Schema::Object(object.build())
            }
        }
    };
}
pub(crate) use wire_model;

/// Whether a field of [`wire_model!`] carries the `(required)` mark.
macro_rules! is_required {
    () => {
        false
    };
    (required) => {
        true
    };
}
pub(crate) use is_required;

/// The note a required field's documentation ends with.
macro_rules! required_note {
    (required) => {
        " Required by the reference."
    };
}
pub(crate) use required_note;

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
/// Strict reading takes a string; tolerant reading also takes a number
/// (a logistic `StatusCode: 208`), read as the code and written back as
/// the number it was.
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

        impl $crate::wire::ReadLenient for $name {
            /// A string as strict reading reads it; a number as the code
            /// it writes (`208` as `"208"`), keeping the number to write back.
            fn read_lenient(value: ::serde_json::Value) -> $crate::wire::Reading<Self> {
                match value {
                    ::serde_json::Value::String(s) => $crate::wire::Reading::Exact($name::lenient(&s)),
                    ::serde_json::Value::Number(n) => {
                        let code = $name::lenient(&n.to_string());
                        $crate::wire::Reading::Reinterpreted(code, ::serde_json::Value::Number(n))
                    }
                    other => {
                        let reason = $crate::wire::strict_error::<Self>(&other);
                        $crate::wire::Reading::Unreadable(other, reason)
                    }
                }
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

        #[cfg(feature = "openapi")]
        impl $crate::openapi::WireSchema for $name {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::Schema> {
                ::utoipa::openapi::Ref::from_schema_name(stringify!($name)).into()
            }

            fn components(out: &mut $crate::openapi::Components) {
                out.entry(stringify!($name).to_owned()).or_insert_with(|| {
                    $crate::openapi::string_enum(
                        concat!("A ", $kind, "."),
                        $name::KNOWN.iter().map($name::as_str),
                    )
                    .into()
                });
            }
        }
    };
}
pub(crate) use wire_enum;

/// Reads JSON this library wrote back from an answer (a local store's
/// copy): strictly first, then tolerantly, so that a value kept as it
/// arrived (a code sent as a number, a title as a label) reads again as
/// it did from the answer. `Err` only when the value cannot be read as `T`
/// at all.
pub fn read_stored<T: ReadLenient>(json: &str) -> Result<T, String> {
    let strict = match serde_json::from_str::<T>(json) {
        Ok(value) => return Ok(value),
        Err(e) => e.to_string(),
    };
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    read_stored_value(value).map_err(|_| strict)
}

/// [`read_stored`] of a value already parsed: tolerantly (a model keeps
/// what does not read as its type); `Err` with the reason when `value`
/// cannot be read as `T` at all.
pub fn read_stored_value<T: ReadLenient>(value: serde_json::Value) -> Result<T, String> {
    match T::read_lenient(value) {
        Reading::Exact(v) | Reading::Reinterpreted(v, _) => Ok(v),
        Reading::Unreadable(_, why) => Err(why),
    }
}
