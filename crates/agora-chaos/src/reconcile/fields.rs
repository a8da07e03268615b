//! Every field of every repair file, compared between the store and
//! AgoraPlus: the file's own fields, its status history, its part order
//! lines (order numbers, quantities, logistic statuses), its claim (id and
//! status) and whether it is invoiced. Each difference is named by its
//! path, with both values.
//!
//! What AgoraPlus adds by itself and the store writes in its own words is
//! compared by meaning: the closure status AgoraPlus sets when a claim is
//! created (`ClosedWithWarrantyIntervention`) is compared by its presence,
//! not its comment or date; the `CreationDate` AgoraPlus stamps on a file
//! it creates from a work order (which the store never receives) is
//! compared only once the store's file has one.

use std::collections::BTreeMap;

use agora_domain::StatusCode;
use agora_ports::LocalRepair;
use serde_json::Value;

use crate::sim_state::SimState;

/// The field AgoraPlus stamps on a file it creates from a work order.
const CREATION_DATE: &str = "CreationDate";

/// Differences shown per file before the rest is counted.
const SHOWN: usize = 6;

/// The files that differ, one line per file, its differences field by
/// field.
pub(crate) fn differences(sim: &SimState, repairs: &[LocalRepair]) -> Vec<String> {
    let mut out = Vec::new();
    for local in repairs {
        let id = local.intervention_id;
        let Some(remote) = sim.repair(id) else {
            // Reported as lost by the intents' reconciliation.
            continue;
        };
        let mut found = Vec::new();
        let mut ours = value(&local.file);
        let mut theirs = value(&remote.file);
        let our_history = take_history(&mut ours);
        let their_history = take_history(&mut theirs);
        // AgoraPlus's own stamp on a file it created from a work order,
        // never sent by the store: compared once the store has one.
        if ours.get(CREATION_DATE).is_none_or(Value::is_null) {
            if let Some(o) = theirs.as_object_mut() {
                o.remove(CREATION_DATE);
            }
        }
        diff("", &ours, &theirs, &mut found);
        history(&our_history, &their_history, &mut found);
        orders(local, sim, &mut found);
        if local.claim_id != remote.claim_id {
            found.push(format!(
                "claim: store {:?}, AgoraPlus {:?}",
                local.claim_id, remote.claim_id
            ));
        }
        let ours = local.lifecycle.claim.map(|c| c.last_status());
        let theirs = remote
            .claim_id
            .and_then(|c| sim.claims.iter().find(|k| k.claim_id == c))
            .and_then(|c| c.last_status.clone());
        if ours != theirs {
            found.push(format!(
                "claim status: store {}, AgoraPlus {}",
                shown(ours.as_ref()),
                shown(theirs.as_ref())
            ));
        }
        if local.lifecycle.invoiced != remote.invoiced {
            found.push(format!(
                "invoiced: store {}, AgoraPlus {}",
                local.lifecycle.invoiced, remote.invoiced
            ));
        }
        if !found.is_empty() {
            let more = found.len().saturating_sub(SHOWN);
            found.truncate(SHOWN);
            let mut line = format!("file {id}: {}", found.join("; "));
            if more > 0 {
                line.push_str(&format!("; and {more} more"));
            }
            out.push(line);
        }
    }
    out
}

fn shown<T: std::fmt::Display>(v: Option<&T>) -> String {
    v.map_or_else(|| "none".to_owned(), ToString::to_string)
}

fn value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Takes the status history out of a file's JSON: the statuses without
/// AgoraPlus's closure, and whether it holds one.
fn take_history(file: &mut Value) -> (Vec<Value>, bool) {
    let list = file
        .as_object_mut()
        .and_then(|o| o.remove("StateNatures"))
        .and_then(|v| match v {
            Value::Array(a) => Some(a),
            _ => None,
        })
        .unwrap_or_default();
    let closure = StatusCode::ClosedWithWarrantyIntervention.as_str();
    let closed = list.iter().any(|s| s["Code"] == closure);
    (
        list.into_iter().filter(|s| s["Code"] != closure).collect(),
        closed,
    )
}

fn history(ours: &(Vec<Value>, bool), theirs: &(Vec<Value>, bool), out: &mut Vec<String>) {
    if ours.1 != theirs.1 {
        out.push(format!(
            "closure status: store {}, AgoraPlus {}",
            if ours.1 { "has it" } else { "lacks it" },
            if theirs.1 { "has it" } else { "lacks it" }
        ));
    }
    let label = |s: &Value| format!("{} '{}'", s["Code"], s["Comment"].as_str().unwrap_or(""));
    if ours.0.len() != theirs.0.len() {
        out.push(format!(
            "StateNatures: store [{}], AgoraPlus [{}]",
            ours.0.iter().map(label).collect::<Vec<_>>().join(", "),
            theirs.0.iter().map(label).collect::<Vec<_>>().join(", ")
        ));
        return;
    }
    for (i, (a, b)) in ours.0.iter().zip(&theirs.0).enumerate() {
        diff(&format!("StateNatures[{i}]"), a, b, out);
    }
}

/// Order lines by (order number, part reference): on one side only, or
/// with another quantity or logistic status.
fn orders(local: &LocalRepair, sim: &SimState, out: &mut Vec<String>) {
    let key = |l: &agora_domain::PartOrderLine| {
        (
            l.order_number.as_deref().unwrap_or_default().to_owned(),
            l.reference.clone().unwrap_or_default(),
        )
    };
    let ours: BTreeMap<_, _> = local.orders.iter().map(|l| (key(l), l)).collect();
    let theirs: BTreeMap<_, _> = sim
        .orders_of(local.intervention_id)
        .map(|o| (key(&o.line), &o.line))
        .collect();
    for (k, a) in &ours {
        let Some(b) = theirs.get(k) else {
            out.push(format!("order {} of part {}: store only", k.0, k.1));
            continue;
        };
        if a.quantity != b.quantity {
            out.push(format!(
                "order {} of part {}: quantity: store {:?}, AgoraPlus {:?}",
                k.0, k.1, a.quantity, b.quantity
            ));
        }
        if a.status_code != b.status_code {
            out.push(format!(
                "order {} of part {}: logistic status: store {}, AgoraPlus {}",
                k.0,
                k.1,
                shown(a.status_code.as_ref()),
                shown(b.status_code.as_ref())
            ));
        }
    }
    for k in theirs.keys().filter(|k| !ours.contains_key(*k)) {
        out.push(format!("order {} of part {}: AgoraPlus only", k.0, k.1));
    }
}

/// The differences between two JSON values, by path; a null member and
/// a missing one are the same.
pub(crate) fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff(
                    &p,
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (a, b)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), a, b, out);
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{path}: store {a}, AgoraPlus {b}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_difference_is_named_by_its_path_and_null_equals_missing() {
        let mut out = Vec::new();
        diff(
            "",
            &json!({"A": 1, "B": null, "C": {"D": [1, 2]}}),
            &json!({"A": 1, "C": {"D": [1, 3]}, "E": null}),
            &mut out,
        );
        assert_eq!(out, ["C.D[1]: store 2, AgoraPlus 3"]);
        let mut out = Vec::new();
        diff("", &json!({"A": [1]}), &json!({"A": [1, 1]}), &mut out);
        assert_eq!(out, ["A: store [1], AgoraPlus [1,1]"]);
    }
}
