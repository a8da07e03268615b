//! Settings from flags, the environment and a configuration file, in that
//! order of precedence. The api_key comes from the environment or a file,
//! never from a flag's value or the configuration file, and is never printed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use agora_domain::Lcid;
use agora_domain::month_end::CsvMapping;
use agora_http::{ApiKey, ClientConfig, Environment, RetryPolicy, parse_switch};
use agora_ports::{AgoraError, EventType, WebhookEndpoint, WebhookSecret};
use agora_store::{Locator, PgOptions};
use serde::{Deserialize, Deserializer};

use crate::parse;

/// The defaults of the timing settings (`--help` and the README say them).
pub(crate) mod defaults {
    use std::time::Duration;

    /// `connect_timeout`.
    pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// `request_timeout`.
    pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
    /// `read_timeout`.
    pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(60);
    /// `retry_attempts`.
    pub(crate) const RETRY_ATTEMPTS: u32 = 4;
    /// `retry_max_elapsed`.
    pub(crate) const RETRY_MAX_ELAPSED: Duration = Duration::from_secs(30);
    /// `retry_max_backoff`.
    pub(crate) const RETRY_MAX_BACKOFF: Duration = Duration::from_secs(10);
    /// `lease`.
    pub(crate) const LEASE: Duration = Duration::from_secs(60);
    /// `grace`.
    pub(crate) const GRACE: Duration = Duration::from_secs(30);
}

/// A duration in the configuration file: a string of the flags' forms
/// (`"30s"`, `"500ms"`, `"2m"`) or a number of seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileDuration(pub Duration);

impl<'de> Deserialize<'de> for FileDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = FileDuration;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(parse::DURATION_FORMS)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<FileDuration, E> {
                Ok(FileDuration(Duration::from_secs(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FileDuration, E> {
                parse::duration_or_zero(v)
                    .map(FileDuration)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The configuration file (JSON); every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// Base URL of AgoraPlus (or a simulator).
    pub base_url: Option<String>,
    /// `preprod` or `production`.
    pub env: Option<String>,
    /// A file holding the api_key.
    pub api_key_file: Option<PathBuf>,
    /// The local store: a SQLite file's path or a `postgres://` URL.
    pub db: Option<String>,
    /// A file holding the PostgreSQL password.
    pub db_password_file: Option<PathBuf>,
    /// LCID of AgoraPlus's messages.
    pub language: Option<u32>,
    /// Accept work orders as they are pulled.
    pub auto_accept: Option<bool>,
    /// Transfer VALID claims at once.
    pub transfer_if_valid: Option<bool>,
    /// Allow an `http://` base URL that is not loopback (the api_key then
    /// travels in clear).
    pub allow_insecure_http: Option<bool>,
    /// Limit to establish a connection to AgoraPlus.
    pub connect_timeout: Option<FileDuration>,
    /// Limit for one call to AgoraPlus, answer included.
    pub request_timeout: Option<FileDuration>,
    /// Limit between two reads of an answer (deltas).
    pub read_timeout: Option<FileDuration>,
    /// Attempts of a call in all, the first included.
    pub retry_attempts: Option<u32>,
    /// Total waiting allowed across a call's retries.
    pub retry_max_elapsed: Option<FileDuration>,
    /// The longest single wait between retries.
    pub retry_max_backoff: Option<FileDuration>,
    /// How long a claimed outbox entry stays this process's without renewal.
    pub lease: Option<FileDuration>,
    /// How long after a request's timeout an answer may still land.
    pub grace: Option<FileDuration>,
    /// `agora watch`: how often work orders are pulled.
    pub watch_work_orders_every: Option<FileDuration>,
    /// `agora watch`: how often part orders and claims are tracked.
    pub watch_tracking_every: Option<FileDuration>,
    /// `agora watch`: how often the outbox is looked at.
    pub watch_outbox_poll: Option<FileDuration>,
    /// `agora watch`: how long a stop waits for the sends under way.
    pub watch_shutdown_grace: Option<FileDuration>,
    /// `agora watch`: the catalogs synced nightly (`"19"`, `"19:products"`).
    #[serde(default)]
    pub watch_catalogs: Vec<String>,
    /// `agora watch`: when the catalogs are synced, `HH:MM` UTC.
    pub watch_catalog_at: Option<String>,
    /// The webhook endpoints `agora watch` POSTs events to.
    #[serde(default)]
    pub webhooks: Vec<WebhookFile>,
    /// How long a failing webhook delivery is retried before it is given
    /// up (default 3 days).
    pub webhook_max_age: Option<FileDuration>,
    /// How long events, delivered outbox entries and webhook deliveries
    /// are kept (default 90 days).
    pub retention: Option<FileDuration>,
    /// The month end: the time zone a claim's month is taken in (IANA
    /// name; default Europe/Paris).
    pub month_zone: Option<String>,
    /// The month end: each OEM's CSV mapping, by OEM id (`"19"`), or
    /// `"default"` for every OEM without one.
    #[serde(default)]
    pub invoice_csv: BTreeMap<String, CsvMapping>,
}

/// A webhook endpoint in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookFile {
    /// Its name (deliveries are kept under it).
    pub name: String,
    /// `https://…`, or `http://` to this machine.
    pub url: String,
    /// The event types it wants (default all).
    #[serde(default)]
    pub types: Vec<String>,
    /// One or two secrets (two while rotating).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Files holding the secrets, one each (instead of `secrets`).
    #[serde(default)]
    pub secret_files: Vec<PathBuf>,
}

impl WebhookFile {
    /// The endpoint, checked (`WebhookEndpoint::new`'s rules).
    fn endpoint(self) -> Result<WebhookEndpoint, AgoraError> {
        let name = self.name;
        let types = self
            .types
            .iter()
            .map(|t| {
                EventType::parse(t.trim()).ok_or_else(|| {
                    AgoraError::Config(format!(
                        "webhook `{name}`: `{t}` is not an event type (see `agora events --help`)"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut secrets = self
            .secrets
            .into_iter()
            .map(WebhookSecret::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AgoraError::Config(format!("webhook `{name}`: {e}")))?;
        for path in &self.secret_files {
            let text = std::fs::read_to_string(path).map_err(|e| {
                AgoraError::Config(format!(
                    "webhook `{name}`: cannot read the secret file {}: {e}",
                    path.display()
                ))
            })?;
            secrets.push(WebhookSecret::new(text.trim()).map_err(|_| {
                AgoraError::Config(format!(
                    "webhook `{name}`: the secret file {} is empty",
                    path.display()
                ))
            })?);
        }
        WebhookEndpoint::new(&name, &self.url, types, secrets)
    }
}

/// The webhook endpoints of the configuration file, checked; a name used
/// twice is refused.
fn webhooks(files: Vec<WebhookFile>) -> Result<Vec<WebhookEndpoint>, AgoraError> {
    let endpoints = files
        .into_iter()
        .map(WebhookFile::endpoint)
        .collect::<Result<Vec<_>, _>>()?;
    for (i, e) in endpoints.iter().enumerate() {
        if endpoints[..i].iter().any(|o| o.name == e.name) {
            return Err(AgoraError::Config(format!(
                "webhook `{}` is configured twice",
                e.name
            )));
        }
    }
    Ok(endpoints)
}

/// The `agora watch` keys of the configuration file, read by that command
/// (its flags and variables win over them).
#[derive(Debug, Default, Clone)]
pub(crate) struct WatchFile {
    pub work_orders_every: Option<FileDuration>,
    pub tracking_every: Option<FileDuration>,
    pub outbox_poll: Option<FileDuration>,
    pub shutdown_grace: Option<FileDuration>,
    pub catalogs: Vec<String>,
    pub catalog_at: Option<String>,
    /// The webhook endpoints, checked.
    pub webhooks: Vec<WebhookEndpoint>,
    /// How long a failing webhook delivery is retried.
    pub webhook_max_age: Option<FileDuration>,
    /// How long events and what was delivered are kept.
    pub retention: Option<FileDuration>,
}

/// The month-end keys of the configuration file, read by `agora invoices`
/// (its flags win over them).
#[derive(Debug, Default, Clone)]
pub(crate) struct MonthEndFile {
    pub zone: Option<String>,
    pub mappings: BTreeMap<String, CsvMapping>,
}

/// Settings given on the command line (flags, or the environment
/// variables clap reads for them), already validated by clap.
#[derive(Debug, Default, Clone)]
pub(crate) struct Flags {
    pub config: Option<PathBuf>,
    pub base_url: Option<String>,
    pub env: Option<Environment>,
    pub api_key_file: Option<PathBuf>,
    pub db: Option<String>,
    pub language: Option<Lcid>,
    pub connect_timeout: Option<Duration>,
    pub request_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    pub retry_attempts: Option<u32>,
    pub retry_max_elapsed: Option<Duration>,
    pub retry_max_backoff: Option<Duration>,
    pub lease: Option<Duration>,
    pub grace: Option<Duration>,
}

/// The resolved settings.
#[derive(Debug)]
pub(crate) struct Settings {
    pub client: ClientConfig,
    pub db: Locator,
    pub db_options: PgOptions,
    pub language: Lcid,
    pub auto_accept: bool,
    pub transfer_if_valid: bool,
    /// How long a claimed outbox entry stays this process's.
    pub lease: Duration,
    /// How long after a request's timeout an answer may still land.
    pub grace: Duration,
    /// The configuration file's keys of `agora watch`.
    pub watch: WatchFile,
    /// The configuration file's keys of the month end.
    pub month_end: MonthEndFile,
}

/// A timing setting: the flag's (or its variable's) value, else the
/// file's, else the default. The file's must be longer than zero unless
/// `zero_ok`; a configuration error naming its key otherwise.
fn timing(
    flag: Option<Duration>,
    file: Option<FileDuration>,
    key: &str,
    default: Duration,
    zero_ok: bool,
) -> Result<Duration, AgoraError> {
    match (flag, file) {
        (Some(d), _) => Ok(d),
        (None, Some(FileDuration(d))) if d.is_zero() && !zero_ok => Err(AgoraError::Config(
            format!("{key} in the configuration file must be longer than 0"),
        )),
        (None, Some(FileDuration(d))) => Ok(d),
        (None, None) => Ok(default),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub(crate) fn load_file(path: &std::path::Path) -> Result<ConfigFile, AgoraError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AgoraError::Config(format!("cannot read {}: {e}", path.display())))?;
    agora_domain::decode_json(text.as_bytes())
        .map_err(|e| AgoraError::Config(format!("{}: {e}", path.display())))
}

fn read_key(path: &std::path::Path) -> Result<ApiKey, AgoraError> {
    let key = std::fs::read_to_string(path).map_err(|e| {
        AgoraError::Config(format!(
            "cannot read the api_key file {}: {e}",
            path.display()
        ))
    })?;
    let key = key.trim();
    if key.is_empty() {
        return Err(AgoraError::Config(format!(
            "the api_key file {} is empty",
            path.display()
        )));
    }
    Ok(ApiKey::new(key))
}

impl Settings {
    /// Resolves the settings; the api_key is required only when `need_key`.
    pub(crate) fn resolve(flags: &Flags) -> Result<Self, AgoraError> {
        let file_path = flags
            .config
            .clone()
            .or_else(|| env("AGORA_CONFIG").map(PathBuf::from));
        let file = match &file_path {
            Some(p) => load_file(p)?,
            None => ConfigFile::default(),
        };
        let environment = match (
            flags
                .base_url
                .clone()
                .or_else(|| env("AGORA_BASE_URL"))
                .or(file.base_url),
            flags.env.clone(),
            file.env,
        ) {
            (Some(url), _, _) => Environment::Custom(url),
            (None, Some(environment), _) => environment,
            (None, None, Some(name)) => Environment::parse(&name)?,
            (None, None, None) => Environment::PreProduction,
        };
        let key = if let Some(path) = &flags.api_key_file {
            read_key(path)?
        } else if let Some(key) = env("AGORA_API_KEY") {
            ApiKey::new(key.trim())
        } else if let Some(path) = env("AGORA_API_KEY_FILE")
            .map(PathBuf::from)
            .or(file.api_key_file)
        {
            read_key(&path)?
        } else {
            return Err(AgoraError::Config(
                "no api_key: set AGORA_API_KEY, or name a file with --api-key-file, AGORA_API_KEY_FILE or api_key_file in the configuration".to_owned(),
            ));
        };
        let db = Locator::parse(
            &flags
                .db
                .clone()
                .or_else(|| env("AGORA_DB"))
                .or(file.db)
                .unwrap_or_else(|| "agora.db".to_owned()),
        )?;
        let db_options = PgOptions {
            password_file: env("AGORA_DB_PASSWORD_FILE")
                .map(PathBuf::from)
                .or(file.db_password_file),
            ..PgOptions::default()
        };
        let language = flags
            .language
            .or(file.language.map(Lcid))
            .unwrap_or(Lcid::ENGLISH);
        let allow_insecure_http = match env("AGORA_ALLOW_INSECURE_HTTP") {
            Some(v) => parse_switch("AGORA_ALLOW_INSECURE_HTTP", &v)?,
            None => file.allow_insecure_http.unwrap_or(false),
        };
        let retry_attempts = match (flags.retry_attempts, file.retry_attempts) {
            (Some(n), _) => n,
            (None, Some(0)) => {
                return Err(AgoraError::Config(
                    "retry_attempts in the configuration file must be at least 1 (1: no retry)"
                        .to_owned(),
                ));
            }
            (None, Some(n)) => n,
            (None, None) => defaults::RETRY_ATTEMPTS,
        };
        let retry = RetryPolicy {
            max_attempts: retry_attempts,
            max_elapsed: timing(
                flags.retry_max_elapsed,
                file.retry_max_elapsed,
                "retry_max_elapsed",
                defaults::RETRY_MAX_ELAPSED,
                true,
            )?,
            max_backoff: timing(
                flags.retry_max_backoff,
                file.retry_max_backoff,
                "retry_max_backoff",
                defaults::RETRY_MAX_BACKOFF,
                false,
            )?,
            ..RetryPolicy::default()
        };
        let client = ClientConfig::new(environment, key)
            .with_insecure_http(allow_insecure_http)
            .with_timeouts(
                timing(
                    flags.connect_timeout,
                    file.connect_timeout,
                    "connect_timeout",
                    defaults::CONNECT_TIMEOUT,
                    false,
                )?,
                timing(
                    flags.request_timeout,
                    file.request_timeout,
                    "request_timeout",
                    defaults::REQUEST_TIMEOUT,
                    false,
                )?,
                timing(
                    flags.read_timeout,
                    file.read_timeout,
                    "read_timeout",
                    defaults::READ_TIMEOUT,
                    false,
                )?,
            )
            .with_retry(retry);
        let watch = WatchFile {
            work_orders_every: file.watch_work_orders_every,
            tracking_every: file.watch_tracking_every,
            outbox_poll: file.watch_outbox_poll,
            shutdown_grace: file.watch_shutdown_grace,
            catalogs: file.watch_catalogs,
            catalog_at: file.watch_catalog_at,
            webhooks: webhooks(file.webhooks)?,
            webhook_max_age: file.webhook_max_age,
            retention: file.retention,
        };
        let month_end = MonthEndFile {
            zone: file.month_zone,
            mappings: file.invoice_csv,
        };
        Ok(Self {
            watch,
            month_end,
            client,
            lease: timing(flags.lease, file.lease, "lease", defaults::LEASE, false)?,
            grace: timing(flags.grace, file.grace, "grace", defaults::GRACE, true)?,
            db,
            db_options,
            language,
            auto_accept: file.auto_accept.unwrap_or(true),
            transfer_if_valid: file.transfer_if_valid.unwrap_or(true),
        })
    }
}
