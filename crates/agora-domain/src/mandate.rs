//! Work orders (mandates, reference 2.1): what `GetNewMandates` and
//! `GetAcceptedMandates` return.

use crate::codes::ResponseStatus;
use crate::tables::{InterventionTypeId, ManufacturerId, TitleText};
use crate::wire::wire_model;

pub use crate::ids::{InterventionId, MandateId};

wire_model! {
    /// `NewMandateResponseData`: a work order and, once accepted, its repair
    /// file's `InterventionId`. With `autoAccept=true` the per-item status
    /// fields say whether the repair file was created.
    pub struct NewMandateResponseData {
        /// Whether this item's acceptance succeeded.
        is_valid: bool = "IsValid",
        /// This item's status.
        response_status: ResponseStatus = "ResponseStatus",
        /// This item's message.
        response_message: String = "ResponseMessage",
        /// This item's error message.
        response_error_message: String = "ResponseErrorMessage",
        /// The work order.
        mandate: MandateLightResponse = "Mandate",
        /// The repair file created on acceptance.
        intervention_id: InterventionId = "InterventionId",
    }
}

wire_model! {
    /// `MandateLightResponse`: the work order as the consumer described it.
    /// The reference elides most of its fields; the nested objects' field
    /// names (`InterventionType`, `Reseller`, `Consumer`, `SuggestedParts`)
    /// are this project's assumption (docs/wire-notes.md).
    pub struct MandateLightResponse {
        /// Work-order identifier.
        mandate_id: MandateId = "MandateId",
        /// Originator identifier.
        manufacturer_id: ManufacturerId = "ManufacturerId",
        /// Manufacturer identifier.
        oem_id: ManufacturerId = "OEMId",
        /// Client code.
        client_code: String = "ClientCode",
        /// Mission order.
        order_mission: String = "OrderMission",
        /// Repair type.
        intervention_type_id: InterventionTypeId = "InterventionTypeId",
        /// The repair type in detail.
        intervention_type: InterventionTypeLight = "InterventionType",
        /// Where the appliance was bought.
        reseller: ResellerLight = "Reseller",
        /// The end consumer.
        consumer: ConsumerLight = "Consumer",
        /// Parts the OEM suggests (not all OEMs).
        suggested_parts: Vec<SuggestedPartLight> = "SuggestedParts",
    }
}

impl NewMandateResponseData {
    /// The repair file's id, when AgoraPlus gave one: a server that always
    /// writes the field leaves it 0 (or negative) until the work order is
    /// accepted, which is no id.
    pub fn given_intervention_id(&self) -> Option<InterventionId> {
        self.intervention_id.filter(|id| id.0 > 0)
    }

    /// AgoraPlus's verdict on accepting this work order, when it gave one.
    /// Its `IsValid`, `ResponseStatus` and `ResponseMessage` "will be
    /// populated in case you called the GetNewMandates web API with the
    /// Autoaccept parameter set to true" (2.1.1): in any other answer they
    /// are unfilled (false, null) and say nothing, so `None`. With
    /// auto-accept, the envelope's rule: `E` or `IsValid` false refuses.
    pub fn acceptance_verdict(&self, auto_accepted: bool) -> Option<crate::envelope::Verdict> {
        auto_accepted.then(|| {
            crate::envelope::verdict_of(
                self.response_status.as_ref().map(ResponseStatus::as_str),
                self.is_valid,
            )
        })
    }
}

impl MandateLightResponse {
    /// The OEM: `ManufacturerId`, else `OEMId`.
    pub fn manufacturer(&self) -> Option<ManufacturerId> {
        self.manufacturer_id.or(self.oem_id)
    }

    /// The repair type: `InterventionTypeId`, else the nested
    /// `InterventionType.InterventionTypeId` (2.1.1 describes both; a work
    /// order may carry only the nested one).
    pub fn repair_type(&self) -> Option<InterventionTypeId> {
        self.intervention_type_id.or_else(|| {
            self.intervention_type
                .as_ref()
                .and_then(|t| t.intervention_type_id)
        })
    }
}

wire_model! {
    /// `InterventionTypeLight`: the type of repair (see the repair-type table).
    pub struct InterventionTypeLight {
        /// Repair type.
        intervention_type_id: InterventionTypeId = "InterventionTypeId",
        /// Label.
        label: String = "Label",
        /// Description.
        short_description: String = "ShortDescription",
        /// Whether the product is under warranty.
        is_under_warranty: bool = "IsUnderWarranty",
    }
}

wire_model! {
    /// `ResellerLight`: the reseller the appliance was bought from.
    pub struct ResellerLight {
        /// Reseller identifier.
        reseller_id: i64 = "ResellerId",
        /// Reseller code.
        reseller_code: String = "ResellerCode",
        /// The reseller's file number.
        reseller_file_number: String = "ResellerFileNumber",
        /// Address, first line.
        reseller_address1: String = "ResellerAddress1",
    }
}

wire_model! {
    /// `ConsumerLight`: the end consumer as the work order carries it.
    pub struct ConsumerLight {
        /// Title, as a numeric string (tolerant reading also takes a number
        /// or a label such as `"Mr."`, and writes back what came).
        title: TitleText = "Title",
        /// Last name.
        last_name: String = "LastName",
        /// First name.
        first_name: String = "FirstName",
        /// Address, first line.
        address1: String = "Address1",
    }
}

wire_model! {
    /// `SuggestedPartLight`: a part the OEM suggests for the repair.
    pub struct SuggestedPartLight {
        /// Part reference.
        suggested_part_ref: String = "SuggestedPartRef",
        /// Quantity.
        quantity: i64 = "Quantity",
        /// Comment.
        comment: String = "Comment",
        /// Label.
        label: String = "Label",
    }
}
