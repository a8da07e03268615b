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
mod parse;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use agora_domain::Lcid;
use agora_http::Environment;
use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::commands::{
    BomArgs, CatalogCmd, ClaimsCmd, CompletionsArgs, DemoArgs, DoctorArgs, EventsArgs, InvoicesCmd,
    OutboxCmd, PartsCmd, RecordArgs, RefCmd, RepairsCmd, SimArgs, StatusCmd, WatchArgs,
    WorkOrdersCmd,
};
use crate::output::Out;
use crate::settings::Flags;

const DOCTOR_HELP: &str = "\
Mend what earlier versions of agora left wrong in the repair files. Without --fix, list
each change it would make (and exit 1 when there is one); with --fix, make them, listing
each (exit 0). Run it again: a mended store lists nothing.

What it mends, from the store alone (the outbox's entries and the work orders kept):
  part-ordered      a part still marked to be ordered that AgoraPlus already ordered (one
                    order number for several parts): it gets its number and is not ordered
                    again; the order lines not kept are added (local: AgoraPlus gave them)
  refused-status    a status of an update AgoraPlus refused (E), still in the file and sent
                    again with every later update: taken out, kept aside as its outbox entry
                    (local: AgoraPlus never applied it)
  work-order-field  a consumer, appliance or reseller field of the work order (Zip, Town,
                    Country, Phone, SerialNumber…) the file lacks: filled, and one UpdateRepair
                    of the file queued so that AgoraPlus has it too (`agora outbox flush`)
A field the file has is never changed; a status a pending, in-doubt or accepted update
carries is kept.";

const AFTER_HELP: &str = "\
Settings (flags win over the environment, which wins over the configuration file):
  AGORA_API_KEY        the account's api_key (or AGORA_API_KEY_FILE / --api-key-file: a file holding it)
  AGORA_BASE_URL       any base URL, e.g. a simulator at http://127.0.0.1:8787
  AGORA_ENV            preprod (default), production, or a URL
  AGORA_LANGUAGE       language of AgoraPlus's messages: an LCID (1033, 1036, …) or a name
  AGORA_DB             the local store: a SQLite file (default ./agora.db), a
                       postgres://USER@HOST:PORT/DB URL shared by several workers, or
                       libpq's key=value form (host=… dbname=… user=…)
  AGORA_DB_PASSWORD_FILE  a file holding the PostgreSQL password (else the URL's, or
                       the pgpass file: PGPASSFILE or ~/.pgpass)
  AGORA_CONFIG         a JSON configuration file: base_url, env, api_key_file, db,
                       db_password_file, language, auto_accept, transfer_if_valid,
                       connect_timeout, request_timeout, read_timeout, retry_attempts,
                       retry_max_elapsed, retry_max_backoff, lease, grace, and agora
                       watch's watch_work_orders_every, watch_tracking_every,
                       watch_outbox_poll, watch_shutdown_grace, watch_catalogs,
                       watch_catalog_at (durations as \"30s\", \"500ms\", \"2m\" or a
                       number of seconds), and the month end's month_zone and
                       invoice_csv (each OEM's CSV mapping; see `agora invoices match --help`)
  AGORA_CONNECT_TIMEOUT … AGORA_GRACE  the timing settings (Timing: above); the
                       README's \"Timing\" says what each trades
  AGORA_LOG            log filter for stderr (e.g. info, agora_http=debug); -v, -vv, -vvv win over it
  AGORA_LOG_FORMAT     text (default) or json: one JSON object per log line

Exit codes:
  0 success            1 refused (by AgoraPlus or a local rule)     2 wrong usage
  3 configuration or authentication (missing key, 401, 403)         4 AgoraPlus unreachable or unavailable
  5 an operation is in doubt (see `agora outbox list --state in-doubt`)  6 local store error
  7 AgoraPlus answered something this version cannot read (unreadable answer)
  8 `agora invoices match`: the OEM's CSV does not match the local files
With --json, an error is one JSON object on stderr: code, message, hint, exit_code.
A command that did only part of its work (a sync whose one half failed, a tracking pass that
missed some files) says which part failed on stderr and exits with that failure's code.
AgoraPlus's warnings are printed on stderr, one `warning:` line each.";

/// Integrate an after-sales product with AgoraPlus.
#[derive(Debug, Parser)]
#[command(name = "agora", version, about, after_help = AFTER_HELP)]
struct Cli {
    /// Print results as JSON (for scripts) instead of tables; errors too.
    #[arg(long, global = true)]
    json: bool,
    /// No warnings or progress on stderr, only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Log more on stderr (-v info, -vv debug, -vvv trace; wins over AGORA_LOG).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    verbose: u8,
    /// How logs are written on stderr: text (default) or json (one JSON
    /// object per line, for log collectors).
    #[arg(
        long,
        global = true,
        value_name = "FORMAT",
        env = "AGORA_LOG_FORMAT",
        hide_env_values = true,
        value_enum,
        default_value_t = LogFormat::Text
    )]
    log_format: LogFormat,
    /// The local store: a SQLite file, a postgres:// URL or a libpq key=value string.
    #[arg(
        long,
        global = true,
        value_name = "PATH|URL",
        env = "AGORA_DB",
        hide_env_values = true
    )]
    db: Option<String>,
    /// A JSON configuration file.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "AGORA_CONFIG",
        hide_env_values = true
    )]
    config: Option<PathBuf>,
    /// AgoraPlus base URL (overrides --env).
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "AGORA_BASE_URL",
        hide_env_values = true
    )]
    base_url: Option<String>,
    /// preprod (default), production, or a URL.
    #[arg(
        long = "env",
        global = true,
        value_name = "ENV",
        env = "AGORA_ENV",
        hide_env_values = true,
        value_parser = parse::environment
    )]
    environment: Option<Environment>,
    /// A file holding the api_key (AGORA_API_KEY wins over AGORA_API_KEY_FILE, not over the flag).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "AGORA_API_KEY_FILE",
        hide_env_values = true
    )]
    api_key_file: Option<PathBuf>,
    /// Language of AgoraPlus's messages: an LCID (1033 English, 1036 French, …) or a name.
    #[arg(
        long,
        global = true,
        value_name = "LCID",
        env = "AGORA_LANGUAGE",
        hide_env_values = true,
        value_parser = parse::language
    )]
    language: Option<Lcid>,
    /// Limit to establish a connection to AgoraPlus (default 10s).
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        env = "AGORA_CONNECT_TIMEOUT",
        hide_env_values = true,
        value_parser = parse::duration,
        help_heading = "Timing"
    )]
    connect_timeout: Option<Duration>,
    /// Limit for one call to AgoraPlus, answer included (default 60s); a
    /// creation cut by it is in doubt.
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        env = "AGORA_REQUEST_TIMEOUT",
        hide_env_values = true,
        value_parser = parse::duration,
        help_heading = "Timing"
    )]
    request_timeout: Option<Duration>,
    /// Limit between two reads of an answer, for catalog deltas (default 60s).
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        env = "AGORA_READ_TIMEOUT",
        hide_env_values = true,
        value_parser = parse::duration,
        help_heading = "Timing"
    )]
    read_timeout: Option<Duration>,
    /// Attempts of a call to AgoraPlus in all, the first included (default 4; 1: no retry).
    #[arg(
        long,
        global = true,
        value_name = "N",
        env = "AGORA_RETRY_ATTEMPTS",
        hide_env_values = true,
        value_parser = parse::attempts,
        help_heading = "Timing"
    )]
    retry_attempts: Option<u32>,
    /// Total waiting allowed across a call's retries (default 30s).
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        env = "AGORA_RETRY_MAX_ELAPSED",
        hide_env_values = true,
        value_parser = parse::duration_or_zero,
        help_heading = "Timing"
    )]
    retry_max_elapsed: Option<Duration>,
    /// The longest single wait between retries, a server's Retry-After included (default 10s).
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        env = "AGORA_RETRY_MAX_BACKOFF",
        hide_env_values = true,
        value_parser = parse::duration,
        help_heading = "Timing"
    )]
    retry_max_backoff: Option<Duration>,
    /// How long a claimed outbox entry stays this process's without renewal (default 60s).
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        env = "AGORA_LEASE",
        hide_env_values = true,
        value_parser = parse::duration,
        help_heading = "Timing"
    )]
    lease: Option<Duration>,
    /// How long after a request's timeout an answer may still land (default 30s).
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        env = "AGORA_GRACE",
        hide_env_values = true,
        value_parser = parse::duration_or_zero,
        help_heading = "Timing"
    )]
    grace: Option<Duration>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one complete repair on the embedded AgoraPlus simulator (no key, no network).
    Demo(DemoArgs),
    /// Serve the AgoraPlus simulator until Ctrl-C (`--replay DIR`: serve recordings).
    Sim(SimArgs),
    /// Record real exchanges: forward to AgoraPlus, write each call to a file (key masked).
    Record(RecordArgs),
    /// Work orders: pull and accept them, list and show them as received.
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
    /// Mend what earlier versions left wrong in the repair files (`--fix`; without it, list).
    #[command(long_about = DOCTOR_HELP)]
    Doctor(DoctorArgs),
    /// Keep in sync until SIGTERM or Ctrl-C: pull work orders, send the outbox, track, sync catalogs.
    Watch(WatchArgs),
    /// The events recorded (work orders received, statuses delivered, claims decided, …).
    Events(EventsArgs),
    /// Shell completions: `agora completions bash > /etc/bash_completion.d/agora`.
    Completions(CompletionsArgs),
    /// Reference tables: status codes, OEMs, repair types.
    #[command(subcommand, name = "ref")]
    Reference(RefCmd),
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per line (timestamp, level, fields, target, span).
    Json,
}

/// Logs on stderr: by `-v`'s level, else by AGORA_LOG, else none; as
/// text or JSON lines, the api_key taken out either way.
fn init_logs(verbose: u8, format: LogFormat) {
    let filter = match verbose {
        0 => tracing_subscriber::EnvFilter::try_from_env("AGORA_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        1 => tracing_subscriber::EnvFilter::new("info"),
        2 => tracing_subscriber::EnvFilter::new("debug"),
        _ => tracing_subscriber::EnvFilter::new("trace"),
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| output::MaskedStderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_current_span(true).init(),
    }
}

/// The command without the environment variable of each setting whose
/// variable is set but blank: a blank `AGORA_ENV=` means unset, as it
/// always has, not an invalid value.
fn blank_variables_unset(mut command: clap::Command) -> clap::Command {
    let blank: Vec<clap::Id> = command
        .get_arguments()
        .filter(|arg| {
            arg.get_env()
                .and_then(std::env::var_os)
                .is_some_and(|v| v.to_string_lossy().trim().is_empty())
        })
        .map(|arg| arg.get_id().clone())
        .collect();
    for id in blank {
        command = command.mut_arg(id, |arg| arg.env(None));
    }
    command
}

/// Parses the command line; a usage error is clap's (or, with `--json`,
/// a JSON error), exit 2.
fn parse_cli() -> Result<Cli, ExitCode> {
    let parsed = blank_variables_unset(Cli::command())
        .try_get_matches()
        .and_then(|matches| {
            let mut cli = Cli::from_arg_matches(&matches)?;
            // AGORA_API_KEY wins over AGORA_API_KEY_FILE (settings.rs);
            // only the flag wins over both.
            if matches.value_source("api_key_file") != Some(ValueSource::CommandLine) {
                cli.api_key_file = None;
            }
            Ok(cli)
        });
    match parsed {
        Ok(cli) => Ok(cli),
        Err(e) if e.use_stderr() && wants_json() => {
            let out = Out {
                json: true,
                quiet: false,
            };
            Err(ExitCode::from(failure::Failure::usage(&e).print(out)))
        }
        Err(e) => e.exit(),
    }
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
    // `agora __man DIR`: the man pages, for `cargo xtask man`; read before
    // clap so that it is in neither `--help` nor the completions.
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if args.len() == 2 && args[0] == "__man" {
        let dir = std::path::Path::new(&args[1]);
        let out = Out {
            json: false,
            quiet: false,
        };
        return commands::man(dir, out);
    }
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(exit) => return exit,
    };
    init_logs(cli.verbose, cli.log_format);
    let out = Out {
        json: cli.json,
        quiet: cli.quiet,
    };
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
        connect_timeout: cli.connect_timeout,
        request_timeout: cli.request_timeout,
        read_timeout: cli.read_timeout,
        retry_attempts: cli.retry_attempts,
        retry_max_elapsed: cli.retry_max_elapsed,
        retry_max_backoff: cli.retry_max_backoff,
        lease: cli.lease,
        grace: cli.grace,
    };
    let exit = runtime.block_on(commands::run(cli.command, flags, out));
    if exit == ExitCode::SUCCESS && output::write_failed() {
        return ExitCode::from(failure::code::REFUSED);
    }
    exit
}
