//! Storage-facing operations: verifying stored artifacts, listing the configured destinations.

use super::error::{ApiError, Problem};
use super::{Actor, State};
use axum::extract::Path;
use axum::Json;
use backline_app::Verification;
use serde::Serialize;
use utoipa::ToSchema;

/// Re-read a completed backup's stored copies: sha256, and decryption + decompression when
/// this server holds the key. Records `BackupVerified` and returns what was found (200 also
/// when the check failed: see `ok`).
#[utoipa::path(post, operation_id = "verifyBackup", path = "/api/v1/backups/{id}/verify", tag = "backups",
    params(("id" = String, Path, description = "backup id")),
    responses((status = 200, body = Verification), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn verify(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<Verification>, ApiError> {
    Ok(Json(state.app.verify_backup(&actor.0, &id).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StorageView {
    /// `default` (BACKLINE_STORAGE_URL) or the name given in BACKLINE_STORAGE_<NAME>_URL.
    pub name: String,
    /// The URL without credentials.
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StorageList {
    pub items: Vec<StorageView>,
}

/// The destinations every backup is streamed to, in order (restore reads the first healthy one).
#[utoipa::path(get, operation_id = "listStorages", path = "/api/v1/storages", tag = "backups",
    responses((status = 200, body = StorageList)))]
pub async fn list(state: State) -> Json<StorageList> {
    Json(StorageList {
        items: state
            .app
            .storages
            .iter()
            .map(|(name, s)| StorageView {
                name: name.clone(),
                url: s.label().to_string(),
            })
            .collect(),
    })
}
