//! The CSV of a draft invoice: its layout chosen on `POST
//! /_sim/invoices/draft` (`Separator`, `Encoding`, `DecimalComma`,
//! `Headers`, `Dates`, `QuoteAll`), its raw bytes served by `GET
//! /_sim/invoices/{number}/csv` with their charset in the `Content-Type`.

use agora_domain::month_end::{CsvDateForm, CsvEncoding, CsvHeaders, CsvLayout, CsvSeparator};
use agora_mock::{SimError, Simulator};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::wire::error_response;

/// The layout options of a draft's CSV, each optional (the default: a
/// French export, `;`, Windows-1252, decimal comma, dd/mm/yyyy).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CsvOptions {
    /// `;` or `,`.
    #[serde(default)]
    separator: Option<String>,
    /// `utf-8`, `utf-8-bom` or `windows-1252`.
    #[serde(default)]
    encoding: Option<String>,
    /// A decimal comma (else a point).
    #[serde(default)]
    decimal_comma: Option<bool>,
    /// `fr` or `en`.
    #[serde(default)]
    headers: Option<String>,
    /// `iso`, `slashes` (dd/mm/yyyy) or `dots` (dd.mm.yyyy).
    #[serde(default)]
    dates: Option<String>,
    /// Every cell quoted.
    #[serde(default)]
    quote_all: Option<bool>,
}

impl CsvOptions {
    /// The layout asked for; a 400 naming the option otherwise.
    pub(crate) fn layout(&self) -> Result<CsvLayout, SimError> {
        let mut layout = CsvLayout::default();
        let bad = |name: &str, value: &str, allowed: &str| {
            SimError::BadRequest(format!("{name} {value:?} is not one of {allowed}"))
        };
        if let Some(s) = &self.separator {
            layout.separator = match s.as_str() {
                ";" => CsvSeparator::Semicolon,
                "," => CsvSeparator::Comma,
                other => return Err(bad("Separator", other, "\";\", \",\"")),
            };
        }
        if let Some(e) = &self.encoding {
            layout.encoding = CsvEncoding::parse(e)
                .ok_or_else(|| bad("Encoding", e, "utf-8, utf-8-bom, windows-1252"))?;
        }
        if let Some(d) = self.decimal_comma {
            layout.decimal_comma = d;
        }
        if let Some(h) = &self.headers {
            layout.headers = match h.to_ascii_lowercase().as_str() {
                "fr" | "french" => CsvHeaders::French,
                "en" | "english" => CsvHeaders::English,
                other => return Err(bad("Headers", other, "fr, en")),
            };
        }
        if let Some(d) = &self.dates {
            layout.dates = match d.to_ascii_lowercase().as_str() {
                "iso" => CsvDateForm::Iso,
                "slashes" => CsvDateForm::Slashes,
                "dots" => CsvDateForm::Dots,
                other => return Err(bad("Dates", other, "iso, slashes, dots")),
            };
        }
        if let Some(q) = self.quote_all {
            layout.quote_all = q;
        }
        Ok(layout)
    }
}

/// `GET /_sim/invoices/{number}/csv`: the draft's CSV, raw, for the
/// account the call speaks for (`caller`).
pub(crate) fn draft_csv(sim: &Simulator, caller: Result<&str, SimError>, number: &str) -> Response {
    match caller.and_then(|key| sim.draft_invoice_csv(key, number)) {
        Ok(csv) => {
            let content_type = format!("text/csv; charset={}", csv.encoding.charset());
            let mut response = (StatusCode::OK, csv.bytes).into_response();
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&format!(
                "attachment; filename=\"{}.csv\"",
                number.replace(['"', '\\', '/'], "_")
            )) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_DISPOSITION, v);
            }
            response
        }
        Err(e) => error_response(&e),
    }
}
