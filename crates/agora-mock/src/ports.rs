//! The simulator as the `agora-ports` traits, for use-case tests without
//! HTTP. Faults apply here too: injected 503s and 500s refuse a call
//! before it runs; drop-after-commit applies it, then reports what a client
//! would (a lost connection: in doubt for a state-changing call). Of an
//! account's answer profile, what changes the data applies here (`W`
//! warnings, per item too); what changes only the wording on the wire (an
//! empty list as 404 or null, titles as labels, numeric codes) is what a
//! client reads back as the same data, so it shows only over HTTP.

use agora_domain::routes::Route;
use agora_domain::{
    BomLine, ClaimId, ClaimTracking, CompleteRepairState, CountryCode, InterventionId,
    InvoiceReference, ManufacturerId, NewMandateResponseData, PartOrderLine, Product,
    ProductSearchHit, SparePart, WarrantyClaim, WarrantyClaimResult,
};
use agora_ports::{
    AgoraError, Catalog, ClaimSubmission, Claims, DeltaQuery, DeltaSummary, Invoices, Mandates,
    PartOrders, RecordStream, Records, Repairs, Reply,
};
use async_trait::async_trait;

use crate::error::{Answer, SimError};
use crate::sim::{Delta, Simulator};

/// One account's view of the simulator, implementing every AgoraPlus port.
#[derive(Debug, Clone)]
pub struct SimClient {
    sim: Simulator,
    key: String,
}

impl Simulator {
    /// The ports as the account with `api_key` sees them.
    pub fn client(&self, api_key: impl Into<String>) -> SimClient {
        SimClient {
            sim: self.clone(),
            key: api_key.into(),
        }
    }
}

impl SimClient {
    fn run<T>(
        &self,
        route: Route,
        op: impl FnOnce(&Simulator, &str) -> Result<Answer<T>, SimError>,
    ) -> Result<Reply<T>, AgoraError> {
        let roll = self.sim.roll_fault(&self.key, route);
        if let Some(refusal) = roll.refuse {
            let err = AgoraError::from(refusal);
            return Err(
                if route.is_idempotent() || matches!(err, AgoraError::Unavailable { .. }) {
                    err
                } else {
                    AgoraError::InDoubt {
                        operation: route.name(),
                        cause: Box::new(err),
                    }
                },
            );
        }
        let answer = op(&self.sim, &self.key).map_err(AgoraError::from)?;
        let answer = self.sim.worded(&self.key, answer);
        if roll.drop_after_commit {
            let lost = AgoraError::transport("connection closed without an answer");
            return Err(if route.is_idempotent() {
                lost
            } else {
                AgoraError::InDoubt {
                    operation: route.name(),
                    cause: Box::new(lost),
                }
            });
        }
        Ok(Reply::warned(
            answer.data,
            if answer.warning { answer.message } else { None },
        ))
    }
}

#[async_trait]
impl Mandates for SimClient {
    async fn new_mandates(
        &self,
        auto_accept: bool,
    ) -> Result<Reply<Vec<NewMandateResponseData>>, AgoraError> {
        self.run(Route::GetNewMandates, |s, k| s.new_mandates(k, auto_accept))
    }

    async fn accepted_mandates(&self) -> Result<Reply<Vec<NewMandateResponseData>>, AgoraError> {
        self.run(Route::GetAcceptedMandates, Simulator::accepted_mandates)
    }
}

#[async_trait]
impl Repairs for SimClient {
    async fn create_repair(
        &self,
        file: &CompleteRepairState,
    ) -> Result<Reply<InterventionId>, AgoraError> {
        let reply = self.run(Route::CreateRepair, |s, k| s.create_repair(k, file.clone()))?;
        let id = reply
            .data
            .intervention_id
            .ok_or_else(|| AgoraError::Rejected(agora_ports::ServiceMessage::default()))?;
        Ok(Reply::warned(id, reply.warning))
    }

    async fn update_repair(&self, file: &CompleteRepairState) -> Result<Reply<()>, AgoraError> {
        self.run(Route::UpdateRepair, |s, k| s.update_repair(k, file.clone()))
    }
}

#[async_trait]
impl PartOrders for SimClient {
    async fn place_order(
        &self,
        intervention: InterventionId,
    ) -> Result<Reply<Vec<PartOrderLine>>, AgoraError> {
        self.run(Route::PlaceRepairSparepartOrder, |s, k| {
            s.place_order(k, intervention)
        })
    }

    async fn order_tracking(
        &self,
        intervention: InterventionId,
    ) -> Result<Reply<Vec<PartOrderLine>>, AgoraError> {
        self.run(Route::GetSparepartOrderTracking, |s, k| {
            s.order_tracking(k, intervention)
        })
    }
}

#[async_trait]
impl Claims for SimClient {
    async fn create_claim(
        &self,
        claim: &WarrantyClaim,
        how: ClaimSubmission,
    ) -> Result<Reply<WarrantyClaimResult>, AgoraError> {
        self.run(Route::CreateWarrantyClaims, |s, k| {
            s.create_claim(k, claim.clone(), how.language, how.transfer_if_valid)
        })
    }

    async fn update_claim(
        &self,
        claim: &WarrantyClaim,
        how: ClaimSubmission,
    ) -> Result<Reply<WarrantyClaimResult>, AgoraError> {
        self.run(Route::UpdateWarrantyClaim, |s, k| {
            s.update_claim(k, claim.clone(), how.language, how.transfer_if_valid)
        })
    }

    async fn claim_status(&self, claim: ClaimId) -> Result<Reply<ClaimTracking>, AgoraError> {
        self.run(Route::GetWarrantyClaimStatus, |s, k| {
            s.claim_status(k, claim)
        })
    }
}

#[async_trait]
impl Invoices for SimClient {
    async fn send_invoice_reference(
        &self,
        reference: &InvoiceReference,
    ) -> Result<Reply<()>, AgoraError> {
        self.run(Route::CreateeInvoice, |s, k| {
            s.create_invoice(k, reference.clone())
        })
    }
}

/// Batches of a lazy delta.
struct DeltaRecords<T> {
    delta: Delta<T>,
    batch: usize,
    count: u64,
    done: bool,
    warning: Option<String>,
}

#[async_trait]
impl<T: Send + 'static> RecordStream<T> for DeltaRecords<T> {
    async fn next_batch(&mut self) -> Result<Option<Vec<T>>, AgoraError> {
        if self.done {
            return Ok(None);
        }
        let batch: Vec<T> = self.delta.by_ref().take(self.batch).collect();
        if batch.is_empty() {
            self.done = true;
            return Ok(None);
        }
        self.count += batch.len() as u64;
        Ok(Some(batch))
    }

    fn summary(&self) -> DeltaSummary {
        DeltaSummary {
            records: self.count,
            message: Some(format!("{} created or updated records found", self.count)),
            warning: self.warning.clone(),
            ..DeltaSummary::default()
        }
    }
}

const BATCH: usize = 1000;

#[async_trait]
impl Catalog for SimClient {
    async fn spare_parts_delta(&self, query: DeltaQuery) -> Result<Records<SparePart>, AgoraError> {
        let reply = self.run(Route::PrintManufacturerSpareParts, |s, k| {
            s.spare_parts_delta(k, query.manufacturer, query.since, query.language)
                .map(Answer::ok)
        })?;
        Ok(Box::new(DeltaRecords {
            delta: reply.data,
            batch: BATCH,
            count: 0,
            done: false,
            warning: reply.warning,
        }))
    }

    async fn products_delta(&self, query: DeltaQuery) -> Result<Records<Product>, AgoraError> {
        let reply = self.run(Route::PrintManufacturerProducts, |s, k| {
            s.products_delta(k, query.manufacturer, query.since, query.language)
                .map(Answer::ok)
        })?;
        Ok(Box::new(DeltaRecords {
            delta: reply.data,
            batch: BATCH,
            count: 0,
            done: false,
            warning: reply.warning,
        }))
    }

    async fn search_products(
        &self,
        manufacturer: ManufacturerId,
        keyword: &str,
        country: CountryCode,
    ) -> Result<Reply<Vec<ProductSearchHit>>, AgoraError> {
        self.run(Route::SearchProductByRef, |s, k| {
            s.search_products(k, manufacturer, keyword, country)
        })
    }

    async fn bom(&self, product_key: &str) -> Result<Reply<Vec<BomLine>>, AgoraError> {
        self.run(Route::PrintBomData, |s, k| s.bom(k, product_key))
    }
}
