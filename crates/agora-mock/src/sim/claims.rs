//! Warranty claims: an account creates and updates them under the OEMs'
//! rule sets and reads their status; the OEM decides on them.

use agora_domain::lifecycle::RepairEvent;
use agora_domain::rules::is_valid;
use agora_domain::{
    ClaimId, ClaimStatus, ClaimTracking, Lcid, StateNature, StatusCode, ValidationResult,
    WarrantyClaim, WarrantyClaimResult,
};
use serde_json::json;

use agora_domain::routes::Route;

use super::{ClaimRecord, Simulator, now_wire, require, required};
use crate::error::{Answer, SimError};

impl Simulator {
    /// `CreateWarrantyClaims`.
    pub fn create_claim(
        &self,
        key: &str,
        claim: WarrantyClaim,
        language: Lcid,
        transfer_if_valid: bool,
    ) -> Result<Answer<WarrantyClaimResult>, SimError> {
        let rules = &self.inner.rules;
        let again = self.applies_duplicates();
        require(Route::CreateWarrantyClaims, &claim, true)?;
        self.with_tenant(key, |t, ids, now| {
            let intervention = claim
                .claim_type
                .as_ref()
                .and_then(|c| c.intervention_id)
                .ok_or_else(|| required("ClaimType.InterventionId"))?;
            let record = t
                .repairs
                .get_mut(&intervention)
                .ok_or_else(|| SimError::NotFound(format!("no repair file {intervention}")))?;
            let findings = rules.check(&claim, language);
            let valid = is_valid(&findings);
            let lifecycle = match record.lifecycle.apply(&RepairEvent::ClaimCreated {
                valid,
                transfer_if_valid,
            }) {
                Ok(next) => next,
                // Guards off: a second claim for the file is created.
                Err(_) if again && record.claim_id.is_some() => record.lifecycle.clone(),
                Err(e) => return Err(SimError::Rejected(e.to_string())),
            };
            let id = ids.next_claim();
            t.journal.push_applied(
                "CreateWarrantyClaims",
                format!("claim for file {intervention}"),
                Some(id.to_string()),
                true,
                now,
            );
            record.lifecycle = lifecycle;
            record.claim_id = Some(id);
            let transferred = awaiting_decision(&record.lifecycle).then_some(now);
            let mut closure = StateNature::new(
                StatusCode::ClosedWithWarrantyIntervention,
                format!("Closed with warranty intervention (claim {id})"),
            );
            closure.appointment_date = None;
            closure
                .extra
                .insert("StatusDate".into(), json!(now_wire(now)));
            record
                .file
                .state_natures
                .get_or_insert_with(Vec::new)
                .push(closure);
            let manufacturer = record.lifecycle.manufacturer;
            let mut claim = claim;
            claim.claim_id = Some(id);
            t.claims.insert(
                id,
                ClaimRecord {
                    claim,
                    intervention_id: intervention,
                    manufacturer,
                    comment: None,
                    findings: findings.clone(),
                    draft: None,
                    transferred,
                },
            );
            Ok(Answer::ok(claim_result(id, valid, findings)))
        })
    }

    /// `UpdateWarrantyClaim`.
    pub fn update_claim(
        &self,
        key: &str,
        claim: WarrantyClaim,
        language: Lcid,
        transfer_if_valid: bool,
    ) -> Result<Answer<WarrantyClaimResult>, SimError> {
        let rules = &self.inner.rules;
        require(Route::UpdateWarrantyClaim, &claim, true)?;
        self.with_tenant(key, |t, _, now| {
            let id = claim.claim_id.ok_or_else(|| required("ClaimID"))?;
            let stored = t
                .claims
                .get_mut(&id)
                .ok_or_else(|| SimError::NotFound(format!("no claim {id}")))?;
            let record = t
                .repairs
                .get_mut(&stored.intervention_id)
                .ok_or(SimError::Internal)?;
            let findings = rules.check(&claim, language);
            let valid = is_valid(&findings);
            let lifecycle = record
                .lifecycle
                .apply(&RepairEvent::ClaimUpdated {
                    valid,
                    transfer_if_valid,
                })
                .map_err(|e| SimError::Rejected(e.to_string()))?;
            record.lifecycle = lifecycle;
            stored.transferred = awaiting_decision(&record.lifecycle).then_some(now);
            t.journal.push_applied(
                "UpdateWarrantyClaim",
                format!("correction of claim {id}"),
                None,
                false,
                now,
            );
            let mut claim = claim;
            if let Some(ct) = claim.claim_type.as_mut() {
                ct.intervention_id = Some(stored.intervention_id);
            }
            stored.claim = claim;
            stored.findings = findings.clone();
            Ok(Answer::ok(claim_result(id, valid, findings)))
        })
    }

    /// The claim's `LastStatus`.
    pub fn claim_status(&self, key: &str, id: ClaimId) -> Result<Answer<ClaimTracking>, SimError> {
        self.with_tenant(key, |t, _, _| {
            let claim = t
                .claims
                .get(&id)
                .ok_or_else(|| SimError::NotFound(format!("no claim {id}")))?;
            let state = t
                .repairs
                .get(&claim.intervention_id)
                .and_then(|r| r.lifecycle.claim)
                .ok_or(SimError::Internal)?;
            Ok(Answer::ok(ClaimTracking {
                claim_id: Some(id),
                last_status: Some(state.last_status()),
                comment: claim.comment.clone(),
                ..ClaimTracking::default()
            }))
        })
    }

    /// The OEM decides on a transferred claim of the account `key`:
    /// NOTCONFORM or CLOSEDACCEPTED. Another account's claim is not found.
    pub fn decide_claim(
        &self,
        key: &str,
        claim_id: ClaimId,
        decision: ClaimStatus,
        comment: Option<String>,
    ) -> Result<ClaimStatus, SimError> {
        self.with_account(key, |tenant, _, _| {
            let claim = tenant
                .claims
                .get_mut(&claim_id)
                .ok_or_else(|| SimError::NotFound(format!("no claim {claim_id}")))?;
            let record = tenant
                .repairs
                .get_mut(&claim.intervention_id)
                .ok_or(SimError::Internal)?;
            record.lifecycle = record
                .lifecycle
                .apply(&RepairEvent::OemDecision(decision.clone()))
                .map_err(|e| SimError::Conflict(e.to_string()))?;
            claim.comment = comment;
            claim.transferred = None;
            Ok(decision)
        })
    }
}

/// Whether the file's claim waits for the OEM's decision (valid and
/// transferred).
fn awaiting_decision(lifecycle: &agora_domain::lifecycle::RepairLifecycle) -> bool {
    lifecycle.claim == Some(agora_domain::lifecycle::ClaimState::Valid { transferred: true })
}

fn claim_result(id: ClaimId, valid: bool, findings: Vec<ValidationResult>) -> WarrantyClaimResult {
    WarrantyClaimResult {
        report_number: Some(format!("RPT-{id}")),
        claim_id: Some(id),
        is_valid: Some(valid),
        validation_errors: Some(findings),
        error_message: None,
        ..WarrantyClaimResult::default()
    }
}
