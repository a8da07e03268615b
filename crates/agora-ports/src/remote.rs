//! The outbound ports: AgoraPlus, split by area. Each is implemented by the
//! HTTP client (`agora-http`) and by the in-memory simulator (`agora-mock`).

use agora_domain::{
    BomLine, ClaimId, ClaimTracking, CompleteRepairState, CountryCode, InterventionId,
    InvoiceReference, Lcid, ManufacturerId, NewMandateResponseData, PartOrderLine, Product,
    ProductSearchHit, SetAside, SparePart, WarrantyClaim, WarrantyClaimResult,
};
use async_trait::async_trait;

use crate::error::AgoraError;

/// A successful answer, with the warning AgoraPlus attached to it when its
/// envelope said `W`, and the list items that could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<T> {
    /// The data.
    pub data: T,
    /// The envelope's message when `ResponseStatus` was `W`.
    pub warning: Option<String>,
    /// Elements of a list answer that could not be read at all, each with
    /// its raw JSON and the reason; `data` holds the rest.
    pub set_aside: Vec<SetAside>,
}

impl<T> Reply<T> {
    /// A reply without warning.
    pub fn ok(data: T) -> Self {
        Self {
            data,
            warning: None,
            set_aside: Vec::new(),
        }
    }

    /// A reply with the envelope's warning, if any.
    pub fn warned(data: T, warning: Option<String>) -> Self {
        Self {
            data,
            warning,
            set_aside: Vec::new(),
        }
    }

    /// The same reply around other data (warning and set-aside items kept).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reply<U> {
        Reply {
            data: f(self.data),
            warning: self.warning,
            set_aside: self.set_aside,
        }
    }

    /// The data, dropping any warning.
    pub fn into_data(self) -> T {
        self.data
    }
}

/// Work orders (reference 2.1).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Mandates: Send + Sync {
    /// `GetNewMandates`: the work orders with status NEW. With
    /// `auto_accept`, AgoraPlus accepts each one and creates its repair file:
    /// each item then carries its `InterventionId` and its own status.
    /// This changes server state: a caller that loses the answer MUST
    /// reconcile with [`Mandates::accepted_mandates`].
    async fn new_mandates(
        &self,
        auto_accept: bool,
    ) -> Result<Reply<Vec<NewMandateResponseData>>, AgoraError>;

    /// `GetAcceptedMandates`: the work orders with status ACCEPTED, each
    /// with its repair file's `InterventionId`.
    async fn accepted_mandates(&self) -> Result<Reply<Vec<NewMandateResponseData>>, AgoraError>;
}

/// Repair files (reference 2.2).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Repairs: Send + Sync {
    /// `CreateRepair`: a repair file without a prior work order. Not
    /// idempotent: a failure after sending is [`AgoraError::InDoubt`].
    async fn create_repair(
        &self,
        file: &CompleteRepairState,
    ) -> Result<Reply<InterventionId>, AgoraError>;

    /// `UpdateRepair`: replaces the whole repair file named by its
    /// `InterventionId` (idempotent). MUST fail with `NotFound` for a file of
    /// another account, and with `Rejected`/`BadRequest` for a closed file or
    /// a status that lacks what its code requires.
    async fn update_repair(&self, file: &CompleteRepairState) -> Result<Reply<()>, AgoraError>;
}

/// Spare-part orders of a repair (reference 2.3).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PartOrders: Send + Sync {
    /// `PlaceRepairSparepartOrder`: orders the file's parts marked
    /// `ToBeOrdered`; one line per ordered part. Not idempotent.
    async fn place_order(
        &self,
        intervention: InterventionId,
    ) -> Result<Reply<Vec<PartOrderLine>>, AgoraError>;

    /// The logistic status of each order line of the file.
    async fn order_tracking(
        &self,
        intervention: InterventionId,
    ) -> Result<Reply<Vec<PartOrderLine>>, AgoraError>;
}

/// How a claim is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimSubmission {
    /// The language of the validation messages.
    pub language: Lcid,
    /// Transfer to the OEM at once when the claim is VALID.
    pub transfer_if_valid: bool,
}

/// Warranty claims (reference 2.5).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Claims: Send + Sync {
    /// `CreateWarrantyClaims`: the rules' verdict comes back as data (with
    /// `ValidationErrors`), not as an error. Not idempotent.
    async fn create_claim(
        &self,
        claim: &WarrantyClaim,
        how: ClaimSubmission,
    ) -> Result<Reply<WarrantyClaimResult>, AgoraError>;

    /// `UpdateWarrantyClaim`: corrects the claim named by `ClaimID`.
    async fn update_claim(
        &self,
        claim: &WarrantyClaim,
        how: ClaimSubmission,
    ) -> Result<Reply<WarrantyClaimResult>, AgoraError>;

    /// The claim's `LastStatus`.
    async fn claim_status(&self, claim: ClaimId) -> Result<Reply<ClaimTracking>, AgoraError>;
}

/// Invoicing (reference 3).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Invoices: Send + Sync {
    /// `CreateeInvoice`: links the service center's invoice number to a
    /// draft invoice. Not idempotent; a draft takes one invoice number.
    async fn send_invoice_reference(
        &self,
        reference: &InvoiceReference,
    ) -> Result<Reply<()>, AgoraError>;
}

/// Which delta of master data to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaQuery {
    /// The OEM.
    pub manufacturer: ManufacturerId,
    /// Records changed since this day (the day of the last call).
    pub since: jiff::civil::Date,
    /// The language of labels.
    pub language: Lcid,
}

/// What a delta call ended with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeltaSummary {
    /// How many records were handed to the sink.
    pub records: u64,
    /// Records that could not be read at all (not an object), each with its
    /// index in `ResponseData`, raw JSON and the reason: the first ones
    /// only (an implementation keeps a bounded number, e.g. 64).
    pub set_aside: Vec<SetAside>,
    /// How many records were set aside in all.
    pub set_aside_total: u64,
    /// The envelope's `ResponseMessage`.
    pub message: Option<String>,
    /// The envelope's message when it said `W`.
    pub warning: Option<String>,
}

/// The records of a delta, pulled in batches so that memory stays bounded
/// whatever the size of the delta. The envelope's verdict is only known at
/// the end: the last `next_batch` fails if the envelope said `E`.
#[async_trait]
pub trait RecordStream<T>: Send {
    /// The next batch; `Ok(None)` once the delta is complete and its
    /// envelope said success.
    async fn next_batch(&mut self) -> Result<Option<Vec<T>>, AgoraError>;

    /// The envelope's summary; complete once `next_batch` returned `Ok(None)`.
    fn summary(&self) -> DeltaSummary;
}

/// A delta being received.
pub type Records<T> = Box<dyn RecordStream<T>>;

/// A [`RecordStream`] over records already in memory, in batches of
/// `batch_size`: what an in-memory implementation returns.
#[derive(Debug)]
pub struct VecRecords<T> {
    records: std::vec::IntoIter<T>,
    batch_size: usize,
    summary: DeltaSummary,
}

impl<T> VecRecords<T> {
    /// Streams `records`, `batch_size` at a time, ending with `summary`.
    pub fn new(records: Vec<T>, batch_size: usize, summary: DeltaSummary) -> Self {
        Self {
            records: records.into_iter(),
            batch_size: batch_size.max(1),
            summary,
        }
    }
}

#[async_trait]
impl<T: Send> RecordStream<T> for VecRecords<T> {
    async fn next_batch(&mut self) -> Result<Option<Vec<T>>, AgoraError> {
        let batch: Vec<T> = self.records.by_ref().take(self.batch_size).collect();
        Ok((!batch.is_empty()).then_some(batch))
    }

    fn summary(&self) -> DeltaSummary {
        self.summary.clone()
    }
}

/// Reads a whole delta into memory: for small deltas and tests.
pub async fn collect_records<T>(mut records: Records<T>) -> Result<Vec<T>, AgoraError> {
    let mut all = Vec::new();
    while let Some(batch) = records.next_batch().await? {
        all.extend(batch);
    }
    Ok(all)
}

/// Master data (reference 4).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Catalog: Send + Sync {
    /// The spare parts changed since `query.since`, as a stream of batches.
    /// The envelope's verdict is checked even when it comes after the
    /// records: an error then surfaces after some batches were delivered,
    /// so a caller MUST NOT advance its cursor unless the stream ended with
    /// `Ok(None)` (upserting the delivered records again is harmless).
    async fn spare_parts_delta(&self, query: DeltaQuery) -> Result<Records<SparePart>, AgoraError>;

    /// The products changed since `query.since`, as a stream of batches.
    async fn products_delta(&self, query: DeltaQuery) -> Result<Records<Product>, AgoraError>;

    /// `SearchProductByRef`: products matching a commercial or technical
    /// reference, each with a temporary `ProductKey`.
    async fn search_products(
        &self,
        manufacturer: ManufacturerId,
        keyword: &str,
        country: CountryCode,
    ) -> Result<Reply<Vec<ProductSearchHit>>, AgoraError>;

    /// `PrintBOMData`: the bill of materials of a product key. MUST fail with
    /// [`AgoraError::ProductKeyExpired`] when the key has expired.
    async fn bom(&self, product_key: &str) -> Result<Reply<Vec<BomLine>>, AgoraError>;
}

/// A bill of materials found by product reference.
#[derive(Debug, Clone, PartialEq)]
pub struct BomLookup {
    /// The product the BOM is of.
    pub product: ProductSearchHit,
    /// Its lines.
    pub lines: Vec<BomLine>,
}

/// Looks up the BOM of a product by reference: search, pick the hit whose
/// commercial or technical reference equals `keyword` (else the first), then
/// `PrintBOMData` with its temporary key; when the key has expired, search
/// again once. `Ok(None)` when the search finds nothing.
pub async fn bom_by_reference<C: Catalog + ?Sized>(
    catalog: &C,
    manufacturer: ManufacturerId,
    keyword: &str,
    country: CountryCode,
) -> Result<Option<BomLookup>, AgoraError> {
    let mut searched_again = false;
    loop {
        let hits = catalog
            .search_products(manufacturer, keyword, country)
            .await?
            .data;
        let Some(hit) = pick_hit(hits, keyword) else {
            return Ok(None);
        };
        let Some(key) = hit.product_key.clone() else {
            return Err(AgoraError::Invalid(format!(
                "the search hit for `{keyword}` has no ProductKey"
            )));
        };
        match catalog.bom(&key).await {
            Ok(reply) => {
                return Ok(Some(BomLookup {
                    product: hit,
                    lines: reply.data,
                }));
            }
            Err(AgoraError::ProductKeyExpired(_)) if !searched_again => searched_again = true,
            Err(e) => return Err(e),
        }
    }
}

fn pick_hit(hits: Vec<ProductSearchHit>, keyword: &str) -> Option<ProductSearchHit> {
    let exact = hits.iter().position(|h| {
        h.commercial_ref.as_deref() == Some(keyword) || h.technical_ref.as_deref() == Some(keyword)
    });
    let mut hits = hits;
    match exact {
        Some(i) => Some(hits.swap_remove(i)),
        None => hits.into_iter().next(),
    }
}

/// Everything AgoraPlus offers, for code that holds one client for all areas.
pub trait AgoraPlus: Mandates + Repairs + PartOrders + Claims + Invoices + Catalog {}

impl<T: Mandates + Repairs + PartOrders + Claims + Invoices + Catalog> AgoraPlus for T {}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::error::ServiceMessage;

    /// A catalog whose keys expire `expiries` times before a BOM is given.
    struct Expiring {
        expiries: Mutex<u32>,
        searches: Mutex<u32>,
    }

    #[async_trait]
    impl Catalog for Expiring {
        async fn spare_parts_delta(&self, _: DeltaQuery) -> Result<Records<SparePart>, AgoraError> {
            Ok(Box::new(VecRecords::new(
                Vec::new(),
                1,
                DeltaSummary::default(),
            )))
        }
        async fn products_delta(&self, _: DeltaQuery) -> Result<Records<Product>, AgoraError> {
            Ok(Box::new(VecRecords::new(
                Vec::new(),
                1,
                DeltaSummary::default(),
            )))
        }
        async fn search_products(
            &self,
            _: ManufacturerId,
            keyword: &str,
            _: CountryCode,
        ) -> Result<Reply<Vec<ProductSearchHit>>, AgoraError> {
            let mut n = self.searches.lock().unwrap();
            *n += 1;
            let hit = |r: &str| ProductSearchHit {
                product_key: Some(format!("key-{n}-{r}")),
                commercial_ref: Some(r.to_owned()),
                ..ProductSearchHit::default()
            };
            Ok(Reply::ok(vec![hit("OTHER"), hit(keyword)]))
        }
        async fn bom(&self, key: &str) -> Result<Reply<Vec<BomLine>>, AgoraError> {
            let mut left = self.expiries.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return Err(AgoraError::ProductKeyExpired(ServiceMessage::default()));
            }
            Ok(Reply::ok(vec![BomLine {
                reference: Some(key.to_owned()),
                ..BomLine::default()
            }]))
        }
    }

    fn catalog(expiries: u32) -> Expiring {
        Expiring {
            expiries: Mutex::new(expiries),
            searches: Mutex::new(0),
        }
    }

    #[tokio::test]
    async fn bom_searches_again_once_when_the_key_expired() {
        let c = catalog(1);
        let found = bom_by_reference(&c, ManufacturerId(19), "ECAM", CountryCode(250))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(*c.searches.lock().unwrap(), 2);
        assert_eq!(found.product.commercial_ref.as_deref(), Some("ECAM"));
        assert_eq!(found.lines[0].reference.as_deref(), Some("key-2-ECAM"));

        let c = catalog(2);
        let err = bom_by_reference(&c, ManufacturerId(19), "ECAM", CountryCode(250))
            .await
            .unwrap_err();
        assert!(matches!(err, AgoraError::ProductKeyExpired(_)));
        assert_eq!(*c.searches.lock().unwrap(), 2, "only one more search");
    }
}
