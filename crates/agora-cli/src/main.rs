//! `agora`: the command line of the agora workspace.
//!
//! Every use case against AgoraPlus (or a simulator), the outbox, reference
//! lookups, the simulator server, and `agora demo`, the main job: one
//! complete repair on the embedded simulator.

mod commands;
mod demo;
mod failure;
mod output;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

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

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Spare parts in the simulator's catalog per OEM (the demo syncs one OEM's).
    #[arg(long, default_value_t = 50_000)]
    pub catalog_size: u64,
    /// Keep the demo's local store instead of deleting it.
    #[arg(long)]
    pub keep: bool,
}

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

#[derive(Debug, Subcommand)]
pub(crate) enum WorkOrdersCmd {
    /// Pull new work orders (accepting them), save their repair files, and
    /// recover any accepted but not saved.
    Sync {
        /// Only list new work orders; accept them in AgoraPlus yourself.
        #[arg(long)]
        no_accept: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RepairsCmd {
    /// Every local repair file and where it stands.
    List,
    /// One repair file, whole (JSON).
    Show {
        /// The repair file (InterventionId).
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum StatusCmd {
    /// Report a status (e.g. 102 with --start/--end, 201 with --part REF:ORDER).
    Report {
        /// The repair file (InterventionId).
        id: i64,
        /// The status code (see `agora ref status-codes`).
        code: String,
        /// A free comment.
        #[arg(long, default_value = "")]
        comment: String,
        /// Appointment start (ISO 8601).
        #[arg(long)]
        start: Option<String>,
        /// Appointment end (ISO 8601).
        #[arg(long)]
        end: Option<String>,
        /// A part concerned: REFERENCE or REFERENCE:ORDER_NUMBER (repeatable).
        #[arg(long = "part")]
        parts: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PartsCmd {
    /// Add a part to the repair, marked to be ordered.
    Add {
        /// The repair file.
        id: i64,
        /// The spare part reference.
        reference: String,
        /// Quantity.
        #[arg(long, default_value_t = 1)]
        quantity: i64,
    },
    /// Order the parts marked to be ordered.
    Order {
        /// The repair file.
        id: i64,
    },
    /// The logistic status of a repair's orders; without a file, of every
    /// file with an order not yet shipped or cancelled.
    Track {
        /// The repair file (none: every file with open orders).
        id: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClaimsCmd {
    /// Submit (or correct) the repair's warranty claim.
    Submit {
        /// The repair file.
        id: i64,
        /// A JSON WarrantyClaim to send; without it, one is drafted from the file.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Check the claim with the local copy of the OEM rules first.
        #[arg(long)]
        precheck: bool,
        /// Set the call date (ISO 8601) on the drafted claim.
        #[arg(long)]
        call_date: Option<String>,
        /// Set the serial number on the drafted claim.
        #[arg(long)]
        serial: Option<String>,
    },
    /// Poll the status of open claims.
    Track,
}

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

#[derive(Debug, Subcommand)]
pub(crate) enum CatalogCmd {
    /// Sync one OEM's spare parts (or products) since the last sync.
    Sync {
        /// The OEM (ManufacturerId; `agora ref oems`).
        #[arg(long)]
        oem: u32,
        /// Products instead of spare parts.
        #[arg(long)]
        products: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct BomArgs {
    /// The OEM.
    #[arg(long)]
    pub oem: u32,
    /// The product's commercial or technical reference.
    #[arg(long = "ref")]
    pub reference: String,
    /// The market (ISO 3166 numeric).
    #[arg(long, default_value_t = 250)]
    pub country: u16,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum StateArg {
    Pending,
    InDoubt,
    Failed,
    Delivered,
    All,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ResolveAs {
    /// It was applied in AgoraPlus.
    Applied,
    /// It was not applied: send it again.
    Resend,
    /// Drop it.
    Abandon,
}

#[derive(Debug, Subcommand)]
pub(crate) enum OutboxCmd {
    /// Entries of the outbox.
    List {
        /// Which entries.
        #[arg(long, value_enum, default_value = "all")]
        state: StateArg,
    },
    /// Deliver what is due.
    Flush,
    /// Settle an entry in doubt (or failed).
    Resolve {
        /// The entry.
        id: u64,
        /// What happened.
        #[arg(long = "as", value_enum)]
        resolution: ResolveAs,
        /// With `--as applied` on a CreateWarrantyClaims entry: the claim
        /// AgoraPlus created (checked against its claim tracking).
        #[arg(long)]
        claim_id: Option<i64>,
        /// With `--as applied` on a CreateRepair entry: the repair file
        /// AgoraPlus created (looked up in the accepted work orders when
        /// the file came from one).
        #[arg(long)]
        intervention_id: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RefCmd {
    /// Every status code with its family and what it requires.
    StatusCodes,
    /// The OEMs.
    Oems,
    /// Repair types, with warranty condition and coverage.
    RepairTypes {
        /// Only this OEM.
        #[arg(long)]
        oem: Option<u32>,
    },
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AGORA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(failure::code::REFUSED);
        }
    };
    let out = Out { json: cli.json };
    let flags = Flags {
        config: cli.config,
        base_url: cli.base_url,
        env: cli.environment,
        api_key_file: cli.api_key_file,
        db: cli.db,
        language: cli.language,
    };
    runtime.block_on(commands::run(cli.command, flags, out))
}
