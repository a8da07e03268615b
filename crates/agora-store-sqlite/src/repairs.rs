//! The repair files table: rows, revisions, and the `RepairFiles` port;
//! the work orders pulled.

use agora_domain::lifecycle::RepairLifecycle;
use agora_domain::wire::read_stored;
use agora_domain::{
    ClaimId, CompleteRepairState, InterventionId, MandateId, MandateLightResponse, PartOrderLine,
};
use agora_ports::{
    AgoraError, KeptWorkOrder, LocalRepair, Operation, RepairFiles, event_of_work_order,
    events_of_repair_write,
};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::events::record_in;
use crate::outbox::enqueue_in;
use crate::{SqliteStore, from_ms, ms, store_error, write_tx};

pub(crate) fn repair_from_row(row: &Row<'_>) -> rusqlite::Result<RepairRow> {
    Ok(RepairRow {
        id: row.get(0)?,
        mandate: row.get(1)?,
        claim: row.get(2)?,
        file: row.get(3)?,
        lifecycle: row.get(4)?,
        orders: row.get(5)?,
        attention: row.get(6)?,
        revision: row.get(7)?,
        work_order: row.get(8)?,
        accepted_ms: row.get(9)?,
    })
}

pub(crate) struct RepairRow {
    id: i64,
    mandate: Option<i64>,
    claim: Option<i64>,
    file: String,
    lifecycle: String,
    orders: String,
    attention: Option<String>,
    revision: i64,
    work_order: Option<String>,
    accepted_ms: Option<i64>,
}

pub(crate) fn decode_repair(row: RepairRow) -> Result<LocalRepair, AgoraError> {
    let id = row.id;
    // Wire data is kept as it arrived: read it back as tolerantly as the
    // answer it came in.
    let file: CompleteRepairState = read_stored(&row.file)
        .map_err(|e| AgoraError::store(format!("repair {id}: unreadable file: {e}")))?;
    let lifecycle: RepairLifecycle = serde_json::from_str(&row.lifecycle)
        .map_err(|e| AgoraError::store(format!("repair {id}: unreadable lifecycle: {e}")))?;
    let orders: Vec<PartOrderLine> = read_stored(&row.orders)
        .map_err(|e| AgoraError::store(format!("repair {id}: unreadable orders: {e}")))?;
    let work_order = row
        .work_order
        .as_deref()
        .map(read_stored)
        .transpose()
        .map_err(|e| AgoraError::store(format!("repair {id}: unreadable work order: {e}")))?;
    Ok(LocalRepair {
        intervention_id: InterventionId(id),
        mandate_id: row.mandate.map(MandateId::from),
        file,
        lifecycle,
        claim_id: row.claim.map(ClaimId::from),
        orders,
        attention: row.attention,
        revision: u64::try_from(row.revision).unwrap_or(0),
        work_order,
        accepted_at: row.accepted_ms.map(from_ms),
    })
}

pub(crate) const REPAIR_COLUMNS: &str = "intervention_id, mandate_id, claim_id, file, lifecycle, \
     orders, attention, revision, work_order, accepted_ms";

pub(crate) fn one_repair(
    conn: &Connection,
    filter: &str,
    value: i64,
) -> Result<Option<LocalRepair>, AgoraError> {
    conn.query_row(
        &format!("SELECT {REPAIR_COLUMNS} FROM repairs WHERE {filter} = ?1"),
        [value],
        repair_from_row,
    )
    .optional()
    .map_err(store_error)?
    .map(decode_repair)
    .transpose()
}

/// Writes a repair file if its revision is still the stored one (0: a new
/// file), raising the revision; a conflict otherwise.
/// The change's events are recorded with it (`agora_ports::events_of_repair_write`).
pub(crate) fn upsert_repair_in(conn: &Connection, r: &LocalRepair) -> Result<(), AgoraError> {
    let old = if r.revision == 0 {
        None
    } else {
        one_repair(conn, "intervention_id", r.intervention_id.0)?
    };
    write_repair_in(conn, r)?;
    record_in(conn, &events_of_repair_write(old.as_ref(), r))
}

fn write_repair_in(conn: &Connection, r: &LocalRepair) -> Result<(), AgoraError> {
    let file = serde_json::to_string(&r.file).map_err(store_error)?;
    let lifecycle = serde_json::to_string(&r.lifecycle).map_err(store_error)?;
    let orders = serde_json::to_string(&r.orders).map_err(store_error)?;
    let revision = i64::try_from(r.revision).map_err(store_error)?;
    let work_order = r
        .work_order
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(store_error)?;
    let conflict = || {
        AgoraError::Conflict(format!(
            "repair file {} was written by another process since it was read",
            r.intervention_id
        ))
    };
    if revision == 0 {
        let n = conn
            .execute(
                "INSERT INTO repairs (intervention_id, mandate_id, claim_id, file, lifecycle, orders, attention, revision, work_order, accepted_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?9) ON CONFLICT DO NOTHING",
                params![r.intervention_id.0, r.mandate_id.map(i64::from), r.claim_id.map(i64::from), file, lifecycle, orders, r.attention, work_order, r.accepted_at.map(ms)],
            )
            .map_err(store_error)?;
        return if n == 1 { Ok(()) } else { Err(conflict()) };
    }
    let n = conn
        .execute(
            "UPDATE repairs SET mandate_id = ?2, claim_id = ?3, file = ?4, lifecycle = ?5,
               orders = ?6, attention = ?7, revision = revision + 1, work_order = ?9,
               accepted_ms = ?10
             WHERE intervention_id = ?1 AND revision = ?8",
            params![
                r.intervention_id.0,
                r.mandate_id.map(i64::from),
                r.claim_id.map(i64::from),
                file,
                lifecycle,
                orders,
                r.attention,
                revision,
                work_order,
                r.accepted_at.map(ms)
            ],
        )
        .map_err(store_error)?;
    if n == 1 { Ok(()) } else { Err(conflict()) }
}

/// A kept work order's row: (mandate id, JSON, repair file, seen at ms).
type WorkOrderRow = (i64, String, Option<i64>, i64);

fn work_order_from_row(row: &Row<'_>) -> rusqlite::Result<WorkOrderRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn decode_work_order(
    (id, json, intervention, seen): WorkOrderRow,
) -> Result<KeptWorkOrder, AgoraError> {
    Ok(KeptWorkOrder {
        mandate: read_stored(&json)
            .map_err(|e| AgoraError::store(format!("work order {id}: unreadable: {e}")))?,
        intervention_id: intervention.map(InterventionId::from),
        seen_at: from_ms(seen),
    })
}

const WORK_ORDER_COLUMNS: &str = "mandate_id, work_order, intervention_id, seen_ms";

#[async_trait]
impl RepairFiles for SqliteStore {
    async fn upsert_repair(&self, repair: &LocalRepair) -> Result<(), AgoraError> {
        let repair = repair.clone();
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            upsert_repair_in(&tx, &repair)?;
            tx.commit().map_err(store_error)
        })
        .await
    }

    async fn repair(&self, id: InterventionId) -> Result<Option<LocalRepair>, AgoraError> {
        self.with_state(move |c| one_repair(c, "intervention_id", id.0))
            .await
    }

    async fn repair_by_mandate(&self, id: MandateId) -> Result<Option<LocalRepair>, AgoraError> {
        self.with_state(move |c| one_repair(c, "mandate_id", id.0))
            .await
    }

    async fn repair_by_claim(&self, id: ClaimId) -> Result<Option<LocalRepair>, AgoraError> {
        self.with_state(move |c| one_repair(c, "claim_id", id.0))
            .await
    }

    async fn repairs(&self) -> Result<Vec<LocalRepair>, AgoraError> {
        self.with_state(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {REPAIR_COLUMNS} FROM repairs ORDER BY intervention_id"
                ))
                .map_err(store_error)?;
            let rows = stmt
                .query_map([], repair_from_row)
                .map_err(store_error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(store_error)?;
            rows.into_iter().map(decode_repair).collect()
        })
        .await
    }

    async fn save_with_operation(
        &self,
        repair: &LocalRepair,
        operation: Option<Operation>,
        now: Timestamp,
    ) -> Result<Option<u64>, AgoraError> {
        let repair = repair.clone();
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            upsert_repair_in(&tx, &repair)?;
            let id = operation
                .map(|op| enqueue_in(&tx, Some(repair.intervention_id), &op, now))
                .transpose()?;
            tx.commit().map_err(store_error)?;
            Ok(id)
        })
        .await
    }

    async fn keep_work_order(
        &self,
        mandate: &MandateLightResponse,
        intervention_id: Option<InterventionId>,
        seen_at: Timestamp,
    ) -> Result<(), AgoraError> {
        let Some(id) = mandate.mandate_id else {
            return Ok(());
        };
        let json = serde_json::to_string(mandate).map_err(store_error)?;
        let received = event_of_work_order(mandate, intervention_id);
        self.with_state(move |c| {
            let tx = write_tx(c)?;
            let known: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM work_orders WHERE mandate_id = ?1)",
                    [id.0],
                    |r| r.get(0),
                )
                .map_err(store_error)?;
            if !known {
                record_in(&tx, &[received])?;
            }
            tx.execute(
                "INSERT INTO work_orders (mandate_id, work_order, intervention_id, seen_ms)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (mandate_id) DO UPDATE SET work_order = excluded.work_order,
                   intervention_id = COALESCE(excluded.intervention_id, work_orders.intervention_id),
                   seen_ms = excluded.seen_ms",
                params![id.0, json, intervention_id.map(|i| i.0), ms(seen_at)],
            )
            .map_err(store_error)?;
            tx.commit().map_err(store_error)
        })
        .await
    }

    async fn work_order(&self, id: MandateId) -> Result<Option<KeptWorkOrder>, AgoraError> {
        self.with_state(move |c| {
            c.query_row(
                &format!("SELECT {WORK_ORDER_COLUMNS} FROM work_orders WHERE mandate_id = ?1"),
                [id.0],
                work_order_from_row,
            )
            .optional()
            .map_err(store_error)?
            .map(decode_work_order)
            .transpose()
        })
        .await
    }

    async fn work_orders(&self) -> Result<Vec<KeptWorkOrder>, AgoraError> {
        self.with_state(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {WORK_ORDER_COLUMNS} FROM work_orders ORDER BY mandate_id"
                ))
                .map_err(store_error)?;
            let rows = stmt
                .query_map([], work_order_from_row)
                .map_err(store_error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(store_error)?;
            rows.into_iter().map(decode_work_order).collect()
        })
        .await
    }
}
