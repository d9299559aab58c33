//! Leases: a running backup or restore renews one while its process works on it; one that
//! expired (or was never taken) says the process is gone.

use super::Coordination;
use crate::error::AppError;
use crate::time::parse_time;
use chrono::Utc;
use std::time::Duration;

/// How a lease shows that the process running the work is gone.
pub(crate) enum Lapse {
    Expired { node: String },
    NeverTaken,
}

impl Coordination {
    /// Renews the lease on running work `id` until the returned task is aborted.
    pub(crate) fn hold_lease(
        &self,
        id: &str,
        node: &str,
        ttl: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let leases = self.leases.clone();
        let (id, node) = (id.to_string(), node.to_string());
        tokio::spawn(async move {
            loop {
                if let Err(e) = leases.renew(&id, &node, ttl).await {
                    tracing::warn!(id, error = %e, "could not renew a lease");
                }
                tokio::time::sleep(ttl / 3).await;
            }
        })
    }

    /// Whether the lease of running work `id`, started at `started_at`, shows that its process
    /// is gone: it expired, or none was taken within a lease's time.
    pub(crate) async fn lease_lapse(
        &self,
        id: &str,
        started_at: &str,
        ttl: Duration,
    ) -> Result<Option<Lapse>, AppError> {
        let lease = self.leases.get(id).await.map_err(AppError::internal)?;
        let started = parse_time(started_at).unwrap_or_else(Utc::now);
        let stale_without_lease =
            Utc::now() - started > chrono::Duration::from_std(ttl).unwrap_or_default();
        Ok(match lease {
            Some((node, true)) => Some(Lapse::Expired { node }),
            None if stale_without_lease => Some(Lapse::NeverTaken),
            _ => None,
        })
    }

    /// Drops the lease of work that ended.
    pub(crate) async fn end_lease(&self, id: &str) {
        if let Err(e) = self.leases.release(id).await {
            tracing::warn!(id, error = %e, "could not release a lease");
        }
    }
}
