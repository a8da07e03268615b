//! # agora-chaos
//!
//! The chaos run behind `cargo xtask chaos`: several worker processes
//! (this crate's binary in `worker` mode) share one store, a SQLite file
//! or (`--store postgres`) a database on a throwaway PostgreSQL server, and
//! drive every use case of `agora-app` through the HTTP client against
//! `agora-sim`, while the simulator injects faults and the harness kills
//! workers with SIGKILL and restarts them. Then the simulator's state is
//! reconciled with the store by intent keys: nothing may be lost, nothing
//! created twice, and every doubt must be resolvable by the operator path
//! (`Agora::resolve`).
//!
//! A tool of this workspace, not shipped (`publish = false`); no library
//! crate depends on it.

pub mod events;
pub mod harness;
pub mod operator;
pub mod probe;
pub mod reconcile;
pub mod report;
pub mod sim_state;
pub mod worker;
pub mod workload;

pub use harness::{ChaosConfig, ChaosReport, StoreKind, run};
