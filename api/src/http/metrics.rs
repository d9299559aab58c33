//! Prometheus metrics.

use super::auth::{bearer, check_token, client_ip, constant_time_eq, cookie, unauthorized};
use super::error::ApiError;
use super::State;
use axum::http::{header, Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use backline_app::access::SESSION_COOKIE;
use std::collections::HashSet;

/// Prometheus text exposition: backups by database and engine, bytes, durations, last
/// success, alerts, notification failures, ledger position. With `BACKLINE_METRICS_TOKEN`
/// set, it needs `Authorization: Bearer` with that token (or the admin token). An API token
/// or a UI session is accepted too; one limited to some databases sees only their series.
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
    let presented = bearer(&headers);
    let session = cookie(&headers, SESSION_COOKIE).filter(|_| presented.is_none());
    let mut visible: Option<HashSet<String>> = None;
    if presented.is_some_and(|t| t.starts_with("blt_")) || session.is_some() {
        // An API token (e.g. Prometheus') or a signed-in user: one limited to some databases
        // sees only their series.
        let access = state.app.access();
        let principal = match (presented, session) {
            (Some(token), _) => access.authenticate_token(token).await,
            (None, Some(secret)) => access.authenticate_session(secret).await,
            (None, None) => return Ok(unauthorized("no credentials")),
        };
        match principal {
            Ok(p) => visible = super::guard::visible_names(&state.app, &p).await?,
            Err(backline_app::AppError::Unauthorized(m)) => return Ok(unauthorized(&m)),
            Err(e) => return Err(e.into()),
        }
    } else if let Some(wanted) = wanted {
        const NEEDED: &str = "/metrics needs Authorization: Bearer <BACKLINE_METRICS_TOKEN>";
        let Some(presented) = presented else {
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
    let mut text = state
        .app
        .projections
        .metrics()
        .render(&state.app.projections)
        .await?;
    if let Some(visible) = &visible {
        text = only_databases(&text, visible);
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// The `database` label of a sample line, unescaped.
fn database_label(line: &str) -> Option<String> {
    let start = line.find("database=\"")? + "database=\"".len();
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return Some(out),
            c => out.push(c),
        }
    }
    None
}

/// The exposition without the samples of databases outside `visible`.
fn only_databases(text: &str, visible: &HashSet<String>) -> String {
    text.lines()
        .filter(|l| l.starts_with('#') || database_label(l).is_none_or(|d| visible.contains(&d)))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_of_other_databases_are_left_out() {
        let text = "# TYPE x counter\nx{database=\"shop\",engine=\"postgres\"} 1\nx{database=\"hr\"} 2\ny 3\n";
        let visible = HashSet::from(["shop".to_string()]);
        let out = only_databases(text, &visible);
        assert!(out.contains("shop") && out.contains("y 3"), "{out}");
        assert!(!out.contains("hr"), "{out}");
        assert_eq!(
            database_label(r#"x{database="a\"b"} 1"#).as_deref(),
            Some("a\"b")
        );
    }
}
