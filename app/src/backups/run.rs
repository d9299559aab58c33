//! One backup through the pipeline: the dump tool's output, compressed (and encrypted when
//! configured), streamed to every destination at once, with a manifest beside each copy.

use super::destinations::destinations_of;
use super::encryption::encryption_for;
use crate::core::Core;
use backline_domain::backup::DatabaseFacts;
use backline_domain::manifest::MANIFEST_FORMAT;
use backline_domain::{
    ArtifactCopy, BackupManifest, ConnectionString, Database, Engine, ManifestEncryption, Stage,
    StoredArtifact,
};
use backline_infra::drivers::{self, Probe, StageError};
use backline_infra::pipeline;
use backline_infra::storage::{artifact_key, manifest_key, ArtifactStore};

pub(super) async fn run_backup(
    core: &Core,
    backup_id: &str,
    db: &DatabaseFacts,
    conn: &ConnectionString,
    probe: &Probe,
) -> Result<StoredArtifact, StageError> {
    let jobs = match core.ledger.load::<Database>(&db.id).await {
        Ok(Some(d)) => d.backup_jobs(),
        _ => 1,
    };
    if jobs > 1 && db.engine == Engine::Postgres {
        return super::parallel::run_parallel(core, backup_id, db, conn, probe, jobs).await;
    }
    let counter = core.coordination.running.track(backup_id);
    let now = chrono::Utc::now();
    let encryption = encryption_for(core, db.name.as_str());
    let encrypted = encryption.is_some();
    let ext = if encrypted {
        format!("{}.zst.age", db.engine.artifact_ext())
    } else {
        format!("{}.zst", db.engine.artifact_ext())
    };
    let key = artifact_key(db.name.as_str(), &db.id, backup_id, now, &ext);
    let (encryptor, recipients) = match encryption {
        Some((e, r)) => (Some(e), r),
        None => (None, Vec::new()),
    };
    let mut tool = drivers::spawn_dump(conn, probe).await?;
    let warnings = std::mem::take(&mut tool.warnings);
    let database_properties = tool.properties.take();
    for w in &warnings {
        tracing::warn!(backup_id, warning = %w, "the backup will not keep everything exactly");
    }
    tracing::info!(backup_id, pid = tool.pid(), tool = %probe.dump_tool.display(), "dump started");
    let stdout = tool
        .stdout
        .take()
        .ok_or_else(|| StageError::new(Stage::Dump, "dump tool has no stdout"))?;
    let stdout = tokio::io::AsyncReadExt::chain(
        std::io::Cursor::new(std::mem::take(&mut tool.prelude)),
        stdout,
    );
    let (named, missing) = chosen_destinations(core, &db.id).await;
    if named.is_empty() {
        return Err(StageError::new(
            Stage::Upload,
            "none of this database's destinations is configured in this process",
        ));
    }
    let destinations: Vec<&ArtifactStore> = named.iter().map(|(_, s)| *s).collect();
    let labels: Vec<&str> = destinations.iter().map(|s| s.label()).collect();
    let uploaded = pipeline::upload(
        stdout,
        pipeline::Targets {
            stores: destinations.clone(),
            encryptor,
        },
        &key,
        core.settings.zstd_level,
        counter,
        async move { tool.finish(Stage::Dump).await.map(|_| ()) },
    )
    .await
    .map_err(|e| match e {
        pipeline::PipelineError::Tool(t) => t,
        pipeline::PipelineError::Source(e) => {
            StageError::new(Stage::Dump, format!("reading the dump failed: {e}"))
        }
        other => StageError::new(
            Stage::Upload,
            format!("{other} (storage {})", labels.join(", ")),
        ),
    })?;
    let mut manifest = BackupManifest {
        format: MANIFEST_FORMAT.to_string(),
        backup_id: backup_id.to_string(),
        database_id: db.id.clone(),
        database_name: db.name.to_string(),
        engine: db.engine,
        // Where it came from, without the password: `backline import` registers from this.
        connection: Some(conn.redacted()),
        tool: probe
            .dump_tool
            .file_name()
            .map(|f| f.to_string_lossy().into_owned()),
        tool_version: Some(probe.dump_tool_version.clone()),
        server_version: Some(probe.server_version.clone()),
        key: key.clone(),
        bytes: uploaded.bytes,
        raw_bytes: uploaded.raw_bytes,
        sha256: uploaded.sha256.clone(),
        compression: "zstd".into(),
        encrypted,
        encryption: encrypted.then_some(ManifestEncryption {
            scheme: "age".into(),
            recipients,
        }),
        created_at: now.to_rfc3339(),
        warnings,
        database_properties,
        parts: Vec::new(),
        signature: None,
    };
    core.sign_manifest(&mut manifest);
    let copies = write_manifests(backup_id, &named, &missing, &uploaded, &manifest).await;
    stored(copies, &uploaded, manifest)
}

/// What the version records: the first healthy copy, every copy when there are several.
pub(super) fn stored(
    copies: Vec<ArtifactCopy>,
    uploaded: &pipeline::Uploaded,
    manifest: BackupManifest,
) -> Result<StoredArtifact, StageError> {
    let Some(first) = copies.iter().find(|c| c.ok).cloned() else {
        let reasons: Vec<String> = copies
            .iter()
            .map(|c| format!("{}: {}", c.storage, c.error.as_deref().unwrap_or("?")))
            .collect();
        return Err(StageError::new(
            Stage::Manifest,
            format!("no copy could be completed: {}", reasons.join("; ")),
        ));
    };
    Ok(StoredArtifact {
        storage: first.storage,
        key: manifest.key,
        bytes: uploaded.bytes,
        raw_bytes: uploaded.raw_bytes,
        sha256: uploaded.sha256.clone(),
        compression: "zstd".into(),
        encrypted: manifest.encrypted,
        // The default storage alone keeps the event as it always was.
        copies: if copies.len() == 1 && copies[0].name == "default" {
            Vec::new()
        } else {
            copies
        },
        warnings: manifest.warnings,
        database_properties: manifest.database_properties,
        parts: manifest.parts,
    })
}

/// The storages a backup of database `id` goes to, configured here or not (a chosen storage
/// that is not configured here is a failed copy, not a silent skip).
pub(super) async fn chosen_destinations<'a>(
    core: &'a Core,
    id: &str,
) -> (
    Vec<(String, &'a ArtifactStore)>,
    Vec<(String, Option<&'a ArtifactStore>)>,
) {
    let chosen = match core.ledger.load::<Database>(id).await {
        Ok(Some(d)) => destinations_of(core, &d),
        _ => destinations_of(core, &Database::default()),
    };
    let (named, missing): (Vec<_>, Vec<_>) = chosen.into_iter().partition(|(_, s)| s.is_some());
    let named = named
        .into_iter()
        .filter_map(|(n, s)| s.map(|s| (n, s)))
        .collect();
    (named, missing)
}

/// Every committed copy gets its manifest beside it; a copy whose manifest cannot be written
/// is removed and counts as failed. Destinations not configured here are failed copies.
pub(super) async fn write_manifests(
    backup_id: &str,
    named: &[(String, &ArtifactStore)],
    missing: &[(String, Option<&ArtifactStore>)],
    uploaded: &pipeline::Uploaded,
    manifest: &BackupManifest,
) -> Vec<ArtifactCopy> {
    let key = &manifest.key;
    let bytes = manifest.to_bytes();
    let mut copies = Vec::with_capacity(named.len() + missing.len());
    for ((name, store), outcome) in named.iter().zip(&uploaded.copies) {
        let mut error = outcome.error.clone();
        if error.is_none() {
            if let Err(e) = store.put(&manifest_key(key), bytes.clone()).await {
                let _ = store.operator().delete(key).await;
                for part in &manifest.parts {
                    let _ = store.operator().delete(&part.key).await;
                }
                error = Some(format!("writing the manifest failed: {e}"));
            }
        }
        if let Some(e) = &error {
            tracing::warn!(backup_id, storage = store.label(), error = %e, "a copy of the backup failed");
        }
        copies.push(ArtifactCopy {
            name: name.clone(),
            storage: store.label().to_string(),
            key: key.clone(),
            sha256: uploaded.sha256.clone(),
            ok: error.is_none(),
            error,
        });
    }
    for (name, _) in missing {
        copies.push(ArtifactCopy {
            name: name.clone(),
            storage: format!("(storage {name})"),
            key: key.clone(),
            sha256: uploaded.sha256.clone(),
            ok: false,
            error: Some(format!(
                "storage {name:?} is not configured in this process"
            )),
        });
    }
    copies
}
