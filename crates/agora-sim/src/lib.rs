//! # agora-sim
//!
//! The AgoraPlus simulator server: the in-memory AgoraPlus of `agora-mock`
//! on the real wire protocol (the route table of `agora_domain::routes`,
//! matched case-insensitively; `api_key` authentication; the envelope; the
//! HTTP status codes of the reference), plus `/_sim` control endpoints for
//! the OEM's side, fault injection and state inspection, and the OEM
//! console, a web page over those controls served at `/` (`console`).
//!
//! A library, so the CLI and the tests start it in-process
//! ([`SimServer::start`]), and the `agora-sim` binary; with the `bin`
//! feature, `options` holds the flags and serving loop the binary and
//! `agora sim` share. It is not a client and holds no use case.
//!
//! Real answers as fixtures: `recording` is the file format of one
//! recorded exchange, `replay` serves a folder of them
//! (`agora-sim --replay DIR`), and, with the `record` feature, `record`
//! is the recording proxy behind `agora record`.
//!
//! Known differences from the real AgoraPlus are listed in
//! `crates/agora-sim/README.md`.

mod console;
mod control;
mod guard;
mod handler;
mod invoice_csv;
pub mod openapi;
#[cfg(feature = "bin")]
pub mod options;
#[cfg(feature = "record")]
pub mod record;
pub mod recording;
pub mod replay;
mod shutdown;
mod wire;

use std::net::SocketAddr;
use std::time::Duration;

use agora_mock::{SimError, Simulator};
use axum::Router;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use console::CONSOLE_ROUTES;
pub use control::{AdminToken, CONTROL_ROUTES};
pub use guard::body_limit;
pub use shutdown::Shutdown;

/// How a simulator treats its callers: the admin token of its controls
/// and the bounds that make it fit to share.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// The token that reaches every account's `/_sim` controls (sent as
    /// `Authorization: Bearer TOKEN`); none by default.
    pub admin_token: Option<AdminToken>,
    /// A client must send a request's whole head (request line and
    /// headers) within this time, or its connection is closed.
    pub header_timeout: Duration,
    /// A request must be received (its body included) and answered (up to
    /// the head of the answer) within this time, or it is answered 408.
    pub request_timeout: Duration,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            admin_token: None,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// The router of a simulator: AgoraPlus routes and `/_sim` control routes;
/// every error body is an AgoraPlus envelope. No admin token, the default
/// request timeout.
pub fn router(sim: Simulator) -> Router {
    router_with(sim, &ServeSettings::default())
}

/// The router of a simulator with `settings`: body limits per route
/// ([`body_limit`]), the request timeout and the admin token.
pub fn router_with(sim: Simulator, settings: &ServeSettings) -> Router {
    control::routes()
        .route(openapi::OPENAPI_PATH, axum::routing::get(serve_openapi))
        .merge(console::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(handler::handle)
        .with_state(control::AppState {
            sim,
            admin: settings.admin_token.clone(),
        })
        .layer(axum::middleware::from_fn_with_state(
            settings.request_timeout,
            guard::guard,
        ))
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// `GET /openapi.json`: the simulator's OpenAPI document, made once.
async fn serve_openapi() -> Response {
    static DOCUMENT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(|| {
        openapi::document()
            .to_json()
            .map(String::into_bytes)
            .unwrap_or_default()
    });
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )],
        body.clone(),
    )
        .into_response()
}

async fn method_not_allowed() -> Response {
    wire::error_response(&SimError::MethodNotAllowed(
        "this route does not take this method".to_owned(),
    ))
}

/// A router served on a bound listener until stopped: the handle the
/// simulator, the recorder and the replay server share.
#[derive(Debug)]
pub(crate) struct Served {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Served {
    /// Serves `app` on `listener` until [`Served::shutdown`] or drop, with
    /// the default header-read timeout.
    pub(crate) fn spawn(listener: TcpListener, app: Router) -> std::io::Result<Self> {
        Self::spawn_with(listener, app, ServeSettings::default().header_timeout)
    }

    /// Serves `app` on `listener` until [`Served::shutdown`] or drop: a
    /// client that has not sent a request's whole head `header_timeout`
    /// after it began (or after the previous answer) is disconnected.
    pub(crate) fn spawn_with(
        listener: TcpListener,
        app: Router,
        header_timeout: Duration,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(accept_loop(listener, app, header_timeout, stopped));
        Ok(Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections, lets in-flight calls finish, and waits.
    pub(crate) async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

/// Accepts connections and serves each with hyper's HTTP/1 server, its
/// header-read timeout on; once stopped, lets the connections finish the
/// requests they are handling and closes the idle ones.
async fn accept_loop(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    mut stopped: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of descriptors or a connection reset before it
                    // was accepted: try again shortly.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A simulator served on a loopback (or any) address.
#[derive(Debug)]
pub struct SimServer {
    served: Served,
    sim: Simulator,
}

impl SimServer {
    /// Binds `addr` (port 0 for a free port) and serves `sim` until
    /// stopped, with the default settings (no admin token).
    pub async fn start(sim: Simulator, addr: SocketAddr) -> std::io::Result<Self> {
        Self::start_with(sim, addr, ServeSettings::default()).await
    }

    /// Binds `addr` and serves `sim` with `settings` until stopped.
    pub async fn start_with(
        sim: Simulator,
        addr: SocketAddr,
        settings: ServeSettings,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let app = router_with(sim.clone(), &settings);
        let served = Served::spawn_with(listener, app, settings.header_timeout)?;
        Ok(Self { served, sim })
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        self.served.url()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.served.addr()
    }

    /// The simulator being served (for OEM-side actions in-process).
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }

    /// Stops accepting connections, lets in-flight calls finish, and waits.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.served.shutdown().await
    }
}
