//! The CSV that comes with a draft invoice (reference 3.1: "the list, in
//! CSV format, of all approved claim reports"), written as an OEM's export
//! in a chosen layout and encoding by the domain's writer. Every path that
//! issues a draft calls [`draft_csv`], so every draft has its file.

use agora_domain::ClaimId;
use agora_domain::month_end::{CsvEncoding, CsvLayout, CsvLine, write_claims_csv};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{Simulator, Tenant};
use crate::error::SimError;

/// A draft invoice's CSV, as served: its bytes and their encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftCsv {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Their encoding (its `charset` for the `Content-Type`).
    pub encoding: CsvEncoding,
}

/// The CSV of `claims` of `tenant`, issued at `issued`, in `layout`: a row
/// per claim (its repair file, its labor cost as amount, the issue date,
/// the consumer's last name).
pub(super) fn draft_csv(
    tenant: &Tenant,
    claims: &[ClaimId],
    layout: &CsvLayout,
    issued: Timestamp,
) -> DraftCsv {
    let date = TimeZone::UTC.to_datetime(issued).date();
    let lines: Vec<CsvLine> = claims
        .iter()
        .filter_map(|id| {
            let record = tenant.claims.get(id)?;
            Some(CsvLine {
                claim_id: *id,
                intervention_id: record.intervention_id,
                amount: record
                    .claim
                    .claim_lab
                    .as_ref()
                    .and_then(|l| l.labor_cost)
                    .map(|m| m.0)
                    .unwrap_or_default(),
                date,
                customer: record
                    .claim
                    .claim_conso
                    .as_ref()
                    .and_then(|c| c.last_name.clone())
                    .unwrap_or_default(),
            })
        })
        .collect();
    DraftCsv {
        bytes: write_claims_csv(&lines, layout),
        encoding: layout.encoding,
    }
}

impl Simulator {
    /// The CSV of the draft invoice `number` of the account `key`
    /// (another account's draft is not found).
    pub fn draft_invoice_csv(&self, key: &str, number: &str) -> Result<DraftCsv, SimError> {
        let world = self.world();
        world
            .tenants
            .get(key)
            .and_then(|t| t.drafts.get(number))
            .map(|d| d.csv.clone())
            .ok_or_else(|| SimError::NotFound(format!("no draft invoice {number}")))
    }
}
