//! Single sign-on through an OpenID provider: `/oidc` says whether it is configured (for the
//! sign-in page's button), `/oidc/login` sends the browser to the provider, `/oidc/callback`
//! takes it back, signs it in with the same session cookie as a password sign-in, and sends it
//! to the UI.

use super::auth::{client_ip, cookie};
use super::error::{ApiError, ApiQuery, Problem};
use super::session::{over_https, session_cookie};
use super::State;
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use backline_app::access::{PENDING_COOKIE, PENDING_SECS};
use backline_app::AppError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Whether single sign-on is configured.
#[derive(Debug, Serialize, ToSchema)]
pub struct OidcInfo {
    pub enabled: bool,
    /// The provider's name for the button ("Sign in with <name>"); absent when not enabled.
    pub name: Option<String>,
    /// Where the button goes; absent when not enabled.
    pub login_url: Option<String>,
}

/// What the provider sends back: `code` and `state`, or `error`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The state the sign-in was started with.
    pub state: Option<String>,
    /// The provider's refusal (`access_denied`, …).
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The provider's issuer (RFC 9207), checked when sent.
    pub iss: Option<String>,
}

/// The pending sign-in's cookie (`value` empty and `max_age` 0 to clear it): only sent back
/// to the callback; `SameSite=Lax` because the provider's redirect is a cross-site navigation.
fn pending_cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let mut c = format!(
        "{PENDING_COOKIE}={value}; Path=/api/v1/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}"
    );
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn redirect(status: StatusCode, to: &str) -> Result<Response, ApiError> {
    let location = HeaderValue::from_str(to)
        .map_err(|_| ApiError::from(AppError::bug("a redirect URL is not a header value")))?;
    let mut r = status.into_response();
    r.headers_mut().insert(header::LOCATION, location);
    Ok(r)
}

/// Whether single sign-on is configured, and the provider's name.
#[utoipa::path(get, operation_id = "getOidc", path = "/api/v1/oidc", tag = "users", security(()),
    responses((status = 200, body = OidcInfo)))]
pub async fn info(state: State) -> Json<OidcInfo> {
    let name = state.app.access().oidc_name();
    Json(OidcInfo {
        enabled: name.is_some(),
        login_url: name.as_ref().map(|_| "/api/v1/oidc/login".to_string()),
        name,
    })
}

/// Starts a single sign-on: redirects the browser to the OpenID provider (authorization code
/// flow with PKCE; state, nonce and verifier in a signed cookie valid 10 minutes).
#[utoipa::path(get, operation_id = "startOidcSignIn", path = "/api/v1/oidc/login", tag = "users", security(()),
    responses((status = 302, description = "To the provider's authorization endpoint", headers(("location" = String), ("set-cookie" = String, description = "the pending sign-in"))),
        (status = 404, body = Problem, description = "Single sign-on is not configured"),
        (status = 502, body = Problem, description = "The OpenID provider cannot be reached or its discovery document is wrong")))]
pub async fn login(state: State, headers: HeaderMap) -> Result<Response, ApiError> {
    let start = state.app.access().oidc_begin().await?;
    let mut r = redirect(StatusCode::FOUND, &start.redirect)?;
    r.headers_mut().insert(
        header::SET_COOKIE,
        pending_cookie(&start.cookie, PENDING_SECS, over_https(&state, &headers)),
    );
    Ok(r)
}

/// Where the OpenID provider sends the browser back: checks the state, exchanges the code,
/// verifies the ID token, maps the role claim (making the user on its first sign-in), sets the
/// session cookie and redirects to the UI.
#[utoipa::path(get, operation_id = "finishOidcSignIn", path = "/api/v1/oidc/callback", tag = "users", security(()),
    params(CallbackParams),
    responses((status = 303, description = "Signed in: to the UI", headers(("location" = String), ("set-cookie" = String, description = "the session cookie"))),
        (status = 422, body = Problem, description = "No code or state, or a state this browser did not start (or older than 10 minutes)"),
        (status = 401, body = Problem, description = "The provider refused the sign-in, or its tokens did not verify"),
        (status = 403, body = Problem, description = "No role mapping matches the person's claim, the user is disabled, or its name is a local user's"),
        (status = 404, body = Problem, description = "Single sign-on is not configured"),
        (status = 502, body = Problem, description = "The OpenID provider cannot be reached")))]
pub async fn callback(
    state: State,
    headers: HeaderMap,
    extensions: Extensions,
    ApiQuery(p): ApiQuery<CallbackParams>,
) -> Response {
    let secure = over_https(&state, &headers);
    let mut r = match finish(&state, &headers, &extensions, p).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    // The pending sign-in is used up, whatever came of it.
    r.headers_mut()
        .append(header::SET_COOKIE, pending_cookie("", 0, secure));
    r
}

async fn finish(
    state: &State,
    headers: &HeaderMap,
    extensions: &Extensions,
    p: CallbackParams,
) -> Result<Response, ApiError> {
    let access = state.app.access();
    if access.oidc_name().is_none() {
        return Err(AppError::NotFound(
            "single sign-on is not configured on this server (BACKLINE_OIDC_ISSUER)".into(),
        )
        .into());
    }
    if let Some(error) = p.error {
        let detail = p
            .error_description
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(AppError::Unauthorized(format!(
            "the OpenID provider refused the sign-in: {error}{detail}"
        ))
        .into());
    }
    let (Some(code), Some(st)) = (p.code, p.state) else {
        return Err(
            AppError::invalid("code", "the provider's answer has no code and state").into(),
        );
    };
    let start = access
        .oidc_finish(
            cookie(headers, PENDING_COOKIE),
            (&st, &code, p.iss.as_deref()),
            client_ip(extensions),
        )
        .await?;
    let max_age = state.app.settings.access.session_max_hours.max(1) * 3600;
    let mut r = redirect(StatusCode::SEE_OTHER, "/")?;
    r.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&start.secret, Some(max_age), over_https(state, headers)),
    );
    Ok(r)
}
