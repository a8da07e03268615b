//! A sample repair file's details, as a service center completes them: the
//! DeLonghi coffee machine and the Lyon consumer of the demo and the chaos
//! run's workload.

use agora_domain::{CompleteRepairState, CountryCode, Lcid, Title};

/// Completes `file` with the appliance's details (DeLonghi ECAM22.110.B,
/// serial number `serial`) and the consumer's address and contacts: what
/// a claim needs beyond the work order.
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
