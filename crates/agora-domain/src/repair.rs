//! The repair file (reference 2.2): `CompleteRepairState` with the
//! appliance fields, `Consumer`, `Reseller`, `Intervention`, `Parts` and
//! `StateNatures`.

use crate::catalog::PartOrderLine;
use crate::codes::RepairOriginCode;
use crate::ids::{InterventionId, MandateId, OrderNumber};
use crate::status::StatusCode;
use crate::tables::{CountryCode, InterventionTypeId, Lcid, ManufacturerId, Title};
use crate::time::WireDateTime;
use crate::wire::wire_model;

wire_model! {
    /// `CompleteRepairState`: the whole repair file, sent by `CreateRepair`
    /// and `UpdateRepair`. `InterventionId`, `MandateId` and `ManufacturerId`
    /// and the nested objects' names are this project's reading of the
    /// elided fields (docs/wire-notes.md); anything else is kept in `extra`.
    pub struct CompleteRepairState {
        /// The repair file (set by AgoraPlus; names the file in `UpdateRepair`).
        intervention_id: InterventionId = "InterventionId",
        /// The work order the file was created from.
        mandate_id: MandateId = "MandateId",
        /// The OEM.
        manufacturer_id: ManufacturerId = "ManufacturerId",
        /// Product brand.
        brand: String = "Brand",
        /// Product family (e.g. Coffee machine).
        family: String = "Family",
        /// Product commercial reference.
        commercial_ref: String = "CommercialRef" (required),
        /// Product technical reference.
        technical_ref: String = "TechnicalRef",
        /// Manufacturing date code.
        manufacturing_code: String = "ManufacturingCode" (required),
        /// Serial number.
        serial_number: String = "SerialNumber",
        /// Purchase date.
        purchase_date: WireDateTime = "PurchaseDate",
        /// Consumer warranty contract number.
        consumer_contract: String = "ConsumerContract",
        /// Whether the warranty extension is a GCPlus contract.
        gc_plus_contract: String = "GCPlusContract",
        /// The consumer.
        consumer: Consumer = "Consumer",
        /// The reseller.
        reseller: Reseller = "Reseller",
        /// The repair itself.
        intervention: Intervention = "Intervention",
        /// Parts needed for the repair.
        parts: Vec<Part> = "Parts",
        /// Status history (see the status codes).
        state_natures: Vec<StateNature> = "StateNatures",
    }
}

wire_model! {
    /// `Consumer`: the end consumer.
    pub struct Consumer {
        /// Consumer ID (Chile, Peru, …).
        consumer_id: String = "ConsumerId",
        /// Title.
        title: Title = "Title" (required),
        /// Last name.
        last_name: String = "LastName" (required),
        /// First name.
        first_name: String = "FirstName" (required),
        /// Address line 1.
        address1: String = "Address1" (required),
        /// Address line 2.
        address2: String = "Address2",
        /// Address line 3.
        address3: String = "Address3",
        /// Zip code.
        zip: String = "Zip" (required),
        /// Town.
        town: String = "Town" (required),
        /// State (United States).
        state: String = "State",
        /// Country (ISO 3166 numeric).
        country: CountryCode = "Country" (required),
        /// Phone.
        phone: String = "Phone" (required),
        /// About the phone (e.g. phone of Madame).
        phone_type: String = "PhoneType",
        /// Mobile number.
        sms_code: String = "SMSCode",
        /// Business phone.
        pro_phone: String = "ProPhone",
        /// Email.
        email: String = "Email",
        /// Remarks.
        remarks: String = "Remarks",
        /// Satisfaction survey opt-in.
        opt_in_survey: bool = "OptInSurvey",
        /// Language (LCID).
        lng_id: Lcid = "LngId",
        /// Whether the repair is invoiced to the consumer (0 no, 1 yes).
        consumer_invoice: i64 = "ConsumerInvoice",
    }
}

wire_model! {
    /// `Reseller`: the retailer.
    pub struct Reseller {
        /// Name.
        name: String = "Name",
        /// Email.
        email: String = "Email",
        /// Phone.
        phone: String = "Phone",
        /// Address line 1.
        address1: String = "Address1",
        /// Address line 2.
        address2: String = "Address2",
        /// Address line 3.
        address3: String = "Address3",
        /// Zip code.
        zip: String = "Zip",
        /// Town.
        town: String = "Town",
        /// State (United States).
        state: String = "State",
        /// Country (ISO 3166 numeric).
        country: CountryCode = "Country",
    }
}

wire_model! {
    /// `Intervention`: the repair information.
    pub struct Intervention {
        /// Repair type (table 6.4).
        intervention_type: InterventionTypeId = "InterventionType" (required),
        /// CONSUMER or RESELLER.
        repair_origin_code: RepairOriginCode = "RepairOriginCode" (required),
        /// Failure description.
        failure_description: String = "FailureDescription",
        /// Failed part reference.
        f_ident: String = "FIdent",
        /// Repair start.
        intervention_start_date: WireDateTime = "InterventionStartDate",
        /// Repair end.
        intervention_end_date: WireDateTime = "InterventionEndDate",
        /// Return of the device.
        product_return_date: WireDateTime = "ProductReturnDate",
        /// IRIS condition.
        iris_condition: String = "IRISCondition",
        /// IRIS extended condition.
        iris_condition_ex: String = "IRISConditionEX",
        /// IRIS symptom.
        iris_symptom: String = "IRISSymptom",
        /// IRIS section.
        iris_section: String = "IRISSection",
        /// IRIS defect code.
        iris_default: String = "IRISDefault",
        /// IRIS repair code.
        iris_repair: String = "IRISRepair",
        /// Non-IRIS default code.
        default_code: String = "DefaultCode",
    }
}

wire_model! {
    /// `Part`: a spare part of the repair, or concerned by a status.
    pub struct Part {
        /// Spare part reference.
        reference: String = "Reference",
        /// Quantity.
        quantity: i64 = "Quantity",
        /// Comment.
        note: String = "Note",
        /// Order number, once ordered.
        order_number: OrderNumber = "OrderNumber",
        /// Whether `PlaceRepairSparepartOrder` should order it.
        to_be_ordered: bool = "ToBeOrdered",
    }
}

wire_model! {
    /// `StateNature`: one status of the repair file.
    pub struct StateNature {
        /// Status code.
        code: StatusCode = "Code",
        /// Comment.
        comment: String = "Comment",
        /// Rank of the appointment.
        appointment_number: i64 = "AppointmentNumber",
        /// Appointment start.
        appointment_date: WireDateTime = "AppointmentDate",
        /// Appointment end.
        appointment_end_date: WireDateTime = "AppointmentEndDate",
        /// Parts concerned (codes 200, 201, 202, 204, 205).
        parts: Vec<Part> = "Parts",
    }
}

/// The appliance's fields of a repair file (2.2.1, 1/), which a work order
/// may carry too.
pub(crate) const APPLIANCE_FIELDS: &[&str] = &[
    "Brand",
    "Family",
    "CommercialRef",
    "TechnicalRef",
    "ManufacturingCode",
    "SerialNumber",
    "PurchaseDate",
    "ConsumerContract",
    "GCPlusContract",
];

/// The fields of `source` that `fields` names (matched in any ASCII case,
/// after `prefix` where the source's names carry one), read as `T` under
/// those names; a value that does not read as its field's type is left
/// out, so nothing is carried in a form `T` does not write.
fn carry_over<T, S>(source: &S, fields: &[&str], prefix: &str) -> T
where
    T: crate::wire::ReadLenient + Default + CarriedOver,
    S: serde::Serialize,
{
    let Ok(serde_json::Value::Object(source)) = serde_json::to_value(source) else {
        return T::default();
    };
    let mut picked = serde_json::Map::new();
    for (key, value) in source {
        let name = match key.get(..prefix.len()) {
            Some(head) if !prefix.is_empty() && head.eq_ignore_ascii_case(prefix) => {
                &key[prefix.len()..]
            }
            _ => key.as_str(),
        };
        if let Some(wire) = fields.iter().find(|f| f.eq_ignore_ascii_case(name)) {
            if !value.is_null() {
                picked.insert((*wire).to_owned(), value);
            }
        }
    }
    let mut carried = match T::read_lenient(serde_json::Value::Object(picked)) {
        crate::wire::Reading::Exact(t) | crate::wire::Reading::Reinterpreted(t, _) => t,
        crate::wire::Reading::Unreadable(..) => T::default(),
    };
    carried.keep_typed_only();
    carried
}

/// A model carried over from another: only its typed values stay.
trait CarriedOver {
    /// Drops what did not read as its type, and every arrival form.
    fn keep_typed_only(&mut self);
}

macro_rules! carried_over {
    ($($t:ty),*) => {$(
        impl CarriedOver for $t {
            fn keep_typed_only(&mut self) {
                self.forget_arrival_forms();
                self.extra.clear();
            }
        }
    )*};
}
carried_over!(CompleteRepairState, Consumer, Reseller);

impl Part {
    /// Marked `ToBeOrdered` and without an order number: what
    /// `PlaceRepairSparepartOrder` orders.
    pub fn is_to_be_ordered(&self) -> bool {
        self.to_be_ordered == Some(true) && self.order_number.is_none()
    }
}

impl StateNature {
    /// A status with a code and a comment.
    pub fn new(code: StatusCode, comment: impl Into<String>) -> Self {
        Self {
            code: Some(code),
            comment: Some(comment.into()),
            ..Self::default()
        }
    }
}

impl CompleteRepairState {
    /// The repair file AgoraPlus creates when it accepts a work order: the
    /// ids, the OEM, the repair type and the consumer the work order names.
    /// The simulator creates it so, and a client that has no other copy
    /// starts from it.
    pub fn from_work_order(
        mandate: &crate::mandate::MandateLightResponse,
        intervention_id: InterventionId,
    ) -> Self {
        // Every field of the work order the repair file knows is carried
        // over: the consumer's (`ConsumerLight` elides most of them), the
        // appliance's (the work order's own fields) and the reseller's
        // (`ResellerAddress1` is `Reseller.Address1`).
        let consumer = mandate.consumer.as_ref().map(|c| {
            let mut consumer: Consumer = carry_over(c, Consumer::WIRE_FIELDS, "");
            consumer.title = c.title.map(|t| t.0).or(consumer.title);
            consumer
        });
        let reseller = mandate
            .reseller
            .as_ref()
            .map(|r| carry_over::<Reseller, _>(r, Reseller::WIRE_FIELDS, "Reseller"))
            .filter(|r| *r != Reseller::default());
        let appliance: Self = carry_over(mandate, APPLIANCE_FIELDS, "");
        Self {
            intervention_id: Some(intervention_id),
            mandate_id: mandate.mandate_id,
            manufacturer_id: mandate.manufacturer(),
            consumer,
            reseller,
            intervention: Some(Intervention {
                intervention_type: mandate.repair_type(),
                ..Intervention::default()
            }),
            ..appliance
        }
    }

    /// The latest status of the file, when it has any.
    pub fn last_status(&self) -> Option<&StatusCode> {
        self.state_natures
            .as_deref()
            .and_then(|s| s.iter().rev().find_map(|n| n.code.as_ref()))
    }

    /// Whether the file has a part `PlaceRepairSparepartOrder` would order:
    /// marked `ToBeOrdered`, without an order number, in the file's `Parts`
    /// or a status's `Parts` (the reference's 205 sample marks it there).
    pub fn has_parts_to_order(&self) -> bool {
        self.all_parts().any(Part::is_to_be_ordered)
    }

    pub(crate) fn all_parts(&self) -> impl Iterator<Item = &Part> {
        let statuses = self.state_natures.iter().flatten();
        self.parts
            .iter()
            .flatten()
            .chain(statuses.flat_map(|s| s.parts.iter().flatten()))
    }

    pub(crate) fn all_parts_mut(&mut self) -> impl Iterator<Item = &mut Part> {
        let statuses = self.state_natures.iter_mut().flatten();
        self.parts
            .iter_mut()
            .flatten()
            .chain(statuses.flat_map(|s| s.parts.iter_mut().flatten()))
    }

    /// Takes the answer of `PlaceRepairSparepartOrder` into the file: every
    /// part to be ordered gets the number the answer gives it, whether
    /// AgoraPlus answers one line per part (the line of its reference) or
    /// one order for the whole call (a line without reference: "a single
    /// spare part order", reference 2.3), and stops being to be ordered,
    /// so it is never ordered again. Returns the order lines, one per
    /// (order number, part reference): a line without reference becomes
    /// one line for each part it numbered.
    pub fn take_order(&mut self, answer: &[PartOrderLine]) -> Vec<PartOrderLine> {
        let mut lines = Vec::new();
        for line in answer.iter().filter(|l| l.reference.is_some()) {
            for part in self
                .all_parts_mut()
                .filter(|p| p.is_to_be_ordered() && p.reference == line.reference)
            {
                part.order_number.clone_from(&line.order_number);
                part.to_be_ordered = Some(false);
            }
            lines.push(line.clone());
        }
        for order in answer.iter().filter(|l| l.reference.is_none()) {
            let mut numbered: Vec<PartOrderLine> = Vec::new();
            for part in self.all_parts_mut().filter(|p| p.is_to_be_ordered()) {
                part.order_number.clone_from(&order.order_number);
                part.to_be_ordered = Some(false);
                if !numbered.iter().any(|l| l.reference == part.reference) {
                    numbered.push(PartOrderLine {
                        reference: part.reference.clone(),
                        quantity: part.quantity,
                        ..order.clone()
                    });
                }
            }
            if numbered.is_empty() {
                numbered.push(order.clone());
            }
            lines.extend(numbered);
        }
        lines
    }

    /// Takes out of this file (the local copy) a change AgoraPlus refused:
    /// `refused` is the file as that update sent it, `accepted` the file as
    /// AgoraPlus last accepted it (`None`: nothing accepted since the file
    /// was created, so no status of ours). Each status `refused` added
    /// (not in `accepted`) is removed from this file and returned, to be
    /// kept aside; each other field the refused update changed returns to
    /// its accepted value, unless this file has changed it again since
    /// (without an accepted copy, only the statuses are taken out).
    /// Later changes stay: they did not depend on the refused one, and
    /// AgoraPlus's state is known.
    pub fn set_aside_refused(
        &mut self,
        refused: &CompleteRepairState,
        accepted: Option<&CompleteRepairState>,
    ) -> Vec<StateNature> {
        let before: &[StateNature] = accepted
            .and_then(|a| a.state_natures.as_deref())
            .unwrap_or_default();
        let mut kept_aside = Vec::new();
        for status in refused.state_natures.iter().flatten() {
            if before.contains(status) {
                continue;
            }
            if let Some(mine) = self.state_natures.as_mut() {
                if let Some(at) = mine.iter().position(|s| s == status) {
                    kept_aside.push(mine.remove(at));
                }
            }
        }
        // Without an accepted copy (the file as AgoraPlus made it from the
        // work order is not known here), only the statuses are taken out.
        let Some(Ok(serde_json::Value::Object(base))) = accepted.map(serde_json::to_value) else {
            return kept_aside;
        };
        let (Ok(serde_json::Value::Object(mut now)), Ok(serde_json::Value::Object(sent))) =
            (serde_json::to_value(&*self), serde_json::to_value(refused))
        else {
            return kept_aside;
        };
        let mut reverted = false;
        for (key, value) in &sent {
            if key == "StateNatures" || key == "InterventionId" || base.get(key) == Some(value) {
                continue;
            }
            if now.get(key) == Some(value) {
                match base.get(key) {
                    Some(old) => now.insert(key.clone(), old.clone()),
                    None => now.remove(key),
                };
                reverted = true;
            }
        }
        if reverted {
            let json = serde_json::Value::Object(now).to_string();
            if let Ok(back) = crate::wire::decode_json::<Self>(json.as_bytes()) {
                *self = back;
            }
        }
        kept_aside
    }

    /// The repair type of the file, when set.
    pub fn intervention_type(&self) -> Option<InterventionTypeId> {
        self.intervention.as_ref().and_then(|i| i.intervention_type)
    }
}
