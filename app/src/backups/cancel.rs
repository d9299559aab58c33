//! Asking a running backup to stop (see `coordination::cancels` for how its runner notices).

use super::Backups;
use crate::error::{backup_error, from_aggregate, AppError};
use backline_domain::BackupCommand;

impl Backups {
    /// Records `BackupCancelRequested` for running backup `id` (404 unknown, 409 ended). The
    /// process running it kills the dump tool's process group, removes its partial uploads,
    /// lets go of its slot and claim, and records `BackupCancelled`.
    pub async fn cancel(&self, actor: &str, id: &str) -> Result<(), AppError> {
        let core = &self.core;
        core.aggregates
            .backups
            .execute_with_metadata(
                id,
                BackupCommand::RequestCancel {
                    actor: actor.into(),
                },
                core.meta(actor, id),
            )
            .await
            .map_err(|e| from_aggregate(e, backup_error))?;
        core.coordination.running.request_cancel(id);
        core.refresh().await;
        Ok(())
    }
}
