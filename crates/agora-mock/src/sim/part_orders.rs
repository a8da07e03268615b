//! Part orders: an account orders a repair file's parts and tracks the
//! lines; the OEM sets each line's logistic status.

use std::collections::HashMap;

use agora_domain::lifecycle::RepairEvent;
use agora_domain::{InterventionId, LogisticStatus, OrderNumber, Part, PartOrderLine};

use super::{OrderRecord, Simulator, now_wire};
use crate::error::{Answer, SimError};
use crate::profile::OrderNumbers;

impl Simulator {
    /// `PlaceRepairSparepartOrder`: orders the parts marked `ToBeOrdered`
    /// without an `OrderNumber`, the file's `Parts` first, then those of
    /// its statuses (`StateNatures[].Parts`, as the reference's 205 sample
    /// marks them), one line each. A status part whose `Reference` is
    /// ordered in this call, or has an order number in the file's `Parts`,
    /// is marked with that number instead: a part is not ordered twice.
    /// Each part ordered or marked gets `ToBeOrdered` false and its number.
    pub fn place_order(
        &self,
        key: &str,
        intervention: InterventionId,
    ) -> Result<Answer<Vec<PartOrderLine>>, SimError> {
        let reorder = self.applies_duplicates();
        self.with_tenant(key, |t, ids, now| {
            let record = t
                .repairs
                .get_mut(&intervention)
                .ok_or_else(|| SimError::NotFound(format!("no repair file {intervention}")))?;
            record
                .lifecycle
                .apply(&RepairEvent::InformationUpdated)
                .map_err(|e| SimError::Rejected(e.to_string()))?;
            let file = &mut record.file;
            // Order numbers by reference: the file's parts ordered before,
            // then those ordered in this call.
            let mut numbers: HashMap<String, OrderNumber> = HashMap::new();
            for part in file.parts.iter().flatten() {
                if let (Some(reference), Some(number)) = (&part.reference, &part.order_number) {
                    numbers
                        .entry(reference.clone())
                        .or_insert_with(|| number.clone());
                }
            }
            let mut lines = Vec::new();
            // One number per part, or one for the whole call ("a single
            // spare part order", reference 2.3), as the profile says.
            let per_call = t.profile.order_numbers == OrderNumbers::PerCall;
            let mut call_number: Option<OrderNumber> = None;
            let mut order = |part: &mut Part, lines: &mut Vec<PartOrderLine>| {
                let number = match &call_number {
                    Some(number) if per_call => number.clone(),
                    _ => {
                        let number = OrderNumber(format!("ORD-{:06}", ids.next_order()));
                        call_number = Some(number.clone());
                        number
                    }
                };
                part.order_number = Some(number.clone());
                part.to_be_ordered = Some(false);
                lines.push(PartOrderLine {
                    order_number: Some(number),
                    reference: part.reference.clone(),
                    quantity: part.quantity.or(Some(1)),
                    ..PartOrderLine::default()
                });
            };
            for part in file.parts.iter_mut().flatten().filter(|p| to_order(p)) {
                order(part, &mut lines);
                if let (Some(reference), Some(number)) = (&part.reference, &part.order_number) {
                    numbers
                        .entry(reference.clone())
                        .or_insert_with(|| number.clone());
                }
            }
            let status_parts = file
                .state_natures
                .iter_mut()
                .flatten()
                .flat_map(|s| s.parts.iter_mut().flatten());
            for part in status_parts.filter(|p| to_order(p)) {
                match part.reference.as_ref().and_then(|r| numbers.get(r)) {
                    Some(number) => {
                        part.order_number = Some(number.clone());
                        part.to_be_ordered = Some(false);
                    }
                    None => {
                        order(part, &mut lines);
                        if let (Some(reference), Some(number)) =
                            (&part.reference, &part.order_number)
                        {
                            numbers.insert(reference.clone(), number.clone());
                        }
                    }
                }
            }
            // Guards off: an order with no part left to order orders the
            // file's parts ordered before again (a duplicate order).
            if reorder && lines.is_empty() {
                for part in file.parts.iter_mut().flatten() {
                    if part.order_number.is_some() && part.to_be_ordered != Some(true) {
                        part.order_number = None;
                        order(part, &mut lines);
                    }
                }
            }
            for line in &lines {
                t.journal.push_applied(
                    "PlaceRepairSparepartOrder",
                    format!(
                        "order of part {} for file {intervention}",
                        line.reference.as_deref().unwrap_or_default()
                    ),
                    line.order_number.as_ref().map(|n| n.0.clone()),
                    true,
                    now,
                );
                t.orders.insert(
                    (
                        line.order_number.clone().unwrap_or_default().0,
                        line.reference.clone().unwrap_or_default(),
                    ),
                    OrderRecord {
                        intervention_id: intervention,
                        line: line.clone(),
                        placed: now,
                    },
                );
            }
            let message = if lines.is_empty() {
                "No part to be ordered".to_owned()
            } else {
                format!("{} part(s) ordered", lines.len())
            };
            Ok(Answer::with_message(lines, message))
        })
    }

    /// The logistic status of a file's order lines.
    pub fn order_tracking(
        &self,
        key: &str,
        intervention: InterventionId,
    ) -> Result<Answer<Vec<PartOrderLine>>, SimError> {
        self.with_tenant(key, |t, _, _| {
            if !t.repairs.contains_key(&intervention) {
                return Err(SimError::NotFound(format!("no repair file {intervention}")));
            }
            Ok(Answer::ok(
                t.orders
                    .values()
                    .filter(|o| o.intervention_id == intervention)
                    .map(|o| o.line.clone())
                    .collect(),
            ))
        })
    }

    /// The OEM sets the logistic status of every line of an order of the
    /// account `key` (202, 207, 208).
    pub fn set_logistic(&self, key: &str, order_number: &str, code: &str) -> Result<(), SimError> {
        self.set_line_logistic(key, order_number, None, code)
    }

    /// The OEM sets the logistic status of the line of an order of the
    /// account `key` for one part reference, or of every line of the
    /// order when `reference` is `None`: a logistic status belongs to an
    /// order number and a part. Another account's order is not found.
    pub fn set_line_logistic(
        &self,
        key: &str,
        order_number: &str,
        reference: Option<&str>,
        code: &str,
    ) -> Result<(), SimError> {
        let status = LogisticStatus::parse_known(code)
            .map_err(|e| SimError::BadRequest(format!("{e}: expected 202, 207 or 208")))?;
        self.with_account(key, |tenant, _, now| {
            let mut found = false;
            let lines = tenant.orders.iter_mut().filter(|((number, part), _)| {
                number == order_number && reference.is_none_or(|r| r == part)
            });
            for (_, order) in lines {
                order.line.status_code = Some(status.clone());
                order.line.status_date = Some(now_wire(now));
                found = true;
            }
            if found {
                return Ok(());
            }
            Err(SimError::NotFound(match reference {
                Some(r) => format!("no line for part {r} in order {order_number}"),
                None => format!("no order {order_number}"),
            }))
        })
    }
}

/// A part `PlaceRepairSparepartOrder` orders: marked `ToBeOrdered`, with
/// no order number yet.
fn to_order(part: &Part) -> bool {
    part.to_be_ordered == Some(true) && part.order_number.is_none()
}
