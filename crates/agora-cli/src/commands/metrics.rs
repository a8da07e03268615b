//! `agora watch --metrics ADDR`: the worker's health (`/healthz`) and
//! figures (`/metrics`, the Prometheus text format) over HTTP, on the
//! server stack the simulator already brings (axum). What is measured, and
//! the rules of health, live in `agora_app::WatchMetrics`; this is only
//! the HTTP side.

use std::net::SocketAddr;
use std::sync::Arc;

use agora_app::WatchMetrics;
use agora_ports::AgoraError;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use super::App;

/// The content type of the Prometheus text exposition format.
const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct Shared {
    metrics: Arc<WatchMetrics>,
    app: App,
}

/// Binds `addr` (a configuration error when it cannot be).
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, AgoraError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| AgoraError::Config(format!("--metrics: cannot listen on {addr}: {e}")))
}

/// Serves `/healthz` and `/metrics` on `listener` until the task is
/// aborted.
pub(crate) fn serve(
    listener: TcpListener,
    metrics: Arc<WatchMetrics>,
    app: App,
) -> tokio::task::JoinHandle<()> {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(exposition))
        .with_state(Shared { metrics, app });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::warn!(error = %e, "the metrics server stopped");
        }
    })
}

/// 200 while every loop is healthy, else 503; the loops' health as JSON.
async fn healthz(State(shared): State<Shared>) -> Response {
    let health = shared.metrics.health();
    let status = if health.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::to_string(&health).unwrap_or_else(|_| "{}".to_owned());
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        crate::output::masked(&body).into_owned(),
    )
        .into_response()
}

/// The figures, with the outbox's depth read from the store now.
async fn exposition(State(shared): State<Shared>) -> Response {
    match shared.metrics.gauges(&shared.app).await {
        Ok(gauges) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, EXPOSITION)],
            crate::output::masked(&shared.metrics.render(&gauges)).into_owned(),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            crate::output::masked(&format!("cannot read the outbox: {e}\n")).into_owned(),
        )
            .into_response(),
    }
}
