//! Use cases 2 and 3: report progress with status codes, and order and
//! track the parts of a repair. Each change is judged by the domain,
//! written locally with its outbox entry in one transaction, then sent.

use agora_domain::lifecycle::RepairEvent;
use agora_domain::{
    CompleteRepairState, InterventionId, LogisticStatus, PartOrderLine, StateNature,
};
use agora_ports::{
    AgoraError, Claims, Invoices, Operation, Outbox, OutboxState, PartOrders, RepairFiles, Repairs,
};

use crate::agora::Agora;
use crate::checked::Checked;
use crate::outbox::Delivery;

impl<A, S> Agora<A, S>
where
    A: Repairs + PartOrders + Claims + Invoices,
    S: RepairFiles + Outbox,
{
    /// Reports a status: checked against the lifecycle and what its code
    /// requires, saved with the whole file to send, then delivered (or
    /// queued for the dispatcher when AgoraPlus is unreachable). What the
    /// reference leaves open (a part without order number on a 204) is
    /// sent, and comes back as a warning.
    pub async fn report_status(
        &self,
        intervention: InterventionId,
        status: StateNature,
    ) -> Result<Checked<Delivery>, AgoraError> {
        let mut repair = self.repair(intervention).await?;
        let applied = repair
            .lifecycle
            .check(&RepairEvent::StatusReported(status.clone()))
            .map_err(|e| AgoraError::Invalid(e.to_string()))?;
        repair.lifecycle = applied.next;
        repair
            .file
            .state_natures
            .get_or_insert_with(Vec::new)
            .push(status);
        let outcome = self
            .save_and_send(&repair, Operation::UpdateRepair(repair.file.clone()))
            .await?;
        Ok(Checked {
            outcome,
            warnings: applied.warnings,
        })
    }

    /// Changes the file's information (appliance, consumer, parts…) and
    /// sends the whole file.
    pub async fn update_file(
        &self,
        intervention: InterventionId,
        change: impl FnOnce(&mut CompleteRepairState),
    ) -> Result<Delivery, AgoraError> {
        let mut repair = self.repair(intervention).await?;
        repair.lifecycle = repair
            .lifecycle
            .apply(&RepairEvent::InformationUpdated)
            .map_err(|e| AgoraError::Invalid(e.to_string()))?;
        change(&mut repair.file);
        repair.file.intervention_id = Some(intervention);
        self.save_and_send(&repair, Operation::UpdateRepair(repair.file.clone()))
            .await
    }

    /// Orders the file's parts marked `ToBeOrdered`. The file must be
    /// delivered first (AgoraPlus orders what it knows): pending updates of
    /// the file are delivered before, and the order waits if they cannot be.
    pub async fn order_parts(&self, intervention: InterventionId) -> Result<Delivery, AgoraError> {
        let repair = self.repair(intervention).await?;
        let to_order = repair
            .file
            .parts
            .iter()
            .flatten()
            .filter(|p| p.to_be_ordered == Some(true) && p.order_number.is_none())
            .count();
        if to_order == 0 {
            return Err(AgoraError::Invalid(format!(
                "repair file {intervention} has no part marked to be ordered"
            )));
        }
        let pending = self.store.entries(OutboxState::Pending).await?;
        for entry in pending
            .into_iter()
            .filter(|e| e.intervention_id == Some(intervention))
        {
            if !matches!(self.deliver(entry).await?, Delivery::Delivered { .. }) {
                return Err(AgoraError::Invalid(format!(
                    "repair file {intervention} has updates not yet delivered: order once they are"
                )));
            }
        }
        self.save_and_send(&repair, Operation::PlaceOrder(intervention))
            .await
    }

    /// Fetches the logistic status of the file's orders and keeps it in the
    /// local file; an unavailable or cancelled line is flagged for a person.
    pub async fn track_part_orders(
        &self,
        intervention: InterventionId,
    ) -> Result<Vec<PartOrderLine>, AgoraError> {
        let mut repair = self.repair(intervention).await?;
        let lines = self.api.order_tracking(intervention).await?.data;
        for line in &lines {
            match repair
                .orders
                .iter_mut()
                .find(|o| o.order_number == line.order_number)
            {
                Some(known) => *known = line.clone(),
                None => repair.orders.push(line.clone()),
            }
            if matches!(
                line.status_code,
                Some(LogisticStatus::Unavailable | LogisticStatus::Cancelled)
            ) {
                repair.attention = Some(format!(
                    "order {} {}",
                    line.order_number.as_deref().unwrap_or("?"),
                    line.status_code
                        .as_ref()
                        .and_then(LogisticStatus::description)
                        .unwrap_or("changed")
                ));
            }
        }
        self.store.upsert_repair(&repair).await?;
        Ok(lines)
    }

    /// Saves the file with its operation, then tries to deliver it at once.
    pub(crate) async fn save_and_send(
        &self,
        repair: &agora_ports::LocalRepair,
        operation: Operation,
    ) -> Result<Delivery, AgoraError> {
        let id = self
            .store
            .save_with_operation(repair, Some(operation), self.clock.now())
            .await?
            .ok_or_else(|| AgoraError::Store("the outbox gave no entry id".to_owned()))?;
        self.deliver_id(id).await
    }
}
