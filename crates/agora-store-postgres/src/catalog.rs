//! The catalog on PostgreSQL: a writer thread with a connection of its own
//! runs the catalog's operations one after another, in the order they were
//! started (as the SQLite store's catalog thread does). A caller may keep
//! the next batch queued while one is written, await them in any order, or
//! let its runtime go: the writer goes on.
//!
//! A batch is upserted in one transaction: binary `COPY` into a temporary
//! staging table, one `INSERT … ON CONFLICT DO UPDATE`, and the cursor it
//! completes.

use std::collections::HashMap;

use agora_domain::wire::WriteJson;
use agora_domain::{Lcid, ManufacturerId, Product, SparePart};
use agora_ports::{AgoraError, CatalogStore, CursorMove, event_of_catalog_sync};
use async_trait::async_trait;
use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

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
                    let result = match connected(&config, &mut client).await {
                        Ok(c) => {
                            let at = (manufacturer, language, ms(as_of));
                            upsert(c, at, &batch, completes.as_ref()).await
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
                    let result = match connected(&config, &mut client).await {
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

/// The writer's connection, opened (again) when needed.
async fn connected<'c>(
    config: &tokio_postgres::Config,
    client: &'c mut Option<tokio_postgres::Client>,
) -> Result<&'c mut tokio_postgres::Client, AgoraError> {
    if client
        .as_ref()
        .is_none_or(tokio_postgres::Client::is_closed)
    {
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

async fn upsert(
    client: &mut tokio_postgres::Client,
    at: (ManufacturerId, Lcid, i64),
    batch: &Batch,
    completes: Option<&CursorMove>,
) -> Result<u64, AgoraError> {
    match batch {
        Batch::Parts(parts) => {
            upsert_records(
                client,
                "spare_parts",
                "reference",
                at,
                last_of_each_key(parts, |p| p.reference.as_deref()),
                completes,
            )
            .await
        }
        Batch::Products(products) => {
            upsert_records(
                client,
                "products",
                "commercial_ref",
                at,
                last_of_each_key(products, |p| p.commercial_ref.as_deref()),
                completes,
            )
            .await
        }
    }
}

/// One transaction: `COPY` the rows into the staging table, upsert them
/// (replacing a stored record only from a sync that started no earlier),
/// move the cursor. Returns the rows written.
async fn upsert_records<T: WriteJson + Sync>(
    client: &mut tokio_postgres::Client,
    table: &str,
    key_column: &str,
    (manufacturer, language, as_of): (ManufacturerId, Lcid, i64),
    rows: Vec<(&str, &T)>,
    completes: Option<&CursorMove>,
) -> Result<u64, AgoraError> {
    let tx = client.transaction().await.map_err(store_error)?;
    let sink = tx
        .copy_in::<_, bytes::Bytes>("COPY agora_catalog_staging (key, record) FROM STDIN BINARY")
        .await
        .map_err(store_error)?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::TEXT]));
    let mut json = Vec::with_capacity(1024);
    for (k, record) in &rows {
        json.clear();
        // The record whole, unknown fields included.
        record.write_json(&mut json).map_err(store_error)?;
        let text = std::str::from_utf8(&json).map_err(store_error)?;
        writer
            .as_mut()
            .write(&[k, &text])
            .await
            .map_err(store_error)?;
    }
    writer.finish().await.map_err(store_error)?;
    let written = tx
        .execute(
            &format!(
                "INSERT INTO {table} (manufacturer, language, {key_column}, record, synced_ms)
                 SELECT $1, $2, key, record, $3 FROM agora_catalog_staging
                 ON CONFLICT (manufacturer, language, {key_column})
                 DO UPDATE SET record = EXCLUDED.record, synced_ms = EXCLUDED.synced_ms
                 WHERE EXCLUDED.synced_ms >= {table}.synced_ms"
            ),
            &[&i64::from(manufacturer.0), &i64::from(language.0), &as_of],
        )
        .await
        .map_err(store_error)?;
    if let Some(cursor) = completes {
        tx.execute(SET_CURSOR, &[&cursor.key, &ms(cursor.at)])
            .await
            .map_err(store_error)?;
        record_in_tx(&tx, &[event_of_catalog_sync(&cursor.key, cursor.at)]).await?;
    }
    tx.commit().await.map_err(store_error)?;
    Ok(written)
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
