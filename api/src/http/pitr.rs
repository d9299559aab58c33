//! Point-in-time recovery: WAL archiving, base backups, the recoverable window, and restores
//! to a point in time.

use super::error::{ApiError, ApiJson, Problem};
use super::runs::Accepted;
use super::{Actor, State};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use backline_app::archiving::{ArchiveView, BaseBackupView, RecoveryWindow};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableArchiving {
    /// Cron expression (5 or 6 fields, UTC) of scheduled base backups, e.g. `0 3 * * *`.
    #[serde(default)]
    pub base_backup_schedule: Option<String>,
    /// Retention: keep the newest this many base backups and the WAL they need (at least 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 4294967295.0, format = Int64)]
    pub keep_base_backups: Option<u32>,
    /// Retention: keep every second of the last this many days restorable (1 to 36500).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 36500)]
    pub keep_days: Option<u32>,
}

/// Enable continuous WAL archiving for the database's server.
#[utoipa::path(post, operation_id = "enableArchiving", path = "/api/v1/databases/{id}/archiving", tag = "pitr", request_body = EnableArchiving,
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 200, body = ArchiveView, description = "Archiving is enabled (the receiver starts within seconds)"),
        (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem, description = "A prerequisite is missing (each one named with its fix), or the database is not PostgreSQL")))]
pub async fn enable(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<ArchiveView>, ApiError> {
    // The body is optional.
    let req: EnableArchiving = if body.iter().all(u8::is_ascii_whitespace) {
        EnableArchiving::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("invalid request body: {e}"),
            )
        })?
    };
    let view = state
        .app
        .archiving()
        .enable(
            &actor.0,
            &id,
            req.base_backup_schedule.as_deref(),
            backline_domain::ArchiveRetention {
                keep_base_backups: req.keep_base_backups,
                keep_days: req.keep_days,
            },
        )
        .await?;
    Ok(Json(view))
}

/// Disable WAL archiving: the receiver stops and its replication slot is dropped.
#[utoipa::path(delete, operation_id = "disableArchiving", path = "/api/v1/databases/{id}/archiving", tag = "pitr",
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 200, body = ArchiveView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn disable(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<ArchiveView>, ApiError> {
    Ok(Json(state.app.archiving().disable(&actor.0, &id).await?))
}

/// The archiving state of a database.
#[utoipa::path(get, operation_id = "getArchiving", path = "/api/v1/databases/{id}/archiving", tag = "pitr",
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 200, body = ArchiveView), (status = 404, body = Problem)))]
pub async fn status(state: State, Path(id): Path<String>) -> Result<Json<ArchiveView>, ApiError> {
    Ok(Json(state.app.archiving().status(&id).await?))
}

/// Take a base backup now.
#[utoipa::path(post, operation_id = "startBaseBackup", path = "/api/v1/databases/{id}/base-backups", tag = "pitr",
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 202, body = Accepted), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem, description = "WAL archiving is not enabled")))]
pub async fn base_backup_now(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let started = state.app.archiving().base_backup_now(&actor.0, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id: started.id })))
}

/// One base backup (`completed` when done).
#[utoipa::path(get, operation_id = "getBaseBackup", path = "/api/v1/base-backups/{id}", tag = "pitr",
    params(("id" = String, Path, description = "base backup id")),
    responses((status = 200, body = BaseBackupView), (status = 404, body = Problem)))]
pub async fn get_base_backup(
    state: State,
    Path(id): Path<String>,
) -> Result<Json<BaseBackupView>, ApiError> {
    Ok(Json(state.app.archiving().base_backup(&id).await?))
}

/// The intervals any second of which can be restored, and the gaps between them.
#[utoipa::path(get, operation_id = "getRecoveryWindow", path = "/api/v1/databases/{id}/recovery-window", tag = "pitr",
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 200, body = RecoveryWindow), (status = 404, body = Problem),
        (status = 422, body = Problem, description = "WAL archiving was never enabled")))]
pub async fn recovery_window(
    state: State,
    Path(id): Path<String>,
) -> Result<Json<RecoveryWindow>, ApiError> {
    Ok(Json(state.app.archiving().recovery_window(&id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestorePitr {
    /// The moment to restore (RFC 3339); or give `target_lsn`.
    #[serde(default)]
    pub target_time: Option<DateTime<Utc>>,
    /// The LSN to restore to (`0/16B3748`); or give `target_time`.
    #[serde(default)]
    pub target_lsn: Option<String>,
    /// The database to restore into (id or name; default: this database).
    #[serde(default)]
    pub target_database_id: Option<String>,
    /// Instead of one database: the whole cluster's data directory as of the target, written
    /// to this absolute path on the Backline host, which must be a new or empty directory.
    #[serde(default)]
    pub cluster_path: Option<String>,
}

/// Restore the database as it was at a point in time, into itself or another database.
#[utoipa::path(post, operation_id = "startPointInTimeRestore", path = "/api/v1/databases/{id}/restore-pitr", tag = "pitr", request_body = RestorePitr,
    params(("id" = String, Path, description = "database id or name")),
    responses((status = 202, body = Accepted, description = "Started: follow it at /api/v1/restores/{id}"),
        (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem, description = "No base backup ends before the target, the target lies in a gap of the archive (wal_gap) or after it, or the server binaries of its major version (postgresql-<major>) are missing")))]
pub async fn restore_pitr(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RestorePitr>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let req = backline_app::PitrRequest {
        source: id,
        target_time: body.target_time,
        target_lsn: body.target_lsn,
        target: body.target_database_id,
        cluster_path: body.cluster_path,
    };
    let started = state.app.restores().start_pitr(&actor.0, &req).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id: started.id })))
}
