//! Retention of an archive: base backups the policy lets go, then the WAL only they needed
//! (`archive_prune` decides, purely). Each removal is recorded first (`BaseBackupPruned`,
//! `WalPruned`) and its objects deleted after, from every destination; a deletion that fails is
//! retried by the next pass (a pruned base backup until `BaseBackupArtifactDeleted`, WAL objects
//! below the pruned boundary whenever they are still listed).

use super::ship::wal_prefix;
use super::window::snapshot;
use super::Archiving;
use crate::core::Core;
use crate::error::{from_aggregate, AppError};
use backline_domain::archive_retention::segment_below;
use backline_domain::{
    archive_prune, ArchiveCommand, BaseAge, BaseBackup, BaseBackupCommand, BaseBackupStatus,
    Database,
};
use backline_infra::storage::ArtifactStore;
use cqrs_es::Aggregate;

/// What one pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    pub base_backups: Vec<String>,
    pub wal_before: Option<String>,
}

/// Applies the archive's retention of database `database_id` now.
pub(crate) async fn apply(core: &Core, actor: &str, database_id: &str) -> Result<Pruned, AppError> {
    let archive = Archiving::load(core, database_id).await?;
    if archive.server.is_none() {
        return Ok(Pruned::default());
    }
    let mut out = Pruned::default();
    if !archive.retention.is_empty() {
        let snap = snapshot(core, database_id).await?;
        let ages: Vec<BaseAge> = snap
            .bases
            .iter()
            .map(|b| BaseAge {
                id: b.id.clone(),
                stopped_at: b.coverage.stopped_at,
                start: b.coverage.start,
            })
            .collect();
        let plan = archive_prune(&ages, &archive.retention, chrono::Utc::now());
        let policy = archive.retention.summary();
        for p in plan.bases {
            core.aggregates
                .base_backups
                .execute_with_metadata(
                    &p.id,
                    BaseBackupCommand::Prune {
                        policy: policy.clone(),
                        reason: p.reason,
                    },
                    core.meta(actor, &p.id),
                )
                .await
                .map_err(|e| from_aggregate(e, super::base_backup::base_error))?;
            out.base_backups.push(p.id);
        }
        if let Some(before) = plan.wal_before {
            let before = before.name(snap.seg_size());
            core.aggregates
                .archives
                .execute_with_metadata(
                    database_id,
                    ArchiveCommand::PruneWal {
                        before: before.clone(),
                        policy,
                    },
                    core.meta(actor, database_id),
                )
                .await
                .map_err(|e| from_aggregate(e, super::archive_error))?;
            out.wal_before = Some(before);
        }
    }
    delete_pruned_bases(core, actor, database_id).await?;
    delete_pruned_wal(core, database_id).await?;
    core.refresh().await;
    Ok(out)
}

/// Retention after a base backup or on the receiver's periodic pass; failures are logged.
pub(crate) async fn apply_quietly(core: &Core, database_id: &str) {
    match apply(core, "system:retention", database_id).await {
        Ok(p) if !p.base_backups.is_empty() => {
            tracing::info!(database_id, pruned = ?p.base_backups, wal_before = ?p.wal_before, "archive retention");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(database_id, error = %e, "archive retention failed"),
    }
}

/// Deletes the objects of every pruned base backup of the database not yet deleted.
async fn delete_pruned_bases(core: &Core, actor: &str, database_id: &str) -> Result<(), AppError> {
    for id in core.ledger.aggregate_ids(BaseBackup::TYPE).await? {
        let Some(b) = core
            .ledger
            .load::<BaseBackup>(&id)
            .await
            .map_err(AppError::internal)?
        else {
            continue;
        };
        if b.status != BaseBackupStatus::Pruned
            || b.artifact_deleted
            || b.database_id.as_deref() != Some(database_id)
        {
            continue;
        }
        let mut failed = false;
        for copy in b.artifact.iter().flat_map(|a| &a.copies).filter(|c| c.ok) {
            let Some(store) = core.store_of(copy) else {
                failed = true;
                continue;
            };
            if let Err(e) = store.operator().delete(&copy.key).await {
                tracing::warn!(base_backup = id, key = copy.key, error = %e, "deleting a pruned base backup failed; retried by the next pass");
                failed = true;
            }
        }
        if !failed {
            core.aggregates
                .base_backups
                .execute_with_metadata(
                    &id,
                    BaseBackupCommand::ConfirmDeleted,
                    core.meta(actor, &id),
                )
                .await
                .map_err(|e| from_aggregate(e, super::base_backup::base_error))?;
        }
    }
    Ok(())
}

/// Deletes, from every destination of the database, the WAL objects below the pruned boundary.
async fn delete_pruned_wal(core: &Core, database_id: &str) -> Result<(), AppError> {
    let archive = Archiving::load(core, database_id).await?;
    let Some(before) = archive.pruned_before else {
        return Ok(());
    };
    let db = core
        .ledger
        .load::<Database>(database_id)
        .await
        .map_err(AppError::internal)?
        .unwrap_or_default();
    let name = db.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
    let prefix = wal_prefix(&name, database_id);
    let stores: Vec<&ArtifactStore> = core.storages.iter().map(|(_, s)| s).collect();
    for store in stores {
        let entries = match store.operator().list_with(&prefix).recursive(true).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(storage = store.label(), error = %e, "cannot list the archived WAL");
                continue;
            }
        };
        for entry in entries {
            let path = entry.path();
            let file = path.rsplit('/').next().unwrap_or_default();
            let segment = file.split('.').next().unwrap_or_default();
            if segment.len() != 24 || !segment_below(segment, &before) {
                continue;
            }
            if let Err(e) = store.operator().delete(path).await {
                tracing::warn!(key = path, error = %e, "deleting pruned WAL failed; retried by the next pass");
            }
        }
    }
    Ok(())
}
