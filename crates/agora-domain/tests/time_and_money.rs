//! Dates and amounts of the wire: each way to make one, what it means, and
//! how it is written.

#![allow(clippy::unwrap_used)]

use std::str::FromStr;

use agora_domain::time::DateValue;
use agora_domain::{Money, WireDateTime, money_from_cents};
use jiff::{Timestamp, civil};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::value::{Error as ValueError, F64Deserializer, I64Deserializer, U64Deserializer};

#[test]
fn dates_made_here_are_written_in_their_canonical_form() {
    let ts: Timestamp = "2024-03-02T08:05:09.250Z".parse().unwrap();
    let instant = WireDateTime::from_timestamp(ts);
    assert_eq!(instant.to_wire(), "2024-03-02T08:05:09.250Z");
    assert_eq!(instant.value(), Some(DateValue::Instant(ts)));
    assert_eq!(instant.instant(), Some(ts));
    assert_eq!(WireDateTime::from(ts), instant);

    let dt = civil::date(2024, 3, 2).at(8, 5, 9, 0);
    let local = WireDateTime::from_local(dt);
    assert_eq!(local.to_wire(), "2024-03-02T08:05:09");
    assert_eq!(local.value(), Some(DateValue::Local(dt)));
    // Without a zone: read as UTC to be ordered.
    assert_eq!(
        local.instant(),
        Some("2024-03-02T08:05:09Z".parse().unwrap())
    );

    let day = WireDateTime::from_date(civil::date(2024, 3, 2));
    assert_eq!(day.to_wire(), "2024-03-02");
    assert_eq!(day.value(), Some(DateValue::Date(civil::date(2024, 3, 2))));
    assert_eq!(day.instant(), Some("2024-03-02T00:00:00Z".parse().unwrap()));

    // Display, Debug and serde all show the wire text.
    assert_eq!(local.to_string(), "2024-03-02T08:05:09");
    assert_eq!(format!("{day:?}"), r#"WireDateTime("2024-03-02")"#);
    assert_eq!(
        serde_json::to_string(&instant).unwrap(),
        r#""2024-03-02T08:05:09.250Z""#
    );
}

#[test]
fn dates_read_keep_their_text_and_their_meaning() {
    let read: WireDateTime = serde_json::from_str(r#"" 2024-03-02T08:00:00+01:00 ""#).unwrap();
    assert_eq!(
        read.to_wire(),
        " 2024-03-02T08:00:00+01:00 ",
        "as it arrived"
    );
    assert_eq!(
        read.instant(),
        Some("2024-03-02T07:00:00Z".parse().unwrap())
    );
    let local = WireDateTime::parse("2024-03-02T08:00:00").unwrap();
    assert!(matches!(local.value(), Some(DateValue::Local(_))));
    let date = WireDateTime::parse("2024-03-02").unwrap();
    assert_eq!(date.value(), Some(DateValue::Date(civil::date(2024, 3, 2))));
    let unreadable = WireDateTime::lenient("next tuesday");
    assert_eq!((unreadable.value(), unreadable.instant()), (None, None));
    assert_eq!(unreadable.to_wire(), "next tuesday");
    let err = WireDateTime::parse("next tuesday").unwrap_err();
    assert!(
        err.to_string()
            .contains("`next tuesday` is not an ISO 8601 date")
    );
    let err = serde_json::from_str::<WireDateTime>("[]").unwrap_err();
    assert!(err.to_string().contains("an ISO 8601 date string"), "{err}");
}

#[test]
fn amounts_are_exact_decimals_whatever_form_they_came_in() {
    assert_eq!(money_from_cents(5250), Decimal::from_str("52.50").unwrap());
    assert_eq!(money_from_cents(-7), Decimal::from_str("-0.07").unwrap());
    let m = Money::from(money_from_cents(5250));
    assert_eq!(m.amount(), Decimal::from_str("52.5").unwrap());
    assert_eq!(m.to_string(), "52.50");
    assert_eq!(serde_json::to_string(&m).unwrap(), "52.5");
    assert_eq!(
        serde_json::to_string(&Money::from(Decimal::from(-12))).unwrap(),
        "-12"
    );
    // Each number the deserializer may be handed.
    let from_i64 = Money::deserialize(I64Deserializer::<ValueError>::new(-40)).unwrap();
    assert_eq!(from_i64.amount(), Decimal::from(-40));
    let from_u64 = Money::deserialize(U64Deserializer::<ValueError>::new(40)).unwrap();
    assert_eq!(from_u64.amount(), Decimal::from(40));
    let from_f64 = Money::deserialize(F64Deserializer::<ValueError>::new(45.1)).unwrap();
    assert_eq!(from_f64.amount(), Decimal::from_str("45.1").unwrap());
    let tiny = Money::deserialize(F64Deserializer::<ValueError>::new(1e-20)).unwrap();
    assert!(tiny.amount() > Decimal::ZERO && tiny.amount() < Decimal::from_str("1e-19").unwrap());
    for bad in [f64::INFINITY, f64::NAN] {
        let err = Money::deserialize(F64Deserializer::<ValueError>::new(bad)).unwrap_err();
        assert!(err.to_string().contains("not a finite number"), "{err}");
    }
    let err = Money::deserialize(F64Deserializer::<ValueError>::new(1e300)).unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
    let m: Money = serde_json::from_str(r#"" 12.30 ""#).unwrap();
    assert_eq!(m.amount(), Decimal::from_str("12.3").unwrap());
    let err = serde_json::from_str::<Money>("{}").unwrap_err();
    assert!(err.to_string().contains("an amount (a number)"), "{err}");
}
