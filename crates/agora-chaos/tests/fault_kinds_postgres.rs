//! The reduced chaos runs of each fault kind on PostgreSQL, part of `cargo
//! test --workspace`: 300 operations by 2 worker processes with the
//! simulator's faults and one kind of the others, scaled down to seconds
//! (`ChaosConfig::only`). Each must end with nothing lost, nothing
//! duplicated (counted from the simulator's request journal, its guards
//! against re-sends off), every file equal field by field between the
//! store and the simulator, and every doubt settled.

mod common;

use agora_chaos::StoreKind;
use agora_chaos::harness::FaultKind;

#[test]
fn the_store_unavailable_for_seconds_loses_and_duplicates_nothing() {
    common::fault_run_holds(StoreKind::Postgres, FaultKind::StoreOutage);
}

#[test]
fn a_worker_paused_past_its_lease_loses_and_duplicates_nothing() {
    common::fault_run_holds(StoreKind::Postgres, FaultKind::Pause);
}

#[test]
fn workers_whose_clocks_disagree_lose_and_duplicate_nothing() {
    common::fault_run_holds(StoreKind::Postgres, FaultKind::ClockSkew);
}

#[test]
fn updates_held_past_the_client_timeout_lose_and_duplicate_nothing() {
    common::fault_run_holds(StoreKind::Postgres, FaultKind::Hold);
}

#[test]
fn kills_at_named_points_lose_and_duplicate_nothing() {
    common::fault_run_holds(StoreKind::Postgres, FaultKind::PointKills);
}
