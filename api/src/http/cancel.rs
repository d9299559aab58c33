//! Stopping a running backup or restore.

use super::error::{ApiError, Problem};
use super::runs::Accepted;
use super::{Actor, State};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;

/// Cancel a running backup: its dump tool is killed and its partial uploads removed by the
/// process running it, which records `BackupCancelled` (the request itself is recorded as
/// `BackupCancelRequested`). Follow it at `GET /backups/{id}`: it ends `cancelled` (or
/// `completed`, when the request came as it finished).
#[utoipa::path(post, operation_id = "cancelBackup", path = "/api/v1/backups/{id}/cancel", tag = "backups",
    params(("id" = String, Path, description = "backup id")),
    responses((status = 202, body = Accepted, description = "Asked to stop"), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "The backup already ended")))]
pub async fn cancel_backup(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    state.app.backups().cancel(&actor.0, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id })))
}

/// Cancel a running restore: stopped while it fetches the artifact or loads the scratch copy,
/// whose database is dropped; the target stays exactly as it was (`RestoreCancelled`). A
/// restore already replacing its target runs to its end (`completed`).
#[utoipa::path(post, operation_id = "cancelRestore", path = "/api/v1/restores/{id}/cancel", tag = "restores",
    params(("id" = String, Path, description = "restore id")),
    responses((status = 202, body = Accepted, description = "Asked to stop"), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "The restore already ended, or it is a point-in-time restore")))]
pub async fn cancel_restore(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    state.app.restores().cancel(&actor.0, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id })))
}
