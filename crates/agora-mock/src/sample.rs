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
