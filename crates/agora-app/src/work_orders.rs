//! Use case 1: sync work orders, and reconcile with the accepted list so a
//! work order accepted by AgoraPlus but not saved here is recovered.

use agora_domain::envelope::Verdict;
use agora_domain::lifecycle::{RepairEvent, RepairLifecycle};
use agora_domain::{CompleteRepairState, InterventionId, MandateId, NewMandateResponseData};
use agora_ports::{AgoraError, LocalRepair, Mandates, RepairFiles};

use crate::hub::Agora;
use crate::report::{Step, StepFailure, Warning, item_message, item_verdict};

/// What a work-order sync did. It has two halves, pulling new work orders
/// and reconciling with the accepted ones; when one failed and the other
/// was done, `failed` says which and why: the sync is then incomplete,
/// whatever it saved.
#[derive(Debug, Default)]
pub struct WorkOrderSync {
    /// Repair files saved from newly accepted work orders.
    pub accepted: Vec<InterventionId>,
    /// Repair files recovered from the accepted list (accepted earlier but
    /// never saved here, e.g. after a crash).
    pub recovered: Vec<InterventionId>,
    /// New work orders left for a person to accept (auto-accept off).
    pub awaiting_acceptance: Vec<MandateId>,
    /// Work orders AgoraPlus could not accept (their item said `E` or
    /// `IsValid` false), with its message. They stay NEW in AgoraPlus.
    pub refused: Vec<(Option<MandateId>, String)>,
    /// Work orders already saved here.
    pub already_known: usize,
    /// What AgoraPlus warned about: `W` envelopes, work orders with their
    /// own `W`, list items set aside as unreadable.
    pub warnings: Vec<Warning>,
    /// The half of the sync that failed while the other was done.
    pub failed: Option<StepFailure>,
}

impl WorkOrderSync {
    /// Whether both halves were done and every work order accepted.
    pub fn is_complete(&self) -> bool {
        self.failed.is_none() && self.refused.is_empty()
    }
}

fn local_repair(item: &NewMandateResponseData, id: InterventionId) -> Option<LocalRepair> {
    let mandate = item.mandate.as_ref()?;
    // The repair type from `InterventionTypeId`, else the nested
    // `InterventionType`: a claim needs it.
    let lifecycle = RepairLifecycle::from_work_order(mandate.manufacturer(), mandate.repair_type())
        .apply(&RepairEvent::MandateAccepted)
        .ok()?;
    Some(LocalRepair {
        intervention_id: id,
        mandate_id: mandate.mandate_id,
        file: CompleteRepairState::from_work_order(mandate, id),
        lifecycle,
        claim_id: None,
        orders: Vec::new(),
        attention: None,
        revision: 0,
        work_order: Some(mandate.clone()),
        accepted_at: None,
    })
}

/// A warning for a work order that said `W` on its own.
fn item_warning(operation: &'static str, item: &NewMandateResponseData) -> Option<Warning> {
    (item_verdict(item) == Verdict::Warning).then(|| Warning::Item {
        operation,
        item: match item.mandate.as_ref().and_then(|m| m.mandate_id) {
            Some(id) => format!("work order {id}"),
            None => "a work order".to_owned(),
        },
        message: item_message(item).unwrap_or_else(|| "warning without a message".to_owned()),
    })
}

impl<A: Mandates, S: RepairFiles> Agora<A, S> {
    /// Pulls new work orders (accepting them when so configured) and saves
    /// their repair files, then reconciles with `GetAcceptedMandates`.
    /// Every work order pulled is kept as AgoraPlus sent it
    /// ([`RepairFiles::keep_work_order`]), accepted or not.
    /// Running it twice saves nothing twice.
    ///
    /// When one half fails and the other succeeds, the report says which
    /// half failed (`failed`); when both fail, the error of pulling is
    /// returned. A local store failure is returned as is.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// let sync = app.sync_work_orders().await?;
    /// for id in &sync.accepted {
    ///     println!("repair file {id} saved");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn sync_work_orders(&self) -> Result<WorkOrderSync, AgoraError> {
        const NEW: &str = "GetNewMandates";
        const ACCEPTED: &str = "GetAcceptedMandates";
        let mut report = WorkOrderSync::default();
        let pull_error = match self.api.new_mandates(self.config.auto_accept).await {
            Ok(reply) => {
                report.warnings.extend(Warning::of_reply(NEW, &reply));
                let auto_accepted = self.config.auto_accept;
                for item in &reply.data {
                    self.keep(item).await?;
                    let mandate_id = item.mandate.as_ref().and_then(|m| m.mandate_id);
                    // Only auto-accept fills the item's verdict (2.1.1):
                    // without it, unfilled fields are no refusal.
                    match item.acceptance_verdict(auto_accepted) {
                        Some(Verdict::Error) => {
                            let message =
                                item_message(item).unwrap_or_else(|| "not accepted".to_owned());
                            report.refused.push((mandate_id, message));
                            continue;
                        }
                        Some(_) => report.warnings.extend(item_warning(NEW, item)),
                        None => {}
                    }
                    match item.given_intervention_id() {
                        Some(id) => {
                            if self.save_if_new(item, id).await? {
                                report.accepted.push(id);
                            } else {
                                report.already_known += 1;
                            }
                        }
                        None => report.awaiting_acceptance.extend(mandate_id),
                    }
                }
                None
            }
            Err(e) => Some(e),
        };
        match self.api.accepted_mandates().await {
            Ok(reply) => {
                report.warnings.extend(Warning::of_reply(ACCEPTED, &reply));
                for item in &reply.data {
                    let Some(id) = item.given_intervention_id() else {
                        continue;
                    };
                    self.keep(item).await?;
                    if report.accepted.contains(&id) {
                        continue;
                    }
                    report.warnings.extend(item_warning(ACCEPTED, item));
                    if self.save_if_new(item, id).await? {
                        report.recovered.push(id);
                    }
                }
                report.failed = pull_error.map(|error| StepFailure {
                    step: Step::NewWorkOrders,
                    error,
                });
            }
            Err(error) => match pull_error {
                Some(first) => return Err(first),
                None => {
                    report.failed = Some(StepFailure {
                        step: Step::AcceptedWorkOrders,
                        error,
                    });
                }
            },
        }
        Ok(report)
    }

    /// Keeps the work order of an item as pulled, with its repair file
    /// if AgoraPlus gave one.
    async fn keep(&self, item: &NewMandateResponseData) -> Result<(), AgoraError> {
        let Some(mandate) = &item.mandate else {
            return Ok(());
        };
        self.store
            .keep_work_order(mandate, item.given_intervention_id(), self.clock.now())
            .await
    }

    async fn save_if_new(
        &self,
        item: &NewMandateResponseData,
        id: InterventionId,
    ) -> Result<bool, AgoraError> {
        if self.store.repair(id).await?.is_some() {
            return Ok(false);
        }
        let Some(repair) = local_repair(item, id) else {
            return Ok(false);
        };
        match self.store.upsert_repair(&repair).await {
            // Another process saved it meanwhile.
            Err(AgoraError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
            Ok(()) => {
                tracing::info!(intervention = id.0, "repair file saved");
                Ok(true)
            }
        }
    }
}
