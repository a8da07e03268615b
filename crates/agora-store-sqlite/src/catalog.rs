//! The catalog tables, written by the catalog thread: multi-row upserts
//! applied in order, and the `CatalogStore` port.

use agora_domain::{Lcid, ManufacturerId, Product, SparePart};
use agora_ports::{AgoraError, CatalogStore, CursorMove, event_of_catalog_sync};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, params};

use crate::cursors::set_cursor_in;
use crate::events::record_in;
use crate::{SqliteStore, store_error};

/// Rows per `INSERT` in a catalog upsert. Row by row, most of the time
/// went to stepping the statement and binding; 32 rows a statement write a
/// million parts ~40% faster (`docs/benchmarks.md`).
pub(crate) const ROWS_PER_INSERT: usize = 32;

/// The upsert of `rows` records into a catalog table. Rows are applied in
/// order, so of two with the same key in one statement the later wins, as
/// it would row by row.
///
/// Every row carries when its sync started (`synced_ms`): a stored record is
/// replaced only by one of a sync that started no earlier.
pub(crate) fn upsert_sql(table: &str, key_column: &str, rows: usize) -> String {
    let values = vec!["(?, ?, ?, ?, ?)"; rows].join(", ");
    format!(
        "INSERT INTO {table} (manufacturer, language, {key_column}, record, synced_ms)
         VALUES {values}
         ON CONFLICT (manufacturer, language, {key_column}) DO UPDATE
         SET record = excluded.record, synced_ms = excluded.synced_ms
         WHERE excluded.synced_ms >= {table}.synced_ms"
    )
}

pub(crate) fn upsert_records<T: agora_domain::wire::WriteJson>(
    c: &mut Connection,
    table: &str,
    key_column: &str,
    (manufacturer, language, as_of): (ManufacturerId, Lcid, i64),
    records: &[T],
    key: impl Fn(&T) -> Option<&str>,
    completes: Option<&CursorMove>,
) -> Result<u64, AgoraError> {
    let keyed: Vec<(&str, &T)> = records
        .iter()
        .filter_map(|r| key(r).map(|k| (k, r)))
        .collect();
    let tx = c.transaction().map_err(store_error)?;
    {
        let mut texts = Vec::with_capacity(ROWS_PER_INSERT * 128);
        let mut ends = Vec::with_capacity(ROWS_PER_INSERT);
        let mut chunks = keyed.chunks_exact(ROWS_PER_INSERT);
        let mut many = tx
            .prepare_cached(&upsert_sql(table, key_column, ROWS_PER_INSERT))
            .map_err(store_error)?;
        let mut one = tx
            .prepare_cached(&upsert_sql(table, key_column, 1))
            .map_err(store_error)?;
        for chunk in &mut chunks {
            upsert_rows(
                &mut many,
                (manufacturer, language, as_of),
                chunk,
                &mut texts,
                &mut ends,
            )?;
        }
        for row in chunks.remainder() {
            upsert_rows(
                &mut one,
                (manufacturer, language, as_of),
                std::slice::from_ref(row),
                &mut texts,
                &mut ends,
            )?;
        }
    }
    if let Some(cursor) = completes {
        set_cursor_in(&tx, &cursor.key, cursor.at)?;
        record_in(&tx, &[event_of_catalog_sync(&cursor.key, cursor.at)])?;
    }
    tx.commit().map_err(store_error)?;
    Ok(keyed.len() as u64)
}

/// Runs `stmt` (the upsert of `rows.len()` rows) on `rows`; `texts` and
/// `ends` are scratch space for the records' JSON.
pub(crate) fn upsert_rows<T: agora_domain::wire::WriteJson>(
    stmt: &mut rusqlite::Statement<'_>,
    (manufacturer, language, as_of): (ManufacturerId, Lcid, i64),
    rows: &[(&str, &T)],
    texts: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) -> Result<(), AgoraError> {
    texts.clear();
    ends.clear();
    for (_, record) in rows {
        // The record whole, unknown fields included, as its Serialize form
        // would write it (the direct writer is the faster path).
        record.write_json(texts).map_err(store_error)?;
        ends.push(texts.len());
    }
    let json = std::str::from_utf8(texts).map_err(store_error)?;
    let mut start = 0;
    for (i, ((k, _), &end)) in rows.iter().zip(ends.iter()).enumerate() {
        let text = json
            .get(start..end)
            .ok_or_else(|| AgoraError::store("a record's JSON was cut mid-character"))?;
        start = end;
        let at = 5 * i;
        stmt.raw_bind_parameter(at + 1, manufacturer.0)
            .and_then(|()| stmt.raw_bind_parameter(at + 2, language.0))
            .and_then(|()| stmt.raw_bind_parameter(at + 3, *k))
            .and_then(|()| stmt.raw_bind_parameter(at + 4, text))
            .and_then(|()| stmt.raw_bind_parameter(at + 5, as_of))
            .map_err(store_error)?;
    }
    stmt.raw_execute().map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn upsert_spare_parts(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
        batch: Vec<SparePart>,
        as_of: Timestamp,
        completes: Option<CursorMove>,
    ) -> Result<u64, AgoraError> {
        let as_of = as_of.as_millisecond();
        self.with_catalog(move |c| {
            upsert_records(
                c,
                "spare_parts",
                "reference",
                (manufacturer, language, as_of),
                &batch,
                |p| p.reference.as_deref(),
                completes.as_ref(),
            )
        })
        .await
    }

    async fn upsert_products(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
        batch: Vec<Product>,
        as_of: Timestamp,
        completes: Option<CursorMove>,
    ) -> Result<u64, AgoraError> {
        let as_of = as_of.as_millisecond();
        self.with_catalog(move |c| {
            upsert_records(
                c,
                "products",
                "commercial_ref",
                (manufacturer, language, as_of),
                &batch,
                |p| p.commercial_ref.as_deref(),
                completes.as_ref(),
            )
        })
        .await
    }

    async fn count_spare_parts(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
    ) -> Result<u64, AgoraError> {
        self.with_catalog(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM spare_parts WHERE manufacturer = ?1 AND language = ?2",
                params![manufacturer.0, language.0],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(store_error)
        })
        .await
    }
}
