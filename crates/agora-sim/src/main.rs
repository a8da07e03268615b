//! `agora-sim`: the AgoraPlus simulator server.
//!
//! ```sh
//! agora-sim --listen 127.0.0.1:8787 --tenant demo --seed 1 --catalog-size 100000
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use agora_mock::{SimConfig, SimConfigFile, Simulator};
use agora_sim::SimServer;
use clap::Parser;

/// Serves a local, stateful AgoraPlus for development and tests.
#[derive(Debug, Parser)]
#[command(name = "agora-sim", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// An account's api_key (repeatable). Without any: one account, `demo`.
    #[arg(long = "tenant", value_name = "KEY")]
    tenants: Vec<String>,
    /// An account that authenticates but is locked (403) (repeatable).
    #[arg(long = "locked", value_name = "KEY")]
    locked: Vec<String>,
    /// Seed of all generated data.
    #[arg(long)]
    seed: Option<u64>,
    /// Spare parts generated per OEM (products: a tenth), made on demand.
    #[arg(long)]
    catalog_size: Option<u64>,
    /// A JSON configuration file: tenants, locked, seed, catalog_size,
    /// product_key_ttl_seconds, rules (OEM rule sets), profiles (answer
    /// profiles by account key). Flags add to it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn config(args: &Args) -> Result<SimConfig, String> {
    let mut config = SimConfig {
        tenants: Vec::new(),
        ..SimConfig::default()
    };
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        config = SimConfigFile::from_json(&text)?.apply(config)?;
    }
    config.tenants.extend(args.tenants.iter().cloned());
    config.locked.extend(args.locked.iter().cloned());
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(size) = args.catalog_size {
        config.catalog_size = size;
    }
    if config.tenants.is_empty() {
        config.tenants.push("demo".to_owned());
    }
    config.check()?;
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AGORA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("agora-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let tenants = config.tenants.len();
    let server = match SimServer::start(Simulator::new(config), args.listen).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("agora-sim: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(1);
        }
    };
    let shutdown = agora_sim::Shutdown::install();
    #[allow(clippy::print_stdout)]
    {
        println!("{}", server.url());
    }
    eprintln!("agora-sim: serving AgoraPlus for {tenants} account(s); Ctrl-C to stop");
    shutdown.wait().await;
    eprintln!("agora-sim: stopping");
    match server.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agora-sim: {e}");
            ExitCode::from(1)
        }
    }
}
