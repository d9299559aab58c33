//! What backups need, checked: every storage accepts a write made the way a backup makes it,
//! local storage keeps more free space than `BACKLINE_MIN_FREE_BYTES`, and the ledger accepts
//! writes. `/readyz` answers from this (cached a few seconds), and the alerting loop raises a
//! `storage_failure` alert from it before a backup fails.

use crate::core::Core;

/// One check of what backups use. Each field is `"ok"` or what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReadiness {
    pub ledger: String,
    pub storage: String,
    /// The least free space among local storages (`None` with object stores only).
    pub storage_free_bytes: Option<u64>,
}

impl BackupReadiness {
    pub fn ok(&self) -> bool {
        self.ledger == "ok" && self.storage == "ok"
    }
}

/// A name safe in an object key.
fn key_safe(node: &str) -> String {
    node.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Checks every configured storage and the ledger.
pub async fn check_backup_readiness(core: &Core) -> BackupReadiness {
    let ledger = match core.ledger.probe_writable().await {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("the ledger does not accept writes: {e}"),
    };
    let node = key_safe(&core.node);
    let floor = core.settings.min_free_bytes;
    let mut problems = Vec::new();
    let mut least_free: Option<u64> = None;
    let mut seen = Vec::new();
    for (_, store) in &core.storages {
        if seen.contains(&store.label()) {
            continue;
        }
        seen.push(store.label());
        if let Err(e) = store.probe_writable(&node).await {
            problems.push(format!("{}: not writable: {e}", store.label()));
            continue;
        }
        match store.free_bytes() {
            None => {}
            Some(Err(e)) => {
                problems.push(format!("{}: cannot read free space: {e}", store.label()))
            }
            Some(Ok(free)) => {
                least_free = Some(least_free.map_or(free, |l| l.min(free)));
                if free < floor {
                    problems.push(format!(
                        "{}: only {free} bytes free, below BACKLINE_MIN_FREE_BYTES ({floor})",
                        store.label()
                    ));
                }
            }
        }
    }
    BackupReadiness {
        ledger,
        storage: if problems.is_empty() {
            "ok".to_string()
        } else {
            problems.join("; ")
        },
        storage_free_bytes: least_free,
    }
}
