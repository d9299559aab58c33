//! The ledger's integrity: its signing key, its sealed chain, and a verification on demand.

use super::error::{ApiError, Problem};
use super::State;
use axum::Json;
use backline_app::{LedgerStatus, LedgerVerification};

/// The server's Ed25519 public key (seals and manifests are signed with it), how far the
/// ledger is sealed, and the last verification this process ran.
#[utoipa::path(get, operation_id = "getLedger", path = "/api/v1/ledger", tag = "ledger",
    responses((status = 200, body = LedgerStatus), (status = 500, body = Problem)))]
pub async fn status(state: State) -> Result<Json<LedgerStatus>, ApiError> {
    Ok(Json(state.app.seals().status().await?))
}

/// Recompute every sealed block from the events and check the chain, the signatures and the
/// anchors in every storage (admin). 200 also when the ledger does not verify: see `ok` and
/// `first_bad_position`.
#[utoipa::path(get, operation_id = "verifyLedger", path = "/api/v1/ledger/verify", tag = "ledger",
    responses((status = 200, body = LedgerVerification), (status = 500, body = Problem)))]
pub async fn verify(state: State) -> Result<Json<LedgerVerification>, ApiError> {
    let seals = state.app.seals();
    let v = seals.verify(None).await?;
    seals.alert_if_bad(&v).await;
    Ok(Json(v))
}
