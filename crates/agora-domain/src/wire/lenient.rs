//! Tolerant reading (`ReadLenient`, `ReadAnswer`): what strict decoding
//! refuses is read value by value, keeping what does not read as it came.

use std::borrow::Cow;

use serde::de::DeserializeOwned;

use super::*;

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
