//! `agora invoices`: the month end. Match the OEM's CSV of approved claims
//! against the local files, and send the invoice number of a draft invoice
//! (with the claims given, or those of the CSV once they match).

use std::path::PathBuf;

use agora_app::{DEFAULT_MONTH_ZONE, MonthEnd, MonthEndReport};
use agora_domain::month_end::{CsvMapping, Period};
use agora_domain::{ClaimId, DraftInvoiceNumber, InvoiceNumber, ManufacturerId};
use agora_ports::{AgoraError, Clock, SystemClock};
use clap::{Args, Subcommand};
use jiff::tz::TimeZone;
use serde::Serialize;

use super::{App, Sent, delivery_exit};
use crate::failure::code;
use crate::output::{Grid, Human, Out, Render};
use crate::settings::MonthEndFile;

const MATCH_HELP: &str = "\
Read the OEM's CSV of the month's approved claims (sent with the draft invoice) and match
it against the local files. Nothing is sent.

Reported: the claims of the CSV accepted (CLOSEDACCEPTED, not invoiced) here (matched); those
of the CSV not accepted here, invoiced already or unknown; those accepted here in the month
(the month agora first saw them CLOSEDACCEPTED, in the time zone given) but missing from the
CSV; amounts (and repair files) that differ; claims the CSV lists twice. Exit 0 when
everything matched, 8 when not.

The CSV as it comes: `;`, `,` or tab separated (detected), quoted or not, UTF-8 with or
without BOM or Windows-1252 (valid UTF-8 is UTF-8, anything else Windows-1252), decimal comma
or point, dates as 2026-11-30, 30/11/2026 or 30.11.2026. The columns are found by their
header (claim id: \"Claim ID\", \"N° réclamation\"…; repair file: \"Intervention ID\",
\"N° dossier\"…; amount: \"Amount\", \"Montant HT\"…; date: \"Date\", \"Date d'acceptation\"…).
What cannot be detected is named per OEM in the configuration file's invoice_csv, by OEM id
(or \"default\"), every key optional:
  \"invoice_csv\": {\"19\": {\"claim_id\": \"Réf. garantie\", \"intervention_id\": \"Dossier\",
    \"amount\": \"Total\", \"date\": \"Le\", \"separator\": \";\", \"encoding\": \"windows-1252\",
    \"decimal_comma\": true, \"date_format\": \"%m/%d/%Y\",
    \"local_amount\": \"/Extra/ClaimAmount\"}}
local_amount is a JSON pointer into the local repair file: the amount the CSV's is compared
with (the files hold no reimbursement amount otherwise). A cell that cannot be read is an
error naming its row and column (exit 1).";

#[derive(Debug, Subcommand)]
pub(crate) enum InvoicesCmd {
    /// Send the invoice number of a draft invoice (once), with the claims
    /// given or those of the OEM's CSV.
    ///
    /// With --csv, the CSV is matched first (as `agora invoices match`):
    /// a match that is not clean is refused (exit 1) unless
    /// --accept-differences, which sends the matched claims alone.
    Register {
        /// The draft invoice number.
        #[arg(long)]
        draft: DraftInvoiceNumber,
        /// Your invoice number.
        #[arg(long)]
        invoice: InvoiceNumber,
        /// A claim of the draft (repeatable).
        #[arg(
            long = "claim",
            required_unless_present = "csv",
            conflicts_with = "csv"
        )]
        claims: Vec<ClaimId>,
        /// The OEM's CSV of the draft's claims: its claims are sent.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Send the matched claims even though the CSV and the local
        /// files differ.
        #[arg(long, requires = "csv", conflicts_with = "claims")]
        accept_differences: bool,
        #[command(flatten)]
        month: MonthArgs,
    },
    /// Match the OEM's CSV of a draft invoice against the local files.
    #[command(long_about = MATCH_HELP)]
    Match {
        /// The draft invoice number.
        #[arg(long)]
        draft: DraftInvoiceNumber,
        /// The OEM's CSV of the draft's claims.
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        #[command(flatten)]
        month: MonthArgs,
    },
}

/// The month a CSV covers, and how to read it.
#[derive(Debug, Args)]
pub(crate) struct MonthArgs {
    /// The OEM of the draft (its id): its CSV mapping is used and only its
    /// claims are expected (default: every OEM's, the "default" mapping).
    #[arg(long, value_name = "OEM", value_parser = oem)]
    oem: Option<ManufacturerId>,
    /// The month the CSV covers (default: the previous month).
    #[arg(long, value_name = "YYYY-MM")]
    period: Option<Period>,
    /// The time zone a claim's month is taken in (default: the
    /// configuration's month_zone, else Europe/Paris).
    #[arg(long, value_name = "ZONE")]
    time_zone: Option<String>,
}

fn oem(s: &str) -> Result<ManufacturerId, String> {
    s.trim()
        .parse()
        .map(ManufacturerId)
        .map_err(|_| format!("`{s}` is not an OEM id (a number, e.g. 19)"))
}

impl MonthArgs {
    fn month_end(&self, file: &MonthEndFile) -> Result<MonthEnd, AgoraError> {
        let name = self
            .time_zone
            .clone()
            .or_else(|| file.zone.clone())
            .unwrap_or_else(|| DEFAULT_MONTH_ZONE.to_owned());
        let zone = TimeZone::get(&name)
            .map_err(|e| AgoraError::Config(format!("time zone {name:?}: {e}")))?;
        let mapping = self
            .oem
            .and_then(|m| file.mappings.get(&m.0.to_string()))
            .or_else(|| file.mappings.get("default"))
            .cloned()
            .unwrap_or_else(CsvMapping::default);
        let period = self
            .period
            .unwrap_or_else(|| MonthEnd::previous_month(SystemClock.now(), &zone));
        Ok(MonthEnd {
            mapping,
            oem: self.oem,
            period,
            zone,
        })
    }
}

fn read_csv(path: &std::path::Path) -> Result<Vec<u8>, AgoraError> {
    std::fs::read(path)
        .map_err(|e| AgoraError::Invalid(format!("cannot read {}: {e}", path.display())))
}

/// A month's match, as shown.
#[derive(Debug, Serialize)]
struct Matching<'a> {
    clean: bool,
    summary: String,
    #[serde(flatten)]
    report: &'a MonthEndReport,
}

impl Render for Matching<'_> {
    fn human(&self) -> Human {
        let r = &self.report.reconciliation;
        let mut rows = Vec::new();
        for m in &r.matched {
            rows.push(vec![
                "matched".to_owned(),
                m.claim_id.to_string(),
                m.intervention_id.to_string(),
                m.amount.map(|a| a.to_string()).unwrap_or_default(),
                m.accepted_in
                    .map_or_else(|| "accepted".to_owned(), |p| format!("accepted {p}")),
            ]);
        }
        for n in &r.not_accepted {
            rows.push(vec![
                "not accepted here".to_owned(),
                n.claim_id.to_string(),
                String::new(),
                String::new(),
                format!("row {}: {}", n.row, n.local_state),
            ]);
        }
        for m in &r.missing {
            rows.push(vec![
                "missing from the CSV".to_owned(),
                m.claim_id.to_string(),
                m.intervention_id.to_string(),
                String::new(),
                format!("accepted {}", r.period),
            ]);
        }
        for d in &r.differs {
            rows.push(vec![
                format!("{} differs", d.what),
                d.claim_id.to_string(),
                String::new(),
                String::new(),
                format!("row {}: CSV {}, here {}", d.row, d.csv, d.local),
            ]);
        }
        for d in &r.duplicated {
            rows.push(vec![
                "listed twice".to_owned(),
                d.claim_id.to_string(),
                String::new(),
                String::new(),
                format!("row {}", d.row),
            ]);
        }
        Human {
            line: Some(format!(
                "draft {} (CSV: {}, {:?}, {} row(s); months in {}): {}",
                self.report.draft,
                self.report.encoding,
                self.report.separator,
                self.report.rows,
                self.report.zone,
                self.summary
            )),
            table: (!rows.is_empty()).then_some(Grid {
                headers: &["Result", "Claim", "Repair file", "Amount", "Detail"],
                rows,
            }),
        }
    }
}

/// An invoice number sent for a draft invoice.
#[derive(Debug, Serialize)]
struct InvoiceSent<'a> {
    draft: &'a str,
    invoice: &'a str,
    claims: &'a [ClaimId],
    #[serde(skip_serializing_if = "Option::is_none")]
    matching: Option<String>,
}

pub(super) async fn run(
    app: &App,
    cmd: InvoicesCmd,
    out: Out,
    file: &MonthEndFile,
) -> Result<u8, AgoraError> {
    match cmd {
        InvoicesCmd::Match { draft, csv, month } => {
            let how = month.month_end(file)?;
            let bytes = read_csv(&csv)?;
            let report = app.match_draft_csv(&draft, &bytes, &how).await?;
            let clean = report.is_clean();
            out.show(&Matching {
                clean,
                summary: report.reconciliation.summary(),
                report: &report,
            });
            Ok(if clean { code::OK } else { code::DIFFERENCES })
        }
        InvoicesCmd::Register {
            draft,
            invoice,
            claims,
            csv,
            accept_differences,
            month,
        } => {
            let (d, claims, matching) = match csv {
                Some(path) => {
                    let how = month.month_end(file)?;
                    let bytes = read_csv(&path)?;
                    let (report, d) = app
                        .register_invoice_from_csv(
                            &draft,
                            &invoice,
                            &bytes,
                            &how,
                            accept_differences,
                        )
                        .await?;
                    let summary = report.reconciliation.summary();
                    if !report.is_clean() {
                        out.note(format_args!(
                            "warning: sent despite the differences (--accept-differences): {summary}"
                        ));
                    }
                    (d, report.reconciliation.claims(), Some(summary))
                }
                None => (
                    app.register_invoice(&draft, &invoice, &claims).await?,
                    claims,
                    None,
                ),
            };
            let what = format!(
                "invoice {invoice} for draft {draft} ({} claim(s))",
                claims.len()
            );
            let change = InvoiceSent {
                draft: &draft,
                invoice: &invoice,
                claims: &claims,
                matching,
            };
            out.show(&Sent::new(change, what, &d));
            Ok(delivery_exit(&d))
        }
    }
}
