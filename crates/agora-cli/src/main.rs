//! `agora`: the command line of the agora workspace.
//!
//! Every use case against AgoraPlus (or a simulator), the outbox, reference
//! lookups, the simulator server, and `agora demo`, the main job: one
//! complete repair on the embedded simulator.

// Output goes through `output` (a closed pipe ends it quietly), never
// through `println!`/`eprintln!`, which panic when their pipe is closed.
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod commands;
mod failure;
mod output;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::{
    BomArgs, CatalogCmd, ClaimsCmd, DemoArgs, InvoicesCmd, OutboxCmd, PartsCmd, RefCmd, RepairsCmd,
    SimArgs, StatusCmd, WorkOrdersCmd,
};
use crate::output::Out;
use crate::settings::Flags;

const AFTER_HELP: &str = "\
Settings (flags win over the environment, which wins over the configuration file):
  AGORA_API_KEY        the account's api_key (or AGORA_API_KEY_FILE / --api-key-file: a file holding it)
  AGORA_BASE_URL       any base URL, e.g. a simulator at http://127.0.0.1:8787
  AGORA_ENV            preprod (default) or production
  AGORA_DB             the local store: a SQLite file (default ./agora.db) or a
                       postgres://USER@HOST:PORT/DB URL shared by several workers
  AGORA_DB_PASSWORD_FILE  a file holding the PostgreSQL password (else the URL's, or
                       the pgpass file: PGPASSFILE or ~/.pgpass)
  AGORA_CONFIG         a JSON configuration file: base_url, env, api_key_file, db,
                       db_password_file, language, auto_accept, transfer_if_valid
  AGORA_LOG            log filter for stderr (e.g. info, agora_http=debug)

Exit codes:
  0 success            1 refused (by AgoraPlus or a local rule)     2 wrong usage
  3 configuration or authentication (missing key, 401, 403)         4 AgoraPlus unreachable or unavailable
  5 an operation is in doubt (see `agora outbox list --state in-doubt`)  6 local store error
With --json, an error is one JSON object on stderr: code, message, hint, exit_code.
A command that did only part of its work (a sync whose one half failed, a tracking pass that
missed some files) says which part failed on stderr and exits with that failure's code.
AgoraPlus's warnings are printed on stderr, one `warning:` line each.";

/// Integrate an after-sales product with AgoraPlus.
#[derive(Debug, Parser)]
#[command(name = "agora", version, about, after_help = AFTER_HELP)]
struct Cli {
    /// Print results as JSON (for scripts) instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// The local store: a SQLite file, or a postgres:// URL.
    #[arg(long, global = true, value_name = "PATH|URL")]
    db: Option<String>,
    /// A JSON configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// AgoraPlus base URL (overrides --env).
    #[arg(long, global = true, value_name = "URL")]
    base_url: Option<String>,
    /// preprod or production.
    #[arg(long = "env", global = true, value_name = "ENV")]
    environment: Option<String>,
    /// A file holding the api_key.
    #[arg(long, global = true, value_name = "FILE")]
    api_key_file: Option<PathBuf>,
    /// Language (LCID) of AgoraPlus's messages: 1033 English, 1036 French.
    #[arg(long, global = true, value_name = "LCID")]
    language: Option<u32>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one complete repair on the embedded AgoraPlus simulator (no key, no network).
    Demo(DemoArgs),
    /// Serve the AgoraPlus simulator until Ctrl-C.
    Sim(SimArgs),
    /// Work orders: pull and accept them, list them.
    #[command(subcommand, name = "work-orders")]
    WorkOrders(WorkOrdersCmd),
    /// Local repair files.
    #[command(subcommand)]
    Repairs(RepairsCmd),
    /// Report a status code on a repair file.
    #[command(subcommand)]
    Status(StatusCmd),
    /// Spare parts of a repair: mark, order, track.
    #[command(subcommand)]
    Parts(PartsCmd),
    /// Warranty claims: submit, track.
    #[command(subcommand)]
    Claims(ClaimsCmd),
    /// Invoices: send the invoice reference of a draft invoice.
    #[command(subcommand)]
    Invoices(InvoicesCmd),
    /// Master data: sync spare parts or products.
    #[command(subcommand)]
    Catalog(CatalogCmd),
    /// Look up a product's bill of materials.
    Bom(BomArgs),
    /// Operations waiting for delivery: list, flush, resolve.
    #[command(subcommand)]
    Outbox(OutboxCmd),
    /// Reference tables: status codes, OEMs, repair types.
    #[command(subcommand, name = "ref")]
    Reference(RefCmd),
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AGORA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Whether the command line asks for JSON, read before clap parsed it (for
/// a usage error's own report).
fn wants_json() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && wants_json() => {
            return ExitCode::from(failure::Failure::usage(&e).print(Out { json: true }));
        }
        Err(e) => e.exit(),
    };
    init_logs();
    let out = Out { json: cli.json };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let failure = failure::Failure::new(
                "runtime",
                format!("cannot start the runtime: {e}"),
                failure::code::REFUSED,
            );
            return ExitCode::from(failure.print(out));
        }
    };
    let flags = Flags {
        config: cli.config,
        base_url: cli.base_url,
        env: cli.environment,
        api_key_file: cli.api_key_file,
        db: cli.db,
        language: cli.language,
    };
    let exit = runtime.block_on(commands::run(cli.command, flags, out));
    if exit == ExitCode::SUCCESS && output::write_failed() {
        return ExitCode::from(failure::code::REFUSED);
    }
    exit
}
