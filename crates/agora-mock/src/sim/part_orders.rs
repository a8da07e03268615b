//! Part orders: an account orders a repair file's parts and tracks the
//! lines; the OEM sets each line's logistic status.

use std::collections::HashMap;

use agora_domain::lifecycle::RepairEvent;
use agora_domain::{InterventionId, LogisticStatus, OrderNumber, Part, PartOrderLine};

use super::{OrderRecord, Simulator, now_wire};
use crate::error::{Answer, SimError};

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
        self.with_tenant(key, |t, ids, _| {
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
            let mut order = |part: &mut Part, lines: &mut Vec<PartOrderLine>| {
                let number = OrderNumber(format!("ORD-{:06}", ids.next_order()));
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
            for line in &lines {
                t.orders.insert(
                    line.order_number.clone().unwrap_or_default().0,
                    OrderRecord {
                        intervention_id: intervention,
                        line: line.clone(),
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

    /// The OEM sets the logistic status of an order line (202, 207, 208).
    pub fn set_logistic(&self, order_number: &str, code: &str) -> Result<(), SimError> {
        let status = LogisticStatus::parse_known(code)
            .map_err(|e| SimError::BadRequest(format!("{e}: expected 202, 207 or 208")))?;
        let now = self.now();
        let mut world = self.world();
        for tenant in world.tenants.values_mut() {
            if let Some(order) = tenant.orders.get_mut(order_number) {
                order.line.status_code = Some(status);
                order.line.status_date = Some(now_wire(now));
                return Ok(());
            }
        }
        Err(SimError::NotFound(format!("no order {order_number}")))
    }
}

/// A part `PlaceRepairSparepartOrder` orders: marked `ToBeOrdered`, with
/// no order number yet.
fn to_order(part: &Part) -> bool {
    part.to_be_ordered == Some(true) && part.order_number.is_none()
}
