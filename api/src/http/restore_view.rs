//! One restore, with its progress while it runs.

use super::error::{ApiError, Problem};
use super::State;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use backline_projections::RestoreView;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct RestoreWithProgress {
    #[serde(flatten)]
    pub restore: RestoreView,
    /// While running: the phase (`download`: the artifact's stored size; `load`: its raw
    /// size), bytes so far, percent, ETA.
    pub progress: Option<backline_app::progress::ProgressView>,
}

/// One restore.
#[utoipa::path(get, operation_id = "getRestore", path = "/api/v1/restores/{id}", tag = "restores",
    params(("id" = String, Path, description = "restore id")),
    responses((status = 200, body = RestoreWithProgress), (status = 404, body = Problem)))]
pub async fn get_restore(
    state: State,
    Path(id): Path<String>,
) -> Result<Json<RestoreWithProgress>, ApiError> {
    let restore =
        state.app.projections.restore(&id).await?.ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, format!("no restore with id {id}"))
        })?;
    let progress = match restore.status {
        backline_domain::RestoreStatus::Running => state.app.progress_of(&id).await,
        _ => None,
    };
    Ok(Json(RestoreWithProgress { restore, progress }))
}

/// The manual restore command of a completed version (see `download::manual_restore_command`).
pub fn manual_command(backup: &backline_projections::BackupView) -> Option<String> {
    use backline_domain::BackupStatus;
    match (&backup.status, &backup.storage_key, &backup.sha256) {
        (BackupStatus::Completed, Some(key), Some(sha256)) => {
            Some(backline_app::backups::download::manual_restore_command(
                backup.engine,
                &backup.database_name,
                key.rsplit('/').next().unwrap_or(key),
                sha256,
                backup.encrypted,
            ))
        }
        _ => None,
    }
}
