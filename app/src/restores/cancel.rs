//! Asking a running restore to stop (see `coordination::cancels` for how its runner notices).

use super::Restores;
use crate::error::{from_aggregate, restore_error, AppError};
use backline_domain::RestoreCommand;

impl Restores {
    /// Records `RestoreCancelRequested` for running restore `id` (404 unknown, 409 ended or a
    /// point-in-time restore). The process running it stops it while it fetches or loads,
    /// drops the scratch database and records `RestoreCancelled`, the target untouched; a
    /// restore already replacing its target completes.
    pub async fn cancel(&self, actor: &str, id: &str) -> Result<(), AppError> {
        let core = &self.core;
        core.aggregates
            .restores
            .execute_with_metadata(
                id,
                RestoreCommand::RequestCancel {
                    actor: actor.into(),
                },
                core.meta(actor, id),
            )
            .await
            .map_err(|e| from_aggregate(e, restore_error))?;
        core.coordination.running.request_cancel(id);
        core.refresh().await;
        Ok(())
    }
}
