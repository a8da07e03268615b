//! `agora-chaos`: the chaos run (`run`), and the worker processes it
//! starts (`worker`).
//!
//! ```sh
//! agora-chaos run --out docs/reliability.md      # the full run
//! agora-chaos run --reduced                      # 500 operations, 2 workers, 1 kill
//! agora-chaos run --only point-kills             # 300 operations, one fault kind
//! agora-chaos run --store postgres --out docs/reliability.md
//! ```
//!
//! `--out` rewrites the results of the run's store (SQLite or PostgreSQL)
//! and keeps those of the other.

use std::path::PathBuf;
use std::process::ExitCode;

use agora_chaos::harness::FaultKind;
use agora_chaos::worker::WorkerConfig;
use agora_chaos::{ChaosConfig, StoreKind, report};
use clap::{Parser, Subcommand};

/// The chaos run: worker processes on one store, faults, kills, and the
/// reconciliation of the simulator with the store.
#[derive(Debug, Parser)]
#[command(name = "agora-chaos", about)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Runs the chaos run and prints its table.
    Run {
        /// The reduced run (500 operations, 2 workers, 1 kill) instead of the full one.
        #[arg(long)]
        reduced: bool,
        /// The reduced run of one fault kind (store-outage, pause,
        /// clock-skew, hold, point-kills) instead of the full one.
        #[arg(long, conflicts_with = "reduced")]
        only: Option<String>,
        /// Operations in all.
        #[arg(long)]
        operations: Option<u64>,
        /// Worker processes.
        #[arg(long)]
        workers: Option<usize>,
        /// Kills.
        #[arg(long)]
        kills: Option<usize>,
        /// Work orders (repair files).
        #[arg(long)]
        files: Option<usize>,
        /// Seed.
        #[arg(long)]
        seed: Option<u64>,
        /// The store the workers share: `sqlite` (a file) or `postgres` (a
        /// database on a throwaway PostgreSQL server started for the run).
        #[arg(long, default_value = "sqlite")]
        store: StoreKind,
        /// Where the logs (and the SQLite store) go (kept).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Writes the report (Markdown) there, e.g. docs/reliability.md.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// One worker process (started by `run`).
    #[command(hide = true)]
    Worker {
        /// Its configuration, as JSON.
        config: String,
    },
}

fn main() -> ExitCode {
    // The workers' control client is a plain reqwest client: this binary
    // picks the process's TLS provider (ring, the workspace's one stack).
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Args::parse().command {
        Cmd::Worker { config } => worker(&config),
        Cmd::Run {
            reduced,
            only,
            operations,
            workers,
            kills,
            files,
            seed,
            store,
            dir,
            out,
        } => {
            let exe = match std::env::current_exe() {
                Ok(exe) => exe,
                Err(e) => {
                    eprintln!("agora-chaos: cannot find its own executable: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut config = match only.as_deref().map(fault_kind) {
                Some(Ok(kind)) => ChaosConfig::only(exe, kind),
                Some(Err(e)) => {
                    eprintln!("agora-chaos: {e}");
                    return ExitCode::from(2);
                }
                None if reduced => ChaosConfig::reduced(exe),
                None => ChaosConfig::full(exe),
            };
            config.operations = operations.unwrap_or(config.operations);
            config.workers = workers.unwrap_or(config.workers);
            config.kills = kills.unwrap_or(config.kills);
            config.files = files.unwrap_or(config.files);
            config.seed = seed.unwrap_or(config.seed);
            config.store = store;
            config.keep = dir.is_some();
            config.dir = dir;
            run(&config, out)
        }
    }
}

fn fault_kind(name: &str) -> Result<FaultKind, String> {
    Ok(match name {
        "store-outage" => FaultKind::StoreOutage,
        "pause" => FaultKind::Pause,
        "clock-skew" => FaultKind::ClockSkew,
        "hold" => FaultKind::Hold,
        "point-kills" => FaultKind::PointKills,
        other => {
            return Err(format!(
                "unknown fault kind `{other}` (store-outage, pause, clock-skew, hold, point-kills)"
            ));
        }
    })
}

fn run(config: &ChaosConfig, out: Option<PathBuf>) -> ExitCode {
    eprintln!(
        "agora-chaos: {} operations, {} workers on {}, {} kills, {} work orders",
        config.operations,
        config.workers,
        config.store.shared(),
        config.kills,
        config.files
    );
    let report = match agora_chaos::run(config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("agora-chaos: {e}");
            return ExitCode::from(2);
        }
    };
    #[allow(clippy::print_stdout)]
    {
        println!("{}", report::text(&report, config));
    }
    if let Some(out) = out {
        let existing = std::fs::read_to_string(&out).unwrap_or_default();
        if let Err(e) = std::fs::write(&out, report::markdown(&report, config, &existing)) {
            eprintln!("agora-chaos: cannot write {}: {e}", out.display());
            return ExitCode::from(2);
        }
        eprintln!("agora-chaos: wrote {}", out.display());
    }
    if report.passed(config.kills + config.point_kills) {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "agora-chaos: FAILED; the workers' logs (and a SQLite store) are kept in {}",
            report.dir.display()
        );
        ExitCode::FAILURE
    }
}

fn worker(config: &str) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AGORA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config: WorkerConfig = match serde_json::from_str(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("agora-chaos worker: unreadable configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("agora-chaos worker: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let orders = agora_chaos::probe::Orders::listen(std::io::stdin());
    match runtime.block_on(agora_chaos::worker::run(
        config,
        Box::new(std::io::stdout()),
        orders,
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agora-chaos worker: {e}");
            ExitCode::FAILURE
        }
    }
}
