//! Backups (versions) and restores.

use super::error::{ApiError, ApiQuery, Problem};
use super::paging::{self, PageParams};
use super::restore_view::manual_command;
use super::{Actor, State};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use backline_domain::Role;
use backline_domain::{BackupStatus, Trigger};
use backline_projections::{BackupFilter, BackupView, RestoreView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub id: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BackupNow {
    /// Block until the backup ends and return it (200 when completed, 424 when it failed).
    #[serde(default)]
    pub wait: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BackupWithProgress {
    #[serde(flatten)]
    pub backup: BackupView,
    /// Raw bytes dumped so far, while running in this process.
    pub progress_bytes: Option<u64>,
    /// While running (in this process or another on the ledger): bytes so far, percent of the
    /// previous version's raw size, ETA.
    pub progress: Option<backline_app::progress::ProgressView>,
    /// For a completed version: the shell command that restores its downloaded object by
    /// hand, checksum first (`$DB` is the new database; `$AGE_KEY` the age key file).
    pub manual_restore_command: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BackupList {
    pub items: Vec<BackupView>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next: Option<String>,
    /// How many versions the list has in all (when the list is of one database).
    pub total: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BackupListParams {
    pub database_id: Option<String>,
    /// `running`, `completed`, `failed`, `abandoned`, `cancelled` or `pruned`.
    #[param(value_type = Option<String>, pattern = "^(new|running|completed|failed|abandoned|cancelled|pruned)$")]
    pub status: Option<BackupStatus>,
    /// The `next` of the previous page; absent for the first page.
    pub cursor: Option<String>,
    /// Items per page: 1–1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Back up a database now.
#[utoipa::path(post, operation_id = "startBackup", path = "/api/v1/databases/{id}/backups", tag = "backups",
    params(("id" = String, Path, description = "database id or name"), BackupNow),
    responses((status = 202, body = Accepted, description = "Started (without `wait`)"),
        (status = 200, body = BackupView, description = "With `wait`: the backup completed"),
        (status = 424, body = BackupView, description = "With `wait`: the backup ran and failed (the database, a tool or storage failed): the body is the failed version, its `error` says at which stage and why"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "A backup of this database is already running")))]
pub async fn backup_now(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<BackupNow>,
) -> Result<Response, ApiError> {
    let started = state
        .app
        .backups()
        .start(
            &actor.0,
            &id,
            Trigger::Manual {
                actor: actor.0.clone(),
            },
        )
        .await?;
    if !q.wait {
        return Ok((StatusCode::ACCEPTED, Json(Accepted { id: started.id })).into_response());
    }
    let _ = started.done.await;
    let view = state
        .app
        .projections
        .backup(&started.id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "backup vanished"))?;
    let status = if view.status == BackupStatus::Completed {
        StatusCode::OK
    } else {
        StatusCode::FAILED_DEPENDENCY
    };
    Ok((status, Json(view)).into_response())
}

/// Version history of a database, newest first, a page at a time (follow `next`).
#[utoipa::path(get, operation_id = "listDatabaseBackups", path = "/api/v1/databases/{id}/backups", tag = "backups",
    params(("id" = String, Path, description = "database id or name"), PageParams),
    responses((status = 200, body = BackupList), (status = 400, body = Problem, description = "A `cursor` this server did not give"), (status = 404, body = Problem)))]
pub async fn history(
    state: State,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<BackupList>, ApiError> {
    let page = paging::request(q.cursor.as_deref(), q.limit)?;
    let db = match state.app.projections.database(&id).await? {
        Some(d) => d,
        None => state.app.resolve_database(&id).await?,
    };
    let p = &state.app.projections;
    let total = p.backup_count(&db.id).await?;
    let found = p
        .backups_page(&BackupFilter {
            database_id: Some(db.id),
            status: None,
            limit: page.limit,
            before: page.before,
        })
        .await?;
    Ok(Json(BackupList {
        items: found.items,
        next: paging::next(found.next),
        total: Some(total),
    }))
}

/// Backups of all databases, newest first, a page at a time (follow `next`).
#[utoipa::path(get, operation_id = "listBackups", path = "/api/v1/backups", tag = "backups", params(BackupListParams),
    responses((status = 200, body = BackupList), (status = 400, body = Problem, description = "A `cursor` this server did not give")))]
pub async fn list_backups(
    state: State,
    caller: super::Caller,
    ApiQuery(q): ApiQuery<BackupListParams>,
) -> Result<Json<BackupList>, ApiError> {
    let page = paging::request(q.cursor.as_deref(), q.limit)?;
    let p = &state.app.projections;
    let total = match &q.database_id {
        Some(d) => Some(p.backup_count(d).await?),
        None => None,
    };
    let found = p
        .backups_page(&BackupFilter {
            database_id: q.database_id,
            status: q.status,
            limit: page.limit,
            before: page.before,
        })
        .await?;
    let mut items = found.items;
    // The cursor is the unfiltered page's: a scoped principal's pages may be shorter, never
    // skip an item.
    let visible = super::guard::visible_ids(&state.app, &caller.0).await?;
    items.retain(|b| super::guard::shows(&visible, Some(&b.database_id)));
    Ok(Json(BackupList {
        items,
        next: paging::next(found.next),
        total: total.filter(|_| visible.is_none()),
    }))
}

/// One backup.
#[utoipa::path(get, operation_id = "getBackup", path = "/api/v1/backups/{id}", tag = "backups",
    params(("id" = String, Path, description = "backup id")),
    responses((status = 200, body = BackupWithProgress), (status = 404, body = Problem)))]
pub async fn get_backup(
    state: State,
    Path(id): Path<String>,
) -> Result<Json<BackupWithProgress>, ApiError> {
    let backup =
        state.app.projections.backup(&id).await?.ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, format!("no backup with id {id}"))
        })?;
    let progress_bytes = state.app.progress(&id);
    let progress = match backup.status {
        BackupStatus::Running => state.app.progress_of(&id).await,
        _ => None,
    };
    let manual_restore_command = manual_command(&backup);
    Ok(Json(BackupWithProgress {
        backup,
        progress_bytes,
        progress,
        manual_restore_command,
    }))
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// Database to restore into (id or name); default: the backup's own database.
    pub target_database_id: Option<String>,
    /// Keep the target's previous contents as `<name>_before_restore_<time>` (PostgreSQL; default false).
    #[serde(default)]
    pub keep_previous: bool,
    /// Skip object ownership and privileges (for targets that lack the original roles).
    #[serde(default)]
    pub no_owner: bool,
    /// MariaDB: make the restoring user the definer of views, routines, triggers and events
    /// (`DEFINER=` rewritten), so that a user without SUPER / SET USER can restore.
    #[serde(default)]
    pub no_definer: bool,
    /// Read the copy on this named storage (default: the first healthy copy).
    #[serde(default)]
    pub storage: Option<String>,
    /// PostgreSQL: `pg_restore --jobs` (1–16; default min(4, the server's cores)).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 16)]
    pub jobs: Option<u32>,
    /// Restore into a new database instead, created on the server of a registered database
    /// and registered (without a schedule) under the same name. Not with `target_database_id`.
    #[serde(default)]
    pub new_database: Option<NewDatabaseTarget>,
    /// A partial restore: only these tables of the version (`schema.table` for PostgreSQL,
    /// `table` for MySQL/MariaDB, as `GET /backups/{id}/contents` lists them). In the target,
    /// each replaces the table of the same name; nothing else changes.
    #[serde(default)]
    #[schema(min_items = 1, example = json!(["public.orders"]))]
    pub tables: Option<Vec<String>>,
    /// New names for some of `tables` (PostgreSQL): `{"public.orders": "public.orders_0601"}`.
    #[serde(default)]
    #[schema(example = json!({"public.orders": "public.orders_0601"}))]
    pub rename: Option<std::collections::BTreeMap<String, String>>,
    /// First apply the newest completed globals version (roles and tablespaces; users and
    /// grants) of the server the backup's database was registered from to the target's
    /// server; roles that exist are kept. Then ownership and grants restore without `no_owner`.
    #[serde(default)]
    pub with_globals: bool,
}

/// A database a restore creates.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDatabaseTarget {
    /// The new database's name, on its server and in Backline.
    #[schema(
        min_length = 1,
        max_length = 63,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )]
    pub name: String,
    /// The registered database (id or name) whose server and credentials it uses.
    pub server_of: String,
}

/// Restore a backup into its own database or another one of the same engine.
#[utoipa::path(post, operation_id = "startRestore", path = "/api/v1/backups/{id}/restore", tag = "restores", request_body = RestoreRequest,
    params(("id" = String, Path, description = "backup id")),
    responses((status = 202, body = Accepted), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn restore(
    state: State,
    actor: Actor,
    caller: super::Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    // The body is optional: an empty one restores into the backup's own database.
    let req: RestoreRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RestoreRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("invalid request body: {e}"),
            )
        })?
    };
    if req.jobs.is_some_and(|j| !(1..=16).contains(&j)) {
        return Err(ApiError::invalid(
            "jobs",
            "give a number of pg_restore jobs from 1 to 16",
        ));
    }
    let request = backline_app::RestoreRequest {
        backup_id: id,
        target: req.target_database_id,
        keep_previous: req.keep_previous,
        no_owner: req.no_owner,
        no_definer: req.no_definer,
        storage: req.storage,
        jobs: req.jobs,
        new_database: req.new_database.map(|n| backline_app::restores::NewTarget {
            name: n.name,
            server_of: n.server_of,
        }),
        tables: req.tables,
        rename: req.rename.unwrap_or_default(),
        with_globals: req.with_globals,
    };
    may_restore_into(&state, &caller.0, &request).await?;
    let started = state.app.restores().start(&actor.0, &request).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id: started.id })))
}

/// What a version holds: schemas, tables (PostgreSQL: with their row counts) and other
/// objects, read from its verified local copy.
#[utoipa::path(get, operation_id = "getBackupContents", path = "/api/v1/backups/{id}/contents", tag = "backups",
    params(("id" = String, Path, description = "backup id")),
    responses((status = 200, body = backline_app::VersionContents), (status = 404, body = Problem), (status = 409, body = Problem, description = "The backup is not a completed version"), (status = 422, body = Problem, description = "The version cannot be read")))]
pub async fn contents(
    state: State,
    Path(id): Path<String>,
) -> Result<Json<backline_app::VersionContents>, ApiError> {
    let c = state.app.restores().contents(&id).await?;
    Ok(Json((*c).clone()))
}

/// Operators restore only into restore targets; a principal limited to some databases only
/// into one of them. (An unknown backup or target is left to the restore to answer 404.)
async fn may_restore_into(
    state: &State,
    caller: &backline_app::Principal,
    request: &backline_app::RestoreRequest,
) -> Result<(), ApiError> {
    if caller.role >= Role::Admin && caller.scope.is_all() {
        return Ok(());
    }
    if request.new_database.is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "a restore into a new database registers it: only an admin that sees every database may",
        ));
    }
    let Some(backup) = state.app.projections.backup(&request.backup_id).await? else {
        return Ok(());
    };
    let reference = request.target.clone().unwrap_or(backup.database_id);
    let Ok(target) = state.app.resolve_database(&reference).await else {
        return Ok(());
    };
    if !caller.sees(&target.id, &target.name) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{} is limited to some databases, and the target is another one",
                caller.name
            ),
        ));
    }
    if caller.role < Role::Admin && !target.restore_target {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "operators restore only into databases registered as restore targets (restore_target: true); {} is not one: ask an admin",
                target.name
            ),
        ));
    }
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RestoreList {
    pub items: Vec<RestoreView>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next: Option<String>,
    /// How many restores the list has in all (absent for a principal limited to some
    /// databases).
    pub total: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RestoreListParams {
    /// Restores from or into this database.
    pub database_id: Option<String>,
    /// The `next` of the previous page; absent for the first page.
    pub cursor: Option<String>,
    /// Items per page: 1–1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Restores, newest first, a page at a time (follow `next`).
#[utoipa::path(get, operation_id = "listRestores", path = "/api/v1/restores", tag = "restores", params(RestoreListParams),
    responses((status = 200, body = RestoreList), (status = 400, body = Problem, description = "A `cursor` this server did not give")))]
pub async fn list_restores(
    state: State,
    caller: super::Caller,
    ApiQuery(q): ApiQuery<RestoreListParams>,
) -> Result<Json<RestoreList>, ApiError> {
    let page = paging::request(q.cursor.as_deref(), q.limit)?;
    let p = &state.app.projections;
    let d = q.database_id.as_deref();
    let found = p.restores_page(d, page.before, page.limit).await?;
    let visible = super::guard::visible_ids(&state.app, &caller.0).await?;
    let total = match visible {
        None => Some(p.restore_count(d).await?),
        Some(_) => None,
    };
    let mut items = found.items;
    items.retain(|r| {
        super::guard::shows(&visible, Some(&r.target_database_id))
            && super::guard::shows(&visible, Some(&r.source_database_id))
    });
    Ok(Json(RestoreList {
        items,
        next: paging::next(found.next),
        total,
    }))
}

/// Pin a version: retention never prunes it.
#[utoipa::path(post, operation_id = "pinBackup", path = "/api/v1/backups/{id}/pin", tag = "backups",
    params(("id" = String, Path, description = "backup id")),
    responses((status = 200, body = BackupView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn pin(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<BackupView>, ApiError> {
    state.app.backups().set_pinned(&actor.0, &id, true).await?;
    found(&state, &id).await
}

/// Unpin a version.
#[utoipa::path(post, operation_id = "unpinBackup", path = "/api/v1/backups/{id}/unpin", tag = "backups",
    params(("id" = String, Path, description = "backup id")),
    responses((status = 200, body = BackupView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn unpin(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<BackupView>, ApiError> {
    state.app.backups().set_pinned(&actor.0, &id, false).await?;
    found(&state, &id).await
}

async fn found(state: &State, id: &str) -> Result<Json<BackupView>, ApiError> {
    state
        .app
        .projections
        .backup(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no backup with id {id}")))
}
