//! Restore drills: a database's drill settings, running a drill now, and the drills run so far.

use super::error::{ApiError, ApiJson, ApiQuery, Problem};
use super::runs::Accepted;
use super::schemas::TimeZoneName;
use super::{Actor, State};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use backline_app::DrillInput;
use backline_projections::{DatabaseView, DrillView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Where a drill restores to: give exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxBody {
    /// A registered database (id or name) flagged `restore_target`, of the same engine: its
    /// contents are replaced by each drill.
    pub target_database_id: Option<String>,
    /// A new database on the server of a registered one, created and dropped by each drill.
    pub new_database: Option<NewDatabaseSandbox>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDatabaseSandbox {
    /// A registered database (id or name) whose server and credentials the drill uses.
    pub server_of: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrillBody {
    /// Cron expression of scheduled drills (absent: drills run only when asked).
    #[schema(min_length = 1, example = "0 4 * * 0")]
    pub schedule: Option<String>,
    /// IANA time zone of the schedule (default UTC).
    #[schema(value_type = Option<TimeZoneName>)]
    pub timezone: Option<String>,
    /// Missed slots: `latest` (default), `none` or `all`.
    #[schema(pattern = "^(latest|none|all)$", example = "latest")]
    pub catch_up: Option<String>,
    pub sandbox: SandboxBody,
    /// A table that lost more than this share of its rows since the previous drill raises a
    /// `drill_anomaly` alert (percent, default 50).
    #[schema(minimum = 1, maximum = 100, example = 50)]
    pub max_row_loss_percent: Option<u8>,
}

/// Set the database's restore drill (replaces earlier settings).
#[utoipa::path(put, operation_id = "setDrill", path = "/api/v1/databases/{id}/drill", tag = "drills", request_body = DrillBody,
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 200, body = DatabaseView, description = "The database with its drill settings"),
        (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem, description = "The sandbox is not usable (not a restore target, another engine, the database itself, a system or ledger database) or the schedule is invalid")))]
pub async fn configure(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DrillBody>,
) -> Result<Json<DatabaseView>, ApiError> {
    let input = DrillInput {
        schedule: body.schedule,
        timezone: body.timezone,
        catch_up: body.catch_up,
        target_database_id: body.sandbox.target_database_id,
        new_database_server_of: body.sandbox.new_database.map(|n| n.server_of),
        max_row_loss_percent: body.max_row_loss_percent,
    };
    Ok(Json(
        state.app.drills().configure(&actor.0, &id, &input).await?,
    ))
}

/// Remove the database's restore drill (drills already run stay in its history).
#[utoipa::path(delete, operation_id = "removeDrill", path = "/api/v1/databases/{id}/drill", tag = "drills",
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 200, body = DatabaseView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<DatabaseView>, ApiError> {
    Ok(Json(state.app.drills().remove(&actor.0, &id).await?))
}

/// Run a drill now: the newest completed version is restored into the sandbox and measured.
#[utoipa::path(post, operation_id = "startDrill", path = "/api/v1/databases/{id}/drills", tag = "drills",
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 202, body = Accepted, description = "Started: follow it in GET /api/v1/databases/{id}/drills"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "A drill of this database is already running"),
        (status = 422, body = Problem, description = "No drill is set, or no completed version exists")))]
pub async fn start(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let started = state.app.drills().start(&actor.0, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id: started.id })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DrillListParams {
    /// 1–1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DrillList {
    pub items: Vec<DrillView>,
}

/// The database's restore drills, newest first: version, duration, per-table row counts and
/// checksums, anomalies.
#[utoipa::path(get, operation_id = "listDrills", path = "/api/v1/databases/{id}/drills", tag = "drills",
    params(("id" = String, Path, description = "database id or name"), DrillListParams),
    responses((status = 200, body = DrillList), (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem, description = "limit out of range")))]
pub async fn list(
    state: State,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DrillListParams>,
) -> Result<Json<DrillList>, ApiError> {
    let limit = match q.limit {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::invalid(
                "limit",
                format!("limit must be between 1 and 1000, not {n}"),
            ))
        }
    };
    let items = state.app.drills().list(&id, limit).await?;
    Ok(Json(DrillList { items }))
}
