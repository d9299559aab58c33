//! API tokens: issued (the secret shown once), listed with their last use, revoked.

use super::auth::Caller;
use super::error::{ApiError, ApiJson, Problem};
use super::users::parse_role;
use super::State;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use backline_app::access::NewToken;
use backline_projections::TokenView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueToken {
    #[schema(min_length = 1, max_length = 100, example = "ci-deploy")]
    pub name: String,
    /// No higher than the issuer's own role.
    #[schema(pattern = "^(viewer|operator|admin)$", example = "operator")]
    pub role: String,
    /// Database ids or name patterns; absent: the issuer's own scope must be unlimited.
    pub databases: Option<Vec<String>>,
    /// RFC 3339; absent: never expires.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedToken {
    pub id: String,
    /// The secret: shown this once, stored only as a hash.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub items: Vec<TokenView>,
}

/// Issue an API token (send it as `Authorization: Bearer <token>`).
#[utoipa::path(post, operation_id = "issueToken", path = "/api/v1/tokens", tag = "users", request_body = IssueToken,
    responses((status = 201, body = IssuedToken), (status = 403, body = Problem)))]
pub async fn issue(
    state: State,
    caller: Caller,
    ApiJson(body): ApiJson<IssueToken>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let expires_at = body
        .expires_at
        .map(|e| {
            chrono::DateTime::parse_from_rfc3339(&e)
                .map(|d| d.with_timezone(&chrono::Utc))
                .map_err(|err| {
                    ApiError::invalid(
                        "expires_at",
                        format!("expires_at is not an RFC 3339 time: {err}"),
                    )
                })
        })
        .transpose()?;
    let new = NewToken {
        name: body.name,
        role: parse_role(&body.role)?,
        databases: body.databases,
        expires_at,
    };
    let t = state.app.access().issue_token(&caller.0, &new).await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            id: t.id,
            token: t.token,
        }),
    ))
}

/// Tokens (a principal limited to some databases sees only those it issued).
#[utoipa::path(get, operation_id = "listTokens", path = "/api/v1/tokens", tag = "users",
    responses((status = 200, body = TokenList)))]
pub async fn list(state: State, caller: Caller) -> Result<Json<TokenList>, ApiError> {
    let mut items = state.app.access().tokens().await?;
    if !caller.0.scope.is_all() {
        items.retain(|t| t.owner == caller.0.actor);
    }
    Ok(Json(TokenList { items }))
}

/// Revoke a token: requests with it are refused (401) from now on.
#[utoipa::path(delete, operation_id = "revokeToken", path = "/api/v1/tokens/{id}", tag = "users",
    params(("id" = String, Path, description = "token id")),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem, description = "Already revoked")))]
pub async fn revoke(
    state: State,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let access = state.app.access();
    if !caller.0.scope.is_all() {
        let owned = state
            .app
            .projections
            .token(&id)
            .await?
            .is_some_and(|t| t.owner == caller.0.actor);
        if !owned {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "a principal limited to some databases revokes only the tokens it issued",
            ));
        }
    }
    access.revoke_token(&caller.0.actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
