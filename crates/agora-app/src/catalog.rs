//! Use cases 7 and 8: sync the catalog with a durable cursor, and look up
//! a BOM.

use agora_domain::{CountryCode, Lcid, ManufacturerId};
use agora_ports::{
    AgoraError, BomLookup, Catalog, CatalogStore, DeltaQuery, SyncCursors, bom_by_reference,
};
use jiff::Timestamp;

use crate::agora::Agora;

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
}

/// The first day of a sync without cursor.
const EPOCH: jiff::civil::Date = jiff::civil::date(2000, 1, 1);

impl<A: Catalog, S: CatalogStore + SyncCursors> Agora<A, S> {
    /// Syncs one OEM's spare parts or products in one language: the delta
    /// since the cursor minus the overlap, upserted by key batch by batch
    /// (never the whole delta in memory); the cursor becomes the time the
    /// call started, and only once the whole delta is stored.
    /// `progress` hears the running count after each batch.
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
        let mut records = 0u64;
        let message = match kind {
            CatalogKind::SpareParts => {
                let mut stream = self.api.spare_parts_delta(query).await?;
                while let Some(batch) = stream.next_batch().await? {
                    records += self
                        .store
                        .upsert_spare_parts(manufacturer, language, batch)
                        .await?;
                    progress(records);
                }
                stream.summary().message
            }
            CatalogKind::Products => {
                let mut stream = self.api.products_delta(query).await?;
                while let Some(batch) = stream.next_batch().await? {
                    records += self
                        .store
                        .upsert_products(manufacturer, language, batch)
                        .await?;
                    progress(records);
                }
                stream.summary().message
            }
        };
        self.store.set_cursor(&key, started).await?;
        Ok(CatalogSync {
            records,
            since,
            cursor: started,
            message,
        })
    }

    /// The bill of materials of a product by its commercial or technical
    /// reference (search, then BOM; once more if the key expired).
    pub async fn bom(
        &self,
        manufacturer: ManufacturerId,
        reference: &str,
        country: CountryCode,
    ) -> Result<Option<BomLookup>, AgoraError> {
        bom_by_reference(&self.api, manufacturer, reference, country).await
    }
}
