//! Warranty claims (reference 2.5): `WarrantyClaim` with its sections, the
//! result of a submission and the claim tracking answer.

use crate::codes::{ClaimStatus, MessageType};
use crate::ids::InterventionId;
use crate::money::Money;
use crate::tables::{CountryCode, ManufacturerId, Title};
use crate::time::WireDateTime;
use crate::wire::wire_model;

pub use crate::ids::ClaimId;

wire_model! {
    /// `WarrantyClaim`: a request for reimbursement, sent by
    /// `CreateWarrantyClaims` and `UpdateWarrantyClaim`. `ClaimID` names the
    /// claim in an update (docs/wire-notes.md).
    pub struct WarrantyClaim {
        /// The claim, in an update.
        claim_id: ClaimId = "ClaimID",
        /// Appliance and file.
        claim_type: WarrantyClaimType = "ClaimType",
        /// Exceptional delivery address for parts ordered under warranty.
        claim_deliv: WarrantyClaimDeliv = "ClaimDeliv",
        /// Dealer.
        claim_resal: WarrantyClaimResal = "ClaimResal",
        /// Consumer.
        claim_conso: WarrantyClaimConso = "ClaimConso",
        /// Intervention description.
        claim_infos: WarrantyClaimInfos = "ClaimInfos",
        /// Labor, package and travel.
        claim_lab: WarrantyClaimLab = "ClaimLab",
        /// Parts used or to be refunded.
        claim_parts: Vec<WarrantyClaimPart> = "ClaimParts",
    }
}

impl WarrantyClaim {
    /// A claim drafted from a repair file: the appliance and file ids, the
    /// consumer, the first appointment as the intervention times, the
    /// warranty condition of the OEM's repair type as `OriginCode`, and the
    /// file's ordered parts. What the file does not hold (the call date,
    /// labor) is left for the caller to fill.
    pub fn from_repair_file(file: &crate::repair::CompleteRepairState) -> Self {
        let consumer = file.consumer.as_ref();
        let appointment = file
            .state_natures
            .iter()
            .flatten()
            .find(|s| s.appointment_date.is_some());
        let origin = file
            .manufacturer_id
            .zip(file.intervention_type())
            .and_then(|(m, t)| crate::tables::warranty_condition(m, t))
            .map(|c| c.as_str().to_owned());
        let parts: Vec<WarrantyClaimPart> = file
            .parts
            .iter()
            .flatten()
            .filter(|p| p.order_number.is_some())
            .map(|p| WarrantyClaimPart {
                part_reference: p.reference.clone(),
                quantity: p.quantity,
                ..WarrantyClaimPart::default()
            })
            .collect();
        Self {
            claim_type: Some(WarrantyClaimType {
                intervention_id: file.intervention_id,
                manufacturer_id: file.manufacturer_id,
                commercial_ref: file.commercial_ref.clone(),
                technical_ref: file.technical_ref.clone(),
                serial_number: file.serial_number.clone(),
                ..WarrantyClaimType::default()
            }),
            claim_conso: consumer.map(|c| WarrantyClaimConso {
                title: c.title,
                last_name: c.last_name.clone(),
                first_name: c.first_name.clone(),
                address1: c.address1.clone(),
                address2: c.address2.clone(),
                zip: c.zip.clone(),
                city: c.town.clone(),
                country: c.country,
                mobile_phone: c.sms_code.clone().or_else(|| c.phone.clone()),
                email: c.email.clone(),
                ..WarrantyClaimConso::default()
            }),
            claim_infos: Some(WarrantyClaimInfos {
                intervention_start_date_time: appointment.and_then(|a| a.appointment_date.clone()),
                intervention_end_date_time: appointment
                    .and_then(|a| a.appointment_end_date.clone()),
                iris_condition: file
                    .intervention
                    .as_ref()
                    .and_then(|i| i.iris_condition.clone()),
                iris_symptom: file
                    .intervention
                    .as_ref()
                    .and_then(|i| i.iris_symptom.clone()),
                ..WarrantyClaimInfos::default()
            }),
            claim_lab: Some(WarrantyClaimLab {
                origin_code: origin,
                ..WarrantyClaimLab::default()
            }),
            claim_parts: (!parts.is_empty()).then_some(parts),
            ..Self::default()
        }
    }
}

wire_model! {
    /// `WarrantyClaimType`: the appliance and the repair file.
    pub struct WarrantyClaimType {
        /// The repair file the claim is for (docs/wire-notes.md).
        intervention_id: InterventionId = "InterventionId",
        /// The OEM.
        manufacturer_id: ManufacturerId = "ManufacturerId" (required),
        /// Commercial reference.
        commercial_ref: String = "CommercialRef",
        /// Technical reference.
        technical_ref: String = "TechnicalRef",
        /// Serial number.
        serial_number: String = "SerialNumber",
    }
}

wire_model! {
    /// `WarrantyClaimDeliv`: an exceptional delivery address. The reference
    /// lists none of its fields; these follow `WarrantyClaimResal`.
    pub struct WarrantyClaimDeliv {
        /// Company name.
        company_name: String = "CompanyName",
        /// Address line 1.
        address1: String = "Address1",
        /// Zip code.
        zip: String = "Zip",
        /// City.
        city: String = "City",
        /// Country (ISO 3166 numeric).
        country: CountryCode = "Country",
    }
}

wire_model! {
    /// `WarrantyClaimResal`: the dealer of the finished product.
    pub struct WarrantyClaimResal {
        /// Company name.
        company_name: String = "CompanyName",
        /// Zip code.
        zip: String = "Zip",
        /// City.
        city: String = "City",
        /// State.
        state: String = "State",
        /// Country (ISO 3166 numeric).
        country: CountryCode = "Country",
        /// Work order number at the retailer.
        distributor_file_number: String = "DistributorFileNumber",
    }
}

wire_model! {
    /// `WarrantyClaimConso`: the consumer. `Zip`, `City`, `Country`,
    /// `MobilePhone` and `Email` are read from the reference's validation
    /// sample (`ConsumerDto.Zip`, `ConsumerDto.MobilePhone`).
    pub struct WarrantyClaimConso {
        /// Title.
        title: Title = "Title",
        /// Last name.
        last_name: String = "LastName",
        /// First name.
        first_name: String = "FirstName",
        /// Street number.
        street_number: String = "StreetNumber",
        /// Address line 1.
        address1: String = "Address1",
        /// Address line 2.
        address2: String = "Address2",
        /// Zip code.
        zip: String = "Zip",
        /// City.
        city: String = "City",
        /// Country (ISO 3166 numeric).
        country: CountryCode = "Country",
        /// Mobile phone.
        mobile_phone: String = "MobilePhone",
        /// Email.
        email: String = "Email",
    }
}

wire_model! {
    /// `WarrantyClaimInfos`: the intervention.
    pub struct WarrantyClaimInfos {
        /// Call date.
        call_date: WireDateTime = "CallDate",
        /// First appointment start.
        intervention_start_date_time: WireDateTime = "InterventionStartDateTime",
        /// First appointment end.
        intervention_end_date_time: WireDateTime = "InterventionEndDateTime",
        /// Origin part reference.
        default_part_ref: String = "DefaultPartRef",
        /// IRIS condition.
        iris_condition: String = "IRISCondition",
        /// IRIS extended condition.
        iris_condition_ex: String = "IRISConditionEX",
        /// IRIS symptom.
        iris_symptom: String = "IRISSymptom",
        /// IRIS section.
        iris_section: String = "IRISSection",
    }
}

wire_model! {
    /// `WarrantyClaimLab`: the OEM's participation (package, labor, travel).
    pub struct WarrantyClaimLab {
        /// Repayment plan or intervention condition code.
        origin_code: String = "OriginCode",
        /// Labor hours.
        labor_hours: i64 = "LaborHours",
        /// Labor minutes.
        labor_minutes: i64 = "LaborMinutes",
        /// Labor cost valued by the repairer.
        labor_cost: Money = "LaborCost",
        /// Kilometers travelled.
        travel_kilometers: i64 = "TravelKilometers",
    }
}

wire_model! {
    /// `WarrantyClaimPart`: a part used, or whose refund is requested.
    pub struct WarrantyClaimPart {
        /// Part reference.
        part_reference: String = "PartReference",
        /// Quantity.
        quantity: i64 = "Quantity",
        /// Comment or countermark.
        comments: String = "Comments",
        /// Bill number (claims with a refund request only).
        bill_number: String = "BillNumber",
    }
}

wire_model! {
    /// `WarrantyClaimResult`: AgoraPlus's verdict on a submitted claim.
    pub struct WarrantyClaimResult {
        /// Report number.
        report_number: String = "ReportNumber",
        /// The claim.
        claim_id: ClaimId = "ClaimID",
        /// Whether the claim is valid.
        is_valid: bool = "IsValid",
        /// What the OEM's rules found, to be shown verbatim.
        validation_errors: Vec<ValidationResult> = "ValidationErrors",
        /// Error message.
        error_message: String = "ErrorMessage",
    }
}

wire_model! {
    /// `ValidationResult`: one finding of the OEM's rules on a field.
    pub struct ValidationResult {
        /// The field, as AgoraPlus names it.
        field: String = "Field",
        /// The message, in the language asked for.
        error_message: String = "ErrorMessage",
        /// E (error) or W (warning).
        message_type: MessageType = "MessageType",
    }
}

impl ValidationResult {
    /// A finding.
    pub fn new(field: impl Into<String>, message: impl Into<String>, kind: MessageType) -> Self {
        Self {
            field: Some(field.into()),
            error_message: Some(message.into()),
            message_type: Some(kind),
            ..Self::default()
        }
    }

    /// Whether this finding is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.message_type != Some(MessageType::Warning)
    }
}

wire_model! {
    /// The claim tracking answer: `{"ClaimID", "LastStatus", "Comment"}`.
    pub struct ClaimTracking {
        /// The claim.
        claim_id: ClaimId = "ClaimID",
        /// Its status.
        last_status: ClaimStatus = "LastStatus",
        /// The OEM's comment.
        comment: String = "Comment",
    }
}
