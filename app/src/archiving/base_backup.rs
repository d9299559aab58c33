//! Base backups: `pg_basebackup` of the archived server as one tar stream on stdout, through
//! the pipeline (zstd, optional age, sha256, every destination; no temporary file), recorded
//! with its start and stop LSN and time.

use super::Archiving;
use crate::backups::destinations::destinations_of;
use crate::backups::encryption::encryption_for;
use crate::backups::Started;
use crate::core::Core;
use crate::error::{from_aggregate, AppError};
use backline_domain::{
    ArtifactCopy, BackupLsns, BaseBackup, BaseBackupCommand, BaseBackupStatus, Database, Stage,
    StoredArtifact,
};
use backline_infra::drivers::{pg_archive, StageError};
use backline_infra::pipeline;
use backline_infra::storage::ArtifactStore;
use std::sync::Arc;
use std::time::Instant;

/// One base backup as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BaseBackupView {
    pub id: String,
    pub database_id: String,
    /// `running`, `completed`, `failed` or `pruned` (by the archive's retention).
    pub status: String,
    pub trigger: String,
    pub timeline: Option<u32>,
    pub start_lsn: Option<String>,
    pub stop_lsn: Option<String>,
    pub started_at: Option<String>,
    pub stopped_at: Option<String>,
    pub bytes: Option<u64>,
    pub sha256: Option<String>,
    pub key: Option<String>,
    pub duration_ms: Option<u64>,
    pub error: Option<String>,
}

impl BaseBackupView {
    pub(crate) fn of(id: &str, b: &BaseBackup) -> Self {
        Self {
            id: id.to_string(),
            database_id: b.database_id.clone().unwrap_or_default(),
            status: b.status.as_str().to_string(),
            trigger: b.trigger.clone().unwrap_or_default(),
            timeline: b.lsns.as_ref().map(|l| l.timeline),
            start_lsn: b.lsns.as_ref().map(|l| l.start_lsn.to_string()),
            stop_lsn: b.lsns.as_ref().map(|l| l.stop_lsn.to_string()),
            started_at: b.started_at.map(|t| t.to_rfc3339()),
            stopped_at: b.stopped_at.map(|t| t.to_rfc3339()),
            bytes: b.artifact.as_ref().map(|a| a.bytes),
            sha256: b.artifact.as_ref().map(|a| a.sha256.clone()),
            key: b.artifact.as_ref().map(|a| a.key.clone()),
            duration_ms: b.duration_ms,
            error: b
                .failure
                .as_ref()
                .map(|f| format!("{}: {}", f.stage, f.message)),
        }
    }
}

pub(crate) fn base_error(e: &backline_domain::BaseBackupError) -> AppError {
    AppError::Conflict(e.to_string())
}

impl Archiving {
    /// Takes a base backup of database `reference`'s archived server now.
    pub async fn base_backup_now(&self, actor: &str, reference: &str) -> Result<Started, AppError> {
        let id = self.core.resolve_database(reference).await?.id;
        start(self.core.clone(), actor, &id, "manual").await
    }

    pub async fn base_backup(&self, id: &str) -> Result<BaseBackupView, AppError> {
        let b = self
            .core
            .ledger
            .load::<BaseBackup>(id)
            .await
            .map_err(AppError::internal)?
            .filter(|b| b.status != BaseBackupStatus::New)
            .ok_or_else(|| AppError::NotFound(format!("no base backup with id {id}")))?;
        Ok(BaseBackupView::of(id, &b))
    }
}

/// Records `BaseBackupStarted` and runs the backup in the background.
pub(crate) async fn start(
    core: Arc<Core>,
    actor: &str,
    database_id: &str,
    trigger: &str,
) -> Result<Started, AppError> {
    // The server's archive (a database that joined one backs up through it).
    let archive = Archiving::archive_of(&core, database_id).await?;
    let (database_id, archive) = match &archive {
        Some((id, a)) => (id.as_str(), a.clone()),
        None => (database_id, Default::default()),
    };
    if !archive.enabled {
        return Err(AppError::Unprocessable(
            "enable WAL archiving first (POST /api/v1/databases/{id}/archiving): a base backup is only useful with the WAL after it".into(),
        ));
    }
    let id = uuid::Uuid::now_v7().to_string();
    core.aggregates
        .base_backups
        .execute_with_metadata(
            &id,
            BaseBackupCommand::Start {
                database_id: database_id.to_string(),
                trigger: trigger.to_string(),
                node: core.node.clone(),
            },
            core.meta(actor, &id),
        )
        .await
        .map_err(|e| from_aggregate(e, base_error))?;
    core.refresh().await;
    let (actor, bb, db) = (actor.to_string(), id.clone(), database_id.to_string());
    let done = tokio::spawn(async move {
        let started = Instant::now();
        let started_at = chrono::Utc::now();
        let command = match run(&core, &bb, &db).await {
            Ok((artifact, lsns)) => BaseBackupCommand::Complete {
                artifact,
                lsns,
                started_at,
                stopped_at: chrono::Utc::now(),
                duration_ms: started.elapsed().as_millis() as u64,
            },
            Err(e) => {
                tracing::warn!(base_backup = bb, error = %e, "base backup failed");
                BaseBackupCommand::Fail {
                    failure: e.into_failure(),
                    duration_ms: started.elapsed().as_millis() as u64,
                }
            }
        };
        let completed = matches!(command, BaseBackupCommand::Complete { .. });
        if let Err(e) = core
            .aggregates
            .base_backups
            .execute_with_metadata(&bb, command, core.meta(&actor, &bb))
            .await
        {
            tracing::error!(base_backup = bb, error = %e, "could not record the end of a base backup");
        }
        core.refresh().await;
        if completed {
            super::retention::apply_quietly(&core, &db).await;
        }
    });
    Ok(Started { id, done })
}

async fn run(
    core: &Core,
    id: &str,
    database_id: &str,
) -> Result<(StoredArtifact, BackupLsns), StageError> {
    let archive = Archiving::load(core, database_id)
        .await
        .map_err(|e| StageError::new(Stage::Prepare, e.to_string()))?;
    let major = archive
        .server
        .as_ref()
        .map(|s| s.server_major)
        .unwrap_or_default();
    let db = core
        .ledger
        .load::<Database>(database_id)
        .await
        .map_err(|e| StageError::new(Stage::Prepare, e.to_string()))?
        .unwrap_or_default();
    let conn = Archiving::conn_of(core, database_id, &archive)
        .await
        .ok_or_else(|| {
            StageError::new(
                Stage::Prepare,
                "no database of the archived server is registered any more",
            )
        })?;
    // Through the database's SSH bastion when it has one: the tunnel lives as long as `conn`,
    // until pg_basebackup has ended.
    let conn = crate::tunnels::reach(core, &conn).await?;
    let tool = pg_archive::exact_tool("pg_basebackup", &core.tools, major).await?;
    let name = db.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
    let encryption = encryption_for(core, &name);
    let encrypted = encryption.is_some();
    let key = format!(
        "{name}-{database_id}/base/{}/{id}.tar.zst{}",
        chrono::Utc::now().format("%Y/%m"),
        if encrypted { ".age" } else { "" }
    );
    let named = stores(core, &db);
    let mut proc = pg_archive::spawn_basebackup(&conn, &tool)?;
    let stdout = proc
        .stdout
        .take()
        .ok_or_else(|| StageError::new(Stage::Dump, "pg_basebackup has no stdout"))?;
    let (stdout, tail) = pg_archive::KeepTail::new(stdout);
    let uploaded = pipeline::upload(
        stdout,
        pipeline::Targets {
            stores: named.iter().map(|(_, s)| *s).collect(),
            encryptor: encryption.map(|(e, _)| e),
        },
        &key,
        core.settings.zstd_level,
        core.coordination.running.track(id),
        async move { proc.finish(Stage::Dump).await.map(|_| ()) },
    )
    .await
    .map_err(|e| match e {
        pipeline::PipelineError::Tool(t) => t,
        other => StageError::new(Stage::Upload, other.to_string()),
    })?;
    core.coordination.running.untrack(id);
    let end = tail.lock().map(|t| t.clone()).unwrap_or_default();
    let (start_lsn, timeline, stop_lsn) =
        pg_archive::parse_manifest_wal_range(&end).ok_or_else(|| {
            StageError::new(
                Stage::Dump,
                "the base backup's manifest (its last entry) has no WAL range",
            )
        })?;
    let copies: Vec<ArtifactCopy> = named
        .iter()
        .zip(&uploaded.copies)
        .map(|((n, s), c)| ArtifactCopy {
            name: n.clone(),
            storage: s.label().to_string(),
            key: key.clone(),
            sha256: uploaded.sha256.clone(),
            ok: c.error.is_none(),
            error: c.error.clone(),
        })
        .collect();
    let first = copies
        .iter()
        .find(|c| c.ok)
        .ok_or_else(|| StageError::new(Stage::Upload, "no copy of the base backup was stored"))?;
    Ok((
        StoredArtifact {
            storage: first.storage.clone(),
            key: key.clone(),
            bytes: uploaded.bytes,
            raw_bytes: uploaded.raw_bytes,
            sha256: uploaded.sha256.clone(),
            compression: "zstd".into(),
            encrypted,
            copies,
            warnings: Vec::new(),
            database_properties: None,
            parts: Vec::new(),
        },
        BackupLsns {
            timeline,
            start_lsn,
            stop_lsn,
        },
    ))
}

fn stores<'a>(core: &'a Core, db: &Database) -> Vec<(String, &'a ArtifactStore)> {
    destinations_of(core, db)
        .into_iter()
        .filter_map(|(n, s)| s.map(|s| (n, s)))
        .collect()
}
