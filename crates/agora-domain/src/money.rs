//! Money as a JSON number, held as an exact decimal.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount (`LaborCost`, …): an exact decimal, read from a JSON number or
/// a numeric string, written as a JSON number.
///
/// JSON numbers are read through their shortest decimal text, so an amount
/// like `45.10` is exactly 45.1, never 45.099999….
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Money(pub Decimal);

impl Money {
    /// The decimal value.
    pub fn amount(self) -> Decimal {
        self.0
    }
}

/// An amount from a number of cents (`5250` → 52.50).
pub fn money_from_cents(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

impl From<Decimal> for Money {
    fn from(d: Decimal) -> Self {
        Self(d)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract().is_zero() {
            if let Ok(i) = i64::try_from(self.0) {
                return s.serialize_i64(i);
            }
        }
        // Shortest round-trip text of the f64 equals the decimal's text for
        // every amount of at most 15 significant digits.
        let f: f64 = self
            .0
            .to_string()
            .parse()
            .map_err(serde::ser::Error::custom)?;
        s.serialize_f64(f)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount (a number)")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Money, E> {
                Ok(Money(Decimal::from(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Money, E> {
                Ok(Money(Decimal::from(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Money, E> {
                if !v.is_finite() {
                    return Err(E::custom("amount is not a finite number"));
                }
                Decimal::from_str(&v.to_string())
                    .or_else(|_| Decimal::from_scientific(&format!("{v:e}")))
                    .map(Money)
                    .map_err(|_| E::custom(format!("amount {v} is out of range")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Money, E> {
                Decimal::from_str(v.trim())
                    .map(Money)
                    .map_err(|_| E::custom(format!("`{v}` is not an amount")))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_trip_exactly() {
        for text in ["45.1", "0.1", "1234.56", "12", "-3.5", "99999999.99"] {
            let m: Money = serde_json::from_str(text).unwrap();
            assert_eq!(m.0, Decimal::from_str(text).unwrap());
            assert_eq!(serde_json::to_string(&m).unwrap(), text);
        }
        let m: Money = serde_json::from_str("\"45.10\"").unwrap();
        assert_eq!(m.0, Decimal::from_str("45.1").unwrap());
    }

    #[test]
    fn wrong_type_is_an_error() {
        assert!(serde_json::from_str::<Money>("true").is_err());
        assert!(serde_json::from_str::<Money>("\"abc\"").is_err());
    }
}
