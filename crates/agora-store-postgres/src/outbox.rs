//! The outbox table and the port's contract on PostgreSQL. Claims lock the
//! rows they take with `FOR UPDATE SKIP LOCKED`, so concurrent workers
//! never wait on, nor share, an entry; every other change locks the entry's
//! row (`FOR UPDATE`) before it reads its state.

use agora_domain::InterventionId;
use agora_ports::{
    AgoraError, Attempt, Finish, Guard, Lease, NewEvent, Operation, OperationAnswer, Outbox,
    OutboxEntry, OutboxState, Outcome, ParkReason, RepairKey, Settlement, answer_touches,
    apply_answer, check_settlement, collapses_into, duplicate_note, event_of_doubt,
    events_of_delivery, judge_finish, lands_until, parking,
};
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use jiff::Timestamp;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::events::record_in;
use crate::{PostgresStore, from_ms, ms, one_repair, store_error, upsert_repair_in};

/// The states in which an entry holds its exclusive key: the predicate of
/// the unique index `outbox_exclusive_open`, or abandoned while an attempt
/// may still land (until `$3`, now; the advisory lock guards this part).
const OPEN: &str = "(state IN ('pending', 'sending', 'in_doubt') OR needs_result
     OR held_until_ms > $3)";

/// Refuses `operation` when another open entry holds its exclusive key.
/// Creations of one key are serialized by an advisory lock held to the end
/// of the transaction, so the second sees the first's entry and is refused
/// naming it; the unique index stands behind this.
async fn check_exclusive(
    tx: &Transaction<'_>,
    key: Option<&str>,
    operation: &Operation,
    except: Option<i64>,
    now: Timestamp,
) -> Result<(), AgoraError> {
    let Some(key) = key else {
        return Ok(());
    };
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&key],
    )
    .await
    .map_err(store_error)?;
    let open = tx
        .query_opt(
            &format!(
                "SELECT id, state FROM outbox WHERE exclusive_key = $1 AND {OPEN}
                 AND id != $2 ORDER BY id LIMIT 1"
            ),
            &[&key, &except.unwrap_or(-1), &ms(now)],
        )
        .await
        .map_err(store_error)?;
    match open {
        None => Ok(()),
        Some(row) => {
            let id: i64 = row.get(0);
            let state: &str = row.get(1);
            Err(AgoraError::Invalid(format!(
                "{} refused: outbox entry {id} ({}) is already open for {key}; settle it first (`agora outbox list`)",
                operation.name(),
                OutboxState::from_stored_name(state).map_or("unknown", OutboxState::as_str),
            )))
        }
    }
}

/// Adds an entry inside the caller's transaction, after the exclusive check;
/// a whole-file update goes into the file's pending update instead, when
/// [`collapses_into`] says so. The entries of one file are written one
/// transaction at a time (an advisory lock on the file), so that the latest
/// entry read is still the latest when it takes the update. The entry is
/// due at `now`, or at the database's clock (`db_clock`, the clock its
/// claim is judged by) when `now` runs ahead of it: a writer whose clock
/// runs ahead does not hold its entries back.
pub(crate) async fn enqueue_in(
    tx: &Transaction<'_>,
    (intervention_id, operation): (Option<InterventionId>, &Operation),
    now: Timestamp,
    db_clock: &str,
) -> Result<u64, AgoraError> {
    let key = operation.exclusive_key(intervention_id);
    check_exclusive(tx, key.as_deref(), operation, None, now).await?;
    let op = serde_json::to_string(operation).map_err(store_error)?;
    if let Some(file) = intervention_id {
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&format!("outbox-file/{file}")],
        )
        .await
        .map_err(store_error)?;
    }
    if let Some(file) = intervention_id.filter(|_| matches!(operation, Operation::UpdateRepair(_)))
    {
        let latest = select(
            tx,
            "intervention_id = $1 ORDER BY id DESC LIMIT 1 FOR UPDATE",
            &[&i64::from(file)],
            false,
        )
        .await?;
        if let Some(latest) = latest
            .into_iter()
            .next()
            .filter(|l| collapses_into(operation, intervention_id, l))
        {
            let changed = tx
                .execute(
                    "UPDATE outbox SET operation = $2 WHERE id = $1 AND state = 'pending'",
                    &[&entry_id(latest.id)?, &op],
                )
                .await
                .map_err(store_error)?;
            if changed == 1 {
                return Ok(latest.id);
            }
        }
    }
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO outbox (intervention_id, operation, idempotent, state, attempts,
                   next_attempt_ms, created_ms, exclusive_key)
                 VALUES ($1, $2, $3, 'pending', 0, LEAST($4, {db_clock}), $4, $5) RETURNING id"
            ),
            &[
                &intervention_id.map(i64::from),
                &op,
                &operation.is_idempotent(),
                &ms(now),
                &key,
            ],
        )
        .await
        .map_err(store_error)?;
    u64::try_from(row.get::<_, i64>(0)).map_err(store_error)
}

const COLUMNS: &str = "id, intervention_id, operation, state, attempts, next_attempt_ms, \
     last_error, created_ms, owner, lease_until_ms, answer, sent_ms, parked_ms, park_reason, \
     needs_result, held_until_ms, duplicates";

/// The entry of a row, or why it cannot be read.
fn decode_entry(row: &Row) -> Result<OutboxEntry, String> {
    let operation =
        Operation::from_stored(row.get(2)).map_err(|e| format!("unreadable operation: {e}"))?;
    let state_text: &str = row.get(3);
    let state = OutboxState::from_stored_name(state_text)
        .ok_or_else(|| format!("unknown state `{state_text}`"))?;
    let answer = row
        .get::<_, Option<&str>>(10)
        .map(OperationAnswer::from_stored)
        .transpose()
        .map_err(|e| format!("unreadable answer: {e}"))?;
    let owner: Option<String> = row.get(8);
    let park_reason = row
        .get::<_, Option<&str>>(13)
        .map(|r| {
            ParkReason::from_stored_name(r).ok_or_else(|| format!("unknown park reason `{r}`"))
        })
        .transpose()?;
    let duplicates = match row.get::<_, Option<&str>>(16) {
        Some(json) => OperationAnswer::duplicates_from_stored(json)?,
        None => Vec::new(),
    };
    Ok(OutboxEntry {
        id: u64::try_from(row.get::<_, i64>(0)).map_err(|e| e.to_string())?,
        intervention_id: row.get::<_, Option<i64>>(1).map(InterventionId),
        operation,
        state,
        attempts: u32::try_from(row.get::<_, i32>(4)).unwrap_or(u32::MAX),
        next_attempt_at: from_ms(row.get(5)),
        last_error: row.get(6),
        created_at: from_ms(row.get(7)),
        lease: owner.map(|owner| Lease {
            owner,
            until: from_ms(row.get::<_, Option<i64>>(9).unwrap_or(0)),
        }),
        answer,
        sent_at: row.get::<_, Option<i64>>(11).map(from_ms),
        parked_at: row.get::<_, Option<i64>>(12).map(from_ms),
        park_reason,
        needs_result: row.get(14),
        held_until: row.get::<_, Option<i64>>(15).map(from_ms),
        duplicates,
    })
}

/// Marks an entry that cannot be read as failed, with the reason.
async fn set_aside(c: &impl GenericClient, id: i64, reason: &str) -> Result<(), AgoraError> {
    c.execute(
        "UPDATE outbox SET state = 'failed', owner = NULL, lease_until_ms = NULL,
           park_reason = 'unreadable', last_error = $2 WHERE id = $1",
        &[&id, &format!("unreadable entry: {reason}")],
    )
    .await
    .map(|_| ())
    .map_err(store_error)
}

/// Reads entries; one that cannot be read is left out (and, when
/// `may_write`, marked failed with the reason), never failing the others.
async fn select(
    c: &impl GenericClient,
    filter: &str,
    args: &[&(dyn ToSql + Sync)],
    may_write: bool,
) -> Result<Vec<OutboxEntry>, AgoraError> {
    let statement = c
        .prepare_cached(&format!("SELECT {COLUMNS} FROM outbox WHERE {filter}"))
        .await
        .map_err(store_error)?;
    let rows = c.query(&statement, args).await.map_err(store_error)?;
    let mut entries = Vec::with_capacity(rows.len());
    for row in &rows {
        match decode_entry(row) {
            Ok(entry) => entries.push(entry),
            Err(reason) if may_write => set_aside(c, row.get(0), &reason).await?,
            Err(_) => {}
        }
    }
    Ok(entries)
}

/// No earlier entry of the same repair file is still to be delivered, nor
/// parked in doubt or given up (`ParkReason::blocks_later_entries`):
/// operations on one file are delivered in the order they were written.
///
/// Written so that the index of a file's open entries (`outbox_file_open`,
/// whose predicate is the `IN` list) answers it: each check reads only
/// that file's few open entries, not its whole history.
const FIFO: &str =
    "NOT EXISTS (SELECT 1 FROM outbox AS e WHERE e.intervention_id = outbox.intervention_id
       AND e.id < outbox.id AND e.state IN ('pending', 'sending', 'in_doubt', 'failed')
       AND (e.state <> 'failed' OR e.park_reason = 'gave_up'))";

/// The claim of at most `limit` pending, due entries `filter` selects,
/// oldest first, skipping rows others have locked. Its arguments are
/// `filter`'s `n`, then the owner, the lease's end and the send's start.
///
/// The limit is written in the statement: a parameter left the planner
/// guessing a tenth of the table, so the cached generic plan looked
/// costly and every claim was planned anew, which was half the server's
/// time per delivered entry. With the limit known, the server plans a
/// claim once per connection.
///
/// Of the entries picked, the oldest is claimed, and the others only when
/// it and they are idempotent ([`agora_ports::claimed_together`]): rows picked but not
/// taken are left pending (their lock ends with the statement).
fn claim_sql(filter: &str, n: usize, limit: u32) -> String {
    format!(
        "WITH picked AS (
           SELECT id, idempotent FROM outbox WHERE state = 'pending' AND {filter} AND {FIFO}
           ORDER BY id LIMIT {limit} FOR UPDATE SKIP LOCKED),
         first AS (SELECT id, idempotent FROM picked ORDER BY id LIMIT 1)
         UPDATE outbox SET state = 'sending', owner = ${owner},
           lease_until_ms = ${until}, attempts = attempts + 1, sent_ms = ${sent}
         FROM picked, first WHERE outbox.id = picked.id
           AND (picked.id = first.id OR (first.idempotent AND picked.idempotent))
         RETURNING {columns}",
        owner = n + 1,
        until = n + 2,
        sent = n + 3,
        columns = COLUMNS
            .split(", ")
            .map(|c| format!("outbox.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// The plan of a claim of due entries, whatever the table's statistics
/// say: the pending entries' index walked in id order, each candidate's
/// earlier entries probed in `outbox_file_open`, stopping at the limit. A
/// table never analyzed since a burst (the server guesses a handful of
/// pending rows) was otherwise planned as a hash anti-join over every open
/// entry and a sort: a claim of 16 read all 20,000 pending entries twice
/// (3 ms at 2,000, growing with the backlog). Set for the claim's
/// transaction only, with JIT off (the costs the settings add to the paths
/// left out would otherwise have the plan compiled, ~0.7 s a claim).
const CLAIM_PLAN: &str = "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off;
     SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off; SET LOCAL jit = off";

/// Claims at most `limit` pending, due entries `filter` selects (rows
/// others have locked are skipped), oldest first.
async fn claim_where(
    tx: &impl GenericClient,
    (filter, limit): (&str, u32),
    args: &[&(dyn ToSql + Sync)],
    lease: &Lease,
    now: Timestamp,
) -> Result<Vec<OutboxEntry>, AgoraError> {
    let (until, sent) = (ms(lease.until), ms(now));
    let all = claim_args(args, lease, &until, &sent);
    let statement = tx
        .prepare_cached(&claim_sql(filter, args.len(), limit))
        .await
        .map_err(store_error)?;
    let rows = tx.query(&statement, &all).await.map_err(store_error)?;
    decode_claimed(tx, &rows).await
}

/// The arguments of a claim's statement ([`claim_sql`]): `filter`'s, then
/// the owner, the lease's end and the send's start.
fn claim_args<'a>(
    args: &[&'a (dyn ToSql + Sync)],
    lease: &'a Lease,
    until: &'a i64,
    sent: &'a i64,
) -> Vec<&'a (dyn ToSql + Sync)> {
    let mut all = args.to_vec();
    all.extend([&lease.owner as &(dyn ToSql + Sync), until, sent]);
    all
}

/// The entries a claim returned, oldest first; one that cannot be read is
/// marked failed with the reason and left out.
async fn decode_claimed(
    c: &impl GenericClient,
    rows: &[Row],
) -> Result<Vec<OutboxEntry>, AgoraError> {
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        match decode_entry(row) {
            Ok(entry) => claimed.push(entry),
            Err(reason) => set_aside(c, row.get(0), &reason).await?,
        }
    }
    claimed.sort_by_key(|e| e.id);
    Ok(claimed)
}

/// Ends `tx`, whose `COMMIT` was sent along with its last statements: when
/// all went well it is committed, and nothing is left for its drop to roll
/// back (it would only send a `ROLLBACK` outside a transaction).
fn sent_with_commit<T>(
    tx: Transaction<'_>,
    outcome: Result<T, AgoraError>,
) -> Result<T, AgoraError> {
    if outcome.is_ok() {
        std::mem::forget(tx);
    }
    outcome
}

/// Applies an answer to the repair files it touches (locked first) and
/// records it on the entry as delivered, inside the caller's transaction.
async fn deliver_in(
    tx: &Transaction<'_>,
    id: i64,
    entry: &OutboxEntry,
    answer: &OperationAnswer,
    note: Option<&str>,
) -> Result<(), AgoraError> {
    let mut found = Vec::new();
    for key in answer_touches(&entry.operation, entry.intervention_id, answer) {
        let repair = match key {
            RepairKey::Intervention(i) => one_repair(tx, "intervention_id", i.0, true).await?,
            RepairKey::Claim(c) => one_repair(tx, "claim_id", c.0, true).await?,
        };
        found.extend(repair);
    }
    for repair in apply_answer(&entry.operation, answer, found) {
        upsert_repair_in(tx, &repair).await?;
    }
    record_in(
        tx,
        &events_of_delivery(entry.id, &entry.operation, entry.intervention_id, answer),
    )
    .await?;
    let answer = serde_json::to_string(answer).map_err(store_error)?;
    let statement = tx.prepare_cached(DELIVERED).await.map_err(store_error)?;
    tx.execute(&statement, &[&id, &answer, &note])
        .await
        .map_err(store_error)?;
    Ok(())
}

/// The statement that marks an entry delivered with its answer.
const DELIVERED: &str = "UPDATE outbox SET state = 'delivered', answer = $2, owner = NULL,
       lease_until_ms = NULL, needs_result = FALSE, last_error = $3 WHERE id = $1";

/// [`deliver_in`], then the commit. A delivery that changes no repair file
/// and records one event (a status update, the usual case) sends its last
/// statements and the `COMMIT` together: the server runs them in order and
/// the commit fails (rolls back) if one of them did, in one round trip, so
/// the events' lock is held that long.
async fn deliver_and_commit(
    tx: Transaction<'_>,
    id: i64,
    entry: &OutboxEntry,
    answer: &OperationAnswer,
    note: Option<&str>,
) -> Result<(), AgoraError> {
    let touches = answer_touches(&entry.operation, entry.intervention_id, answer);
    let events = events_of_delivery(entry.id, &entry.operation, entry.intervention_id, answer);
    let [event] = events.as_slice() else {
        deliver_in(&tx, id, entry, answer, note).await?;
        return tx.commit().await.map_err(store_error);
    };
    if !touches.is_empty() {
        deliver_in(&tx, id, entry, answer, note).await?;
        return tx.commit().await.map_err(store_error);
    }
    let text = serde_json::to_string(answer).map_err(store_error)?;
    // Both prepared first: each statement below is sent when first polled,
    // in the order written (`biased`), none waiting on a preparation.
    let update = tx.prepare_cached(DELIVERED).await.map_err(store_error)?;
    let insert = crate::events::lock_and_insert(&tx).await?;
    let (lock, kind, file, data) = crate::events::lock_and_insert_args(event);
    let update_args: [&(dyn ToSql + Sync); 3] = [&id, &text, &note];
    let insert_args: [&(dyn ToSql + Sync); 4] = [&lock, &kind, &file, &data];
    let (updated, inserted, committed) = tokio::join!(
        biased;
        tx.execute(&update, &update_args),
        tx.execute(&insert, &insert_args),
        tx.batch_execute("COMMIT"),
    );
    let outcome = updated.and(inserted).and(committed).map_err(store_error);
    sent_with_commit(tx, outcome.map(drop))
}

/// Records one attempt's outcome on `entry` (locked) inside the caller's
/// transaction, as `verdict` ([`judge_finish`]) says; writes nothing when
/// it is `Known` or `Stale`. Returns the verdict, `Stale` when the outcome
/// parks nothing.
async fn finish_in(
    tx: &Transaction<'_>,
    entry: &OutboxEntry,
    attempt_no: u32,
    attempt: &Attempt,
    now: Timestamp,
    verdict: Finish,
) -> Result<Finish, AgoraError> {
    let id = entry_id(entry.id)?;
    match (verdict, attempt) {
        (Finish::Known | Finish::Stale, _) => {}
        (Finish::Recorded, Attempt::Delivered(answer)) => {
            deliver_in(tx, id, entry, answer, None).await?;
        }
        (Finish::Settled, Attempt::Delivered(answer)) => {
            let note = format!(
                "answer of attempt {attempt_no}, which no longer held the entry ({}): recorded",
                entry.state.as_str()
            );
            deliver_in(tx, id, entry, answer, Some(&note)).await?;
        }
        (Finish::Duplicate, Attempt::Delivered(answer)) => {
            let mut all: Vec<serde_json::Value> = entry
                .duplicates
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<_, _>>()
                .map_err(store_error)?;
            all.push(serde_json::to_value(answer).map_err(store_error)?);
            tx.execute(
                "UPDATE outbox SET duplicates = $2, last_error = $3 WHERE id = $1",
                &[
                    &id,
                    &serde_json::Value::Array(all).to_string(),
                    &duplicate_note(attempt_no, answer, entry.answer.as_ref()),
                ],
            )
            .await
            .map_err(store_error)?;
        }
        (_, outcome) => {
            let Some(p) = parking(outcome, now) else {
                return Ok(Finish::Stale);
            };
            let statement = tx
                .prepare_cached(
                    "UPDATE outbox SET state = $2, next_attempt_ms = $3, last_error = $4,
                       owner = NULL, lease_until_ms = NULL,
                       parked_ms = CASE WHEN $5::TEXT IS NULL THEN parked_ms ELSE $6 END,
                       park_reason = COALESCE($5::TEXT, park_reason) WHERE id = $1",
                )
                .await
                .map_err(store_error)?;
            tx.execute(
                &statement,
                &[
                    &id,
                    &p.state.stored_name(),
                    &ms(p.next_attempt_at),
                    &p.error,
                    &p.reason.map(ParkReason::stored_name),
                    &ms(now),
                ],
            )
            .await
            .map_err(store_error)?;
            if p.state == OutboxState::InDoubt {
                record_in(
                    tx,
                    &[event_of_doubt(
                        entry.id,
                        &entry.operation,
                        entry.intervention_id,
                        p.error,
                    )],
                )
                .await?;
            }
        }
    }
    Ok(verdict)
}

/// Deliveries that change no repair file, gathered by
/// [`Outbox::finish_all`] to be written together: the entries marked
/// delivered by one statement, their events inserted by another.
#[derive(Default)]
struct Deliveries {
    ids: Vec<i64>,
    answers: Vec<String>,
    events: Vec<NewEvent>,
}

impl Deliveries {
    /// Adds the delivery of `entry` (row `id`) with `answer`.
    fn push(
        &mut self,
        id: i64,
        entry: &OutboxEntry,
        answer: &OperationAnswer,
    ) -> Result<(), AgoraError> {
        self.ids.push(id);
        self.answers
            .push(serde_json::to_string(answer).map_err(store_error)?);
        self.events.extend(events_of_delivery(
            entry.id,
            &entry.operation,
            entry.intervention_id,
            answer,
        ));
        Ok(())
    }

    /// Writes what was gathered inside the caller's transaction (both
    /// statements sent at once), and empties it.
    async fn write(&mut self, tx: &Transaction<'_>) -> Result<(), AgoraError> {
        if self.ids.is_empty() {
            return Ok(());
        }
        let update = tx
            .prepare_cached(DELIVERED_ALL)
            .await
            .map_err(store_error)?;
        let args: [&(dyn ToSql + Sync); 2] = [&self.ids, &self.answers];
        let (updated, recorded) = tokio::join!(
            biased;
            tx.execute(&update, &args),
            record_in(tx, &self.events),
        );
        updated.map_err(store_error)?;
        recorded?;
        *self = Self::default();
        Ok(())
    }
}

/// The statement that marks several entries delivered, each with its
/// answer ([`DELIVERED`] for many).
const DELIVERED_ALL: &str =
    "UPDATE outbox SET state = 'delivered', answer = u.answer, owner = NULL,
       lease_until_ms = NULL, needs_result = FALSE, last_error = NULL
     FROM unnest($1::BIGINT[], $2::TEXT[]) AS u(id, answer) WHERE outbox.id = u.id";

/// One entry, its row locked until the transaction ends.
async fn locked_entry(tx: &Transaction<'_>, id: i64) -> Result<OutboxEntry, AgoraError> {
    select(tx, "id = $1 FOR UPDATE", &[&id], false)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AgoraError::Missing(format!("outbox entry {id}")))
}

fn entry_id(id: u64) -> Result<i64, AgoraError> {
    i64::try_from(id).map_err(|_| AgoraError::Missing(format!("outbox entry {id}")))
}

#[async_trait]
impl Outbox for PostgresStore {
    async fn enqueue(
        &self,
        intervention_id: Option<InterventionId>,
        operation: &Operation,
        now: Timestamp,
    ) -> Result<u64, AgoraError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        let id = enqueue_in(&tx, (intervention_id, operation), now, &self.db_clock()).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(id)
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        lease: &Lease,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, AgoraError> {
        // A few distinct limits in practice: one cached statement each.
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        let due = ms(now);
        let (until, sent) = (ms(lease.until), ms(now));
        let args = claim_args(&[&due], lease, &until, &sent);
        let statement = tx
            .prepare_cached(&claim_sql("next_attempt_ms <= $1", 1, limit))
            .await
            .map_err(store_error)?;
        // The planner's settings, the claim and the COMMIT in one round
        // trip: each is sent when first polled, in the order written.
        let (planned, rows, committed) = tokio::join!(
            biased;
            tx.batch_execute(CLAIM_PLAN),
            tx.query(&statement, &args),
            tx.batch_execute("COMMIT"),
        );
        let rows = sent_with_commit(
            tx,
            planned
                .and(rows)
                .and_then(|rows| committed.map(|()| rows))
                .map_err(store_error),
        )?;
        // Committed: an entry that cannot be read is set aside on its own.
        decode_claimed(&client, &rows).await
    }

    async fn claim(
        &self,
        id: u64,
        now: Timestamp,
        lease: &Lease,
    ) -> Result<Option<OutboxEntry>, AgoraError> {
        let id = entry_id(id)?;
        let claimed = claim_where(
            &self.client().await?,
            ("id = $1 AND next_attempt_ms <= $2", 1),
            &[&id, &ms(now)],
            lease,
            now,
        )
        .await?;
        Ok(claimed.into_iter().next())
    }

    async fn renew(&self, id: u64, lease: &Lease) -> Result<bool, AgoraError> {
        let id = entry_id(id)?;
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "UPDATE outbox SET lease_until_ms = $3
                 WHERE id = $1 AND state = 'sending' AND owner = $2",
            )
            .await
            .map_err(store_error)?;
        let n = client
            .execute(&statement, &[&id, &lease.owner, &ms(lease.until)])
            .await
            .map_err(store_error)?;
        Ok(n == 1)
    }

    async fn finish(
        &self,
        id: u64,
        owner: &str,
        attempt_no: u32,
        attempt: &Attempt,
        now: Timestamp,
    ) -> Result<Finish, AgoraError> {
        let id = entry_id(id)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        let entry = locked_entry(&tx, id).await?;
        let verdict = judge_finish(&entry, owner, attempt_no, attempt);
        match (verdict, attempt) {
            (Finish::Known | Finish::Stale, _) => return Ok(verdict),
            (Finish::Recorded, Attempt::Delivered(answer)) => {
                deliver_and_commit(tx, id, &entry, answer, None).await?;
                return Ok(verdict);
            }
            _ => {}
        }
        let verdict = finish_in(&tx, &entry, attempt_no, attempt, now, verdict).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(verdict)
    }

    async fn finish_all(&self, outcomes: &[Outcome]) -> Result<Vec<Finish>, AgoraError> {
        if let [o] = outcomes {
            let verdict = self
                .finish(o.id, &o.owner, o.attempt_no, &o.attempt, o.now)
                .await?;
            return Ok(vec![verdict]);
        }
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        let ids = outcomes
            .iter()
            .map(|o| entry_id(o.id))
            .collect::<Result<Vec<_>, _>>()?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        // Locked at once, in id order (as every other change locks them).
        let mut entries: std::collections::HashMap<u64, OutboxEntry> =
            select(&tx, "id = ANY($1) ORDER BY id FOR UPDATE", &[&ids], false)
                .await?
                .into_iter()
                .map(|e| (e.id, e))
                .collect();
        let mut delivered = Deliveries::default();
        let mut verdicts = Vec::with_capacity(outcomes.len());
        for (o, &id) in outcomes.iter().zip(&ids) {
            // An entry named twice is read again, after what came before.
            let entry = match entries.remove(&o.id) {
                Some(entry) => entry,
                None => {
                    delivered.write(&tx).await?;
                    locked_entry(&tx, id).await?
                }
            };
            let verdict = judge_finish(&entry, &o.owner, o.attempt_no, &o.attempt);
            let verdict = match (verdict, &o.attempt) {
                (Finish::Known | Finish::Stale, _) => verdict,
                (Finish::Recorded, Attempt::Delivered(answer))
                    if answer_touches(&entry.operation, entry.intervention_id, answer)
                        .is_empty() =>
                {
                    delivered.push(id, &entry, answer)?;
                    verdict
                }
                _ => {
                    delivered.write(&tx).await?;
                    finish_in(&tx, &entry, o.attempt_no, &o.attempt, o.now, verdict).await?
                }
            };
            verdicts.push(verdict);
        }
        delivered.write(&tx).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(verdicts)
    }

    async fn settle(
        &self,
        id: u64,
        settlement: &Settlement,
        guard: Guard,
        now: Timestamp,
    ) -> Result<OutboxState, AgoraError> {
        let id = entry_id(id)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        let entry = locked_entry(&tx, id).await?;
        // Judged by the database's clock, which took the entry's times: a
        // caller whose clock runs ahead settles nothing early.
        let db_now: i64 = tx
            .query_one(&format!("SELECT {}", self.db_clock()), &[])
            .await
            .map_err(store_error)?
            .get(0);
        let now = now.min(from_ms(db_now));
        check_settlement(&entry, settlement, guard, now)?;
        let state = match settlement {
            Settlement::Applied(answer) => {
                deliver_in(&tx, id, &entry, answer, Some("resolved by hand: applied")).await?;
                OutboxState::Delivered
            }
            Settlement::Resend => {
                let key = entry.operation.exclusive_key(entry.intervention_id);
                check_exclusive(&tx, key.as_deref(), &entry.operation, Some(id), now).await?;
                tx.execute(
                    "UPDATE outbox SET state = 'pending', next_attempt_ms = $2,
                       held_until_ms = NULL, last_error = 'resolved by hand: to resend'
                     WHERE id = $1",
                    &[&id, &ms(now)],
                )
                .await
                .map_err(store_error)?;
                OutboxState::Pending
            }
            Settlement::Abandon => {
                // Forced while an attempt may still land: the key stays
                // held until it cannot.
                let held = lands_until(&entry, guard.window)
                    .filter(|u| *u > now)
                    .map(ms);
                tx.execute(
                    "UPDATE outbox SET state = 'failed', needs_result = FALSE,
                       park_reason = 'abandoned', parked_ms = $2, held_until_ms = $3,
                       last_error = 'resolved by hand: abandoned' WHERE id = $1",
                    &[&id, &ms(now), &held],
                )
                .await
                .map_err(store_error)?;
                OutboxState::Failed
            }
        };
        tx.commit().await.map_err(store_error)?;
        Ok(state)
    }

    async fn entries(&self, state: OutboxState) -> Result<Vec<OutboxEntry>, AgoraError> {
        select(
            &self.client().await?,
            "state = $1 ORDER BY id",
            &[&state.stored_name()],
            false,
        )
        .await
    }

    async fn entry(&self, id: u64) -> Result<Option<OutboxEntry>, AgoraError> {
        let id = entry_id(id)?;
        Ok(select(&self.client().await?, "id = $1", &[&id], false)
            .await?
            .into_iter()
            .next())
    }

    async fn delivered_before(
        &self,
        file: InterventionId,
        before: u64,
    ) -> Result<Vec<OutboxEntry>, AgoraError> {
        let before = entry_id(before)?;
        select(
            &self.client().await?,
            "intervention_id = $1 AND state = 'delivered' AND id < $2 ORDER BY id DESC",
            &[&file.0, &before],
            false,
        )
        .await
    }

    async fn recover_expired(
        &self,
        now: Timestamp,
        window: std::time::Duration,
    ) -> Result<Vec<u64>, AgoraError> {
        let window = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        // Judged by the database's clock: a caller whose clock runs ahead
        // never takes back a lease the database still counts as live.
        let expired = format!(
            "state = 'sending' AND (lease_until_ms IS NULL OR lease_until_ms <= LEAST($1, {}))",
            self.db_clock()
        );
        let doubtful = tx
            .query(
                &format!(
                    "UPDATE outbox SET state = 'in_doubt', owner = NULL, lease_until_ms = NULL,
                       parked_ms = $1, park_reason = 'in_doubt',
                       last_error = 'its sender stopped mid-send (lease expired): it may have reached AgoraPlus'
                     WHERE {expired} AND NOT idempotent RETURNING id"
                ),
                &[&ms(now)],
            )
            .await
            .map_err(store_error)?;
        for row in &doubtful {
            for e in select(&tx, "id = $1", &[&row.get::<_, i64>(0)], false).await? {
                record_in(
                    &tx,
                    &[event_of_doubt(
                        e.id,
                        &e.operation,
                        e.intervention_id,
                        "its sender stopped mid-send",
                    )],
                )
                .await?;
            }
        }
        tx.execute(
            &format!(
                "UPDATE outbox SET state = 'pending', owner = NULL, lease_until_ms = NULL,
                   next_attempt_ms = GREATEST(next_attempt_ms,
                     sent_ms + LEAST($2::BIGINT, 9223372036854775807 - sent_ms))
                 WHERE {expired} AND idempotent"
            ),
            &[&ms(now), &window],
        )
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        let mut ids: Vec<u64> = doubtful
            .iter()
            .filter_map(|r| u64::try_from(r.get::<_, i64>(0)).ok())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    async fn clock(&self) -> Result<Option<Timestamp>, AgoraError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!("SELECT {}", self.db_clock()))
            .await
            .map_err(store_error)?;
        let row = client
            .query_one(&statement, &[])
            .await
            .map_err(store_error)?;
        Ok(Some(from_ms(row.get(0))))
    }
}

#[cfg(test)]
mod tests {
    use agora_domain::CompleteRepairState;

    use super::*;
    use crate::throwaway::Server;

    /// The planner's statistics lag: a table analyzed when every entry was
    /// pending (a burst) is planned as such while the entries are
    /// delivered. Through the primary key, each claim then read the
    /// entries delivered since, so a burst of n entries cost n²/2 rows
    /// (1.6 ms a claim after 10,000 deliveries). The claim must read the
    /// pending entries' index, whatever the statistics say.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_claim_reads_the_pending_entries_index_even_planned_for_a_full_outbox() {
        let server = Server::start().unwrap_or_else(|why| panic!("{why}"));
        let url = server.create_database("claims").await.unwrap();
        let store = PostgresStore::connect(&url).await.unwrap();
        let file = CompleteRepairState {
            intervention_id: Some(InterventionId(7)),
            ..CompleteRepairState::default()
        };
        store
            .enqueue(
                Some(InterventionId(7)),
                &Operation::UpdateRepair(file),
                Timestamp::UNIX_EPOCH,
            )
            .await
            .unwrap();
        // 5,000 pending entries over 50 files, analyzed so.
        let client = store.client().await.unwrap();
        client
            .batch_execute(
                "INSERT INTO outbox (intervention_id, operation, idempotent, state, attempts,
                   next_attempt_ms, created_ms)
                 SELECT g % 50, operation, idempotent, 'pending', 0, next_attempt_ms, created_ms
                 FROM outbox, generate_series(1, 5000) AS g;
                 ANALYZE outbox;",
            )
            .await
            .unwrap();
        let explain = format!("EXPLAIN {}", claim_sql("next_attempt_ms <= $1", 1, 1));
        let plan: Vec<String> = client
            .query(&explain, &[&0_i64, &"w", &0_i64, &0_i64])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let plan = plan.join("\n");
        assert!(plan.contains("using outbox_pending on outbox"), "{plan}");
        // A file's earlier open entries through their own index, not the
        // file's whole history.
        assert!(
            plan.contains("using outbox_file_open on outbox e"),
            "{plan}"
        );
    }

    /// Right after a burst, before any ANALYZE, the server guesses a
    /// handful of pending rows and planned a claim of several entries as a
    /// hash anti-join over every open entry plus a sort. Under the claim's
    /// settings it walks the pending entries' index in order and probes
    /// each candidate's file, and is not compiled (JIT).
    #[tokio::test(flavor = "multi_thread")]
    async fn a_batch_claim_walks_the_pending_index_on_a_table_never_analyzed() {
        let server = Server::start().unwrap_or_else(|why| panic!("{why}"));
        let url = server.create_database("burst").await.unwrap();
        let store = PostgresStore::connect(&url).await.unwrap();
        let mut client = store.client().await.unwrap();
        client
            .batch_execute(
                "INSERT INTO outbox (intervention_id, operation, idempotent, state, attempts,
                   next_attempt_ms, created_ms)
                 SELECT g % 100, '{}', TRUE, 'pending', 0, 0, 0
                 FROM generate_series(1, 5000) AS g;",
            )
            .await
            .unwrap();
        let tx = client.transaction().await.unwrap();
        tx.batch_execute(CLAIM_PLAN).await.unwrap();
        let explain = format!("EXPLAIN {}", claim_sql("next_attempt_ms <= $1", 1, 16));
        let plan: Vec<String> = tx
            .query(&explain, &[&0_i64, &"w", &0_i64, &0_i64])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let plan = plan.join("\n");
        assert!(
            plan.contains("Index Scan using outbox_pending on outbox"),
            "{plan}"
        );
        assert!(plan.contains("Nested Loop Anti Join"), "{plan}");
        assert!(!plan.contains("Hash"), "{plan}");
        assert!(!plan.contains("JIT"), "{plan}");
    }
}
