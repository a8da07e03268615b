//! # agora-sim
//!
//! The AgoraPlus simulator server: the in-memory AgoraPlus of `agora-mock`
//! on the real wire protocol (the route table of `agora_domain::routes`,
//! matched case-insensitively; `api_key` authentication; the envelope; the
//! HTTP status codes of the reference), plus `/_sim` control endpoints for
//! the OEM's side, fault injection and state inspection.
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

mod control;
mod handler;
mod invoice_csv;
#[cfg(feature = "bin")]
pub mod options;
#[cfg(feature = "record")]
pub mod record;
pub mod recording;
pub mod replay;
mod shutdown;
mod wire;

use std::net::SocketAddr;

use agora_mock::{SimError, Simulator};
use axum::Router;
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use control::CONTROL_ROUTES;
pub use shutdown::Shutdown;

/// The router of a simulator: AgoraPlus routes and `/_sim` control routes;
/// every error body is an AgoraPlus envelope.
pub fn router(sim: Simulator) -> Router {
    control::routes()
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(handler::handle)
        .with_state(sim)
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
    /// Serves `app` on `listener` until [`Served::shutdown`] or drop.
    pub(crate) fn spawn(listener: TcpListener, app: Router) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
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
    /// Binds `addr` (port 0 for a free port) and serves `sim` until stopped.
    pub async fn start(sim: Simulator, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let served = Served::spawn(listener, router(sim.clone()))?;
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
