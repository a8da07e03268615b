//! The ports of `agora-ports`, implemented over HTTP through the route table.

use agora_domain::redact::Messages;
use agora_domain::routes::Route;
use agora_domain::wire::{WriteJson, to_json_vec};
use agora_domain::{
    BomLine, ClaimId, ClaimTracking, CompleteRepairState, CountryCode, CreateRepairResult,
    DecodeError, InterventionId, InvoiceReference, ManufacturerId, NewMandateResponseData,
    OneOrMany, PartOrderLine, Product, ProductSearchHit, SparePart, WarrantyClaim,
    WarrantyClaimResult,
};
use agora_ports::{
    AgoraError, Catalog, ClaimSubmission, Claims, DeltaQuery, Invoices, Mandates, PartOrders,
    Records, Repairs, Reply, ServiceMessage,
};
use async_trait::async_trait;

use crate::client::{AgoraClient, Call};

impl AgoraClient {
    fn post<B: WriteJson>(
        &self,
        route: Route,
        query: &[(&str, String)],
        body: &B,
    ) -> Result<Call<'_>, AgoraError> {
        // Large enough for a typical update, small enough for the
        // allocator's per-thread cache (larger blocks take a locked path).
        let bytes = to_json_vec(body, 1024).map_err(|e| {
            AgoraError::Invalid(format!("cannot encode the {} body: {e}", route.name()))
        })?;
        Ok(Call {
            body: Some(bytes.into()),
            ..self.call(route, query)
        })
    }

    async fn submit_claim(
        &self,
        route: Route,
        claim: &WarrantyClaim,
        how: ClaimSubmission,
    ) -> Result<Reply<WarrantyClaimResult>, AgoraError> {
        // The reference writes the parameter both ways (`transferIsValid`
        // in 2.5.1 Inputs, `transferIfValid` in "OEM Tracking response"):
        // both are sent, with the same value (docs/wire-notes.md).
        let transfer = how.transfer_if_valid.to_string();
        let query = [
            ("language", how.language.to_string()),
            ("transferIfValid", transfer.clone()),
            ("transferIsValid", transfer),
        ];
        let idempotent = route.is_idempotent_claim_submission(how.transfer_if_valid);
        let call = Call {
            idempotent,
            ..self.post(route, &query, claim)?
        };
        let mut reply: Reply<OneOrMany<WarrantyClaimResult>> = self.send(call).await?;
        reply.data.redact_messages(self.config.api_key.expose());
        let mut results = std::mem::take(&mut reply.data).into_vec();
        if results.len() != 1 {
            // Not the answer to one claim: what happened to it is unknown.
            let why = format!("{} claim results for one claim", results.len());
            let error = AgoraError::Decode {
                error: DecodeError::custom(route.name(), "ResponseData", why),
                snippet: String::new(),
            };
            return Err(if idempotent {
                error
            } else {
                AgoraError::InDoubt {
                    operation: route.name(),
                    cause: Box::new(error),
                }
            });
        }
        Ok(reply.map(|_| results.remove(0)))
    }
}

/// The one item of a route that answers about one thing: its
/// `ResponseData` may be the object or an array of it (reference 5.3.4.5:
/// "ResponseData is an Array"). None when the array is empty; the item
/// `pick` chooses when there are several and one matches; else an
/// unreadable answer naming how many came.
fn the_one<T>(
    route: Route,
    mut items: Vec<T>,
    pick: impl Fn(&T) -> bool,
) -> Result<Option<T>, AgoraError> {
    if items.len() > 1 {
        let matching: Vec<usize> = (0..items.len()).filter(|&i| pick(&items[i])).collect();
        if let [one] = matching[..] {
            return Ok(Some(items.swap_remove(one)));
        }
        let why = format!("{} items where one was expected", items.len());
        return Err(AgoraError::Decode {
            error: DecodeError::custom(route.name(), "ResponseData", why),
            snippet: String::new(),
        });
    }
    Ok(items.pop())
}

impl AgoraClient {
    /// [`Mandates::new_mandates`], called without boxing its future.
    pub async fn new_mandates(
        &self,
        auto_accept: bool,
    ) -> Result<Reply<Vec<NewMandateResponseData>>, AgoraError> {
        let query = [("autoAccept", auto_accept.to_string())];
        let mut reply: Reply<Vec<NewMandateResponseData>> = self
            .send_list(self.call(Route::GetNewMandates, &query))
            .await?;
        reply.data.redact_messages(self.config.api_key.expose());
        Ok(reply)
    }

    /// [`Mandates::accepted_mandates`], called without boxing its future.
    pub async fn accepted_mandates(
        &self,
    ) -> Result<Reply<Vec<NewMandateResponseData>>, AgoraError> {
        let mut reply: Reply<Vec<NewMandateResponseData>> = self
            .send_list(self.call(Route::GetAcceptedMandates, &[]))
            .await?;
        reply.data.redact_messages(self.config.api_key.expose());
        Ok(reply)
    }
}

#[async_trait]
impl Mandates for AgoraClient {
    async fn new_mandates(
        &self,
        auto_accept: bool,
    ) -> Result<Reply<Vec<NewMandateResponseData>>, AgoraError> {
        AgoraClient::new_mandates(self, auto_accept).await
    }

    async fn accepted_mandates(&self) -> Result<Reply<Vec<NewMandateResponseData>>, AgoraError> {
        AgoraClient::accepted_mandates(self).await
    }
}

impl AgoraClient {
    /// [`Repairs::create_repair`], called without boxing its future.
    pub async fn create_repair(
        &self,
        file: &CompleteRepairState,
    ) -> Result<Reply<InterventionId>, AgoraError> {
        let route = Route::CreateRepair;
        let reply: Reply<OneOrMany<CreateRepairResult>> =
            self.send(self.post(route, &[], file)?).await?;
        let result = the_one(route, reply.data.into_vec(), |_| true)
            .map_err(|e| AgoraError::InDoubt {
                operation: route.name(),
                cause: Box::new(e),
            })?
            .unwrap_or_default();
        let id = result.intervention_id.ok_or_else(|| AgoraError::InDoubt {
            operation: Route::CreateRepair.name(),
            cause: Box::new(AgoraError::Rejected(ServiceMessage {
                message: Some("CreateRepair answered without InterventionId".to_owned()),
                status: None,
            })),
        })?;
        Ok(Reply::warned(id, reply.warning))
    }

    /// [`Repairs::update_repair`], called without boxing its future.
    pub async fn update_repair(&self, file: &CompleteRepairState) -> Result<Reply<()>, AgoraError> {
        if file.intervention_id.is_none() {
            return Err(AgoraError::Invalid(
                "UpdateRepair needs the file's InterventionId".to_owned(),
            ));
        }
        self.send_unit(self.post(Route::UpdateRepair, &[], file)?)
            .await
    }
}

#[async_trait]
impl Repairs for AgoraClient {
    async fn create_repair(
        &self,
        file: &CompleteRepairState,
    ) -> Result<Reply<InterventionId>, AgoraError> {
        AgoraClient::create_repair(self, file).await
    }

    async fn update_repair(&self, file: &CompleteRepairState) -> Result<Reply<()>, AgoraError> {
        AgoraClient::update_repair(self, file).await
    }
}

impl AgoraClient {
    /// [`PartOrders::place_order`], called without boxing its future.
    pub async fn place_order(
        &self,
        intervention: InterventionId,
    ) -> Result<Reply<Vec<PartOrderLine>>, AgoraError> {
        let query = [("interventionId", intervention.to_string())];
        let call = Call {
            body: Some(bytes::Bytes::from_static(b"{}")),
            ..self.call(Route::PlaceRepairSparepartOrder, &query)
        };
        // One order for the call (an object) or one line per part (an
        // array): both are AgoraPlus's answer (docs/wire-notes.md).
        let reply: Reply<OneOrMany<PartOrderLine>> = self.send(call).await?;
        Ok(reply.map(OneOrMany::into_vec))
    }

    /// [`PartOrders::order_tracking`], called without boxing its future.
    pub async fn order_tracking(
        &self,
        intervention: InterventionId,
    ) -> Result<Reply<Vec<PartOrderLine>>, AgoraError> {
        let query = [("interventionId", intervention.to_string())];
        let reply: Reply<OneOrMany<PartOrderLine>> = self
            .send_list(self.call(Route::GetSparepartOrderTracking, &query))
            .await?;
        Ok(reply.map(OneOrMany::into_vec))
    }
}

#[async_trait]
impl PartOrders for AgoraClient {
    async fn place_order(
        &self,
        intervention: InterventionId,
    ) -> Result<Reply<Vec<PartOrderLine>>, AgoraError> {
        AgoraClient::place_order(self, intervention).await
    }

    async fn order_tracking(
        &self,
        intervention: InterventionId,
    ) -> Result<Reply<Vec<PartOrderLine>>, AgoraError> {
        AgoraClient::order_tracking(self, intervention).await
    }
}

impl AgoraClient {
    /// [`Claims::create_claim`], called without boxing its future.
    pub async fn create_claim(
        &self,
        claim: &WarrantyClaim,
        how: ClaimSubmission,
    ) -> Result<Reply<WarrantyClaimResult>, AgoraError> {
        self.submit_claim(Route::CreateWarrantyClaims, claim, how)
            .await
    }

    /// [`Claims::update_claim`], called without boxing its future.
    pub async fn update_claim(
        &self,
        claim: &WarrantyClaim,
        how: ClaimSubmission,
    ) -> Result<Reply<WarrantyClaimResult>, AgoraError> {
        if claim.claim_id.is_none() {
            return Err(AgoraError::Invalid(
                "UpdateWarrantyClaim needs the claim's ClaimID".to_owned(),
            ));
        }
        self.submit_claim(Route::UpdateWarrantyClaim, claim, how)
            .await
    }

    /// [`Claims::claim_status`], called without boxing its future.
    pub async fn claim_status(&self, claim: ClaimId) -> Result<Reply<ClaimTracking>, AgoraError> {
        let query = [("claimId", claim.to_string())];
        let reply: Reply<OneOrMany<ClaimTracking>> = self
            .send_list(self.call(Route::GetWarrantyClaimStatus, &query))
            .await?;
        let route = Route::GetWarrantyClaimStatus;
        let set_aside = reply.set_aside.clone();
        let warning = reply.warning.clone();
        let mut tracking = the_one(route, reply.data.into_vec(), |t| t.claim_id == Some(claim))?;
        tracking.redact_messages(self.config.api_key.expose());
        Ok(Reply {
            data: tracking.unwrap_or_default(),
            warning,
            set_aside,
        })
    }
}

#[async_trait]
impl Claims for AgoraClient {
    async fn create_claim(
        &self,
        claim: &WarrantyClaim,
        how: ClaimSubmission,
    ) -> Result<Reply<WarrantyClaimResult>, AgoraError> {
        AgoraClient::create_claim(self, claim, how).await
    }

    async fn update_claim(
        &self,
        claim: &WarrantyClaim,
        how: ClaimSubmission,
    ) -> Result<Reply<WarrantyClaimResult>, AgoraError> {
        AgoraClient::update_claim(self, claim, how).await
    }

    async fn claim_status(&self, claim: ClaimId) -> Result<Reply<ClaimTracking>, AgoraError> {
        AgoraClient::claim_status(self, claim).await
    }
}

impl AgoraClient {
    /// [`Invoices::send_invoice_reference`], called without boxing its future.
    pub async fn send_invoice_reference(
        &self,
        reference: &InvoiceReference,
    ) -> Result<Reply<()>, AgoraError> {
        if reference
            .invoice_number
            .as_deref()
            .is_none_or(str::is_empty)
            || reference
                .draft_invoice_number
                .as_deref()
                .is_none_or(str::is_empty)
        {
            return Err(AgoraError::Invalid(
                "CreateeInvoice needs an InvoiceNumber and a DraftInvoiceNumber".to_owned(),
            ));
        }
        self.send_unit(self.post(Route::CreateeInvoice, &[], reference)?)
            .await
    }
}

#[async_trait]
impl Invoices for AgoraClient {
    async fn send_invoice_reference(
        &self,
        reference: &InvoiceReference,
    ) -> Result<Reply<()>, AgoraError> {
        AgoraClient::send_invoice_reference(self, reference).await
    }
}

impl AgoraClient {
    /// [`Catalog::spare_parts_delta`], called without boxing its future.
    pub async fn spare_parts_delta(
        &self,
        query: DeltaQuery,
    ) -> Result<Records<SparePart>, AgoraError> {
        self.delta(Route::PrintManufacturerSpareParts, query).await
    }

    /// [`Catalog::products_delta`], called without boxing its future.
    pub async fn products_delta(&self, query: DeltaQuery) -> Result<Records<Product>, AgoraError> {
        self.delta(Route::PrintManufacturerProducts, query).await
    }

    /// [`Catalog::search_products`], called without boxing its future.
    pub async fn search_products(
        &self,
        manufacturer: ManufacturerId,
        keyword: &str,
        country: CountryCode,
    ) -> Result<Reply<Vec<ProductSearchHit>>, AgoraError> {
        let query = [
            ("manufacturerId", manufacturer.to_string()),
            ("keyWord", keyword.to_owned()),
            // ISO 3166 numeric, three digits (reference 6.1): `056`.
            ("countryCode", format!("{:03}", country.0)),
        ];
        self.send_list(self.call(Route::SearchProductByRef, &query))
            .await
    }

    /// [`Catalog::bom`], called without boxing its future.
    pub async fn bom(&self, product_key: &str) -> Result<Reply<Vec<BomLine>>, AgoraError> {
        let query = [("productKey", product_key.to_owned())];
        self.send(self.call(Route::PrintBomData, &query)).await
    }
}

#[async_trait]
impl Catalog for AgoraClient {
    async fn spare_parts_delta(&self, query: DeltaQuery) -> Result<Records<SparePart>, AgoraError> {
        AgoraClient::spare_parts_delta(self, query).await
    }

    async fn products_delta(&self, query: DeltaQuery) -> Result<Records<Product>, AgoraError> {
        AgoraClient::products_delta(self, query).await
    }

    async fn search_products(
        &self,
        manufacturer: ManufacturerId,
        keyword: &str,
        country: CountryCode,
    ) -> Result<Reply<Vec<ProductSearchHit>>, AgoraError> {
        AgoraClient::search_products(self, manufacturer, keyword, country).await
    }

    async fn bom(&self, product_key: &str) -> Result<Reply<Vec<BomLine>>, AgoraError> {
        AgoraClient::bom(self, product_key).await
    }
}
