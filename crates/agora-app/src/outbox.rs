//! The outbox dispatcher: delivers what the use cases wrote, at least once
//! for idempotent operations (with backoff), at most once for the others
//! (in doubt when the outcome is unknown, for a person to resolve). Several
//! processes may share one store: each entry is claimed with a lease before
//! it is sent, so it is sent by one of them only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agora_domain::{ClaimId, ClaimStatus, InterventionId, WarrantyClaimResult};
use agora_ports::{
    AgoraError, Attempt, ClaimSubmission, Claims, Finish, Guard, Invoices, Lease, Mandates,
    Operation, OperationAnswer, Outbox, OutboxEntry, OutboxState, Outcome, PartOrders, Reach,
    RepairFiles, Repairs, Settlement, check_settlement, resend_not_before,
};
use jiff::{SignedDuration, Timestamp};

use crate::hub::Agora;

/// How often a command looks again at its entry while another process
/// sends it.
const SETTLE_POLL: Duration = Duration::from_millis(50);

/// Why an attempt whose lease another process took back stopped.
const LEASE_LOST: &str =
    "not sent further: its lease was taken back by another process (its sender was too slow)";

/// What became of an outbox entry after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Delivered; what AgoraPlus answered.
    Delivered {
        /// The entry.
        entry: u64,
        /// The answer's data, for the operations that return some.
        answer: OperationAnswer,
        /// A warning AgoraPlus attached.
        warning: Option<String>,
    },
    /// Not delivered yet; retried later.
    Queued {
        /// The entry.
        entry: u64,
        /// Why.
        error: String,
    },
    /// May or may not have been applied: parked for a person.
    InDoubt {
        /// The entry.
        entry: u64,
        /// What happened.
        error: String,
    },
    /// Refused by AgoraPlus: will not succeed as it is.
    Failed {
        /// The entry.
        entry: u64,
        /// AgoraPlus's reason.
        error: String,
    },
}

impl FlushReport {
    fn count(&mut self, delivery: &Delivery) {
        match delivery {
            Delivery::Delivered { .. } => self.delivered += 1,
            Delivery::Queued { .. } => self.queued += 1,
            Delivery::InDoubt { .. } => self.in_doubt += 1,
            Delivery::Failed { .. } => self.failed += 1,
        }
    }
}

impl Delivery {
    /// The entry's id.
    pub fn entry(&self) -> u64 {
        match self {
            Self::Delivered { entry, .. }
            | Self::Queued { entry, .. }
            | Self::InDoubt { entry, .. }
            | Self::Failed { entry, .. } => *entry,
        }
    }
}

/// Entries one claim of [`Agora::flush_outbox`] takes at most (several only
/// when all are idempotent: [`agora_ports::claimed_together`]).
pub const CLAIM_BATCH: usize = 32;

/// Why a claimed entry was put back unsent.
const NOT_SENT_STOPPED: &str = "not sent: its worker stopped before its turn (put back)";

/// An attempt made, its outcome not recorded yet.
struct Attempted {
    entry: OutboxEntry,
    /// The holder of the attempt.
    owner: String,
    attempt: Attempt,
    delivery: Delivery,
    /// When it ended, on the clock the outbox's times are kept by.
    now: Timestamp,
}

/// A recording of outcomes under way ([`Agora::record_all`]), polled
/// while the next entries are sent.
type Recording<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Vec<Result<Delivery, AgoraError>>> + Send + 'a>,
>;

/// A flush's report, and its first error.
struct Tally<'a> {
    report: &'a mut FlushReport,
    error: Option<AgoraError>,
}

impl Tally<'_> {
    /// Counts what recorded outcomes became; keeps the first error.
    fn add(&mut self, recorded: Vec<Result<Delivery, AgoraError>>) {
        for result in recorded {
            match result {
                Ok(delivery) => self.report.count(&delivery),
                Err(e) => self.error = self.error.take().or(Some(e)),
            }
        }
    }
}

/// Runs `work` to its end while the recording under way (if any) goes on
/// beside it; what the recording recorded is counted once it ends.
async fn beside<T>(
    work: impl std::future::Future<Output = T>,
    recording: &mut Option<Recording<'_>>,
    tally: &mut Tally<'_>,
) -> T {
    tokio::pin!(work);
    loop {
        tokio::select! {
            biased;
            recorded = async { recording.as_mut().expect("polled only while some").await },
                if recording.is_some() =>
            {
                *recording = None;
                tally.add(recorded);
            }
            out = &mut work => return out,
        }
    }
}

/// What the send of a claimed entry left to do.
enum Tried {
    /// Nothing: what became of the entry.
    Done(Delivery),
    /// Its outcome, to record.
    Outcome(Box<Attempted>),
}

/// What a flush of the outbox did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FlushReport {
    /// Entries delivered.
    pub delivered: usize,
    /// Entries to retry later.
    pub queued: usize,
    /// Entries parked in doubt.
    pub in_doubt: usize,
    /// Entries refused.
    pub failed: usize,
}

/// A reading of the clock leases are judged by ([`Agora::lease_clock`]).
pub(crate) struct LeaseTime {
    /// The time read.
    at: Timestamp,
    /// Whether it is the store's clock (else this process's).
    store: bool,
    /// When it was read.
    read: tokio::time::Instant,
    /// When it was read, by this process's clock (the wall clock): unlike
    /// a steady clock, it counts the time the machine slept.
    wall: Timestamp,
}

/// Whether a lease taken `elapsed` ago by the clock leases are judged by,
/// and `wall` ago by the process's wall clock, still has two thirds of its
/// length `lease` ahead by both: then no other process can have taken it
/// back (recovery waits for its end, plus the grace), nor will before the
/// holder's first renewal during the send (a third of the lease after the
/// send starts). A clock that went back says nothing: not fresh.
pub(crate) fn lease_is_fresh(
    elapsed: SignedDuration,
    wall: SignedDuration,
    lease: Duration,
) -> bool {
    let third = lease / 3;
    let within = |d: SignedDuration| !d.is_negative() && d.unsigned_abs() < third;
    within(elapsed) && within(wall)
}

/// How a person settles an entry that is in doubt (or failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// It was applied (checked in AgoraPlus). A creation records what it
    /// created: the identifier given here, or found in AgoraPlus (accepted
    /// work orders, order tracking, claim tracking); without it the
    /// resolution is refused, so that a later submission cannot create the
    /// thing a second time.
    Applied {
        /// The repair file a `CreateRepair` created.
        intervention_id: Option<InterventionId>,
        /// The claim a `CreateWarrantyClaims` created.
        claim_id: Option<ClaimId>,
    },
    /// It was not applied: send it again.
    Resend,
    /// Drop it.
    Abandon,
}

/// The one rule of the outbox's promise: a failure is *in doubt* when the
/// call may have taken effect and sending it again could apply it twice.
pub(crate) fn is_in_doubt(operation: &Operation, error: &AgoraError) -> bool {
    error.is_in_doubt() || (!operation.is_idempotent() && error.reach() == Reach::Unknown)
}

/// A failure AgoraPlus answered with a refusal (it did not apply the
/// operation, and will not as it is): parked as refused, blocking nothing.
/// A failure that may pass (retries exhausted) is given up instead, and
/// blocks the later entries of its file.
pub(crate) fn is_refusal(error: &AgoraError) -> bool {
    !error.is_retryable() && error.reach() == Reach::Refused
}

impl<A, S> Agora<A, S> {
    /// The delay before attempt `attempts + 1`: `retry_base` doubled per
    /// attempt made, at most `retry_max`.
    pub(crate) fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(16);
        self.config
            .retry_base
            .saturating_mul(factor)
            .min(self.config.retry_max)
    }

    /// A lease for a new claim, under an owner of its own: the worker's
    /// name and this claim's number in the process (`WORKER#N`). Two
    /// tasks of one process (clones of one `Agora`) claiming at once hold
    /// their entries under different names, so that neither renews nor
    /// records what the other holds.
    fn new_lease(&self, now: Timestamp) -> Lease {
        static CLAIMS: AtomicU64 = AtomicU64::new(1);
        let n = CLAIMS.fetch_add(1, Ordering::Relaxed);
        self.lease_of(format!("{}#{n}", self.config.worker), now)
    }

    /// The lease of `owner`, from `now` (on the clock leases are judged
    /// by: [`Agora::lease_clock`]).
    fn lease_of(&self, owner: String, now: Timestamp) -> Lease {
        Lease {
            owner,
            until: now + self.config.lease,
        }
    }

    /// The operator's guard: an attempt may take effect until its send
    /// start + `request_timeout` + `grace`.
    pub(crate) fn guard(&self, force: bool) -> Guard {
        Guard {
            force,
            ..Guard::new(self.config.request_timeout, self.config.grace)
        }
    }
}

impl<A, S: Outbox> Agora<A, S> {
    /// The time leases are taken, renewed and judged by: the store's clock
    /// when it has one every process reads (PostgreSQL: the database's),
    /// else this process's.
    pub(crate) async fn lease_clock(&self) -> Result<Timestamp, AgoraError> {
        Ok(self.lease_time().await?.at)
    }

    /// [`Agora::lease_clock`], remembering whose clock it read and when.
    async fn lease_time(&self) -> Result<LeaseTime, AgoraError> {
        let read = tokio::time::Instant::now();
        Ok(match self.store.clock().await? {
            Some(at) => LeaseTime {
                at,
                store: true,
                read,
                wall: self.clock.now(),
            },
            None => LeaseTime {
                at: self.clock.now(),
                store: false,
                read,
                wall: self.clock.now(),
            },
        })
    }

    /// A reading of the lease clock carried forward from `then` without
    /// reading it again ([`Agora::lease_clock_since`]).
    fn lease_time_since(&self, then: &LeaseTime) -> LeaseTime {
        LeaseTime {
            at: self.lease_clock_since(then),
            store: then.store,
            read: tokio::time::Instant::now(),
            wall: self.clock.now(),
        }
    }

    /// Whether a lease taken at `then` is still fresh ([`lease_is_fresh`]):
    /// by the lease clock and by this process's clock.
    fn lease_time_is_fresh(&self, then: &LeaseTime) -> bool {
        lease_is_fresh(
            self.lease_clock_since(then).duration_since(then.at),
            self.clock.now().duration_since(then.wall),
            self.config.lease,
        )
    }

    /// Now on the clock leases are judged by, after `then` was read: on a
    /// store with a clock of its own, its time then plus what has elapsed
    /// since (no round trip to read it again); else this process's clock.
    fn lease_clock_since(&self, then: &LeaseTime) -> Timestamp {
        if then.store {
            then.at + then.read.elapsed()
        } else {
            self.clock.now()
        }
    }

    /// Now on the clock the outbox's times are kept and judged by
    /// ([`Agora::lease_clock`]), for what an attempt records (its retry
    /// time, when it was parked): an entry's times and the judgements made
    /// on them come from one clock. When the store cannot be read, this
    /// process's clock: what is then recorded fails too, and is retried or
    /// kept.
    pub(crate) async fn outbox_now(&self) -> Timestamp {
        self.lease_clock()
            .await
            .unwrap_or_else(|_| self.clock.now())
    }
}

impl<A, S> Agora<A, S>
where
    A: Repairs + PartOrders + Claims + Invoices,
    S: RepairFiles + Outbox,
{
    /// Entries whose sender stopped mid-send (its lease expired: a crash)
    /// are parked in doubt (state-changing) or requeued (idempotent), due
    /// once the stopped attempt can no longer land (its send start +
    /// `request_timeout` + `grace`), so that it cannot overtake the next. A
    /// send still under way in another process is left alone: a lease is
    /// taken back only once it has expired by more than `grace` on the
    /// clock leases are judged by, so that a process whose clock runs ahead
    /// by less than that never takes back a live send. Answers a process
    /// received but could not record (kept in `answer_spool`) are recorded
    /// first, so that what they settle is never parked in doubt. Returns
    /// the entries parked.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// let parked = app.recover().await?;
    /// println!("{} send(s) cut by a crash are in doubt", parked.len());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn recover(&self) -> Result<Vec<u64>, AgoraError> {
        self.record_kept_answers().await?;
        let now = self.lease_clock().await?;
        let judged = now
            .checked_sub(jiff::SignedDuration::try_from(self.config.grace).unwrap_or_default())
            .unwrap_or(now);
        self.store
            .recover_expired(judged, self.config.can_no_longer_land_after())
            .await
    }

    /// Delivers every entry due now, oldest first (so that several
    /// processes share the work, each claims a few at a time: see
    /// [`Agora::flush_outbox_while`]).
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// let report = app.flush_outbox().await?;
    /// println!("{} delivered, {} in doubt", report.delivered, report.in_doubt);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn flush_outbox(&self) -> Result<FlushReport, AgoraError> {
        self.flush_outbox_while(&|| true).await
    }

    /// [`Agora::flush_outbox`], going on only while `go` says so: a worker
    /// that stops claims no new entry, finishes the send under way, and
    /// puts back, unsent, the entries it had claimed with it.
    ///
    /// Each claim takes up to [`CLAIM_BATCH`] entries in one transaction
    /// (several only when all are idempotent:
    /// [`agora_ports::claimed_together`]); their leases are durable before
    /// the first is sent. They are sent one at a time; an entry's lease is
    /// confirmed (and extended) before its send unless it is idempotent
    /// and its lease fresh (a third of it passed neither by the lease clock
    /// nor by this process's clock). Outcomes are recorded
    /// while the next entries are claimed and sent, on another connection
    /// of the store: those that ended while a recording was under way are
    /// recorded together by the next one, in one transaction
    /// ([`Outbox::finish_all`]). A claim that finds nothing ends the flush
    /// only once none of its outcomes is left to record (they may hold
    /// back later entries of their files).
    pub async fn flush_outbox_while(
        &self,
        go: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<FlushReport, AgoraError> {
        let mut report = FlushReport::default();
        let mut tally = Tally {
            report: &mut report,
            error: None,
        };
        // Outcomes not recorded yet, and the recording under way: polled
        // beside every claim and send until the flush ends.
        let mut ended: Vec<Attempted> = Vec::new();
        let mut recording: Option<Recording<'_>> = None;
        let mut last_time: Option<LeaseTime> = None;
        while tally.error.is_none() && go() {
            // The lease clock is read again only once the last reading has
            // aged (the steady clock carries it forward meanwhile).
            let time = match last_time.take() {
                Some(then) if self.lease_time_is_fresh(&then) => self.lease_time_since(&then),
                _ => match beside(self.lease_time(), &mut recording, &mut tally).await {
                    Ok(time) => time,
                    Err(e) => {
                        tally.error = Some(e);
                        break;
                    }
                },
            };
            let lease = self.new_lease(time.at);
            let claim = self.store.claim_due(time.at, &lease, CLAIM_BATCH);
            let batch = match beside(claim, &mut recording, &mut tally).await {
                Ok(batch) if batch.is_empty() => {
                    if recording.is_none() && ended.is_empty() {
                        break;
                    }
                    // Outcomes of this flush not recorded yet hold back the
                    // later entries of their files: recorded first, then
                    // claimed again.
                    if let Some(recording) = recording.take() {
                        tally.add(recording.await);
                    }
                    if !ended.is_empty() {
                        tally.add(self.record_all(std::mem::take(&mut ended)).await);
                    }
                    last_time = Some(time);
                    continue;
                }
                Ok(batch) => batch,
                Err(e) => {
                    tally.error = Some(e);
                    break;
                }
            };
            let owner = lease.owner.as_str();
            let mut entries = batch.into_iter();
            let mut first = true;
            while let Some(entry) = entries.next() {
                if !std::mem::take(&mut first) && !go() {
                    // Stopped: this entry and the rest are put back.
                    let rest: Vec<OutboxEntry> =
                        std::iter::once(entry).chain(entries.by_ref()).collect();
                    let back = self.put_back(rest, owner, &time);
                    if let Err(e) = beside(back, &mut recording, &mut tally).await {
                        tally.error = tally.error.take().or(Some(e));
                    }
                    break;
                }
                let tried = self.try_claimed(entry, &lease, &time);
                match beside(tried, &mut recording, &mut tally).await {
                    Ok(Tried::Done(delivery)) => tally.report.count(&delivery),
                    Ok(Tried::Outcome(attempted)) => ended.push(*attempted),
                    Err(e) => tally.error = tally.error.take().or(Some(e)),
                }
                if recording.is_none() && !ended.is_empty() {
                    recording = Some(Box::pin(self.record_all(std::mem::take(&mut ended))));
                }
                if tally.error.is_some() {
                    // What is still claimed and unsent keeps its lease,
                    // and recovery puts it back once it expires (all
                    // idempotent).
                    break;
                }
            }
            last_time = Some(time);
        }
        if let Some(recording) = recording {
            tally.add(recording.await);
        }
        if !ended.is_empty() {
            tally.add(self.record_all(ended).await);
        }
        match tally.error {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Puts back entries claimed under `owner` and not sent (their worker
    /// stopped): pending again, due now. The claim counted an attempt,
    /// which stays counted.
    async fn put_back(
        &self,
        entries: Vec<OutboxEntry>,
        owner: &str,
        claimed: &LeaseTime,
    ) -> Result<(), AgoraError> {
        let now = self.lease_clock_since(claimed);
        let back: Vec<Outcome> = entries
            .into_iter()
            .map(|entry| Outcome {
                id: entry.id,
                owner: owner.to_owned(),
                attempt_no: entry.attempts,
                attempt: Attempt::Retry {
                    at: now,
                    error: NOT_SENT_STOPPED.to_owned(),
                },
                now,
            })
            .collect();
        self.store.finish_all(&back).await?;
        Ok(())
    }

    /// Delivers one entry now, if it can be claimed: one another process is
    /// sending, or that waits behind an earlier entry of its file, is left
    /// queued.
    pub(crate) async fn deliver_id(&self, id: u64) -> Result<Delivery, AgoraError> {
        let time = self.lease_time().await?;
        let lease = self.new_lease(time.at);
        match self.store.claim(id, time.at, &lease).await? {
            Some(entry) => self.deliver_claimed(entry, &lease, &time).await,
            None => self.settled_elsewhere(id).await,
        }
    }

    /// What became of entry `id`, which another process claimed first (a
    /// worker polling the outbox may take an entry between its writing and
    /// its writer's own attempt): that process's outcome once it is
    /// recorded (waiting for it while it sends, up to the request
    /// timeout), or why the entry is still queued.
    async fn settled_elsewhere(&self, id: u64) -> Result<Delivery, AgoraError> {
        let started = tokio::time::Instant::now();
        loop {
            let entry = self
                .store
                .entry(id)
                .await?
                .ok_or_else(|| AgoraError::Missing(format!("outbox entry {id}")))?;
            let error = match (&entry.state, &entry.lease) {
                (OutboxState::Delivered, _) => {
                    return Ok(Delivery::Delivered {
                        entry: id,
                        answer: entry.answer.unwrap_or(OperationAnswer::Done),
                        warning: None,
                    });
                }
                (OutboxState::Failed, _) => {
                    return Ok(Delivery::Failed {
                        entry: id,
                        error: entry.last_error.unwrap_or_default(),
                    });
                }
                (OutboxState::InDoubt, _) => {
                    return Ok(Delivery::InDoubt {
                        entry: id,
                        error: entry.last_error.unwrap_or_default(),
                    });
                }
                (OutboxState::Sending, Some(lease)) => {
                    if started.elapsed() < self.config.request_timeout {
                        tokio::time::sleep(SETTLE_POLL).await;
                        continue;
                    }
                    format!("being sent by {}", lease.owner)
                }
                (OutboxState::Pending, _) if entry.next_attempt_at > self.clock.now() => {
                    format!(
                        "queued; next attempt at {} (an earlier attempt may still land until then, or a retry's backoff)",
                        entry.next_attempt_at
                    )
                }
                (OutboxState::Pending, _) => {
                    "waits for an earlier operation of its repair file".to_owned()
                }
                (OutboxState::Sending, None) => "being sent".to_owned(),
            };
            return Ok(Delivery::Queued { entry: id, error });
        }
    }

    /// One attempt at an entry this process has claimed under `lease`: the
    /// lease is checked right before the send unless it is fresh and the
    /// entry idempotent (an attempt whose lease was taken back, or could
    /// not be confirmed, sends nothing) and renewed while the call lasts;
    /// the outcome (with the answer applied to the repair files) is
    /// recorded in one transaction, an answer retried and else kept for
    /// the next process ([`Agora::record_answer`]).
    async fn deliver_claimed(
        &self,
        entry: OutboxEntry,
        lease: &Lease,
        claimed: &LeaseTime,
    ) -> Result<Delivery, AgoraError> {
        match self.try_claimed(entry, lease, claimed).await? {
            Tried::Done(delivery) => Ok(delivery),
            Tried::Outcome(attempted) => self.record(*attempted).await,
        }
    }

    /// The send of an entry claimed under `lease` ([`Agora::deliver_claimed`]
    /// without the recording of its outcome). The lease is confirmed right
    /// before the send (an idempotent entry whose lease is still fresh goes
    /// without: [`lease_is_fresh`]), and extended from then on (an entry
    /// claimed with others may wait for their sends first).
    async fn try_claimed(
        &self,
        entry: OutboxEntry,
        lease: &Lease,
        claimed: &LeaseTime,
    ) -> Result<Tried, AgoraError> {
        let id = entry.id;
        let owner = lease.owner.as_str();
        let now = self.lease_clock_since(claimed);
        let fresh = self.lease_time_is_fresh(claimed);
        // An idempotent entry whose lease is fresh goes without the
        // confirmation: nobody can have taken it back, and if one day a
        // pause the clocks did not see let it go twice, the second send
        // repeats the first. Any other operation is confirmed first.
        let confirm = !(fresh && entry.operation.is_idempotent());
        let confirmed = self.lease_of(owner.to_owned(), now);
        let renewed = if confirm {
            self.store.renew(id, &confirmed).await
        } else {
            Ok(true)
        };
        match renewed {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(entry = id, "lease taken back before the send: not sent");
                return Ok(Tried::Done(Delivery::Queued {
                    entry: id,
                    error: LEASE_LOST.to_owned(),
                }));
            }
            Err(e) => {
                return self
                    .not_sent(&entry, owner, &e, claimed)
                    .await
                    .map(Tried::Done);
            }
        }
        // The send is bounded: past `request_timeout` it is given up, so
        // that an operator knows when it can no longer take effect.
        let limit = self.config.request_timeout;
        let send = tokio::time::timeout(limit, self.send(&entry.operation));
        let result = {
            tokio::pin!(send);
            tokio::select! {
                out = &mut send => out.unwrap_or(Err(AgoraError::Timeout(limit))),
                () = self.keep_lease(id, owner) => {
                    // Another process took the entry back. An idempotent one
                    // may be sent by it now: this attempt stops, so that it
                    // sends nothing more. Another operation is parked in doubt
                    // and sent by nobody, and the client resends it only where
                    // it never reached AgoraPlus: its answer, if one comes, is
                    // still the entry's.
                    if entry.operation.is_idempotent() {
                        return Ok(Tried::Done(Delivery::Queued {
                            entry: id,
                            error: LEASE_LOST.to_owned(),
                        }));
                    }
                    send.await.unwrap_or(Err(AgoraError::Timeout(limit)))
                }
            }
        };
        let now = self.lease_clock_since(claimed);
        let (attempt, delivery) = match result {
            Ok((answer, warning)) => (
                Attempt::Delivered(answer.clone()),
                Delivery::Delivered {
                    entry: id,
                    answer,
                    warning,
                },
            ),
            Err(error) => {
                let message = error.to_string();
                if is_in_doubt(&entry.operation, &error) {
                    tracing::warn!(entry = id, operation = entry.operation.name(), "in doubt");
                    (
                        Attempt::InDoubt(message.clone()),
                        Delivery::InDoubt {
                            entry: id,
                            error: message,
                        },
                    )
                } else if error.is_retryable() && entry.attempts < self.config.max_attempts {
                    let delay = error.retry_after().map_or_else(
                        || self.backoff(entry.attempts),
                        |d| d.min(self.config.retry_max),
                    );
                    // An attempt that may still land (timed out, its
                    // answer lost) is not overtaken: the next one, which
                    // may carry a newer file, waits until it cannot.
                    let landed_by = (error.reach() == Reach::Unknown)
                        .then(|| resend_not_before(&entry, self.config.can_no_longer_land_after()))
                        .flatten();
                    (
                        Attempt::Retry {
                            at: (now + delay).max(landed_by.unwrap_or(now)),
                            error: message.clone(),
                        },
                        Delivery::Queued {
                            entry: id,
                            error: message,
                        },
                    )
                } else {
                    let attempt = if is_refusal(&error) {
                        Attempt::Refused(message.clone())
                    } else {
                        Attempt::Failed(message.clone())
                    };
                    (
                        attempt,
                        Delivery::Failed {
                            entry: id,
                            error: message,
                        },
                    )
                }
            }
        };
        Ok(Tried::Outcome(Box::new(Attempted {
            entry,
            owner: owner.to_owned(),
            attempt,
            delivery,
            now,
        })))
    }

    /// Records the outcome of an attempt: an answer retried and else kept
    /// for the next process ([`Agora::record_answer`]).
    async fn record(&self, attempted: Attempted) -> Result<Delivery, AgoraError> {
        let Attempted {
            entry,
            owner,
            attempt,
            now,
            ..
        } = &attempted;
        let id = entry.id;
        let finished = match attempt {
            Attempt::Delivered(answer) => self.record_answer(entry, owner, answer, *now).await?,
            _ => self
                .store
                .finish(id, owner, entry.attempts, attempt, *now)
                .await
                .inspect_err(|e| {
                    // The outcome's kind only: an attempt's text may hold
                    // data as AgoraPlus sent it (not redacted).
                    let outcome = match attempt {
                        Attempt::Delivered(_) => "delivered",
                        Attempt::Retry { .. } => "retry",
                        Attempt::InDoubt(_) => "in doubt",
                        Attempt::Failed(_) => "failed",
                        Attempt::Refused(_) => "refused",
                    };
                    tracing::error!(entry = id, error = %e, outcome, "the outcome could not be recorded");
                })?,
        };
        self.recorded(attempted, finished).await
    }

    /// Records the outcomes of attempts, in one transaction
    /// ([`Outbox::finish_all`]); if the store fails it, each is recorded
    /// on its own as [`Agora::record`] does (an answer retried, else
    /// kept). What became of each entry, in order.
    async fn record_all(&self, attempted: Vec<Attempted>) -> Vec<Result<Delivery, AgoraError>> {
        let mut results = Vec::with_capacity(attempted.len());
        if attempted.len() > 1 {
            let outcomes: Vec<Outcome> = attempted
                .iter()
                .map(|a| Outcome {
                    id: a.entry.id,
                    owner: a.owner.clone(),
                    attempt_no: a.entry.attempts,
                    attempt: a.attempt.clone(),
                    now: a.now,
                })
                .collect();
            match self.store.finish_all(&outcomes).await {
                Ok(verdicts) => {
                    for (a, finished) in attempted.into_iter().zip(verdicts) {
                        results.push(self.recorded(a, finished).await);
                    }
                    return results;
                }
                Err(e) => {
                    tracing::warn!(error = %e, entries = outcomes.len(), "outcomes not recorded together; recording each");
                }
            }
        }
        for a in attempted {
            results.push(self.record(a).await);
        }
        results
    }

    /// What became of an entry once the store recorded its attempt's
    /// outcome as `finished` says: a refused update's change is set aside,
    /// a duplicate answer is reported.
    async fn recorded(
        &self,
        attempted: Attempted,
        finished: Finish,
    ) -> Result<Delivery, AgoraError> {
        let Attempted {
            entry,
            attempt,
            delivery,
            ..
        } = attempted;
        let id = entry.id;
        if let (Finish::Recorded, Attempt::Refused(reason)) = (&finished, &attempt) {
            self.set_aside_refused(&entry, reason).await?;
        }
        match finished {
            Finish::Recorded | Finish::Settled | Finish::Known => Ok(delivery),
            Finish::Stale => {
                tracing::warn!(
                    entry = id,
                    "the entry was settled elsewhere meanwhile; outcome not recorded"
                );
                Ok(delivery)
            }
            Finish::Duplicate => {
                let note = format!(
                    "DUPLICATE: entry {id} was already delivered with another answer; this attempt's answer is kept as a duplicate: AgoraPlus may hold {} twice, check it there",
                    entry.operation.name()
                );
                tracing::error!(entry = id, operation = entry.operation.name(), "{note}");
                Ok(match delivery {
                    Delivery::Delivered { entry, answer, .. } => Delivery::Delivered {
                        entry,
                        answer,
                        warning: Some(note),
                    },
                    other => other,
                })
            }
        }
    }

    /// After AgoraPlus refused a whole-file update (it said it did not
    /// apply it), the local file returns to what AgoraPlus last accepted
    /// (the last delivered update or creation of the file): the refused
    /// statuses and fields are taken out, so that later whole-file updates
    /// do not send them again. The refused change stays aside as the
    /// entry itself, which names it in the file's attention and can be
    /// sent again after a fix (`outbox resolve ID --as resend`).
    async fn set_aside_refused(&self, entry: &OutboxEntry, reason: &str) -> Result<(), AgoraError> {
        let (Operation::UpdateRepair(refused), Some(file)) =
            (&entry.operation, entry.intervention_id)
        else {
            return Ok(());
        };
        let accepted = self
            .store
            .delivered_before(file, entry.id)
            .await?
            .into_iter()
            .find_map(|e| match e.operation {
                Operation::UpdateRepair(f) | Operation::CreateRepair(f) => Some(f),
                _ => None,
            });
        let repair = self.repair(file).await?;
        let id = entry.id;
        self.rewrite(repair, |repair| {
            let aside = repair.file.set_aside_refused(refused, accepted.as_ref());
            let statuses: Vec<String> = aside
                .iter()
                .filter_map(|s| s.code.as_ref().map(ToString::to_string))
                .collect();
            repair.attention = Some(format!(
                "update refused by AgoraPlus ({reason}); its change{} set aside as outbox entry {id}: fix it, then `agora outbox resolve {id} --as resend`",
                if statuses.is_empty() {
                    String::new()
                } else {
                    format!(" (status {})", statuses.join(", "))
                }
            ));
        })
        .await?;
        Ok(())
    }

    /// An attempt whose lease could not be confirmed before its send (the
    /// store failed): it sends nothing, and is put back to be tried again
    /// when the store allows it; else its lease runs out and recovery
    /// takes it back.
    async fn not_sent(
        &self,
        entry: &OutboxEntry,
        owner: &str,
        error: &AgoraError,
        claimed: &LeaseTime,
    ) -> Result<Delivery, AgoraError> {
        let id = entry.id;
        tracing::warn!(entry = id, error = %error, "lease not confirmed before the send: not sent");
        let message = format!("not sent: its lease could not be confirmed ({error})");
        let now = self.lease_clock_since(claimed);
        let retry = Attempt::Retry {
            at: now + self.backoff(entry.attempts),
            error: message.clone(),
        };
        self.store
            .finish(id, owner, entry.attempts, &retry, now)
            .await?;
        Ok(Delivery::Queued {
            entry: id,
            error: message,
        })
    }

    /// Renews `owner`'s lease of entry `id` every third of its length, for
    /// as long as it is polled (the send is raced against it); returns
    /// once the lease is lost (another process took the entry back). A
    /// renewal the store failed is tried again at the next turn.
    async fn keep_lease(&self, id: u64, owner: &str) {
        let every = self.config.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let renewed = match self.lease_clock().await {
                Ok(now) => {
                    self.store
                        .renew(id, &self.lease_of(owner.to_owned(), now))
                        .await
                }
                Err(e) => Err(e),
            };
            match renewed {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(entry = id, "lease lost while sending");
                    return;
                }
                Err(e) => tracing::warn!(entry = id, error = %e, "lease not renewed"),
            }
        }
    }

    async fn send(
        &self,
        operation: &Operation,
    ) -> Result<(OperationAnswer, Option<String>), AgoraError> {
        let how = |language, transfer_if_valid| ClaimSubmission {
            language,
            transfer_if_valid,
        };
        Ok(match operation {
            Operation::UpdateRepair(file) => {
                let r = self.api.update_repair(file).await?;
                (OperationAnswer::Done, r.warning)
            }
            Operation::CreateRepair(file) => {
                let r = self.api.create_repair(file).await?;
                (OperationAnswer::Created(r.data), r.warning)
            }
            Operation::PlaceOrder(id) => {
                let r = self.api.place_order(*id).await?;
                (OperationAnswer::Ordered(r.data), r.warning)
            }
            Operation::CreateClaim {
                claim,
                language,
                transfer_if_valid,
            } => {
                let r = self
                    .api
                    .create_claim(claim, how(*language, *transfer_if_valid))
                    .await?;
                (OperationAnswer::Claim(r.data), r.warning)
            }
            Operation::UpdateClaim {
                claim,
                language,
                transfer_if_valid,
            } => {
                let r = self
                    .api
                    .update_claim(claim, how(*language, *transfer_if_valid))
                    .await?;
                (OperationAnswer::Claim(r.data), r.warning)
            }
            Operation::SendInvoiceReference { reference, .. } => {
                let r = self.api.send_invoice_reference(reference).await?;
                (OperationAnswer::Done, r.warning)
            }
            other => {
                return Err(AgoraError::Invalid(format!(
                    "{} is not an operation this version delivers",
                    other.name()
                )));
            }
        })
    }

    /// The entries in a state.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// use agora_app::ports::OutboxState;
    /// for entry in app.outbox(OutboxState::InDoubt).await? {
    ///     println!("{} {}", entry.id, entry.operation.name());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn outbox(&self, state: OutboxState) -> Result<Vec<OutboxEntry>, AgoraError> {
        self.store.entries(state).await
    }
}

impl<A, S> Agora<A, S>
where
    A: Mandates + Repairs + PartOrders + Claims + Invoices,
    S: RepairFiles + Outbox,
{
    /// Settles an entry in doubt (or failed) as a person decided. Resolving
    /// a creation as applied records what it created (see
    /// [`Resolution::Applied`]), applied to the repair file as a delivery
    /// would be.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// use agora_app::Resolution;
    /// use agora_app::domain::ClaimId;
    /// // Checked in AgoraPlus: the claim was created, as claim 5000001.
    /// let resolution = Resolution::Applied { intervention_id: None, claim_id: Some(ClaimId(5_000_001)) };
    /// app.resolve(42, resolution).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// A resend or an abandon waits until the entry's last attempt can no
    /// longer take effect in AgoraPlus (its send start plus
    /// `request_timeout` plus `grace`): before, it is refused with
    /// [`AgoraError::TooSoon`], naming when. A creation resolved as applied without what it created
    /// (by an older agora) is resolved again as applied, with it.
    pub async fn resolve(
        &self,
        id: u64,
        resolution: Resolution,
    ) -> Result<OutboxState, AgoraError> {
        self.resolve_with(id, resolution, false).await
    }

    /// [`Agora::resolve`], forced when `force`: a resend or an abandon at
    /// once, even while the last attempt may still take effect. What it
    /// risks: AgoraPlus applying the operation twice (a resend), or after it
    /// was dropped (an abandon; its exclusive key stays held until the
    /// attempt can no longer take effect). Any late answer is still
    /// recorded, a second one as a duplicate.
    pub async fn resolve_with(
        &self,
        id: u64,
        resolution: Resolution,
        force: bool,
    ) -> Result<OutboxState, AgoraError> {
        let entry = self
            .store
            .entry(id)
            .await?
            .ok_or_else(|| AgoraError::Missing(format!("outbox entry {id}")))?;
        let guard = self.guard(force);
        let kind = match resolution {
            Resolution::Applied { .. } => Settlement::Applied(OperationAnswer::Done),
            Resolution::Resend => Settlement::Resend,
            Resolution::Abandon => Settlement::Abandon,
        };
        // Checked before AgoraPlus is asked what was applied; the store
        // checks again as it settles. Judged by the clock the entry's
        // times were taken by (on PostgreSQL the database's): an operator
        // whose clock runs ahead settles nothing early.
        let now = self.lease_clock().await?;
        check_settlement(&entry, &kind, guard, now)?;
        let settlement = match resolution {
            Resolution::Applied {
                intervention_id,
                claim_id,
            } => Settlement::Applied(
                self.what_was_applied(&entry, intervention_id, claim_id)
                    .await?,
            ),
            Resolution::Resend => Settlement::Resend,
            Resolution::Abandon => Settlement::Abandon,
        };
        let now = self.lease_clock().await?;
        self.store.settle(id, &settlement, guard, now).await
    }

    /// The answer an applied entry would have had, from what the person
    /// gave or what AgoraPlus shows.
    async fn what_was_applied(
        &self,
        entry: &OutboxEntry,
        intervention_id: Option<InterventionId>,
        claim_id: Option<ClaimId>,
    ) -> Result<OperationAnswer, AgoraError> {
        let id = entry.id;
        match &entry.operation {
            Operation::UpdateRepair(_) | Operation::SendInvoiceReference { .. } => {
                Ok(OperationAnswer::Done)
            }
            Operation::CreateRepair(file) => {
                if let Some(created) = intervention_id {
                    return Ok(OperationAnswer::Created(created));
                }
                let found = match file.mandate_id {
                    Some(mandate) => self
                        .api
                        .accepted_mandates()
                        .await?
                        .data
                        .into_iter()
                        .find(|m| m.mandate.as_ref().and_then(|m| m.mandate_id) == Some(mandate))
                        .and_then(|m| m.intervention_id),
                    None => None,
                };
                found.map(OperationAnswer::Created).ok_or_else(|| {
                    AgoraError::Invalid(format!(
                        "entry {id} created a repair file: give its id (--intervention-id), as AgoraPlus shows it"
                    ))
                })
            }
            Operation::PlaceOrder(file) => {
                let known = self
                    .store
                    .repair(*file)
                    .await?
                    .map(|r| r.orders)
                    .unwrap_or_default();
                let lines: Vec<_> = self
                    .api
                    .order_tracking(*file)
                    .await?
                    .data
                    .into_iter()
                    .filter(|l| l.order_number.is_some() && !known.iter().any(|k| k.same_line(l)))
                    .collect();
                if lines.is_empty() {
                    return Err(AgoraError::Invalid(format!(
                        "entry {id}: AgoraPlus shows no order of repair file {file} that is not already recorded; if it was not placed, resolve it --as resend"
                    )));
                }
                Ok(OperationAnswer::Ordered(lines))
            }
            Operation::CreateClaim { claim, .. } | Operation::UpdateClaim { claim, .. } => {
                let claim_id = claim_id.or(claim.claim_id).ok_or_else(|| {
                    AgoraError::Invalid(format!(
                        "entry {id} created a claim: give its id (--claim-id), as AgoraPlus shows it"
                    ))
                })?;
                let status = self.api.claim_status(claim_id).await?.data.last_status;
                let is_valid = match status {
                    Some(ClaimStatus::NotValid) => Some(false),
                    Some(_) => Some(true),
                    None => None,
                };
                Ok(OperationAnswer::Claim(WarrantyClaimResult {
                    claim_id: Some(claim_id),
                    is_valid,
                    ..WarrantyClaimResult::default()
                }))
            }
            other => Err(AgoraError::Invalid(format!(
                "{} is not an operation this version resolves",
                other.name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use agora_domain::{CompleteRepairState, InterventionId};
    use agora_ports::{AgoraError, Operation, ServiceMessage};
    use jiff::SignedDuration;

    use super::lease_is_fresh;
    use crate::hub::{Agora, AppConfig};

    fn create() -> Operation {
        Operation::PlaceOrder(InterventionId(1))
    }

    fn update() -> Operation {
        Operation::UpdateRepair(CompleteRepairState::default())
    }

    #[test]
    fn a_failure_is_in_doubt_when_a_creation_may_have_been_applied() {
        let timeout = AgoraError::Timeout(Duration::from_secs(30));
        let refused = AgoraError::Unavailable {
            message: ServiceMessage::default(),
            retry_after: None,
        };
        let connect = AgoraError::Connect {
            url: "http://127.0.0.1:1".into(),
            reason: "refused".into(),
        };
        let doubt = AgoraError::InDoubt {
            operation: "UpdateRepair",
            cause: Box::new(AgoraError::Timeout(Duration::from_secs(1))),
        };
        // Unknown reach: in doubt for a creation, retried for an update.
        assert!(super::is_in_doubt(&create(), &timeout));
        assert!(!super::is_in_doubt(&update(), &timeout));
        // Not processed, or never sent: never in doubt.
        assert!(!super::is_in_doubt(&create(), &refused));
        assert!(!super::is_in_doubt(&create(), &connect));
        // Whatever the operation, a client that says so is believed.
        assert!(super::is_in_doubt(&update(), &doubt));
    }

    /// An app on a fresh SQLite store, with a request timeout of `timeout`.
    fn app_on_a_store(
        dir: &tempfile::TempDir,
        timeout: Duration,
    ) -> Agora<agora_mock::SimClient, agora_store_sqlite::SqliteStore> {
        let sim = agora_mock::Simulator::new(agora_mock::SimConfig {
            tenants: vec!["k".into()],
            ..agora_mock::SimConfig::default()
        });
        let store = agora_store_sqlite::SqliteStore::open(dir.path().join("agora.db")).unwrap();
        Agora::new(
            sim.client("k"),
            store,
            std::sync::Arc::new(agora_ports::SystemClock),
            AppConfig {
                request_timeout: timeout,
                ..AppConfig::default()
            },
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_entry_another_process_took_first_gives_that_process_s_outcome() {
        use agora_ports::{Attempt, OperationAnswer, Outbox};
        let dir = tempfile::tempdir().unwrap();
        let app = app_on_a_store(&dir, Duration::from_secs(30));
        let store = &app.store;
        let now = app.clock.now();
        for (attempt, expected) in [
            (Attempt::Delivered(OperationAnswer::Done), "delivered"),
            (Attempt::Refused("no such file".into()), "failed"),
            (Attempt::InDoubt("cut".into()), "in doubt"),
        ] {
            // A worker claims the entry before its writer tries it, and is
            // still sending when the writer looks.
            let id = store.enqueue(None, &update(), now).await.unwrap();
            let worker = app.lease_of("worker#1".into(), now);
            let taken = store.claim(id, now, &worker).await.unwrap().unwrap();
            let writer = {
                let app = app.clone();
                tokio::spawn(async move { app.deliver_id(id).await.unwrap() })
            };
            store
                .finish(id, "worker#1", taken.attempts, &attempt, now)
                .await
                .unwrap();
            let got = writer.await.unwrap();
            let matches = match (&got, expected) {
                (super::Delivery::Delivered { answer, .. }, "delivered") => {
                    *answer == OperationAnswer::Done
                }
                (super::Delivery::Failed { error, .. }, "failed") => error.contains("no such file"),
                (super::Delivery::InDoubt { error, .. }, "in doubt") => error.contains("cut"),
                _ => false,
            };
            assert!(matches, "{expected}: {got:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_entry_another_process_sends_past_the_request_timeout_is_left_queued_naming_it() {
        use agora_ports::Outbox;
        let dir = tempfile::tempdir().unwrap();
        let app = app_on_a_store(&dir, Duration::from_millis(200));
        let now = app.clock.now();
        let id = app.store.enqueue(None, &update(), now).await.unwrap();
        let worker = app.lease_of("worker#1".into(), now);
        app.store.claim(id, now, &worker).await.unwrap().unwrap();
        match app.deliver_id(id).await.unwrap() {
            super::Delivery::Queued { error, .. } => {
                assert!(error.contains("being sent by worker#1"), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_claim_is_held_under_a_name_of_its_own() {
        let app = Agora::new(
            (),
            (),
            std::sync::Arc::new(agora_ports::SystemClock),
            AppConfig {
                worker: "host:7:00ff".into(),
                ..AppConfig::default()
            },
        );
        let clone = app.clone();
        let owners: Vec<String> = [&app, &clone, &app]
            .iter()
            .map(|a| a.new_lease(jiff::Timestamp::UNIX_EPOCH).owner)
            .collect();
        for owner in &owners {
            let n = owner.strip_prefix("host:7:00ff#").unwrap_or_default();
            assert!(n.parse::<u64>().is_ok(), "{owner}");
        }
        assert_ne!(owners[0], owners[1]);
        assert_ne!(owners[0], owners[2]);
        assert_ne!(owners[1], owners[2]);
        // A renewal keeps the claim's name.
        let now = jiff::Timestamp::UNIX_EPOCH;
        assert_eq!(app.lease_of(owners[0].clone(), now).owner, owners[0]);
    }

    #[test]
    fn a_lease_is_fresh_while_every_clock_says_a_third_of_it_has_not_passed() {
        let lease = Duration::from_secs(60);
        let s = SignedDuration::from_secs;
        assert!(lease_is_fresh(s(0), s(0), lease));
        assert!(lease_is_fresh(s(19), s(19), lease));
        // A third passed on the lease clock, or on the wall clock (the
        // machine slept, which a steady clock does not count).
        assert!(!lease_is_fresh(s(20), s(1), lease));
        assert!(!lease_is_fresh(s(1), s(20), lease));
        assert!(!lease_is_fresh(s(1), s(3600), lease));
        // A clock that went back says nothing: not fresh.
        assert!(!lease_is_fresh(s(-1), s(1), lease));
        assert!(!lease_is_fresh(s(1), s(-1), lease));
    }

    #[test]
    fn the_backoff_doubles_from_its_base_up_to_its_maximum() {
        let app = Agora::new(
            (),
            (),
            std::sync::Arc::new(agora_ports::SystemClock),
            AppConfig {
                retry_base: Duration::from_secs(2),
                retry_max: Duration::from_secs(20),
                ..AppConfig::default()
            },
        );
        let delays: Vec<u64> = (0..7).map(|n| app.backoff(n).as_secs()).collect();
        assert_eq!(delays, [2, 2, 4, 8, 16, 20, 20]);
        assert_eq!(app.backoff(u32::MAX), Duration::from_secs(20));
    }
}
