//! The one place where every request is checked against the role table (`roles`): who is
//! calling (`auth`), whether its role is high enough, whether a session's write carries its
//! CSRF token, and whether a principal scoped to some databases may touch the database the
//! request is about. A refusal is 401/403 problem+json and nothing reaches a handler, so
//! nothing is appended.

use super::auth::{self, Actor};
use super::error::ApiError;
use super::roles::{self, Target};
use super::HttpState;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use backline_app::{App, Principal};
use std::collections::HashSet;
use std::sync::Arc;

/// The header a session's writes send back with the CSRF token it got at sign-in.
pub const CSRF_HEADER: &str = "x-csrf-token";

fn forbidden(detail: impl Into<String>) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, detail).into_response()
}

pub(super) async fn authorize(
    axum::extract::State(state): axum::extract::State<Arc<HttpState>>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let method = if parts.method == Method::HEAD {
        Method::GET
    } else {
        parts.method.clone()
    };
    let path = parts.extensions.get::<MatchedPath>().map(|m| m.as_str());
    let Some(rule) = path.and_then(|p| roles::rule(&method, p)) else {
        if let Some(allowed) = path.map(roles::methods_of).filter(|m| !m.is_empty()) {
            // A route that exists, asked with a method it does not have.
            let mut r = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "{} is not allowed here; allowed: {}",
                    parts.method,
                    allowed.join(", ")
                ),
            )
            .into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&allowed.join(", ")) {
                r.headers_mut().insert(axum::http::header::ALLOW, v);
            }
            return r;
        }
        return forbidden("this route has no entry in the role table: refused for everyone");
    };
    let Some(needed) = rule.role else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let principal = match auth::authenticate(&state, &parts).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    if let Some(expected) = &principal.csrf {
        let safe = matches!(method, Method::GET | Method::OPTIONS);
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !safe && sent != Some(expected.as_str()) {
            return forbidden("a signed-in write needs the X-CSRF-Token header given at sign-in");
        }
    }
    if principal.role < needed {
        return forbidden(format!(
            "{} {} needs the {needed} role; {} is {}",
            rule.method, rule.path, principal.name, principal.role
        ));
    }
    if !principal.scope.is_all() {
        let id = match RawPathParams::from_request_parts(&mut parts, &state).await {
            Ok(params) => params
                .iter()
                .find(|(k, _)| *k == "id")
                .map(|(_, v)| v.to_string()),
            Err(_) => None,
        };
        if let Err(refused) = in_scope(&state.app, &principal, rule.target, id.as_deref()).await {
            return refused;
        }
    }
    crate::telemetry::record_actor(&principal.actor);
    parts.extensions.insert(Actor(principal.actor.clone()));
    parts.extensions.insert(principal);
    // Taken before the handler reads: what it answers reflects at least this position.
    let position = state.app.projections.applied_position();
    let mut response = next.run(Request::from_parts(parts, body)).await;
    response.headers_mut().insert(
        super::POSITION_HEADER,
        axum::http::HeaderValue::from(position),
    );
    response
}

/// The id and name of the database a request's `{id}` is about (`None` when it names nothing
/// known: the handler answers 404).
async fn database_of(
    app: &App,
    target: Target,
    id: &str,
) -> Result<Option<(String, String)>, ApiError> {
    let p = &app.projections;
    let database_id = match target {
        Target::Filtered | Target::Everything => return Ok(None),
        Target::Database => {
            let d = match p.database(id).await? {
                Some(d) => Some(d),
                None => p.database_by_name(id).await?,
            };
            return Ok(d.map(|d| (d.id, d.name)));
        }
        Target::Backup => p.backup(id).await?.map(|b| b.database_id),
        Target::Restore => p.restore(id).await?.map(|r| r.target_database_id),
        Target::Alert => p.alert(id).await?.map(|a| a.database_id),
    };
    let Some(database_id) = database_id else {
        return Ok(None);
    };
    Ok(p.database(&database_id).await?.map(|d| (d.id, d.name)))
}

async fn in_scope(
    app: &App,
    principal: &Principal,
    target: Target,
    id: Option<&str>,
) -> Result<(), Response> {
    let outside = || {
        forbidden(format!(
            "{} is limited to some databases, and this request is about another one",
            principal.name
        ))
    };
    match (target, id) {
        (Target::Everything, _) => Err(forbidden(format!(
            "{} is limited to some databases: this needs a principal that sees them all",
            principal.name
        ))),
        (Target::Filtered, _) | (_, None) => Ok(()),
        (target, Some(id)) => match database_of(app, target, id).await {
            Ok(Some((id, name))) if !principal.sees(&id, &name) => Err(outside()),
            Ok(_) => Ok(()),
            Err(e) => Err(e.into_response()),
        },
    }
}

/// The ids of the databases (removed ones too) a principal sees; `None`: all of them.
pub(super) async fn visible_ids(
    app: &App,
    principal: &Principal,
) -> Result<Option<HashSet<String>>, ApiError> {
    visible(app, principal, |d| d.id).await
}

/// The names of the databases (removed ones too) a principal sees, for what is labelled by
/// name (metrics); `None`: all of them.
pub(super) async fn visible_names(
    app: &App,
    principal: &Principal,
) -> Result<Option<HashSet<String>>, ApiError> {
    visible(app, principal, |d| d.name).await
}

async fn visible(
    app: &App,
    principal: &Principal,
    key: impl Fn(backline_projections::DatabaseView) -> String,
) -> Result<Option<HashSet<String>>, ApiError> {
    if principal.scope.is_all() {
        return Ok(None);
    }
    Ok(Some(
        app.projections
            .databases(true)
            .await?
            .into_iter()
            .filter(|d| principal.sees(&d.id, &d.name))
            .map(key)
            .collect(),
    ))
}

/// Whether `id` (a database id, if any) is visible under `visible`.
pub(super) fn shows(visible: &Option<HashSet<String>>, id: Option<&str>) -> bool {
    match (visible, id) {
        (None, _) => true,
        (Some(v), Some(id)) => v.contains(id),
        (Some(_), None) => false,
    }
}
