//! Repair files: creating one directly and updating it, each new status
//! judged by the repair lifecycle.

use agora_domain::lifecycle::{RepairEvent, RepairLifecycle};
use agora_domain::{
    CompleteRepairState, CreateRepairResult, InterventionId, StateNature, StatusCode,
};

use agora_domain::routes::Route;

use super::{RepairRecord, Simulator, require, required};
use crate::error::{Answer, SimError};

impl Simulator {
    /// `CreateRepair`.
    pub fn create_repair(
        &self,
        key: &str,
        file: CompleteRepairState,
    ) -> Result<Answer<CreateRepairResult>, SimError> {
        require(Route::CreateRepair, &file, true)?;
        known_origin(&file)?;
        self.with_tenant(key, |t, ids, now| {
            let manufacturer = file
                .manufacturer_id
                .ok_or_else(|| required("ManufacturerId"))?;
            let repair_type = file
                .intervention_type()
                .ok_or_else(|| required("Intervention.InterventionType"))?;
            known_codes(file.state_natures.iter().flatten())?;
            let mut lifecycle = RepairLifecycle::direct(Some(manufacturer), Some(repair_type));
            for status in file.state_natures.iter().flatten() {
                lifecycle = lifecycle
                    .apply(&RepairEvent::StatusReported(status.clone()))
                    .map_err(|e| SimError::Rejected(e.to_string()))?;
            }
            let id = ids.next_intervention();
            let intent = match file.mandate_id {
                Some(mandate) => format!("repair file for work order {mandate}"),
                None => format!("repair file {id} created"),
            };
            t.journal
                .push_applied("CreateRepair", intent, Some(id.to_string()), true, now);
            let mut file = file;
            file.intervention_id = Some(id);
            let reported = file
                .state_natures
                .iter()
                .flatten()
                .map(without_order_marks)
                .collect();
            t.repairs.insert(
                id,
                RepairRecord {
                    file,
                    lifecycle,
                    claim_id: None,
                    reported,
                },
            );
            Ok(Answer::with_message(
                CreateRepairResult {
                    intervention_id: Some(id),
                    ..CreateRepairResult::default()
                },
                format!("Repair file {id} created"),
            ))
        })
    }

    /// `UpdateRepair`: the whole file; statuses not seen before (their
    /// parts' order marks aside) are judged by the lifecycle and appended
    /// to the history, or, when the account's profile says
    /// `UpdateReplaces`, the file received replaces the stored one, its
    /// history included.
    pub fn update_repair(
        &self,
        key: &str,
        file: CompleteRepairState,
    ) -> Result<Answer<()>, SimError> {
        let replace = self.applies_duplicates();
        self.with_tenant(key, |t, _, now| {
            // A file fills in over its life (a work order carries no
            // ManufacturingCode): the reference's marks hold for an update
            // only where the account's profile says so.
            require(Route::UpdateRepair, &file, t.profile.strict_updates)?;
            known_origin(&file)?;
            let id = file
                .intervention_id
                .ok_or_else(|| required("InterventionId"))?;
            // The account's profile, or chaos mode, replaces the file.
            let replace = replace || t.profile.update_replaces;
            let record = t
                .repairs
                .get_mut(&id)
                .ok_or_else(|| SimError::NotFound(format!("no repair file {id}")))?;
            let stored = record.file.state_natures.clone().unwrap_or_default();
            let incoming = file.state_natures.clone().unwrap_or_default();
            // A status is the one seen before whatever the order marks on
            // its parts: PlaceRepairSparepartOrder sets them here, and the
            // client's copy sent back may not have them.
            let seen: Vec<StateNature> = stored.iter().map(without_order_marks).collect();
            let sent: Vec<StateNature> = incoming.iter().map(without_order_marks).collect();
            for status in &seen {
                if !record.reported.contains(status) {
                    record.reported.push(status.clone());
                }
            }
            let new: Vec<StateNature> = if replace {
                // Judged against every status the file ever held: the
                // history received may have dropped some.
                incoming
                    .into_iter()
                    .zip(&sent)
                    .filter(|(_, s)| !record.reported.contains(s))
                    .map(|(status, _)| status)
                    .collect()
            } else if sent.starts_with(&seen) {
                incoming[stored.len()..].to_vec()
            } else {
                incoming
                    .into_iter()
                    .zip(&sent)
                    .filter(|(_, s)| !seen.contains(s))
                    .map(|(status, _)| status)
                    .collect()
            };
            // Codes outside the reference's tables are refused; the domain
            // judges the update as a whole (602 passes a closed file).
            known_codes(&new)?;
            let mut lifecycle = record
                .lifecycle
                .check_update(&new)
                .map_err(|e| SimError::Rejected(e.to_string()))?
                .next;
            t.journal.push_applied(
                "UpdateRepair",
                format!("update of file {id}"),
                None,
                false,
                now,
            );
            for status in &new {
                t.journal
                    .push_applied("UpdateRepair", status_intent(id, status), None, true, now);
            }
            record.reported.extend(new.iter().map(without_order_marks));
            let history = if replace {
                // The file as received; AgoraPlus's own closure kept when
                // the file received does not carry one.
                let mut history = file.state_natures.clone().unwrap_or_default();
                let closure =
                    |s: &StateNature| s.code == Some(StatusCode::ClosedWithWarrantyIntervention);
                if !history.iter().any(closure) {
                    history.extend(stored.into_iter().filter(closure));
                }
                history
            } else {
                let mut history = stored;
                history.extend(new);
                history
            };
            let mut file = file;
            file.state_natures = Some(history);
            file.mandate_id = record.file.mandate_id.or(file.mandate_id);
            file.manufacturer_id = record.file.manufacturer_id.or(file.manufacturer_id);
            lifecycle.repair_type = file.intervention_type().or(lifecycle.repair_type);
            record.file = file;
            record.lifecycle = lifecycle;
            Ok(Answer::with_message(
                (),
                format!("Repair file {id} updated"),
            ))
        })
    }
}

/// The intent of a status reported: its code and comment in the file.
fn status_intent(file: InterventionId, status: &StateNature) -> String {
    format!(
        "status {} '{}' of file {file}",
        status.code.as_ref().map_or("?", StatusCode::as_str),
        status.comment.as_deref().unwrap_or_default()
    )
}

/// A status without its parts' order marks (`OrderNumber`, `ToBeOrdered`),
/// to tell whether it was seen before.
fn without_order_marks(status: &StateNature) -> StateNature {
    let mut status = status.clone();
    for part in status.parts.iter_mut().flatten() {
        part.order_number = None;
        part.to_be_ordered = None;
    }
    status
}

/// A repair origin outside the reference's two ("CONSUMER" or "RESELLER",
/// 2.2.1) is a malformed request: 400, naming it.
fn known_origin(file: &CompleteRepairState) -> Result<(), SimError> {
    match file
        .intervention
        .as_ref()
        .and_then(|i| i.repair_origin_code.as_ref())
    {
        Some(origin) if !origin.is_known() => Err(SimError::BadRequest(format!(
            "Intervention.RepairOriginCode `{origin}` is neither CONSUMER nor RESELLER"
        ))),
        _ => Ok(()),
    }
}

/// Refuses a status whose code is not in the reference's tables (2.2.2),
/// as AgoraPlus judges what it receives; the table is the domain's.
fn known_codes<'a>(statuses: impl IntoIterator<Item = &'a StateNature>) -> Result<(), SimError> {
    for status in statuses {
        if let Some(code) = status.code.as_ref().filter(|c| !c.is_known()) {
            return Err(SimError::Rejected(format!(
                "status code `{code}` is not in the reference's status code tables"
            )));
        }
    }
    Ok(())
}
