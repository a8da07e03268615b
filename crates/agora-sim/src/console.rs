//! The OEM console: one web page (HTML, CSS and a small script, embedded
//! in the binary) served at `/`. It plays the OEM's side through the
//! `/_sim` controls, with the account's `api_key` header or the admin
//! token, and holds no rule of its own: every check is the simulator's,
//! and the page shows its error messages as they come.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::control::AppState;

/// The page's routes: (method, path), apart from the AgoraPlus and
/// control routes.
pub const CONSOLE_ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/console/console.js"),
    ("GET", "/console/console.css"),
];

const PAGE: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");

/// What the page may load and reach: its own files and its own origin,
/// nothing inline, no form sent by the browser itself (the script sends
/// them, keys in headers).
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; form-action 'none'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The console's routes on a router.
pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", PAGE) }),
        )
        .route(
            "/console/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/console/console.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        body,
    )
        .into_response()
}
