//! Use cases 2 and 3: report progress with status codes, and order the
//! parts of a repair (tracking them is in `tracking`). Each change is
//! judged by the domain, written locally with its outbox entry in one
//! transaction, then sent.

use agora_domain::lifecycle::RepairEvent;
use agora_domain::routes::Route;
use agora_domain::{CompleteRepairState, InterventionId, StateNature};
use agora_ports::{
    AgoraError, Claims, Invoices, LocalRepair, Operation, Outbox, OutboxState, PartOrders,
    RepairFiles, Repairs,
};

use crate::checked::Checked;
use crate::hub::Agora;
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
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// use agora_app::domain::{StateNature, StatusCode};
    /// let status = StateNature::new(StatusCode::RepairFinished, "repaired, tested");
    /// let checked = app.report_status(agora_app::domain::InterventionId(500_001), status).await?;
    /// println!("outbox entry {}", checked.outcome.entry());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn report_status(
        &self,
        intervention: InterventionId,
        status: StateNature,
    ) -> Result<Checked<Delivery>, AgoraError> {
        let (outcome, warnings) = self
            .change_and_send_with(intervention, |repair| {
                let applied = repair
                    .lifecycle
                    .check(&RepairEvent::StatusReported(status.clone()))
                    .map_err(|e| AgoraError::Invalid(e.to_string()))?;
                repair.lifecycle = applied.next;
                repair
                    .file
                    .state_natures
                    .get_or_insert_with(Vec::new)
                    .push(status.clone());
                Ok((
                    Operation::UpdateRepair(repair.file.clone()),
                    applied.warnings,
                ))
            })
            .await?;
        Ok(Checked { outcome, warnings })
    }

    /// Changes the file's information (appliance, consumer, parts…) and
    /// sends the whole file. `change` may run more than once: when another
    /// process writes the file meanwhile, it is read again and the change
    /// redone.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// let delivery = app
    ///     .update_file(agora_app::domain::InterventionId(500_001), |file| file.serial_number = Some("SN-42".into()))
    ///     .await?;
    /// println!("outbox entry {}", delivery.entry());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn update_file(
        &self,
        intervention: InterventionId,
        change: impl Fn(&mut CompleteRepairState),
    ) -> Result<Delivery, AgoraError> {
        self.change_and_send(intervention, |repair| {
            repair.lifecycle = repair
                .lifecycle
                .apply(&RepairEvent::InformationUpdated)
                .map_err(|e| AgoraError::Invalid(e.to_string()))?;
            change(&mut repair.file);
            repair.file.intervention_id = Some(intervention);
            Ok(Operation::UpdateRepair(repair.file.clone()))
        })
        .await
    }

    /// Creates a repair file taken in directly, without a work order
    /// (reference 2.2, `CreateRepair`): checked first, then queued and
    /// delivered. AgoraPlus numbers the file: once delivered, the answer
    /// holds its `InterventionId` (`OperationAnswer::Created`) and the file
    /// is kept locally under it.
    ///
    /// The file must hold what the reference marks required (its own
    /// `CommercialRef` and `ManufacturingCode`, its consumer's name,
    /// address and phone, its intervention's type and origin) and what the
    /// route needs (`ManufacturerId`); a file lacking any is refused here
    /// with [`AgoraError::Invalid`] naming every one, and nothing is
    /// queued. A file already numbered is refused too. A creation is not
    /// idempotent: one whose answer was lost is in doubt, for a person to
    /// settle, never sent twice.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// let file: agora_app::domain::CompleteRepairState = serde_json::from_str(r#"{
    ///     "ManufacturerId": 19, "CommercialRef": "ECAM22.110.B", "ManufacturingCode": "2301",
    ///     "Consumer": {"Title": 3, "LastName": "Durand", "FirstName": "Paul",
    ///                  "Address1": "3 place Bellecour", "Zip": "69002", "Town": "Lyon",
    ///                  "Country": 250, "Phone": "0412345678"},
    ///     "Intervention": {"InterventionType": 1, "RepairOriginCode": "CONSUMER"}
    /// }"#).map_err(|e| agora_app::AgoraError::Invalid(e.to_string()))?;
    /// let delivery = app.create_repair(file).await?;
    /// println!("outbox entry {}", delivery.entry());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create_repair(&self, file: CompleteRepairState) -> Result<Delivery, AgoraError> {
        if let Some(id) = file.intervention_id {
            return Err(AgoraError::Invalid(format!(
                "the file is already repair file {id}: AgoraPlus numbers a new one"
            )));
        }
        let body = serde_json::to_value(&file).map_err(|e| AgoraError::Invalid(e.to_string()))?;
        let missing = Route::CreateRepair.missing_fields(&body, true);
        if !missing.is_empty() {
            return Err(AgoraError::Invalid(format!(
                "a new repair file needs {}",
                missing.join(", ")
            )));
        }
        let id = self
            .store
            .enqueue(None, &Operation::CreateRepair(file), self.clock.now())
            .await?;
        self.deliver_id(id).await
    }

    /// Orders the file's parts marked `ToBeOrdered`. AgoraPlus orders what
    /// it knows, so the file's pending updates go first: they are delivered
    /// now where possible, and the order, queued behind any that are not,
    /// is sent once they are.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// let delivery = app.order_parts(agora_app::domain::InterventionId(500_001)).await?;
    /// println!("order sent as outbox entry {}", delivery.entry());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn order_parts(&self, intervention: InterventionId) -> Result<Delivery, AgoraError> {
        let pending = self.store.entries(OutboxState::Pending).await?;
        for entry in pending
            .into_iter()
            .filter(|e| e.intervention_id == Some(intervention))
        {
            self.deliver_id(entry.id).await?;
        }
        // Read after those deliveries: they may have changed the file.
        self.change_and_send(intervention, |repair| {
            if !repair.file.has_parts_to_order() {
                return Err(AgoraError::Invalid(format!(
                    "repair file {intervention} has no part marked to be ordered"
                )));
            }
            Ok(Operation::PlaceOrder(intervention))
        })
        .await
    }

    /// Reads the file, changes it with `change` (which also says what to
    /// send), saves both in one transaction and delivers. When another
    /// process wrote the file in between, the read and the change are redone
    /// (a few times), so that neither write is lost.
    pub(crate) async fn change_and_send(
        &self,
        intervention: InterventionId,
        change: impl Fn(&mut LocalRepair) -> Result<Operation, AgoraError>,
    ) -> Result<Delivery, AgoraError> {
        self.change_and_send_with(intervention, |repair| Ok((change(repair)?, ())))
            .await
            .map(|(delivery, ())| delivery)
    }

    /// [`Self::change_and_send`] whose change also returns what it found
    /// (the local rules' warnings), from its last, saved run.
    pub(crate) async fn change_and_send_with<X>(
        &self,
        intervention: InterventionId,
        change: impl Fn(&mut LocalRepair) -> Result<(Operation, X), AgoraError>,
    ) -> Result<(Delivery, X), AgoraError> {
        let mut tries = 0;
        loop {
            let mut repair = self.repair(intervention).await?;
            let (operation, found) = change(&mut repair)?;
            match self.save_and_send(&repair, operation).await {
                Err(AgoraError::Conflict(_)) if tries < CONFLICT_RETRIES => tries += 1,
                other => return other.map(|delivery| (delivery, found)),
            }
        }
    }

    /// Saves the file with its operation, then tries to deliver it at once.
    pub(crate) async fn save_and_send(
        &self,
        repair: &LocalRepair,
        operation: Operation,
    ) -> Result<Delivery, AgoraError> {
        let id = self
            .store
            .save_with_operation(repair, Some(operation), self.clock.now())
            .await?
            .ok_or_else(|| AgoraError::store("the outbox gave no entry id"))?;
        self.deliver_id(id).await
    }
}

/// How many times a use case redoes its change when another process wrote
/// the repair file meanwhile; one more such write and it fails with
/// [`AgoraError::Conflict`], the file as the other process left it.
pub const CONFLICT_RETRIES: u32 = 8;
