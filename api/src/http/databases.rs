use super::error::{ApiError, ApiJson, ApiQuery, Problem};
use super::schemas::TimeZoneName;
use super::{Actor, State};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use backline_app::{ConnectionTest, NewDatabase, PrunePlan, ScheduleInput};
use backline_domain::{ConnectionString, Engine};
use backline_projections::DatabaseView;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

pub(super) use super::database_input::retention;
pub use super::database_input::{RegisterDatabase, UpdateDatabase};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestConnection {
    #[schema(
        pattern = "^(postgres|postgresql|mysql|mariadb)$",
        example = "postgres"
    )]
    pub engine: String,
    #[schema(
        pattern = "^(postgres|postgresql|mysql|mariadb)://",
        example = "postgres://app:secret@127.0.0.1:5432/shop"
    )]
    pub connection: String,
    /// Through this SSH bastion.
    pub ssh: Option<super::ssh::SshBlock>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Include removed databases.
    #[serde(default)]
    pub include_removed: bool,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct DatabaseList {
    pub items: Vec<DatabaseView>,
}

/// Register a database.
#[utoipa::path(post, operation_id = "registerDatabase", path = "/api/v1/databases", tag = "databases", request_body = RegisterDatabase,
    responses((status = 201, body = DatabaseView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn register(
    state: State,
    actor: Actor,
    ApiJson(body): ApiJson<RegisterDatabase>,
) -> Result<impl IntoResponse, ApiError> {
    let settings = ScheduleInput {
        schedule: body.schedule.map(Some),
        timezone: body.timezone,
        catch_up: body.catch_up,
        retention: retention(body.retention)?,
    };
    if let Some(d) = &body.destinations {
        state.app.databases().check_destinations(d)?;
    }
    if let Some(engine) = Engine::parse(&body.engine) {
        if let Some(jobs) = body.backup_jobs {
            state.app.databases().check_backup_jobs(engine, jobs)?;
        }
        if let Some(jobs) = body.restore_jobs {
            state.app.databases().check_restore_jobs(engine, jobs)?;
        }
    }
    let new = NewDatabase {
        name: body.name,
        engine: body.engine,
        connection: body.connection,
        ssh: body.ssh.map(super::ssh::SshBlock::input),
        settings,
    };
    let mut view = state.app.databases().register(&actor.0, &new).await?;
    if let Some(d) = body.destinations {
        view = state
            .app
            .databases()
            .set_destinations(&actor.0, &view.id, Some(d))
            .await?;
    }
    if let Some(jobs) = body.backup_jobs.filter(|j| *j != view.backup_jobs) {
        view = state
            .app
            .databases()
            .set_backup_jobs(&actor.0, &view.id, jobs)
            .await?;
    }
    if let Some(jobs) = body.restore_jobs {
        view = state
            .app
            .databases()
            .set_restore_jobs(&actor.0, &view.id, jobs)
            .await?;
    }
    if body.restore_target == Some(true) {
        view = state
            .app
            .databases()
            .set_restore_target(&actor.0, &view.id, true)
            .await?;
    }
    Ok((StatusCode::CREATED, Json(view)))
}

/// List registered databases.
#[utoipa::path(get, operation_id = "listDatabases", path = "/api/v1/databases", tag = "databases", params(ListParams),
    responses((status = 200, body = DatabaseList)))]
pub async fn list(
    state: State,
    caller: super::Caller,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Json<DatabaseList>, ApiError> {
    let mut items = state.app.projections.databases(q.include_removed).await?;
    items.retain(|d| caller.0.sees(&d.id, &d.name));
    Ok(Json(DatabaseList { items }))
}

/// One database, by id or name.
#[utoipa::path(get, operation_id = "getDatabase", path = "/api/v1/databases/{id}", tag = "databases",
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 200, body = DatabaseView), (status = 404, body = Problem)))]
pub async fn get(state: State, Path(id): Path<String>) -> Result<Json<DatabaseView>, ApiError> {
    if let Some(d) = state.app.projections.database(&id).await? {
        return Ok(Json(d));
    }
    Ok(Json(state.app.resolve_database(&id).await?))
}

/// Change a database's name or connection.
#[utoipa::path(patch, operation_id = "updateDatabase", path = "/api/v1/databases/{id}", tag = "databases", request_body = UpdateDatabase,
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 200, body = DatabaseView), (status = 404, body = Problem), (status = 422, body = Problem), (status = 409, body = Problem, description = "The database was removed, or the change conflicts with another database")))]
pub async fn update(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(mut body): ApiJson<UpdateDatabase>,
) -> Result<Json<DatabaseView>, ApiError> {
    let (backup_jobs, restore_jobs) = (body.backup_jobs.take(), body.restore_jobs.take());
    if backup_jobs.is_none() && restore_jobs.is_none() {
        return update_all_but_jobs(state, actor, id, body).await;
    }
    // Checked before anything else changes.
    let current = state.app.resolve_database(&id).await?;
    let databases = state.app.databases();
    if let Some(jobs) = backup_jobs {
        databases.check_backup_jobs(current.engine, jobs)?;
    }
    if let Some(jobs) = restore_jobs {
        databases.check_restore_jobs(current.engine, jobs)?;
    }
    let mut view = if has_changes(&body) {
        update_all_but_jobs(state.clone(), actor.clone(), id, body)
            .await?
            .0
    } else {
        current
    };
    if let Some(jobs) = backup_jobs {
        view = databases.set_backup_jobs(&actor.0, &view.id, jobs).await?;
    }
    if let Some(jobs) = restore_jobs {
        view = databases.set_restore_jobs(&actor.0, &view.id, jobs).await?;
    }
    Ok(Json(view))
}

/// Whether a `PATCH` asks for a change besides `backup_jobs` and `restore_jobs`.
fn has_changes(body: &UpdateDatabase) -> bool {
    body.restore_target.is_some()
        || body.name.is_some()
        || body.connection.is_some()
        || body.ssh.is_some()
        || body.schedule.is_some()
        || body.timezone.is_some()
        || body.catch_up.is_some()
        || body.retention.is_some()
        || body.destinations.is_some()
}

/// Everything `PATCH` changes but `backup_jobs` and `restore_jobs`.
async fn update_all_but_jobs(
    state: State,
    actor: Actor,
    id: String,
    mut body: UpdateDatabase,
) -> Result<Json<DatabaseView>, ApiError> {
    let Some(restore_target) = body.restore_target.take() else {
        return update_settings(&state, &actor, &id, body).await;
    };
    // The flag is taken out of `body`: what is left is the rest.
    let view = if has_changes(&body) {
        update_settings(&state, &actor, &id, body).await?.0
    } else {
        state.app.resolve_database(&id).await?
    };
    Ok(Json(
        state
            .app
            .databases()
            .set_restore_target(&actor.0, &view.id, restore_target)
            .await?,
    ))
}

/// Everything `PATCH` changes but the restore-target flag.
async fn update_settings(
    state: &State,
    actor: &Actor,
    id: &str,
    body: UpdateDatabase,
) -> Result<Json<DatabaseView>, ApiError> {
    let (state, actor, id) = (state.clone(), actor.clone(), id.to_string());
    if let Some(Some(d)) = &body.destinations {
        state.app.databases().check_destinations(d)?;
    }
    let mut body = body;
    let destinations = body.destinations.take();
    let others = body.name.is_some()
        || body.connection.is_some()
        || body.ssh.is_some()
        || body.schedule.is_some()
        || body.timezone.is_some()
        || body.catch_up.is_some()
        || body.retention.is_some();
    let Some(destinations) = destinations else {
        return Ok(Json(update_others(&state, &actor, &id, body).await?));
    };
    // Other settings first (a rename changes how `id` resolves), then the destinations when
    // they differ.
    let view = if others {
        update_others(&state, &actor, &id, body).await?
    } else {
        state.app.resolve_database(&id).await?
    };
    if others && view.destinations == destinations {
        return Ok(Json(view));
    }
    Ok(Json(
        state
            .app
            .databases()
            .set_destinations(&actor.0, &view.id, destinations)
            .await?,
    ))
}

async fn update_others(
    state: &State,
    actor: &Actor,
    id: &str,
    body: UpdateDatabase,
) -> Result<DatabaseView, ApiError> {
    Ok(state
        .app
        .databases()
        .update(
            &actor.0,
            id,
            body.name.as_deref(),
            body.connection.as_deref(),
            body.ssh
                .map(|s| s.map(super::ssh::SshBlock::input))
                .as_ref()
                .map(Option::as_ref),
            &ScheduleInput {
                schedule: body.schedule,
                timezone: body.timezone,
                catch_up: body.catch_up,
                retention: retention(body.retention)?,
            },
        )
        .await?)
}

/// Remove a database (its history stays; its password is destroyed).
#[utoipa::path(delete, operation_id = "removeDatabase", path = "/api/v1/databases/{id}", tag = "databases",
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem, description = "The database was removed, or the change conflicts with another database")))]
pub async fn remove(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.databases().remove(&actor.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Try a registered database's connection.
#[utoipa::path(post, operation_id = "testDatabaseConnection", path = "/api/v1/databases/{id}/test", tag = "databases",
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 200, body = ConnectionTest), (status = 404, body = Problem), (status = 409, body = Problem, description = "The database was removed, or the change conflicts with another database")))]
pub async fn test(state: State, Path(id): Path<String>) -> Result<Json<ConnectionTest>, ApiError> {
    Ok(Json(state.app.databases().test_registered(&id).await?))
}

/// Try a connection string before registering it.
#[utoipa::path(post, operation_id = "testConnection", path = "/api/v1/databases/test", tag = "databases", request_body = TestConnection,
    responses((status = 200, body = ConnectionTest), (status = 422, body = Problem)))]
pub async fn test_new(
    state: State,
    ApiJson(body): ApiJson<TestConnection>,
) -> Result<Json<ConnectionTest>, ApiError> {
    let engine = Engine::parse(&body.engine).ok_or_else(|| {
        ApiError::invalid(
            "engine",
            format!(
                "unknown engine {:?}: use \"postgres\" or \"mysql\"",
                body.engine
            ),
        )
    })?;
    let mut conn = ConnectionString::parse(engine, &body.connection)
        .map_err(|e| ApiError::invalid("connection", e.to_string()))?;
    if let Some(block) = body.ssh {
        let ssh = backline_domain::SshSettings::parse(&block.input())
            .map_err(|e| ApiError::invalid("ssh", e.to_string()))?;
        conn.ssh = Some(ssh);
    }
    Ok(Json(state.app.databases().test_connection(&conn).await))
}

/// Stop scheduled backups of a database.
#[utoipa::path(post, operation_id = "pauseDatabase", path = "/api/v1/databases/{id}/pause", tag = "databases",
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 200, body = DatabaseView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn pause(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<DatabaseView>, ApiError> {
    Ok(Json(
        state
            .app
            .databases()
            .set_paused(&actor.0, &id, true)
            .await?,
    ))
}

/// Restart scheduled backups of a database.
#[utoipa::path(post, operation_id = "resumeDatabase", path = "/api/v1/databases/{id}/resume", tag = "databases",
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 200, body = DatabaseView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn resume(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<DatabaseView>, ApiError> {
    Ok(Json(
        state
            .app
            .databases()
            .set_paused(&actor.0, &id, false)
            .await?,
    ))
}

/// What the retention policy would prune now, and why. Changes nothing.
#[utoipa::path(get, operation_id = "previewRetention", path = "/api/v1/databases/{id}/retention/preview", tag = "databases",
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 200, body = PrunePlan), (status = 404, body = Problem), (status = 409, body = Problem, description = "The database was removed, or the change conflicts with another database")))]
pub async fn retention_preview(
    state: State,
    Path(id): Path<String>,
) -> Result<Json<PrunePlan>, ApiError> {
    Ok(Json(state.app.retention().preview(&id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PruneParams {
    /// Only report what would be pruned.
    #[serde(default)]
    pub dry_run: bool,
}

/// Apply the retention policy now.
#[utoipa::path(post, operation_id = "pruneDatabase", path = "/api/v1/databases/{id}/retention/prune", tag = "databases",
    params(("id" = String, Path, description = "database id or name"), PruneParams),
    responses((status = 200, body = PrunePlan), (status = 404, body = Problem), (status = 409, body = Problem, description = "The database was removed, or the change conflicts with another database")))]
pub async fn prune(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PruneParams>,
) -> Result<Json<PrunePlan>, ApiError> {
    Ok(Json(
        state
            .app
            .retention()
            .prune(&actor.0, &id, q.dry_run)
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchedulePreviewParams {
    /// Cron expression (5 fields, or 6 with seconds first).
    #[param(min_length = 1, example = "0 12 * * MON-FRI")]
    pub cron: String,
    /// IANA time zone (default UTC).
    #[param(value_type = Option<TimeZoneName>)]
    pub timezone: Option<String>,
    /// How many runs to list (1–20, default 5).
    #[param(minimum = 1, maximum = 20)]
    pub count: Option<usize>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SchedulePreview {
    pub description: String,
    /// Next runs in UTC.
    pub next_runs: Vec<String>,
    /// The same in the schedule's time zone.
    pub next_runs_local: Vec<String>,
}

/// Validate a schedule and list its next runs, without saving anything.
#[utoipa::path(get, operation_id = "previewSchedule", path = "/api/v1/schedules/preview", tag = "databases", params(SchedulePreviewParams),
    responses((status = 200, body = SchedulePreview), (status = 422, body = Problem)))]
pub async fn schedule_preview(
    ApiQuery(q): ApiQuery<SchedulePreviewParams>,
) -> Result<Json<SchedulePreview>, ApiError> {
    let s = backline_domain::Schedule::parse(&q.cron, q.timezone.as_deref(), Default::default())
        .map_err(|e| ApiError::invalid(e.field(), e.to_string()))?;
    let runs = s.next_runs(chrono::Utc::now(), q.count.unwrap_or(5).clamp(1, 20));
    Ok(Json(SchedulePreview {
        description: s.describe(),
        next_runs: runs
            .iter()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .collect(),
        next_runs_local: runs.iter().map(|t| s.local(*t)).collect(),
    }))
}
