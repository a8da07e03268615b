//! The identifiers of AgoraPlus objects: one type each, so a work order's
//! id cannot be passed where a repair file's is expected. Each one is
//! written and read on the wire exactly as the number or text it wraps
//! (`#[serde(transparent)]`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::wire::{ReadLenient, Reading, WriteJson};

/// Defines a numeric identifier: a newtype over `i64`.
macro_rules! numeric_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The number AgoraPlus gave it.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl PartialEq<i64> for $name {
            fn eq(&self, other: &i64) -> bool {
                self.0 == *other
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse().map(Self)
            }
        }

        impl WriteJson for $name {
            fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
                self.0.write_json(out)
            }
        }

        /// A number, or a string that holds one (`"500001"`: a server
        /// that writes ids as text), kept in its arrival form.
        impl ReadLenient for $name {
            fn read_lenient(value: serde_json::Value) -> Reading<Self> {
                match i64::read_lenient(value) {
                    Reading::Exact(id) => Reading::Exact(Self(id)),
                    Reading::Reinterpreted(id, raw) => Reading::Reinterpreted(Self(id), raw),
                    Reading::Unreadable(raw, why) => match raw.as_str().map(str::parse) {
                        Some(Ok(id)) => Reading::Reinterpreted(Self(id), raw),
                        _ => Reading::Unreadable(raw, why),
                    },
                }
            }
        }
    };
}

/// Defines a textual identifier: a newtype over `String`.
macro_rules! text_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The text AgoraPlus or the service center gave it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        /// Reads as the text it wraps (`trim`, `is_empty`, `as_deref` on an
        /// `Option`); the way back is explicit (`From`).
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self(s.to_owned()))
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl WriteJson for $name {
            fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
                self.0.write_json(out)
            }
        }

        impl ReadLenient for $name {
            fn read_lenient(value: serde_json::Value) -> Reading<Self> {
                match String::read_lenient(value) {
                    Reading::Exact(id) => Reading::Exact(Self(id)),
                    Reading::Reinterpreted(id, raw) => Reading::Reinterpreted(Self(id), raw),
                    Reading::Unreadable(raw, why) => Reading::Unreadable(raw, why),
                }
            }
        }
    };
}

numeric_id! {
    /// `MandateId`: a work order's identifier in AgoraPlus.
    MandateId
}

numeric_id! {
    /// `InterventionId`: a repair file's identifier in AgoraPlus.
    InterventionId
}

numeric_id! {
    /// `ClaimID`: a warranty claim's identifier in AgoraPlus.
    ClaimId
}

text_id! {
    /// `OrderNumber`: the number AgoraPlus gives a spare-part order line.
    OrderNumber
}

text_id! {
    /// `InvoiceNumber`: the service center's own invoice number, sent as
    /// the reference of a draft invoice.
    InvoiceNumber
}

text_id! {
    /// `DraftInvoiceNumber`: the number of a draft invoice AgoraPlus drew
    /// up for claims it accepted (`DR-…`).
    DraftInvoiceNumber
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_written_and_read_as_what_they_wrap() {
        let id = InterventionId(500_001);
        assert_eq!(serde_json::to_string(&id).unwrap(), "500001");
        assert_eq!(crate::wire::to_json_vec(&id, 8).unwrap(), b"500001");
        assert_eq!(
            serde_json::from_str::<InterventionId>("500001").unwrap(),
            id
        );
        assert_eq!(
            InterventionId::read_lenient(serde_json::json!(7)),
            Reading::Exact(InterventionId(7))
        );
        assert!(matches!(
            ClaimId::read_lenient(serde_json::json!("x")),
            Reading::Unreadable(..)
        ));
        assert_eq!(
            ClaimId::read_lenient(serde_json::json!("5000001")),
            Reading::Reinterpreted(ClaimId(5_000_001), serde_json::json!("5000001"))
        );
        assert!(matches!(
            ClaimId::read_lenient(serde_json::json!(true)),
            Reading::Unreadable(..)
        ));
        assert_eq!(" 42 ".parse::<MandateId>().unwrap(), MandateId(42));
        assert_eq!(id.to_string(), "500001");

        let n = DraftInvoiceNumber::from("DR-19-00001");
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"DR-19-00001\"");
        assert_eq!(
            crate::wire::to_json_vec(&n, 16).unwrap(),
            b"\"DR-19-00001\""
        );
        assert_eq!(
            OrderNumber::read_lenient(serde_json::json!("ORD-1")),
            Reading::Exact(OrderNumber::from("ORD-1"))
        );
        assert!(matches!(
            InvoiceNumber::read_lenient(serde_json::json!(12)),
            Reading::Unreadable(..)
        ));
        assert_eq!(n.to_string(), "DR-19-00001");
        assert_eq!(n, "DR-19-00001");
    }

    #[test]
    fn conversions_are_explicit_and_keep_the_value() {
        let id = ClaimId::from(5_000_001);
        assert_eq!((id.get(), i64::from(id)), (5_000_001, 5_000_001));
        assert!(id == 5_000_001 && id != 5_000_002);
        assert!(" x".parse::<ClaimId>().is_err());

        let n = OrderNumber::from(String::from("ORD-7"));
        assert_eq!((n.as_str(), &*n, n.as_ref()), ("ORD-7", "ORD-7", "ORD-7"));
        assert!(*"ORD-7" == *n.as_str() && n == *"ORD-7" && n != *"ORD-8");
        assert_eq!("ORD-7".parse::<OrderNumber>().unwrap(), n);
        let mut by_number = std::collections::HashMap::new();
        by_number.insert(n.clone(), 1);
        assert_eq!(by_number.get("ORD-7"), Some(&1));
        assert_eq!(String::from(n), "ORD-7");
    }
}
