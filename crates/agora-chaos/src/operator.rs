//! The operator's decision on an entry in doubt: look in AgoraPlus (the
//! simulator's state) whether the operation took effect; if it did,
//! resolve it as applied with the identifier AgoraPlus shows, else send
//! it again. This is the path a person takes with `agora outbox resolve`.

use agora_app::Resolution;
use agora_ports::{LocalRepair, Operation, OutboxEntry};

use crate::sim_state::{SimState, claim_tag};

/// How to resolve `entry`, given its repair file as stored locally and
/// what AgoraPlus holds. An error names why no decision can be made.
pub fn decide(
    entry: &OutboxEntry,
    local: Option<&LocalRepair>,
    sim: &SimState,
) -> Result<Resolution, String> {
    let applied = |intervention_id, claim_id| Resolution::Applied {
        intervention_id,
        claim_id,
    };
    let id = entry.id;
    Ok(match &entry.operation {
        // Idempotent: sending it again is always safe.
        Operation::UpdateRepair(_) => Resolution::Resend,
        Operation::PlaceOrder(file) => {
            let known: Vec<&str> = local
                .map(|r| {
                    r.orders
                        .iter()
                        .filter_map(|o| o.order_number.as_deref())
                        .collect()
                })
                .unwrap_or_default();
            let unknown = sim.orders_of(*file).any(|o| {
                o.line
                    .order_number
                    .as_deref()
                    .is_some_and(|n| !known.contains(&n))
            });
            if unknown {
                applied(None, None)
            } else {
                Resolution::Resend
            }
        }
        Operation::CreateClaim { .. } => {
            let file = entry
                .intervention_id
                .ok_or_else(|| format!("entry {id}: a claim creation without its repair file"))?;
            match sim.claims_of(file).map(|c| c.claim_id).max() {
                Some(claim) => applied(None, Some(claim)),
                None => Resolution::Resend,
            }
        }
        Operation::UpdateClaim { claim, .. } => {
            let claim_id = claim
                .claim_id
                .ok_or_else(|| format!("entry {id}: a claim correction without its ClaimID"))?;
            let held = sim
                .claims
                .iter()
                .find(|c| c.claim_id == claim_id)
                .ok_or_else(|| format!("entry {id}: AgoraPlus has no claim {claim_id}"))?;
            if held.tag().is_some() && held.tag() == claim_tag(claim) {
                applied(None, Some(claim_id))
            } else {
                Resolution::Resend
            }
        }
        Operation::SendInvoiceReference { reference, .. } => {
            let draft = reference
                .draft_invoice_number
                .as_deref()
                .ok_or_else(|| format!("entry {id}: an invoice reference without its draft"))?;
            let held = sim
                .draft(draft)
                .ok_or_else(|| format!("entry {id}: AgoraPlus has no draft {draft}"))?;
            match &held.invoice_number {
                None => Resolution::Resend,
                Some(n) if Some(n) == reference.invoice_number.as_ref() => applied(None, None),
                Some(n) => {
                    return Err(format!(
                        "entry {id}: draft {draft} is linked to another invoice, {n}"
                    ));
                }
            }
        }
        Operation::CreateRepair(file) => {
            let created = file.mandate_id.and_then(|m| {
                sim.repairs
                    .iter()
                    .find(|r| r.file.mandate_id == Some(m))
                    .and_then(|r| r.file.intervention_id)
            });
            match created {
                Some(created) => applied(Some(created), None),
                None => Resolution::Resend,
            }
        }
        other => return Err(format!("entry {id}: {} is not resolved here", other.name())),
    })
}

#[cfg(test)]
mod tests {
    use agora_domain::{
        ClaimId, InterventionId, InvoiceReference, Lcid, PartOrderLine, WarrantyClaim,
    };
    use agora_ports::OutboxState;
    use jiff::Timestamp;
    use serde_json::json;

    use super::*;

    fn entry(operation: Operation, file: Option<i64>) -> OutboxEntry {
        OutboxEntry {
            id: 9,
            intervention_id: file.map(InterventionId::from),
            operation,
            state: OutboxState::InDoubt,
            attempts: 1,
            next_attempt_at: Timestamp::UNIX_EPOCH,
            last_error: Some("timed out".into()),
            created_at: Timestamp::UNIX_EPOCH,
            lease: None,
            answer: None,
            sent_at: None,
            parked_at: None,
            park_reason: None,
            needs_result: false,
            held_until: None,
            duplicates: Vec::new(),
        }
    }

    fn sim(value: serde_json::Value) -> SimState {
        SimState::parse(value).unwrap()
    }

    fn tagged(id: Option<i64>, tag: &str) -> WarrantyClaim {
        serde_json::from_value(json!({"ClaimID": id, "ClaimInfos": {"IRISSymptom": tag}})).unwrap()
    }

    #[test]
    fn an_order_applied_in_agoraplus_but_unknown_here_is_resolved_applied() {
        let e = entry(
            Operation::PlaceOrder(InterventionId(500_001)),
            Some(500_001),
        );
        let with_order = sim(json!({"Orders": [
            {"InterventionId": 500_001, "Line": {"OrderNumber": "ORD-000007"}}
        ]}));
        assert_eq!(
            decide(&e, None, &with_order).unwrap(),
            Resolution::Applied {
                intervention_id: None,
                claim_id: None
            }
        );
        assert_eq!(
            decide(&e, None, &sim(json!({}))).unwrap(),
            Resolution::Resend
        );
    }

    #[test]
    fn an_order_already_recorded_here_does_not_count_as_this_entry() {
        let e = entry(
            Operation::PlaceOrder(InterventionId(500_001)),
            Some(500_001),
        );
        let state = sim(json!({"Orders": [
            {"InterventionId": 500_001, "Line": {"OrderNumber": "ORD-000007"}}
        ]}));
        let mut local: LocalRepair = crate::reconcile::tests::local(InterventionId(500_001));
        local.orders.push(PartOrderLine {
            order_number: Some("ORD-000007".into()),
            ..PartOrderLine::default()
        });
        assert_eq!(
            decide(&e, Some(&local), &state).unwrap(),
            Resolution::Resend
        );
    }

    #[test]
    fn a_claim_creation_takes_the_claim_agoraplus_holds() {
        let e = entry(
            Operation::CreateClaim {
                claim: tagged(None, "a"),
                language: Lcid::ENGLISH,
                transfer_if_valid: true,
            },
            Some(500_001),
        );
        let state = sim(json!({"Claims": [
            {"ClaimID": 5_000_003, "InterventionId": 500_001, "Claim": {}}
        ]}));
        assert_eq!(
            decide(&e, None, &state).unwrap(),
            Resolution::Applied {
                intervention_id: None,
                claim_id: Some(ClaimId(5_000_003))
            }
        );
        assert_eq!(
            decide(&e, None, &sim(json!({}))).unwrap(),
            Resolution::Resend
        );
    }

    #[test]
    fn a_correction_is_applied_only_when_agoraplus_holds_its_version() {
        let e = entry(
            Operation::UpdateClaim {
                claim: tagged(Some(5_000_003), "fix-2"),
                language: Lcid::ENGLISH,
                transfer_if_valid: true,
            },
            Some(500_001),
        );
        let holding = |tag: &str| {
            sim(
                json!({"Claims": [{"ClaimID": 5_000_003, "InterventionId": 500_001,
                "Claim": {"ClaimInfos": {"IRISSymptom": tag}}}]}),
            )
        };
        assert!(matches!(
            decide(&e, None, &holding("fix-2")).unwrap(),
            Resolution::Applied {
                claim_id: Some(ClaimId(5_000_003)),
                ..
            }
        ));
        assert_eq!(
            decide(&e, None, &holding("fix-1")).unwrap(),
            Resolution::Resend
        );
    }

    #[test]
    fn an_invoice_reference_is_applied_when_its_number_is_linked() {
        let e = entry(
            Operation::SendInvoiceReference {
                reference: InvoiceReference {
                    invoice_number: Some("INV-1".into()),
                    draft_invoice_number: Some("DR-19-00001".into()),
                    ..InvoiceReference::default()
                },
                claims: vec![ClaimId(5_000_003)],
            },
            Some(500_001),
        );
        let linked = |n: serde_json::Value| {
            sim(
                json!({"DraftInvoices": [{"DraftInvoiceNumber": "DR-19-00001",
                "ClaimIDs": [5_000_003], "InvoiceNumber": n}]}),
            )
        };
        assert!(matches!(
            decide(&e, None, &linked(json!("INV-1"))).unwrap(),
            Resolution::Applied { .. }
        ));
        assert_eq!(
            decide(&e, None, &linked(json!(null))).unwrap(),
            Resolution::Resend
        );
        assert!(decide(&e, None, &linked(json!("INV-2"))).is_err());
    }
}
