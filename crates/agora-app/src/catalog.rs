//! Use cases 7 and 8: sync the catalog with a durable cursor, and look up
//! a BOM.

use agora_domain::{CountryCode, Lcid, ManufacturerId, SetAside};
use agora_ports::{
    AgoraError, BomLookup, Catalog, CatalogStore, CursorMove, DeltaQuery, SyncCursors,
    bom_by_reference,
};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use agora_ports::Records;
use jiff::Timestamp;

use crate::hub::Agora;

/// Which master data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogKind {
    /// Spare parts.
    SpareParts,
    /// Products.
    Products,
}

impl CatalogKind {
    fn key(self) -> &'static str {
        match self {
            Self::SpareParts => "spareparts",
            Self::Products => "products",
        }
    }
}

/// What a catalog sync did.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogSync {
    /// Records received and upserted.
    pub records: u64,
    /// The day the delta started from.
    pub since: jiff::civil::Date,
    /// The new cursor: when this sync started.
    pub cursor: Timestamp,
    /// AgoraPlus's summary.
    pub message: Option<String>,
    /// The envelope's message when it said `W`.
    pub warning: Option<String>,
    /// The first records that could not be read at all (not an object),
    /// with their index, raw JSON and why; the others were stored.
    pub set_aside: Vec<SetAside>,
    /// How many records were set aside in all.
    pub set_aside_total: u64,
}

/// The first day of a sync without cursor.
const EPOCH: jiff::civil::Date = jiff::civil::date(2000, 1, 1);

impl<A: Catalog, S: CatalogStore + SyncCursors> Agora<A, S> {
    /// Syncs one OEM's spare parts or products in one language: the delta
    /// since the cursor minus the overlap, upserted by key batch by batch
    /// (never the whole delta in memory); the cursor becomes the time the
    /// call started, written in the transaction of the delta's last batch:
    /// it moves only once the whole delta is stored.
    /// `progress` hears the running count after each batch.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// use agora_app::CatalogKind;
    /// use agora_app::domain::{Lcid, ManufacturerId};
    /// let sync = app
    ///     .sync_catalog(ManufacturerId(19), Lcid::ENGLISH, CatalogKind::SpareParts, &mut |n| {
    ///         eprintln!("{n} records")
    ///     })
    ///     .await?;
    /// println!("{} records since {}", sync.records, sync.since);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn sync_catalog(
        &self,
        manufacturer: ManufacturerId,
        language: Lcid,
        kind: CatalogKind,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<CatalogSync, AgoraError> {
        let key = format!("{}/{}/{}", kind.key(), manufacturer.0, language.0);
        let started = self.clock.now();
        let since = match self.store.cursor(&key).await? {
            Some(cursor) => {
                let from = cursor - self.config.delta_overlap;
                jiff::tz::TimeZone::UTC.to_datetime(from).date()
            }
            None => EPOCH,
        };
        let query = DeltaQuery {
            manufacturer,
            since,
            language,
        };
        let records;
        let completes = |last: bool| {
            last.then(|| CursorMove {
                key: key.clone(),
                at: started,
            })
        };
        let summary = match kind {
            CatalogKind::SpareParts => {
                let mut stream = self.api.spare_parts_delta(query).await?;
                records = pipelined(&mut stream, progress, |batch, last| {
                    self.store.upsert_spare_parts(
                        manufacturer,
                        language,
                        batch,
                        started,
                        completes(last),
                    )
                })
                .await?;
                stream.summary()
            }
            CatalogKind::Products => {
                let mut stream = self.api.products_delta(query).await?;
                records = pipelined(&mut stream, progress, |batch, last| {
                    self.store.upsert_products(
                        manufacturer,
                        language,
                        batch,
                        started,
                        completes(last),
                    )
                })
                .await?;
                stream.summary()
            }
        };
        Ok(CatalogSync {
            records,
            since,
            cursor: started,
            message: summary.message,
            warning: summary.warning,
            set_aside: summary.set_aside,
            set_aside_total: summary.set_aside_total,
        })
    }

    /// The bill of materials of a product by its commercial or technical
    /// reference (search, then BOM; once more if the key expired).
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// use agora_app::domain::{CountryCode, ManufacturerId};
    /// if let Some(found) = app.bom(ManufacturerId(19), "ECAM22.110.B", CountryCode(250)).await? {
    ///     println!("{found:?}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn bom(
        &self,
        manufacturer: ManufacturerId,
        reference: &str,
        country: CountryCode,
    ) -> Result<Option<BomLookup>, AgoraError> {
        bom_by_reference(&self.api, manufacturer, reference, country).await
    }
}

/// A boxed store write, as the store ports return them.
pub type Write<'a> = Pin<Box<dyn Future<Output = Result<u64, AgoraError>> + Send + 'a>>;

/// Upserts every batch of `stream`, in order, keeping the next batch's
/// write queued while the current one runs: the store's writer goes from
/// one batch to the next without waiting for this task to wake up (on a
/// busy machine that wait cost the sync ~10% of its time). `write` hears
/// whether its batch is the last (the stream is read one batch ahead to
/// know it); an empty stream writes one empty last batch. At most three
/// batches are held. Returns the records written. When the delta fails,
/// what arrived before is still written, none of it as the last batch,
/// and the delta's error is returned.
///
/// The store must apply writes in the order they were started, as
/// [`CatalogStore`] promises.
pub async fn pipelined<'a, T>(
    stream: &mut Records<T>,
    progress: &mut (dyn FnMut(u64) + Send),
    mut write: impl FnMut(Vec<T>, bool) -> Write<'a>,
) -> Result<u64, AgoraError> {
    let mut records = 0u64;
    let mut in_flight: Option<Write<'a>> = None;
    let mut ahead = Some(stream.next_batch().await?.unwrap_or_default());
    let mut failure = None;
    while let Some(batch) = ahead.take() {
        // A delta that fails after this batch: the batch is still stored
        // (what arrived is kept), but not as the last.
        match stream.next_batch().await {
            Ok(next) => ahead = next,
            Err(e) => failure = Some(e),
        }
        let last = ahead.is_none() && failure.is_none();
        let mut next = write(batch, last);
        // The first poll queues the write; a store that finishes at once
        // has nothing left in flight.
        let queued = std::future::poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx))).await;
        if let Some(earlier) = in_flight.take() {
            records += earlier.await?;
            progress(records);
        }
        match queued {
            Poll::Ready(written) => {
                records += written?;
                progress(records);
            }
            Poll::Pending => in_flight = Some(next),
        }
    }
    if let Some(last) = in_flight {
        records += last.await?;
        progress(records);
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(records),
    }
}
