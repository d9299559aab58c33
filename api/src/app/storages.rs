//! The destinations of backups: the default storage and the named ones (3-2-1).

use super::*;
use backline_domain::ArtifactCopy;

/// `default` (BACKLINE_STORAGE_URL) first, then every named storage.
pub(super) fn open(
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

impl App {
    /// The configured storage called `name`.
    pub fn storage_named(&self, name: &str) -> Option<&ArtifactStore> {
        self.storages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }

    /// Where a recorded copy lives, if that storage is configured in this process: by name,
    /// else by URL (the name may have changed, the bucket not).
    pub(super) fn store_of(&self, copy: &ArtifactCopy) -> Option<&ArtifactStore> {
        self.storage_named(&copy.name)
            .filter(|s| s.label() == copy.storage)
            .or_else(|| {
                self.storages
                    .iter()
                    .find(|(_, s)| s.label() == copy.storage)
                    .map(|(_, s)| s)
            })
            .or_else(|| self.storage_named(&copy.name))
    }
}

impl App {
    /// Checks a database's chosen destinations: at least one, each a configured storage.
    pub fn check_destinations(&self, names: &[String]) -> Result<(), AppError> {
        let invalid = |message: String| AppError::Invalid {
            field: "destinations",
            message,
        };
        if names.is_empty() {
            return Err(invalid(
                "give at least one storage, or null for all of them".into(),
            ));
        }
        let known: Vec<&str> = self.storages.iter().map(|(n, _)| n.as_str()).collect();
        for (i, n) in names.iter().enumerate() {
            if !known.contains(&n.as_str()) {
                return Err(invalid(format!(
                    "no storage named {n:?} is configured; configured: {}",
                    known.join(", ")
                )));
            }
            if names[..i].contains(n) {
                return Err(invalid(format!("{n:?} is named twice")));
            }
        }
        Ok(())
    }

    /// Chooses where a database's backups go (`None`: every configured storage).
    pub async fn set_destinations(
        &self,
        actor: &str,
        reference: &str,
        destinations: Option<Vec<String>>,
    ) -> Result<DatabaseView, AppError> {
        if let Some(d) = &destinations {
            self.check_destinations(d)?;
        }
        let current = self.resolve_database(reference).await?;
        self.databases
            .execute_with_metadata(
                &current.id,
                DatabaseCommand::SetDestinations { destinations },
                self.meta(actor, &current.id),
            )
            .await
            .map_err(|e| from_aggregate(e, database_error))?;
        self.refresh().await;
        self.projections
            .database(&current.id)
            .await?
            .ok_or_else(|| AppError::Internal("database vanished".into()))
    }

    /// Where a backup of `db` goes: its chosen storages in order, or all configured ones. A
    /// chosen name no longer configured here comes back without a store (a failed copy).
    pub(super) fn destinations_of<'a>(
        &'a self,
        db: &Database,
    ) -> Vec<(String, Option<&'a ArtifactStore>)> {
        match &db.destinations {
            None => self
                .storages
                .iter()
                .map(|(n, s)| (n.clone(), Some(s)))
                .collect(),
            Some(names) => names
                .iter()
                .map(|n| (n.clone(), self.storage_named(n)))
                .collect(),
        }
    }
}
