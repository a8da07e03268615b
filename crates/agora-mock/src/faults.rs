//! Fault injection, LocalStack-style: rates of 503 and 500, a delay, and
//! drop-after-commit (the change is applied, then no answer is given), on
//! every AgoraPlus route or only on the routes named.

use agora_domain::routes::Route;
use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// The faults to inject, as `POST /_sim/faults` takes them.
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
    /// Share of AgoraPlus calls whose change is applied and whose connection
    /// is then closed without an answer (0.0–1.0).
    #[serde(default)]
    pub drop_after_commit_rate: f64,
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
            ("DropAfterCommitRate", self.drop_after_commit_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(SimError::BadRequest(format!(
                    "{name} must be between 0 and 1, not {rate}"
                )));
            }
        }
        if self.status503_rate + self.status500_rate > 1.0 {
            return Err(SimError::BadRequest(
                "Status503Rate + Status500Rate must not exceed 1".to_owned(),
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
    /// Wait this long first (milliseconds).
    pub delay_ms: u64,
}

impl Faults {
    /// Draws the fate of one call of `route`; a route the faults do not
    /// apply to draws nothing, so the dice of the others are unchanged.
    pub(crate) fn roll(&self, route: Route, rng: &mut fastrand::Rng) -> Roll {
        if !self.applies_to(route) {
            return Roll::default();
        }
        let x = rng.f64();
        let refuse = if x < self.status503_rate {
            Some(SimError::Unavailable {
                retry_after: self.retry_after_seconds,
            })
        } else if x < self.status503_rate + self.status500_rate {
            Some(SimError::Internal)
        } else {
            None
        };
        let drop_after_commit = refuse.is_none() && rng.f64() < self.drop_after_commit_rate;
        Roll {
            refuse,
            drop_after_commit,
            delay_ms: self.delay_ms,
        }
    }
}
