//! The autopilot: the simulator plays the OEM of an account by itself.
//! New work orders arrive at a steady rate, ordered parts ship (208) a
//! delay after they were ordered, or some become unavailable (202),
//! transferred claims are decided a delay after their transfer (some
//! NOTCONFORM, the rest CLOSEDACCEPTED), and on the first day of every
//! month the accepted claims not yet in a draft are gathered into draft
//! invoices, through [`Simulator::draft_invoice`] as the control API
//! issues them.
//!
//! Everything follows the account's clock (`/_sim/clock`) and is drawn
//! from dice seeded by the simulator's seed and the account: for a given
//! seed and the same calls at the same clock times, the same things
//! happen. Nothing runs in the background: an account is caught up with
//! its clock whenever it is read or changed ([`Simulator::catch_up`]), in
//! the order the events fall due, month by month.

use std::cell::Cell;
use std::time::Duration;

use agora_domain::lifecycle::{ClaimState, RepairEvent};
use agora_domain::{ClaimStatus, LogisticStatus, MandateStatus, ManufacturerId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{MandateRecord, Simulator, World, clock, hint, key_seed, now_wire};
use crate::error::SimError;

/// What the autopilot does (`--autopilot`, `autopilot` in the
/// configuration file); every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields, default)]
pub struct Autopilot {
    /// New work orders per hour of the account's clock, evenly spaced
    /// (0: none).
    pub work_orders_per_hour: f64,
    /// How long after it was ordered a part line ships (or turns out
    /// unavailable), in seconds.
    pub ship_after_seconds: u64,
    /// Share of part lines that become unavailable (202) instead of
    /// shipping (208).
    pub unavailable_rate: f64,
    /// How long after its transfer a claim is decided, in seconds.
    pub decide_after_seconds: u64,
    /// Share of claims decided NOTCONFORM (the rest CLOSEDACCEPTED).
    pub not_conform_rate: f64,
    /// Whether draft invoices are issued on the first day of each month
    /// (00:00 UTC of the account's clock) for the accepted claims.
    pub monthly_drafts: bool,
    /// The accounts (api_keys) it plays the OEM for; empty: every account.
    pub accounts: Vec<String>,
}

impl Default for Autopilot {
    fn default() -> Self {
        Self {
            work_orders_per_hour: 12.0,
            ship_after_seconds: 600,
            unavailable_rate: 0.1,
            decide_after_seconds: 900,
            not_conform_rate: 0.2,
            monthly_drafts: true,
            accounts: Vec::new(),
        }
    }
}

impl Autopilot {
    /// Refuses rates outside 0–1 and a rate of work orders that is not a
    /// finite, non-negative number.
    pub fn check(&self) -> Result<(), String> {
        for (name, rate) in [
            ("unavailable_rate", self.unavailable_rate),
            ("not_conform_rate", self.not_conform_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!(
                    "autopilot: {name} must be between 0 and 1, not {rate}"
                ));
            }
        }
        if !self.work_orders_per_hour.is_finite() || self.work_orders_per_hour < 0.0 {
            return Err(format!(
                "autopilot: work_orders_per_hour must be a number of 0 or more, not {}",
                self.work_orders_per_hour
            ));
        }
        if self.work_orders_per_hour > 3600.0 {
            return Err(
                "autopilot: work_orders_per_hour is at most 3600 (one a second)".to_owned(),
            );
        }
        Ok(())
    }

    /// Whether it plays the OEM for the account `key`.
    pub(crate) fn covers(&self, key: &str) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|k| k == key)
    }

    fn interval(&self) -> Option<Duration> {
        (self.work_orders_per_hour > 0.0)
            .then(|| Duration::from_secs_f64(3600.0 / self.work_orders_per_hour))
    }
}

/// An account's autopilot: its settings, its dice, and how far it has
/// played.
#[derive(Debug, Clone)]
pub(super) struct AutopilotState {
    settings: Autopilot,
    rng: fastrand::Rng,
    /// Everything due up to this time has been done.
    upto: Timestamp,
    /// When the next work order arrives.
    next_work_order: Option<Timestamp>,
    /// Work orders published so far.
    published: u64,
}

impl AutopilotState {
    pub(super) fn new(settings: Autopilot, seed: u64, key: &str, start: Timestamp) -> Self {
        let next_work_order = settings.interval().and_then(|i| start.checked_add(i).ok());
        Self {
            settings,
            rng: fastrand::Rng::with_seed(seed ^ 0xA070_9170 ^ key_seed(key)),
            upto: start,
            next_work_order,
            published: 0,
        }
    }

    /// What the state dump shows.
    pub(super) fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "Settings": self.settings,
            "CaughtUpTo": self.upto.to_string(),
            "NextWorkOrder": self.next_work_order.map(|t| t.to_string()),
            "WorkOrdersPublished": self.published,
        })
    }
}

thread_local! {
    /// Set while this thread issues the autopilot's drafts: a catch-up
    /// asked for from inside them returns at once.
    static ISSUING: Cell<bool> = const { Cell::new(false) };
}

/// The first instant of the month after `t` (UTC).
fn next_month(t: Timestamp) -> Option<Timestamp> {
    let date = jiff::tz::TimeZone::UTC.to_datetime(t).date();
    let first = date
        .first_of_month()
        .checked_add(jiff::Span::new().months(1))
        .ok()?;
    jiff::tz::TimeZone::UTC
        .to_timestamp(first.to_datetime(jiff::civil::Time::midnight()))
        .ok()
}

impl Simulator {
    /// Brings the autopilot of the account `key` (if it has one) up to the
    /// account's clock: the work orders, shipments and decisions that fell
    /// due, and the drafts of every month begun since. Called whenever an
    /// account is read or changed; a no-op for an account without
    /// autopilot.
    pub fn catch_up(&self, key: &str) {
        if ISSUING.with(Cell::get) {
            return;
        }
        let _turn = self
            .inner
            .autopilot_turn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            let Some(drafts) = self.play_until_due(key) else {
                return;
            };
            ISSUING.with(|c| c.set(true));
            for manufacturer in drafts {
                // The same function as `POST /_sim/invoices/draft`; a
                // manufacturer with nothing left to invoice is skipped.
                let _ = self.draft_invoice(key, manufacturer);
            }
            ISSUING.with(|c| c.set(false));
        }
    }

    /// The autopilot of the account `key` as the state dump shows it
    /// (`null` when off).
    pub fn autopilot(&self, key: &str) -> Result<serde_json::Value, SimError> {
        self.catch_up(key);
        let world = self.world();
        let tenant = world
            .tenants
            .get(key)
            .ok_or_else(|| SimError::NotFound(format!("no account with key {}", hint(key))))?;
        Ok(tenant
            .autopilot
            .as_ref()
            .map_or(serde_json::Value::Null, AutopilotState::view))
    }

    /// Starts (with these settings, from the account's time now), changes
    /// or stops (`None`) the autopilot of the account `key`. Settings
    /// changed keep how far it has played.
    pub fn set_autopilot(&self, key: &str, settings: Option<Autopilot>) -> Result<(), SimError> {
        if let Some(s) = &settings {
            s.check().map_err(SimError::BadRequest)?;
        }
        self.catch_up(key);
        let base = self.base_now();
        let mut world = self.world();
        let World { tenants, clock, .. } = &mut *world;
        let tenant = tenants
            .get_mut(key)
            .ok_or_else(|| SimError::NotFound(format!("no account with key {}", hint(key))))?;
        let now = clock::tenant_now(clock, tenant, base);
        tenant.autopilot = match (settings, tenant.autopilot.take()) {
            (None, _) => None,
            (Some(settings), Some(mut pilot)) => {
                pilot.next_work_order = settings.interval().and_then(|i| now.checked_add(i).ok());
                pilot.settings = settings;
                Some(pilot)
            }
            (Some(settings), None) => {
                Some(AutopilotState::new(settings, self.inner.seed, key, now))
            }
        };
        Ok(())
    }

    /// Plays the account's OEM up to its clock or the next first of a
    /// month, whichever comes first. `None` once caught up with the clock
    /// (or without autopilot); at a first of a month, the OEMs to draft
    /// invoices for (then the next step plays on).
    fn play_until_due(&self, key: &str) -> Option<Vec<ManufacturerId>> {
        let base = self.base_now();
        let mut world = self.world();
        let World {
            tenants,
            next_mandate,
            clock,
            ..
        } = &mut *world;
        let tenant = tenants.get_mut(key)?;
        let now = clock::tenant_now(clock, tenant, base);
        let mut pilot = tenant.autopilot.take()?;
        if pilot.upto >= now {
            tenant.autopilot = Some(pilot);
            return None;
        }
        let month = next_month(pilot.upto).filter(|_| pilot.settings.monthly_drafts);
        let (until, at_month) = match month {
            Some(m) if m <= now => (m, true),
            _ => (now, false),
        };
        // New work orders.
        if let Some(interval) = pilot.settings.interval() {
            while let Some(at) = pilot.next_work_order.filter(|at| *at <= until) {
                pilot.published += 1;
                let pick = pilot.rng.u64(..);
                let mut mandate = agora_mock_sample(pilot.published, pick);
                let id = *next_mandate;
                next_mandate.0 += 1;
                mandate.mandate_id = Some(id);
                tenant.mandates.insert(
                    id,
                    MandateRecord {
                        mandate,
                        status: MandateStatus::New,
                        intervention_id: None,
                        broken: false,
                    },
                );
                pilot.next_work_order = at.checked_add(interval).ok();
            }
        }
        // Part lines ship, or turn out unavailable.
        let ship_after = Duration::from_secs(pilot.settings.ship_after_seconds);
        for order in tenant.orders.values_mut() {
            if order.line.status_code.is_some() {
                continue;
            }
            let Ok(due) = order.placed.checked_add(ship_after) else {
                continue;
            };
            if due > until {
                continue;
            }
            let code = if pilot.rng.f64() < pilot.settings.unavailable_rate {
                "202"
            } else {
                "208"
            };
            order.line.status_code = LogisticStatus::parse_known(code).ok();
            order.line.status_date = Some(now_wire(due));
        }
        // Transferred claims are decided.
        let decide_after = Duration::from_secs(pilot.settings.decide_after_seconds);
        let mut due_claims: Vec<(Timestamp, agora_domain::ClaimId)> = tenant
            .claims
            .iter()
            .filter_map(|(id, c)| {
                let due = c.transferred?.checked_add(decide_after).ok()?;
                (due <= until).then_some((due, *id))
            })
            .collect();
        due_claims.sort();
        for (_, id) in due_claims {
            let Some(claim) = tenant.claims.get_mut(&id) else {
                continue;
            };
            claim.transferred = None;
            let Some(record) = tenant.repairs.get_mut(&claim.intervention_id) else {
                continue;
            };
            if record.lifecycle.claim != Some(ClaimState::Valid { transferred: true }) {
                continue;
            }
            let (decision, comment) = if pilot.rng.f64() < pilot.settings.not_conform_rate {
                (
                    ClaimStatus::NotConform,
                    "Not conform: the photo of the rating plate is missing (autopilot)",
                )
            } else {
                (ClaimStatus::ClosedAccepted, "Accepted (autopilot)")
            };
            if let Ok(next) = record.lifecycle.apply(&RepairEvent::OemDecision(decision)) {
                record.lifecycle = next;
                claim.comment = Some(comment.to_owned());
            }
        }
        pilot.upto = until;
        if !at_month {
            tenant.autopilot = Some(pilot);
            return None;
        }
        let drafts = {
            let mut oems: Vec<ManufacturerId> = tenant
                .claims
                .values()
                .filter(|c| c.draft.is_none())
                .filter(|c| {
                    tenant
                        .repairs
                        .get(&c.intervention_id)
                        .is_some_and(|r| r.lifecycle.claim == Some(ClaimState::ClosedAccepted))
                })
                .filter_map(|c| c.manufacturer)
                .collect();
            oems.sort();
            oems.dedup();
            oems
        };
        tenant.autopilot = Some(pilot);
        Some(drafts)
    }
}

fn agora_mock_sample(n: u64, pick: u64) -> agora_domain::MandateLightResponse {
    crate::sample::work_order(n, pick)
}
