//! Fault injection: the faults in force, the roll drawn for each call of
//! an AgoraPlus route and the counts of what was injected.

use agora_domain::routes::Route;

use super::{Simulator, World};
use crate::error::SimError;
use crate::faults::{FaultCounts, Faults, Roll};

impl Simulator {
    /// Sets the faults to inject.
    pub fn set_faults(&self, faults: Faults) -> Result<(), SimError> {
        faults.validate()?;
        self.world().faults = faults;
        Ok(())
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.world().faults.clone()
    }

    /// Draws the fate of one call of an AgoraPlus route, and counts it.
    pub fn roll_fault(&self, route: Route) -> Roll {
        let mut world = self.world();
        let World {
            faults,
            fault_rng,
            fault_counts,
            ..
        } = &mut *world;
        let roll = faults.roll(route, fault_rng);
        fault_counts.count(&roll);
        roll
    }

    /// The faults injected so far, by kind, and the calls rolled for.
    pub fn fault_counts(&self) -> FaultCounts {
        self.world().fault_counts
    }
}

/// Which routes change state when called (drop-after-commit matters there).
pub fn changes_state(route: Route) -> bool {
    !matches!(route.method(), agora_domain::routes::Method::Get) || route == Route::GetNewMandates
}
