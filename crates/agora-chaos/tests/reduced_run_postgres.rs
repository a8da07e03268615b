//! The reduced chaos run on PostgreSQL, part of `cargo test --workspace`:
//! the run of `reduced_run.rs` with the 2 worker processes sharing one
//! database of a throwaway PostgreSQL server (started by the harness; the
//! test fails, saying what to install, when none can be started).

mod common;

use agora_chaos::StoreKind;

#[test]
fn a_reduced_chaos_run_on_postgres_loses_nothing_and_duplicates_nothing() {
    common::reduced_run_holds(StoreKind::Postgres);
}
