//! The job leases table and the `JobLeases` port.

use agora_ports::{AgoraError, JobLeases, Lease};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::params;

use crate::{SqliteStore, ms, store_error};

#[async_trait]
impl JobLeases for SqliteStore {
    async fn take_job(
        &self,
        job: &str,
        lease: &Lease,
        now: Timestamp,
        unless_done_after: Option<Timestamp>,
    ) -> Result<bool, AgoraError> {
        let (job, lease) = (job.to_owned(), lease.clone());
        self.with_state(move |c| {
            // One statement: the check and the take are atomic.
            c.execute(
                "INSERT INTO job_leases (job, owner, until_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (job) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms
                   WHERE (job_leases.owner IS NULL OR job_leases.owner = excluded.owner
                          OR job_leases.until_ms <= ?4)
                     AND (?5 IS NULL OR job_leases.done_ms IS NULL OR job_leases.done_ms <= ?5)",
                params![job, lease.owner, ms(lease.until), ms(now), unless_done_after.map(ms)],
            )
            .map(|n| n == 1)
            .map_err(store_error)
        })
        .await
    }

    async fn renew_job(&self, job: &str, lease: &Lease) -> Result<bool, AgoraError> {
        let (job, lease) = (job.to_owned(), lease.clone());
        self.with_state(move |c| {
            c.execute(
                "UPDATE job_leases SET until_ms = ?3 WHERE job = ?1 AND owner = ?2",
                params![job, lease.owner, ms(lease.until)],
            )
            .map(|n| n == 1)
            .map_err(store_error)
        })
        .await
    }

    async fn release_job(
        &self,
        job: &str,
        owner: &str,
        done: Option<Timestamp>,
    ) -> Result<(), AgoraError> {
        let (job, owner) = (job.to_owned(), owner.to_owned());
        self.with_state(move |c| {
            c.execute(
                "UPDATE job_leases SET owner = NULL, until_ms = NULL,
                   done_ms = COALESCE(?3, done_ms)
                 WHERE job = ?1 AND owner = ?2",
                params![job, owner, done.map(ms)],
            )
            .map(|_| ())
            .map_err(store_error)
        })
        .await
    }
}
