//! `agora-sim`: the AgoraPlus simulator server.
//!
//! ```sh
//! agora-sim --listen 127.0.0.1:8787 --tenant demo --seed 1 --catalog-size 100000
//! agora-sim --listen 127.0.0.1:8787 --replay tests/recordings/sim-whole-repair
//! ```

use std::process::ExitCode;

use agora_sim::options::SimOptions;
use clap::Parser;

/// Serves a local, stateful AgoraPlus for development and tests.
#[derive(Debug, Parser)]
#[command(name = "agora-sim", version, about)]
struct Args {
    #[command(flatten)]
    options: SimOptions,
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
    let served = args
        .options
        .serve(|url, accounts| {
            #[allow(clippy::print_stdout)]
            {
                println!("{url}");
            }
            eprintln!("agora-sim: {}", args.options.banner(accounts));
        })
        .await;
    match served {
        Ok(()) => {
            eprintln!("agora-sim: stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("agora-sim: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
