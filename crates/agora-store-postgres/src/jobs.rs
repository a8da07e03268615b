//! The job leases table and the `JobLeases` port.

use agora_ports::{AgoraError, JobLeases, Lease};
use async_trait::async_trait;
use jiff::Timestamp;

use crate::{PostgresStore, ms, store_error};

#[async_trait]
impl JobLeases for PostgresStore {
    async fn take_job(
        &self,
        job: &str,
        lease: &Lease,
        now: Timestamp,
        unless_done_after: Option<Timestamp>,
    ) -> Result<bool, AgoraError> {
        // One statement: `ON CONFLICT` locks the row and judges its latest
        // version, so of two processes taking at once one gets it.
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO job_leases (job, owner, until_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (job) DO UPDATE SET owner = EXCLUDED.owner, until_ms = EXCLUDED.until_ms
                   WHERE (job_leases.owner IS NULL OR job_leases.owner = EXCLUDED.owner
                          OR job_leases.until_ms <= $4)
                     AND ($5::BIGINT IS NULL OR job_leases.done_ms IS NULL
                          OR job_leases.done_ms <= $5::BIGINT)",
                &[
                    &job,
                    &lease.owner,
                    &ms(lease.until),
                    &ms(now),
                    &unless_done_after.map(ms),
                ],
            )
            .await
            .map_err(store_error)?;
        Ok(n == 1)
    }

    async fn renew_job(&self, job: &str, lease: &Lease) -> Result<bool, AgoraError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE job_leases SET until_ms = $3 WHERE job = $1 AND owner = $2",
                &[&job, &lease.owner, &ms(lease.until)],
            )
            .await
            .map_err(store_error)?;
        Ok(n == 1)
    }

    async fn release_job(
        &self,
        job: &str,
        owner: &str,
        done: Option<Timestamp>,
    ) -> Result<(), AgoraError> {
        self.client()
            .await?
            .execute(
                "UPDATE job_leases SET owner = NULL, until_ms = NULL,
                   done_ms = COALESCE($3, done_ms)
                 WHERE job = $1 AND owner = $2",
                &[&job, &owner, &done.map(ms)],
            )
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}
