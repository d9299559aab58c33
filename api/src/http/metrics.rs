//! Prometheus metrics.

use super::error::ApiError;
use super::State;
use axum::http::header;
use axum::response::IntoResponse;

/// Prometheus text exposition: backups by database and engine, bytes, durations, last
/// success, alerts, notification failures, ledger position.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(state: State) -> Result<impl IntoResponse, ApiError> {
    let text = state.app.render_metrics().await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    ))
}
