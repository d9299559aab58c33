//! Users: created, listed and changed by admins.

use super::error::{ApiError, ApiJson, Problem};
use super::{Actor, State};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use backline_app::access::{NewUser, UserChange};
use backline_domain::Role;
use backline_projections::UserView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$", example = "ann")]
    pub username: String,
    /// At least 8 characters. Stored as an argon2id hash.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    #[schema(pattern = "^(viewer|operator|admin)$", example = "operator")]
    pub role: String,
    /// Database ids or name patterns (`staging_*`) the user is limited to; absent: all.
    pub databases: Option<Vec<String>>,
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeUser {
    #[schema(pattern = "^(viewer|operator|admin)$")]
    pub role: Option<String>,
    /// Disabling ends the user's sessions and revokes its tokens at once.
    pub disabled: Option<bool>,
    /// A list of database ids or name patterns, or null for every database.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub databases: Option<Option<Vec<String>>>,
}

/// A field that is present (even as `null`) becomes `Some`.
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Vec<String>>>, D::Error> {
    Option::<Vec<String>>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    pub id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub items: Vec<UserView>,
}

pub(super) fn parse_role(s: &str) -> Result<Role, ApiError> {
    Role::parse(s).ok_or_else(|| {
        ApiError::invalid(
            "role",
            format!("role must be viewer, operator or admin, not {s:?}"),
        )
    })
}

/// Create a local user.
#[utoipa::path(post, operation_id = "createUser", path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = CreatedUser), (status = 409, body = Problem, description = "The username is taken")))]
pub async fn create(
    state: State,
    actor: Actor,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    let new = NewUser {
        username: body.username,
        display_name: body.display_name,
        password: Some(body.password),
        role: parse_role(&body.role)?,
        databases: body.databases,
    };
    let id = state.app.access().create_user(&actor.0, &new).await?;
    Ok((StatusCode::CREATED, Json(CreatedUser { id })))
}

/// Every user.
#[utoipa::path(get, operation_id = "listUsers", path = "/api/v1/users", tag = "users",
    responses((status = 200, body = UserList)))]
pub async fn list(state: State) -> Result<Json<UserList>, ApiError> {
    Ok(Json(UserList {
        items: state.app.access().users().await?,
    }))
}

/// Change a user's role, scope, or disable it (its sessions and tokens end at once).
#[utoipa::path(patch, operation_id = "updateUser", path = "/api/v1/users/{id}", tag = "users", request_body = ChangeUser,
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 404, body = Problem)))]
pub async fn update(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChangeUser>,
) -> Result<Json<UserView>, ApiError> {
    let change = UserChange {
        role: body.role.as_deref().map(parse_role).transpose()?,
        disabled: body.disabled,
        databases: body.databases,
    };
    Ok(Json(
        state
            .app
            .access()
            .change_user(&actor.0, &id, &change)
            .await?,
    ))
}
