//! Master data (reference 4), part orders (2.3) and invoicing (3): spare
//! parts, products, search hits with their temporary key, BOM lines, order
//! lines with their logistic status, the invoice reference.

use crate::codes::LogisticStatus;
use crate::ids::{DraftInvoiceNumber, InterventionId, InvoiceNumber, OrderNumber};
use crate::time::WireDateTime;
use crate::wire::wire_model;

wire_model! {
    /// A spare part of the master-data delta.
    pub struct SparePart {
        /// Reference.
        reference: String = "Reference",
        /// Label, in the language asked for.
        label: String = "Label",
    }
}

wire_model! {
    /// A product of the master-data delta.
    pub struct Product {
        /// Commercial reference.
        commercial_ref: String = "CommercialRef",
        /// Technical reference.
        technical_ref: String = "TechnicalRef",
        /// Label.
        label: String = "Label",
    }
}

wire_model! {
    /// A product search hit, with the temporary key that opens its BOM.
    pub struct ProductSearchHit {
        /// Temporary product key, for `PrintBOMData`; it expires.
        product_key: String = "ProductKey",
        /// Commercial reference.
        commercial_ref: String = "CommercialRef",
        /// Technical reference.
        technical_ref: String = "TechnicalRef",
        /// Label.
        label: String = "Label",
    }
}

wire_model! {
    /// One line of a bill of materials.
    pub struct BomLine {
        /// Part reference.
        reference: String = "Reference",
        /// Label.
        label: String = "Label",
        /// Quantity in the product.
        quantity: i64 = "Quantity",
    }
}

wire_model! {
    /// An order line of `PlaceRepairSparepartOrder`, and of its tracking
    /// (with `StatusCode` and `StatusDate`; no status while in transit).
    pub struct PartOrderLine {
        /// Order number.
        order_number: OrderNumber = "OrderNumber",
        /// Part reference.
        reference: String = "Reference",
        /// Quantity.
        quantity: i64 = "Quantity",
        /// Logistic status from the OEM.
        status_code: LogisticStatus = "StatusCode",
        /// When the status was set.
        status_date: WireDateTime = "StatusDate",
    }
}

impl PartOrderLine {
    /// Whether `other` is the same order line: a line is keyed by its order
    /// number and its part reference, never by the number alone (one order
    /// may hold several parts, reference 2.3).
    pub fn same_line(&self, other: &PartOrderLine) -> bool {
        self.order_number == other.order_number && self.reference == other.reference
    }
}

wire_model! {
    /// `CreateRepair`'s answer.
    pub struct CreateRepairResult {
        /// The new repair file.
        intervention_id: InterventionId = "InterventionId",
    }
}

wire_model! {
    /// The invoice reference `CreateeInvoice` sends for a draft invoice.
    pub struct InvoiceReference {
        /// The service center's invoice number.
        invoice_number: InvoiceNumber = "InvoiceNumber",
        /// The draft invoice it answers.
        draft_invoice_number: DraftInvoiceNumber = "DraftInvoiceNumber",
    }
}
