//! `agora sim`: serving the AgoraPlus simulator until a signal.

use std::process::ExitCode;

use clap::Args;

use crate::failure::{Failure, code};
use crate::output::Out;

#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: std::net::SocketAddr,
    /// An account's api_key (repeatable; none: `demo`).
    #[arg(long = "tenant", value_name = "KEY")]
    pub tenants: Vec<String>,
    /// A locked account (repeatable).
    #[arg(long = "locked", value_name = "KEY")]
    pub locked: Vec<String>,
    /// Seed of generated data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Spare parts per OEM.
    #[arg(long, default_value_t = 1000)]
    pub catalog_size: u64,
}

pub(super) async fn run(args: SimArgs, out: Out) -> ExitCode {
    let mut config = agora_mock::SimConfig {
        tenants: args.tenants,
        locked: args.locked,
        seed: args.seed,
        catalog_size: args.catalog_size,
        ..agora_mock::SimConfig::default()
    };
    if config.tenants.is_empty() {
        config.tenants.push("demo".to_owned());
    }
    let server =
        match agora_sim::SimServer::start(agora_mock::Simulator::new(config), args.listen).await {
            Ok(s) => s,
            Err(e) => {
                let failure = Failure::new(
                    "listen",
                    format!("cannot listen on {}: {e}", args.listen),
                    code::CONFIG,
                );
                return ExitCode::from(failure.print(out));
            }
        };
    // Listening for the signals before the URL is printed: a signal sent
    // as soon as it is read stops the server cleanly.
    let shutdown = agora_sim::Shutdown::install();
    out.line(&server.url());
    out.note(format_args!("agora sim: serving AgoraPlus; Ctrl-C to stop"));
    shutdown.wait().await;
    let _ = server.shutdown().await;
    ExitCode::SUCCESS
}
