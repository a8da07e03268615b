//! The string codes of the AgoraPlus wire that are not repair status codes:
//! envelope status, message type, claim `LastStatus`, logistic status,
//! warranty condition, repair origin and work-order status.

use crate::wire::wire_enum;

wire_enum! {
    /// `ResponseStatus` of the envelope.
    pub enum ResponseStatus ("response status") {
        /// Success.
        Success = "S",
        /// Error.
        Error = "E",
        /// Warning: the data is there, with warnings.
        Warning = "W",
    }
}

wire_enum! {
    /// `MessageType` of a `ValidationResult`.
    pub enum MessageType ("message type") {
        /// An error: the claim is not valid.
        Error = "E",
        /// A warning: the claim may still be valid.
        Warning = "W",
    }
}

wire_enum! {
    /// A warranty claim's `LastStatus` (reference 2.5.2, OEM tracking).
    pub enum ClaimStatus ("claim status") {
        /// Not valid: cannot be transferred to the OEM.
        NotValid = "NOTVALID",
        /// Valid: transferred when `transferIfValid` was true on the latest submission.
        Valid = "VALID",
        /// Transferred, then rejected by the OEM as non-compliant.
        NotConform = "NOTCONFORM",
        /// Transferred, accepted and closed by the OEM.
        ClosedAccepted = "CLOSEDACCEPTED",
    }
}

wire_enum! {
    /// Logistic status of a spare-part order line, returned by the OEM (reference 2.3).
    pub enum LogisticStatus ("logistic status") {
        /// 202: spare part unavailable.
        Unavailable = "202",
        /// 207: spare part order cancelled.
        Cancelled = "207",
        /// 208: spare parts shipped.
        Shipped = "208",
    }
}

impl LogisticStatus {
    /// The reference's description of the status.
    pub fn description(&self) -> Option<&'static str> {
        Some(match self {
            Self::Unavailable => "SPARE PART UNVAILABLE",
            Self::Cancelled => "SPARE PART ORDER CANCELLED",
            Self::Shipped => "SPARE PARTS SHIPPED",
            Self::Unknown(_) => return None,
        })
    }
}

wire_enum! {
    /// `WarrantyClaim ConditionCode` of a repair type (reference 6.4).
    pub enum WarrantyCondition ("warranty condition") {
        /// Under warranty.
        Warranty = "WAR",
        /// Under extended warranty.
        ExtendedWarranty = "EXTENDEDWAR",
        /// Out of warranty (the OEM may still take part).
        OutOfWarranty = "OUTOFWAR",
    }
}

wire_enum! {
    /// `RepairOriginCode` of an intervention.
    pub enum RepairOriginCode ("repair origin code") {
        /// The consumer brought the repair.
        Consumer = "CONSUMER",
        /// The reseller brought the repair.
        Reseller = "RESELLER",
    }
}

wire_enum! {
    /// Status of a work order (mandate) in AgoraPlus (reference 2.1).
    pub enum MandateStatus ("work-order status") {
        /// Sent by the OEM, not yet accepted.
        New = "NEW",
        /// Refused by the service center.
        Refused = "REFUSED",
        /// Accepted: its repair file exists.
        Accepted = "ACCEPTED",
        /// Work in progress.
        InProgress = "INPROGRESS",
        /// An appointment is planned.
        Planned = "PLANNED",
        /// Closed.
        Closed = "CLOSED",
    }
}
