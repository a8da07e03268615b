//! `agora invoices`: sending the invoice number of a draft invoice.

use agora_ports::AgoraError;
use clap::Subcommand;
use serde_json::json;

use super::{App, delivery_exit, describe};
use crate::output::Out;

#[derive(Debug, Subcommand)]
pub(crate) enum InvoicesCmd {
    /// Send the invoice number of a draft invoice (once).
    Register {
        /// The draft invoice number.
        #[arg(long)]
        draft: String,
        /// Your invoice number.
        #[arg(long)]
        invoice: String,
        /// A claim of the draft (repeatable).
        #[arg(long = "claim", required = true)]
        claims: Vec<i64>,
    },
}

pub(super) async fn run(app: &App, cmd: InvoicesCmd, out: Out) -> Result<u8, AgoraError> {
    let InvoicesCmd::Register {
        draft,
        invoice,
        claims,
    } = cmd;
    let d = app.register_invoice(&draft, &invoice, &claims).await?;
    out.say(
        &format!("invoice {invoice} for draft {draft}: {}", describe(&d)),
        &json!({"entry": d.entry(), "delivery": describe(&d)}),
    );
    Ok(delivery_exit(&d))
}
