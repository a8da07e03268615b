//! The subcommands, one module each by family (its arguments and what it
//! does), and what they share: building the use cases from the settings,
//! dispatching, and the rendering of deliveries and tracking passes.

mod catalog;
mod claims;
mod demo;
mod docs;
mod doctor;
mod events;
mod invoices;
mod metrics;
mod outbox;
mod parts;
mod record;
mod reference;
mod repairs;
mod sim;
mod watch;
mod work_orders;

use std::process::ExitCode;
use std::sync::Arc;

use agora_app::{Agora, AppConfig, Delivery, Pass};
use agora_http::{AgoraClient, ClientConfig};
use agora_ports::{AgoraError, SystemClock};
use agora_store::Store;
use serde::Serialize;

pub(crate) use catalog::{BomArgs, CatalogCmd};
pub(crate) use claims::ClaimsCmd;
pub(crate) use demo::DemoArgs;
pub(crate) use docs::{CompletionsArgs, man};
pub(crate) use doctor::DoctorArgs;
pub(crate) use events::EventsArgs;
pub(crate) use invoices::InvoicesCmd;
pub(crate) use outbox::OutboxCmd;
pub(crate) use parts::PartsCmd;
pub(crate) use record::RecordArgs;
pub(crate) use reference::RefCmd;
pub(crate) use repairs::{RepairsCmd, StatusCmd};
pub(crate) use sim::SimArgs;
pub(crate) use watch::WatchArgs;
pub(crate) use work_orders::WorkOrdersCmd;

use crate::Command;
use crate::failure::{self, Failure, code};
use crate::output::{Human, Out, Render};
use crate::settings::{Flags, Settings};

pub(crate) type App = Agora<AgoraClient, Store>;

/// Builds the use cases from the settings, and recovers an interrupted outbox.
pub(crate) async fn app(settings: &Settings, out: Out) -> Result<App, AgoraError> {
    let client = AgoraClient::new(settings.client.clone())?;
    let store = Store::open(&settings.db, settings.db_options.clone()).await?;
    let config = AppConfig {
        language: settings.language,
        auto_accept: settings.auto_accept,
        transfer_if_valid: settings.transfer_if_valid,
        lease: settings.lease,
        grace: settings.grace,
        // An outbox send ends within the client's longest call, retries
        // included.
        request_timeout: settings.client.longest_call(),
        answer_spool: Some(answer_spool(&settings.db)),
        ..AppConfig::default()
    };
    let retry = &settings.client.retry;
    tracing::debug!(
        "timing: connect_timeout={:?} request_timeout={:?} read_timeout={:?} retry_attempts={} \
         retry_max_elapsed={:?} retry_max_backoff={:?} lease={:?} grace={:?} send_bound={:?}",
        settings.client.connect_timeout,
        settings.client.request_timeout,
        settings.client.read_timeout,
        retry.max_attempts,
        retry.max_elapsed,
        retry.max_backoff,
        config.lease,
        config.grace,
        config.request_timeout,
    );
    let app = Agora::new(client, store, Arc::new(SystemClock), config);
    let parked = app.recover().await?;
    if !parked.is_empty() {
        out.note(format_args!(
            "warning: {} operation(s) were interrupted mid-send (their process stopped) and are in doubt: `agora outbox list --state in-doubt`",
            parked.len()
        ));
    }
    Ok(app)
}

/// Where answers the store could not record are kept for the next start:
/// next to a SQLite file (`agora.db.answers/`), else `agora-answers/` in
/// the working directory.
fn answer_spool(db: &agora_store::Locator) -> std::path::PathBuf {
    match db {
        agora_store::Locator::Sqlite(path) => {
            let mut name = path.as_os_str().to_owned();
            name.push(".answers");
            std::path::PathBuf::from(name)
        }
        agora_store::Locator::Postgres(_) => std::path::PathBuf::from("agora-answers"),
    }
}

pub(crate) async fn run(command: Command, flags: Flags, out: Out) -> ExitCode {
    match command {
        Command::Demo(args) => return demo::run(args, out).await,
        Command::Sim(args) => return sim::run(args, out).await,
        Command::Record(args) => return record::run(args, out).await,
        Command::Completions(args) => return docs::completions(&args, out),
        Command::Reference(cmd) => {
            reference::run(cmd, out);
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let settings = match Settings::resolve(&flags) {
        Ok(s) => s,
        Err(e) => return failure::report(&e, None, out),
    };
    // From here on, every line agora prints (results, errors, warnings,
    // logs) has the api_key taken out, however AgoraPlus echoed it.
    crate::output::hide(settings.client.api_key.expose());
    let result = match app(&settings, out).await {
        Ok(app) => match command {
            Command::Watch(args) => watch::run(&app, args, &settings.watch, out).await,
            Command::Events(args) => events::run(&app, args, &settings.watch.webhooks, out).await,
            Command::Invoices(cmd) => invoices::run(&app, cmd, out, &settings.month_end).await,
            command => execute(&app, command, out, &settings.client).await,
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(exit) => ExitCode::from(exit),
        Err(e) => failure::report(&e, Some(&settings.client), out),
    }
}

fn delivery_exit(d: &Delivery) -> u8 {
    match d {
        Delivery::Delivered { .. } => code::OK,
        Delivery::Queued { .. } => code::UNREACHABLE,
        Delivery::InDoubt { .. } => code::IN_DOUBT,
        Delivery::Failed { .. } => code::REFUSED,
    }
}

fn describe(d: &Delivery) -> String {
    match d {
        Delivery::Delivered { entry, warning, .. } => match warning {
            Some(w) => format!("delivered (entry {entry}); AgoraPlus warns: {w}"),
            None => format!("delivered (entry {entry})"),
        },
        Delivery::Queued { entry, error } => {
            format!(
                "queued as entry {entry}, not delivered yet ({error}); `agora watch` or `agora outbox flush` sends it"
            )
        }
        Delivery::InDoubt { entry, error } => format!(
            "entry {entry} is IN DOUBT ({error}); check AgoraPlus, then `agora outbox resolve {entry} --as ...`"
        ),
        Delivery::Failed { entry, error } => {
            format!("refused by AgoraPlus (entry {entry}): {error}")
        }
    }
}

/// A state change sent through the outbox, and what became of it: for
/// people `WHAT: DELIVERY`, as JSON the change's fields, the entry and the
/// delivery sentence.
#[derive(Debug, Serialize)]
struct Sent<C: Serialize> {
    #[serde(flatten)]
    change: C,
    entry: u64,
    delivery: String,
    /// The change in words, for people.
    #[serde(skip)]
    what: String,
}

impl<C: Serialize> Sent<C> {
    fn new(change: C, what: impl Into<String>, d: &Delivery) -> Self {
        Self {
            change,
            entry: d.entry(),
            delivery: describe(d),
            what: what.into(),
        }
    }
}

impl<C: Serialize> Render for Sent<C> {
    fn human(&self) -> Human {
        if self.what.is_empty() {
            Human::line(self.delivery.clone())
        } else {
            Human::line(format!("{}: {}", self.what, self.delivery))
        }
    }
}

/// One warning line on stderr for each item (local rules, items set aside).
fn warn_all<T: std::fmt::Display>(out: Out, what: &str, items: &[T]) {
    for item in items {
        out.note(format_args!("warning: {what}{item}"));
    }
}

/// Shows the warnings and failures of a tracking pass on stderr and
/// returns its exit code: that of the failure that stopped the pass, else
/// of the first failure, else 0.
fn report_pass<T>(pass: &Pass<T>, out: Out, client: &ClientConfig) -> u8 {
    out.warnings(&pass.warnings);
    let codes: Vec<u8> = pass
        .failed
        .iter()
        .map(|f| failure::report_step(f, Some(client), out))
        .collect();
    if !pass.not_reached.is_empty() {
        let left: Vec<String> = pass.not_reached.iter().map(ToString::to_string).collect();
        let exit = codes.last().copied().unwrap_or(code::REFUSED);
        return Failure::new(
            "not_reached",
            format!(
                "stopped there; {} not reached: {}",
                left.len(),
                left.join("; ")
            ),
            exit,
        )
        .print(out);
    }
    codes.first().copied().unwrap_or(code::OK)
}

async fn execute(
    app: &App,
    command: Command,
    out: Out,
    client: &ClientConfig,
) -> Result<u8, AgoraError> {
    match command {
        Command::WorkOrders(cmd) => work_orders::run(app, cmd, out, client).await,
        Command::Repairs(cmd) => repairs::run(app, cmd, out).await,
        Command::Status(cmd) => repairs::run_status(app, cmd, out).await,
        Command::Parts(cmd) => parts::run(app, cmd, out, client).await,
        Command::Claims(cmd) => claims::run(app, cmd, out, client).await,
        Command::Catalog(cmd) => catalog::run(app, cmd, out).await,
        Command::Bom(args) => catalog::bom(app, args, out).await,
        Command::Outbox(cmd) => outbox::run(app, cmd, out).await,
        Command::Doctor(args) => doctor::run(app, args, out).await,
        Command::Demo(_)
        | Command::Events(_)
        | Command::Watch(_)
        | Command::Invoices(_)
        | Command::Sim(_)
        | Command::Record(_)
        | Command::Completions(_)
        | Command::Reference(_) => Ok(code::OK),
    }
}
