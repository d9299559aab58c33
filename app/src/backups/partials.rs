//! Partial uploads left on local storages: removed when their backup ends, whichever way, and
//! swept at start-up and every hour (any not written to for longer than the lease: a live
//! upload writes its file continuously, and a backup that writes nothing for that long has been
//! abandoned or stalled).

use crate::core::Core;
use backline_infra::partials::{self, Swept};
use backline_infra::storage::ArtifactStore;
use std::time::Duration;

pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Every configured storage once (the default one may also be named).
fn stores(core: &Core) -> Vec<&ArtifactStore> {
    let mut out: Vec<&ArtifactStore> = vec![&core.store];
    for (_, s) in &core.storages {
        if out.iter().all(|o| o.label() != s.label()) {
            out.push(s);
        }
    }
    out
}

/// Removes what backup `backup_id` may have left in `.partial/` on every storage.
pub(crate) async fn remove_partials_of(core: &Core, backup_id: &str) -> usize {
    let mut removed = 0;
    for store in stores(core) {
        removed += partials::remove_partials_of(store, backup_id).await.removed;
    }
    removed
}

/// Removes partial uploads older than the lease on every storage; returns what each sweep did.
pub async fn sweep_partials(core: &Core) -> Vec<(String, Swept)> {
    let ttl = core.settings.lease_ttl();
    let mut out = Vec::new();
    for store in stores(core) {
        out.push((
            store.label().to_string(),
            partials::sweep_partials(store, ttl).await,
        ));
    }
    out
}

/// Sweeps now, then every hour, until the process ends.
pub async fn sweep_partials_hourly(core: std::sync::Arc<Core>) {
    loop {
        sweep_partials(&core).await;
        tokio::time::sleep(SWEEP_EVERY).await;
    }
}
