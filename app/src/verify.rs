//! `backline verify`: re-read stored artifacts and record what was found.

use crate::core::Core;
use crate::error::{backup_error, from_aggregate, AppError};
use backline_domain::{Backup, BackupCommand, BackupStatus};
use backline_infra::pipeline;
use backline_projections::BackupFilter;
use std::sync::Arc;

/// What re-reading one backup's copies found.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Verification {
    pub backup_id: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Clone)]
pub struct Verify {
    core: Arc<Core>,
}

impl Verify {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Verifies one backup, or every completed one (`backup: None`), oldest last.
    pub async fn verify(
        &self,
        actor: &str,
        backup: Option<&str>,
    ) -> Result<Vec<Verification>, AppError> {
        let ids: Vec<String> = match backup {
            Some(id) => vec![id.to_string()],
            None => self
                .core
                .projections
                .all_backups(&BackupFilter {
                    status: Some(BackupStatus::Completed),
                    ..Default::default()
                })
                .await?
                .into_iter()
                .map(|b| b.id)
                .collect(),
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.verify_backup(actor, &id).await?);
        }
        Ok(out)
    }

    /// Reads every healthy copy of a completed backup end to end: the sha256 of the stored
    /// bytes must match, and the artifact must decrypt (when this server holds the key) and
    /// decompress to the recorded raw size. Records `BackupVerified`.
    pub async fn verify_backup(&self, actor: &str, id: &str) -> Result<Verification, AppError> {
        let core = &self.core;
        let backup = core
            .ledger
            .load::<Backup>(id)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(|| AppError::NotFound(format!("no backup with id {id}")))?;
        let artifact = match (&backup.status, &backup.artifact) {
            (BackupStatus::Completed, Some(a)) if !backup.artifact_deleted => a.clone(),
            (status, _) => {
                return Err(AppError::Conflict(format!(
                    "backup {id} is {status:?}: only completed versions with their files can be verified"
                )))
            }
        };
        let identity = if artifact.encrypted {
            core.age_identity()
        } else {
            None
        };
        let mut ok = true;
        let mut checked = 0;
        let mut parts = Vec::new();
        for copy in artifact.healthy_copies() {
            let Some(store) = core.store_of(&copy) else {
                parts.push(format!(
                    "{} ({}): not configured here, not checked",
                    copy.name, copy.storage
                ));
                continue;
            };
            checked += 1;
            let result = if artifact.encrypted && identity.is_none() {
                pipeline::checksum(store, &copy.key)
                    .await
                    .map(|(sha, bytes)| (sha, bytes, None))
            } else {
                pipeline::download_decrypting(
                    store,
                    &copy.key,
                    &copy.sha256,
                    identity.as_ref(),
                    &mut tokio::io::sink(),
                    Default::default(),
                )
                .await
                .map(|d| (d.sha256, d.bytes, Some(d.raw_bytes)))
            };
            let line = match result {
                Ok((sha, bytes, _)) if sha != copy.sha256 => {
                    ok = false;
                    format!(
                        "{}: sha256 mismatch: recorded {}, stored object has {sha} ({bytes} bytes)",
                        copy.storage, copy.sha256
                    )
                }
                Ok((_, bytes, Some(raw))) if raw != artifact.raw_bytes => {
                    ok = false;
                    format!(
                        "{}: sha256 ok ({bytes} bytes) but it unpacks to {raw} bytes, not the {} recorded",
                        copy.storage, artifact.raw_bytes
                    )
                }
                Ok((_, bytes, Some(raw))) => format!(
                    "{}: sha256 ok ({bytes} bytes); {}decompressed to {raw} bytes",
                    copy.storage,
                    if artifact.encrypted {
                        "decrypted and "
                    } else {
                        ""
                    }
                ),
                Ok((_, bytes, None)) => format!(
                    "{}: sha256 ok ({bytes} bytes); not decrypted: this server has no age identity",
                    copy.storage
                ),
                Err(e) => {
                    ok = false;
                    format!("{}: {e}", copy.storage)
                }
            };
            parts.push(line);
        }
        if checked == 0 {
            ok = false;
        }
        let detail = parts.join("; ");
        core.aggregates
            .backups
            .execute_with_metadata(
                id,
                BackupCommand::Verify {
                    ok,
                    detail: detail.clone(),
                    storage: None,
                },
                core.meta(actor, id),
            )
            .await
            .map_err(|e| from_aggregate(e, backup_error))?;
        core.refresh().await;
        if !ok {
            tracing::warn!(backup_id = id, detail, "backup failed verification");
        }
        Ok(Verification {
            backup_id: id.to_string(),
            ok,
            detail,
        })
    }
}
