//! The repair lifecycle as a state machine over the repair file.
//!
//! The common path: work order NEW → ACCEPTED (the repair file exists) →
//! in progress → finished or not possible → closed with warranty
//! intervention (601, once a claim exists) → claim NOTVALID / VALID →
//! transferred → NOTCONFORM (fix, resubmit) or CLOSEDACCEPTED → invoiced.
//!
//! The reference says the life cycle is not fixed, so progress statuses are
//! accepted in any order while the file is open. The hard rules always hold:
//! a work order is unalterable; nothing is updated once the file is closed,
//! except status 602 (the product returned to the consumer comes after the
//! claim); every status carries what its code requires; no claim for a
//! repair type its OEM lists as not covered (type 7); claim statuses move
//! only along real edges; only CLOSEDACCEPTED claims are invoiced. A
//! refused event is a [`TransitionError`] that says why; the state is then
//! unchanged.
//!
//! Local rules are no stricter than the reference: where its own samples or
//! tables leave a case open, the event is allowed with a [`RuleWarning`]
//! for the caller (a part without order number on a 204, a claim for an
//! OEM or repair type table 6.4 does not list, which AgoraPlus's rule
//! engine judges). [`RepairLifecycle::check`] returns them.

use crate::codes::{ClaimStatus, MandateStatus};
use crate::repair::StateNature;
use crate::status::{StatusCode, StatusError, StatusFamily, StatusWarning, check_status};
use crate::tables::{Coverage, InterventionTypeId, ManufacturerId, coverage};

/// Where the repair itself stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RepairPhase {
    /// The file exists; no status reported yet.
    Open,
    /// Work in progress (appointments, parts, diagnosis, consumer…).
    InProgress,
    /// The repair is finished (303, 305).
    Finished,
    /// The repair is not possible (901–909).
    NotPossible,
    /// Closed with warranty intervention (601): a claim exists. Final.
    Closed,
}

/// Where the warranty claim stands, as the service center sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ClaimState {
    /// The rules found errors: fix and resubmit.
    NotValid,
    /// The rules passed; `transferred` once sent on to the OEM.
    Valid {
        /// Whether the claim has been transferred to the OEM.
        transferred: bool,
    },
    /// The OEM rejected it as non-compliant: fix and resubmit.
    NotConform,
    /// The OEM accepted and closed it: invoiceable.
    ClosedAccepted,
}

impl ClaimState {
    /// The `LastStatus` AgoraPlus reports for this state.
    pub fn last_status(self) -> ClaimStatus {
        match self {
            Self::NotValid => ClaimStatus::NotValid,
            Self::Valid { .. } => ClaimStatus::Valid,
            Self::NotConform => ClaimStatus::NotConform,
            Self::ClosedAccepted => ClaimStatus::ClosedAccepted,
        }
    }

    /// Whether the claim may be corrected and resubmitted.
    pub fn is_correctable(self) -> bool {
        matches!(
            self,
            Self::NotValid | Self::Valid { transferred: false } | Self::NotConform
        )
    }

    fn after_submission(valid: bool, transfer_if_valid: bool) -> Self {
        if valid {
            Self::Valid {
                transferred: transfer_if_valid,
            }
        } else {
            Self::NotValid
        }
    }
}

/// Something that happens to a repair file.
#[derive(Debug, Clone, PartialEq)]
pub enum RepairEvent {
    /// The work order is accepted (manually or by `autoAccept`).
    MandateAccepted,
    /// The work order is refused.
    MandateRefused,
    /// A status is reported through `UpdateRepair`.
    StatusReported(StateNature),
    /// The file's information (appliance, consumer, parts…) is updated.
    InformationUpdated,
    /// A claim is created (`CreateWarrantyClaims`); the rules judged it.
    ClaimCreated {
        /// Whether the OEM's rules found it valid.
        valid: bool,
        /// `transferIfValid` of the submission.
        transfer_if_valid: bool,
    },
    /// The claim is corrected (`UpdateWarrantyClaim`); the rules judged it.
    ClaimUpdated {
        /// Whether the OEM's rules found it valid.
        valid: bool,
        /// `transferIfValid` of the submission.
        transfer_if_valid: bool,
    },
    /// A valid claim is transferred to the OEM.
    ClaimTransferred,
    /// The OEM decides on a transferred claim: NOTCONFORM or CLOSEDACCEPTED.
    OemDecision(ClaimStatus),
    /// The claim's amount is invoiced (`CreateeInvoice`).
    Invoiced,
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionError {
    /// The work order was already accepted or refused: it cannot change.
    #[error("the work order is {0} and unalterable")]
    WorkOrderUnalterable(MandateStatus),
    /// The work order is not accepted: there is no repair file to update.
    #[error("the work order is {0}: it has no repair file until it is accepted")]
    WorkOrderNotAccepted(MandateStatus),
    /// The file is closed (601): nothing more is updated.
    #[error("the repair file is closed (601): it cannot be updated")]
    FileClosed,
    /// The status does not carry what its code requires.
    #[error(transparent)]
    Status(#[from] StatusError),
    /// The OEM lists this repair type as not covered (type 7): no claim.
    #[error("no claim: OEM {manufacturer} does not cover repair type {repair_type} ({coverage:?})")]
    NotClaimable {
        /// The OEM.
        manufacturer: ManufacturerId,
        /// The repair type.
        repair_type: InterventionTypeId,
        /// What the repair-type table says.
        coverage: Coverage,
    },
    /// The file lacks the OEM or the repair type needed to judge coverage.
    #[error("no claim: the repair file has no {0}")]
    MissingForClaim(&'static str),
    /// A claim already exists for this file.
    #[error("a claim already exists for this repair file")]
    ClaimExists,
    /// The event needs a claim and there is none.
    #[error("there is no claim for this repair file")]
    NoClaim,
    /// The claim cannot take this step from where it stands.
    #[error("the claim is {from:?}: {event} is not possible")]
    ClaimStep {
        /// Where the claim stands.
        from: ClaimState,
        /// What was attempted.
        event: &'static str,
    },
    /// An OEM decision other than NOTCONFORM or CLOSEDACCEPTED.
    #[error("the OEM can only decide NOTCONFORM or CLOSEDACCEPTED, not {0}")]
    NotADecision(ClaimStatus),
    /// The claim was already invoiced.
    #[error("the claim is already invoiced")]
    AlreadyInvoiced,
}

/// An event allowed although a local rule would rather not: the reference
/// leaves the case open, so AgoraPlus judges it. The caller is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleWarning {
    /// The status lacks something its table row asks for.
    #[error(transparent)]
    Status(#[from] StatusWarning),
    /// Table 6.4 has no row for this OEM and repair type (OEMs 5, 10, 24
    /// and 27 have none at all): the claim is sent, AgoraPlus's rules judge it.
    #[error(
        "OEM {manufacturer} has no repair type {repair_type} in table 6.4: the claim is sent, AgoraPlus's rules judge it"
    )]
    OutsideRepairTable {
        /// The OEM.
        manufacturer: ManufacturerId,
        /// The repair type.
        repair_type: InterventionTypeId,
    },
    /// The file has no repair type, so its coverage cannot be judged here.
    #[error(
        "the repair file has no repair type: its coverage cannot be checked here; the claim is sent, AgoraPlus's rules judge it"
    )]
    NoRepairType,
}

/// An allowed event: the state after it, and what the caller is warned of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The state after the event.
    pub next: RepairLifecycle,
    /// What the local rules warn of (empty when nothing).
    pub warnings: Vec<RuleWarning>,
}

/// The lifecycle state of one repair file (serializable, for local stores).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RepairLifecycle {
    /// The work order's status; `None` for a file created directly (`CreateRepair`).
    pub mandate: Option<MandateStatus>,
    /// Where the repair stands.
    pub phase: RepairPhase,
    /// The OEM, needed to judge claims.
    pub manufacturer: Option<ManufacturerId>,
    /// The repair type, needed to judge claims.
    pub repair_type: Option<InterventionTypeId>,
    /// The claim, once created.
    pub claim: Option<ClaimState>,
    /// Whether the claim has been invoiced.
    pub invoiced: bool,
}

impl RepairLifecycle {
    /// A work order just received (NEW): no repair file yet.
    pub fn from_work_order(
        manufacturer: Option<ManufacturerId>,
        repair_type: Option<InterventionTypeId>,
    ) -> Self {
        Self {
            mandate: Some(MandateStatus::New),
            phase: RepairPhase::Open,
            manufacturer,
            repair_type,
            claim: None,
            invoiced: false,
        }
    }

    /// A repair file created directly by the service center (`CreateRepair`).
    pub fn direct(
        manufacturer: Option<ManufacturerId>,
        repair_type: Option<InterventionTypeId>,
    ) -> Self {
        Self {
            mandate: None,
            ..Self::from_work_order(manufacturer, repair_type)
        }
    }

    /// Whether the repair file exists (direct, or its work order accepted).
    pub fn has_file(&self) -> bool {
        matches!(self.mandate, None | Some(MandateStatus::Accepted))
    }

    /// The last status AgoraPlus shows for the file: 601 once closed.
    pub fn closure_code(&self) -> Option<StatusCode> {
        (self.phase == RepairPhase::Closed).then_some(StatusCode::ClosedWithWarrantyIntervention)
    }

    /// Applies an event, returning the new state or why it is refused
    /// (see [`RepairLifecycle::check`] for the warnings).
    pub fn apply(&self, event: &RepairEvent) -> Result<Self, TransitionError> {
        self.check(event).map(|applied| applied.next)
    }

    /// Applies an event: the new state and the local rules' warnings, or
    /// why it is refused.
    pub fn check(&self, event: &RepairEvent) -> Result<Applied, TransitionError> {
        let mut next = self.clone();
        let mut warnings = Vec::new();
        match event {
            RepairEvent::MandateAccepted | RepairEvent::MandateRefused => {
                match &self.mandate {
                    Some(MandateStatus::New) => {}
                    Some(other) => {
                        return Err(TransitionError::WorkOrderUnalterable(other.clone()));
                    }
                    None => {
                        return Err(TransitionError::WorkOrderUnalterable(
                            MandateStatus::Accepted,
                        ));
                    }
                }
                next.mandate = Some(if *event == RepairEvent::MandateAccepted {
                    MandateStatus::Accepted
                } else {
                    MandateStatus::Refused
                });
            }
            RepairEvent::StatusReported(status) => {
                let after_claim = is_after_claim(status);
                if after_claim && self.phase == RepairPhase::Closed {
                    // 602 comes after the claim (2.2.2): the file stays closed.
                    self.require_file()?;
                } else {
                    self.require_open_file()?;
                }
                warnings.extend(check_status(status)?.into_iter().map(RuleWarning::from));
                next.phase = match status.code.as_ref().and_then(StatusCode::family) {
                    _ if self.phase == RepairPhase::Closed => RepairPhase::Closed,
                    Some(StatusFamily::NotPossible) => RepairPhase::NotPossible,
                    _ if matches!(
                        status.code,
                        Some(StatusCode::RepairFinished | StatusCode::DeviceWorksAsNew)
                    ) =>
                    {
                        RepairPhase::Finished
                    }
                    _ => RepairPhase::InProgress,
                };
            }
            RepairEvent::InformationUpdated => self.require_open_file()?,
            RepairEvent::ClaimCreated {
                valid,
                transfer_if_valid,
            } => {
                if self.claim.is_some() {
                    return Err(TransitionError::ClaimExists);
                }
                self.require_open_file()?;
                warnings.extend(self.require_claimable()?);
                next.claim = Some(ClaimState::after_submission(*valid, *transfer_if_valid));
                next.phase = RepairPhase::Closed;
            }
            RepairEvent::ClaimUpdated {
                valid,
                transfer_if_valid,
            } => {
                let claim = self.claim.ok_or(TransitionError::NoClaim)?;
                if !claim.is_correctable() {
                    return Err(TransitionError::ClaimStep {
                        from: claim,
                        event: "a correction",
                    });
                }
                next.claim = Some(ClaimState::after_submission(*valid, *transfer_if_valid));
            }
            RepairEvent::ClaimTransferred => match self.claim {
                None => return Err(TransitionError::NoClaim),
                Some(ClaimState::Valid { transferred: false }) => {
                    next.claim = Some(ClaimState::Valid { transferred: true });
                }
                Some(from) => {
                    return Err(TransitionError::ClaimStep {
                        from,
                        event: "a transfer",
                    });
                }
            },
            RepairEvent::OemDecision(decision) => {
                let to = match decision {
                    ClaimStatus::NotConform => ClaimState::NotConform,
                    ClaimStatus::ClosedAccepted => ClaimState::ClosedAccepted,
                    other => return Err(TransitionError::NotADecision(other.clone())),
                };
                match self.claim {
                    None => return Err(TransitionError::NoClaim),
                    Some(ClaimState::Valid { transferred: true }) => next.claim = Some(to),
                    Some(from) => {
                        return Err(TransitionError::ClaimStep {
                            from,
                            event: "an OEM decision",
                        });
                    }
                }
            }
            RepairEvent::Invoiced => {
                if self.invoiced {
                    return Err(TransitionError::AlreadyInvoiced);
                }
                match self.claim {
                    None => return Err(TransitionError::NoClaim),
                    Some(ClaimState::ClosedAccepted) => next.invoiced = true,
                    Some(from) => {
                        return Err(TransitionError::ClaimStep {
                            from,
                            event: "invoicing",
                        });
                    }
                }
            }
        }
        Ok(Applied { next, warnings })
    }

    /// An `UpdateRepair` of the whole file carrying `new_statuses` (the
    /// statuses the file did not have): the information update, then each
    /// new status in order. A closed file takes an update whose new
    /// statuses are all allowed after a claim (602): the rest of the file
    /// goes along with them. On a closed file, a 601 among them is
    /// AgoraPlus's own closure sent back with the whole file, not a new
    /// report: it is passed over. How a server judges an update.
    pub fn check_update(&self, new_statuses: &[StateNature]) -> Result<Applied, TransitionError> {
        let closed = self.phase == RepairPhase::Closed;
        let new: Vec<&StateNature> = new_statuses
            .iter()
            .filter(|s| !(closed && s.code == Some(StatusCode::ClosedWithWarrantyIntervention)))
            .collect();
        let closed_but_allowed = closed && !new.is_empty() && new.iter().all(|s| is_after_claim(s));
        let mut applied = if closed_but_allowed {
            self.require_file()?;
            Applied {
                next: self.clone(),
                warnings: Vec::new(),
            }
        } else {
            self.check(&RepairEvent::InformationUpdated)?
        };
        for status in new {
            let step = applied
                .next
                .check(&RepairEvent::StatusReported(status.clone()))?;
            applied.next = step.next;
            applied.warnings.extend(step.warnings);
        }
        Ok(applied)
    }

    /// The file exists: a direct file, or an accepted work order's.
    fn require_file(&self) -> Result<(), TransitionError> {
        match &self.mandate {
            Some(status) if *status != MandateStatus::Accepted => {
                Err(TransitionError::WorkOrderNotAccepted(status.clone()))
            }
            _ => Ok(()),
        }
    }

    fn require_open_file(&self) -> Result<(), TransitionError> {
        self.require_file()?;
        if self.phase == RepairPhase::Closed {
            return Err(TransitionError::FileClosed);
        }
        Ok(())
    }

    /// Whether the file may take a claim: refused without OEM and for a
    /// repair type 6.4 lists as not covered; warned of for a pair 6.4 does
    /// not list, or a file without repair type (AgoraPlus judges those).
    fn require_claimable(&self) -> Result<Vec<RuleWarning>, TransitionError> {
        let manufacturer = self
            .manufacturer
            .ok_or(TransitionError::MissingForClaim("ManufacturerId"))?;
        let Some(repair_type) = self.repair_type else {
            return Ok(vec![RuleWarning::NoRepairType]);
        };
        match coverage(manufacturer, repair_type) {
            Coverage::Covered(_) => Ok(Vec::new()),
            Coverage::UnknownRepairType => Ok(vec![RuleWarning::OutsideRepairTable {
                manufacturer,
                repair_type,
            }]),
            coverage @ Coverage::NotCovered => Err(TransitionError::NotClaimable {
                manufacturer,
                repair_type,
                coverage,
            }),
        }
    }
}

/// Whether a status may come after the claim closed the file: 602, the
/// product returned to the consumer.
fn is_after_claim(status: &StateNature) -> bool {
    status.code == Some(StatusCode::ProductReturnedToConsumer)
}

/// Whether a claim may move from one state to another in one step (the
/// edges of the claim life cycle; `None` is "no claim yet"). A submission
/// (create or correction) leads to NOTVALID or VALID; a transfer is
/// VALID → VALID (transferred); the OEM decides only on a transferred claim.
pub fn is_claim_edge(from: Option<ClaimState>, to: ClaimState) -> bool {
    use ClaimState::{ClosedAccepted, NotConform, NotValid, Valid};
    matches!(
        (from, to),
        (
            None | Some(NotValid | NotConform | Valid { transferred: false }),
            NotValid | Valid { .. },
        ) | (
            Some(Valid { transferred: true }),
            NotConform | ClosedAccepted
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::WireDateTime;

    fn accepted() -> RepairLifecycle {
        RepairLifecycle::from_work_order(Some(ManufacturerId(19)), Some(InterventionTypeId(1)))
            .apply(&RepairEvent::MandateAccepted)
            .unwrap()
    }

    #[test]
    fn the_common_path() {
        let mut s = accepted();
        let mut appointment = StateNature::new(StatusCode::AppointmentConfirmed, "ok");
        appointment.appointment_date =
            Some(WireDateTime::parse("2022-05-02T08:00:00.000Z").unwrap());
        appointment.appointment_end_date =
            Some(WireDateTime::parse("2022-05-02T09:00:00.000Z").unwrap());
        for e in [
            RepairEvent::StatusReported(appointment),
            RepairEvent::StatusReported(StateNature::new(StatusCode::RepairFinished, "done")),
            RepairEvent::ClaimCreated {
                valid: false,
                transfer_if_valid: true,
            },
            RepairEvent::ClaimUpdated {
                valid: true,
                transfer_if_valid: true,
            },
            RepairEvent::OemDecision(ClaimStatus::ClosedAccepted),
            RepairEvent::Invoiced,
        ] {
            s = s.apply(&e).unwrap();
        }
        assert_eq!(s.phase, RepairPhase::Closed);
        assert!(s.invoiced);
    }

    #[test]
    fn hard_rules_refuse_with_a_reason() {
        let s = accepted();
        assert_eq!(
            s.apply(&RepairEvent::MandateRefused),
            Err(TransitionError::WorkOrderUnalterable(
                MandateStatus::Accepted
            ))
        );
        let no_dates = StateNature::new(StatusCode::AppointmentConfirmed, "");
        assert!(matches!(
            s.apply(&RepairEvent::StatusReported(no_dates)),
            Err(TransitionError::Status(
                StatusError::MissingAppointmentDate { .. }
            ))
        ));
        let closed = s
            .apply(&RepairEvent::ClaimCreated {
                valid: true,
                transfer_if_valid: false,
            })
            .unwrap();
        assert_eq!(
            closed.apply(&RepairEvent::StatusReported(StateNature::new(
                StatusCode::Diagnosis,
                ""
            ))),
            Err(TransitionError::FileClosed)
        );
        assert!(matches!(
            closed.apply(&RepairEvent::Invoiced),
            Err(TransitionError::ClaimStep { .. })
        ));
        let type7 = RepairLifecycle::direct(Some(ManufacturerId(2)), Some(InterventionTypeId(7)));
        assert!(matches!(
            type7.apply(&RepairEvent::ClaimCreated {
                valid: true,
                transfer_if_valid: true
            }),
            Err(TransitionError::NotClaimable {
                coverage: Coverage::NotCovered,
                ..
            })
        ));
        let reserved = StateNature::new(StatusCode::ClosedWithWarrantyIntervention, "");
        assert!(matches!(
            s.apply(&RepairEvent::StatusReported(reserved)),
            Err(TransitionError::Status(StatusError::ReservedForAgoraPlus(
                _
            )))
        ));
    }
}
