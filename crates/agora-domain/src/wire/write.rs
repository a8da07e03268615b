//! Writing JSON straight into a buffer (`WriteJson`), byte for byte as
//! serde_json writes the `Serialize` form.

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
