//! The repair file (reference 2.2): `CompleteRepairState` with the
//! appliance fields, `Consumer`, `Reseller`, `Intervention`, `Parts` and
//! `StateNatures`.

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
        commercial_ref: String = "CommercialRef",
        /// Product technical reference.
        technical_ref: String = "TechnicalRef",
        /// Manufacturing date code.
        manufacturing_code: String = "ManufacturingCode",
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
        title: Title = "Title",
        /// Last name.
        last_name: String = "LastName",
        /// First name.
        first_name: String = "FirstName",
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
        /// Phone.
        phone: String = "Phone",
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
        intervention_type: InterventionTypeId = "InterventionType",
        /// CONSUMER or RESELLER.
        repair_origin_code: RepairOriginCode = "RepairOriginCode",
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
        let consumer = mandate.consumer.as_ref().map(|c| Consumer {
            title: c.title.map(|t| t.0),
            last_name: c.last_name.clone(),
            first_name: c.first_name.clone(),
            address1: c.address1.clone(),
            ..Consumer::default()
        });
        Self {
            intervention_id: Some(intervention_id),
            mandate_id: mandate.mandate_id,
            manufacturer_id: mandate.manufacturer(),
            consumer,
            intervention: Some(Intervention {
                intervention_type: mandate.repair_type(),
                ..Intervention::default()
            }),
            ..Self::default()
        }
    }

    /// The latest status of the file, when it has any.
    pub fn last_status(&self) -> Option<&StatusCode> {
        self.state_natures
            .as_deref()
            .and_then(|s| s.iter().rev().find_map(|n| n.code.as_ref()))
    }

    /// The repair type of the file, when set.
    pub fn intervention_type(&self) -> Option<InterventionTypeId> {
        self.intervention.as_ref().and_then(|i| i.intervention_type)
    }
}
