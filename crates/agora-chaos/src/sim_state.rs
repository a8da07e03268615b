//! The simulator's state dump (`GET /_sim/state`, `Simulator::state`),
//! read into typed records: what AgoraPlus holds, for the operator's
//! look-ups and the reconciliation.

use agora_domain::{
    ClaimId, ClaimStatus, CompleteRepairState, DraftInvoiceNumber, InterventionId, InvoiceNumber,
    MandateId, MandateLightResponse, MandateStatus, PartOrderLine, WarrantyClaim,
};
use agora_mock::JournalRecord;
use serde::Deserialize;

/// One account's state in the simulator.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimState {
    /// Work orders.
    #[serde(default)]
    pub mandates: Vec<SimMandate>,
    /// Repair files.
    #[serde(default)]
    pub repairs: Vec<SimRepair>,
    /// Part order lines.
    #[serde(default)]
    pub orders: Vec<SimOrder>,
    /// Warranty claims.
    #[serde(default)]
    pub claims: Vec<SimClaim>,
    /// Draft invoices.
    #[serde(default)]
    pub draft_invoices: Vec<SimDraft>,
    /// Every request applied, in order, with its intent
    /// ([`agora_mock::JournalRecord`]).
    #[serde(default)]
    pub journal: Vec<JournalRecord>,
}

/// A work order.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimMandate {
    /// NEW until accepted.
    pub status: MandateStatus,
    /// The repair file its acceptance created.
    pub intervention_id: Option<InterventionId>,
    /// The work order.
    pub mandate: MandateLightResponse,
}

impl SimMandate {
    /// The work order's id.
    pub fn id(&self) -> Option<MandateId> {
        self.mandate.mandate_id
    }
}

/// A repair file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimRepair {
    /// The whole file, with its status history.
    pub file: CompleteRepairState,
    /// Its claim.
    #[serde(rename = "ClaimID")]
    pub claim_id: Option<ClaimId>,
    /// Whether its claim is invoiced.
    #[serde(default)]
    pub invoiced: bool,
}

/// A part order line.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimOrder {
    /// The repair file it was ordered for.
    pub intervention_id: InterventionId,
    /// The line.
    pub line: PartOrderLine,
}

/// A warranty claim.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimClaim {
    /// Its id.
    #[serde(rename = "ClaimID")]
    pub claim_id: ClaimId,
    /// Its repair file.
    pub intervention_id: InterventionId,
    /// The draft invoice holding it.
    pub draft_invoice_number: Option<DraftInvoiceNumber>,
    /// The claim as last sent.
    pub claim: WarrantyClaim,
    /// Its status in AgoraPlus.
    #[serde(default)]
    pub last_status: Option<ClaimStatus>,
}

impl SimClaim {
    /// The mark the chaos run puts on each version of a claim it sends
    /// (`ClaimInfos.IRISSymptom`), to tell which version AgoraPlus holds.
    pub fn tag(&self) -> Option<&str> {
        claim_tag(&self.claim)
    }
}

/// The mark of a claim's version (see [`SimClaim::tag`]).
pub fn claim_tag(claim: &WarrantyClaim) -> Option<&str> {
    claim.claim_infos.as_ref()?.iris_symptom.as_deref()
}

/// A draft invoice.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimDraft {
    /// Its number.
    pub draft_invoice_number: DraftInvoiceNumber,
    /// The claims it pays.
    #[serde(rename = "ClaimIDs", default)]
    pub claim_ids: Vec<ClaimId>,
    /// The invoice linked to it, once.
    pub invoice_number: Option<InvoiceNumber>,
}

impl SimState {
    /// Reads a state dump.
    pub fn parse(value: serde_json::Value) -> Result<Self, String> {
        serde_json::from_value(value).map_err(|e| format!("unreadable simulator state: {e}"))
    }

    /// The repair file with this id.
    pub fn repair(&self, id: InterventionId) -> Option<&SimRepair> {
        self.repairs
            .iter()
            .find(|r| r.file.intervention_id == Some(id))
    }

    /// The claims of a repair file.
    pub fn claims_of(&self, id: InterventionId) -> impl Iterator<Item = &SimClaim> {
        self.claims.iter().filter(move |c| c.intervention_id == id)
    }

    /// The order lines of a repair file.
    pub fn orders_of(&self, id: InterventionId) -> impl Iterator<Item = &SimOrder> {
        self.orders.iter().filter(move |o| o.intervention_id == id)
    }

    /// A draft invoice by number.
    pub fn draft(&self, number: &str) -> Option<&SimDraft> {
        self.draft_invoices
            .iter()
            .find(|d| d.draft_invoice_number == number)
    }
}
