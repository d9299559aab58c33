//! The destinations of backups: the default storage and the named ones (3-2-1).

use crate::core::{Core, StartError};
use crate::settings::Settings;
use backline_domain::Database;
use backline_infra::storage::ArtifactStore;

/// `default` (BACKLINE_STORAGE_URL) first, then every named storage.
pub(crate) fn open(
    settings: &Settings,
    default: &ArtifactStore,
) -> Result<Vec<(String, ArtifactStore)>, StartError> {
    let mut out = vec![("default".to_string(), default.clone())];
    for (name, url) in settings
        .named_storages()
        .map_err(StartError::StorageConfig)?
    {
        if let Some(path) = url.strip_prefix("fs://") {
            if let Err(e) = std::fs::create_dir_all(path) {
                tracing::warn!(path, error = %e, "cannot create the storage directory");
            }
        }
        let store = ArtifactStore::from_url(&url)
            .map_err(|e| StartError::StorageConfig(format!("storage {name}: {e}")))?;
        out.push((name, store));
    }
    Ok(out)
}

/// Where a backup of `db` goes: its chosen storages in order, or all configured ones. A chosen
/// name no longer configured here comes back without a store (a failed copy).
pub(crate) fn destinations_of<'a>(
    core: &'a Core,
    db: &Database,
) -> Vec<(String, Option<&'a ArtifactStore>)> {
    match &db.destinations {
        None => core
            .storages
            .iter()
            .map(|(n, s)| (n.clone(), Some(s)))
            .collect(),
        Some(names) => names
            .iter()
            .map(|n| (n.clone(), core.storage_named(n)))
            .collect(),
    }
}
