//! Reference identifiers as they are shown, and what a status must carry.

#![allow(clippy::unwrap_used)]

use agora_domain::OrderNumber;
use agora_domain::status::{StatusError, StatusWarning, check_status};
use agora_domain::tables::{Coverage, coverage};
use agora_domain::{
    CountryCode, InterventionTypeId, Lcid, ManufacturerId, Part, StateNature, StatusCode, Title,
    WireDateTime,
};

#[test]
fn identifiers_show_as_their_numbers() {
    assert_eq!(ManufacturerId(19).to_string(), "19");
    assert_eq!(InterventionTypeId(7).to_string(), "7");
    assert_eq!(Lcid::FRENCH.to_string(), "1036");
    assert_eq!(format!("OEM {}", ManufacturerId(4)), "OEM 4");
}

#[test]
fn countries_by_their_iso_numbers() {
    let france = CountryCode(250);
    assert_eq!(france.name(), Some("France"));
    assert_eq!(france.alpha3(), Some("FRA"));
    assert_eq!(CountryCode::from_alpha3("FRA"), Some(france));
    assert_eq!(CountryCode(276).name(), Some("Germany"));
    assert_eq!(CountryCode(999).name(), None);
    assert_eq!(CountryCode(999).alpha3(), None);
    assert_eq!(CountryCode::from_alpha3("XXX"), None);
}

#[test]
fn only_a_covered_repair_type_is_claimable() {
    assert!(coverage(ManufacturerId(19), InterventionTypeId(1)).is_claimable());
    assert_eq!(
        coverage(ManufacturerId(19), InterventionTypeId(7)),
        Coverage::NotCovered
    );
    assert!(!Coverage::NotCovered.is_claimable());
    assert!(!Coverage::UnknownRepairType.is_claimable());
    assert!(!coverage(ManufacturerId(19), InterventionTypeId(99)).is_claimable());
}

#[test]
fn titles_of_the_wrong_type_say_what_a_title_is() {
    let err = serde_json::from_str::<Title>("true").unwrap_err();
    assert!(
        err.to_string()
            .contains("a title number (1 Mrs, 2 Ms, 3 Mr, 4 Company)"),
        "{err}"
    );
    let err = serde_json::from_str::<Title>(r#""Mr""#).unwrap_err();
    assert!(
        err.to_string().contains("title `Mr` is not 1, 2, 3 or 4"),
        "{err}"
    );
    assert_eq!(
        serde_json::from_str::<Title>(r#"" 3 ""#).unwrap(),
        Title::Mr
    );
}

#[test]
fn status_codes_of_the_wrong_type_say_what_a_code_is() {
    let err = serde_json::from_str::<StatusCode>("true").unwrap_err();
    assert!(
        err.to_string()
            .contains("a status code string such as \"102\""),
        "{err}"
    );
    assert_eq!(
        serde_json::from_str::<StatusCode>("305").unwrap(),
        StatusCode::RepairFinished
    );
    assert_eq!(
        serde_json::from_str::<StatusCode>("-5").unwrap(),
        StatusCode::lenient("-5")
    );
}

#[test]
fn only_agoraplus_sets_601() {
    for code in StatusCode::KNOWN {
        assert_eq!(
            code.is_client_settable(),
            *code != StatusCode::ClosedWithWarrantyIntervention,
            "{code}"
        );
    }
    assert!(StatusCode::lenient("777").is_client_settable());
}

fn appointment(start: &str, end: &str) -> StateNature {
    let mut s = StateNature::new(StatusCode::AppointmentConfirmed, "");
    s.appointment_date = Some(WireDateTime::lenient(start));
    s.appointment_end_date = Some(WireDateTime::lenient(end));
    s
}

#[test]
fn an_appointment_starts_before_it_ends() {
    assert_eq!(
        check_status(&appointment("2024-03-02T08:00:00Z", "2024-03-02T08:00:01Z")),
        Ok(vec![])
    );
    for (start, end) in [
        ("2024-03-02T08:00:00Z", "2024-03-02T08:00:00Z"),
        ("2024-03-02T09:00:00Z", "2024-03-02T08:00:00Z"),
    ] {
        assert_eq!(
            check_status(&appointment(start, end)),
            Err(StatusError::AppointmentNotOrdered {
                code: StatusCode::AppointmentConfirmed
            }),
            "{start} {end}"
        );
    }
    assert_eq!(
        check_status(&appointment("soon", "2024-03-02T08:00:00Z")),
        Err(StatusError::UnreadableDate {
            code: StatusCode::AppointmentConfirmed,
            field: "AppointmentDate"
        })
    );
    assert_eq!(
        check_status(&appointment("2024-03-02T08:00:00Z", "later")),
        Err(StatusError::UnreadableDate {
            code: StatusCode::AppointmentConfirmed,
            field: "AppointmentEndDate"
        })
    );
    let mut no_end = appointment("2024-03-02T08:00:00Z", "x");
    no_end.appointment_end_date = None;
    assert_eq!(
        check_status(&no_end),
        Err(StatusError::MissingAppointmentDate {
            code: StatusCode::AppointmentConfirmed,
            field: "AppointmentEndDate"
        })
    );
}

fn received(parts: Vec<(Option<&str>, Option<&str>)>) -> StateNature {
    let mut s = StateNature::new(StatusCode::PartsReceived, "");
    s.parts = Some(
        parts
            .into_iter()
            .map(|(reference, order)| Part {
                reference: reference.map(str::to_owned),
                order_number: order.map(OrderNumber::from),
                ..Part::default()
            })
            .collect(),
    );
    s
}

#[test]
fn received_parts_carry_their_reference_and_order_number() {
    let code = StatusCode::PartsReceived;
    assert_eq!(
        check_status(&received(vec![
            (Some("P1"), Some("ORD-1")),
            (Some("P2"), Some("ORD-2"))
        ])),
        Ok(vec![])
    );
    // A part without its reference is refused.
    for parts in [
        vec![(Some(" "), Some("ORD-1"))],
        vec![(None, Some("ORD-1"))],
    ] {
        assert_eq!(
            check_status(&received(parts.clone())),
            Err(StatusError::MissingPartField {
                code: code.clone(),
                index: 0,
                field: "Reference"
            }),
            "{parts:?}"
        );
    }
    // Without its order number it is sent, with a warning (the reference's
    // own 204 sample sends a part reference alone).
    for (parts, index) in [
        (vec![(Some("P1"), Some("\t"))], 0),
        (vec![(Some("P1"), Some("ORD-1")), (Some("P2"), None)], 1),
    ] {
        assert_eq!(
            check_status(&received(parts.clone())),
            Ok(vec![StatusWarning::MissingOrderNumber {
                code: code.clone(),
                index
            }]),
            "{parts:?}"
        );
    }
    assert_eq!(
        check_status(&received(vec![])),
        Err(StatusError::MissingParts { code: code.clone() })
    );
    let mut none = received(vec![]);
    none.parts = None;
    assert_eq!(check_status(&none), Err(StatusError::MissingParts { code }));
    assert_eq!(
        check_status(&StateNature::default()),
        Err(StatusError::MissingCode)
    );
}
