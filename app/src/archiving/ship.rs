//! Complete segments leave the spool through the pipeline (zstd, optional age, sha256, every
//! destination) as `<database>/wal/<timeline>/<segment>.zst[.age]`, are recorded in one
//! `WalArchived` batch, and only then are removed from the spool.

use super::archive_error;
use crate::backups::destinations::destinations_of;
use crate::backups::encryption::encryption_for;
use crate::core::Core;
use crate::error::{from_aggregate, AppError};
use backline_domain::archive::MAX_BATCH;
use backline_domain::{ArchiveCommand, Database, WalSegment};
use backline_infra::pipeline;
use backline_infra::storage::ArtifactStore;
use std::path::Path;

/// Where the WAL of database `name`/`id` lies in storage: `<name>-<id>/wal/`.
pub(crate) fn wal_prefix(name: &str, id: &str) -> String {
    format!("{name}-{id}/wal/")
}

/// The complete segments in `spool` (24 hexadecimal digits, no `.partial`), oldest first.
fn complete_segments(spool: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(spool)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.len() == 24 && n.bytes().all(|b| b.is_ascii_hexdigit()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Ships what is complete in `spool`; returns how many segments were archived.
pub(crate) async fn ship(core: &Core, database_id: &str, spool: &Path) -> Result<usize, AppError> {
    let mut names = complete_segments(spool);
    if names.is_empty() {
        return Ok(0);
    }
    // Streamed again after a restart (the slot resumes at its last confirmed position): the
    // recorded copy stays as it is (an encrypted copy would not even be the same bytes).
    let archive = super::Archiving::load(core, database_id).await?;
    names.retain(|n| {
        let known = archive.segments.contains_key(n);
        if known {
            let _ = std::fs::remove_file(spool.join(n));
        }
        !known
    });
    if names.is_empty() {
        return Ok(0);
    }
    let db = core
        .ledger
        .load::<Database>(database_id)
        .await
        .map_err(AppError::internal)?
        .unwrap_or_default();
    let db_name = db.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
    let named: Vec<(String, &ArtifactStore)> = destinations_of(core, &db)
        .into_iter()
        .filter_map(|(n, s)| s.map(|s| (n, s)))
        .collect();
    if named.is_empty() {
        return Err(AppError::bug(
            "no destination of this database is configured here",
        ));
    }
    let mut batch: Vec<WalSegment> = Vec::new();
    let mut timeline = 0;
    for name in names.iter().take(MAX_BATCH) {
        let tl = u32::from_str_radix(&name[..8], 16).unwrap_or(1);
        if !batch.is_empty() && tl != timeline {
            break;
        }
        timeline = tl;
        let path = spool.join(name);
        let completed_at = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .map(chrono::DateTime::<chrono::Utc>::from)
            .unwrap_or_else(|_| chrono::Utc::now());
        let encryption = encryption_for(core, &db_name);
        let encrypted = encryption.is_some();
        let key = format!(
            "{}{:08X}/{name}.zst{}",
            wal_prefix(&db_name, database_id),
            tl,
            if encrypted { ".age" } else { "" }
        );
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(AppError::internal)?;
        let uploaded = pipeline::upload(
            file,
            pipeline::Targets {
                stores: named.iter().map(|(_, s)| *s).collect(),
                encryptor: encryption.map(|(e, _)| e),
            },
            &key,
            core.settings.zstd_level,
            Default::default(),
            async { Ok(()) },
        )
        .await
        .map_err(AppError::internal)?;
        let storages: Vec<String> = named
            .iter()
            .zip(&uploaded.copies)
            .filter(|(_, c)| c.error.is_none())
            .map(|((n, _), _)| n.clone())
            .collect();
        batch.push(WalSegment {
            name: name.clone(),
            key,
            bytes: uploaded.bytes,
            sha256: uploaded.sha256,
            encrypted,
            storages,
            completed_at,
        });
    }
    let n = batch.len();
    let shipped: Vec<String> = batch.iter().map(|s| s.name.clone()).collect();
    core.aggregates
        .archives
        .execute_with_metadata(
            database_id,
            ArchiveCommand::Record {
                timeline,
                segments: batch,
            },
            core.meta("archiver", database_id),
        )
        .await
        .map_err(|e| from_aggregate(e, archive_error))?;
    for name in shipped {
        if let Err(e) = std::fs::remove_file(spool.join(&name)) {
            tracing::warn!(segment = name, error = %e, "could not remove an archived segment from the spool");
        }
    }
    Ok(n)
}
