//! What crashed work left behind: the scratch databases of restores whose process died.

use super::error::ApiError;
use super::State;
use axum::Json;
use backline_app::Leftover;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct LeftoverList {
    /// Oldest first. Each holds a full copy of a backup's data on the target's server; drop
    /// them with `backline cleanup --scratch`.
    pub items: Vec<Leftover>,
}

/// Scratch databases of restores that did not finish (their process died) and that still
/// exist on their targets' servers. Nothing here is ever dropped without being asked:
/// `backline cleanup --scratch` drops them and names each one. A server that cannot be
/// reached is left out until it answers.
#[utoipa::path(get, operation_id = "listLeftovers", path = "/api/v1/leftovers", tag = "restores",
    responses((status = 200, body = LeftoverList)))]
pub async fn list(state: State) -> Result<Json<LeftoverList>, ApiError> {
    Ok(Json(LeftoverList {
        items: state.app.leftovers().list().await?,
    }))
}
