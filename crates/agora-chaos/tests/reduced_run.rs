//! The reduced chaos run, part of `cargo test --workspace`: 500 operations
//! of every use case by 2 worker processes on one SQLite store file, 20% of
//! AgoraPlus calls faulted, one worker killed with SIGKILL (on its
//! progress events) and restarted. The simulator and the store must agree:
//! nothing lost, nothing duplicated, every doubt resolved by the operator
//! path, nothing left to send.

mod common;

use agora_chaos::StoreKind;

#[test]
fn a_reduced_chaos_run_loses_nothing_and_duplicates_nothing() {
    common::reduced_run_holds(StoreKind::Sqlite);
}
