//! A parallel backup (`backup_jobs` > 1, PostgreSQL): several `pg_dump` processes on one
//! exported snapshot (see `drivers::pg_parallel`), each part streamed through the pipeline
//! (zstd, sha256, age when configured, every destination) as its own object of ONE version,
//! whose manifest lists the parts. A failed or cancelled part stops them all, ends the
//! snapshot's transaction and removes every part already stored: no half version is left.

use super::encryption::encryption_for;
use super::run::{chosen_destinations, stored, write_manifests};
use crate::core::Core;
use backline_domain::backup::DatabaseFacts;
use backline_domain::manifest::MANIFEST_FORMAT;
use backline_domain::{
    parts_digest, ArtifactPart, BackupManifest, ConnectionString, ManifestEncryption, Stage,
    StoredArtifact,
};
use backline_infra::drivers::pg_parallel::{self, ParallelDump, PartSpec};
use backline_infra::drivers::{Probe, StageError};
use backline_infra::pipeline::{self, CopyOutcome, Counted};
use backline_infra::storage::{artifact_key, ArtifactStore};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Part objects stored so far, removed from every destination unless the version completed
/// (dropped on failure, and on cancel, when the whole run is dropped).
struct StoredParts {
    stores: Vec<ArtifactStore>,
    keys: Vec<String>,
    keep: bool,
}

impl Drop for StoredParts {
    fn drop(&mut self) {
        if self.keep || self.keys.is_empty() {
            return;
        }
        let (stores, keys) = (
            std::mem::take(&mut self.stores),
            std::mem::take(&mut self.keys),
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                for store in &stores {
                    remove_keys(store, &keys).await;
                }
            });
        }
    }
}

async fn remove_keys(store: &ArtifactStore, keys: &[String]) {
    for key in keys {
        if let Err(e) = store.operator().delete(key).await {
            tracing::warn!(storage = store.label(), key, error = %e, "could not remove a part of an unfinished backup");
        }
    }
}

pub(super) async fn run_parallel(
    core: &Core,
    backup_id: &str,
    db: &DatabaseFacts,
    conn: &ConnectionString,
    probe: &Probe,
    jobs: u32,
) -> Result<StoredArtifact, StageError> {
    let counter = core.coordination.running.track(backup_id);
    let now = chrono::Utc::now();
    let encrypted = encryption_for(core, db.name.as_str()).is_some();
    let (named, missing) = chosen_destinations(core, &db.id).await;
    if named.is_empty() {
        return Err(StageError::new(
            Stage::Upload,
            "none of this database's destinations is configured in this process",
        ));
    }
    let stores: Vec<&ArtifactStore> = named.iter().map(|(_, s)| *s).collect();
    let dump = pg_parallel::prepare(conn, jobs).await?;
    let ext = if encrypted {
        "pgdump.zst.age"
    } else {
        "pgdump.zst"
    };
    let key_of = |p: &PartSpec| {
        let ext = format!("{:02}-{}.{ext}", p.order, p.name);
        artifact_key(db.name.as_str(), &db.id, backup_id, now, &ext)
    };
    let mut stored_parts = StoredParts {
        stores: stores.iter().map(|s| (*s).clone()).collect(),
        keys: dump.parts.iter().map(key_of).collect(),
        keep: false,
    };
    tracing::info!(
        backup_id,
        parts = dump.parts.len(),
        jobs,
        "parallel dump started on one snapshot"
    );
    let uploads = dump.parts.iter().map(|part| {
        let key = key_of(part);
        upload_part(
            core,
            db,
            conn,
            probe,
            &dump,
            part,
            key,
            &stores,
            counter.clone(),
        )
    });
    // The first failure drops the other parts: their pg_dump is killed, their upload aborted.
    let parts = futures::future::try_join_all(uploads).await?;
    let outcomes = copy_outcomes(&parts);
    let properties = Some(dump.properties.clone());
    // Every part is stored: the snapshot's transaction ends.
    drop(dump);
    let version: Vec<ArtifactPart> = parts.iter().map(|(p, _)| p.clone()).collect();
    let recipients = encryption_for(core, db.name.as_str())
        .map(|(_, r)| r)
        .unwrap_or_default();
    let mut manifest = BackupManifest {
        format: MANIFEST_FORMAT.to_string(),
        backup_id: backup_id.to_string(),
        database_id: db.id.clone(),
        database_name: db.name.to_string(),
        engine: db.engine,
        connection: Some(conn.redacted()),
        tool: probe
            .dump_tool
            .file_name()
            .map(|f| f.to_string_lossy().into_owned()),
        tool_version: Some(probe.dump_tool_version.clone()),
        server_version: Some(probe.server_version.clone()),
        key: version[0].key.clone(),
        bytes: version.iter().map(|p| p.bytes).sum(),
        raw_bytes: version.iter().map(|p| p.raw_bytes).sum(),
        sha256: parts_digest(&version),
        compression: "zstd".into(),
        encrypted,
        encryption: encrypted.then_some(ManifestEncryption {
            scheme: "age".into(),
            recipients,
        }),
        created_at: now.to_rfc3339(),
        warnings: Vec::new(),
        database_properties: properties,
        parts: version,
        signature: None,
    };
    core.sign_manifest(&mut manifest);
    let uploaded = pipeline::Uploaded {
        bytes: manifest.bytes,
        raw_bytes: manifest.raw_bytes,
        sha256: manifest.sha256.clone(),
        copies: outcomes,
    };
    let copies = write_manifests(backup_id, &named, &missing, &uploaded, &manifest).await;
    // A copy missing a part holds no version: its parts go.
    for ((_, store), copy) in named.iter().zip(&copies) {
        if !copy.ok {
            remove_keys(store, &stored_parts.keys).await;
        }
    }
    let result = stored(copies, &uploaded, manifest);
    stored_parts.keep = result.is_ok();
    result
}

/// One part: its `pg_dump` on the snapshot, streamed through the pipeline to every store.
#[allow(clippy::too_many_arguments)]
async fn upload_part(
    core: &Core,
    db: &DatabaseFacts,
    conn: &ConnectionString,
    probe: &Probe,
    dump: &ParallelDump,
    part: &PartSpec,
    key: String,
    stores: &[&ArtifactStore],
    total: Arc<AtomicU64>,
) -> Result<(ArtifactPart, Vec<CopyOutcome>), StageError> {
    let mut tool = pg_parallel::spawn_part(conn, probe, dump, part)?;
    tracing::debug!(
        part = part.name,
        tables = part.tables,
        pid = tool.pid(),
        "part dump started"
    );
    let stdout = tool
        .stdout
        .take()
        .ok_or_else(|| StageError::new(Stage::Dump, "dump tool has no stdout"))?;
    let labels: Vec<&str> = stores.iter().map(|s| s.label()).collect();
    let uploaded = pipeline::upload(
        // The backup's progress counts every part's raw bytes.
        Counted::new(stdout, total),
        pipeline::Targets {
            stores: stores.to_vec(),
            encryptor: encryption_for(core, db.name.as_str()).map(|(e, _)| e),
        },
        &key,
        core.settings.zstd_level,
        Arc::new(AtomicU64::new(0)),
        async move { tool.finish(Stage::Dump).await.map(|_| ()) },
    )
    .await
    .map_err(|e| match e {
        pipeline::PipelineError::Tool(t) => StageError {
            message: format!("part {}: {}", part.name, t.message),
            ..t
        },
        pipeline::PipelineError::Source(e) => StageError::new(
            Stage::Dump,
            format!("reading the dump of part {} failed: {e}", part.name),
        ),
        other => StageError::new(
            Stage::Upload,
            format!(
                "part {}: {other} (storage {})",
                part.name,
                labels.join(", ")
            ),
        ),
    })?;
    Ok((
        ArtifactPart {
            name: part.name.clone(),
            role: part.role,
            order: part.order,
            key,
            bytes: uploaded.bytes,
            raw_bytes: uploaded.raw_bytes,
            sha256: uploaded.sha256,
        },
        uploaded.copies,
    ))
}

/// Per destination: committed only when every part was, else the first part's reason.
fn copy_outcomes(parts: &[(ArtifactPart, Vec<CopyOutcome>)]) -> Vec<CopyOutcome> {
    let Some((_, first)) = parts.first() else {
        return Vec::new();
    };
    (0..first.len())
        .map(|i| CopyOutcome {
            storage: first[i].storage.clone(),
            error: parts.iter().find_map(|(p, copies)| {
                copies
                    .get(i)
                    .and_then(|c| c.error.as_ref())
                    .map(|e| format!("part {}: {e}", p.name))
            }),
        })
        .collect()
}
