//! Invoicing: the OEM issues a draft invoice over an account's accepted
//! claims, and the account links its invoice number to the draft.

use agora_domain::lifecycle::{ClaimState, RepairEvent};
use agora_domain::{ClaimId, DraftInvoiceNumber, InvoiceReference, ManufacturerId};

use agora_domain::month_end::CsvLayout;

use agora_domain::routes::Route;

use super::{DraftRecord, Simulator, hint, invoice_csv, require, required};

use crate::error::{Answer, SimError};

impl Simulator {
    /// `CreateeInvoice`: links the invoice number to a draft, once.
    pub fn create_invoice(
        &self,
        key: &str,
        reference: InvoiceReference,
    ) -> Result<Answer<()>, SimError> {
        let again = self.applies_duplicates();
        require(Route::CreateeInvoice, &reference, true)?;
        self.with_tenant(key, |t, _, now| {
            let number = reference
                .invoice_number
                .ok_or_else(|| required("InvoiceNumber"))?;
            let draft_number = reference
                .draft_invoice_number
                .ok_or_else(|| required("DraftInvoiceNumber"))?;
            let draft = t
                .drafts
                .get_mut(draft_number.as_str())
                .ok_or_else(|| SimError::NotFound(format!("no draft invoice {draft_number}")))?;
            let linked = draft.invoice_number.is_some();
            if let Some(existing) = draft.invoice_number.as_ref().filter(|_| !again) {
                return Err(SimError::Rejected(format!(
                    "draft invoice {draft_number} is already linked to invoice {existing}"
                )));
            }
            let mut updated = Vec::new();
            for claim_id in &draft.claims {
                let intervention = t
                    .claims
                    .get(claim_id)
                    .ok_or(SimError::Internal)?
                    .intervention_id;
                let record = t.repairs.get(&intervention).ok_or(SimError::Internal)?;
                let lifecycle = match record.lifecycle.apply(&RepairEvent::Invoiced) {
                    Ok(next) => next,
                    // Guards off: linked again, the file stays invoiced.
                    Err(_) if linked => record.lifecycle.clone(),
                    Err(e) => return Err(SimError::Rejected(e.to_string())),
                };
                updated.push((intervention, lifecycle));
            }
            for (intervention, lifecycle) in updated {
                if let Some(r) = t.repairs.get_mut(&intervention) {
                    r.lifecycle = lifecycle;
                }
            }
            t.journal.push_applied(
                "CreateeInvoice",
                format!("invoice of draft {draft_number}"),
                Some(number.to_string()),
                true,
                now,
            );
            if let Some(draft) = t.drafts.get_mut(draft_number.as_str()) {
                draft.invoice_number = Some(number.to_string());
            }
            Ok(Answer::with_message(
                (),
                format!("Invoice {number} linked to draft {draft_number}"),
            ))
        })
    }

    /// The OEM issues a draft invoice gathering an account's CLOSEDACCEPTED
    /// claims of one OEM that no draft holds yet.
    /// Its CSV is written in the default layout ([`CsvLayout::default`]).
    pub fn draft_invoice(
        &self,
        api_key: &str,
        manufacturer: ManufacturerId,
    ) -> Result<(DraftInvoiceNumber, Vec<ClaimId>), SimError> {
        self.draft_invoice_in(api_key, manufacturer, &CsvLayout::default())
    }

    /// [`Simulator::draft_invoice`], its CSV written in `layout`
    /// ([`Simulator::draft_invoice_csv`] serves it).
    pub fn draft_invoice_in(
        &self,
        api_key: &str,
        manufacturer: ManufacturerId,
        layout: &CsvLayout,
    ) -> Result<(DraftInvoiceNumber, Vec<ClaimId>), SimError> {
        let now = self.now_for(api_key)?;
        let mut world = self.world();
        let seq = world.next_draft;
        let tenant = world
            .tenants
            .get_mut(api_key)
            .ok_or_else(|| SimError::NotFound(format!("no account with key {}", hint(api_key))))?;
        let claims: Vec<ClaimId> = tenant
            .claims
            .iter()
            .filter(|(_, c)| c.draft.is_none() && c.manufacturer == Some(manufacturer))
            .filter(|(_, c)| {
                tenant
                    .repairs
                    .get(&c.intervention_id)
                    .is_some_and(|r| r.lifecycle.claim == Some(ClaimState::ClosedAccepted))
            })
            .map(|(id, _)| *id)
            .collect();
        if claims.is_empty() {
            return Err(SimError::Conflict(format!(
                "no CLOSEDACCEPTED claim of OEM {manufacturer} to invoice"
            )));
        }
        let number = format!("DR-{}-{seq:05}", manufacturer.0);
        for id in &claims {
            if let Some(c) = tenant.claims.get_mut(id) {
                c.draft = Some(number.clone());
            }
        }
        let csv = invoice_csv::draft_csv(tenant, &claims, layout, now);
        tenant.drafts.insert(
            number.clone(),
            DraftRecord {
                manufacturer,
                claims: claims.clone(),
                invoice_number: None,
                csv,
            },
        );
        world.next_draft += 1;
        Ok((DraftInvoiceNumber(number), claims))
    }
}
