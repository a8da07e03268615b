//! The leases of the worker's periodic jobs (pulling work orders, tracking,
//! the catalog): several `agora watch` processes on one store take a job's
//! lease before running it, so that a job never runs twice at once, and
//! none runs again right after another process completed it.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::error::AgoraError;
use crate::outbox::Lease;

/// The leases of periodic jobs, by name (`work-orders`, `catalog`…).
///
/// The contract, which every store implements and the conformance tests
/// check:
/// - `take_job` gives the lease to `lease.owner` only if no other owner
///   holds a lease of the job that runs at `now` (an expired lease is free;
///   the owner's own lease is taken again), and the job was not completed
///   after `unless_done_after`; the check and the take are one
///   transaction, so of two processes taking at once one gets it.
/// - `renew_job` extends the lease only while `lease.owner` holds it.
/// - `release_job` frees the owner's lease (only its own) and, with `done`,
///   records when the job was completed.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait JobLeases: Send + Sync {
    /// Takes the lease of `job` for `lease.owner` until `lease.until`, as
    /// the contract says; `true` if taken.
    async fn take_job(
        &self,
        job: &str,
        lease: &Lease,
        now: Timestamp,
        unless_done_after: Option<Timestamp>,
    ) -> Result<bool, AgoraError>;
    /// Extends the lease of `job` to `lease.until`; `false` if `lease.owner`
    /// no longer holds it.
    async fn renew_job(&self, job: &str, lease: &Lease) -> Result<bool, AgoraError>;
    /// Frees `owner`'s lease of `job`; `done` records when the job was
    /// completed (`None`: it was not, e.g. it failed).
    async fn release_job(
        &self,
        job: &str,
        owner: &str,
        done: Option<Timestamp>,
    ) -> Result<(), AgoraError>;
}
