//! `agora invoices`: sending the invoice number of a draft invoice.

use agora_domain::{ClaimId, DraftInvoiceNumber, InvoiceNumber};
use agora_ports::AgoraError;
use clap::Subcommand;
use serde::Serialize;

use super::{App, Sent, delivery_exit};
use crate::output::Out;

#[derive(Debug, Subcommand)]
pub(crate) enum InvoicesCmd {
    /// Send the invoice number of a draft invoice (once).
    Register {
        /// The draft invoice number.
        #[arg(long)]
        draft: DraftInvoiceNumber,
        /// Your invoice number.
        #[arg(long)]
        invoice: InvoiceNumber,
        /// A claim of the draft (repeatable).
        #[arg(long = "claim", required = true)]
        claims: Vec<ClaimId>,
    },
}

/// An invoice number sent for a draft invoice.
#[derive(Debug, Serialize)]
struct InvoiceSent<'a> {
    draft: &'a str,
    invoice: &'a str,
}

pub(super) async fn run(app: &App, cmd: InvoicesCmd, out: Out) -> Result<u8, AgoraError> {
    let InvoicesCmd::Register {
        draft,
        invoice,
        claims,
    } = cmd;
    let d = app.register_invoice(&draft, &invoice, &claims).await?;
    let what = format!("invoice {invoice} for draft {draft}");
    let change = InvoiceSent {
        draft: &draft,
        invoice: &invoice,
    };
    out.show(&Sent::new(change, what, &d));
    Ok(delivery_exit(&d))
}
