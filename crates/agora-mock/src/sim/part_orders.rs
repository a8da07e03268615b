//! Part orders: an account orders a repair file's parts and tracks the
//! lines; the OEM sets each line's logistic status.

use agora_domain::OrderNumber;
use agora_domain::lifecycle::RepairEvent;
use agora_domain::{InterventionId, LogisticStatus, PartOrderLine};

use super::{OrderRecord, Simulator, now_wire};
use crate::error::{Answer, SimError};

impl Simulator {
    /// `PlaceRepairSparepartOrder`: orders the parts marked `ToBeOrdered`.
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
            let mut lines = Vec::new();
            for part in record.file.parts.iter_mut().flatten() {
                if part.to_be_ordered == Some(true) && part.order_number.is_none() {
                    let number = format!("ORD-{:06}", ids.next_order());
                    part.order_number = Some(OrderNumber(number.clone()));
                    part.to_be_ordered = Some(false);
                    lines.push(PartOrderLine {
                        order_number: Some(OrderNumber(number)),
                        reference: part.reference.clone(),
                        quantity: part.quantity.or(Some(1)),
                        ..PartOrderLine::default()
                    });
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
