//! Fault injection, LocalStack-style: rates of 503 and 500, a delay on
//! every call, a share of slow calls (held past a client's timeout, then
//! handled), and drop-after-commit (the change is applied, then no answer
//! is given), on every AgoraPlus route or only on the routes named. The
//! simulator counts what it injected, by kind.

use agora_domain::routes::Route;
use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// The faults to inject in one account's calls, as `POST /_sim/faults`
/// takes them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Faults {
    /// Share of AgoraPlus calls answered 503 before doing anything (0.0–1.0).
    #[serde(rename = "Status503Rate", default)]
    pub status503_rate: f64,
    /// Share of AgoraPlus calls answered 500 before doing anything (0.0–1.0).
    #[serde(rename = "Status500Rate", default)]
    pub status500_rate: f64,
    /// Delay added to every AgoraPlus call, in milliseconds (HTTP only).
    #[serde(default)]
    pub delay_ms: u64,
    /// Share of AgoraPlus calls held `SlowMs` longer before they are handled
    /// (HTTP only): set `SlowMs` past the client's timeout and the client
    /// gives up on a call the simulator may still apply.
    #[serde(default)]
    pub slow_rate: f64,
    /// How long a slow call is held, in milliseconds.
    #[serde(default)]
    pub slow_ms: u64,
    /// Share of AgoraPlus calls whose change is applied and whose connection
    /// is then closed without an answer (0.0–1.0).
    #[serde(default)]
    pub drop_after_commit_rate: f64,
    /// Share of `UpdateRepair` calls held `HoldMs` before they are applied
    /// (HTTP only): set `HoldMs` past the client's timeout and its
    /// retries, and the file sent may land after a newer one.
    #[serde(default)]
    pub hold_rate: f64,
    /// How long a held update waits, in milliseconds.
    #[serde(default)]
    pub hold_ms: u64,
    /// `Retry-After` seconds sent with injected 503s.
    #[serde(default)]
    pub retry_after_seconds: Option<u64>,
    /// The routes the faults apply to, by AgoraPlus name (`GetNewMandates`,
    /// matched case-insensitively); empty: every route.
    #[serde(default)]
    pub routes: Vec<String>,
}

impl Faults {
    /// Refuses rates outside 0–1.
    pub fn validate(&self) -> Result<(), SimError> {
        for (name, rate) in [
            ("Status503Rate", self.status503_rate),
            ("Status500Rate", self.status500_rate),
            ("SlowRate", self.slow_rate),
            ("DropAfterCommitRate", self.drop_after_commit_rate),
            ("HoldRate", self.hold_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(SimError::BadRequest(format!(
                    "{name} must be between 0 and 1, not {rate}"
                )));
            }
        }
        if self.status503_rate + self.status500_rate + self.slow_rate > 1.0 {
            return Err(SimError::BadRequest(
                "Status503Rate + Status500Rate + SlowRate must not exceed 1".to_owned(),
            ));
        }
        if let Some(unknown) = self.routes.iter().find(|name| route_named(name).is_none()) {
            return Err(SimError::BadRequest(format!(
                "Routes: `{unknown}` is not an AgoraPlus route name (GetNewMandates, UpdateRepair, ...)"
            )));
        }
        Ok(())
    }

    /// Whether the faults apply to calls of `route`.
    pub fn applies_to(&self, route: Route) -> bool {
        self.routes.is_empty()
            || self
                .routes
                .iter()
                .any(|name| route.name().eq_ignore_ascii_case(name))
    }
}

/// The route of an AgoraPlus name, matched case-insensitively.
pub(crate) fn route_named(name: &str) -> Option<Route> {
    Route::ALL
        .iter()
        .copied()
        .find(|r| r.name().eq_ignore_ascii_case(name.trim()))
}

/// What the dice said for one call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Roll {
    /// Refuse the call before doing anything.
    pub refuse: Option<SimError>,
    /// Apply the call, then give no answer.
    pub drop_after_commit: bool,
    /// Wait this long first (milliseconds): the delay of every call, plus
    /// `SlowMs` for a slow one.
    pub delay_ms: u64,
    /// Whether the call was picked to be slow.
    pub slow: bool,
    /// Whether the call (an `UpdateRepair`) was picked to be held `HoldMs`.
    pub held: bool,
}

/// How many faults the simulator injected, by kind, since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FaultCounts {
    /// AgoraPlus calls rolled for (every call that passed authentication).
    pub calls: u64,
    /// Answered 503.
    pub status503: u64,
    /// Answered 500.
    pub status500: u64,
    /// Held `SlowMs` longer.
    pub slow: u64,
    /// Applied, then dropped without an answer.
    pub dropped_after_commit: u64,
    /// Updates held `HoldMs`, then applied.
    #[serde(default)]
    pub held: u64,
}

impl FaultCounts {
    /// Every injected fault.
    pub fn total(&self) -> u64 {
        self.status503 + self.status500 + self.slow + self.dropped_after_commit + self.held
    }

    /// Adds another account's counts.
    pub fn add(&mut self, other: &Self) {
        self.calls += other.calls;
        self.status503 += other.status503;
        self.status500 += other.status500;
        self.slow += other.slow;
        self.dropped_after_commit += other.dropped_after_commit;
        self.held += other.held;
    }

    pub(crate) fn count(&mut self, roll: &Roll) {
        self.calls += 1;
        match &roll.refuse {
            Some(SimError::Unavailable { .. }) => self.status503 += 1,
            Some(_) => self.status500 += 1,
            None => {}
        }
        if roll.slow {
            self.slow += 1;
        }
        if roll.drop_after_commit {
            self.dropped_after_commit += 1;
        }
        if roll.held {
            self.held += 1;
        }
    }
}

impl Faults {
    /// Draws the fate of one call of `route`: one draw picks 503, 500, slow
    /// or none; a call that is not refused may then be dropped after
    /// commit. A route the faults do not apply to draws nothing, so the
    /// dice of the others are unchanged.
    pub(crate) fn roll(&self, route: Route, rng: &mut fastrand::Rng) -> Roll {
        if !self.applies_to(route) {
            return Roll::default();
        }
        let x = rng.f64();
        let refuse_503 = self.status503_rate;
        let refuse_500 = refuse_503 + self.status500_rate;
        let refuse = if x < refuse_503 {
            Some(SimError::Unavailable {
                retry_after: self.retry_after_seconds,
            })
        } else if x < refuse_500 {
            Some(SimError::Internal)
        } else {
            None
        };
        let slow = refuse.is_none() && x < refuse_500 + self.slow_rate;
        let drop_after_commit = refuse.is_none() && rng.f64() < self.drop_after_commit_rate;
        // Drawn only when holds are asked for, so that the dice of the
        // other faults are those of a run without them.
        let held = self.hold_rate > 0.0
            && route == Route::UpdateRepair
            && refuse.is_none()
            && !slow
            && rng.f64() < self.hold_rate;
        Roll {
            refuse,
            drop_after_commit,
            delay_ms: self.delay_ms
                + if slow { self.slow_ms } else { 0 }
                + if held { self.hold_ms } else { 0 },
            slow,
            held,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolls_follow_the_rates_and_are_counted_by_kind() {
        let faults = Faults {
            status503_rate: 0.1,
            status500_rate: 0.1,
            slow_rate: 0.1,
            slow_ms: 700,
            drop_after_commit_rate: 0.1,
            delay_ms: 5,
            ..Faults::default()
        };
        let mut rng = fastrand::Rng::with_seed(7);
        let mut counts = FaultCounts::default();
        for _ in 0..10_000 {
            let roll = faults.roll(Route::CreateRepair, &mut rng);
            assert!(!(roll.slow && roll.refuse.is_some()));
            assert_eq!(roll.delay_ms, if roll.slow { 705 } else { 5 });
            counts.count(&roll);
        }
        assert_eq!(counts.calls, 10_000);
        for (kind, n) in [
            ("503", counts.status503),
            ("500", counts.status500),
            ("slow", counts.slow),
        ] {
            assert!((850..1150).contains(&n), "{kind}: {n}");
        }
        // Drops are drawn among the 80% of calls not refused.
        assert!(
            (650..950).contains(&counts.dropped_after_commit),
            "{counts:?}"
        );
        assert_eq!(
            counts.total(),
            counts.status503 + counts.status500 + counts.slow + counts.dropped_after_commit
        );
    }

    #[test]
    fn holds_apply_to_updates_only_and_leave_the_other_dice_alone() {
        let base = Faults {
            status503_rate: 0.1,
            drop_after_commit_rate: 0.1,
            ..Faults::default()
        };
        let held = Faults {
            hold_rate: 0.5,
            hold_ms: 3_000,
            ..base.clone()
        };
        let (mut a, mut b) = (fastrand::Rng::with_seed(3), fastrand::Rng::with_seed(3));
        let mut holds = 0;
        for _ in 0..1_000 {
            let plain = base.roll(Route::CreateWarrantyClaims, &mut a);
            let roll = held.roll(Route::CreateWarrantyClaims, &mut b);
            assert_eq!(plain, roll, "a claim is never held");
        }
        for _ in 0..1_000 {
            let roll = held.roll(Route::UpdateRepair, &mut b);
            if roll.held {
                holds += 1;
                assert_eq!(roll.delay_ms, 3_000);
                assert!(roll.refuse.is_none());
            }
        }
        assert!((350..650).contains(&holds), "{holds}");
    }

    #[test]
    fn rates_beyond_one_are_refused() {
        let too_many = Faults {
            status503_rate: 0.5,
            status500_rate: 0.3,
            slow_rate: 0.3,
            ..Faults::default()
        };
        assert!(too_many.validate().is_err());
        assert!(
            Faults {
                slow_rate: 1.2,
                ..Faults::default()
            }
            .validate()
            .is_err()
        );
    }
}
