//! Client configuration: environment, api_key (a secret), timeouts, retry
//! policy and user agent; readable from environment variables.

use std::fmt;
use std::time::Duration;

use agora_ports::AgoraError;
use secrecy::{ExposeSecret, SecretString};

/// The pre-production base URL.
pub const PREPRODUCTION_URL: &str = "https://preprod-api.agoraplus.com";
/// The production base URL.
pub const PRODUCTION_URL: &str = "https://api.agoraplus.com";

/// Which AgoraPlus to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    /// Pre-production (`https://preprod-api.agoraplus.com`): development and tests.
    PreProduction,
    /// Production (`https://api.agoraplus.com`).
    Production,
    /// Any base URL, such as a local simulator (`http://127.0.0.1:8787`).
    Custom(String),
}

impl Environment {
    /// The base URL.
    pub fn base_url(&self) -> &str {
        match self {
            Self::PreProduction => PREPRODUCTION_URL,
            Self::Production => PRODUCTION_URL,
            Self::Custom(url) => url,
        }
    }

    /// Reads `preprod` / `pre-production`, `prod` / `production`, or a URL.
    pub fn parse(s: &str) -> Result<Self, AgoraError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "preprod" | "pre-production" | "preproduction" | "test" => Ok(Self::PreProduction),
            "prod" | "production" => Ok(Self::Production),
            other if other.starts_with("http://") || other.starts_with("https://") => {
                Ok(Self::Custom(s.trim().to_owned()))
            }
            _ => Err(AgoraError::Config(format!(
                "unknown environment `{s}`: expected preprod, production or a URL"
            ))),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PreProduction => write!(f, "pre-production ({PREPRODUCTION_URL})"),
            Self::Production => write!(f, "production ({PRODUCTION_URL})"),
            Self::Custom(url) => f.write_str(url),
        }
    }
}

/// The api_key of a service-partner account. Never shown: its `Debug`
/// prints a redacted form and it has no `Display`.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(SecretString::from(key.into()))
    }

    /// The key itself, for the one header that carries it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// A hint that identifies the key without revealing it: its length and
    /// last two characters (`…k3 (24 chars)`), for error messages.
    pub fn hint(&self) -> String {
        let key = self.expose();
        let n = key.chars().count();
        if n < 8 {
            return format!("({n} chars)");
        }
        let tail: String = key.chars().skip(n - 2).collect();
        format!("…{tail} ({n} chars)")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

/// When and how often to retry a call that may succeed later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 4). 1 disables retries.
    pub max_attempts: u32,
    /// Backoff before the second attempt (default 200 ms); doubles each time.
    pub initial_backoff: Duration,
    /// Backoff ceiling (default 10 s): the longest single wait, a server's
    /// `Retry-After` included (clamped to it).
    pub max_backoff: Duration,
    /// Total waiting allowed across retries (default 30 s); a wait that
    /// would pass it ends the retries.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The backoff before attempt `next` (2 for the first retry), with
    /// jitter: a uniformly drawn value between half and all of the
    /// exponential backoff. `unit` is a draw from [0, 1).
    pub fn backoff(&self, next: u32, unit: f64) -> Duration {
        let exp = next.saturating_sub(2).min(20);
        let full = self
            .initial_backoff
            .saturating_mul(1 << exp)
            .min(self.max_backoff);
        let factor = 0.5 + 0.5 * unit.clamp(0.0, 1.0);
        // Never more than `full`, whatever the policy's values (a factor of
        // 1 on a huge duration may round past what a Duration holds).
        Duration::try_from_secs_f64(full.as_secs_f64() * factor)
            .unwrap_or(full)
            .min(full)
    }

    /// A delay the server asked for (`Retry-After`), clamped to the
    /// longest single wait of this policy (`max_backoff`): a server cannot
    /// make the client wait longer than its own policy would.
    pub fn clamp_server_delay(&self, asked: Duration) -> Duration {
        asked.min(self.max_backoff)
    }
}

/// How much of an answer the client reads, and for how long a delta may
/// run. Past a size limit the call fails with
/// [`AgoraError::TooLarge`] and the connection is dropped; past the delta's
/// deadline, with [`AgoraError::Timeout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest answer of a call that is not a delta (default 32 MiB:
    /// such an answer is held whole to be decoded, and 32 MiB keeps the
    /// process under 64 MB of resident memory when a server sends without
    /// end; far above any list AgoraPlus answers).
    pub answer_bytes: u64,
    /// The most of an error's body read (default 64 KiB); the error is
    /// judged from its status and those first bytes, the rest is not read.
    pub error_body_bytes: u64,
    /// The largest single record of a delta, and the largest envelope
    /// around a delta's records (default 1 MiB).
    pub delta_record_bytes: u64,
    /// The longest a whole delta may take, from the call to its last byte
    /// (default 1 hour), besides the timeout between two reads.
    pub delta_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            answer_bytes: 32 * 1024 * 1024,
            error_body_bytes: 64 * 1024,
            delta_record_bytes: 1024 * 1024,
            delta_deadline: Duration::from_secs(60 * 60),
        }
    }
}

/// Reads an on/off setting (`1`, `true`, `yes`, `on`; `0`, `false`, `no`,
/// `off`, case-insensitive); anything else is a configuration error naming
/// the setting.
pub fn parse_switch(name: &str, value: &str) -> Result<bool, AgoraError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(AgoraError::Config(format!(
            "{name} is `{value}`: expected true or false"
        ))),
    }
}

/// Where the client's `reqwest` client starts from: a product's own
/// settings (a proxy, pool sizes, its own TLS). Called once per HTTP
/// client agora builds; agora then adds what the protocol needs (the
/// `api_key` header, its redirect policy, timeouts), which win over the
/// builder's.
#[derive(Clone)]
pub struct HttpClientBuilder {
    make: std::sync::Arc<dyn Fn() -> reqwest::ClientBuilder + Send + Sync>,
    own_tls: bool,
}

impl HttpClientBuilder {
    /// Starts every HTTP client of agora from `make()`, with agora's TLS
    /// (rustls, ring, the platform's roots) set on top.
    pub fn new(make: impl Fn() -> reqwest::ClientBuilder + Send + Sync + 'static) -> Self {
        Self {
            make: std::sync::Arc::new(make),
            own_tls: false,
        }
    }

    /// As [`HttpClientBuilder::new`], keeping the builder's TLS as it is
    /// (a custom CA, a preconfigured rustls): it must name its crypto
    /// provider (`tls_backend_preconfigured`), or the product installs a
    /// process-wide one; building the client fails otherwise.
    pub fn with_own_tls(make: impl Fn() -> reqwest::ClientBuilder + Send + Sync + 'static) -> Self {
        Self {
            make: std::sync::Arc::new(make),
            own_tls: true,
        }
    }

    pub(crate) fn make(&self) -> reqwest::ClientBuilder {
        (self.make)()
    }

    pub(crate) fn own_tls(&self) -> bool {
        self.own_tls
    }
}

impl std::fmt::Debug for HttpClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpClientBuilder(..)")
    }
}

/// Records per batch of a delta stream by default: each batch is one
/// write of the store. A store's write has a cost of its own besides the
/// rows' (PostgreSQL's `COPY` sets up a buffer slot per row, up to 1,000,
/// for each statement: batches of 1,000 made a first sync of 1,000,000
/// parts twice as long as one `COPY`; of 10,000, 1.3 times), and the
/// records of a few batches are held at once (a client's peak RSS in that
/// sync: 27 MB at 10,000, 15 MB at 1,000).
pub const DEFAULT_DELTA_BATCH: usize = 10_000;

/// Everything the client needs. Built with [`ClientConfig::new`] (the
/// documented defaults) and the `with_*` methods; a new setting is a new
/// method, never a breaking change (the type is `#[non_exhaustive]`).
///
/// ```
/// use std::time::Duration;
/// use agora_http::{ApiKey, ClientConfig, Environment, RetryPolicy};
///
/// let config = ClientConfig::new(Environment::PreProduction, ApiKey::new("key"))
///     .with_timeouts(Duration::from_secs(5), Duration::from_secs(30), Duration::from_secs(30))
///     .with_retry(RetryPolicy::default())
///     .with_user_agent("my-product/2.1");
/// assert_eq!(config.user_agent, "my-product/2.1");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Which AgoraPlus.
    pub environment: Environment,
    /// The account's key.
    pub api_key: ApiKey,
    /// Limit to establish a connection (default 10 s).
    pub connect_timeout: Duration,
    /// Limit for a whole call, answer included (default 60 s). Master-data
    /// deltas are not bounded by it, only by `read_timeout`.
    pub request_timeout: Duration,
    /// Limit between two reads of an answer (default 60 s).
    pub read_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Records per batch of a delta stream (default
    /// [`DEFAULT_DELTA_BATCH`]).
    pub delta_batch_size: usize,
    /// Size limits and the delta deadline.
    pub limits: Limits,
    /// Allows an `http://` base URL that is not loopback (default false):
    /// the api_key then travels in clear. Loopback addresses (`127.0.0.0/8`,
    /// `::1`, `localhost`) need no opt-in.
    pub allow_insecure_http: bool,
    /// Where the HTTP client starts from (default: agora's own, rustls
    /// with the platform's roots and ring, set on the client only).
    pub http_client: Option<HttpClientBuilder>,
}

impl ClientConfig {
    /// A configuration with the documented defaults.
    pub fn new(environment: Environment, api_key: ApiKey) -> Self {
        Self {
            environment,
            api_key,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            read_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            user_agent: format!("agora/{}", env!("CARGO_PKG_VERSION")),
            delta_batch_size: DEFAULT_DELTA_BATCH,
            limits: Limits::default(),
            allow_insecure_http: false,
            http_client: None,
        }
    }

    /// Reads `AGORA_API_KEY` (or a file named by `AGORA_API_KEY_FILE`), and
    /// `AGORA_BASE_URL` or `AGORA_ENV` (`preprod`, `production`); without
    /// either, pre-production. `AGORA_ALLOW_INSECURE_HTTP=true` allows an
    /// `http://` base URL that is not loopback.
    pub fn from_env() -> Result<Self, AgoraError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`ClientConfig::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AgoraError> {
        let key = match (lookup("AGORA_API_KEY"), lookup("AGORA_API_KEY_FILE")) {
            (Some(key), _) if !key.trim().is_empty() => key.trim().to_owned(),
            (_, Some(path)) => std::fs::read_to_string(&path)
                .map_err(|e| {
                    AgoraError::Config(format!("cannot read AGORA_API_KEY_FILE {path}: {e}"))
                })?
                .trim()
                .to_owned(),
            _ => {
                return Err(AgoraError::Config(
                    "no api_key: set AGORA_API_KEY or AGORA_API_KEY_FILE".to_owned(),
                ));
            }
        };
        if key.is_empty() {
            return Err(AgoraError::Config("the api_key is empty".to_owned()));
        }
        let environment = match (lookup("AGORA_BASE_URL"), lookup("AGORA_ENV")) {
            (Some(url), _) if !url.trim().is_empty() => Environment::Custom(url.trim().to_owned()),
            (_, Some(env)) => Environment::parse(&env)?,
            _ => Environment::PreProduction,
        };
        let insecure = match lookup("AGORA_ALLOW_INSECURE_HTTP") {
            Some(v) => parse_switch("AGORA_ALLOW_INSECURE_HTTP", &v)?,
            None => false,
        };
        Ok(Self::new(environment, ApiKey::new(key)).with_insecure_http(insecure))
    }

    /// Allows (or not) an `http://` base URL that is not loopback.
    #[must_use]
    pub fn with_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Sets the size limits and the delta deadline.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the `User-Agent` header.
    #[must_use]
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Sets the records per batch of a delta stream (at least 1).
    #[must_use]
    pub fn with_delta_batch_size(mut self, records: usize) -> Self {
        self.delta_batch_size = records.max(1);
        self
    }

    /// Starts the HTTP client from a product's own `reqwest` settings (a
    /// proxy, a custom CA, pool settings): see [`HttpClientBuilder`].
    ///
    /// ```
    /// use agora_http::{ApiKey, ClientConfig, Environment, HttpClientBuilder};
    ///
    /// let config = ClientConfig::new(Environment::PreProduction, ApiKey::new("key"))
    ///     .with_http_client(HttpClientBuilder::new(|| {
    ///         reqwest::Client::builder().pool_max_idle_per_host(4)
    ///     }));
    /// assert!(config.http_client.is_some());
    /// ```
    #[must_use]
    pub fn with_http_client(mut self, builder: HttpClientBuilder) -> Self {
        self.http_client = Some(builder);
        self
    }

    /// The longest one call of the client may take, its retries included:
    /// `retry.max_attempts` times `request_timeout`, plus the waits
    /// between them (at most `retry.max_elapsed`). A state change sent
    /// through the outbox ends within it (what `agora-app`'s
    /// `AppConfig::request_timeout` should be at least).
    pub fn longest_call(&self) -> Duration {
        self.request_timeout
            .saturating_mul(self.retry.max_attempts.max(1))
            .saturating_add(self.retry.max_elapsed)
    }

    /// Sets the connect, request and read timeouts.
    #[must_use]
    pub fn with_timeouts(mut self, connect: Duration, request: Duration, read: Duration) -> Self {
        self.connect_timeout = connect;
        self.request_timeout = request;
        self.read_timeout = read;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_shows() {
        let cfg = ClientConfig::new(Environment::Production, ApiKey::new("s3cr3t-key-value-123"));
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("REDACTED"));
        assert_eq!(cfg.api_key.hint(), "…23 (20 chars)");
    }

    #[test]
    fn reads_the_environment() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let cfg =
            ClientConfig::from_lookup(vars(&[("AGORA_API_KEY", "k"), ("AGORA_ENV", "production")]))
                .unwrap();
        assert_eq!(cfg.environment, Environment::Production);
        let cfg = ClientConfig::from_lookup(vars(&[
            ("AGORA_API_KEY", "k"),
            ("AGORA_BASE_URL", "http://127.0.0.1:8787"),
            ("AGORA_ENV", "production"),
        ]))
        .unwrap();
        assert_eq!(cfg.environment.base_url(), "http://127.0.0.1:8787");
        let cfg = ClientConfig::from_lookup(vars(&[("AGORA_API_KEY", "k")])).unwrap();
        assert_eq!(cfg.environment, Environment::PreProduction);
        assert!(ClientConfig::from_lookup(vars(&[])).is_err());
        assert!(!cfg.allow_insecure_http);
        let cfg = ClientConfig::from_lookup(vars(&[
            ("AGORA_API_KEY", "k"),
            ("AGORA_ALLOW_INSECURE_HTTP", "True"),
        ]))
        .unwrap();
        assert!(cfg.allow_insecure_http);
        let err = ClientConfig::from_lookup(vars(&[
            ("AGORA_API_KEY", "k"),
            ("AGORA_ALLOW_INSECURE_HTTP", "perhaps"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string().contains("AGORA_ALLOW_INSECURE_HTTP"),
            "{err}"
        );
        assert!(
            ClientConfig::from_lookup(vars(&[("AGORA_API_KEY", "k"), ("AGORA_ENV", "moon")]))
                .is_err()
        );
    }

    #[test]
    fn the_longest_call_counts_every_attempt_and_the_waits() {
        let cfg = ClientConfig::new(Environment::Production, ApiKey::new("k"));
        // 4 attempts of 60 s, 30 s of waits.
        assert_eq!(cfg.longest_call(), Duration::from_secs(270));
        let cfg = cfg
            .with_timeouts(
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(5),
            )
            .with_retry(RetryPolicy::none());
        assert_eq!(cfg.longest_call(), Duration::from_secs(35));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_a_ceiling() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(2, 1.0), Duration::from_millis(200));
        assert_eq!(p.backoff(2, 0.0), Duration::from_millis(100));
        assert_eq!(p.backoff(3, 1.0), Duration::from_millis(400));
        assert_eq!(p.backoff(4, 1.0), Duration::from_millis(800));
        assert_eq!(p.backoff(30, 1.0), Duration::from_secs(10));
    }
}
