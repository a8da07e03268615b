//! # agora-mock
//!
//! An in-memory AgoraPlus. [`Simulator`] holds the state of every account
//! (tenant): work orders, repair files, part orders, claims and draft
//! invoices, plus the OEMs' generated and published catalog. It runs the
//! rules of `agora-domain` server-side: the repair lifecycle, what each
//! status requires, the OEMs' claim rule sets. It also plays the OEM
//! (publish a work order, decide on a claim, ship a part, issue a draft
//! invoice), injects faults, and answers each account in the words of its
//! [`AnswerProfile`] (the reference's "no results", `W` warnings, titles
//! as labels…).
//!
//! [`Simulator::client`] gives one account's view implementing every
//! AgoraPlus port of `agora-ports`, for fast use-case tests without HTTP.
//! `agora-sim` serves the same simulator over HTTP.
//!
//! It is not a server (no server crate here) and not a client.

mod catalog;
mod error;
mod faults;
mod ports;
mod profile;
pub mod sample;
mod sim;

pub use catalog::GeneratedCatalog;
pub use error::{Answer, SimError};
pub use faults::{FaultCounts, Faults, Roll};
pub use ports::SimClient;
pub use profile::{AnswerProfile, EmptyList, OrderNumbers};
pub use sim::{
    Autopilot, ClockChange, ClockView, Delta, DraftCsv, JournalRecord, SimConfig, SimConfigFile,
    Simulator, changes_state,
};
