//! A sample repair file's details, as a service center completes them: the
//! DeLonghi coffee machine and the Lyon consumer of the demo and the chaos
//! run's workload.

use agora_domain::{
    CompleteRepairState, Consumer, CountryCode, InterventionTypeId, Lcid, ManufacturerId,
    RepairOriginCode, Title,
};

/// Completes `file` with the appliance's details (DeLonghi ECAM22.110.B,
/// serial number `serial`), the consumer's address and contacts, and the
/// repair's origin: what a claim needs beyond the work order, and what the
/// reference marks required that a work order does not give.
pub fn fill_appliance_and_consumer(file: &mut CompleteRepairState, serial: &str) {
    file.brand = Some("DeLonghi".into());
    file.family = Some("Coffee machine".into());
    file.commercial_ref = Some("ECAM22.110.B".into());
    file.technical_ref = Some("0132213089".into());
    file.serial_number = Some(serial.into());
    file.manufacturing_code = Some("2141".into());
    let c = file.consumer.get_or_insert_with(Default::default);
    c.title = Some(Title::Ms);
    c.zip = Some("69003".into());
    c.town = Some("Lyon".into());
    c.country = Some(CountryCode(250));
    c.phone = Some("0472000000".into());
    c.sms_code = Some("0612345678".into());
    c.lng_id = Some(Lcid::FRENCH);
    file.intervention
        .get_or_insert_with(Default::default)
        .repair_origin_code
        .get_or_insert(RepairOriginCode::Consumer);
}

/// A repair file taken in directly (`CreateRepair`), holding everything
/// the reference marks required: the demo's coffee machine (serial number
/// `serial`), its Lyon consumer, an in-warranty repair brought by the
/// consumer.
pub fn walk_in(serial: &str) -> CompleteRepairState {
    let mut file = CompleteRepairState {
        manufacturer_id: Some(ManufacturerId(19)),
        consumer: Some(Consumer {
            last_name: Some("Durand".into()),
            first_name: Some("Claire".into()),
            address1: Some("12 rue de la République".into()),
            ..Consumer::default()
        }),
        ..CompleteRepairState::default()
    };
    fill_appliance_and_consumer(&mut file, serial);
    file.intervention
        .get_or_insert_with(Default::default)
        .intervention_type = Some(InterventionTypeId(1));
    file
}

/// [`walk_in`] as JSON with `fields` written over it, objects merged key
/// by key (`{"Consumer": {"Zip": null}}` changes only the zip): a body for
/// `CreateRepair` that differs from a complete one where a test says.
pub fn walk_in_with(fields: serde_json::Value) -> serde_json::Value {
    fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
        match (into, from) {
            (serde_json::Value::Object(into), serde_json::Value::Object(from)) => {
                for (key, value) in from {
                    merge(into.entry(key).or_insert(serde_json::Value::Null), value);
                }
            }
            (into, from) => *into = from,
        }
    }
    let mut body = serde_json::to_value(walk_in("SN-0001")).unwrap_or_default();
    merge(&mut body, fields);
    body
}

/// The `n`-th work order the simulator's autopilot publishes: a DeLonghi
/// (OEM 19) coffee machine under warranty, with one of a few symptoms and
/// consumers picked by `pick` (the autopilot's seeded dice).
pub fn work_order(n: u64, pick: u64) -> agora_domain::MandateLightResponse {
    const SYMPTOMS: [&str; 4] = [
        "no hot water",
        "leaks under the drip tray",
        "grinder blocked",
        "milk frother does not foam",
    ];
    const CONSUMERS: [(&str, &str, &str); 3] = [
        ("Martin", "Claire", "12 rue des Lilas"),
        ("Bernard", "Louis", "4 place Bellecour"),
        ("Petit", "Amina", "27 cours Gambetta"),
    ];
    let symptom = SYMPTOMS[(pick % 4) as usize];
    let (last, first, address) = CONSUMERS[((pick / 4) % 3) as usize];
    let value = serde_json::json!({
        "ManufacturerId": 19, "OEMId": 19, "ClientCode": "SC-AUTOPILOT",
        "OrderMission": format!("Coffee machine {n}: {symptom}"), "InterventionTypeId": 1,
        "InterventionType": {"InterventionTypeId": 1, "Label": "Sous-garantie",
                              "ShortDescription": "1 - Sous-garantie", "IsUnderWarranty": true},
        "Consumer": {"Title": "2", "LastName": last, "FirstName": first, "Address1": address}
    });
    serde_json::from_value(value).unwrap_or_default()
}
