//! What makes the simulator fit to share: a body limit per route, answered
//! with a 413 AgoraPlus envelope (not the framework's plain text), and a
//! request timeout (408). The header-read timeout lives in the accept loop
//! (`Served`).

use std::time::Duration;

use agora_domain::routes::{Method, Route};
use agora_mock::SimError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;

use crate::wire::error_response;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// How much of a refused body is still read (and thrown away) so that the
/// client, still sending, reads the 413 instead of a reset connection.
const DRAIN_LIMIT: usize = 64 * MIB;

/// The largest body a request may carry, by route: a repair file or a
/// claim (which may carry documents) 8 MiB, a catalog publication through
/// `/_sim/catalog` 32 MiB, any other `POST` 1 MiB, a `GET` 64 KiB.
pub fn body_limit(method: &axum::http::Method, path: &str) -> usize {
    if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
        return 64 * KIB;
    }
    if let Some(control) = path.strip_prefix("/_sim/") {
        return if control.starts_with("catalog/") {
            32 * MIB
        } else {
            MIB
        };
    }
    match Route::match_path(Method::Post, path) {
        Some(
            Route::CreateRepair
            | Route::UpdateRepair
            | Route::CreateWarrantyClaims
            | Route::UpdateWarrantyClaim,
        ) => 8 * MIB,
        _ => MIB,
    }
}

/// Reads the body within the route's limit and hands the request on, all
/// within the request timeout.
pub(crate) async fn guard(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let limit = body_limit(request.method(), request.uri().path());
    let handled = async move {
        let (parts, body) = request.into_parts();
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            drain(body.into_data_stream(), 0).await;
            return too_large(limit);
        }
        let mut stream = body.into_data_stream();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else {
                return close(error_response(&SimError::BadRequest(
                    "the request's body could not be read".to_owned(),
                )));
            };
            if bytes.len() + chunk.len() > limit {
                drain(stream, bytes.len() + chunk.len()).await;
                return too_large(limit);
            }
            bytes.extend_from_slice(&chunk);
        }
        next.run(Request::from_parts(parts, Body::from(bytes)))
            .await
    };
    match tokio::time::timeout(timeout, handled).await {
        Ok(response) => response,
        Err(_) => close(error_response(&SimError::RequestTimeout(format!(
            "the request was not received and handled within {} s",
            timeout.as_secs_f64()
        )))),
    }
}

/// Reads what is left of a refused body, up to [`DRAIN_LIMIT`] in all.
async fn drain(mut stream: axum::body::BodyDataStream, mut read: usize) {
    while read < DRAIN_LIMIT {
        match stream.next().await {
            Some(Ok(chunk)) => read += chunk.len(),
            _ => return,
        }
    }
}

fn too_large(limit: usize) -> Response {
    close(error_response(&SimError::PayloadTooLarge(format!(
        "the request's body is larger than this route takes ({} bytes at most)",
        limit
    ))))
}

/// The answer, and the connection closed after it.
fn close(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_route() {
        let post = axum::http::Method::POST;
        assert_eq!(body_limit(&post, "/api/Repair/CreateRepair"), 8 * MIB);
        assert_eq!(body_limit(&post, "/_sim/catalog/19/spareparts"), 32 * MIB);
        assert_eq!(body_limit(&post, "/_sim/faults"), MIB);
        assert_eq!(
            body_limit(&axum::http::Method::GET, "/_sim/state"),
            64 * KIB
        );
    }
}
