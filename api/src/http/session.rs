//! UI sign-in: a username and password give a session cookie (HttpOnly, SameSite=Strict,
//! Secure behind https) and the CSRF token the session's writes send back in `X-CSRF-Token`.

use super::auth::{client_ip, cookie, Caller};
use super::error::{ApiError, ApiJson, Problem};
use super::State;
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use backline_app::access::SESSION_COOKIE;
use backline_app::AppError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    #[schema(min_length = 1, example = "ann")]
    pub username: String,
    #[schema(min_length = 1)]
    pub password: String,
}

/// Who is signed in.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// `user:<id>`, `token:<id>` or `token:bootstrap`.
    pub actor: String,
    pub name: String,
    /// A user's display name (the UI shows it in its header); absent for tokens.
    pub display_name: Option<String>,
    #[schema(pattern = "^(viewer|operator|admin)$")]
    pub role: String,
    /// The databases it is limited to; absent: all.
    pub databases: Option<Vec<String>>,
    /// Send back in `X-CSRF-Token` with every write made with the session cookie.
    pub csrf_token: Option<String>,
}

/// Whether the client reached us over https (directly or through a proxy that says so).
pub(super) fn over_https(state: &State, headers: &HeaderMap) -> bool {
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let public = state
        .app
        .settings
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    forwarded || public
}

pub(super) fn session_cookie(value: &str, max_age: Option<u64>, secure: bool) -> HeaderValue {
    let mut c = format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Sign in with a username and password.
#[utoipa::path(post, operation_id = "signIn", path = "/api/v1/session", tag = "users", request_body = SignIn, security(()),
    responses((status = 200, body = SessionView, headers(("set-cookie" = String, description = "the session cookie"))),
        (status = 401, body = Problem, description = "Wrong username or password, or the user is disabled"),
        (status = 429, body = Problem, description = "Too many failed sign-ins for this user or address: retry after `Retry-After` seconds")))]
pub async fn sign_in(
    state: State,
    headers: HeaderMap,
    extensions: Extensions,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    let address = client_ip(&extensions);
    let started = state
        .app
        .access()
        .sign_in(&body.username, body.password, address)
        .await;
    let start = match started {
        Ok(s) => s,
        Err(AppError::Throttled {
            retry_after,
            message,
        }) => {
            let secs = super::throttle::retry_after_secs(retry_after);
            let mut r = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("{message} ({secs} s)"),
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return Ok(r);
        }
        Err(e) => return Err(e.into()),
    };
    let max_age = state.app.settings.access.session_max_hours.max(1) * 3600;
    let view = SessionView {
        actor: format!("user:{}", start.user.id),
        name: start.user.username.clone(),
        display_name: Some(start.user.display_name.clone()).filter(|n| !n.is_empty()),
        role: start.user.role.to_string(),
        databases: start.user.databases.clone(),
        csrf_token: Some(start.csrf),
    };
    let mut r = Json(view).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&start.secret, Some(max_age), over_https(&state, &headers)),
    );
    Ok(r)
}

/// Who is calling: the signed-in user (with its CSRF token) or the token's principal.
#[utoipa::path(get, operation_id = "getSession", path = "/api/v1/session", tag = "users",
    responses((status = 200, body = SessionView)))]
pub async fn current(state: State, caller: Caller) -> Result<Json<SessionView>, ApiError> {
    let p = caller.0;
    let display_name = match p.actor.strip_prefix("user:") {
        Some(id) => state
            .app
            .projections
            .user(id)
            .await?
            .map(|u| u.display_name)
            .filter(|n| !n.is_empty()),
        None => None,
    };
    Ok(Json(SessionView {
        actor: p.actor,
        name: p.name,
        display_name,
        role: p.role.to_string(),
        databases: p.scope.0,
        csrf_token: p.csrf,
    }))
}

/// Sign out: the session ends and its cookie is cleared.
#[utoipa::path(delete, operation_id = "signOut", path = "/api/v1/session", tag = "users", security(()),
    responses((status = 204)))]
pub async fn sign_out(state: State, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        state.app.access().sign_out(secret).await?;
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie("", Some(0), over_https(&state, &headers)),
    );
    Ok(r)
}
