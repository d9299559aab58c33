//! A point-in-time restore running: the base backup's verified local copy unpacked into a
//! private temporary cluster, the WAL it needs fetched and verified (sha256) into the
//! directory its `restore_command` reads, replay to the target and promotion, then the one
//! database copied across with the logical path (pg_dump of the temporary cluster, a verified
//! local copy of that dump, the usual restore into a scratch database and swap). The temporary
//! cluster is stopped and removed however it ends; the target changes only in the final swap.

use super::pitr::PitrPlan;
use crate::core::Core;
use backline_domain::{RestoreCommand, Stage};
use backline_infra::claims::Kind;
use backline_infra::drivers::pg_temp_cluster::{RecoveryTarget, TempCluster};
use backline_infra::drivers::{self, RestoreOptions, RestoreOutcome, StageError};
use backline_infra::local_copy::{LocalArtifact, StoredObject};
use backline_infra::pipeline;
use backline_infra::storage::ArtifactStore;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How long replay may take before the restore gives up.
const REPLAY_LIMIT: Duration = Duration::from_secs(6 * 3600);

/// Where temporary clusters live: `BACKLINE_PITR_DIR`, else the system's temporary directory
/// (it must be reachable by the `postgres` OS user when Backline runs as root).
fn pitr_dir() -> PathBuf {
    std::env::var_os("BACKLINE_PITR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

pub(super) fn spawn(core: Arc<Core>, actor: &str, id: &str, plan: PitrPlan) -> JoinHandle<()> {
    let (actor, id) = (actor.to_string(), id.to_string());
    let lease = core
        .coordination
        .hold_lease(&id, &core.node, core.settings.lease_ttl());
    tokio::spawn(async move {
        let started = Instant::now();
        let result = run(&core, &actor, &id, &plan).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let command = match result {
            Ok(o) => RestoreCommand::Complete {
                duration_ms,
                previous_kept_as: o.previous_kept_as,
                warnings: o.warnings,
            },
            Err(e) => {
                tracing::warn!(restore_id = id, stage = %e.stage, message = %e.message, "point-in-time restore failed");
                RestoreCommand::Fail {
                    failure: e.into_failure(),
                    duration_ms,
                }
            }
        };
        if let Err(e) = core
            .aggregates
            .restores
            .execute_with_metadata(&id, command, core.meta(&actor, &id))
            .await
        {
            tracing::error!(restore_id = id, error = %e, "could not record the end of a restore");
        }
        lease.abort();
        core.coordination.end_lease(&id).await;
        core.coordination.running.untrack(&id);
        core.coordination
            .release(Kind::Restore, &plan.target_id, &id)
            .await;
        core.refresh().await;
    })
}

async fn progress(core: &Core, actor: &str, id: &str, step: &str, detail: String) {
    tracing::info!(restore_id = id, step, detail, "point-in-time restore");
    let _ = core
        .aggregates
        .restores
        .execute_with_metadata(
            id,
            RestoreCommand::Progress {
                step: step.to_string(),
                detail,
            },
            core.meta(actor, id),
        )
        .await;
    core.refresh().await;
}

/// The first configured store holding a copy named in `names` (else the default store).
fn store_for<'a>(core: &'a Core, names: &[String]) -> &'a ArtifactStore {
    names
        .iter()
        .find_map(|n| core.storage_named(n))
        .unwrap_or(&core.store)
}

async fn run(
    core: &Core,
    actor: &str,
    id: &str,
    plan: &PitrPlan,
) -> Result<RestoreOutcome, StageError> {
    let artifact = plan
        .base
        .backup
        .artifact
        .as_ref()
        .ok_or_else(|| StageError::new(Stage::Prepare, "the base backup has no artifact"))?;
    let identity = core.age_identity();
    if artifact.encrypted && identity.is_none() {
        return Err(StageError::new(Stage::Decrypt, "the base backup is age-encrypted but this server has no age identity (BACKLINE_AGE_IDENTITY_FILE)"));
    }
    let progress_bytes = core.coordination.running.track(id);
    let mut cluster = TempCluster::create(&pitr_dir(), &format!("backline-pitr-{id}"))?;
    progress(
        core,
        actor,
        id,
        "unpacking",
        format!(
            "base backup {} ({} bytes stored)",
            plan.base.id, artifact.bytes
        ),
    )
    .await;
    let tmp = core.settings.data_dir.join("restore-tmp");
    let healthy = artifact.healthy_copies();
    let names: Vec<String> = healthy.iter().map(|c| c.name.clone()).collect();
    let store = store_for(core, &names);
    let key = healthy
        .first()
        .map(|c| c.key.clone())
        .unwrap_or_else(|| artifact.key.clone());
    let local = LocalArtifact::fetch(
        StoredObject {
            store,
            key: &key,
            sha256: &artifact.sha256,
            bytes: artifact.bytes,
        },
        &tmp,
        &format!("{id}-base"),
        if artifact.encrypted {
            identity.clone()
        } else {
            None
        },
        progress_bytes.clone(),
    )
    .await
    .map_err(|e| StageError::new(Stage::Verify, format!("{e}; nothing was changed")))?;
    cluster.unpack(&local).await?;
    drop(local);
    progress(
        core,
        actor,
        id,
        "fetching WAL",
        format!(
            "{} segments, each checked against its sha256",
            plan.segments.len()
        ),
    )
    .await;
    for seg in &plan.segments {
        let path = cluster.wal_dir().join(&seg.name);
        let partial = cluster.wal_dir().join(format!("{}.part", seg.name));
        let mut file = tokio::fs::File::create(&partial).await.map_err(|e| {
            StageError::new(
                Stage::Prepare,
                format!("cannot write {}: {e}", partial.display()),
            )
        })?;
        let store = store_for(core, &seg.storages);
        pipeline::download_decrypting(
            store,
            &seg.key,
            &seg.sha256,
            if seg.encrypted {
                identity.as_ref()
            } else {
                None
            },
            &mut file,
            progress_bytes.clone(),
        )
        .await
        .map_err(|e| {
            StageError::new(
                Stage::Verify,
                format!("WAL segment {}: {e}; nothing was changed", seg.name),
            )
        })?;
        // Only a verified segment gets the name restore_command asks for.
        std::fs::rename(&partial, &path).map_err(|e| {
            StageError::new(Stage::Prepare, format!("cannot place {}: {e}", seg.name))
        })?;
    }
    let result = replay_and_copy(core, actor, id, plan, &mut cluster).await;
    cluster.stop().await;
    result
}

async fn replay_and_copy(
    core: &Core,
    actor: &str,
    id: &str,
    plan: &PitrPlan,
    cluster: &mut TempCluster,
) -> Result<RestoreOutcome, StageError> {
    let (user, db) = (
        plan.source_conn.user.clone(),
        plan.source_conn.database.clone(),
    );
    let target_text = describe(plan.target);
    progress(
        core,
        actor,
        id,
        "replaying",
        format!("WAL up to {target_text}"),
    )
    .await;
    cluster.start(&plan.postgres, plan.target).await?;
    let reached = tokio::time::timeout(REPLAY_LIMIT, cluster.wait_promoted(&user, &db))
        .await
        .map_err(|_| {
            StageError::new(
                Stage::Restore,
                "replay did not reach the target within 6 hours",
            )
        })??;
    if !reached {
        // No commit follows the target in the WAL fetched, which holds every commit made up to
        // the target: the state at its end is the state at the target.
        progress(
            core,
            actor,
            id,
            "replaying",
            "no later commit in the archive: replaying to its end".into(),
        )
        .await;
        cluster.start(&plan.postgres, RecoveryTarget::End).await?;
        let promoted = tokio::time::timeout(REPLAY_LIMIT, cluster.wait_promoted(&user, &db))
            .await
            .map_err(|_| StageError::new(Stage::Restore, "replay did not end within 6 hours"))??;
        if !promoted {
            return Err(StageError::new(
                Stage::Restore,
                "the temporary server stopped before the end of the archived WAL",
            ));
        }
    }
    if let Some(path) = &plan.cluster_path {
        return deliver(core, actor, id, cluster, path, &target_text).await;
    }
    progress(
        core,
        actor,
        id,
        "copying",
        format!("database {db} as of {target_text}"),
    )
    .await;
    let temp_conn = cluster.connection(&user, &db);
    let probe = drivers::probe(&temp_conn, &core.tools).await?;
    let mut dump = drivers::spawn_dump(&temp_conn, &probe).await?;
    let properties = dump.properties.take();
    let stdout = dump
        .stdout
        .take()
        .ok_or_else(|| StageError::new(Stage::Dump, "pg_dump has no stdout"))?;
    let scratch_dir = core
        .settings
        .data_dir
        .join("restore-tmp")
        .join(format!("{id}-dump"));
    let scratch = ArtifactStore::from_url(&format!("fs://{}", scratch_dir.display()))
        .map_err(|e| StageError::new(Stage::Prepare, e.to_string()))?;
    let cleanup = Cleanup(scratch_dir);
    let uploaded = pipeline::upload(
        stdout,
        &scratch,
        "dump.zst",
        1,
        Default::default(),
        async move { dump.finish(Stage::Dump).await.map(|_| ()) },
    )
    .await
    .map_err(|e| match e {
        pipeline::PipelineError::Tool(t) => t,
        other => StageError::new(Stage::Dump, other.to_string()),
    })?;
    let local = LocalArtifact::fetch(
        StoredObject {
            store: &scratch,
            key: "dump.zst",
            sha256: &uploaded.sha256,
            bytes: uploaded.bytes,
        },
        &core.settings.data_dir.join("restore-tmp"),
        &format!("{id}-dump"),
        None,
        core.coordination.running.track(id),
    )
    .await
    .map_err(|e| StageError::new(Stage::Verify, e.to_string()))?;
    drop(cleanup);
    let options = RestoreOptions {
        keep_previous: false,
        no_owner: false,
        tag: super::restore_tag(id),
        properties,
        no_definer: false,
        jobs: drivers::default_restore_jobs(),
        // Point-in-time restores are not cancellable (RestoreError::NotCancellable).
        cancel: Default::default(),
    };
    // Through the target's SSH bastion, if any: opened only now that the replay is over.
    let target = crate::tunnels::reach(core, &plan.target_conn).await?;
    drivers::restore(&target, &plan.target_probe, &options, &local).await
}

fn describe(target: RecoveryTarget) -> String {
    match target {
        RecoveryTarget::Time(t) => t.to_rfc3339(),
        RecoveryTarget::Lsn(l) => format!("LSN {l}"),
        RecoveryTarget::End => "the end of the archive".into(),
    }
}

/// A whole-cluster restore's end: the promoted cluster's data directory moved to `path`.
async fn deliver(
    core: &Core,
    actor: &str,
    id: &str,
    cluster: &mut TempCluster,
    path: &std::path::Path,
    target_text: &str,
) -> Result<RestoreOutcome, StageError> {
    progress(
        core,
        actor,
        id,
        "writing the data directory",
        format!(
            "the whole cluster as of {target_text} to {}",
            path.display()
        ),
    )
    .await;
    cluster.deliver(path).await?;
    Ok(RestoreOutcome {
        previous_kept_as: None,
        warnings: Vec::new(),
    })
}

/// Removes the temporary dump store however the copy ends.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
