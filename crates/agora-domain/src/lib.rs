//! # agora-domain
//!
//! The AgoraPlus vocabulary as typed values: the wire models (work orders,
//! the repair file, warranty claims, master data, the response envelope),
//! every status code and enum of the reference, the reference tables
//! (OEMs, repair types, countries, languages), the repair lifecycle state
//! machine and the OEM claim rule engine.
//!
//! It is **pure**: no I/O, no async runtime, no HTTP, no clock (time is
//! passed in). It knows nothing of how AgoraPlus is reached; the ports, the
//! HTTP client and the simulator all speak through these types, and the
//! simulator and the client share its rules.
//!
//! Wire models carry the reference's names exactly, keep unknown fields in
//! `extra` and write them back unchanged; unknown codes decode into explicit
//! `Unknown` variants that keep the raw value. Answers are read tolerantly
//! ([`Envelope::from_slice_tolerant`]): a value of the wrong type is kept
//! as it arrived and written back unchanged, an unreadable list element is
//! set aside ([`SetAside`]) while the rest is used.

pub mod catalog;
pub mod claim;
pub mod codes;
pub mod edit;
pub mod envelope;
pub mod ids;
pub mod lifecycle;
pub mod mandate;
pub mod mend;
pub mod money;
pub mod month_end;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod redact;
pub mod repair;
pub mod routes;
pub mod rules;
pub mod status;
pub mod tables;
pub mod time;
pub mod wire;

pub use catalog::{
    BomLine, CreateRepairResult, InvoiceReference, PartOrderLine, Product, ProductSearchHit,
    SparePart,
};
pub use claim::{
    ClaimTracking, ValidationResult, WarrantyClaim, WarrantyClaimConso, WarrantyClaimDeliv,
    WarrantyClaimInfos, WarrantyClaimLab, WarrantyClaimPart, WarrantyClaimResal,
    WarrantyClaimResult, WarrantyClaimType,
};
pub use codes::{
    ClaimStatus, LogisticStatus, MandateStatus, MessageType, RepairOriginCode, ResponseStatus,
    WarrantyCondition,
};
pub use envelope::{Envelope, EnvelopeHead, SetAside, Verdict};
pub use ids::{ClaimId, DraftInvoiceNumber, InterventionId, InvoiceNumber, MandateId, OrderNumber};
pub use mandate::{
    ConsumerLight, InterventionTypeLight, MandateLightResponse, NewMandateResponseData,
    ResellerLight, SuggestedPartLight,
};
pub use money::{Money, money_from_cents};
pub use repair::{CompleteRepairState, Consumer, Intervention, Part, Reseller, StateNature};
pub use status::{Requirement, StatusCode, StatusFamily};
pub use tables::{CountryCode, InterventionTypeId, Lcid, ManufacturerId, Title};
pub use time::WireDateTime;
pub use wire::{
    DecodeError, Extra, OneOrMany, ReadAnswer, ReadLenient, Reading, UnknownValue, UnreadValue,
    decode_json, decode_request, raw_text,
};
