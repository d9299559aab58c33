//! Logging, set up once, and a span per request (method, route, request id, actor). Secrets
//! never reach it: connection strings are logged redacted only.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("BACKLINE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,opendal=warn"));
    let json = std::env::var("BACKLINE_LOG_FORMAT").is_ok_and(|v| v == "json");
    // Colours only for a person at a terminal: never escape codes in a file or a pipe.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

tokio::task_local! {
    /// The id of the request being handled (in its logs, its response header and its error).
    static REQUEST_ID: String;
}

/// The id of the request this task is handling, if any.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Wraps each request in a span and gives it an id: the caller's `X-Request-Id` when it is a
/// short token, else a new one; it comes back in the response's `X-Request-Id`.
pub async fn request_span(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        route,
        request_id = %id,
        actor = tracing::field::Empty,
    );
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(req).instrument(span))
        .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

/// Records who made the request on its span (once authenticated).
pub fn record_actor(actor: &str) {
    tracing::Span::current().record("actor", actor);
}
