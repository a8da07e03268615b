//! Building blocks of the wire models: the unknown-field store, the model
//! macro that keeps unknown fields, `OneOrMany`, and JSON decoding that names
//! the field that failed.

use std::borrow::Cow;

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
            /// Fields this version does not know, and the arrival form of
            /// known fields kept by tolerant reading: written back unchanged.
            pub extra: $crate::wire::Extra,
        }

        impl $name {
            /// The wire names of the fields this type knows, in declaration order.
            pub const WIRE_FIELDS: &'static [&'static str] = &[$($wire),*];

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
                        _ => Field::Other,
                    };
                    match slot {
                        $(Field::$field => {
                            // As in strict reading, null is no value.
                            if value.is_null() {
                                out.$field = None;
                                continue;
                            }
                            match <$ty as $crate::wire::ReadLenient>::read_lenient(value) {
                                $crate::wire::Reading::Exact(v) => out.$field = Some(v),
                                $crate::wire::Reading::Reinterpreted(v, raw) => {
                                    out.$field = Some(v);
                                    out.extra.insert(key, raw);
                                }
                                $crate::wire::Reading::Unreadable(raw, _) => {
                                    out.$field = None;
                                    out.extra.insert(key, raw);
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

/// How tolerant reading read one value.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading<T> {
    /// Read as its type, as strict reading reads it.
    Exact(T),
    /// Read as its type from another form (a number where a code string is
    /// expected, `"Mr."` as a title): the value as it arrived comes along,
    /// to be written back instead of the typed value's own form.
    Reinterpreted(T, serde_json::Value),
    /// Not readable as its type: the value as it arrived, and why.
    Unreadable(serde_json::Value, String),
}

/// A type the tolerant path can read from any JSON value: the fallback
/// when strict decoding of an answer fails. Implemented by every wire
/// model, code and value type; a model reads any object, keeping what does
/// not read in its `extra` (see the `wire_model!` rules, docs/wire-notes.md
/// "Tolerant reading").
pub trait ReadLenient: DeserializeOwned {
    /// Reads `value`, which is not null.
    fn read_lenient(value: serde_json::Value) -> Reading<Self>;

    /// Appends the values kept unread in `self` and below, each with its
    /// path under `path`. Values that are not models hold none.
    fn collect_unread(&self, path: &str, out: &mut Vec<UnreadValue>) {
        let _ = (path, out);
    }

    /// Every value kept unread in `self` and below: known fields whose
    /// value did not read as their type, with their path
    /// (`Mandate.Consumer.Title`) and the value as it arrived.
    fn unread_values(&self) -> Vec<UnreadValue> {
        let mut out = Vec::new();
        self.collect_unread("", &mut out);
        out
    }
}

/// `ResponseData` as the tolerant path reads it: a list answer reads
/// every element it can and sets the others aside; an answer of one object
/// reads any object. A `ResponseData` of the wrong shape (not an array
/// where a list is expected, not an object where one object is) is an error.
pub trait ReadAnswer: Sized {
    /// Reads `value` (not null), pushing the elements it cannot read to
    /// `set_aside`; `Err` names what is wrong with the shape.
    fn read_answer(
        value: serde_json::Value,
        set_aside: &mut Vec<crate::envelope::SetAside>,
    ) -> Result<Self, String>;
}

/// A known field whose value did not read as its type: kept as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct UnreadValue {
    /// Its path from the object it was found in (`Consumer.Title`, `SuggestedParts[1].Quantity`).
    pub path: String,
    /// The value as it arrived.
    pub raw: serde_json::Value,
}

impl UnreadValue {
    /// The value as text (see [`raw_text`]).
    pub fn text(&self) -> Cow<'_, str> {
        raw_text(&self.raw)
    }
}

impl std::fmt::Display for UnreadValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} kept as it arrived: {}", self.path, self.raw)
    }
}

/// A kept value as text: a string as it is, anything else as its JSON.
pub fn raw_text(value: &serde_json::Value) -> Cow<'_, str> {
    match value {
        serde_json::Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

/// The path of a field under `path`.
pub(crate) fn join_path(path: &str, wire: &str) -> String {
    if path.is_empty() {
        wire.to_owned()
    } else {
        format!("{path}.{wire}")
    }
}

/// Why strict reading refuses `value` as a `T`, in serde_json's words.
pub(crate) fn strict_error<T: DeserializeOwned>(value: &serde_json::Value) -> String {
    match T::deserialize(value) {
        Err(e) => e.to_string(),
        Ok(_) => format!("not a {}", short_type_name::<T>()),
    }
}

/// How a known field is written.
pub(crate) enum Form<'a, T> {
    /// The typed value.
    Typed(&'a T),
    /// The value as it arrived, kept by tolerant reading.
    Raw(&'a serde_json::Value),
}

/// How the known field `wire` of a model is written: the kept arrival form
/// when it is there and (for a typed field) still reads as the typed
/// value; else the typed value; `None` for nothing. A model without
/// `extra` pays one test.
#[inline]
pub(crate) fn form_of<'a, T: ReadLenient + PartialEq>(
    field: &'a Option<T>,
    extra: &'a Extra,
    wire: &str,
) -> Option<Form<'a, T>> {
    if extra.is_empty() {
        return field.as_ref().map(Form::Typed);
    }
    let raw = extra.get(wire);
    match (field, raw) {
        (Some(value), Some(raw)) if reads_as(raw, value) => Some(Form::Raw(raw)),
        (Some(value), _) => Some(Form::Typed(value)),
        (None, raw) => raw.map(Form::Raw),
    }
}

/// Whether `raw` reads as `value`.
fn reads_as<T: ReadLenient + PartialEq>(raw: &serde_json::Value, value: &T) -> bool {
    match T::read_lenient(raw.clone()) {
        Reading::Exact(v) | Reading::Reinterpreted(v, _) => v == *value,
        Reading::Unreadable(..) => false,
    }
}

/// Types read tolerantly as strictly: what strict reading refuses is unread.
macro_rules! read_lenient_strictly {
    ($($ty:ty),* $(,)?) => {
        $(
            impl ReadLenient for $ty {
                fn read_lenient(value: serde_json::Value) -> Reading<Self> {
                    match <$ty as serde::Deserialize>::deserialize(&value) {
                        Ok(v) => Reading::Exact(v),
                        Err(e) => Reading::Unreadable(value, e.to_string()),
                    }
                }
            }
        )*
    };
}

read_lenient_strictly!(
    String,
    i64,
    bool,
    crate::time::WireDateTime,
    crate::money::Money,
    crate::tables::CountryCode,
    crate::tables::Lcid,
    crate::tables::ManufacturerId,
    crate::tables::InterventionTypeId,
    crate::status::StatusCode,
);

impl ReadLenient for serde_json::Value {
    fn read_lenient(value: serde_json::Value) -> Reading<Self> {
        Reading::Exact(value)
    }
}

impl<T: ReadLenient> ReadLenient for Vec<T> {
    /// An array whose every element reads; one element that does not
    /// leaves the whole array unread (kept as it arrived).
    fn read_lenient(value: serde_json::Value) -> Reading<Self> {
        let serde_json::Value::Array(items) = value else {
            let reason = strict_error::<Vec<serde::de::IgnoredAny>>(&value);
            return Reading::Unreadable(value, reason);
        };
        let original = items.clone();
        let mut out = Vec::with_capacity(items.len());
        let mut reinterpreted = false;
        for (i, item) in items.into_iter().enumerate() {
            match T::read_lenient(item) {
                Reading::Exact(v) => out.push(v),
                Reading::Reinterpreted(v, _) => {
                    reinterpreted = true;
                    out.push(v);
                }
                Reading::Unreadable(_, reason) => {
                    return Reading::Unreadable(
                        serde_json::Value::Array(original),
                        format!("item {i}: {reason}"),
                    );
                }
            }
        }
        if reinterpreted {
            Reading::Reinterpreted(out, serde_json::Value::Array(original))
        } else {
            Reading::Exact(out)
        }
    }

    fn collect_unread(&self, path: &str, out: &mut Vec<UnreadValue>) {
        for (i, item) in self.iter().enumerate() {
            item.collect_unread(&format!("{path}[{i}]"), out);
        }
    }
}

impl<T: ReadLenient> ReadAnswer for Vec<T> {
    fn read_answer(
        value: serde_json::Value,
        set_aside: &mut Vec<crate::envelope::SetAside>,
    ) -> Result<Self, String> {
        let serde_json::Value::Array(items) = value else {
            return Err(strict_error::<Vec<serde::de::IgnoredAny>>(&value));
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            match read_item::<T>(index, item) {
                Ok(v) => out.push(v),
                Err(aside) => set_aside.push(aside),
            }
        }
        Ok(out)
    }
}

/// Reads one element of a list answer, or sets it aside.
pub fn read_item<T: ReadLenient>(
    index: usize,
    item: serde_json::Value,
) -> Result<T, crate::envelope::SetAside> {
    match T::read_lenient(item) {
        Reading::Exact(v) | Reading::Reinterpreted(v, _) => Ok(v),
        Reading::Unreadable(raw, reason) => Err(crate::envelope::SetAside { index, raw, reason }),
    }
}

impl<T: ReadLenient> ReadAnswer for OneOrMany<T> {
    fn read_answer(
        value: serde_json::Value,
        set_aside: &mut Vec<crate::envelope::SetAside>,
    ) -> Result<Self, String> {
        match value {
            serde_json::Value::Array(_) => Vec::read_answer(value, set_aside).map(Self::Many),
            serde_json::Value::Object(_) => match T::read_lenient(value) {
                Reading::Exact(v) | Reading::Reinterpreted(v, _) => Ok(Self::One(v)),
                Reading::Unreadable(_, reason) => Err(reason),
            },
            other => Err(strict_error::<OneOrMany<serde::de::IgnoredAny>>(&other)),
        }
    }
}

impl ReadAnswer for serde_json::Value {
    fn read_answer(
        value: serde_json::Value,
        _set_aside: &mut Vec<crate::envelope::SetAside>,
    ) -> Result<Self, String> {
        Ok(value)
    }
}

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

    /// An error about the value at `path`, found after parsing (no place in the document).
    pub(crate) fn custom(target: &'static str, path: &str, message: String) -> Self {
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
