//! A webhook receiver: serves `POST /` and prints each event whose
//! `Agora-Signature` verifies (`agora_ports::verify_signature`: HMAC-SHA256
//! over `"t.body"`, compared in constant time, `t` within 5 minutes of
//! now) with one of the secrets in `AGORA_WEBHOOK_SECRETS` (comma
//! separated: during a rotation, the new and the old). It answers 204 to
//! a verified event (a duplicate too: it is printed once, by its id), 400
//! otherwise. Keep the ids seen in your own store to drop duplicates
//! across restarts: delivery is at-least-once.
//!
//! ```sh
//! AGORA_WEBHOOK_SECRETS=whsec_new,whsec_old \
//!   cargo run -p agora-app --example webhook_receiver -- 127.0.0.1:9000
//! # and in agora's configuration file:
//! # "webhooks": [{"name": "example", "url": "http://127.0.0.1:9000/",
//! #               "secrets": ["whsec_new", "whsec_old"]}]
//! ```

#![allow(clippy::print_stdout)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use agora_app::ports::{DEFAULT_TOLERANCE, SIGNATURE_HEADER, WebhookSecret, verify_signature};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

struct Receiver {
    secrets: Vec<WebhookSecret>,
    seen: Mutex<HashSet<u64>>,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Err(e) = verify_signature(
        signature,
        &body,
        &r.secrets,
        agora_app::Clock::now(&agora_app::SystemClock),
        DEFAULT_TOLERANCE,
    ) {
        eprintln!("refused: {e}");
        return StatusCode::BAD_REQUEST;
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
        eprintln!("refused: the body is not JSON");
        return StatusCode::BAD_REQUEST;
    };
    let id = event["id"].as_u64().unwrap_or_default();
    let fresh = r
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(id);
    if fresh {
        println!(
            "{id}  {}  {}  {}",
            event["at"].as_str().unwrap_or_default(),
            event["type"].as_str().unwrap_or_default(),
            event["data"]
        );
    }
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".to_owned());
    let secrets: Result<Vec<WebhookSecret>, _> = std::env::var("AGORA_WEBHOOK_SECRETS")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| WebhookSecret::new(s.trim()))
        .collect();
    let secrets = match secrets {
        Ok(s) if !s.is_empty() => s,
        _ => {
            eprintln!("set AGORA_WEBHOOK_SECRETS (one secret, or two separated by a comma)");
            return std::process::ExitCode::from(2);
        }
    };
    let state = Arc::new(Receiver {
        secrets,
        seen: Mutex::new(HashSet::new()),
    });
    let app = axum::Router::new()
        .route("/", axum::routing::post(receive))
        .with_state(state);
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    eprintln!("receiving agora's events on http://{addr}/");
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("{e}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
