//! What the workers do to a repair file: the next step of its life, read
//! from the local file alone (so a restarted worker picks up where the
//! store says the file stands), and the data each step sends.

use agora_domain::OrderNumber;
use agora_domain::lifecycle::ClaimState;
use agora_domain::{
    ClaimId, CompleteRepairState, InterventionId, LogisticStatus, MandateLightResponse,
    ManufacturerId, Money, Part, StateNature, StatusCode, WarrantyClaim, WireDateTime,
    money_from_cents,
};
use agora_ports::LocalRepair;
use serde_json::json;

/// The OEM of every work order (DeLonghi: its rules want a 19-character
/// serial number and a mobile phone).
pub const OEM: ManufacturerId = ManufacturerId(19);

/// The next thing to do to a repair file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Complete the appliance and consumer details (`UpdateRepair`).
    Details,
    /// Report 102 with the appointment.
    Appointment,
    /// Report 406.
    Diagnosis,
    /// Add the part to order (`UpdateRepair`).
    AddPart,
    /// Report 205 with the part.
    PartsOrdered,
    /// Place the part order.
    Order,
    /// The OEM ships these orders (control API); then track them.
    Ship(Vec<OrderNumber>),
    /// Report 201 with the part and its order number.
    Received {
        /// The order.
        order: String,
    },
    /// Report 305.
    Finished,
    /// Create the claim (with a mistake: NOTVALID).
    CreateClaim,
    /// Correct the claim (VALID, transferred).
    CorrectClaim,
    /// The OEM decides on the transferred claim (control API); then track
    /// the claims.
    Decide(ClaimId),
    /// Send the invoice reference of the claim's draft.
    Invoice(ClaimId),
    /// Nothing left: the claim is invoiced.
    Done,
}

fn has_status(repair: &LocalRepair, code: &StatusCode) -> bool {
    repair
        .file
        .state_natures
        .iter()
        .flatten()
        .any(|s| s.code.as_ref() == Some(code))
}

/// The next step of a file, from its local state.
pub fn next_step(repair: &LocalRepair) -> Step {
    if repair.lifecycle.invoiced {
        return Step::Done;
    }
    match (repair.lifecycle.claim, repair.claim_id) {
        (Some(ClaimState::ClosedAccepted), Some(id)) => return Step::Invoice(id),
        (Some(ClaimState::Valid { transferred: true }), Some(id)) => return Step::Decide(id),
        (Some(_), _) => return Step::CorrectClaim,
        (None, _) => {}
    }
    if repair.file.serial_number.is_none() {
        return Step::Details;
    }
    if !has_status(repair, &StatusCode::AppointmentConfirmed) {
        return Step::Appointment;
    }
    if !has_status(repair, &StatusCode::Diagnosis) {
        return Step::Diagnosis;
    }
    if repair.file.parts.as_deref().unwrap_or_default().is_empty() {
        return Step::AddPart;
    }
    if !has_status(repair, &StatusCode::PartsOrdered) {
        return Step::PartsOrdered;
    }
    if repair.orders.is_empty() {
        return Step::Order;
    }
    let unshipped: Vec<OrderNumber> = repair
        .orders
        .iter()
        .filter(|o| o.status_code != Some(LogisticStatus::Shipped))
        .filter_map(|o| o.order_number.clone())
        .collect();
    if !unshipped.is_empty() {
        return Step::Ship(unshipped);
    }
    if !has_status(repair, &StatusCode::PartsReceived) {
        let order = repair
            .orders
            .iter()
            .find_map(|o| o.order_number.clone())
            .unwrap_or_default();
        return Step::Received { order: order.0 };
    }
    if !has_status(repair, &StatusCode::RepairFinished) {
        return Step::Finished;
    }
    Step::CreateClaim
}

/// A work order as the OEM's call center sends it.
pub fn mandate(n: u64) -> MandateLightResponse {
    let value = json!({
        "ManufacturerId": OEM.0, "OEMId": OEM.0, "ClientCode": "SC-CHAOS",
        "OrderMission": format!("Coffee machine {n}: no hot water"), "InterventionTypeId": 1,
        "InterventionType": {"InterventionTypeId": 1, "Label": "Sous-garantie",
                              "ShortDescription": "1 - Sous-garantie", "IsUnderWarranty": true},
        "Consumer": {"Title": "2", "LastName": "Martin", "FirstName": "Claire",
                     "Address1": "12 rue des Lilas"}
    });
    serde_json::from_value(value).unwrap_or_default()
}

/// The file's serial number: 19 characters, as DeLonghi's rules want.
pub fn serial(file: InterventionId) -> String {
    format!("DL{file:017}")
}

/// The file's one part reference.
pub fn part_reference(file: InterventionId) -> String {
    format!("00019-{:08}", file.0.rem_euclid(100_000_000))
}

/// Completes the appliance and consumer details.
pub fn fill_details(file: &mut CompleteRepairState, id: InterventionId) {
    agora_mock::sample::fill_appliance_and_consumer(file, &serial(id));
}

/// Adds the file's part, to be ordered, unless it is there already (a
/// change may be redone after a conflict).
pub fn add_part(file: &mut CompleteRepairState, id: InterventionId, tag: &str) {
    let reference = part_reference(id);
    let parts = file.parts.get_or_insert_with(Vec::new);
    if parts
        .iter()
        .any(|p| p.reference.as_deref() == Some(reference.as_str()))
    {
        return;
    }
    parts.push(Part {
        reference: Some(reference),
        quantity: Some(1),
        note: Some(tag.to_owned()),
        to_be_ordered: Some(true),
        ..Part::default()
    });
}

fn date(text: &str) -> Option<WireDateTime> {
    WireDateTime::parse(text).ok()
}

/// The status a step reports; its comment (`tag`) is unique in the run,
/// the key of its intent.
pub fn status(step: &Step, id: InterventionId, tag: &str) -> Option<StateNature> {
    let part = |order: Option<&str>| Part {
        reference: Some(part_reference(id)),
        quantity: Some(1),
        order_number: order.map(OrderNumber::from),
        to_be_ordered: order.is_none().then_some(true),
        ..Part::default()
    };
    Some(match step {
        Step::Appointment => {
            let mut s = StateNature::new(StatusCode::AppointmentConfirmed, tag);
            s.appointment_number = Some(1);
            s.appointment_date = date("2024-03-02T08:00:00Z");
            s.appointment_end_date = date("2024-03-02T09:00:00Z");
            s
        }
        Step::Diagnosis => StateNature::new(StatusCode::Diagnosis, tag),
        Step::PartsOrdered => {
            let mut s = StateNature::new(StatusCode::PartsOrdered, tag);
            s.parts = Some(vec![part(None)]);
            s
        }
        Step::Received { order } => {
            let mut s = StateNature::new(StatusCode::PartsReceived, tag);
            s.parts = Some(vec![part(Some(order))]);
            s
        }
        Step::Finished => StateNature::new(StatusCode::RepairFinished, tag),
        _ => return None,
    })
}

/// Completes a claim drafted from the file: the call date and the labor;
/// `tag` marks this version of the claim.
pub fn complete_claim(mut claim: WarrantyClaim, tag: &str) -> WarrantyClaim {
    let infos = claim.claim_infos.get_or_insert_with(Default::default);
    infos.call_date = date("2024-03-01T10:00:00Z");
    infos.iris_symptom = Some(tag.to_owned());
    let lab = claim.claim_lab.get_or_insert_with(Default::default);
    lab.labor_hours = Some(1);
    lab.labor_minutes = Some(15);
    lab.labor_cost = Some(Money(money_from_cents(5250)));
    claim
}

/// The first submission, with the technician's typo in the serial number
/// and no mobile phone: NOTVALID.
pub fn mistaken(claim: WarrantyClaim) -> WarrantyClaim {
    let mut claim = claim;
    claim
        .claim_type
        .get_or_insert_with(Default::default)
        .serial_number = Some("DL2211B000045".into());
    claim
        .claim_conso
        .get_or_insert_with(Default::default)
        .mobile_phone = None;
    claim
}

#[cfg(test)]
mod tests {
    use agora_domain::lifecycle::{RepairEvent, RepairLifecycle};
    use agora_domain::rules::{RuleBook, is_valid};
    use agora_domain::{Lcid, MandateId, PartOrderLine};

    use super::*;

    fn accepted(id: InterventionId) -> LocalRepair {
        let m = mandate(1);
        LocalRepair {
            intervention_id: id,
            mandate_id: Some(MandateId(7)),
            file: CompleteRepairState::from_work_order(&m, id),
            lifecycle: RepairLifecycle::from_work_order(
                Some(OEM),
                Some(agora_domain::InterventionTypeId(1)),
            )
            .apply(&RepairEvent::MandateAccepted)
            .unwrap(),
            claim_id: None,
            orders: Vec::new(),
            attention: None,
            revision: 1,
            work_order: None,
            accepted_at: None,
        }
    }

    fn report(r: &mut LocalRepair, step: &Step) {
        let s = status(step, r.intervention_id, "t").unwrap();
        r.lifecycle = r
            .lifecycle
            .apply(&RepairEvent::StatusReported(s.clone()))
            .unwrap();
        r.file.state_natures.get_or_insert_with(Vec::new).push(s);
    }

    #[test]
    fn a_file_goes_through_every_step_in_order() {
        let mut r = accepted(InterventionId(500_001));
        assert_eq!(next_step(&r), Step::Details);
        fill_details(&mut r.file, InterventionId(500_001));
        assert_eq!(next_step(&r), Step::Appointment);
        report(&mut r, &Step::Appointment);
        assert_eq!(next_step(&r), Step::Diagnosis);
        report(&mut r, &Step::Diagnosis);
        assert_eq!(next_step(&r), Step::AddPart);
        add_part(&mut r.file, InterventionId(500_001), "t");
        add_part(&mut r.file, InterventionId(500_001), "t");
        assert_eq!(r.file.parts.as_ref().unwrap().len(), 1, "added once");
        assert_eq!(next_step(&r), Step::PartsOrdered);
        report(&mut r, &Step::PartsOrdered);
        assert_eq!(next_step(&r), Step::Order);
        r.orders.push(PartOrderLine {
            order_number: Some("ORD-000001".into()),
            reference: Some(part_reference(InterventionId(500_001))),
            ..PartOrderLine::default()
        });
        assert_eq!(next_step(&r), Step::Ship(vec!["ORD-000001".into()]));
        r.orders[0].status_code = Some(LogisticStatus::Shipped);
        let received = Step::Received {
            order: "ORD-000001".into(),
        };
        assert_eq!(next_step(&r), received);
        report(&mut r, &received);
        assert_eq!(next_step(&r), Step::Finished);
        report(&mut r, &Step::Finished);
        assert_eq!(next_step(&r), Step::CreateClaim);
        r.claim_id = Some(ClaimId(5_000_001));
        r.lifecycle.claim = Some(ClaimState::NotValid);
        assert_eq!(next_step(&r), Step::CorrectClaim);
        r.lifecycle.claim = Some(ClaimState::Valid { transferred: true });
        assert_eq!(next_step(&r), Step::Decide(ClaimId(5_000_001)));
        r.lifecycle.claim = Some(ClaimState::NotConform);
        assert_eq!(next_step(&r), Step::CorrectClaim);
        r.lifecycle.claim = Some(ClaimState::ClosedAccepted);
        assert_eq!(next_step(&r), Step::Invoice(ClaimId(5_000_001)));
        r.lifecycle.invoiced = true;
        assert_eq!(next_step(&r), Step::Done);
    }

    #[test]
    fn the_first_claim_is_refused_and_the_correction_accepted() {
        let mut r = accepted(InterventionId(500_002));
        fill_details(&mut r.file, InterventionId(500_002));
        report(&mut r, &Step::Appointment);
        let rules = RuleBook::defaults();
        let mut claim = WarrantyClaim::from_repair_file(&r.file);
        claim.claim_type.as_mut().unwrap().manufacturer_id = Some(OEM);
        let good = complete_claim(claim, "fix-1");
        assert!(
            is_valid(&rules.check(&good, Lcid::ENGLISH)),
            "{:?}",
            rules.check(&good, Lcid::ENGLISH)
        );
        assert!(!is_valid(&rules.check(&mistaken(good), Lcid::ENGLISH)));
    }
}
