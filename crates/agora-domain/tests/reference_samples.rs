//! Every JSON sample of the API reference parses and re-serializes to an
//! equivalent JSON value; the reference tables match the code row for row.
//! The samples are fragments: how each was mended is in docs/wire-notes.md.

#![allow(clippy::unwrap_used)]

mod common;

use agora_domain::ClaimId;
use agora_domain::tables::{
    InterventionTypeId, ManufacturerId, OEMS, REPAIR_TYPES, WarrantyConditionCode, coverage,
    repair_type,
};
use agora_domain::{
    CompleteRepairState, Envelope, OneOrMany, Product, StatusCode, Verdict, WarrantyClaimResult,
    tables::Coverage,
};
use common::assert_lossless;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/reference/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn status_samples_round_trip_as_repair_files() {
    for (name, code) in [
        (
            "01-status-appointment-102.json",
            StatusCode::AppointmentConfirmed,
        ),
        ("02-status-part-ordered-205.json", StatusCode::PartsOrdered),
        (
            "03-status-part-broken-204.json",
            StatusCode::PartsReceivedDefective,
        ),
        ("04-status-repair-305.json", StatusCode::RepairFinished),
        ("05-status-appliance-406.json", StatusCode::Diagnosis),
        (
            "06-status-consumer-501.json",
            StatusCode::WaitingQuotationApproval,
        ),
        (
            "07-status-not-possible-901.json",
            StatusCode::InterventionRefusedByConsumer,
        ),
    ] {
        let doc = fixture(name);
        assert_lossless::<CompleteRepairState>(&doc);
        let file: CompleteRepairState = serde_json::from_value(doc).unwrap();
        assert_eq!(file.last_status(), Some(&code), "{name}");
    }
}

#[test]
fn appointment_sample_carries_what_102_requires() {
    let file: CompleteRepairState =
        serde_json::from_value(fixture("01-status-appointment-102.json")).unwrap();
    let status = &file.state_natures.as_ref().unwrap()[0];
    agora_domain::status::check_status(status).unwrap();
    assert_eq!(
        status.appointment_date.as_ref().unwrap().to_wire(),
        "2022-05-02T08:00:00.000Z"
    );
}

/// The 204 sample carries a part reference and no order number, which the
/// status table asks for: the local rule is no stricter than the sample.
#[test]
fn the_204_sample_passes_the_status_rules_with_a_warning() {
    let file: CompleteRepairState =
        serde_json::from_value(fixture("03-status-part-broken-204.json")).unwrap();
    let status = &file.state_natures.as_ref().unwrap()[0];
    let warnings = agora_domain::status::check_status(status).unwrap();
    assert_eq!(
        warnings,
        [agora_domain::status::StatusWarning::MissingOrderNumber {
            code: StatusCode::PartsReceivedDefective,
            index: 0
        }]
    );
}

#[test]
fn claim_response_sample_is_an_object_where_the_model_says_array() {
    let doc = fixture("08-claim-response.json");
    assert_lossless::<Envelope<OneOrMany<WarrantyClaimResult>>>(&doc);
    let env: Envelope<OneOrMany<WarrantyClaimResult>> = serde_json::from_value(doc).unwrap();
    assert_eq!(env.verdict(), Verdict::Success);
    let data = env.response_data.unwrap();
    assert!(matches!(data, OneOrMany::One(_)));
    let result = &data.as_slice()[0];
    assert_eq!(result.claim_id, Some(ClaimId(5_272_901)));
    assert_eq!(result.is_valid, Some(false));
    let fields: Vec<_> = result
        .validation_errors
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| e.field.as_deref().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "Serial Number",
            "Call date",
            "ConsumerDto.LastName",
            "ConsumerDto.Address1",
            "ConsumerDto.Zip",
            "ConsumerDto.MobilePhone"
        ]
    );
}

#[test]
fn products_example_round_trips() {
    let doc = fixture("10-envelope-products-example.json");
    assert_lossless::<Envelope<Vec<Product>>>(&doc);
    let env: Envelope<Vec<Product>> = serde_json::from_value(doc).unwrap();
    assert_eq!(env.response_data.unwrap().len(), 3);
}

#[test]
fn structure_diagram_names_the_envelope_fields_and_is_not_data() {
    // 5.3.4 shows the envelope's shape with `{}` placeholders: its keys are
    // the five envelope fields, and as data it is refused with a typed error
    // naming the first field of the wrong type.
    let doc = fixture("09-envelope-structure.json");
    let keys: Vec<_> = doc.as_object().unwrap().keys().cloned().collect();
    let mut expected = vec![
        "IsValid",
        "ResponseData",
        "ResponseErrorMessage",
        "ResponseMessage",
        "ResponseStatus",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    let err = Envelope::<Value>::from_slice(doc.to_string().as_bytes()).unwrap_err();
    assert!(
        ["ResponseStatus", "IsValid"].contains(&err.path.as_str()),
        "{err}"
    );
}

/// Reads the rows of the reference's table 6.4 (copied verbatim into the fixture).
fn table_6_4() -> Vec<(u32, String, u32, String, String)> {
    let text = include_str!("fixtures/repair-types-6.4.txt");
    text.lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()) && l.contains(" | "))
        .map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cols[0].parse().unwrap(),
                cols[1].to_owned(),
                cols[2].parse().unwrap(),
                cols[3].to_owned(),
                cols[4].to_owned(),
            )
        })
        .collect()
}

#[test]
fn repair_types_match_table_6_4_row_for_row() {
    let rows = table_6_4();
    assert_eq!(rows.len(), 88);
    assert_eq!(rows.len(), REPAIR_TYPES.len());
    for ((m, name, t, desc, cond), row) in rows.iter().zip(REPAIR_TYPES) {
        assert_eq!(row.manufacturer, ManufacturerId(*m));
        assert_eq!(row.manufacturer_name, name);
        assert_eq!(row.intervention_type, InterventionTypeId(*t));
        assert_eq!(row.short_description, desc);
        let code = match cond.as_str() {
            "WAR" => WarrantyConditionCode::War,
            "EXTENDEDWAR" => WarrantyConditionCode::ExtendedWar,
            "OUTOFWAR" => WarrantyConditionCode::OutOfWar,
            other => panic!("unknown condition {other}"),
        };
        assert_eq!(row.condition, code);
        // Every lookup agrees with the row.
        let found = repair_type(ManufacturerId(*m), InterventionTypeId(*t)).unwrap();
        assert_eq!(found, row);
        assert_eq!(
            agora_domain::tables::warranty_condition(ManufacturerId(*m), InterventionTypeId(*t))
                .unwrap()
                .as_str(),
            cond
        );
        let expected = if *t == 7 {
            Coverage::NotCovered
        } else {
            Coverage::Covered(code.into())
        };
        assert_eq!(
            coverage(ManufacturerId(*m), InterventionTypeId(*t)),
            expected
        );
        assert!(
            ManufacturerId(*m)
                .repair_types()
                .any(|r| r.intervention_type == InterventionTypeId(*t))
        );
    }
    // Ids seen only in 6.4 are known OEMs too.
    for id in [3, 9, 32, 34, 15001, 15002, 15003] {
        assert!(ManufacturerId(id).name().is_some(), "{id}");
    }
    // A type the table lacks is not claimable.
    assert_eq!(
        coverage(ManufacturerId(15), InterventionTypeId(2)),
        Coverage::UnknownRepairType
    );
}

#[test]
fn oems_match_table_6_3() {
    let text = include_str!("fixtures/oems-6.3.txt");
    let rows: Vec<(u32, &str)> = text
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()) && l.contains(" | "))
        .map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            (cols[0].parse().unwrap(), cols[1])
        })
        .collect();
    assert_eq!(rows.len(), 14);
    for (id, name) in &rows {
        let oem = OEMS.iter().find(|o| o.id == ManufacturerId(*id)).unwrap();
        assert_eq!(oem.name, Some(*name));
    }
    assert_eq!(OEMS.iter().filter(|o| o.name.is_some()).count(), rows.len());
}

#[test]
fn status_codes_match_the_reference_tables() {
    let text = include_str!("fixtures/status-codes.txt");
    let mut seen = 0;
    for line in text.lines() {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        let code = StatusCode::parse_known(cols[0]).unwrap();
        assert_eq!(code.description(), Some(cols[1]), "{}", cols[0]);
        let requirement = match cols[2] {
            "APPOINTMENT DATES MANDATORY" => agora_domain::Requirement::AppointmentDates,
            "PART REF & ORDER NUMBER" => agora_domain::Requirement::PartReferenceAndOrderNumber,
            _ => agora_domain::Requirement::FreeComment,
        };
        assert_eq!(code.requirement(), requirement, "{}", cols[0]);
        seen += 1;
    }
    // The tables list all but 601, which only the reference's note names.
    assert_eq!(seen + 1, StatusCode::KNOWN.len());
    assert!(!StatusCode::ClosedWithWarrantyIntervention.is_client_settable());
}
