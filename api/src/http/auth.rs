//! Who is calling: the bootstrap admin token, an API token or a UI session cookie, resolved to
//! a [`Principal`]; wrong tokens are throttled per client address (`throttle`).

use super::error::ApiError;
use super::{throttle, HttpState};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use backline_app::{AppError, Principal};

/// The request's principal (set by the guard), for handlers that filter or check by it.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token"))
    }
}

/// Who made the request (set by the auth layer).
#[derive(Debug, Clone)]
pub struct Actor(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token"))
    }
}

pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token of `Authorization: Bearer <token>`, if the request sends one.
pub(super) fn bearer(headers: &header::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// 401 problem+json with `WWW-Authenticate: Bearer`.
pub(super) fn unauthorized(detail: &str) -> Response {
    let mut r = ApiError::new(StatusCode::UNAUTHORIZED, detail).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    r
}

/// The client's address (the peer of the TCP connection), when the server recorded it.
pub(super) fn client_ip(extensions: &axum::http::Extensions) -> std::net::IpAddr {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
        // Served without connection info, every client counts as one.
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// 429 problem+json with `Retry-After`.
pub(super) fn too_many_wrong_tokens(wait: std::time::Duration) -> Response {
    let secs = throttle::retry_after_secs(wait);
    let mut r = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many wrong tokens from this address: try again in {secs} s"),
    )
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    r
}

/// Checks a presented token against `valid` under the wrong-token throttle: `Ok` when it is
/// valid, else the 401 or 429 to answer (after the delay every wrong token waits).
pub(super) async fn check_token(
    state: &HttpState,
    client: std::net::IpAddr,
    presented: &str,
    valid: impl Fn(&str) -> bool,
    wrong: &str,
) -> Result<(), Response> {
    if let Err(wait) = state.auth_throttle.check(client, std::time::Instant::now()) {
        return Err(too_many_wrong_tokens(wait));
    }
    if valid(presented) {
        return Ok(());
    }
    let backoff = state
        .auth_throttle
        .failed(client, std::time::Instant::now());
    tokio::time::sleep(throttle::FAILURE_DELAY).await;
    Err(match backoff {
        Some(wait) => too_many_wrong_tokens(wait),
        None => unauthorized(wrong),
    })
}

/// The value of cookie `name`, if the request sends it.
pub(super) fn cookie<'a>(headers: &'a header::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The principal of a request: a bearer token (the bootstrap admin token or an API token),
/// else the session cookie. `Err` is the 401 or 429 to answer.
pub(super) async fn authenticate(state: &HttpState, parts: &Parts) -> Result<Principal, Response> {
    let access = state.app.access();
    if let Some(presented) = bearer(&parts.headers) {
        let client = client_ip(&parts.extensions);
        if let Err(wait) = state.auth_throttle.check(client, std::time::Instant::now()) {
            return Err(too_many_wrong_tokens(wait));
        }
        if constant_time_eq(presented.as_bytes(), state.token.as_bytes()) {
            return Ok(Principal::bootstrap());
        }
        return match access.authenticate_token(presented).await {
            Ok(p) => Ok(p),
            // A genuine token that was revoked or expired is no guess: refused, not throttled.
            Err(AppError::Unauthorized(m)) if m != "the bearer token is not valid" => {
                Err(unauthorized(&m))
            }
            Err(AppError::Unauthorized(_)) => {
                let backoff = state
                    .auth_throttle
                    .failed(client, std::time::Instant::now());
                tokio::time::sleep(throttle::FAILURE_DELAY).await;
                Err(match backoff {
                    Some(wait) => too_many_wrong_tokens(wait),
                    None => unauthorized("the bearer token is not valid"),
                })
            }
            Err(e) => Err(ApiError::from(e).into_response()),
        };
    }
    if let Some(secret) = cookie(&parts.headers, backline_app::access::SESSION_COOKIE) {
        return match access.authenticate_session(secret).await {
            Ok(p) => Ok(p),
            Err(AppError::Unauthorized(m)) => Err(unauthorized(&m)),
            Err(e) => Err(ApiError::from(e).into_response()),
        };
    }
    Err(unauthorized(
        "missing bearer token: send Authorization: Bearer <token>, or sign in",
    ))
}
