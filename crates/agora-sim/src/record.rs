//! The recording proxy behind `agora record`: it listens like AgoraPlus,
//! forwards each call unchanged to an upstream (a pre-production
//! AgoraPlus, or a simulator), answers with the upstream's answer
//! unchanged, and writes each exchange to a file of the output folder
//! (`recording` is the format) before answering, so a client that got its
//! answer finds the file written.
//!
//! In the file, never on the wire: the api_key the request carried is
//! masked everywhere (`Recording::mask_key`), and personal data is
//! replaced with fakes consistent over the session (`Faker`) unless told
//! to keep it. Files are named `NNN-<route>-<status>.json` in the order
//! requests arrived, numbering on after the highest `NNN` already in the
//! folder. Bodies are held whole in memory (a large delta too). Redirects
//! are passed back to the client, not followed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use tokio::net::TcpListener;

use crate::Served;
use crate::recording::{
    Expect, Faker, Payload, RecordedRequest, RecordedResponse, Recording, route_of,
};
use crate::wire::url_pairs;

/// Reads the time for `recorded_at` (a product passes its clock).
pub type Now = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// What to record and where.
#[derive(Clone)]
#[non_exhaustive]
pub struct RecorderConfig {
    /// The upstream's base URL (`https://preprod-api.agoraplus.com`).
    pub upstream: String,
    /// The folder the recordings are written to (created if missing).
    pub out: PathBuf,
    /// Keep names, phones, emails and addresses as they came (off: they
    /// are replaced with fakes).
    pub keep_personal_data: bool,
    /// The clock of `recorded_at`.
    pub now: Now,
}

impl std::fmt::Debug for RecorderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderConfig")
            .field("upstream", &self.upstream)
            .field("out", &self.out)
            .field("keep_personal_data", &self.keep_personal_data)
            .finish_non_exhaustive()
    }
}

impl RecorderConfig {
    /// Records calls to `upstream` into `out`, faking personal data.
    pub fn new(upstream: impl Into<String>, out: impl Into<PathBuf>, now: Now) -> Self {
        Self {
            upstream: upstream.into(),
            out: out.into(),
            keep_personal_data: false,
            now,
        }
    }

    /// Keeps personal data as it came (or not).
    #[must_use]
    pub fn keep_personal_data(mut self, keep: bool) -> Self {
        self.keep_personal_data = keep;
        self
    }
}

/// Why the recorder cannot start or record.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The upstream is not an `http(s)://` base URL.
    #[error("the upstream `{0}` is not an http:// or https:// URL")]
    Upstream(String),
    /// The output folder cannot be made or read.
    #[error("the output folder {path}: {source}")]
    Out {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client cannot be built (TLS).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The address cannot be listened on.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

struct Recorder {
    upstream: reqwest::Url,
    out: PathBuf,
    keep_personal_data: bool,
    now: Now,
    client: reqwest::Client,
    session: Mutex<Session>,
}

struct Session {
    next: u32,
    faker: Faker,
}

/// The recording proxy, listening.
#[derive(Debug)]
pub struct RecorderServer(Served);

impl RecorderServer {
    /// Binds `addr` (port 0 for a free port) and records until stopped.
    pub async fn start(config: RecorderConfig, addr: SocketAddr) -> Result<Self, RecordError> {
        let upstream = reqwest::Url::parse(config.upstream.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| RecordError::Upstream(config.upstream.clone()))?;
        let out_error = |source| RecordError::Out {
            path: config.out.clone(),
            source,
        };
        std::fs::create_dir_all(&config.out).map_err(out_error)?;
        let next = highest_number(&config.out).map_err(out_error)? + 1;
        let recorder = Recorder {
            upstream,
            out: config.out,
            keep_personal_data: config.keep_personal_data,
            now: config.now,
            client: http_client()?,
            session: Mutex::new(Session {
                next,
                faker: Faker::new(),
            }),
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RecordError::Listen {
                address: addr,
                source,
            })?;
        let app = Router::new()
            .fallback(forward)
            .with_state(Arc::new(recorder));
        let served = Served::spawn(listener, app).map_err(|source| RecordError::Listen {
            address: addr,
            source,
        })?;
        Ok(Self(served))
    }

    /// The base URL clients call (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        self.0.url()
    }

    /// Stops accepting connections, lets in-flight calls finish, and waits.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.0.shutdown().await
    }
}

/// agora's TLS (rustls, ring, the platform's roots) on this client only;
/// no redirect followed (the client sees them, as without the proxy).
fn http_client() -> Result<reqwest::Client, RecordError> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RecordError::Client(e.to_string()))?
        .with_platform_verifier()
        .map_err(|e| RecordError::Client(e.to_string()))?
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .build()
        .map_err(|e| RecordError::Client(e.to_string()))
}

/// The highest `NNN` of the `NNN-….json` files in `dir` (0 when none).
fn highest_number(dir: &Path) -> std::io::Result<u32> {
    let mut highest = 0;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_suffix(".json")
            .and_then(|n| n.split('-').next())
            .and_then(|n| n.parse::<u32>().ok())
        {
            highest = highest.max(n);
        }
    }
    Ok(highest)
}

/// Request headers not forwarded (the proxy's own connection).
const HOP: [&str; 5] = [
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "keep-alive",
];

async fn forward(
    State(rec): State<Arc<Recorder>>,
    method: axum::http::Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seq = {
        let mut session = rec.session.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = session.next;
        session.next += 1;
        seq
    };
    let mut url = rec.upstream.clone();
    let base = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{base}{}", uri.path()));
    url.set_query(uri.query());
    let mut request = rec.client.request(method.clone(), url);
    for (name, value) in &headers {
        if !HOP.iter().any(|h| name.as_str().eq_ignore_ascii_case(h)) {
            request = request.header(name, value);
        }
    }
    let key = api_key(&headers, &uri);
    let answer = match request.body(body.clone()).send().await {
        Ok(answer) => answer,
        Err(e) => {
            let why = agora_domain::redact::mask_key(&e.to_string(), &key, crate::recording::MASK);
            return unreachable(&why);
        }
    };
    let status = answer.status();
    let answer_headers = answer.headers().clone();
    let answer_body = match answer.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => {
            let why = agora_domain::redact::mask_key(&e.to_string(), &key, crate::recording::MASK);
            return unreachable(&why);
        }
    };
    let recording = rec.recording(
        &method,
        &uri,
        &headers,
        &body,
        status.as_u16(),
        &answer_headers,
        &answer_body,
        &key,
    );
    let path = rec.out.join(recording.file_name(seq));
    if let Err(e) = std::fs::write(&path, recording.to_pretty()) {
        eprintln!("agora record: cannot write {}: {e}", path.display());
    }
    let mut response = Response::new(Body::from(answer_body));
    *response.status_mut() =
        StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    for (name, value) in &answer_headers {
        if !matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_str().as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            ) {
                response.headers_mut().append(name, value);
            }
        }
    }
    response
}

impl Recorder {
    #[allow(clippy::too_many_arguments)]
    fn recording(
        &self,
        method: &axum::http::Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        status: u16,
        answer_headers: &reqwest::header::HeaderMap,
        answer_body: &[u8],
        key: &str,
    ) -> Recording {
        let text_headers = |pairs: Vec<(&str, &[u8])>| {
            pairs
                .into_iter()
                .filter(|(n, _)| !HOP.contains(n))
                .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
                .collect()
        };
        let route = route_of(method.as_str(), uri.path());
        let response_payload = Payload::from_bytes(answer_body);
        let expect = Expect::guess(route, status, &response_payload);
        let mut recording = Recording {
            recorded_at: Some((self.now)().to_string()),
            note: None,
            request: RecordedRequest {
                method: method.as_str().to_owned(),
                path: uri.path().to_owned(),
                query: uri.query().into_iter().flat_map(url_pairs).collect(),
                headers: text_headers(
                    headers
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_bytes()))
                        .collect(),
                ),
                payload: Payload::from_bytes(body),
            },
            response: RecordedResponse {
                status,
                headers: text_headers(
                    answer_headers
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_bytes()))
                        .collect(),
                ),
                payload: response_payload,
            },
            expect,
        };
        recording.mask_key(key);
        if !self.keep_personal_data {
            self.session
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .faker
                .fake(&mut recording);
        }
        recording
    }
}

/// The key a request carries: the `api_key` header, else the query
/// parameter (any case), as the simulator reads it.
fn api_key(headers: &HeaderMap, uri: &Uri) -> String {
    headers
        .get("api_key")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            uri.query()
                .into_iter()
                .flat_map(url_pairs)
                .find(|(k, _)| k.eq_ignore_ascii_case("api_key"))
                .map(|(_, v)| v)
        })
        .unwrap_or_default()
}

/// 502 with an AgoraPlus envelope: the upstream did not answer (nothing
/// is recorded).
fn unreachable(why: &str) -> Response {
    let envelope = serde_json::json!({
        "ResponseStatus": "E",
        "IsValid": false,
        "ResponseMessage": null,
        "ResponseErrorMessage": format!("agora record: the upstream did not answer: {why}"),
        "ResponseData": null,
    });
    let mut response = Response::new(Body::from(envelope.to_string()));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// `agora record`'s options.
#[cfg(feature = "bin")]
#[derive(Debug, Clone, clap::Args)]
pub struct RecordOptions {
    /// The AgoraPlus to forward to (e.g. `https://preprod-api.agoraplus.com`).
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// Address to listen on; point the client's base URL here.
    #[arg(long, default_value = "127.0.0.1:8788")]
    pub listen: SocketAddr,
    /// The folder the recordings are written to (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Keep names, phones, emails and addresses as they came (by default
    /// they are replaced with consistent fakes).
    #[arg(long)]
    pub keep_personal_data: bool,
}

#[cfg(feature = "bin")]
impl RecordOptions {
    /// Records until SIGINT or SIGTERM. `ready` hears the URL to point
    /// clients at once listening.
    pub async fn serve(&self, now: Now, ready: impl FnOnce(&str)) -> Result<(), RecordError> {
        let config = RecorderConfig::new(self.upstream.clone(), self.out.clone(), now)
            .keep_personal_data(self.keep_personal_data);
        let server = RecorderServer::start(config, self.listen).await?;
        let shutdown = crate::Shutdown::install();
        ready(&server.url());
        shutdown.wait().await;
        let _ = server.shutdown().await;
        Ok(())
    }
}

#[cfg(feature = "bin")]
impl RecordError {
    /// The process's exit code: 2 for a bad upstream (a usage error), 3
    /// for an address or folder that cannot be used, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Upstream(_) => 2,
            Self::Listen { .. } | Self::Out { .. } => 3,
            Self::Client(_) => 1,
        }
    }

    /// A stable name for the failure (`usage`, `listen`, `out`, `client`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Upstream(_) => "usage",
            Self::Listen { .. } => "listen",
            Self::Out { .. } => "out",
            Self::Client(_) => "client",
        }
    }
}
