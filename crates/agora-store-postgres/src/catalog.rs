//! The catalog on PostgreSQL: a writer thread with a connection of its own
//! runs the catalog's operations one after another, in the order they were
//! started (as the SQLite store's catalog thread does). A caller may keep
//! the next batch queued while one is written, await them in any order, or
//! let its runtime go: the writer goes on.
//!
//! A batch is upserted in one transaction: binary `COPY` into a temporary
//! staging table, one `INSERT … ON CONFLICT DO UPDATE`, and the cursor it
//! completes. A sync that starts on an OEM's empty catalog (its first full
//! sync) copies its batches straight into the table instead, the
//! physical floor of a load: each batch is one `COPY` statement, its own
//! transaction (the batch that completes the sync, with its cursor, in
//! one). A batch that meets a stored key there (a concurrent sync, a key
//! repeated across batches) writes nothing and is upserted through the
//! staging table, and that sync's later batches go that way too.
//! The `COPY` statements are prepared once per connection: a batch copied
//! straight costs two round trips (the `COPY`'s start and its end), its
//! rows streamed to the server as they are encoded.

use std::collections::HashMap;

use agora_domain::wire::WriteJson;
use agora_domain::{Lcid, ManufacturerId, Product, SparePart};
use agora_ports::{AgoraError, CatalogStore, CursorMove, event_of_catalog_sync};
use async_trait::async_trait;
use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{CopyInSink, Statement, Transaction};

use crate::events::record_in_tx;
use crate::{PostgresStore, SET_CURSOR, ms, store_error};

/// The records of one upsert.
enum Batch {
    Parts(Vec<SparePart>),
    Products(Vec<Product>),
}

enum Job {
    Upsert {
        manufacturer: ManufacturerId,
        language: Lcid,
        batch: Batch,
        as_of: Timestamp,
        completes: Option<CursorMove>,
        done: oneshot::Sender<Result<u64, AgoraError>>,
    },
    Count {
        manufacturer: ManufacturerId,
        language: Lcid,
        done: oneshot::Sender<Result<u64, AgoraError>>,
    },
}

/// The handle on the writer thread; the thread ends when the last handle
/// is dropped.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Writer {
    /// Starts the thread; it connects when its first job comes.
    pub(crate) fn start(config: tokio_postgres::Config) -> Result<Self, AgoraError> {
        let (jobs, queue) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("agora-pg-catalog".to_owned())
            .spawn(move || run(config, queue))
            .map_err(|e| AgoraError::store(format!("cannot start the catalog thread: {e}")))?;
        Ok(Self { jobs })
    }

    /// Queues a job (at once: the order of calls is the order of work) and
    /// waits for its answer.
    async fn ask(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<u64, AgoraError>>) -> Job,
    ) -> Result<u64, AgoraError> {
        let stopped = || AgoraError::store("the catalog thread has stopped");
        let (done, answer) = oneshot::channel();
        self.jobs.send(job(done)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn run(config: tokio_postgres::Config, mut queue: mpsc::UnboundedReceiver<Job>) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async move {
        let mut client: Option<tokio_postgres::Client> = None;
        let mut straight = Straight::default();
        let mut prepared = Prepared::default();
        while let Some(job) = queue.recv().await {
            let (result, done) = match job {
                Job::Upsert {
                    manufacturer,
                    language,
                    batch,
                    as_of,
                    completes,
                    done,
                } => {
                    let result = match connected(&config, &mut client, &mut prepared).await {
                        Ok(c) => {
                            let at = (manufacturer, language, ms(as_of));
                            let state = (&mut straight, &mut prepared);
                            upsert(c, at, &batch, completes.as_ref(), state).await
                        }
                        Err(e) => Err(e),
                    };
                    (result, done)
                }
                Job::Count {
                    manufacturer,
                    language,
                    done,
                } => {
                    let result = match connected(&config, &mut client, &mut prepared).await {
                        Ok(c) => count(c, manufacturer, language).await,
                        Err(e) => Err(e),
                    };
                    (result, done)
                }
            };
            if result.is_err()
                && client
                    .as_ref()
                    .is_some_and(tokio_postgres::Client::is_closed)
            {
                client = None;
            }
            let _ = done.send(result);
        }
    });
}

/// The writer's connection, opened (again) when needed; `prepared` holds
/// statements of the connection, forgotten with it.
async fn connected<'c>(
    config: &tokio_postgres::Config,
    client: &'c mut Option<tokio_postgres::Client>,
    prepared: &mut Prepared,
) -> Result<&'c mut tokio_postgres::Client, AgoraError> {
    if client
        .as_ref()
        .is_none_or(tokio_postgres::Client::is_closed)
    {
        prepared.0.clear();
        let (c, connection) = config
            .connect(crate::connect::tls()?)
            .await
            .map_err(store_error)?;
        tokio::spawn(connection);
        c.batch_execute(
            "CREATE TEMP TABLE agora_catalog_staging
               (key TEXT NOT NULL, record TEXT NOT NULL) ON COMMIT DELETE ROWS",
        )
        .await
        .map_err(store_error)?;
        *client = Some(c);
    }
    client
        .as_mut()
        .ok_or_else(|| AgoraError::store("no catalog connection"))
}

/// The records of `batch` to store, by key: keyless ones are left out and,
/// of several with one key, the last wins (one `INSERT … ON CONFLICT` may
/// not touch a row twice).
fn last_of_each_key<T>(batch: &[T], key: impl Fn(&T) -> Option<&str>) -> Vec<(&str, &T)> {
    let keyed: Vec<(&str, &T)> = batch
        .iter()
        .filter_map(|r| key(r).map(|k| (k, r)))
        .collect();
    let mut last = HashMap::with_capacity(keyed.len());
    for (i, (k, _)) in keyed.iter().enumerate() {
        last.insert(*k, i);
    }
    keyed
        .iter()
        .enumerate()
        .filter(|(i, (k, _))| last.get(k) == Some(i))
        .map(|(_, pair)| *pair)
        .collect()
}

/// Which syncs copy their batches straight into the table: by table, OEM
/// and language, the start (`as_of`) of the sync last seen there and
/// whether it found that catalog empty (and has met no stored key since).
#[derive(Default)]
struct Straight(HashMap<(&'static str, i64, i64), (i64, bool)>);

impl Straight {
    /// Whether this batch goes straight into the table: decided at the
    /// first batch of a sync, by whether the OEM's catalog is empty then.
    async fn decide(
        &mut self,
        client: &tokio_postgres::Client,
        table: &'static str,
        (manufacturer, language, as_of): (i64, i64, i64),
    ) -> Result<bool, AgoraError> {
        if let Some((seen, straight)) = self.0.get(&(table, manufacturer, language)) {
            if *seen == as_of {
                return Ok(*straight);
            }
        }
        let empty: bool = client
            .query_one(
                &format!(
                    "SELECT NOT EXISTS (SELECT 1 FROM {table}
                       WHERE manufacturer = $1 AND language = $2)"
                ),
                &[&manufacturer, &language],
            )
            .await
            .map_err(store_error)?
            .get(0);
        self.0
            .insert((table, manufacturer, language), (as_of, empty));
        Ok(empty)
    }

    /// The sync of `as_of` met a stored key: its later batches are upserted.
    fn met_a_key(&mut self, table: &'static str, (manufacturer, language, as_of): (i64, i64, i64)) {
        self.0
            .insert((table, manufacturer, language), (as_of, false));
    }
}

/// Statements prepared on the writer's connection, by their text.
#[derive(Default)]
struct Prepared(HashMap<String, Statement>);

impl Prepared {
    async fn get(
        &mut self,
        client: &impl tokio_postgres::GenericClient,
        sql: &str,
    ) -> Result<Statement, AgoraError> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = client.prepare(sql).await.map_err(store_error)?;
        self.0.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

async fn upsert(
    client: &mut tokio_postgres::Client,
    (manufacturer, language, as_of): (ManufacturerId, Lcid, i64),
    batch: &Batch,
    completes: Option<&CursorMove>,
    straight: (&mut Straight, &mut Prepared),
) -> Result<u64, AgoraError> {
    let at = (i64::from(manufacturer.0), i64::from(language.0), as_of);
    match batch {
        Batch::Parts(parts) => {
            let rows = last_of_each_key(parts, |p| p.reference.as_deref());
            upsert_records(
                client,
                ("spare_parts", "reference"),
                at,
                rows,
                completes,
                straight,
            )
            .await
        }
        Batch::Products(products) => {
            let rows = last_of_each_key(products, |p| p.commercial_ref.as_deref());
            upsert_records(
                client,
                ("products", "commercial_ref"),
                at,
                rows,
                completes,
                straight,
            )
            .await
        }
    }
}

/// One transaction: the rows copied straight into the table when this
/// sync found the OEM's catalog empty (see the module), else `COPY`'d
/// into the staging table and upserted (replacing a stored record only
/// from a sync that started no earlier); then the cursor moves. Returns
/// the rows written.
async fn upsert_records<T: WriteJson + Sync>(
    client: &mut tokio_postgres::Client,
    (table, key_column): (&'static str, &str),
    at: (i64, i64, i64),
    rows: Vec<(&str, &T)>,
    completes: Option<&CursorMove>,
    (straight, prepared): (&mut Straight, &mut Prepared),
) -> Result<u64, AgoraError> {
    let (manufacturer, language, as_of) = at;
    if straight.decide(client, table, at).await? {
        let copy = prepared
            .get(
                client,
                &format!(
                    "COPY {table} (manufacturer, language, {key_column}, record, synced_ms) FROM STDIN BINARY"
                ),
            )
            .await?;
        let types = [Type::INT8, Type::INT8, Type::TEXT, Type::TEXT, Type::INT8];
        let around: Around = (&[&manufacturer, &language], &[&as_of]);
        let copied = match completes {
            // One statement, its own transaction: all of the batch or
            // nothing, committed when it ends.
            None => copy_rows(client.copy_in(&copy).await, &types, &rows, around).await?,
            Some(cursor) => {
                let tx = client.transaction().await.map_err(store_error)?;
                match copy_rows(tx.copy_in(&copy).await, &types, &rows, around).await? {
                    Ok(()) => {
                        move_cursor(&tx, cursor).await?;
                        tx.commit().await.map_err(store_error)?;
                        Ok(())
                    }
                    // Dropped: rolled back.
                    Err(e) => Err(e),
                }
            }
        };
        match copied {
            Ok(()) => return Ok(rows.len() as u64),
            // Nothing of the batch was written: upserted below.
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                straight.met_a_key(table, at);
            }
            Err(e) => return Err(store_error(e)),
        }
    }
    let tx = client.transaction().await.map_err(store_error)?;
    let copy = prepared
        .get(
            &tx,
            "COPY agora_catalog_staging (key, record) FROM STDIN BINARY",
        )
        .await?;
    copy_rows(
        tx.copy_in(&copy).await,
        &[Type::TEXT, Type::TEXT],
        &rows,
        (&[], &[]),
    )
    .await?
    .map_err(store_error)?;
    let insert = prepared
        .get(
            &tx,
            &format!(
                "INSERT INTO {table} (manufacturer, language, {key_column}, record, synced_ms)
                 SELECT $1, $2, key, record, $3 FROM agora_catalog_staging
                 ON CONFLICT (manufacturer, language, {key_column})
                 DO UPDATE SET record = EXCLUDED.record, synced_ms = EXCLUDED.synced_ms
                 WHERE EXCLUDED.synced_ms >= {table}.synced_ms"
            ),
        )
        .await?;
    let written = tx
        .execute(&insert, &[&manufacturer, &language, &as_of])
        .await
        .map_err(store_error)?;
    if let Some(cursor) = completes {
        move_cursor(&tx, cursor).await?;
    }
    tx.commit().await.map_err(store_error)?;
    Ok(written)
}

/// Moves the cursor a batch completes, with its event, in the batch's
/// transaction.
async fn move_cursor(tx: &Transaction<'_>, cursor: &CursorMove) -> Result<(), AgoraError> {
    tx.execute(SET_CURSOR, &[&cursor.key, &ms(cursor.at)])
        .await
        .map_err(store_error)?;
    record_in_tx(tx, &[event_of_catalog_sync(&cursor.key, cursor.at)]).await
}

/// The values written before a row's key and after its record.
type Around<'a> = (&'a [&'a (dyn ToSql + Sync)], &'a [&'a (dyn ToSql + Sync)]);

/// `COPY`s `rows` (key, then the record whole as JSON, unknown fields
/// included, between the values `around` them) into `sink`, a binary
/// `COPY` just started. The database's error is given back as it is (the
/// caller tells a stored key from other failures); a record that cannot be
/// written as JSON is the outer error.
async fn copy_rows<T: WriteJson + Sync>(
    sink: Result<CopyInSink<bytes::Bytes>, tokio_postgres::Error>,
    types: &[Type],
    rows: &[(&str, &T)],
    (before, after): Around<'_>,
) -> Result<Result<(), tokio_postgres::Error>, AgoraError> {
    let sink = match sink {
        Ok(sink) => sink,
        Err(e) => return Ok(Err(e)),
    };
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, types));
    let mut json = Vec::with_capacity(1024);
    for (k, record) in rows {
        json.clear();
        record.write_json(&mut json).map_err(store_error)?;
        let text = std::str::from_utf8(&json).map_err(store_error)?;
        let mut values: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(types.len());
        values.extend_from_slice(before);
        values.push(k);
        values.push(&text);
        values.extend_from_slice(after);
        if let Err(e) = writer.as_mut().write(&values).await {
            return Ok(Err(e));
        }
    }
    Ok(writer.finish().await.map(|_| ()))
}

async fn count(
    client: &mut tokio_postgres::Client,
    manufacturer: ManufacturerId,
    language: Lcid,
) -> Result<u64, AgoraError> {
    let n: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM spare_parts WHERE manufacturer = $1 AND language = $2",
            &[&i64::from(manufacturer.0), &i64::from(language.0)],
        )
        .await
        .map_err(store_error)?
        .get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

#[async_trait]
impl CatalogStore for PostgresStore {
    async fn upsert_spare_parts(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
        batch: Vec<SparePart>,
        as_of: Timestamp,
        completes: Option<CursorMove>,
    ) -> Result<u64, AgoraError> {
        let keyed = batch.iter().filter(|p| p.reference.is_some()).count() as u64;
        self.catalog
            .ask(|done| Job::Upsert {
                manufacturer,
                language,
                batch: Batch::Parts(batch),
                as_of,
                completes,
                done,
            })
            .await?;
        Ok(keyed)
    }

    async fn upsert_products(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
        batch: Vec<Product>,
        as_of: Timestamp,
        completes: Option<CursorMove>,
    ) -> Result<u64, AgoraError> {
        let keyed = batch.iter().filter(|p| p.commercial_ref.is_some()).count() as u64;
        self.catalog
            .ask(|done| Job::Upsert {
                manufacturer,
                language,
                batch: Batch::Products(batch),
                as_of,
                completes,
                done,
            })
            .await?;
        Ok(keyed)
    }

    async fn count_spare_parts(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
    ) -> Result<u64, AgoraError> {
        self.catalog
            .ask(|done| Job::Count {
                manufacturer,
                language,
                done,
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_several_records_with_one_key_the_last_is_kept_and_keyless_ones_dropped() {
        let batch = [("A", 1), ("B", 2), ("", 3), ("A", 4), ("C", 5), ("B", 6)];
        let kept: Vec<(&str, i32)> =
            last_of_each_key(&batch, |(k, _)| (!k.is_empty()).then_some(*k))
                .into_iter()
                .map(|(k, r)| (k, r.1))
                .collect();
        assert_eq!(kept, vec![("A", 4), ("C", 5), ("B", 6)]);
    }
}
