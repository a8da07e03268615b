//! Drafting: a repair file from a work order, a claim from a repair file.
//! Each field the draft carries over is checked against the field it comes
//! from, so a field left behind or taken from the wrong place is seen.

#![allow(clippy::unwrap_used)]

use agora_domain::InterventionId;
use agora_domain::{
    CompleteRepairState, InterventionTypeId, MandateLightResponse, StatusCode, WarrantyClaim,
};
use serde_json::{Value, json};

/// A repair file with every field a claim draws on, and more.
fn full_file() -> CompleteRepairState {
    serde_json::from_value(json!({
        "InterventionId": 500021, "MandateId": 100021, "ManufacturerId": 19,
        "Brand": "DeLonghi", "CommercialRef": "ECAM22.110.B", "TechnicalRef": "0132213089",
        "SerialNumber": "DL2211B0000458812AB", "ManufacturingCode": "2141",
        "Consumer": {
            "Title": 2, "LastName": "Martin", "FirstName": "Claire",
            "Address1": "12 rue des Lilas", "Address2": "Bâtiment B", "Address3": "3e étage",
            "Zip": "69003", "Town": "Lyon", "Country": 250,
            "Phone": "0472000000", "SMSCode": "0612345678", "Email": "claire@example.fr"
        },
        "Intervention": {
            "InterventionType": 1, "IRISCondition": "1", "IRISSymptom": "130",
            "IRISSection": "A", "FailureDescription": "no hot water"
        },
        "Parts": [
            {"Reference": "00019-00000042", "Quantity": 2, "OrderNumber": "ORD-1", "Note": "pump"},
            {"Reference": "00019-00000043", "Quantity": 1, "ToBeOrdered": true},
            {"Reference": "00019-00000044", "Quantity": 3, "OrderNumber": "ORD-2"}
        ],
        "StateNatures": [
            {"Code": "406", "Comment": "diagnosis"},
            {"Code": "102", "AppointmentDate": "2024-03-02T08:00:00.000Z",
             "AppointmentEndDate": "2024-03-02T09:30:00.000Z"},
            {"Code": "102", "AppointmentDate": "2024-03-05T08:00:00.000Z",
             "AppointmentEndDate": "2024-03-05T09:00:00.000Z"},
            {"Code": "305"}
        ]
    }))
    .unwrap()
}

#[test]
fn a_claim_drafted_from_a_file_carries_each_field_from_its_source() {
    let claim = WarrantyClaim::from_repair_file(&full_file());
    // The whole draft, as sent: nothing more, nothing less.
    assert_eq!(
        serde_json::to_value(&claim).unwrap(),
        json!({
            "ClaimType": {
                "InterventionId": 500021, "ManufacturerId": 19,
                "CommercialRef": "ECAM22.110.B", "TechnicalRef": "0132213089",
                "SerialNumber": "DL2211B0000458812AB"
            },
            "ClaimConso": {
                "Title": 2, "LastName": "Martin", "FirstName": "Claire",
                "Address1": "12 rue des Lilas", "Address2": "Bâtiment B",
                "Zip": "69003", "City": "Lyon", "Country": 250,
                "MobilePhone": "0612345678", "Email": "claire@example.fr"
            },
            "ClaimInfos": {
                // The first appointment, not the last.
                "InterventionStartDateTime": "2024-03-02T08:00:00.000Z",
                "InterventionEndDateTime": "2024-03-02T09:30:00.000Z",
                "IRISCondition": "1", "IRISSymptom": "130"
            },
            // DeLonghi's repair type 1 is under warranty (table 6.4).
            "ClaimLab": {"OriginCode": "WAR"},
            // Only the parts that were ordered.
            "ClaimParts": [
                {"PartReference": "00019-00000042", "Quantity": 2},
                {"PartReference": "00019-00000044", "Quantity": 3}
            ]
        })
    );
}

#[test]
fn the_draft_takes_the_landline_without_a_mobile_and_the_origin_from_the_repair_type() {
    let mut file = full_file();
    file.consumer.as_mut().unwrap().sms_code = None;
    file.intervention.as_mut().unwrap().intervention_type = Some(InterventionTypeId(5));
    let claim = WarrantyClaim::from_repair_file(&file);
    assert_eq!(
        claim.claim_conso.unwrap().mobile_phone.as_deref(),
        Some("0472000000")
    );
    assert_eq!(
        claim.claim_lab.unwrap().origin_code.as_deref(),
        Some("OUTOFWAR")
    );

    // BSH's repair type 2 is an extended warranty.
    file.manufacturer_id = Some(agora_domain::ManufacturerId(4));
    file.intervention.as_mut().unwrap().intervention_type = Some(InterventionTypeId(2));
    let lab = WarrantyClaim::from_repair_file(&file).claim_lab.unwrap();
    assert_eq!(lab.origin_code.as_deref(), Some("EXTENDEDWAR"));
}

#[test]
fn what_the_file_does_not_hold_stays_out_of_the_draft() {
    let bare = CompleteRepairState {
        intervention_id: Some(InterventionId(7)),
        ..CompleteRepairState::default()
    };
    let claim = WarrantyClaim::from_repair_file(&bare);
    // Sections are there to fill; no consumer, no parts, no origin code
    // (no OEM and repair type to find it from), no times.
    assert_eq!(
        serde_json::to_value(&claim).unwrap(),
        json!({
            "ClaimType": {"InterventionId": 7},
            "ClaimInfos": {},
            "ClaimLab": {}
        })
    );
    // Parts none of which was ordered: no parts list at all.
    let mut file = full_file();
    for part in file.parts.as_mut().unwrap() {
        part.order_number = None;
    }
    assert_eq!(WarrantyClaim::from_repair_file(&file).claim_parts, None);
    // A repair type the OEM's table lacks: no origin code.
    file.intervention.as_mut().unwrap().intervention_type = Some(InterventionTypeId(99));
    let lab = WarrantyClaim::from_repair_file(&file).claim_lab.unwrap();
    assert_eq!(lab.origin_code, None);
}

#[test]
fn a_repair_file_from_a_work_order_keeps_its_ids_consumer_and_repair_type() {
    let mandate: MandateLightResponse = serde_json::from_value(json!({
        "MandateId": 100021, "ManufacturerId": 19, "OEMId": 34, "InterventionTypeId": 5,
        "InterventionType": {"InterventionTypeId": 1},
        "ClientCode": "SC-1",
        "Consumer": {"Title": "2", "LastName": "Martin", "FirstName": "Claire",
                     "Address1": "12 rue des Lilas", "Zip": "69003"}
    }))
    .unwrap();
    let file = CompleteRepairState::from_work_order(&mandate, InterventionId(500021));
    assert_eq!(
        serde_json::to_value(&file).unwrap(),
        json!({
            "InterventionId": 500021, "MandateId": 100021, "ManufacturerId": 19,
            "Consumer": {"Title": 2, "LastName": "Martin", "FirstName": "Claire",
                         "Address1": "12 rue des Lilas", "Zip": "69003"},
            "Intervention": {"InterventionType": 5}
        })
    );
}

#[test]
fn a_repair_file_from_a_work_order_carries_every_field_it_knows() {
    // ConsumerLight and MandateLightResponse elide most fields (`...`,
    // 2.1.1): what a work order gives under the repair file's names is
    // carried over, in the repair file's own forms (Title 2.2.1 is an
    // integer); what the repair file does not know is left to the work
    // order.
    let mandate: MandateLightResponse = serde_json::from_value(json!({
        "MandateId": 100022, "ManufacturerId": 19, "InterventionTypeId": 1,
        "Brand": "DeLonghi", "CommercialRef": "ECAM22.110.B", "SerialNumber": "SN-1",
        "PurchaseDate": "2024-01-15T00:00:00Z", "Unrelated": "x",
        "Reseller": {"ResellerCode": "R1", "ResellerAddress1": "1 av. Foch",
                     "ResellerZip": "75016", "ResellerName": "Boulanger"},
        "Consumer": {"Title": "2", "LastName": "Martin", "FirstName": "Claire",
                     "Address1": "12 rue des Lilas", "zip": "69003", "Town": "Lyon",
                     "Country": 250, "Phone": "0412345678", "Email": "c@example.org",
                     "Fax": "0400000000", "Address2": null}
    }))
    .unwrap();
    let file = CompleteRepairState::from_work_order(&mandate, InterventionId(500022));
    assert_eq!(
        serde_json::to_value(&file).unwrap(),
        json!({
            "InterventionId": 500022, "MandateId": 100022, "ManufacturerId": 19,
            "Brand": "DeLonghi", "CommercialRef": "ECAM22.110.B", "SerialNumber": "SN-1",
            "PurchaseDate": "2024-01-15T00:00:00Z",
            "Consumer": {"Title": 2, "LastName": "Martin", "FirstName": "Claire",
                         "Address1": "12 rue des Lilas", "Zip": "69003", "Town": "Lyon",
                         "Country": 250, "Phone": "0412345678", "Email": "c@example.org"},
            "Reseller": {"Name": "Boulanger", "Address1": "1 av. Foch", "Zip": "75016"},
            "Intervention": {"InterventionType": 1}
        })
    );

    // Without ManufacturerId, the OEMId; without InterventionTypeId, the
    // InterventionType's.
    let mandate: MandateLightResponse = serde_json::from_value(json!({
        "OEMId": 34, "InterventionType": {"InterventionTypeId": 8}
    }))
    .unwrap();
    let file = CompleteRepairState::from_work_order(&mandate, InterventionId(1));
    let value = serde_json::to_value(&file).unwrap();
    assert_eq!(value["ManufacturerId"], 34);
    assert_eq!(value["Intervention"], json!({"InterventionType": 8}));
    assert_eq!(value.get("Consumer"), None::<&Value>);
    assert_eq!(file.intervention_type(), Some(InterventionTypeId(8)));
}

#[test]
fn the_last_status_is_the_latest_with_a_code() {
    let mut file = full_file();
    assert_eq!(file.last_status(), Some(&StatusCode::RepairFinished));
    assert_eq!(file.intervention_type(), Some(InterventionTypeId(1)));
    // A status without code does not hide the one before it.
    file.state_natures
        .as_mut()
        .unwrap()
        .push(serde_json::from_value(json!({"Comment": "note"})).unwrap());
    assert_eq!(file.last_status(), Some(&StatusCode::RepairFinished));
    file.state_natures = Some(vec![]);
    assert_eq!(file.last_status(), None);
    file.state_natures = None;
    assert_eq!(file.last_status(), None);
    file.intervention = None;
    assert_eq!(file.intervention_type(), None);
}

#[test]
fn a_refused_update_is_taken_out_of_the_file_and_later_changes_stay() {
    let accepted: CompleteRepairState = serde_json::from_value(json!({
        "InterventionId": 7, "SerialNumber": "A", "Brand": "DeLonghi",
        "StateNatures": [{"Code": "406", "Comment": "diag"}]
    }))
    .unwrap();
    let refused: CompleteRepairState = serde_json::from_value(json!({
        "InterventionId": 7, "SerialNumber": "B", "Brand": "DeLonghi",
        "StateNatures": [{"Code": "406", "Comment": "diag"}, {"Code": "999", "Comment": "?"}]
    }))
    .unwrap();
    // Since the refused update: the brand changed, and a status added.
    let mut file: CompleteRepairState = serde_json::from_value(json!({
        "InterventionId": 7, "SerialNumber": "B", "Brand": "Kenwood",
        "StateNatures": [{"Code": "406", "Comment": "diag"}, {"Code": "999", "Comment": "?"},
                         {"Code": "305", "Comment": "done"}]
    }))
    .unwrap();
    let aside = file.set_aside_refused(&refused, Some(&accepted));
    assert_eq!(aside.len(), 1);
    assert_eq!(aside[0].code.as_ref().unwrap().as_str(), "999");
    assert_eq!(
        serde_json::to_value(&file).unwrap(),
        json!({
            "InterventionId": 7, "SerialNumber": "A", "Brand": "Kenwood",
            "StateNatures": [{"Code": "406", "Comment": "diag"}, {"Code": "305", "Comment": "done"}]
        })
    );
    // A field changed again since the refusal keeps its newer value.
    let mut file = refused.clone();
    file.serial_number = Some("C".into());
    file.set_aside_refused(&refused, Some(&accepted));
    assert_eq!(file.serial_number.as_deref(), Some("C"));
    // With nothing accepted yet, every status of the refused update goes
    // and the fields stay (the file AgoraPlus made is not known here).
    let mut file = refused.clone();
    let aside = file.set_aside_refused(&refused, None);
    assert_eq!(aside.len(), 2);
    assert_eq!(file.state_natures, Some(vec![]));
    assert_eq!(file.serial_number.as_deref(), Some("B"));
    assert_eq!(file.brand.as_deref(), Some("DeLonghi"));
}
