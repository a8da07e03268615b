//! A product wiring agora: the HTTP client (`agora-http`), a store it picks
//! (`agora-store`: a SQLite file, or a `postgres://` URL in `AGORA_DB`) and
//! the use cases (`agora-app`). It pulls new work orders, then delivers
//! what the outbox holds. Settings from the environment: `AGORA_API_KEY`
//! (or `AGORA_API_KEY_FILE`), `AGORA_BASE_URL` or `AGORA_ENV`, `AGORA_DB`.
//!
//! ```sh
//! agora sim &
//! AGORA_BASE_URL=http://127.0.0.1:8787 AGORA_API_KEY=demo cargo run -p agora-app --example product
//! ```

#![allow(clippy::print_stdout)]

use std::sync::Arc;

use agora_app::{Agora, AgoraError, AppConfig, SystemClock};
use agora_http::{AgoraClient, ClientConfig};
use agora_store::{Locator, PgOptions, Store};

async fn run() -> Result<(), AgoraError> {
    let client =
        AgoraClient::new(ClientConfig::from_env()?.with_user_agent("example-product/1.0"))?;
    let db = std::env::var("AGORA_DB").unwrap_or_else(|_| "example-product.db".to_owned());
    let store = Store::open(&Locator::parse(&db)?, PgOptions::default()).await?;
    let app = Agora::new(client, store, Arc::new(SystemClock), AppConfig::default());

    // Sends a crash left half-done are parked in doubt for a person.
    let parked = app.recover().await?;
    let sync = app.sync_work_orders().await?;
    println!(
        "{} work order(s) accepted, {} recovered, {} already known; {} send(s) in doubt from before",
        sync.accepted.len(),
        sync.recovered.len(),
        sync.already_known,
        parked.len()
    );
    for warning in &sync.warnings {
        println!("warning: {warning}");
    }
    let flushed = app.flush_outbox().await?;
    println!(
        "outbox: {} delivered, {} to retry, {} in doubt, {} refused",
        flushed.delivered, flushed.queued, flushed.in_doubt, flushed.failed
    );
    Ok(())
}

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
