//! The month end (reference 3.1): the OEM's CSV of the month's approved
//! claims matched against the local files, and the invoice reference of
//! its draft sent with the claims it lists once they match. The reading
//! and the matching rule are the domain's (`agora_domain::month_end`).

use agora_domain::month_end::{
    ClaimsCsv, CsvMapping, LocalClaim, Period, Reconciliation, read_claims_csv, reconcile,
};
use agora_domain::{DraftInvoiceNumber, InvoiceNumber, ManufacturerId};
use agora_ports::{
    AgoraError, Claims, Invoices, LocalRepair, Outbox, PartOrders, RepairFiles, Repairs,
};
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::hub::Agora;
use crate::outbox::Delivery;

/// The time zone the month of a claim is taken in unless told otherwise.
pub const DEFAULT_MONTH_ZONE: &str = "Europe/Paris";

/// How a month's CSV is read and matched.
#[derive(Debug, Clone)]
pub struct MonthEnd {
    /// The OEM's layout (what cannot be detected) and the local amount.
    pub mapping: CsvMapping,
    /// The OEM whose draft it is: only its claims are expected in the CSV;
    /// every OEM's when `None`.
    pub oem: Option<ManufacturerId>,
    /// The month the CSV covers.
    pub period: Period,
    /// The time zone the month of a claim is taken in.
    pub zone: TimeZone,
}

impl MonthEnd {
    /// The month before the one `now` falls in (in `zone`): the month a
    /// CSV received now covers.
    pub fn previous_month(now: jiff::Timestamp, zone: &TimeZone) -> Period {
        Period::of(now, zone).previous()
    }
}

/// A month's CSV matched against the local files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthEndReport {
    /// The draft invoice the CSV came with.
    pub draft: DraftInvoiceNumber,
    /// The OEM, when one was given.
    pub oem: Option<ManufacturerId>,
    /// The time zone of the month.
    pub zone: String,
    /// How the CSV was read: its encoding, separator and columns.
    pub encoding: String,
    /// Its separator.
    pub separator: char,
    /// Its rows of claims.
    pub rows: usize,
    /// What matched and what did not.
    pub reconciliation: Reconciliation,
}

impl MonthEndReport {
    /// Everything matched.
    pub fn is_clean(&self) -> bool {
        self.reconciliation.is_clean()
    }
}

/// Reads the value at a JSON pointer of the repair file as an amount (a
/// number, or a numeric string with either decimal mark).
fn local_amount(repair: &LocalRepair, pointer: &str) -> Option<Decimal> {
    let file = serde_json::to_value(&repair.file).ok()?;
    match file.pointer(pointer)? {
        serde_json::Value::Number(n) => n.to_string().parse().ok(),
        serde_json::Value::String(s) => agora_domain::month_end::parse_amount(s, None),
        _ => None,
    }
}

/// The local files' claims, as the month end sees them.
fn local_claims(repairs: &[LocalRepair], how: &MonthEnd) -> Vec<LocalClaim> {
    repairs
        .iter()
        .filter_map(|r| {
            Some(LocalClaim {
                claim_id: r.claim_id?,
                intervention_id: r.intervention_id,
                manufacturer: r.lifecycle.manufacturer,
                state: r.lifecycle.claim,
                invoiced: r.lifecycle.invoiced,
                accepted_in: r.accepted_at.map(|t| Period::of(t, &how.zone)),
                amount: how
                    .mapping
                    .local_amount
                    .as_deref()
                    .and_then(|p| local_amount(r, p)),
            })
        })
        .collect()
}

impl<A, S> Agora<A, S>
where
    A: Repairs + PartOrders + Claims + Invoices,
    S: RepairFiles + Outbox,
{
    /// Reads the OEM's CSV (`csv`, the file's bytes) and matches it
    /// against the local files: nothing is sent. A value the CSV does not
    /// let read is refused, naming its row and column.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>) -> Result<(), agora_app::AgoraError> {
    /// use agora_app::MonthEnd;
    /// use agora_app::domain::month_end::CsvMapping;
    /// let how = MonthEnd {
    ///     mapping: CsvMapping::default(),
    ///     oem: None,
    ///     period: "2026-11".parse().expect("a month"),
    ///     zone: jiff::tz::TimeZone::get("Europe/Paris").expect("a zone"),
    /// };
    /// let csv = std::fs::read("DR-19-00001.csv").expect("the CSV");
    /// let report = app.match_draft_csv(&"DR-19-00001".into(), &csv, &how).await?;
    /// println!("{}", report.reconciliation.summary());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn match_draft_csv(
        &self,
        draft: &DraftInvoiceNumber,
        csv: &[u8],
        how: &MonthEnd,
    ) -> Result<MonthEndReport, AgoraError> {
        let read: ClaimsCsv = read_claims_csv(csv, &how.mapping)
            .map_err(|e| AgoraError::Invalid(format!("the CSV of draft {draft}: {e}")))?;
        let repairs = self.store.repairs().await?;
        let local = local_claims(&repairs, how);
        let reconciliation = reconcile(&read.claims, &local, how.period, how.oem);
        Ok(MonthEndReport {
            draft: draft.clone(),
            oem: how.oem,
            zone: how.zone.iana_name().unwrap_or("UTC").to_owned(),
            encoding: read.encoding.as_str().to_owned(),
            separator: read.separator,
            rows: read.claims.len(),
            reconciliation,
        })
    }

    /// Matches the CSV ([`Agora::match_draft_csv`]) and sends the invoice
    /// reference of the draft with the claims it lists, through the outbox
    /// (once, as [`Agora::register_invoice`]). Refused when the match is
    /// not clean, unless `accept_differences`: then the matched claims
    /// alone go.
    ///
    /// ```no_run
    /// # async fn example(app: agora_app::Agora<agora_http::AgoraClient, agora_store::Store>, how: agora_app::MonthEnd) -> Result<(), agora_app::AgoraError> {
    /// let csv = std::fs::read("DR-19-00001.csv").expect("the CSV");
    /// let (report, delivery) = app
    ///     .register_invoice_from_csv(&"DR-19-00001".into(), &"F-2026-000731".into(), &csv, &how, false)
    ///     .await?;
    /// println!("{}; outbox entry {}", report.reconciliation.summary(), delivery.entry());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn register_invoice_from_csv(
        &self,
        draft: &DraftInvoiceNumber,
        invoice_number: &InvoiceNumber,
        csv: &[u8],
        how: &MonthEnd,
        accept_differences: bool,
    ) -> Result<(MonthEndReport, Delivery), AgoraError> {
        let report = self.match_draft_csv(draft, csv, how).await?;
        if !report.is_clean() && !accept_differences {
            return Err(AgoraError::Invalid(format!(
                "draft {draft}: the CSV does not match the local files ({}); `agora invoices match` shows what differs; --accept-differences sends the matched claims anyway",
                report.reconciliation.summary()
            )));
        }
        let claims = report.reconciliation.claims();
        let delivery = self
            .register_invoice(draft, invoice_number, &claims)
            .await?;
        Ok((report, delivery))
    }
}
