//! Use cases 4 and 6: submit a claim (with an optional local pre-check),
//! and register the invoice of a draft (tracking claims is in `tracking`).

use agora_domain::lifecycle::{ClaimState, RepairEvent};
use agora_domain::rules::is_valid;
use agora_domain::{ClaimId, InterventionId, InvoiceReference, ValidationResult, WarrantyClaim};
use agora_domain::{DraftInvoiceNumber, InvoiceNumber};
use agora_ports::{
    AgoraError, Claims, Invoices, Operation, OperationAnswer, Outbox, OutboxState, PartOrders,
    RepairFiles, Repairs,
};

use crate::checked::Checked;
use crate::hub::Agora;
use crate::outbox::Delivery;

/// What a claim submission came to.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimOutcome {
    /// The local pre-check found errors: nothing was sent.
    PrecheckFailed(Vec<ValidationResult>),
    /// AgoraPlus judged it; its `ValidationErrors` and its `ErrorMessage`
    /// are to be shown verbatim.
    Judged {
        /// The verdict.
        result: agora_domain::WarrantyClaimResult,
        /// The envelope's message when it said `W` (or `E` with the
        /// verdict as data).
        warning: Option<String>,
    },
    /// Not sent yet (AgoraPlus unreachable): the dispatcher will.
    Queued {
        /// The outbox entry.
        entry: u64,
        /// Why.
        error: String,
    },
    /// The submission may have been applied: parked for a person, never resent.
    InDoubt {
        /// The outbox entry.
        entry: u64,
        /// What happened.
        error: String,
    },
    /// Refused by AgoraPlus before judging.
    Refused(String),
}

impl<A, S> Agora<A, S>
where
    A: Repairs + PartOrders + Claims + Invoices,
    S: RepairFiles + Outbox,
{
    /// A claim drafted from the local repair file.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// use agora_app::domain::InterventionId;
    /// let claim = app.draft_claim(InterventionId(500_001)).await?;
    /// println!("drafted: {}", claim.claim_infos.is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn draft_claim(
        &self,
        intervention: InterventionId,
    ) -> Result<WarrantyClaim, AgoraError> {
        let repair = self.repair(intervention).await?;
        let mut claim = WarrantyClaim::from_repair_file(&repair.file);
        claim.claim_id = repair.claim_id;
        Ok(claim)
    }

    /// Submits the file's claim: a creation the first time, a correction
    /// after. With `precheck`, the domain's rules run first and a claim they
    /// find in error is not sent. A claim for an OEM or repair type table
    /// 6.4 does not list is sent (AgoraPlus's rules judge it), with a warning.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// use agora_app::domain::InterventionId;
    /// let file = InterventionId(500_001);
    /// let claim = app.draft_claim(file).await?;
    /// let checked = app.submit_claim(file, claim, true).await?;
    /// println!("{:?}", checked.outcome);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn submit_claim(
        &self,
        intervention: InterventionId,
        mut claim: WarrantyClaim,
        precheck: bool,
    ) -> Result<Checked<ClaimOutcome>, AgoraError> {
        let repair = self.repair(intervention).await?;
        let ct = claim.claim_type.get_or_insert_with(Default::default);
        ct.intervention_id = Some(intervention);
        if ct.manufacturer_id.is_none() {
            ct.manufacturer_id = repair.file.manufacturer_id;
        }
        if precheck {
            let findings = self.rules.check(&claim, self.config.language);
            if !is_valid(&findings) {
                return Ok(Checked {
                    outcome: ClaimOutcome::PrecheckFailed(findings),
                    warnings: Vec::new(),
                });
            }
        }
        let language = self.config.language;
        let transfer_if_valid = self.config.transfer_if_valid;
        // A second submission while one is open is refused by the outbox
        // (one claim per repair file), naming the open entry.
        let (delivery, warnings) = self
            .change_and_send_with(intervention, |repair| {
                let mut claim = claim.clone();
                Ok(match repair.claim_id {
                    Some(id) => {
                        let state = repair.lifecycle.claim;
                        if !state.is_some_and(ClaimState::is_correctable) {
                            return Err(AgoraError::Invalid(format!(
                                "claim {id} is {state:?}: it can no longer be corrected"
                            )));
                        }
                        claim.claim_id = Some(id);
                        (
                            Operation::UpdateClaim {
                                claim,
                                language,
                                transfer_if_valid,
                            },
                            Vec::new(),
                        )
                    }
                    None => {
                        let warnings = repair
                            .lifecycle
                            .check(&RepairEvent::ClaimCreated {
                                valid: false,
                                transfer_if_valid,
                            })
                            .map_err(|e| AgoraError::Invalid(e.to_string()))?
                            .warnings;
                        claim.claim_id = None;
                        (
                            Operation::CreateClaim {
                                claim,
                                language,
                                transfer_if_valid,
                            },
                            warnings,
                        )
                    }
                })
            })
            .await?;
        let outcome = match delivery {
            Delivery::Delivered {
                answer: OperationAnswer::Claim(result),
                warning,
                ..
            } => ClaimOutcome::Judged { result, warning },
            Delivery::Delivered { entry, .. } => {
                ClaimOutcome::Refused(format!("entry {entry}: no verdict"))
            }
            Delivery::Queued { entry, error } => ClaimOutcome::Queued { entry, error },
            Delivery::InDoubt { entry, error } => ClaimOutcome::InDoubt { entry, error },
            Delivery::Failed { error, .. } => ClaimOutcome::Refused(error),
        };
        Ok(Checked { outcome, warnings })
    }

    /// Sends the invoice reference of a draft invoice, once: every claim of
    /// the draft must be CLOSEDACCEPTED here and not yet invoiced, and no
    /// earlier attempt for the draft may exist.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// use agora_app::domain::{ClaimId, DraftInvoiceNumber, InvoiceNumber};
    /// let draft = DraftInvoiceNumber::from("DR-19-00001");
    /// let invoice = InvoiceNumber::from("F-2026-000731");
    /// let delivery = app
    ///     .register_invoice(&draft, &invoice, &[ClaimId(5_000_001)])
    ///     .await?;
    /// println!("outbox entry {}", delivery.entry());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn register_invoice(
        &self,
        draft: &DraftInvoiceNumber,
        invoice_number: &InvoiceNumber,
        claims: &[ClaimId],
    ) -> Result<Delivery, AgoraError> {
        if draft.trim().is_empty() || invoice_number.trim().is_empty() {
            return Err(AgoraError::Invalid(
                "a draft number and an invoice number are needed".to_owned(),
            ));
        }
        if claims.is_empty() {
            return Err(AgoraError::Invalid(format!(
                "draft {draft}: no claim to match"
            )));
        }
        let mut intervention = None;
        for claim in claims {
            let repair = self
                .store
                .repair_by_claim(*claim)
                .await?
                .ok_or_else(|| AgoraError::Missing(format!("claim {claim}")))?;
            if repair.lifecycle.claim != Some(ClaimState::ClosedAccepted)
                || repair.lifecycle.invoiced
            {
                return Err(AgoraError::Invalid(format!(
                    "claim {claim} is not an accepted, uninvoiced claim (it is {:?}{})",
                    repair.lifecycle.claim,
                    if repair.lifecycle.invoiced {
                        ", invoiced"
                    } else {
                        ""
                    }
                )));
            }
            intervention.get_or_insert(repair);
        }
        for state in [
            OutboxState::Pending,
            OutboxState::Sending,
            OutboxState::InDoubt,
            OutboxState::Delivered,
        ] {
            for entry in self.store.entries(state).await? {
                if let Operation::SendInvoiceReference { reference, .. } = &entry.operation {
                    if reference.draft_invoice_number.as_ref() == Some(draft) {
                        return Err(AgoraError::Invalid(format!(
                            "draft {draft} already has an invoice reference (entry {}, {:?})",
                            entry.id, entry.state
                        )));
                    }
                }
            }
        }
        let repair = intervention.ok_or_else(|| AgoraError::Invalid("no claim".to_owned()))?;
        let operation = Operation::SendInvoiceReference {
            reference: InvoiceReference {
                invoice_number: Some(invoice_number.clone()),
                draft_invoice_number: Some(draft.clone()),
                ..InvoiceReference::default()
            },
            claims: claims.to_vec(),
        };
        self.save_and_send(&repair, operation).await
    }
}
