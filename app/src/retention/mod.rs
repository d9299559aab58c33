//! Retention: preview and prune. Pruning records `BackupPruned` first, then deletes the files
//! and records `BackupArtifactDeleted`; a deletion that fails stays visible and is retried by
//! the sweep.

use crate::core::Core;
use crate::error::AppError;
use crate::time::parse_time;
use backline_domain::retention::{prunable, Prunable, Version};
use backline_domain::{Backup, BackupCommand, BackupStatus, Database};
use backline_infra::storage::manifest_key;
use backline_projections::{BackupFilter, BackupView};
use chrono::Utc;
use std::sync::Arc;

fn finished(b: &BackupView) -> chrono::DateTime<Utc> {
    b.finished_at
        .as_deref()
        .or(Some(b.started_at.as_str()))
        .and_then(parse_time)
        .unwrap_or_else(Utc::now)
}

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrunePlan {
    pub database_id: String,
    /// The policy as recorded with each pruning.
    pub policy: String,
    /// Versions the policy lets go, and why.
    pub prune: Vec<PruneItem>,
    /// How many completed versions stay.
    pub kept: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PruneItem {
    pub id: String,
    pub finished_at: String,
    pub bytes: Option<u64>,
    pub reason: String,
}

#[derive(Clone)]
pub struct Retention {
    core: Arc<Core>,
}

impl Retention {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// What the retention policy of `reference` would prune now. Changes nothing.
    pub async fn preview(&self, reference: &str) -> Result<PrunePlan, AppError> {
        let core = &self.core;
        let view = core.resolve_database(reference).await?;
        let db = core
            .ledger
            .load::<Database>(&view.id)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(|| AppError::NotFound(format!("no database with id {}", view.id)))?;
        let backups = core
            .projections
            .all_backups(&BackupFilter {
                database_id: Some(view.id.clone()),
                ..Default::default()
            })
            .await?;
        let versions: Vec<Version> = backups
            .iter()
            .map(|b| Version {
                id: b.id.clone(),
                finished_at: finished(b),
                good: b.status == BackupStatus::Completed,
                pinned: b.pinned,
            })
            .collect();
        let gone: Vec<Prunable> = prunable(&versions, &db.retention, Utc::now());
        let good = versions.iter().filter(|v| v.good).count();
        let prune = gone
            .into_iter()
            .filter_map(|p| {
                backups.iter().find(|b| b.id == p.id).map(|b| PruneItem {
                    id: b.id.clone(),
                    finished_at: b.finished_at.clone().unwrap_or_default(),
                    bytes: b.bytes,
                    reason: p.reason,
                })
            })
            .collect::<Vec<_>>();
        Ok(PrunePlan {
            database_id: view.id,
            policy: db.retention.summary(),
            kept: good - prune.len(),
            prune,
        })
    }

    /// Applies the retention policy of `reference` (or just computes it with `dry_run`).
    pub async fn prune(
        &self,
        actor: &str,
        reference: &str,
        dry_run: bool,
    ) -> Result<PrunePlan, AppError> {
        let plan = self.preview(reference).await?;
        if dry_run {
            return Ok(plan);
        }
        for item in &plan.prune {
            let core = &self.core;
            let pruned = core
                .aggregates
                .backups
                .execute_with_metadata(
                    &item.id,
                    BackupCommand::Prune {
                        policy: plan.policy.clone(),
                        reason: item.reason.clone(),
                    },
                    core.meta(actor, &item.id),
                )
                .await;
            if let Err(e) = pruned {
                tracing::warn!(backup_id = item.id, error = %e, "not pruned");
                continue;
            }
            self.delete_files(actor, &item.id).await;
        }
        self.core.refresh().await;
        Ok(plan)
    }

    /// Deletes a pruned version's artifact and manifest, then records it.
    async fn delete_files(&self, actor: &str, backup_id: &str) {
        let core = &self.core;
        let Ok(Some(b)) = core.ledger.load::<Backup>(backup_id).await else {
            return;
        };
        let Some(a) = b.artifact else { return };
        let op = core.store.operator();
        let result = async {
            // A parallel backup's parts (the first is `a.key`).
            for part in &a.parts {
                op.delete(&part.key).await?;
            }
            op.delete(&a.key).await?;
            op.delete(&manifest_key(&a.key)).await
        }
        .await;
        match result {
            Ok(()) => {
                if let Err(e) = core
                    .aggregates
                    .backups
                    .execute_with_metadata(
                        backup_id,
                        BackupCommand::ConfirmDeleted,
                        core.meta(actor, backup_id),
                    )
                    .await
                {
                    tracing::warn!(backup_id, error = %e, "could not record the deletion");
                }
            }
            Err(e) => {
                tracing::warn!(backup_id, key = a.key, error = %e, "deleting a pruned version failed; the sweep will retry");
                // Recorded, so it is visible and alerts as a storage failure.
                let _ = core
                    .aggregates
                    .backups
                    .execute_with_metadata(
                        backup_id,
                        BackupCommand::RecordDeletionFailure {
                            error: format!("deleting {} failed: {e}", a.key),
                        },
                        core.meta(actor, backup_id),
                    )
                    .await;
            }
        }
    }

    /// Retention after a successful backup; failures are logged, never fatal.
    pub(crate) async fn apply_quietly(&self, database_id: &str) {
        if let Err(e) = self.prune("system:retention", database_id, false).await {
            tracing::warn!(database_id, error = %e, "retention failed");
        }
    }

    /// The periodic sweep: every database's policy, and deletions that failed before.
    pub(crate) async fn sweep(&self) {
        let Ok(dbs) = self.core.projections.databases(false).await else {
            return;
        };
        for d in dbs {
            self.apply_quietly(&d.id).await;
        }
        if let Ok(pending) = self
            .core
            .projections
            .all_backups(&BackupFilter {
                status: Some(BackupStatus::Pruned),
                ..Default::default()
            })
            .await
        {
            for b in pending.iter().filter(|b| !b.artifact_deleted) {
                self.delete_files("system:retention", &b.id).await;
            }
            self.core.refresh().await;
        }
    }
}
