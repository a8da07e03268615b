//! Repair status codes (`StateNature.Code`, reference 2.2.2): every code of
//! the reference as a typed value, grouped by family, with its description
//! and what a status of that code must carry.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::repair::StateNature;
use crate::wire::UnknownValue;

/// The family a status code belongs to, as the reference groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::Display, strum::EnumIter)]
#[non_exhaustive]
pub enum StatusFamily {
    /// 101–111: appointment.
    Appointment,
    /// 200–207: spare part.
    SparePart,
    /// 300–305: global repair.
    Repair,
    /// 400–406: appliance situation.
    Appliance,
    /// 500–503 and 602: consumer related.
    Consumer,
    /// 601: closed with warranty intervention (set by AgoraPlus).
    Closure,
    /// 901–909: repair not possible or out of warranty.
    NotPossible,
}

/// What a status of a code must carry (the reference's "Related information").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::Display)]
#[non_exhaustive]
pub enum Requirement {
    /// A free comment; nothing else is required.
    FreeComment,
    /// `AppointmentDate` and `AppointmentEndDate`, the start before the end.
    AppointmentDates,
    /// At least one part, each with `Reference` and `OrderNumber` (as the
    /// table says). A part without `OrderNumber` is sent with a warning:
    /// the reference's own 204 sample has none ([`StatusWarning`]).
    PartReferenceAndOrderNumber,
    /// Set by AgoraPlus alone; a client never sends it.
    SetByAgoraPlus,
}

macro_rules! status_codes {
    ($( $(#[$vmeta:meta])* $code:literal $variant:ident $family:ident $req:ident $desc:literal ),* $(,)?) => {
        /// A repair status code. Unknown codes decode into `Unknown`, keeping
        /// the raw value, so one new code never fails a whole response.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum StatusCode {
            $(
                $(#[$vmeta])*
                #[doc = concat!(stringify!($code), ": ", $desc, ".")]
                $variant,
            )*
            /// A code this version does not know, kept as it arrived.
            Unknown(String),
        }

        impl StatusCode {
            /// Every code this version knows, in numeric order.
            pub const KNOWN: &'static [StatusCode] = &[$(StatusCode::$variant),*];

            /// The wire form (`"102"`).
            pub fn as_str(&self) -> &str {
                match self {
                    $(StatusCode::$variant => stringify!($code),)*
                    StatusCode::Unknown(raw) => raw,
                }
            }

            /// The numeric code, when it is one.
            pub fn number(&self) -> Option<u16> {
                self.as_str().trim().parse().ok()
            }

            /// The reference's description.
            pub fn description(&self) -> Option<&'static str> {
                match self {
                    $(StatusCode::$variant => Some($desc),)*
                    StatusCode::Unknown(_) => None,
                }
            }

            /// The family the code belongs to.
            pub fn family(&self) -> Option<StatusFamily> {
                match self {
                    $(StatusCode::$variant => Some(StatusFamily::$family),)*
                    StatusCode::Unknown(_) => None,
                }
            }

            /// What a status with this code must carry. Unknown codes require nothing
            /// locally: AgoraPlus judges them.
            pub fn requirement(&self) -> Requirement {
                match self {
                    $(StatusCode::$variant => Requirement::$req,)*
                    StatusCode::Unknown(_) => Requirement::FreeComment,
                }
            }

            /// Lenient parse: an unknown code becomes `Unknown`, kept exactly as it arrived.
            pub fn lenient(s: &str) -> Self {
                match s {
                    $(stringify!($code) => StatusCode::$variant,)*
                    _ => StatusCode::Unknown(s.to_owned()),
                }
            }
        }
    };
}

status_codes! {
    101 ConsumerUnreachable Appointment FreeComment "CONSUMER IMPOSSIBLE TO REACH",
    102 AppointmentConfirmed Appointment AppointmentDates "APPOINTMENT CONFIRMED",
    103 ConsumerAbsent Appointment FreeComment "CONSUMER ABSENT",
    104 ConsumerRefusedIntervention Appointment FreeComment "CONSUMER HAS REFUSED THE INTERVENTION",
    105 AppointmentRefusedConsumerConvenience Appointment AppointmentDates "RDV REFUSED CONSUMER CONVENIENCE",
    106 AppointmentNotScheduledConstraintAts Appointment FreeComment "RDV NOT SCHEDULED CONSTRAINT ATS",
    107 AppointmentNotScheduledSecondHome Appointment FreeComment "RDV NOT SCHEDULED SECOND HOME",
    108 AppointmentNotScheduledConsumerConstraints Appointment FreeComment "RDV NOT SCHEDULED, TOO MANY CONSUMER CONSTRAINTS",
    109 AppointmentNotScheduledNoAnswer Appointment FreeComment "RDV NOT SCHEDULED PHONE MESSAGE WITHOUT RESPONSE",
    110 AppointmentScheduledConsumerConvenience Appointment AppointmentDates "RDV SCHEDULED CONSUMER CONVENIENCE",
    111 AppointmentToBeConfirmedByConsumer Appointment FreeComment "RDV SCHEDULED TO BE CONFIRMED BY THE CONSUMER",
    200 PartsOrderedNotReceived SparePart PartReferenceAndOrderNumber "SPAREPARTS ORDERED NOT YET RECEIVED",
    201 PartsReceived SparePart PartReferenceAndOrderNumber "SPAREPARTS RECEIVED",
    202 PartsUnavailableManufacturer SparePart PartReferenceAndOrderNumber "SPAREPARTS NOT AVAILABLE (MANUFACTURER)",
    203 PartsUnavailableAsa SparePart FreeComment "SPAREPARTS NOT AVAILABLE (ASA)",
    204 PartsReceivedDefective SparePart PartReferenceAndOrderNumber "SPAREPARTS RECEIVED DEFECTIVE OR BROKEN",
    205 PartsOrdered SparePart FreeComment "SPAREPARTS ORDERED",
    206 PartExhausted SparePart FreeComment "SPARE PART EXHAUSTED",
    207 PartCancelled SparePart FreeComment "SPARE PART CANCELED",
    300 TechnicalIssueNotSolved Repair FreeComment "TECHNICAL ISSUE NOT SOLVED",
    301 InterventionNotFinalized Repair FreeComment "INTERVENTION NOT FINALIZED",
    302 AskForAfterSalesSolution Repair FreeComment "ASK FOR AFTER SALES SOLUTION",
    303 DeviceWorksAsNew Repair FreeComment "DEVICE WORKS AS NEW",
    304 DeviceExchangedByReseller Repair FreeComment "DEVICE EXCHANGED BY THE RESELLER",
    305 RepairFinished Repair FreeComment "REPAIR FINISHED",
    400 DeviceReturnedToWorkshop Appliance FreeComment "RETURN OF THE DEVICE TO THE WORKSHIOP",
    401 WorkshopRepairs Appliance FreeComment "WORKSHOP REPAIRS",
    402 DeliveryAppointmentScheduled Appliance FreeComment "RDV SCHEDULED FOR DEVICE DELIVERY",
    403 DeviceLending Appliance FreeComment "DEVICE LENDING",
    404 DeviceLendingFinished Appliance FreeComment "DEVICE LENDING FINISHED",
    405 ProductReceived Appliance FreeComment "PRODUCT RECEIVED",
    406 Diagnosis Appliance FreeComment "DIAGNOSIS",
    500 WaitingConsumerInformation Consumer FreeComment "WAITING FOR CONSUMER INFORMATION",
    501 WaitingQuotationApproval Consumer FreeComment "WAITING FOR QUOTATION APPROVAL",
    502 OnHoldByConsumer Consumer FreeComment "ON HOLD BY THE CONSUMER",
    503 WarrantyGoesOutOfWarranty Consumer FreeComment "WARRANTY GOES OUT OF WAR",
    601 ClosedWithWarrantyIntervention Closure SetByAgoraPlus "CLOSED WITH WARRANTY INTERVENTION",
    602 ProductReturnedToConsumer Consumer FreeComment "PRODUCT RETURNED TO THE CONSUMER",
    901 InterventionRefusedByConsumer NotPossible FreeComment "INTERVENTION REFUSED BY THE CONSUMER",
    902 ConsumerTooFar NotPossible FreeComment "CONSUMER TOO FAR",
    903 OutOfWarrantyInvoicedToConsumer NotPossible FreeComment "INTERVENTION OUT OF WAR DIRECTLY INVOICED TO THE CONSUMER",
    904 PhoneMessageLeft NotPossible FreeComment "PHONE MESSAGE LEAVED",
    905 Other NotPossible FreeComment "OTHER",
    906 DeviceAlreadyExchanged NotPossible FreeComment "DEVICE ALREADY EXCHANGED",
    907 NotPossibleDeviceWorksAsNew NotPossible FreeComment "DEVICE WORKS AS NEW",
    908 ServiceCenterTemporarilyClosed NotPossible FreeComment "ATS UNVAILABLE AS TEMPORARY CLOSED",
    909 NoAvailabilityInTime NotPossible FreeComment "NO AVAILABILTY IN TIME",
}

impl StatusCode {
    /// Strict parse, for codes a client is about to send: the code must be known.
    pub fn parse_known(s: &str) -> Result<Self, UnknownValue> {
        match Self::lenient(s) {
            Self::Unknown(value) => Err(UnknownValue {
                kind: "status code",
                value,
            }),
            known => Ok(known),
        }
    }

    /// Whether this is a code this version knows.
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Unknown(_))
    }

    /// Whether a client may send this code (601 is AgoraPlus's alone).
    pub fn is_client_settable(&self) -> bool {
        self.requirement() != Requirement::SetByAgoraPlus
    }
}

impl std::str::FromStr for StatusCode {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::lenient(s))
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StatusCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl crate::wire::WriteJson for StatusCode {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        self.as_str().write_json(out)
    }
}

impl<'de> Deserialize<'de> for StatusCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = StatusCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status code string such as \"102\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StatusCode, E> {
                Ok(StatusCode::lenient(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<StatusCode, E> {
                Ok(StatusCode::lenient(&v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<StatusCode, E> {
                Ok(StatusCode::lenient(&v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Why a status does not carry what its code requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// The status has no `Code`.
    #[error("the status has no code")]
    MissingCode,
    /// 601 is set by AgoraPlus alone once a claim exists.
    #[error("status {0} is set by AgoraPlus alone and is never sent by a client")]
    ReservedForAgoraPlus(StatusCode),
    /// A code that needs appointment dates lacks one.
    #[error("status {code} requires {field}")]
    MissingAppointmentDate {
        /// The status code.
        code: StatusCode,
        /// `AppointmentDate` or `AppointmentEndDate`.
        field: &'static str,
    },
    /// The appointment does not start before it ends.
    #[error("status {code}: the appointment must start before it ends")]
    AppointmentNotOrdered {
        /// The status code.
        code: StatusCode,
    },
    /// A date that cannot be read as a date.
    #[error("status {code}: {field} is not a date")]
    UnreadableDate {
        /// The status code.
        code: StatusCode,
        /// The field.
        field: &'static str,
    },
    /// A code that needs parts has none.
    #[error("status {code} requires at least one part with its reference")]
    MissingParts {
        /// The status code.
        code: StatusCode,
    },
    /// A part of a code that needs part references lacks its reference.
    #[error("status {code}: part {index} requires {field}")]
    MissingPartField {
        /// The status code.
        code: StatusCode,
        /// Index of the part in `Parts`.
        index: usize,
        /// `Reference`.
        field: &'static str,
    },
}

/// Something a status lacks that the reference's tables ask for but its
/// own samples do without: the status is sent as it is, and the caller
/// is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusWarning {
    /// A part without `OrderNumber` on a code whose table row says "PART
    /// REF & ORDER NUMBER": the reference's own 204 sample (2.2.2) sends a
    /// part reference alone, so AgoraPlus judges it.
    #[error(
        "status {code}: part {index} has no OrderNumber (the status table asks for one, the reference's own 204 sample sends none); sent as it is"
    )]
    MissingOrderNumber {
        /// The status code.
        code: StatusCode,
        /// Index of the part in `Parts`.
        index: usize,
    },
}

fn blank<S: AsRef<str>>(s: Option<&S>) -> bool {
    s.is_none_or(|s| s.as_ref().trim().is_empty())
}

/// Checks that a status carries what its code requires, and that a client
/// may send it; what it lacks that the reference's own samples do without
/// comes back as warnings. Unknown codes pass: AgoraPlus judges them.
pub fn check_status(status: &StateNature) -> Result<Vec<StatusWarning>, StatusError> {
    let code = status.code.clone().ok_or(StatusError::MissingCode)?;
    match code.requirement() {
        Requirement::FreeComment => Ok(Vec::new()),
        Requirement::SetByAgoraPlus => Err(StatusError::ReservedForAgoraPlus(code)),
        Requirement::AppointmentDates => {
            let start = status.appointment_date.as_ref().ok_or_else(|| {
                StatusError::MissingAppointmentDate {
                    code: code.clone(),
                    field: "AppointmentDate",
                }
            })?;
            let end = status.appointment_end_date.as_ref().ok_or_else(|| {
                StatusError::MissingAppointmentDate {
                    code: code.clone(),
                    field: "AppointmentEndDate",
                }
            })?;
            let start = start.instant().ok_or_else(|| StatusError::UnreadableDate {
                code: code.clone(),
                field: "AppointmentDate",
            })?;
            let end = end.instant().ok_or_else(|| StatusError::UnreadableDate {
                code: code.clone(),
                field: "AppointmentEndDate",
            })?;
            if start < end {
                Ok(Vec::new())
            } else {
                Err(StatusError::AppointmentNotOrdered { code })
            }
        }
        Requirement::PartReferenceAndOrderNumber => {
            let parts = status.parts.as_deref().unwrap_or_default();
            if parts.is_empty() {
                return Err(StatusError::MissingParts { code });
            }
            let mut warnings = Vec::new();
            for (index, part) in parts.iter().enumerate() {
                if blank(part.reference.as_ref()) {
                    return Err(StatusError::MissingPartField {
                        code,
                        index,
                        field: "Reference",
                    });
                }
                if blank(part.order_number.as_ref()) {
                    warnings.push(StatusWarning::MissingOrderNumber {
                        code: code.clone(),
                        index,
                    });
                }
            }
            Ok(warnings)
        }
    }
}
