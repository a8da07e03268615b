//! The outbox table and the port's contract on SQLite: claims, leases,
//! outcomes and settlements, each one `BEGIN IMMEDIATE` transaction, so
//! that processes sharing the file take the write lock before they read
//! and never act on a state another has changed meanwhile.

use agora_domain::InterventionId;
use agora_ports::{
    AgoraError, Attempt, Finish, Guard, Lease, Operation, OperationAnswer, Outbox, OutboxEntry,
    OutboxState, Outcome, ParkReason, RepairKey, Settlement, answer_touches, apply_answer,
    check_settlement, claimed_together, collapses_into, duplicate_note, event_of_doubt,
    events_of_delivery, judge_finish, lands_until, parking,
};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::events::record_in;
use crate::{SqliteStore, from_ms, ms, one_repair, store_error, upsert_repair_in, write_tx};

/// The states in which an entry holds its exclusive key: open, applied
/// without its result, or abandoned while an attempt may still land (until
/// `?3`, now).
const OPEN: &str = "(state IN ('pending', 'sending', 'in_doubt') OR needs_result = 1
     OR held_until_ms > ?3)";

/// Refuses `operation` when another open entry holds its exclusive key.
fn check_exclusive(
    conn: &Connection,
    key: Option<&str>,
    operation: &Operation,
    except: Option<i64>,
    now: Timestamp,
) -> Result<(), AgoraError> {
    let Some(key) = key else {
        return Ok(());
    };
    let open: Option<(i64, String)> = conn
        .query_row(
            &format!(
                "SELECT id, state FROM outbox WHERE exclusive_key = ?1 AND {OPEN}
                 AND id != ?2 ORDER BY id LIMIT 1"
            ),
            params![key, except.unwrap_or(-1), ms(now)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(store_error)?;
    match open {
        None => Ok(()),
        Some((id, state)) => Err(AgoraError::Invalid(format!(
            "{} refused: outbox entry {id} ({}) is already open for {key}; settle it first (`agora outbox list`)",
            operation.name(),
            OutboxState::from_stored_name(&state).map_or("unknown", OutboxState::as_str),
        ))),
    }
}

/// Adds an entry inside the caller's transaction, after the exclusive check;
/// a whole-file update goes into the file's pending update instead, when
/// [`collapses_into`] says so.
pub(crate) fn enqueue_in(
    conn: &Connection,
    intervention_id: Option<InterventionId>,
    operation: &Operation,
    now: Timestamp,
) -> Result<u64, AgoraError> {
    let key = operation.exclusive_key(intervention_id);
    check_exclusive(conn, key.as_deref(), operation, None, now)?;
    let op = serde_json::to_string(operation).map_err(store_error)?;
    if let Some(file) = intervention_id.filter(|_| matches!(operation, Operation::UpdateRepair(_)))
    {
        let latest = select(
            conn,
            "intervention_id = ?1 ORDER BY id DESC LIMIT 1",
            [i64::from(file)],
            false,
        )?;
        if let Some(latest) = latest
            .into_iter()
            .next()
            .filter(|l| collapses_into(operation, intervention_id, l))
        {
            let id = entry_id(latest.id)?;
            let changed = conn
                .execute(
                    "UPDATE outbox SET operation = ?2 WHERE id = ?1 AND state = 'pending'",
                    params![id, op],
                )
                .map_err(store_error)?;
            if changed == 1 {
                return Ok(latest.id);
            }
        }
    }
    conn.execute(
        "INSERT INTO outbox (intervention_id, operation, idempotent, state, attempts,
           next_attempt_ms, created_ms, exclusive_key)
         VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?4, ?5)",
        params![
            intervention_id.map(i64::from),
            op,
            operation.is_idempotent(),
            ms(now),
            key
        ],
    )
    .map_err(store_error)?;
    u64::try_from(conn.last_insert_rowid()).map_err(store_error)
}

const COLUMNS: &str = "id, intervention_id, operation, state, attempts, next_attempt_ms, \
     last_error, created_ms, owner, lease_until_ms, answer, sent_ms, parked_ms, park_reason, \
     needs_result, held_until_ms, duplicates";

struct EntryRow {
    id: i64,
    intervention_id: Option<i64>,
    operation: String,
    state: String,
    attempts: i64,
    next: i64,
    error: Option<String>,
    created: i64,
    owner: Option<String>,
    lease_until: Option<i64>,
    answer: Option<String>,
    sent: Option<i64>,
    parked: Option<i64>,
    park_reason: Option<String>,
    needs_result: bool,
    held_until: Option<i64>,
    duplicates: Option<String>,
}

fn entry_row(row: &Row<'_>) -> rusqlite::Result<EntryRow> {
    Ok(EntryRow {
        id: row.get(0)?,
        intervention_id: row.get(1)?,
        operation: row.get(2)?,
        state: row.get(3)?,
        attempts: row.get(4)?,
        next: row.get(5)?,
        error: row.get(6)?,
        created: row.get(7)?,
        owner: row.get(8)?,
        lease_until: row.get(9)?,
        answer: row.get(10)?,
        sent: row.get(11)?,
        parked: row.get(12)?,
        park_reason: row.get(13)?,
        needs_result: row.get(14)?,
        held_until: row.get(15)?,
        duplicates: row.get(16)?,
    })
}

/// The entry of a row, or why it cannot be read.
fn decode_entry(row: EntryRow) -> Result<OutboxEntry, String> {
    let operation =
        Operation::from_stored(&row.operation).map_err(|e| format!("unreadable operation: {e}"))?;
    let state = OutboxState::from_stored_name(&row.state)
        .ok_or_else(|| format!("unknown state `{}`", row.state))?;
    let answer = row
        .answer
        .map(|a| OperationAnswer::from_stored(&a))
        .transpose()
        .map_err(|e| format!("unreadable answer: {e}"))?;
    let park_reason = row
        .park_reason
        .map(|r| {
            ParkReason::from_stored_name(&r).ok_or_else(|| format!("unknown park reason `{r}`"))
        })
        .transpose()?;
    let duplicates = match row.duplicates {
        Some(json) => OperationAnswer::duplicates_from_stored(&json)?,
        None => Vec::new(),
    };
    Ok(OutboxEntry {
        id: u64::try_from(row.id).map_err(|e| e.to_string())?,
        intervention_id: row.intervention_id.map(InterventionId::from),
        operation,
        state,
        attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
        next_attempt_at: from_ms(row.next),
        last_error: row.error,
        created_at: from_ms(row.created),
        lease: row.owner.map(|owner| Lease {
            owner,
            until: from_ms(row.lease_until.unwrap_or(0)),
        }),
        answer,
        sent_at: row.sent.map(from_ms),
        parked_at: row.parked.map(from_ms),
        park_reason,
        needs_result: row.needs_result,
        held_until: row.held_until.map(from_ms),
        duplicates,
    })
}

/// Reads entries; one that cannot be read is marked failed with the reason
/// (when `conn` may write) and left out, never failing the others.
fn select(
    conn: &Connection,
    filter: &str,
    args: impl rusqlite::Params,
    may_write: bool,
) -> Result<Vec<OutboxEntry>, AgoraError> {
    let rows = {
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM outbox WHERE {filter}"))
            .map_err(store_error)?;
        stmt.query_map(args, entry_row)
            .map_err(store_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(store_error)?
    };
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let id = row.id;
        match decode_entry(row) {
            Ok(entry) => entries.push(entry),
            Err(reason) => {
                if may_write {
                    conn.execute(
                        "UPDATE outbox SET state = 'failed', owner = NULL, lease_until_ms = NULL,
                           park_reason = 'unreadable', last_error = ?2 WHERE id = ?1",
                        params![id, format!("unreadable entry: {reason}")],
                    )
                    .map_err(store_error)?;
                }
            }
        }
    }
    Ok(entries)
}

/// No earlier entry of the same repair file is still to be delivered, nor
/// parked in doubt or given up (`ParkReason::blocks_later_entries`):
/// operations on one file are delivered in the order they were written.
const FIFO: &str =
    "NOT EXISTS (SELECT 1 FROM outbox AS e WHERE e.intervention_id = outbox.intervention_id
       AND e.id < outbox.id AND (e.state IN ('pending', 'sending', 'in_doubt')
         OR (e.state = 'failed' AND e.park_reason = 'gave_up')))";

fn claim_where(
    tx: &Transaction<'_>,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
    lease: &Lease,
    now: Timestamp,
) -> Result<Vec<OutboxEntry>, AgoraError> {
    let mut candidates = select(tx, filter, args, true)?;
    // The oldest, and with it only what may be claimed together.
    if let Some(first) = candidates.first().map(|e| e.operation.clone()) {
        let mut n = 0;
        candidates.retain(|e| {
            n += 1;
            n == 1 || claimed_together(&first, &e.operation)
        });
    }
    let mut claimed = Vec::with_capacity(candidates.len());
    for mut entry in candidates {
        let id = i64::try_from(entry.id).map_err(store_error)?;
        let changed = tx
            .execute(
                "UPDATE outbox SET state = 'sending', owner = ?2, lease_until_ms = ?3,
                   attempts = attempts + 1, sent_ms = ?4 WHERE id = ?1 AND state = 'pending'",
                params![id, lease.owner, ms(lease.until), ms(now)],
            )
            .map_err(store_error)?;
        if changed == 1 {
            entry.state = OutboxState::Sending;
            entry.attempts = entry.attempts.saturating_add(1);
            entry.lease = Some(lease.clone());
            entry.sent_at = Some(now);
            claimed.push(entry);
        }
    }
    Ok(claimed)
}

/// Applies an answer to the repair files it touches and records it on the
/// entry as delivered, inside the caller's transaction.
fn deliver_in(
    tx: &Transaction<'_>,
    id: i64,
    entry: &OutboxEntry,
    answer: &OperationAnswer,
    note: Option<&str>,
) -> Result<(), AgoraError> {
    let mut found = Vec::new();
    for key in answer_touches(&entry.operation, entry.intervention_id, answer) {
        let repair = match key {
            RepairKey::Intervention(i) => one_repair(tx, "intervention_id", i.0)?,
            RepairKey::Claim(c) => one_repair(tx, "claim_id", c.0)?,
        };
        found.extend(repair);
    }
    for repair in apply_answer(&entry.operation, answer, found) {
        upsert_repair_in(tx, &repair)?;
    }
    record_in(
        tx,
        &events_of_delivery(entry.id, &entry.operation, entry.intervention_id, answer),
    )?;
    let answer = serde_json::to_string(answer).map_err(store_error)?;
    tx.execute(
        "UPDATE outbox SET state = 'delivered', answer = ?2, owner = NULL, lease_until_ms = NULL,
           needs_result = 0, last_error = ?3 WHERE id = ?1",
        params![id, answer, note],
    )
    .map_err(store_error)?;
    Ok(())
}

fn one_entry(tx: &Connection, id: i64) -> Result<Option<OutboxEntry>, AgoraError> {
    Ok(select(tx, "id = ?1", [id], false)?.into_iter().next())
}

fn entry_id(id: u64) -> Result<i64, AgoraError> {
    i64::try_from(id).map_err(|_| AgoraError::Missing(format!("outbox entry {id}")))
}

/// Records one attempt's outcome inside the caller's transaction, as
/// [`judge_finish`] says; writes nothing when the verdict is `Known` or
/// `Stale`.
fn finish_in(tx: &Transaction<'_>, outcome: &Outcome) -> Result<Finish, AgoraError> {
    let Outcome {
        id,
        owner,
        attempt_no,
        attempt,
        now,
    } = outcome;
    let (attempt_no, now) = (*attempt_no, *now);
    let id = entry_id(*id)?;
    let entry =
        one_entry(tx, id)?.ok_or_else(|| AgoraError::Missing(format!("outbox entry {id}")))?;
    let verdict = judge_finish(&entry, owner, attempt_no, attempt);
    match (verdict, attempt) {
        (Finish::Known | Finish::Stale, _) => return Ok(verdict),
        (Finish::Recorded, Attempt::Delivered(answer)) => {
            deliver_in(tx, id, &entry, answer, None)?;
        }
        (Finish::Settled, Attempt::Delivered(answer)) => {
            let note = format!(
                "answer of attempt {attempt_no}, which no longer held the entry ({}): recorded",
                entry.state.as_str()
            );
            deliver_in(tx, id, &entry, answer, Some(&note))?;
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
                "UPDATE outbox SET duplicates = ?2, last_error = ?3 WHERE id = ?1",
                params![
                    id,
                    serde_json::Value::Array(all).to_string(),
                    duplicate_note(attempt_no, answer, entry.answer.as_ref())
                ],
            )
            .map_err(store_error)?;
        }
        (_, outcome) => {
            let Some(p) = parking(outcome, now) else {
                return Ok(Finish::Stale);
            };
            tx.execute(
                "UPDATE outbox SET state = ?2, next_attempt_ms = ?3, last_error = ?4,
                   owner = NULL, lease_until_ms = NULL,
                   parked_ms = CASE WHEN ?5 IS NULL THEN parked_ms ELSE ?6 END,
                   park_reason = COALESCE(?5, park_reason) WHERE id = ?1",
                params![
                    id,
                    p.state.stored_name(),
                    ms(p.next_attempt_at),
                    p.error,
                    p.reason.map(ParkReason::stored_name),
                    ms(now)
                ],
            )
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
                )?;
            }
        }
    }
    Ok(verdict)
}

#[async_trait]
impl Outbox for SqliteStore {
    async fn enqueue(
        &self,
        intervention_id: Option<InterventionId>,
        operation: &Operation,
        now: Timestamp,
    ) -> Result<u64, AgoraError> {
        let operation = operation.clone();
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            let id = enqueue_in(&tx, intervention_id, &operation, now)?;
            tx.commit().map_err(store_error)?;
            Ok(id)
        })
        .await
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        lease: &Lease,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, AgoraError> {
        let lease = lease.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            let filter = format!(
                "state = 'pending' AND next_attempt_ms <= ?1 AND {FIFO} ORDER BY id LIMIT ?2"
            );
            let claimed = claim_where(&tx, &filter, &[&ms(now), &limit], &lease, now)?;
            tx.commit().map_err(store_error)?;
            Ok(claimed)
        })
        .await
    }

    async fn claim(
        &self,
        id: u64,
        now: Timestamp,
        lease: &Lease,
    ) -> Result<Option<OutboxEntry>, AgoraError> {
        let id = entry_id(id)?;
        let lease = lease.clone();
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            let filter =
                format!("id = ?1 AND state = 'pending' AND next_attempt_ms <= ?2 AND {FIFO}");
            let claimed = claim_where(&tx, &filter, &[&id, &ms(now)], &lease, now)?;
            tx.commit().map_err(store_error)?;
            Ok(claimed.into_iter().next())
        })
        .await
    }

    async fn renew(&self, id: u64, lease: &Lease) -> Result<bool, AgoraError> {
        let id = entry_id(id)?;
        let lease = lease.clone();
        self.with_state(move |c| {
            let n = c
                .execute(
                    "UPDATE outbox SET lease_until_ms = ?3
                     WHERE id = ?1 AND state = 'sending' AND owner = ?2",
                    params![id, lease.owner, ms(lease.until)],
                )
                .map_err(store_error)?;
            Ok(n == 1)
        })
        .await
    }

    async fn finish(
        &self,
        id: u64,
        owner: &str,
        attempt_no: u32,
        attempt: &Attempt,
        now: Timestamp,
    ) -> Result<Finish, AgoraError> {
        let outcome = Outcome {
            id,
            owner: owner.to_owned(),
            attempt_no,
            attempt: attempt.clone(),
            now,
        };
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            let verdict = finish_in(&tx, &outcome)?;
            tx.commit().map_err(store_error)?;
            Ok(verdict)
        })
        .await
    }

    async fn finish_all(&self, outcomes: &[Outcome]) -> Result<Vec<Finish>, AgoraError> {
        let outcomes = outcomes.to_vec();
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            let verdicts = outcomes
                .iter()
                .map(|o| finish_in(&tx, o))
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit().map_err(store_error)?;
            Ok(verdicts)
        })
        .await
    }

    async fn settle(
        &self,
        id: u64,
        settlement: &Settlement,
        guard: Guard,
        now: Timestamp,
    ) -> Result<OutboxState, AgoraError> {
        let id = entry_id(id)?;
        let settlement = settlement.clone();
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            let entry = one_entry(&tx, id)?
                .ok_or_else(|| AgoraError::Missing(format!("outbox entry {id}")))?;
            check_settlement(&entry, &settlement, guard, now)?;
            let state = match &settlement {
                Settlement::Applied(answer) => {
                    deliver_in(&tx, id, &entry, answer, Some("resolved by hand: applied"))?;
                    OutboxState::Delivered
                }
                Settlement::Resend => {
                    let key = entry.operation.exclusive_key(entry.intervention_id);
                    check_exclusive(&tx, key.as_deref(), &entry.operation, Some(id), now)?;
                    tx.execute(
                        "UPDATE outbox SET state = 'pending', next_attempt_ms = ?2,
                           held_until_ms = NULL, last_error = 'resolved by hand: to resend'
                         WHERE id = ?1",
                        params![id, ms(now)],
                    )
                    .map_err(store_error)?;
                    OutboxState::Pending
                }
                Settlement::Abandon => {
                    // Forced while an attempt may still land: the key stays
                    // held until it cannot.
                    let held = lands_until(&entry, guard.window).filter(|u| *u > now);
                    tx.execute(
                        "UPDATE outbox SET state = 'failed', needs_result = 0,
                           park_reason = 'abandoned', parked_ms = ?2, held_until_ms = ?3,
                           last_error = 'resolved by hand: abandoned' WHERE id = ?1",
                        params![id, ms(now), held.map(ms)],
                    )
                    .map_err(store_error)?;
                    OutboxState::Failed
                }
            };
            tx.commit().map_err(store_error)?;
            Ok(state)
        })
        .await
    }

    async fn entries(&self, state: OutboxState) -> Result<Vec<OutboxEntry>, AgoraError> {
        self.with_state(move |c| select(c, "state = ?1 ORDER BY id", [state.stored_name()], false))
            .await
    }

    async fn entry(&self, id: u64) -> Result<Option<OutboxEntry>, AgoraError> {
        let id = entry_id(id)?;
        self.with_state(move |c| one_entry(c, id)).await
    }

    async fn delivered_before(
        &self,
        file: InterventionId,
        before: u64,
    ) -> Result<Vec<OutboxEntry>, AgoraError> {
        let before = entry_id(before)?;
        self.with_state(move |c| {
            select(
                c,
                "intervention_id = ?1 AND state = 'delivered' AND id < ?2 ORDER BY id DESC",
                params![file.0, before],
                false,
            )
        })
        .await
    }

    async fn recover_expired(
        &self,
        now: Timestamp,
        window: std::time::Duration,
    ) -> Result<Vec<u64>, AgoraError> {
        let window = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            let expired = "state = 'sending' AND (lease_until_ms IS NULL OR lease_until_ms <= ?1)";
            let doubtful: Vec<i64> = {
                let mut stmt = tx
                    .prepare(&format!(
                        "SELECT id FROM outbox WHERE {expired} AND idempotent = 0 ORDER BY id"
                    ))
                    .map_err(store_error)?;
                stmt.query_map([ms(now)], |r| r.get(0))
                    .map_err(store_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(store_error)?
            };
            tx.execute(
                &format!(
                    "UPDATE outbox SET state = 'in_doubt', owner = NULL, lease_until_ms = NULL,
                       parked_ms = ?1, park_reason = 'in_doubt',
                       last_error = 'its sender stopped mid-send (lease expired): it may have reached AgoraPlus'
                     WHERE {expired} AND idempotent = 0"
                ),
                [ms(now)],
            )
            .map_err(store_error)?;
            for e in doubtful.iter().filter_map(|i| one_entry(&tx, *i).transpose()) {
                let e = e?;
                record_in(&tx, &[event_of_doubt(e.id, &e.operation, e.intervention_id, "its sender stopped mid-send")])?;
            }
            tx.execute(
                &format!(
                    "UPDATE outbox SET state = 'pending', owner = NULL, lease_until_ms = NULL,
                       next_attempt_ms = MAX(next_attempt_ms,
                         COALESCE(sent_ms + MIN(?2, 9223372036854775807 - sent_ms), next_attempt_ms))
                     WHERE {expired} AND idempotent = 1"
                ),
                params![ms(now), window],
            )
            .map_err(store_error)?;
            tx.commit().map_err(store_error)?;
            Ok(doubtful
                .into_iter()
                .filter_map(|i| u64::try_from(i).ok())
                .collect())
        })
        .await
    }
}
