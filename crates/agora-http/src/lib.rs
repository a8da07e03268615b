//! # agora-http
//!
//! The AgoraPlus HTTP client: [`AgoraClient`] implements every port of
//! `agora-ports` over reqwest (rustls, no OpenSSL), through the one route
//! table of `agora_domain::routes`.
//!
//! - Sends `api_key`, `Accept: application/json` and, on bodies,
//!   `Content-Type: application/json`. The key is a secret: never in
//!   `Debug`, logs or errors.
//! - HTTP 400, 401, 403, 404, 405, 429, 500 and 503 map to distinct
//!   [`AgoraError`] variants carrying what the
//!   envelope said; 502, 504 and any 5xx without AgoraPlus's envelope (a
//!   proxy's page) are `Gateway`. A 200 whose envelope says `E` (or
//!   `IsValid=false`) is `Rejected`, except for claims, whose
//!   `ValidationErrors` come back as data; `W` returns the data with its
//!   warning.
//! - On list and search routes (`Route::no_results_is_empty`), AgoraPlus's
//!   404 (its envelope, JSON, no body, or "No results match your request")
//!   and a success without `ResponseData` are an empty result; a 404 page
//!   of text or HTML is not (`UnexpectedStatus`, a wrong base URL).
//! - An answer that says nothing is never a success: a body without any
//!   envelope field (`{}`), or a success without the data a route answers
//!   with, is unreadable (`Decode`), in doubt for a creation. Envelope keys
//!   are read in any case, `ResponseStatus` trimmed and in any case, and a
//!   UTF-8 byte order mark is skipped.
//! - Retries idempotent calls on 408, 429, 500, 502, 503, 504, timeouts and
//!   connection failures with exponential backoff and jitter, honouring
//!   `Retry-After` (the waits clamped to the policy's longest wait; the
//!   error keeps what the server asked), bounded in attempts and total
//!   time. Non-idempotent POSTs are retried only when the request certainly
//!   had no effect (never sent, or refused with 429 or 408); otherwise
//!   they fail as `InDoubt`, never silently resent. Another 4xx was not
//!   processed: refused, not in doubt.
//! - The `api_key` never leaves the base URL's origin: redirects elsewhere
//!   are refused (`Redirect`), and clear-text `http://` is for loopback
//!   unless explicitly allowed.
//! - Reading is bounded ([`Limits`]): answers, error bodies, single delta
//!   records, and a delta's total time.
//! - Master-data deltas are decoded while they arrive and handed over in
//!   batches: memory stays bounded whatever their size.
//! - A `tracing` span per call: route, attempt, status, duration.
//! - Every port method is also a method of [`AgoraClient`] itself. Called
//!   on the client, a call's future is not boxed; through the port traits
//!   (`async_trait`, as generic code such as `agora-app` calls them) it is,
//!   which measurably costs throughput on small calls (docs/benchmarks.md).
//!
//! - It re-exports what a caller needs ([`AgoraError`], [`Reply`], the port
//!   traits it implements, and the crates `domain` and `ports`): a product
//!   depends on agora-http alone. Building a client installs nothing
//!   process-wide; [`ClientConfig::with_http_client`] starts it from the
//!   product's own reqwest settings (proxy, CA, pool).
//!
//! It is not a store, a use case or a simulator: see `agora-app` and
//! `agora-sim`.
//!
//! ```no_run
//! use agora_http::{AgoraClient, AgoraError, ApiKey, ClientConfig, Environment};
//!
//! # async fn run() -> Result<(), AgoraError> {
//! let config = ClientConfig::new(Environment::PreProduction, ApiKey::new("…"));
//! let client = AgoraClient::new(config)?;
//! let orders = client.new_mandates(false).await?.data;
//! println!("{} new work orders", orders.len());
//! # Ok(()) }
//! ```

mod answers;
mod bounds;
mod client;
mod config;
mod port_impls;
mod skeleton;
mod stream;

pub use client::{AgoraClient, Sleeper, TokioSleeper, tls_config};
pub use config::{
    ApiKey, ClientConfig, DEFAULT_DELTA_BATCH, Environment, HttpClientBuilder, Limits,
    PREPRODUCTION_URL, PRODUCTION_URL, RetryPolicy, parse_switch,
};

// What a caller of the client needs, so that a product links agora-http
// alone: the error, the replies and the port traits the client implements
// (in scope, their methods work on generic code too), and the vocabulary.
pub use agora_domain as domain;
pub use agora_ports as ports;
pub use agora_ports::{
    AgoraError, AgoraPlus, BomLookup, Catalog, ClaimSubmission, Claims, DeltaQuery, DeltaSummary,
    Invoices, Mandates, PartOrders, RecordStream, Records, Repairs, Reply, ServiceMessage,
};
