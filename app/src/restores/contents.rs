//! What a version holds (`GET /backups/{id}/contents`), read from its verified local copy (of
//! every part, for a multi-part version): PostgreSQL from `pg_restore -l` (with exact row
//! counts from one pass over the data), MySQL/MariaDB from the dump's table sections. Kept in
//! memory per version (versions never change).

use super::parts::{verified_parts, VerifiedParts};
use super::run::Source;
use super::{targets, Restores};
use crate::core::Core;
use crate::error::AppError;
use backline_domain::{Backup, BackupStatus, Engine, Stage};
use backline_infra::drivers::{self, pg_toc, StageError};
use backline_infra::local_copy::{LocalArtifact, LocalCopyError, StoredObject};
use serde::Serialize;
use std::sync::Arc;

/// A table of a version.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TableEntry {
    /// The name a partial restore takes: `schema.table` (PostgreSQL) or `table` (MySQL).
    pub name: String,
    pub schema: Option<String>,
    pub table: String,
    /// Rows in the version (PostgreSQL: counted exactly; MySQL: not counted).
    pub rows: Option<u64>,
}

/// Any other object of a version.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ObjectEntry {
    /// `VIEW`, `INDEX`, `FUNCTION`, `SEQUENCE`, `CONSTRAINT`, …
    pub kind: String,
    pub schema: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionContents {
    pub backup_id: String,
    /// `postgres` or `mysql`.
    pub engine: String,
    pub schemas: Vec<String>,
    pub tables: Vec<TableEntry>,
    pub objects: Vec<ObjectEntry>,
}

impl VersionContents {
    /// The table called `name` (as listed).
    pub fn table(&self, name: &str) -> Option<&TableEntry> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// The verified local copy of a version (removed when dropped): its one object, or every
/// part of a multi-part version.
pub(super) enum VersionCopy {
    One(LocalArtifact),
    Parts(VerifiedParts),
}

/// A verified local copy of `backup`'s artifact.
pub(super) async fn local_copy(
    core: &Core,
    backup: &Backup,
    name: &str,
) -> Result<VersionCopy, StageError> {
    let artifact = backup
        .artifact
        .as_ref()
        .ok_or_else(|| StageError::new(Stage::Prepare, "this version has no artifact"))?;
    let identity = if artifact.encrypted {
        Some(core.age_identity().ok_or_else(|| {
            StageError::new(
                Stage::Decrypt,
                "this version is age-encrypted but this server has no age identity",
            )
        })?)
    } else {
        None
    };
    let (store, copy) = targets::pick_copy(core, artifact, None).await?;
    if artifact.is_multipart() {
        let source = Source {
            store: &store,
            copy: &copy,
            artifact,
            identity,
            progress: Default::default(),
        };
        return verified_parts(core, name, source)
            .await
            .map(VersionCopy::Parts);
    }
    let object = StoredObject {
        store: &store,
        key: &copy.key,
        sha256: &copy.sha256,
        bytes: artifact.bytes,
    };
    let dir = core.settings.data_dir.join("restore-tmp");
    LocalArtifact::fetch(object, &dir, name, identity, Default::default())
        .await
        .map(VersionCopy::One)
        .map_err(|e| match e {
            LocalCopyError::Mismatch { .. } => StageError::new(Stage::Verify, e.to_string()),
            LocalCopyError::Download { .. } => StageError::new(Stage::Download, e.to_string()),
            _ => StageError::new(Stage::Prepare, e.to_string()),
        })
}

/// PostgreSQL: the listing of the version's archives in load order (a multi-part version
/// lists like the single-stream dump of the same database) and its exact row counts.
async fn read_postgres(
    core: &Core,
    backup_id: &str,
    source: drivers::Source<'_>,
) -> Result<VersionContents, StageError> {
    let probe = drivers::postgres::local_tools(&core.tools).await?;
    let toc = pg_toc::merged(&pg_toc::list_archives(&probe, source).await?);
    let rows = pg_toc::version_row_counts(&probe, source).await?;
    let mut schemas = Vec::new();
    let mut tables = Vec::new();
    let mut objects = Vec::new();
    for e in toc.iter().filter(|e| !e.kind.is_empty()) {
        match (e.kind.as_str(), &e.schema) {
            ("SCHEMA", None) => schemas.push(e.name.clone()),
            ("TABLE", Some(s)) => tables.push(TableEntry {
                name: format!("{s}.{}", e.name),
                schema: Some(s.clone()),
                table: e.name.clone(),
                rows: Some(rows.get(&(s.clone(), e.name.clone())).copied().unwrap_or(0)),
            }),
            ("TABLE DATA" | "SEQUENCE SET" | "ENCODING" | "STDSTRINGS" | "SEARCHPATH", _) => {}
            _ => objects.push(ObjectEntry {
                kind: e.kind.clone(),
                schema: e.schema.clone(),
                name: e.name.clone(),
            }),
        }
    }
    for t in &tables {
        if let Some(s) = &t.schema {
            if !schemas.contains(s) {
                schemas.push(s.clone());
            }
        }
    }
    Ok(VersionContents {
        backup_id: backup_id.to_string(),
        engine: Engine::Postgres.as_str().into(),
        schemas,
        tables,
        objects,
    })
}

async fn read_mysql(backup_id: &str, local: &LocalArtifact) -> Result<VersionContents, StageError> {
    let sections = drivers::mysql_tables::list(local).await?;
    let mut tables = Vec::new();
    let mut objects = Vec::new();
    for s in sections {
        if s.view {
            objects.push(ObjectEntry {
                kind: "VIEW".into(),
                schema: None,
                name: s.name,
            });
        } else {
            tables.push(TableEntry {
                name: s.name.clone(),
                schema: None,
                table: s.name,
                rows: None,
            });
        }
    }
    Ok(VersionContents {
        backup_id: backup_id.to_string(),
        engine: Engine::Mysql.as_str().into(),
        schemas: Vec::new(),
        tables,
        objects,
    })
}

impl Restores {
    /// What version `backup_id` holds.
    pub async fn contents(&self, backup_id: &str) -> Result<Arc<VersionContents>, AppError> {
        let core = &self.core;
        if let Some(c) = core
            .contents_cache
            .lock()
            .ok()
            .and_then(|m| m.get(backup_id).cloned())
        {
            return Ok(c);
        }
        let backup = core
            .ledger
            .load::<Backup>(backup_id)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(|| AppError::NotFound(format!("no backup with id {backup_id}")))?;
        if backup.status != BackupStatus::Completed {
            return Err(AppError::Conflict(format!(
                "backup {backup_id} is {:?}: only a completed version has contents",
                backup.status
            )));
        }
        let name = format!("contents-{}", uuid::Uuid::now_v7().simple());
        let unreadable = |e: StageError| {
            AppError::Unprocessable(format!(
                "the version's contents cannot be read: {} ({} stage)",
                e.message, e.stage
            ))
        };
        let copy = local_copy(core, &backup, &name).await.map_err(unreadable)?;
        let contents = match (backup.engine, &copy) {
            (Some(Engine::Postgres), VersionCopy::One(local)) => {
                read_postgres(core, backup_id, drivers::Source::One(local)).await
            }
            (Some(Engine::Postgres), VersionCopy::Parts(parts)) => match parts.feeds() {
                Ok(feeds) => read_postgres(core, backup_id, drivers::Source::Parts(&feeds)).await,
                Err(e) => Err(e),
            },
            (Some(Engine::Mysql), VersionCopy::One(local)) => read_mysql(backup_id, local).await,
            (Some(Engine::Mysql), VersionCopy::Parts(_)) => Err(StageError::new(
                Stage::Prepare,
                "a multi-part version is a parallel PostgreSQL backup, not a MySQL/MariaDB one",
            )),
            (None, _) => return Err(AppError::bug("completed backup without engine")),
        }
        .map_err(unreadable)?;
        let contents = Arc::new(contents);
        if let Ok(mut m) = core.contents_cache.lock() {
            if m.len() >= 64 {
                m.clear();
            }
            m.insert(backup_id.to_string(), contents.clone());
        }
        Ok(contents)
    }
}
