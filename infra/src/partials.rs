//! Partial uploads: local storage writes an artifact under `.partial/` and renames it into
//! place when it is complete (see `storage::ArtifactStore::fs`). A failed upload aborts its
//! partial file, but a process that dies, or an abort that fails (the directory was made
//! read-only, the disk filled), leaves it behind. These remove them: the ones of one backup
//! when it ends, and any older than the lease (a live upload renews its file every few
//! seconds) at start-up and every hour. A store that writes in one request (WebDAV) uses
//! `.partial/` the same way (`destinations.rs`), and so does SFTP (`sftp/io.rs`). Object
//! stores have no `.partial/`: incomplete multipart uploads expire by the bucket's own
//! lifecycle rules.

use crate::storage::ArtifactStore;
use std::time::{Duration, SystemTime};

pub const PARTIAL_DIR: &str = ".partial/";

/// What a sweep removed, and what it could not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    pub removed: usize,
    pub bytes: u64,
    /// `path: error` of each partial file that could not be removed.
    pub failed: Vec<String>,
}

/// Removes the partial files of backup `backup_id` (their names start with `<id>.`).
pub async fn remove_partials_of(store: &ArtifactStore, backup_id: &str) -> Swept {
    let prefix = format!("{backup_id}.");
    sweep(store, |name, _| name.starts_with(&prefix)).await
}

/// Removes every partial file not written to for longer than `older_than`.
pub async fn sweep_partials(store: &ArtifactStore, older_than: Duration) -> Swept {
    let cutoff = SystemTime::now()
        .checked_sub(older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    sweep(store, |_, modified| modified.is_none_or(|m| m < cutoff)).await
}

async fn sweep(store: &ArtifactStore, wanted: impl Fn(&str, Option<SystemTime>) -> bool) -> Swept {
    let mut swept = Swept::default();
    if !store.keeps_partials() {
        return swept;
    }
    let op = store.operator();
    let entries = match op.list(PARTIAL_DIR).await {
        Ok(e) => e,
        Err(e) if e.kind() == opendal::ErrorKind::NotFound => return swept,
        Err(e) => {
            swept.failed.push(format!("{PARTIAL_DIR}: {e}"));
            return swept;
        }
    };
    for entry in entries {
        let path = entry.path();
        let name = entry.name();
        if path.ends_with('/') || !path.starts_with(PARTIAL_DIR) {
            continue;
        }
        // The listing's metadata may lack the time: ask for it.
        let meta = match entry.metadata().last_modified() {
            Some(_) => entry.metadata().clone(),
            None => match op.stat(path).await {
                Ok(m) => m,
                Err(e) if e.kind() == opendal::ErrorKind::NotFound => continue,
                Err(e) => {
                    swept.failed.push(format!("{path}: {e}"));
                    continue;
                }
            },
        };
        let modified = meta.last_modified().map(SystemTime::from);
        if !wanted(name, modified) {
            continue;
        }
        match op.delete(path).await {
            Ok(()) => {
                swept.removed += 1;
                swept.bytes += meta.content_length();
            }
            Err(e) => swept.failed.push(format!("{path}: {e}")),
        }
    }
    if swept.removed > 0 {
        tracing::info!(
            storage = store.label(),
            removed = swept.removed,
            bytes = swept.bytes,
            "partial uploads removed"
        );
    }
    for f in &swept.failed {
        tracing::warn!(storage = store.label(), error = %f, "a partial upload could not be removed");
    }
    swept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn removes_a_backups_partials_and_old_ones_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::from_url(&format!("fs://{}", dir.path().display())).unwrap();
        let partial = dir.path().join(".partial");
        std::fs::create_dir_all(&partial).unwrap();
        std::fs::write(partial.join("b1.pgdump.zst.abc"), b"half").unwrap();
        std::fs::write(partial.join("b2.pgdump.zst.def"), b"other").unwrap();
        std::fs::write(dir.path().join("kept.pgdump.zst"), b"done").unwrap();

        let s = remove_partials_of(&store, "b1").await;
        assert_eq!((s.removed, s.bytes), (1, 4), "{s:?}");
        assert!(!partial.join("b1.pgdump.zst.abc").exists());
        assert!(partial.join("b2.pgdump.zst.def").exists());

        // Fresh files survive a sweep; old ones do not.
        assert_eq!(
            sweep_partials(&store, Duration::from_secs(60))
                .await
                .removed,
            0
        );
        std::thread::sleep(Duration::from_millis(50));
        let s = sweep_partials(&store, Duration::from_millis(10)).await;
        assert_eq!(s.removed, 1, "{s:?}");
        assert!(!partial.join("b2.pgdump.zst.def").exists());
        assert!(
            dir.path().join("kept.pgdump.zst").exists(),
            "a complete artifact was touched"
        );
    }
}
