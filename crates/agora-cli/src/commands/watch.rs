//! `agora watch`: the worker (agora-app's loops) until SIGTERM or Ctrl-C.
//! The loops and their rules live in `agora_app::Watch`; this is the
//! wiring: settings, signals, and the notices on stderr.

use std::sync::Arc;
use std::time::Duration;

use agora_app::{
    CatalogJob, CatalogKind, Notice, RetentionConfig, Stop, SystemClock, Watch, WatchConfig,
    WatchMetrics, WatchReport, WebhookConfig, WebhookReport,
};
use agora_domain::{Lcid, ManufacturerId};
use agora_ports::AgoraError;
use clap::Args;
use serde::Serialize;

use super::App;
use crate::failure::code;
use crate::output::{Human, Out, Render};
use crate::parse;
use crate::settings::{FileDuration, WatchFile};

/// The defaults (the README and `--help` say them).
mod defaults {
    use std::time::Duration;

    pub(super) const WORK_ORDERS_EVERY: Duration = Duration::from_secs(60);
    pub(super) const TRACKING_EVERY: Duration = Duration::from_secs(900);
    pub(super) const OUTBOX_POLL: Duration = Duration::from_secs(5);
    pub(super) const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
}

#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// How often new work orders are pulled (default 60s, ±10 % jitter).
    #[arg(
        long,
        value_name = "DURATION",
        env = "AGORA_WATCH_WORK_ORDERS_EVERY",
        hide_env_values = true,
        value_parser = parse::duration
    )]
    work_orders_every: Option<Duration>,
    /// How often open part orders and open claims are tracked (default 15m).
    #[arg(
        long,
        value_name = "DURATION",
        env = "AGORA_WATCH_TRACKING_EVERY",
        hide_env_values = true,
        value_parser = parse::duration
    )]
    tracking_every: Option<Duration>,
    /// How often the outbox is looked at for entries other processes wrote
    /// (default 5s); an entry due earlier is sent when due.
    #[arg(
        long,
        value_name = "DURATION",
        env = "AGORA_WATCH_OUTBOX_POLL",
        hide_env_values = true,
        value_parser = parse::duration
    )]
    outbox_poll: Option<Duration>,
    /// A catalog synced nightly: an OEM code, spare parts by default
    /// (`19`, `19:products`); repeat, or separate with commas.
    #[arg(
        long = "catalog",
        value_name = "OEM[:KIND]",
        env = "AGORA_WATCH_CATALOGS",
        hide_env_values = true,
        value_delimiter = ',',
        value_parser = catalog_spec
    )]
    catalogs: Vec<(ManufacturerId, CatalogKind)>,
    /// When the catalogs are synced each day, UTC (default 02:00).
    #[arg(
        long,
        value_name = "HH:MM",
        env = "AGORA_WATCH_CATALOG_AT",
        hide_env_values = true,
        value_parser = time_of_day
    )]
    catalog_at: Option<jiff::civil::Time>,
    /// How long a stop waits for the sends under way (default 10s); a
    /// second signal stops at once.
    #[arg(
        long,
        value_name = "DURATION",
        env = "AGORA_WATCH_SHUTDOWN_GRACE",
        hide_env_values = true,
        value_parser = parse::duration_or_zero
    )]
    shutdown_grace: Option<Duration>,
    /// Serve the worker's health (`/healthz`: 200, or 503 with the failing
    /// loop in JSON) and figures (`/metrics`, Prometheus text format) on
    /// this address, e.g. 127.0.0.1:9464.
    #[arg(
        long,
        value_name = "ADDR",
        env = "AGORA_WATCH_METRICS",
        hide_env_values = true
    )]
    metrics: Option<std::net::SocketAddr>,
}

/// `19` or `19:parts` (spare parts), `19:products`.
fn catalog_spec(s: &str) -> Result<(ManufacturerId, CatalogKind), String> {
    let (oem, kind) = s.trim().split_once(':').unwrap_or((s.trim(), "parts"));
    let oem: u32 = oem
        .trim()
        .parse()
        .map_err(|_| format!("`{oem}` is not an OEM code (a number, e.g. 19)"))?;
    let kind = match kind.trim() {
        "parts" | "spare-parts" | "spareparts" => CatalogKind::SpareParts,
        "products" => CatalogKind::Products,
        other => return Err(format!("`{other}`: expected parts or products")),
    };
    Ok((ManufacturerId(oem), kind))
}

/// `HH:MM` (24 h).
fn time_of_day(s: &str) -> Result<jiff::civil::Time, String> {
    let bad = || format!("`{s}`: expected HH:MM, e.g. 02:00");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    jiff::civil::Time::new(h, m, 0, 0).map_err(|_| bad())
}

/// A setting: the flag's (or its variable's), else the file's, else the
/// default.
fn pick(flag: Option<Duration>, file: Option<FileDuration>, default: Duration) -> Duration {
    flag.or(file.map(|f| f.0)).unwrap_or(default)
}

/// The worker's settings from the flags, the configuration file and the
/// defaults.
fn config(args: &WatchArgs, file: &WatchFile, language: Lcid) -> Result<WatchConfig, AgoraError> {
    let tracking = pick(
        args.tracking_every,
        file.tracking_every,
        defaults::TRACKING_EVERY,
    );
    let catalogs = if args.catalogs.is_empty() {
        file.catalogs
            .iter()
            .map(|s| catalog_spec(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                AgoraError::Config(format!("watch_catalogs in the configuration file: {e}"))
            })?
    } else {
        args.catalogs.clone()
    };
    let catalog_at = match (args.catalog_at, &file.catalog_at) {
        (Some(t), _) => t,
        (None, Some(s)) => time_of_day(s).map_err(|e| {
            AgoraError::Config(format!("watch_catalog_at in the configuration file: {e}"))
        })?,
        (None, None) => WatchConfig::default().catalog_at,
    };
    let nonzero = |d: Duration, key: &str| {
        if d.is_zero() {
            Err(AgoraError::Config(format!("{key} must be longer than 0")))
        } else {
            Ok(d)
        }
    };
    Ok(WatchConfig {
        work_orders_every: nonzero(
            pick(
                args.work_orders_every,
                file.work_orders_every,
                defaults::WORK_ORDERS_EVERY,
            ),
            "watch_work_orders_every",
        )?,
        part_orders_every: nonzero(tracking, "watch_tracking_every")?,
        claims_every: tracking,
        outbox_poll: nonzero(
            pick(args.outbox_poll, file.outbox_poll, defaults::OUTBOX_POLL),
            "watch_outbox_poll",
        )?,
        shutdown_grace: pick(
            args.shutdown_grace,
            file.shutdown_grace,
            defaults::SHUTDOWN_GRACE,
        ),
        catalogs: catalogs
            .into_iter()
            .map(|(manufacturer, kind)| CatalogJob {
                manufacturer,
                language,
                kind,
            })
            .collect(),
        catalog_at,
        ..WatchConfig::default()
    })
}

/// The webhook and retention settings from the configuration file.
fn extras(file: &WatchFile) -> Result<(WebhookConfig, RetentionConfig), AgoraError> {
    let mut hooks = WebhookConfig {
        endpoints: file.webhooks.clone(),
        ..WebhookConfig::default()
    };
    if let Some(FileDuration(age)) = file.webhook_max_age {
        if age.is_zero() {
            return Err(AgoraError::Config(
                "webhook_max_age in the configuration file must be longer than 0".to_owned(),
            ));
        }
        hooks.retry.max_age = age;
    }
    let mut retention = RetentionConfig::default();
    if let Some(FileDuration(keep)) = file.retention {
        if keep.is_zero() {
            return Err(AgoraError::Config(
                "retention in the configuration file must be longer than 0".to_owned(),
            ));
        }
        retention.keep = keep;
    }
    Ok((hooks, retention))
}

/// What a worker did, printed when it stops.
#[derive(Debug, Serialize)]
struct Stopped {
    runs: std::collections::BTreeMap<&'static str, u64>,
    skipped: std::collections::BTreeMap<&'static str, u64>,
    delivered: usize,
    queued: usize,
    in_doubt: usize,
    failed: usize,
    cut: bool,
}

impl From<WatchReport> for Stopped {
    fn from(r: WatchReport) -> Self {
        Self {
            runs: r.runs,
            skipped: r.skipped,
            delivered: r.outbox.delivered,
            queued: r.outbox.queued,
            in_doubt: r.outbox.in_doubt,
            failed: r.outbox.failed,
            cut: r.cut,
        }
    }
}

impl Render for Stopped {
    fn human(&self) -> Human {
        let runs: Vec<String> = self.runs.iter().map(|(j, n)| format!("{j} {n}")).collect();
        Human::line(format!(
            "stopped{}: runs: {}; outbox: {} delivered, {} queued, {} in doubt, {} failed",
            if self.cut {
                " (work under way cut)"
            } else {
                ""
            },
            if runs.is_empty() {
                "none".to_owned()
            } else {
                runs.join(", ")
            },
            self.delivered,
            self.queued,
            self.in_doubt,
            self.failed
        ))
    }
}

/// Signals a stop on each SIGTERM or Ctrl-C (SIGINT), for as long as it runs.
async fn on_signals(stop: Stop) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("cannot listen for signals");
            return;
        };
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            stop.signal();
        }
    }
    #[cfg(not(unix))]
    while tokio::signal::ctrl_c().await.is_ok() {
        stop.signal();
    }
}

fn notice_line(notice: &Notice) -> String {
    match notice {
        Notice::Unavailable { job, error } => format!(
            "warning: AgoraPlus is unavailable ({error}; seen by {}); backing off until it answers",
            job.name()
        ),
        Notice::Available { job } => format!("AgoraPlus answers again ({})", job.name()),
        Notice::Failed { job, error } => format!("warning: {} failed: {error}", job.name()),
        Notice::Stopping => {
            "stopping: no new work; waiting for the sends under way (again to stop at once)"
                .to_owned()
        }
        Notice::Stopped { .. } => "stopped".to_owned(),
        other => format!("{other:?}"),
    }
}

pub(super) async fn run(
    app: &App,
    args: WatchArgs,
    file: &WatchFile,
    out: Out,
) -> Result<u8, AgoraError> {
    let config = config(&args, file, app.config().language)?;
    // The client counts its calls into the worker's metrics.
    let metrics = Arc::new(WatchMetrics::new(Arc::new(SystemClock), &config));
    let app = app
        .clone()
        .map_api(|client| client.with_meter(metrics.clone()));
    let listener = match args.metrics {
        Some(addr) => Some(super::metrics::bind(addr).await?),
        None => None,
    };
    let mut watch = Watch::new(app.clone(), config).with_metrics(metrics.clone());
    let mut notices = watch.notices();
    let stop = Stop::new();
    let signals = tokio::spawn(on_signals(stop.clone()));
    let printer = tokio::spawn(async move {
        while let Some(notice) = notices.recv().await {
            if !matches!(notice, Notice::Stopped { .. }) {
                out.note(format_args!("{}", notice_line(&notice)));
            }
        }
    });
    let server = match listener {
        Some(listener) => {
            if let Ok(addr) = listener.local_addr() {
                out.note(format_args!(
                    "health on http://{addr}/healthz, metrics on http://{addr}/metrics"
                ));
            }
            Some(super::metrics::serve(listener, metrics, app.clone()))
        }
        None => None,
    };
    out.note(format_args!(
        "watching (worker {}); SIGTERM or Ctrl-C stops",
        app.config().worker
    ));
    let (hooks, retention) = extras(file)?;
    let sender = agora_webhooks::HttpSender::new(agora_webhooks::DEFAULT_TIMEOUT)?;
    if !hooks.endpoints.is_empty() {
        let names: Vec<&str> = hooks.endpoints.iter().map(|e| e.name.as_str()).collect();
        out.note(format_args!(
            "delivering events to webhooks: {}",
            names.join(", ")
        ));
    }
    let (report, delivered, _) = tokio::join!(
        watch.run(&stop),
        watch.webhooks(&stop, &sender, &hooks),
        watch.retention(&stop, &retention),
    );
    if delivered != WebhookReport::default() {
        out.note(format_args!(
            "webhooks: {} delivered, {} retried, {} given up",
            delivered.delivered, delivered.retried, delivered.gave_up
        ));
    }
    signals.abort();
    if let Some(server) = server {
        server.abort();
    }
    drop(watch);
    let _ = printer.await;
    out.show(&Stopped::from(report));
    Ok(code::OK)
}
