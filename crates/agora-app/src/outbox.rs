//! The outbox dispatcher: delivers what the use cases wrote, at least once
//! for idempotent operations (with backoff), at most once for the others
//! (in doubt when the outcome is unknown, for a person to resolve).

use std::time::Duration;

use agora_domain::lifecycle::RepairEvent;
use agora_domain::{PartOrderLine, StateNature, StatusCode, WarrantyClaimResult};
use agora_ports::{
    AgoraError, ClaimSubmission, Claims, Invoices, LocalRepair, Operation, Outbox, OutboxEntry,
    OutboxState, PartOrders, Reach, RepairFiles, Repairs,
};

use crate::agora::Agora;

/// What became of an outbox entry after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Delivered; what AgoraPlus answered.
    Delivered {
        /// The entry.
        entry: u64,
        /// The answer's data, for the operations that return some.
        answer: Answer,
        /// A warning AgoraPlus attached.
        warning: Option<String>,
    },
    /// Not delivered yet; retried later.
    Queued {
        /// The entry.
        entry: u64,
        /// Why.
        error: String,
    },
    /// May or may not have been applied: parked for a person.
    InDoubt {
        /// The entry.
        entry: u64,
        /// What happened.
        error: String,
    },
    /// Refused by AgoraPlus: will not succeed as it is.
    Failed {
        /// The entry.
        entry: u64,
        /// AgoraPlus's reason.
        error: String,
    },
}

/// The data an operation's answer carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Nothing beyond success.
    Done,
    /// `CreateRepair`'s new file.
    Created(agora_domain::InterventionId),
    /// The order lines of `PlaceRepairSparepartOrder`.
    Ordered(Vec<PartOrderLine>),
    /// A claim's verdict.
    Claim(WarrantyClaimResult),
}

impl Delivery {
    /// The entry's id.
    pub fn entry(&self) -> u64 {
        match self {
            Self::Delivered { entry, .. }
            | Self::Queued { entry, .. }
            | Self::InDoubt { entry, .. }
            | Self::Failed { entry, .. } => *entry,
        }
    }
}

/// What a flush of the outbox did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FlushReport {
    /// Entries delivered.
    pub delivered: usize,
    /// Entries to retry later.
    pub queued: usize,
    /// Entries parked in doubt.
    pub in_doubt: usize,
    /// Entries refused.
    pub failed: usize,
}

/// How a person settles an entry that is in doubt (or failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// It was applied (checked in AgoraPlus): mark it delivered.
    Delivered,
    /// It was not applied: send it again.
    Resend,
    /// Drop it.
    Abandon,
}

impl<A, S> Agora<A, S>
where
    A: Repairs + PartOrders + Claims + Invoices,
    S: RepairFiles + Outbox,
{
    /// To run once at start: entries a crash left mid-send are parked in
    /// doubt (state-changing) or requeued (idempotent). Returns those parked.
    pub async fn recover(&self) -> Result<Vec<u64>, AgoraError> {
        self.store.recover_interrupted().await
    }

    /// Delivers every entry due now, oldest first.
    pub async fn flush_outbox(&self) -> Result<FlushReport, AgoraError> {
        let mut report = FlushReport::default();
        loop {
            let due = self.store.due(self.clock.now(), 50).await?;
            if due.is_empty() {
                return Ok(report);
            }
            for entry in due {
                match self.deliver(entry).await? {
                    Delivery::Delivered { .. } => report.delivered += 1,
                    Delivery::Queued { .. } => report.queued += 1,
                    Delivery::InDoubt { .. } => report.in_doubt += 1,
                    Delivery::Failed { .. } => report.failed += 1,
                }
            }
        }
    }

    /// Delivers one entry now.
    pub(crate) async fn deliver_id(&self, id: u64) -> Result<Delivery, AgoraError> {
        let entry = self
            .store
            .entry(id)
            .await?
            .ok_or_else(|| AgoraError::Missing(format!("outbox entry {id}")))?;
        self.deliver(entry).await
    }

    /// One attempt at an entry: marked `Sending` first, so that a crash
    /// mid-call leaves a trace; then the outcome.
    pub async fn deliver(&self, entry: OutboxEntry) -> Result<Delivery, AgoraError> {
        let now = self.clock.now();
        self.store
            .record_attempt(entry.id, OutboxState::Sending, now, None)
            .await?;
        let result = self.send(&entry.operation).await;
        let id = entry.id;
        match result {
            Ok((answer, warning)) => {
                self.apply_answer(&entry, &answer).await?;
                self.store
                    .record_attempt(id, OutboxState::Delivered, now, None)
                    .await?;
                Ok(Delivery::Delivered {
                    entry: id,
                    answer,
                    warning,
                })
            }
            Err(error) => {
                let message = error.to_string();
                let idempotent = entry.operation.is_idempotent();
                let in_doubt =
                    error.is_in_doubt() || (!idempotent && error.reach() == Reach::Unknown);
                let attempts = entry.attempts + 1;
                if in_doubt {
                    self.store
                        .record_attempt(id, OutboxState::InDoubt, now, Some(message.clone()))
                        .await?;
                    tracing::warn!(entry = id, operation = entry.operation.name(), "in doubt");
                    Ok(Delivery::InDoubt {
                        entry: id,
                        error: message,
                    })
                } else if error.is_retryable() && attempts < self.config.max_attempts {
                    let delay = error
                        .retry_after()
                        .unwrap_or_else(|| self.backoff(attempts));
                    self.store
                        .record_attempt(
                            id,
                            OutboxState::Pending,
                            now + delay,
                            Some(message.clone()),
                        )
                        .await?;
                    Ok(Delivery::Queued {
                        entry: id,
                        error: message,
                    })
                } else {
                    self.store
                        .record_attempt(id, OutboxState::Failed, now, Some(message.clone()))
                        .await?;
                    Ok(Delivery::Failed {
                        entry: id,
                        error: message,
                    })
                }
            }
        }
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(16);
        self.config
            .retry_base
            .saturating_mul(factor)
            .min(self.config.retry_max)
    }

    async fn send(&self, operation: &Operation) -> Result<(Answer, Option<String>), AgoraError> {
        let how = |language, transfer_if_valid| ClaimSubmission {
            language,
            transfer_if_valid,
        };
        Ok(match operation {
            Operation::UpdateRepair(file) => {
                let r = self.api.update_repair(file).await?;
                (Answer::Done, r.warning)
            }
            Operation::CreateRepair(file) => {
                let r = self.api.create_repair(file).await?;
                (Answer::Created(r.data), r.warning)
            }
            Operation::PlaceOrder(id) => {
                let r = self.api.place_order(*id).await?;
                (Answer::Ordered(r.data), r.warning)
            }
            Operation::CreateClaim {
                claim,
                language,
                transfer_if_valid,
            } => {
                let r = self
                    .api
                    .create_claim(claim, how(*language, *transfer_if_valid))
                    .await?;
                (Answer::Claim(r.data), r.warning)
            }
            Operation::UpdateClaim {
                claim,
                language,
                transfer_if_valid,
            } => {
                let r = self
                    .api
                    .update_claim(claim, how(*language, *transfer_if_valid))
                    .await?;
                (Answer::Claim(r.data), r.warning)
            }
            Operation::SendInvoiceReference { reference, .. } => {
                let r = self.api.send_invoice_reference(reference).await?;
                (Answer::Done, r.warning)
            }
            other => {
                return Err(AgoraError::Invalid(format!(
                    "{} is not an operation this version delivers",
                    other.name()
                )));
            }
        })
    }

    /// Brings the local files in line with what AgoraPlus answered.
    async fn apply_answer(&self, entry: &OutboxEntry, answer: &Answer) -> Result<(), AgoraError> {
        match (&entry.operation, answer) {
            (Operation::CreateRepair(file), Answer::Created(id)) => {
                let mut file = file.clone();
                file.intervention_id = Some(*id);
                let lifecycle = agora_domain::lifecycle::RepairLifecycle::direct(
                    file.manufacturer_id,
                    file.intervention_type(),
                );
                self.store
                    .upsert_repair(&LocalRepair {
                        intervention_id: *id,
                        mandate_id: None,
                        file,
                        lifecycle,
                        claim_id: None,
                        orders: Vec::new(),
                        attention: None,
                    })
                    .await
            }
            (Operation::PlaceOrder(id), Answer::Ordered(lines)) => {
                let Some(mut repair) = self.store.repair(*id).await? else {
                    return Ok(());
                };
                for line in lines {
                    if let Some(part) = repair
                        .file
                        .parts
                        .iter_mut()
                        .flatten()
                        .find(|p| p.order_number.is_none() && p.reference == line.reference)
                    {
                        part.order_number.clone_from(&line.order_number);
                        part.to_be_ordered = Some(false);
                    }
                    repair.orders.push(line.clone());
                }
                self.store.upsert_repair(&repair).await
            }
            (
                Operation::CreateClaim {
                    transfer_if_valid, ..
                }
                | Operation::UpdateClaim {
                    transfer_if_valid, ..
                },
                Answer::Claim(result),
            ) => {
                let Some(mut repair) = self.claim_repair(entry).await? else {
                    return Ok(());
                };
                let valid = result.is_valid == Some(true);
                let transfer_if_valid = *transfer_if_valid;
                let created = matches!(entry.operation, Operation::CreateClaim { .. });
                let event = if created {
                    RepairEvent::ClaimCreated {
                        valid,
                        transfer_if_valid,
                    }
                } else {
                    RepairEvent::ClaimUpdated {
                        valid,
                        transfer_if_valid,
                    }
                };
                match repair.lifecycle.apply(&event) {
                    Ok(next) => repair.lifecycle = next,
                    Err(e) => {
                        tracing::warn!(error = %e, "local lifecycle disagrees with AgoraPlus")
                    }
                }
                if created {
                    repair.claim_id = result.claim_id.or(repair.claim_id);
                    let closure = StateNature::new(
                        StatusCode::ClosedWithWarrantyIntervention,
                        "Closed with warranty intervention (set by AgoraPlus)",
                    );
                    repair
                        .file
                        .state_natures
                        .get_or_insert_with(Vec::new)
                        .push(closure);
                }
                repair.attention =
                    (!valid).then(|| "claim NOTVALID: correct and resubmit".to_owned());
                self.store.upsert_repair(&repair).await
            }
            (Operation::SendInvoiceReference { claims, .. }, _) => {
                for claim in claims {
                    if let Some(mut repair) = self.store.repair_by_claim(*claim).await? {
                        if let Ok(next) = repair.lifecycle.apply(&RepairEvent::Invoiced) {
                            repair.lifecycle = next;
                            self.store.upsert_repair(&repair).await?;
                        }
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn claim_repair(&self, entry: &OutboxEntry) -> Result<Option<LocalRepair>, AgoraError> {
        match entry.intervention_id {
            Some(id) => self.store.repair(id).await,
            None => Ok(None),
        }
    }

    /// The entries in a state.
    pub async fn outbox(&self, state: OutboxState) -> Result<Vec<OutboxEntry>, AgoraError> {
        self.store.entries(state).await
    }

    /// Settles an entry in doubt (or failed) as a person decided.
    pub async fn resolve(
        &self,
        id: u64,
        resolution: Resolution,
    ) -> Result<OutboxState, AgoraError> {
        let entry = self
            .store
            .entry(id)
            .await?
            .ok_or_else(|| AgoraError::Missing(format!("outbox entry {id}")))?;
        if !matches!(entry.state, OutboxState::InDoubt | OutboxState::Failed) {
            return Err(AgoraError::Invalid(format!(
                "entry {id} is {:?}: only entries in doubt or failed are resolved by hand",
                entry.state
            )));
        }
        let (state, note) = match resolution {
            Resolution::Delivered => (OutboxState::Delivered, "resolved by hand: applied"),
            Resolution::Resend => (OutboxState::Pending, "resolved by hand: to resend"),
            Resolution::Abandon => (OutboxState::Failed, "resolved by hand: abandoned"),
        };
        self.store
            .record_attempt(id, state, self.clock.now(), Some(note.to_owned()))
            .await?;
        Ok(state)
    }
}
