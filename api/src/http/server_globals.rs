//! Server globals: how a server's roles/users are backed up, its globals versions, a backup
//! now, and applying a version to a server.

use super::error::{ApiError, ApiJson, Problem};
use super::runs::Accepted;
use super::schemas::TimeZoneName;
use super::{Actor, State};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use backline_app::GlobalsInput;
use backline_domain::Trigger;
use backline_projections::{GlobalsVersionView, ServerView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How the server's globals are backed up.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GlobalsBody {
    /// Back them up (on demand, and on `schedule` when given).
    pub enabled: bool,
    /// Keep role/user password hashes. Needs encryption (BACKLINE_ENCRYPT): the artifact is
    /// then age-encrypted. Default false: `pg_dumpall --no-role-passwords`, and MariaDB users
    /// are recreated locked.
    #[serde(default)]
    pub keep_passwords: bool,
    /// Cron expression of scheduled globals backups (5 fields, or 6 with seconds first).
    #[schema(min_length = 1, example = "15 2 * * *")]
    pub schedule: Option<String>,
    #[schema(value_type = Option<TimeZoneName>)]
    pub timezone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GlobalsList {
    /// Newest first.
    pub items: Vec<GlobalsVersionView>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct GlobalsRestore {
    /// The server to apply them to (default: the server they were taken from).
    pub target_server_id: Option<String>,
}

/// What applying a globals version did.
#[derive(Debug, Serialize, ToSchema)]
pub struct GlobalsApplied {
    /// Statements skipped because the role/user exists already (it is kept as it is).
    pub existing: u32,
    /// Other errors the server reported (last lines).
    pub errors: Vec<String>,
}

/// Set how the server's globals (PostgreSQL roles and tablespaces, MariaDB/MySQL users and
/// grants) are backed up.
#[utoipa::path(put, operation_id = "setServerGlobals", path = "/api/v1/servers/{id}/globals", tag = "servers",
    params(("id" = String, Path)), request_body = GlobalsBody,
    responses((status = 200, body = ServerView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GlobalsBody>,
) -> Result<Json<ServerView>, ApiError> {
    let input = GlobalsInput {
        enabled: body.enabled,
        keep_passwords: body.keep_passwords,
        schedule: body.schedule,
        timezone: body.timezone,
    };
    Ok(Json(
        state
            .app
            .servers()
            .set_globals(&actor.0, &id, &input)
            .await?,
    ))
}

/// The server's globals versions (kind `server_globals`), newest first.
#[utoipa::path(get, operation_id = "listServerGlobals", path = "/api/v1/servers/{id}/globals", tag = "servers",
    params(("id" = String, Path)),
    responses((status = 200, body = GlobalsList), (status = 404, body = Problem)))]
pub async fn list(state: State, Path(id): Path<String>) -> Result<Json<GlobalsList>, ApiError> {
    Ok(Json(GlobalsList {
        items: state.app.servers().globals_versions(&id).await?,
    }))
}

/// Back up the server's globals now.
#[utoipa::path(post, operation_id = "backUpServerGlobals", path = "/api/v1/servers/{id}/globals-backups", tag = "servers",
    params(("id" = String, Path)),
    responses((status = 202, body = Accepted), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem, description = "Globals backups are not enabled, or passwords are kept without an encryption key")))]
pub async fn back_up(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let trigger = Trigger::Manual {
        actor: actor.0.clone(),
    };
    let started = state
        .app
        .servers()
        .back_up_globals(&actor.0, &id, trigger, uuid::Uuid::now_v7().to_string())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id: started.id })))
}

/// Apply a globals version to a server: its statements run one by one from the verified copy
/// (sha256 checked first); roles and users that exist are kept, nothing is dropped.
#[utoipa::path(post, operation_id = "restoreServerGlobals", path = "/api/v1/globals/{id}/restore", tag = "servers",
    params(("id" = String, Path, description = "globals version id")), request_body = GlobalsRestore,
    responses((status = 200, body = GlobalsApplied), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn restore(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GlobalsRestore>,
) -> Result<Json<GlobalsApplied>, ApiError> {
    let applied = state
        .app
        .servers()
        .restore_globals(&actor.0, &id, body.target_server_id.as_deref())
        .await?;
    Ok(Json(GlobalsApplied {
        existing: applied.existing,
        errors: applied.errors,
    }))
}
