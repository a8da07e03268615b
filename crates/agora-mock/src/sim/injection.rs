//! Fault injection: the faults in force for each account (optionally on
//! some routes only), the roll drawn for each call of an AgoraPlus route
//! and the counts of what was injected. One account's faults never touch
//! another's calls, and each account has its own dice.

use agora_domain::routes::Route;

use super::{Simulator, hint};
use crate::error::SimError;
use crate::faults::{FaultCounts, Faults, Roll};

impl Simulator {
    /// Sets the faults to inject in the calls of the account `key`.
    pub fn set_faults(&self, key: &str, faults: Faults) -> Result<(), SimError> {
        faults.validate()?;
        let mut world = self.world();
        let tenant = world
            .tenants
            .get_mut(key)
            .ok_or_else(|| SimError::NotFound(format!("no account with key {}", hint(key))))?;
        tenant.faults = faults;
        Ok(())
    }

    /// The faults in force for the account `key`.
    pub fn faults(&self, key: &str) -> Result<Faults, SimError> {
        self.world()
            .tenants
            .get(key)
            .map(|t| t.faults.clone())
            .ok_or_else(|| SimError::NotFound(format!("no account with key {}", hint(key))))
    }

    /// Draws the fate of one call of an AgoraPlus route by the account
    /// `key`, and counts it (nothing for an unknown account).
    pub fn roll_fault(&self, key: &str, route: Route) -> Roll {
        let mut world = self.world();
        let Some(tenant) = world.tenants.get_mut(key) else {
            return Roll::default();
        };
        let roll = tenant.faults.roll(route, &mut tenant.fault_rng);
        tenant.fault_counts.count(&roll);
        roll
    }

    /// The faults injected so far in every account's calls, by kind, and
    /// the calls rolled for.
    pub fn fault_counts(&self) -> FaultCounts {
        let world = self.world();
        let mut total = FaultCounts::default();
        for tenant in world.tenants.values() {
            total.add(&tenant.fault_counts);
        }
        total
    }

    /// The faults injected so far in the calls of the account `key`.
    pub fn account_fault_counts(&self, key: &str) -> Result<FaultCounts, SimError> {
        self.world()
            .tenants
            .get(key)
            .map(|t| t.fault_counts)
            .ok_or_else(|| SimError::NotFound(format!("no account with key {}", hint(key))))
    }
}

/// Which routes change state when called (drop-after-commit matters there).
pub fn changes_state(route: Route) -> bool {
    !matches!(route.method(), agora_domain::routes::Method::Get) || route == Route::GetNewMandates
}
