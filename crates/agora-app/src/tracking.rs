//! The tracking passes: the logistic status of part orders (use case 3)
//! and the status of claims (use case 5). Each goes over the repair files
//! that have something to track; a file whose call fails is reported and
//! the pass goes on, unless the failure would strike every call alike
//! (then the files left are reported as not reached). AgoraPlus's
//! warnings come back with what was done.

use agora_domain::lifecycle::{ClaimState, RepairEvent};
use agora_domain::{ClaimId, ClaimStatus, InterventionId, LogisticStatus, PartOrderLine};
use agora_ports::{AgoraError, Claims, LocalRepair, PartOrders, RepairFiles};
use jiff::Timestamp;

use crate::hub::Agora;
use crate::report::{Pass, Step, StepFailure, Warning, concerns_one_item};

/// The order lines of one repair file, as last tracked.
#[derive(Debug, Clone, PartialEq)]
pub struct FileOrders {
    /// The repair file.
    pub intervention_id: InterventionId,
    /// Its order lines with their logistic status.
    pub lines: Vec<PartOrderLine>,
}

/// A change of a claim's status seen by tracking.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimUpdate {
    /// The claim.
    pub claim_id: ClaimId,
    /// Its repair file.
    pub intervention_id: InterventionId,
    /// Its new `LastStatus`.
    pub status: ClaimStatus,
    /// The OEM's comment.
    pub comment: Option<String>,
}

/// Whether an order line may still change: shipped and cancelled lines are
/// settled.
fn is_open(line: &PartOrderLine) -> bool {
    !matches!(
        line.status_code,
        Some(LogisticStatus::Shipped | LogisticStatus::Cancelled)
    )
}

/// What one file's call to AgoraPlus came to (a local store failure is
/// the error around it).
enum Call<T> {
    /// Answered: what was done, and AgoraPlus's warnings.
    Answered(T, Vec<Warning>),
    /// The call failed.
    Failed(AgoraError),
}

/// Runs `steps` in order, each a call to AgoraPlus for one file, and sorts
/// what came of them into a pass.
async fn pass<T, F, Fut>(steps: Vec<(Step, LocalRepair)>, mut run: F) -> Result<Pass<T>, AgoraError>
where
    F: FnMut(LocalRepair) -> Fut,
    Fut: std::future::Future<Output = Result<Call<Option<T>>, AgoraError>>,
{
    let mut report = Pass::default();
    let mut steps = steps.into_iter();
    while let Some((step, repair)) = steps.next() {
        match run(repair).await? {
            Call::Answered(done, warnings) => {
                report.done.extend(done);
                report.warnings.extend(warnings);
            }
            Call::Failed(error) => {
                let stop = !concerns_one_item(&error);
                let failure = StepFailure { step, error };
                tracing::warn!(%failure, stop, "tracking step failed");
                report.failed.push(failure);
                if stop {
                    report.not_reached.extend(steps.by_ref().map(|(s, _)| s));
                }
            }
        }
    }
    Ok(report)
}

impl<A, S> Agora<A, S>
where
    A: PartOrders + Claims,
    S: RepairFiles,
{
    /// Fetches the logistic status of one file's orders and keeps it in the
    /// local file; an unavailable or cancelled line is flagged for a person.
    /// A failure of the call is returned as the error.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// let pass = app.track_part_orders(agora_app::domain::InterventionId(500_001)).await?;
    /// for file in &pass.done {
    ///     println!("{}: {} order line(s)", file.intervention_id, file.lines.len());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn track_part_orders(
        &self,
        intervention: InterventionId,
    ) -> Result<Pass<FileOrders>, AgoraError> {
        let repair = self.repair(intervention).await?;
        match self.track_orders_of(repair).await? {
            Call::Answered(done, warnings) => Ok(Pass {
                done: vec![done],
                warnings,
                ..Pass::default()
            }),
            Call::Failed(error) => Err(error),
        }
    }

    /// Tracks the orders of every file that has an order line not yet
    /// shipped or cancelled.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// let pass = app.track_all_part_orders().await?;
    /// println!("{} file(s) tracked, {} missed", pass.done.len(), pass.failed.len());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn track_all_part_orders(&self) -> Result<Pass<FileOrders>, AgoraError> {
        let steps: Vec<(Step, LocalRepair)> = self
            .store
            .repairs()
            .await?
            .into_iter()
            .filter(|r| r.orders.iter().any(is_open))
            .map(|r| (Step::PartOrders(r.intervention_id), r))
            .collect();
        pass(steps, |repair| async move {
            Ok(match self.track_orders_of(repair).await? {
                Call::Answered(done, warnings) => Call::Answered(Some(done), warnings),
                Call::Failed(error) => Call::Failed(error),
            })
        })
        .await
    }

    /// One file's order tracking.
    async fn track_orders_of(&self, repair: LocalRepair) -> Result<Call<FileOrders>, AgoraError> {
        let intervention = repair.intervention_id;
        let reply = match self.api.order_tracking(intervention).await {
            Ok(reply) => reply,
            Err(e) => return Ok(Call::Failed(e)),
        };
        let warnings = Warning::of_reply("GetSparepartOrderTracking", &reply);
        let lines = reply.data;
        self.rewrite(repair, |repair| merge_order_lines(repair, &lines))
            .await?;
        Ok(Call::Answered(
            FileOrders {
                intervention_id: intervention,
                lines,
            },
            warnings,
        ))
    }

    /// Polls the status of every claim not yet closed; NOTCONFORM files are
    /// flagged for correction; CLOSEDACCEPTED ones become invoiceable. The
    /// pass lists the claims whose status changed.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// let pass = app.track_claims().await?;
    /// for update in &pass.done {
    ///     println!("claim {}: {:?}", update.claim_id, update.status);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn track_claims(&self) -> Result<Pass<ClaimUpdate>, AgoraError> {
        let steps: Vec<(Step, LocalRepair)> = self
            .store
            .repairs()
            .await?
            .into_iter()
            .filter(|r| !matches!(r.lifecycle.claim, Some(ClaimState::ClosedAccepted)))
            .filter_map(|r| {
                let claim = r.claim_id?;
                Some((
                    Step::Claim {
                        claim,
                        intervention: r.intervention_id,
                    },
                    r,
                ))
            })
            .collect();
        pass(steps, |repair| self.track_claim_of(repair)).await
    }

    /// One claim's tracking: the update when its status changed.
    async fn track_claim_of(
        &self,
        repair: LocalRepair,
    ) -> Result<Call<Option<ClaimUpdate>>, AgoraError> {
        let Some(claim_id) = repair.claim_id else {
            return Ok(Call::Answered(None, Vec::new()));
        };
        let reply = match self.api.claim_status(claim_id).await {
            Ok(reply) => reply,
            Err(e) => return Ok(Call::Failed(e)),
        };
        let warnings = Warning::of_reply("GetWarrantyClaimStatus", &reply);
        let tracking = reply.data;
        let Some(status) = tracking.last_status.clone() else {
            return Ok(Call::Answered(None, warnings));
        };
        let local = repair.lifecycle.claim.map(ClaimState::last_status);
        if local.as_ref() == Some(&status) {
            return Ok(Call::Answered(None, warnings));
        }
        let next = match &status {
            ClaimStatus::NotConform => Some(ClaimState::NotConform),
            ClaimStatus::ClosedAccepted => Some(ClaimState::ClosedAccepted),
            ClaimStatus::NotValid => Some(ClaimState::NotValid),
            ClaimStatus::Valid => Some(ClaimState::Valid {
                transferred: self.config.transfer_if_valid,
            }),
            _ => None,
        };
        let Some(next) = next else {
            return Ok(Call::Answered(None, warnings));
        };
        let comment = tracking.comment.clone();
        let now = self.clock.now();
        let repair = self
            .rewrite(repair, |repair| {
                apply_claim_status(repair, claim_id, &status, next, comment.as_deref(), now);
            })
            .await?;
        Ok(Call::Answered(
            Some(ClaimUpdate {
                claim_id,
                intervention_id: repair.intervention_id,
                status,
                comment: tracking.comment,
            }),
            warnings,
        ))
    }
}

/// Takes the tracked lines into the file, each into its own line (an
/// order number and a part reference): a known line replaced, a new one
/// added; a tracked line without reference (the order as a whole) sets
/// the status of every known line of its order. An unavailable or
/// cancelled line is flagged for a person.
fn merge_order_lines(repair: &mut LocalRepair, lines: &[PartOrderLine]) {
    for line in lines {
        if line.reference.is_none() {
            let mut known = 0;
            for o in repair
                .orders
                .iter_mut()
                .filter(|o| o.order_number == line.order_number)
            {
                o.status_code.clone_from(&line.status_code);
                o.status_date.clone_from(&line.status_date);
                known += 1;
            }
            if known == 0 {
                repair.orders.push(line.clone());
            }
        } else {
            match repair.orders.iter_mut().find(|o| o.same_line(line)) {
                Some(known) => *known = line.clone(),
                None => repair.orders.push(line.clone()),
            }
        }
        if matches!(
            line.status_code,
            Some(LogisticStatus::Unavailable | LogisticStatus::Cancelled)
        ) {
            repair.attention = Some(format!(
                "order {}{} {}",
                line.order_number.as_deref().unwrap_or("?"),
                line.reference
                    .as_deref()
                    .map(|r| format!(" part {r}"))
                    .unwrap_or_default(),
                line.status_code
                    .as_ref()
                    .and_then(LogisticStatus::description)
                    .unwrap_or("changed")
            ));
        }
    }
}

/// Takes a claim's tracked status into its file: AgoraPlus is the source of
/// truth for it; NOTCONFORM and NOTVALID ask a person for a correction.
/// The first time a claim is seen CLOSEDACCEPTED is kept (`now`): the month
/// end counts the claim in that month.
fn apply_claim_status(
    repair: &mut LocalRepair,
    claim_id: ClaimId,
    status: &ClaimStatus,
    next: ClaimState,
    comment: Option<&str>,
    now: Timestamp,
) {
    if next == ClaimState::ClosedAccepted && repair.accepted_at.is_none() {
        repair.accepted_at = Some(now);
    }
    match repair
        .lifecycle
        .apply(&RepairEvent::OemDecision(status.clone()))
    {
        Ok(applied) => repair.lifecycle = applied,
        Err(_) => repair.lifecycle.claim = Some(next),
    }
    repair.attention = match next {
        ClaimState::NotConform => Some(format!(
            "claim {claim_id} NOTCONFORM: {}",
            comment.unwrap_or("correct and resubmit")
        )),
        ClaimState::NotValid => Some(format!("claim {claim_id} NOTVALID: correct and resubmit")),
        _ => None,
    };
}
