//! Inspection: an account's whole state as JSON, for the control API and
//! for tests.

use agora_domain::lifecycle::ClaimState;
use serde_json::{Value, json};

use super::{Simulator, World, clock, hint};
use crate::error::SimError;

impl Simulator {
    /// Every account's key and whether it is locked, in key order: what
    /// the admin of the controls may choose from.
    pub fn accounts(&self) -> Vec<(String, bool)> {
        self.world()
            .tenants
            .iter()
            .map(|(key, t)| (key.clone(), t.locked))
            .collect()
    }

    /// Whether the account `key` is locked (`None`: no such account).
    pub fn is_locked(&self, key: &str) -> Option<bool> {
        self.world().tenants.get(key).map(|t| t.locked)
    }

    /// An account's whole state as JSON.
    pub fn state(&self, api_key: &str) -> Result<Value, SimError> {
        self.catch_up(api_key);
        let base = self.base_now();
        let mut world = self.world();
        let World { tenants, clock, .. } = &mut *world;
        let t = tenants
            .get_mut(api_key)
            .ok_or_else(|| SimError::NotFound(format!("no account with key {}", hint(api_key))))?;
        t.evict_keys(clock::tenant_now(clock, t, base));
        let t = &*t;
        let mandates: Vec<Value> = t
            .mandates
            .values()
            .map(|m| json!({"Status": m.status, "InterventionId": m.intervention_id, "Broken": m.broken, "Mandate": m.mandate}))
            .collect();
        let repairs: Vec<Value> = t
            .repairs
            .values()
            .map(|r| {
                // The status history with the reference's descriptions,
                // for people reading the state (the console).
                let history: Vec<Value> = r
                    .file
                    .state_natures
                    .iter()
                    .flatten()
                    .map(|s| {
                        let code = s.code.as_ref();
                        json!({
                            "Code": code,
                            "Description": code.and_then(|c| c.description()),
                            "Comment": s.comment,
                        })
                    })
                    .collect();
                json!({
                    "File": r.file,
                    "StatusHistory": history,
                    "Phase": format!("{:?}", r.lifecycle.phase),
                    "ClaimID": r.claim_id,
                    "Invoiced": r.lifecycle.invoiced,
                })
            })
            .collect();
        let orders: Vec<Value> = t
            .orders
            .values()
            .map(|o| json!({"InterventionId": o.intervention_id, "Line": o.line}))
            .collect();
        let claims: Vec<Value> = t
            .claims
            .iter()
            .map(|(id, c)| {
                let status = t
                    .repairs
                    .get(&c.intervention_id)
                    .and_then(|r| r.lifecycle.claim)
                    .map(ClaimState::last_status);
                json!({
                    "ClaimID": id, "InterventionId": c.intervention_id, "LastStatus": status,
                    "Comment": c.comment, "DraftInvoiceNumber": c.draft,
                    "ValidationErrors": c.findings, "Claim": c.claim,
                })
            })
            .collect();
        let drafts: Vec<Value> = t
            .drafts
            .iter()
            .map(|(n, d)| json!({"DraftInvoiceNumber": n, "ManufacturerId": d.manufacturer, "ClaimIDs": d.claims, "InvoiceNumber": d.invoice_number}))
            .collect();
        Ok(json!({
            "Journal": t.journal.records(),
            "Locked": t.locked, "Profile": t.profile, "Mandates": mandates, "Repairs": repairs, "Orders": orders,
            "Claims": claims, "DraftInvoices": drafts,
            "ProductKeys": t.keys.len(),
            "Faults": t.faults, "FaultCounts": t.fault_counts,
            "Autopilot": t.autopilot.as_ref().map(super::autopilot::AutopilotState::view),
        }))
    }
}
