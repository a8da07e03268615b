//! Use case 1: sync work orders, and reconcile with the accepted list so a
//! work order accepted by AgoraPlus but not saved here is recovered.

use agora_domain::lifecycle::{RepairEvent, RepairLifecycle};
use agora_domain::{
    CompleteRepairState, InterventionId, MandateId, NewMandateResponseData, SetAside,
};
use agora_ports::{AgoraError, LocalRepair, Mandates, RepairFiles};

use crate::agora::Agora;

/// What a work-order sync did.
#[derive(Debug, Default)]
pub struct WorkOrderSync {
    /// Repair files saved from newly accepted work orders.
    pub accepted: Vec<InterventionId>,
    /// Repair files recovered from the accepted list (accepted earlier but
    /// never saved here, e.g. after a crash).
    pub recovered: Vec<InterventionId>,
    /// New work orders left for a person to accept (auto-accept off).
    pub awaiting_acceptance: Vec<MandateId>,
    /// Work orders AgoraPlus could not accept, with its message.
    pub refused: Vec<(Option<MandateId>, String)>,
    /// Work orders already saved here.
    pub already_known: usize,
    /// The failure of `GetNewMandates`, when reconciliation still ran.
    pub new_mandates_error: Option<String>,
    /// Items of either answer that could not be read at all (not an
    /// object), with their index, raw JSON and why: the rest was used.
    pub set_aside: Vec<SetAside>,
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
    })
}

impl<A: Mandates, S: RepairFiles> Agora<A, S> {
    /// Pulls new work orders (accepting them when so configured) and saves
    /// their repair files, then reconciles with `GetAcceptedMandates`.
    /// Running it twice saves nothing twice.
    pub async fn sync_work_orders(&self) -> Result<WorkOrderSync, AgoraError> {
        let mut report = WorkOrderSync::default();
        let pulled = self.api.new_mandates(self.config.auto_accept).await;
        let pull_error = match pulled {
            Ok(reply) => {
                report.set_aside.extend(reply.set_aside.iter().cloned());
                for item in &reply.data {
                    let mandate_id = item.mandate.as_ref().and_then(|m| m.mandate_id);
                    if item.is_valid == Some(false) {
                        let message = item
                            .response_error_message
                            .clone()
                            .or_else(|| item.response_message.clone())
                            .unwrap_or_else(|| "not accepted".to_owned());
                        report.refused.push((mandate_id, message));
                        continue;
                    }
                    match item.intervention_id {
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
                report.set_aside.extend(reply.set_aside.iter().cloned());
                for item in &reply.data {
                    let Some(id) = item.intervention_id else {
                        continue;
                    };
                    if report.accepted.contains(&id) {
                        continue;
                    }
                    if self.save_if_new(item, id).await? {
                        report.recovered.push(id);
                    }
                }
            }
            Err(e) => return Err(pull_error.unwrap_or(e)),
        }
        report.new_mandates_error = pull_error.map(|e| e.to_string());
        Ok(report)
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
        self.store.upsert_repair(&repair).await?;
        tracing::info!(intervention = id, "repair file saved");
        Ok(true)
    }
}
