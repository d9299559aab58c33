//! Coordination of work across processes sharing one ledger: claims (one holder of a name, of a
//! database's running backup, of a target's running restore), leases (a running backup or
//! restore says its process is alive), and this process's registry of running work.

mod cancels;
mod claims;
mod leases;
mod running;

pub(crate) use cancels::Work;
pub(crate) use leases::Lapse;
pub(crate) use running::Running;

use backline_infra::claims::Claims;
use backline_infra::leases::Leases;
use backline_infra::progress::{ProgressTable, WorkProgress};
use backline_infra::Ledger;

pub struct Coordination {
    pub(crate) claims: Claims,
    pub(crate) leases: Leases,
    pub(crate) running: Running,
    pub(crate) progress: ProgressTable,
    ledger: Ledger,
}

/// How often running work writes its progress for other processes.
pub const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Coordination {
    /// Forgets the written progress of work that ended.
    pub(crate) async fn end_progress(&self, id: &str) {
        if let Err(e) = self.progress.remove(id).await {
            tracing::debug!(id, error = %e, "could not remove progress");
        }
    }

    /// Where work `id` is: from this process when it runs here, else as its process wrote it.
    pub(crate) async fn progress_of(&self, id: &str) -> Option<WorkProgress> {
        match self.running.snapshot(id) {
            Some(p) => Some(p),
            None => self.progress.get(id).await.ok().flatten(),
        }
    }

    pub(crate) fn new(ledger: &Ledger) -> Self {
        Self {
            claims: Claims::new(ledger.pool().clone()),
            leases: Leases::new(ledger.pool().clone()),
            running: Running::default(),
            progress: ProgressTable::new(ledger.pool().clone()),
            ledger: ledger.clone(),
        }
    }
}
