//! The simulator's clock, as `/_sim/clock` sets it (in the manner of
//! Stripe's test clocks): the real clock by default; frozen, advanced by a
//! duration, set to a later time, or resumed; for the whole simulator, or
//! for one account over the simulator's. The autopilot's delays, the
//! expiry of product keys and the monthly draft invoices follow it, so a
//! test advances the clock instead of waiting.
//!
//! The clock never moves back: a test that reads a time keeps it.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::{Simulator, Tenant, hint};
use crate::error::SimError;

/// A clock setting laid over a time below it (the real clock for the
/// simulator's setting, the simulator's time for an account's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ClockState {
    /// Added to the time below while running.
    offset: SignedDuration,
    /// The time it stands at, while frozen.
    frozen: Option<Timestamp>,
}

impl ClockState {
    /// The time this setting shows over `under`.
    fn now(&self, under: Timestamp) -> Timestamp {
        self.frozen
            .unwrap_or_else(|| under.checked_add(self.offset).unwrap_or(under))
    }

    /// Applies a change, over `under`; refused when it would move back.
    fn apply(&mut self, change: &ClockChange, under: Timestamp) -> Result<(), SimError> {
        let current = self.now(under);
        match change {
            ClockChange::Freeze => self.frozen = Some(current),
            ClockChange::Resume => {
                if let Some(at) = self.frozen.take() {
                    self.offset = at.duration_since(under);
                }
            }
            ClockChange::Advance(by) => {
                if by.is_negative() {
                    return Err(SimError::BadRequest(format!(
                        "the clock only moves forward: cannot advance by {by:#}"
                    )));
                }
                let to = current.checked_add(*by).map_err(|_| {
                    SimError::BadRequest(format!("advancing by {by:#} goes past the last time"))
                })?;
                self.set(to, under);
            }
            ClockChange::Set(to) => {
                if *to < current {
                    return Err(SimError::BadRequest(format!(
                        "the clock only moves forward: {to} is before its time, {current}"
                    )));
                }
                self.set(*to, under);
            }
        }
        Ok(())
    }

    fn set(&mut self, to: Timestamp, under: Timestamp) {
        match &mut self.frozen {
            Some(at) => *at = to,
            None => self.offset = to.duration_since(under),
        }
    }
}

/// An account's time: its own setting over the simulator's, over the real
/// clock's `base`.
pub(super) fn tenant_now(simulator: &ClockState, tenant: &Tenant, base: Timestamp) -> Timestamp {
    let under = simulator.now(base);
    tenant.clock.map_or(under, |c| c.now(under))
}

/// A change of a clock (`POST /_sim/clock`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClockChange {
    /// Stop it where it stands.
    Freeze,
    /// Move it forward by a duration (frozen or not).
    Advance(SignedDuration),
    /// Move it forward to a time (frozen or not).
    Set(Timestamp),
    /// Let it run again from where it stands.
    Resume,
}

/// A clock as `GET /_sim/clock` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClockView {
    /// Its time.
    #[serde(serialize_with = "as_text")]
    pub now: Timestamp,
    /// Whether it stands still.
    pub frozen: bool,
    /// Whose clock: `account` or `simulator`.
    pub scope: &'static str,
    /// For an account: whether it has a setting of its own (otherwise it
    /// shows the simulator's clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub own_setting: Option<bool>,
}

impl Simulator {
    /// The simulator's clock (`None`) or an account's.
    pub fn clock(&self, account: Option<&str>) -> Result<ClockView, SimError> {
        let base = self.base_now();
        let world = self.world();
        match account {
            None => Ok(ClockView {
                now: world.clock.now(base),
                frozen: world.clock.frozen.is_some(),
                scope: "simulator",
                own_setting: None,
            }),
            Some(key) => {
                let tenant = world.tenants.get(key).ok_or_else(|| no_account(key))?;
                let frozen = match tenant.clock {
                    Some(c) => c.frozen.is_some(),
                    None => world.clock.frozen.is_some(),
                };
                Ok(ClockView {
                    now: tenant_now(&world.clock, tenant, base),
                    frozen,
                    scope: "account",
                    own_setting: Some(tenant.clock.is_some()),
                })
            }
        }
    }

    /// Changes the simulator's clock (`None`: every account without a
    /// setting of its own follows it) or an account's; the autopilot then
    /// catches up with the new time.
    pub fn change_clock(
        &self,
        account: Option<&str>,
        change: &ClockChange,
    ) -> Result<ClockView, SimError> {
        {
            let base = self.base_now();
            let mut world = self.world();
            match account {
                None => world.clock.apply(change, base)?,
                Some(key) => {
                    let under = world.clock.now(base);
                    let tenant = world.tenants.get_mut(key).ok_or_else(|| no_account(key))?;
                    let mut setting = tenant.clock.unwrap_or_default();
                    setting.apply(change, under)?;
                    tenant.clock = Some(setting);
                }
            }
        }
        match account {
            Some(key) => self.catch_up(key),
            None => {
                let keys: Vec<String> = self.world().tenants.keys().cloned().collect();
                for key in keys {
                    self.catch_up(&key);
                }
            }
        }
        self.clock(account)
    }

    /// An account's time (its clock, over the simulator's).
    pub fn now_for(&self, account: &str) -> Result<Timestamp, SimError> {
        self.clock(Some(account)).map(|c| c.now)
    }
}

fn as_text<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

fn no_account(key: &str) -> SimError {
    SimError::NotFound(format!("no account with key {}", hint(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn a_frozen_clock_stands_still_and_moves_only_forward() {
        let mut c = ClockState::default();
        let t0 = at("2026-01-01T00:00:00Z");
        c.apply(&ClockChange::Freeze, t0).ok();
        assert_eq!(c.now(at("2026-01-01T05:00:00Z")), t0);
        c.apply(&ClockChange::Advance(SignedDuration::from_hours(2)), t0)
            .ok();
        assert_eq!(
            c.now(at("2026-03-01T00:00:00Z")),
            at("2026-01-01T02:00:00Z")
        );
        assert!(
            c.apply(&ClockChange::Set(at("2026-01-01T01:00:00Z")), t0)
                .is_err()
        );
        assert!(
            c.apply(&ClockChange::Advance(SignedDuration::from_secs(-1)), t0)
                .is_err()
        );
        // Resumed, it runs on from where it stood.
        c.apply(&ClockChange::Resume, t0).ok();
        assert_eq!(
            c.now(at("2026-01-01T00:10:00Z")),
            at("2026-01-01T02:10:00Z")
        );
    }
}
