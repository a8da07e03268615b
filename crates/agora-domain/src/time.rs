//! Dates as AgoraPlus sends them: `2022-05-02T08:00:00.000Z`, without
//! milliseconds, with an offset, without a zone, or a bare date. A date read
//! from the wire is written back in the form it arrived; a date made here is
//! written as ISO 8601 UTC with milliseconds.

use std::fmt;

use jiff::Timestamp;
use jiff::civil;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a wire date means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateValue {
    /// An instant: the string had `Z` or an offset.
    Instant(Timestamp),
    /// A civil date-time without a zone (AgoraPlus means the work order's
    /// time zone, or UTC when it has none).
    Local(civil::DateTime),
    /// A bare date.
    Date(civil::Date),
}

/// A date or date-time of the wire. Keeps the text it was read from, so it
/// is written back unchanged; an unreadable text from a server is kept too
/// (as `value() == None`) rather than failing the whole response.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WireDateTime {
    value: Option<DateValue>,
    raw: Option<Box<str>>,
}

/// A text that is not one of the accepted date forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an ISO 8601 date (expected e.g. 2022-05-02T08:00:00.000Z)")]
pub struct DateParseError(pub String);

impl WireDateTime {
    /// An instant, written as `YYYY-MM-DDThh:mm:ss.sssZ`.
    pub fn from_timestamp(ts: Timestamp) -> Self {
        Self {
            value: Some(DateValue::Instant(ts)),
            raw: None,
        }
    }

    /// A civil date-time without a zone, written as `YYYY-MM-DDThh:mm:ss`.
    pub fn from_local(dt: civil::DateTime) -> Self {
        Self {
            value: Some(DateValue::Local(dt)),
            raw: None,
        }
    }

    /// A bare date, written as `YYYY-MM-DD`.
    pub fn from_date(date: civil::Date) -> Self {
        Self {
            value: Some(DateValue::Date(date)),
            raw: None,
        }
    }

    /// Strict parse of one of the accepted forms.
    pub fn parse(s: &str) -> Result<Self, DateParseError> {
        let value = parse_value(s).ok_or_else(|| DateParseError(s.to_owned()))?;
        Ok(Self {
            value: Some(value),
            raw: Some(s.into()),
        })
    }

    /// Lenient parse for responses: an unreadable text is kept as it is.
    pub fn lenient(s: &str) -> Self {
        Self {
            value: parse_value(s),
            raw: Some(s.into()),
        }
    }

    /// What the date means, when it could be read.
    pub fn value(&self) -> Option<DateValue> {
        self.value
    }

    /// The instant, reading a date without zone as UTC (and a bare date as
    /// its midnight). Used to order dates; `None` when unreadable.
    pub fn instant(&self) -> Option<Timestamp> {
        match self.value? {
            DateValue::Instant(ts) => Some(ts),
            DateValue::Local(dt) => jiff::tz::TimeZone::UTC.to_timestamp(dt).ok(),
            DateValue::Date(d) => jiff::tz::TimeZone::UTC
                .to_timestamp(d.to_datetime(civil::Time::midnight()))
                .ok(),
        }
    }

    /// The wire text: as it arrived, or the canonical ISO 8601 form.
    pub fn to_wire(&self) -> String {
        if let Some(raw) = &self.raw {
            return raw.to_string();
        }
        match self.value {
            Some(DateValue::Instant(ts)) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            Some(DateValue::Local(dt)) => dt.strftime("%Y-%m-%dT%H:%M:%S").to_string(),
            Some(DateValue::Date(d)) => d.to_string(),
            None => String::new(),
        }
    }
}

fn parse_value(s: &str) -> Option<DateValue> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(DateValue::Instant(ts));
    }
    if let Ok(dt) = s.parse::<civil::DateTime>() {
        if s.len() > 10 {
            return Some(DateValue::Local(dt));
        }
    }
    s.parse::<civil::Date>().ok().map(DateValue::Date)
}

impl fmt::Debug for WireDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WireDateTime({:?})", self.to_wire())
    }
}

impl fmt::Display for WireDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

impl From<Timestamp> for WireDateTime {
    fn from(ts: Timestamp) -> Self {
        Self::from_timestamp(ts)
    }
}

impl Serialize for WireDateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_wire())
    }
}

impl<'de> Deserialize<'de> for WireDateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = WireDateTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO 8601 date string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WireDateTime, E> {
                Ok(WireDateTime::lenient(v))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_form_of_the_reference() {
        for s in [
            "2022-05-02T08:00:00.000Z",
            "2022-05-02T08:00:00Z",
            "2022-05-02T10:00:00+02:00",
            "2022-05-02T08:00:00",
            "2022-05-02T08:00:00.000",
        ] {
            let d = WireDateTime::parse(s).unwrap();
            assert_eq!(
                d.instant().unwrap().to_string(),
                "2022-05-02T08:00:00Z",
                "{s}"
            );
            assert_eq!(d.to_wire(), s, "written back as it arrived");
        }
        assert!(matches!(
            WireDateTime::parse("2022-05-02").unwrap().value(),
            Some(DateValue::Date(_))
        ));
    }

    #[test]
    fn made_dates_are_iso_utc_with_milliseconds() {
        let ts: Timestamp = "2022-05-02T08:00:00Z".parse().unwrap();
        assert_eq!(WireDateTime::from(ts).to_wire(), "2022-05-02T08:00:00.000Z");
    }

    #[test]
    fn unreadable_text_is_kept_not_fatal() {
        let d: WireDateTime = serde_json::from_str("\"02/05/2022\"").unwrap();
        assert_eq!(d.value(), None);
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"02/05/2022\"");
        assert!(WireDateTime::parse("02/05/2022").is_err());
    }

    #[test]
    fn a_number_is_a_typed_error() {
        assert!(serde_json::from_str::<WireDateTime>("20220502").is_err());
    }
}
