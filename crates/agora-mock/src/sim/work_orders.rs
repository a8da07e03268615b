//! Work orders (mandates): the OEM publishes them to an account, which
//! reads the new ones and accepts them into repair files.

use agora_domain::lifecycle::{RepairEvent, RepairLifecycle};
use agora_domain::{
    CompleteRepairState, InterventionId, MandateId, MandateLightResponse, MandateStatus,
    NewMandateResponseData, ResponseStatus,
};
use jiff::Timestamp;
use serde_json::json;

use super::{MandateRecord, RepairRecord, Simulator, hint, now_wire};
use crate::error::{Answer, SimError};

impl Simulator {
    /// `GetNewMandates`.
    pub fn new_mandates(
        &self,
        key: &str,
        auto_accept: bool,
    ) -> Result<Answer<Vec<NewMandateResponseData>>, SimError> {
        self.with_tenant(key, |t, ids, now| {
            let new: Vec<MandateId> = t
                .mandates
                .iter()
                .filter(|(_, m)| m.status == MandateStatus::New)
                .map(|(id, _)| *id)
                .collect();
            let mut out = Vec::with_capacity(new.len());
            let item_warning = t.profile.item_warning.clone();
            for id in new {
                let record = t.mandates.get_mut(&id).ok_or(SimError::Internal)?;
                if !auto_accept {
                    out.push(NewMandateResponseData {
                        mandate: Some(record.mandate.clone()),
                        ..NewMandateResponseData::default()
                    });
                    continue;
                }
                if record.broken {
                    out.push(NewMandateResponseData {
                        is_valid: Some(false),
                        response_status: Some(ResponseStatus::Error),
                        response_error_message: Some(format!(
                            "Work order {id} could not be accepted: the repair file cannot be created from it"
                        )),
                        mandate: Some(record.mandate.clone()),
                        ..NewMandateResponseData::default()
                    });
                    continue;
                }
                let lifecycle = RepairLifecycle::from_work_order(
                    record.mandate.manufacturer(),
                    record.mandate.repair_type(),
                )
                .apply(&RepairEvent::MandateAccepted)
                .map_err(|e| SimError::Rejected(e.to_string()))?;
                let intervention_id = ids.next_intervention();
                let file = file_from_mandate(&record.mandate, intervention_id, now);
                record.status = MandateStatus::Accepted;
                record.intervention_id = Some(intervention_id);
                t.journal.push_applied(
                    "GetNewMandates",
                    format!("repair file for work order {id}"),
                    Some(intervention_id.to_string()),
                    true,
                    now,
                );
                t.repairs.insert(
                    intervention_id,
                    RepairRecord {
                        file,
                        lifecycle,
                        claim_id: None,
                        reported: Vec::new(),
                    },
                );
                let (response_status, response_message) = match &item_warning {
                    Some(w) => (
                        ResponseStatus::Warning,
                        format!("Repair file {intervention_id} created: {w}"),
                    ),
                    None => (
                        ResponseStatus::Success,
                        format!("Repair file {intervention_id} created"),
                    ),
                };
                out.push(NewMandateResponseData {
                    is_valid: Some(true),
                    response_status: Some(response_status),
                    response_message: Some(response_message),
                    mandate: Some(record.mandate.clone()),
                    intervention_id: Some(intervention_id),
                    ..NewMandateResponseData::default()
                });
            }
            let n = out.len();
            Ok(Answer::with_message(out, format!("{n} new work order(s)")))
        })
    }

    /// `GetAcceptedMandates`.
    pub fn accepted_mandates(
        &self,
        key: &str,
    ) -> Result<Answer<Vec<NewMandateResponseData>>, SimError> {
        self.with_tenant(key, |t, _, _| {
            let out: Vec<_> = t
                .mandates
                .values()
                .filter(|m| m.status == MandateStatus::Accepted)
                .map(|m| NewMandateResponseData {
                    mandate: Some(m.mandate.clone()),
                    intervention_id: m.intervention_id,
                    ..NewMandateResponseData::default()
                })
                .collect();
            let n = out.len();
            Ok(Answer::with_message(
                out,
                format!("{n} accepted work order(s)"),
            ))
        })
    }

    /// Publishes a work order to an account (NEW until accepted).
    pub fn publish_mandate(
        &self,
        api_key: &str,
        mandate: MandateLightResponse,
    ) -> Result<MandateId, SimError> {
        self.publish_flagged(api_key, mandate, false)
    }

    /// Publishes a work order already flagged broken (see
    /// [`Simulator::set_mandate_broken`]).
    pub fn publish_broken_mandate(
        &self,
        api_key: &str,
        mandate: MandateLightResponse,
    ) -> Result<MandateId, SimError> {
        self.publish_flagged(api_key, mandate, true)
    }

    fn publish_flagged(
        &self,
        api_key: &str,
        mandate: MandateLightResponse,
        broken: bool,
    ) -> Result<MandateId, SimError> {
        self.catch_up(api_key);
        let mut world = self.world();
        let id = world.next_mandate;
        let tenant = world
            .tenants
            .get_mut(api_key)
            .ok_or_else(|| SimError::NotFound(format!("no account with key {}", hint(api_key))))?;
        let mut mandate = mandate;
        mandate.mandate_id = Some(id);
        tenant.mandates.insert(
            id,
            MandateRecord {
                mandate,
                status: MandateStatus::New,
                intervention_id: None,
                broken,
            },
        );
        world.next_mandate.0 += 1;
        Ok(id)
    }

    /// Flags a work order as broken (or repairs it): while broken,
    /// accepting it through `autoAccept` answers that item with `IsValid`
    /// false and `ResponseStatus` E, creates no repair file, and leaves it
    /// NEW. Only a NEW work order of the account `key` can be flagged;
    /// another account's is not found.
    pub fn set_mandate_broken(
        &self,
        key: &str,
        mandate_id: MandateId,
        broken: bool,
    ) -> Result<(), SimError> {
        self.with_account(key, |tenant, _, _| {
            let record = tenant
                .mandates
                .get_mut(&mandate_id)
                .ok_or_else(|| SimError::NotFound(format!("no work order {mandate_id}")))?;
            if record.status != MandateStatus::New {
                return Err(SimError::Conflict(format!(
                    "work order {mandate_id} is {}: only a NEW one can be flagged",
                    record.status
                )));
            }
            record.broken = broken;
            Ok(())
        })
    }
}

/// The repair file AgoraPlus creates when a work order is accepted.
fn file_from_mandate(
    m: &MandateLightResponse,
    intervention_id: InterventionId,
    now: Timestamp,
) -> CompleteRepairState {
    let mut file = CompleteRepairState::from_work_order(m, intervention_id);
    file.extra
        .insert("CreationDate".into(), json!(now_wire(now)));
    file
}
