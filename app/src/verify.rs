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
            // A parallel backup's copy is its parts: each is read and checked.
            let objects: Vec<Object> = if artifact.is_multipart() {
                let mut ps = artifact.parts.clone();
                ps.sort_by_key(|p| p.order);
                ps.into_iter()
                    .map(|p| Object {
                        label: format!("{} part {}", copy.storage, p.name),
                        key: p.key,
                        sha256: p.sha256,
                        raw_bytes: p.raw_bytes,
                    })
                    .collect()
            } else {
                vec![Object {
                    label: copy.storage.clone(),
                    key: copy.key.clone(),
                    sha256: copy.sha256.clone(),
                    raw_bytes: artifact.raw_bytes,
                }]
            };
            for object in objects {
                let (good, line) =
                    check_object(store, &object, artifact.encrypted, identity.as_ref()).await;
                ok &= good;
                parts.push(line);
            }
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

/// One stored object to re-read.
struct Object {
    label: String,
    key: String,
    sha256: String,
    raw_bytes: u64,
}

/// Reads `object` end to end; whether it is sound, and what was found.
async fn check_object(
    store: &backline_infra::storage::ArtifactStore,
    object: &Object,
    encrypted: bool,
    identity: Option<&backline_infra::encryption::age::x25519::Identity>,
) -> (bool, String) {
    let label = &object.label;
    let result = if encrypted && identity.is_none() {
        pipeline::checksum(store, &object.key)
            .await
            .map(|(sha, bytes)| (sha, bytes, None))
    } else {
        pipeline::download_decrypting(
            store,
            &object.key,
            &object.sha256,
            identity,
            &mut tokio::io::sink(),
            Default::default(),
        )
        .await
        .map(|d| (d.sha256, d.bytes, Some(d.raw_bytes)))
    };
    match result {
        Ok((sha, bytes, _)) if sha != object.sha256 => (
            false,
            format!(
                "{label}: sha256 mismatch: recorded {}, stored object has {sha} ({bytes} bytes)",
                object.sha256
            ),
        ),
        Ok((_, bytes, Some(raw))) if raw != object.raw_bytes => (
            false,
            format!(
                "{label}: sha256 ok ({bytes} bytes) but it unpacks to {raw} bytes, not the {} recorded",
                object.raw_bytes
            ),
        ),
        Ok((_, bytes, Some(raw))) => (
            true,
            format!(
                "{label}: sha256 ok ({bytes} bytes); {}decompressed to {raw} bytes",
                if encrypted { "decrypted and " } else { "" }
            ),
        ),
        Ok((_, bytes, None)) => (
            true,
            format!(
                "{label}: sha256 ok ({bytes} bytes); not decrypted: this server has no age identity"
            ),
        ),
        Err(e) => (false, format!("{label}: {e}")),
    }
}
