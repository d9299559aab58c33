//! Cancel requests reach the process that runs the work: the request is an event in the
//! ledger (`BackupCancelRequested`, `RestoreCancelRequested`), which every process sharing it
//! sees; the runner polls its work's aggregate and fires its request handle. In the process
//! that took the request, the handle fires at once.

use super::Coordination;
use backline_domain::{Backup, Restore};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a runner looks for a cancel request in the ledger.
pub const CANCEL_POLL: Duration = Duration::from_secs(1);

/// Which aggregate running work is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Work {
    Backup,
    Restore,
}

impl Coordination {
    /// Fires `token` once the ledger says someone asked work `id` to stop; abort the returned
    /// task when the work ends.
    pub(crate) fn watch_cancel(
        &self,
        work: Work,
        id: &str,
        token: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let ledger = self.ledger.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            while !token.is_cancelled() {
                tokio::time::sleep(CANCEL_POLL).await;
                let asked = match work {
                    Work::Backup => ledger
                        .load::<Backup>(&id)
                        .await
                        .ok()
                        .flatten()
                        .is_some_and(|b| b.cancel_requested_by.is_some()),
                    Work::Restore => ledger
                        .load::<Restore>(&id)
                        .await
                        .ok()
                        .flatten()
                        .is_some_and(|r| r.cancel_requested_by.is_some()),
                };
                if asked {
                    tracing::info!(id, "asked to stop: cancelling");
                    token.cancel();
                }
            }
        })
    }
}
