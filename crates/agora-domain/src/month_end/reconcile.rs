//! The month-end rule: the OEM's list of approved claims matched against
//! our files. A claim belongs to the month (in a stated time zone) in which
//! agora first saw it CLOSEDACCEPTED.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

use crate::ids::{ClaimId, InterventionId};
use crate::lifecycle::ClaimState;
use crate::month_end::CsvClaim;
use crate::tables::ManufacturerId;

/// A calendar month (`2026-11`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    /// The year.
    pub year: i16,
    /// The month, 1 to 12.
    pub month: i8,
}

impl Period {
    /// The month `year-month`, if there is one.
    pub fn new(year: i16, month: i8) -> Option<Self> {
        jiff::civil::Date::new(year, month, 1)
            .ok()
            .map(|_| Self { year, month })
    }

    /// The month `at` falls in, in `zone`.
    pub fn of(at: Timestamp, zone: &TimeZone) -> Self {
        let date = zone.to_datetime(at).date();
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The month before.
    pub fn previous(self) -> Self {
        if self.month == 1 {
            Self {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Self {
                year: self.year,
                month: self.month - 1,
            }
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A month that is not `YYYY-MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a month (YYYY-MM)")]
pub struct PeriodError(String);

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PeriodError(s.to_owned());
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        Self::new(year, month).ok_or_else(bad)
    }
}

/// A claim as our files hold it, for the month end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalClaim {
    /// The claim.
    pub claim_id: ClaimId,
    /// Its repair file.
    pub intervention_id: InterventionId,
    /// Its OEM.
    pub manufacturer: Option<ManufacturerId>,
    /// Where it stands.
    pub state: Option<ClaimState>,
    /// Whether it was invoiced already.
    pub invoiced: bool,
    /// The month agora first saw it CLOSEDACCEPTED; `None` when not
    /// accepted, or accepted before agora kept the time.
    pub accepted_in: Option<Period>,
    /// The local amount the mapping names, if any.
    pub amount: Option<Decimal>,
}

impl LocalClaim {
    /// CLOSEDACCEPTED and not invoiced yet: what a draft may hold.
    pub fn invoiceable(&self) -> bool {
        self.state == Some(ClaimState::ClosedAccepted) && !self.invoiced
    }
}

/// A claim of the CSV accepted in our files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matched {
    /// The claim.
    pub claim_id: ClaimId,
    /// Its repair file.
    pub intervention_id: InterventionId,
    /// The month agora first saw it accepted, if known (it may be another
    /// month than the period's: the OEM's clock and ours differ).
    pub accepted_in: Option<Period>,
    /// The CSV's amount.
    #[serde(serialize_with = "crate::month_end::csv_file::amount_json")]
    pub amount: Option<Decimal>,
}

/// A claim of the CSV our files do not hold as invoiceable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotAccepted {
    /// The claim.
    pub claim_id: ClaimId,
    /// Its row in the CSV.
    pub row: u64,
    /// Where it stands here (`unknown`, `NOTCONFORM`, `invoiced`…).
    pub local_state: String,
}

/// A claim accepted in our files in the period, absent from the CSV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    /// The claim.
    pub claim_id: ClaimId,
    /// Its repair file.
    pub intervention_id: InterventionId,
    /// Its OEM.
    pub manufacturer: Option<ManufacturerId>,
}

/// A matched claim whose amount, or repair file, differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Differs {
    /// The claim.
    pub claim_id: ClaimId,
    /// Its row in the CSV.
    pub row: u64,
    /// What differs (`amount`, `repair file`).
    pub what: &'static str,
    /// The CSV's value.
    pub csv: String,
    /// Ours.
    pub local: String,
}

/// The reconciliation of a month's CSV with our files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// The month.
    pub period: Period,
    /// In the CSV and accepted (not invoiced) here.
    pub matched: Vec<Matched>,
    /// In the CSV but not accepted here, already invoiced, or unknown.
    pub not_accepted: Vec<NotAccepted>,
    /// Accepted here in the period (of the OEM, when one is given), not
    /// invoiced, and absent from the CSV.
    pub missing: Vec<Missing>,
    /// Matched, but with another amount or repair file.
    pub differs: Vec<Differs>,
    /// Claims the CSV lists more than once (each row after the first).
    pub duplicated: Vec<NotAccepted>,
}

impl Reconciliation {
    /// Everything matched: nothing not accepted, missing, differing or
    /// duplicated.
    pub fn is_clean(&self) -> bool {
        self.not_accepted.is_empty()
            && self.missing.is_empty()
            && self.differs.is_empty()
            && self.duplicated.is_empty()
    }

    /// The claims to invoice: the matched ones.
    pub fn claims(&self) -> Vec<ClaimId> {
        self.matched.iter().map(|m| m.claim_id).collect()
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} matched, {} in the CSV but not accepted here, {} accepted here but missing from the CSV, {} differing, {} duplicated: {}",
            self.period,
            self.matched.len(),
            self.not_accepted.len(),
            self.missing.len(),
            self.differs.len(),
            self.duplicated.len(),
            if self.is_clean() {
                "clean"
            } else {
                "NOT clean"
            }
        )
    }
}

fn state_name(claim: &LocalClaim) -> String {
    if claim.invoiced {
        return "invoiced already".to_owned();
    }
    match claim.state {
        Some(state) => state.last_status().as_str().to_owned(),
        None => "no claim status".to_owned(),
    }
}

/// Matches the CSV's claims against ours for `period`: a CSV claim
/// invoiceable here is matched (its amount and repair file compared when
/// both sides have them), else reported with where it stands here; a
/// claim invoiceable here, first seen accepted in `period` (of `oem` when
/// given), that the CSV lacks is missing.
pub fn reconcile(
    csv: &[CsvClaim],
    local: &[LocalClaim],
    period: Period,
    oem: Option<ManufacturerId>,
) -> Reconciliation {
    let ours: BTreeMap<ClaimId, &LocalClaim> = local.iter().map(|c| (c.claim_id, c)).collect();
    let mut seen = BTreeSet::new();
    let mut report = Reconciliation {
        period,
        matched: Vec::new(),
        not_accepted: Vec::new(),
        missing: Vec::new(),
        differs: Vec::new(),
        duplicated: Vec::new(),
    };
    for row in csv {
        if !seen.insert(row.claim_id) {
            report.duplicated.push(NotAccepted {
                claim_id: row.claim_id,
                row: row.row,
                local_state: "listed again".to_owned(),
            });
            continue;
        }
        let Some(claim) = ours.get(&row.claim_id) else {
            report.not_accepted.push(NotAccepted {
                claim_id: row.claim_id,
                row: row.row,
                local_state: "unknown".to_owned(),
            });
            continue;
        };
        let other_oem = oem.is_some() && claim.manufacturer.is_some() && claim.manufacturer != oem;
        if !claim.invoiceable() || other_oem {
            report.not_accepted.push(NotAccepted {
                claim_id: row.claim_id,
                row: row.row,
                local_state: if other_oem {
                    format!("of OEM {}", claim.manufacturer.map_or(0, |m| m.0))
                } else {
                    state_name(claim)
                },
            });
            continue;
        }
        if let Some(file) = row.intervention_id.filter(|f| *f != claim.intervention_id) {
            report.differs.push(Differs {
                claim_id: row.claim_id,
                row: row.row,
                what: "repair file",
                csv: file.to_string(),
                local: claim.intervention_id.to_string(),
            });
        }
        if let (Some(theirs), Some(mine)) = (row.amount, claim.amount) {
            if theirs.normalize() != mine.normalize() {
                report.differs.push(Differs {
                    claim_id: row.claim_id,
                    row: row.row,
                    what: "amount",
                    csv: theirs.to_string(),
                    local: mine.to_string(),
                });
            }
        }
        report.matched.push(Matched {
            claim_id: row.claim_id,
            intervention_id: claim.intervention_id,
            accepted_in: claim.accepted_in,
            amount: row.amount,
        });
    }
    for claim in local {
        let of_oem = oem.is_none() || claim.manufacturer == oem;
        if claim.invoiceable()
            && of_oem
            && claim.accepted_in == Some(period)
            && !seen.contains(&claim.claim_id)
        {
            report.missing.push(Missing {
                claim_id: claim.claim_id,
                intervention_id: claim.intervention_id,
                manufacturer: claim.manufacturer,
            });
        }
    }
    report
}
