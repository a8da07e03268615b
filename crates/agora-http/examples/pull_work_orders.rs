//! A product pulling its new work orders from AgoraPlus.
//!
//! ```sh
//! AGORA_API_KEY=… AGORA_ENV=preprod cargo run -p agora-http --example pull_work_orders
//! # or against a local simulator:
//! AGORA_API_KEY=demo AGORA_BASE_URL=http://127.0.0.1:8787 cargo run -p agora-http --example pull_work_orders
//! ```
//!
//! It accepts nothing: `GetNewMandates?autoAccept=false` only lists.
//! Pass `--accept` to accept them (and create their repair files).

use agora_http::{AgoraClient, ClientConfig};
use agora_ports::AgoraError;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), AgoraError> {
    let accept = std::env::args().any(|a| a == "--accept");
    let config = ClientConfig::from_env()?;
    eprintln!("AgoraPlus: {}", config.environment);
    let client = AgoraClient::new(config)?;
    let reply = client.new_mandates(accept).await?;
    if let Some(warning) = &reply.warning {
        eprintln!("warning: {warning}");
    }
    let mut out = std::io::stdout().lock();
    for order in &reply.data {
        let Some(mandate) = &order.mandate else {
            continue;
        };
        let consumer = mandate
            .consumer
            .as_ref()
            .and_then(|c| c.last_name.as_deref())
            .unwrap_or("?");
        let oem = mandate
            .manufacturer_id
            .and_then(|m| m.name())
            .unwrap_or("unknown OEM");
        use std::io::Write;
        let _ = writeln!(
            out,
            "work order {:>8}  {:<24} consumer {:<16} repair file {}",
            mandate
                .mandate_id
                .map_or_else(|| "?".into(), |id| id.to_string()),
            oem,
            consumer,
            order
                .intervention_id
                .map_or_else(|| "-".into(), |id| id.to_string()),
        );
    }
    eprintln!("{} work order(s)", reply.data.len());
    Ok(())
}
