//! Prometheus metrics.

use super::error::ApiError;
use super::{bearer, check_token, client_ip, constant_time_eq, unauthorized, State};
use axum::http::{header, Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};

/// Prometheus text exposition: backups by database and engine, bytes, durations, last
/// success, alerts, notification failures, ledger position. With `BACKLINE_METRICS_TOKEN`
/// set, it needs `Authorization: Bearer` with that token (or the admin token).
#[utoipa::path(get, operation_id = "getMetrics", path = "/metrics", tag = "health",
    responses((status = 200, content_type = "text/plain", body = String),
        (status = 401, body = super::error::Problem)))]
pub async fn metrics(
    state: State,
    headers: HeaderMap,
    extensions: Extensions,
) -> Result<Response, ApiError> {
    let wanted = state
        .app
        .settings
        .metrics_token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(wanted) = wanted {
        const NEEDED: &str = "/metrics needs Authorization: Bearer <BACKLINE_METRICS_TOKEN>";
        let Some(presented) = bearer(&headers) else {
            return Ok(unauthorized(NEEDED));
        };
        let valid = |t: &str| {
            constant_time_eq(t.as_bytes(), wanted.as_bytes())
                || constant_time_eq(t.as_bytes(), state.token.as_bytes())
        };
        if let Err(refused) =
            check_token(&state, client_ip(&extensions), presented, valid, NEEDED).await
        {
            return Ok(refused);
        }
    }
    let text = state
        .app
        .projections
        .metrics()
        .render(&state.app.projections)
        .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
