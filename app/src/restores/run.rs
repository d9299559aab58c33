//! A restore running in the background: a verified local copy first, then the engine's
//! restore into a scratch database and the swap; how it ended is recorded.

use super::selection::Selected;
use super::{restore_tag, targets, unusable, Plan, RestoreRequest};
use crate::coordination::Work;
use crate::core::Core;
use backline_domain::{ArtifactCopy, RestoreCommand, Stage, StoredArtifact};
use backline_infra::claims::Kind;
use backline_infra::drivers::{self, RestoreOptions, RestoreOutcome, StageError};
use backline_infra::encryption::age;
use backline_infra::local_copy::{LocalArtifact, LocalCopyError, StoredObject};
use backline_infra::storage::ArtifactStore;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(super) fn spawn(
    core: Arc<Core>,
    actor: &str,
    restore_id: &str,
    req: &RestoreRequest,
    plan: Plan,
) -> JoinHandle<()> {
    let actor = actor.to_string();
    let restore_id = restore_id.to_string();
    let req = req.clone();
    // Like a backup's: if this process dies, another (or this one restarted) records the
    // restore as failed once the lease expires.
    let lease = core
        .coordination
        .hold_lease(&restore_id, &core.node, core.settings.lease_ttl());
    // Fired when someone asks it to stop, here or through the ledger from another process.
    let asked = core.coordination.running.request_token(&restore_id);
    let watch = core
        .coordination
        .watch_cancel(Work::Restore, &restore_id, asked.clone());
    let reporter = crate::progress::report(core.clone(), &restore_id);
    tokio::spawn(async move {
        let started = Instant::now();
        let result = run(&core, &restore_id, &req, &plan, &asked).await;
        watch.abort();
        reporter.abort();
        let duration_ms = started.elapsed().as_millis() as u64;
        let command = match result {
            // Stopped before the target changed (the drivers check at the last such point).
            Err(e) if asked.is_cancelled() && e.message == drivers::CANCELLED => {
                tracing::info!(
                    restore_id,
                    duration_ms,
                    "restore cancelled on request; the target is as it was"
                );
                if plan.created {
                    unregister(&core, &actor, &plan.target_id).await;
                }
                RestoreCommand::Cancel { duration_ms }
            }
            Ok(outcome) => {
                for w in &outcome.warnings {
                    tracing::warn!(restore_id, warning = %w, "the restore could not bring back everything exactly");
                }
                tracing::info!(
                    restore_id,
                    target = plan.target_id,
                    duration_ms,
                    "restore completed"
                );
                RestoreCommand::Complete {
                    duration_ms,
                    previous_kept_as: outcome.previous_kept_as,
                    warnings: outcome.warnings,
                }
            }
            Err(e) => {
                tracing::warn!(restore_id, stage = %e.stage, message = %e.message, duration_ms, "restore failed");
                if plan.created {
                    unregister(&core, &actor, &plan.target_id).await;
                }
                RestoreCommand::Fail {
                    failure: e.into_failure(),
                    duration_ms,
                }
            }
        };
        if let Err(e) = core
            .aggregates
            .restores
            .execute_with_metadata(&restore_id, command, core.meta(&actor, &restore_id))
            .await
        {
            tracing::error!(restore_id, error = %e, "could not record the end of a restore");
        }
        lease.abort();
        core.coordination.end_lease(&restore_id).await;
        core.coordination.running.untrack(&restore_id);
        core.coordination.end_progress(&restore_id).await;
        core.coordination
            .release(Kind::Restore, &plan.target_id, &restore_id)
            .await;
        core.refresh().await;
    })
}

/// Removes the registration of a new database whose restore did not complete.
pub(super) async fn unregister(core: &Arc<Core>, actor: &str, id: &str) {
    if let Err(e) = crate::databases::Databases::new(core.clone())
        .remove(actor, id)
        .await
    {
        tracing::warn!(database = id, error = %e, "could not remove the registration of a database whose restore failed");
    }
}

async fn run(
    core: &Core,
    restore_id: &str,
    req: &RestoreRequest,
    plan: &Plan,
    asked: &CancellationToken,
) -> Result<RestoreOutcome, StageError> {
    let (probe, conn, artifact) = match (&plan.probe, &plan.conn, &plan.backup.artifact) {
        (Some(Ok(p)), Some(c), Some(a)) => (p, c, a),
        (Some(Err(e)), _, _) => return Err(e.clone()),
        _ => return Err(unusable()),
    };
    if artifact.encrypted && core.age_identity().is_none() {
        return Err(StageError::new(
            Stage::Decrypt,
            format!(
                "backup is age-encrypted but this server has no age identity at {}: set BACKLINE_AGE_IDENTITY_FILE to the key it was encrypted with",
                core.settings.age_identity_file().display()
            ),
        ));
    }
    let (store, copy) = targets::pick_copy(core, artifact, req.storage.as_deref()).await?;
    tracing::info!(
        restore_id,
        storage = store.label(),
        key = copy.key,
        "restoring from this copy"
    );
    let progress = core.coordination.running.track(restore_id);
    // Fetching counts stored bytes; loading, raw bytes fed to the tool (each pass anew).
    core.coordination
        .running
        .set_phase(restore_id, "download", Some(artifact.bytes));
    let identity = if artifact.encrypted {
        core.age_identity()
    } else {
        None
    };
    let options = RestoreOptions {
        keep_previous: req.keep_previous,
        no_owner: req.no_owner,
        no_definer: req.no_definer,
        tag: restore_tag(restore_id),
        properties: artifact.database_properties.clone(),
        jobs: plan.jobs,
        cancel: asked.clone(),
    };
    let source = Source {
        store: &store,
        copy: &copy,
        artifact,
        identity,
        progress,
    };
    if artifact.is_multipart() {
        // Every part is copied and its sha256 checked before any tool reads one.
        let parts = tokio::select! {
            _ = asked.cancelled() => Err(StageError::new(Stage::Download, drivers::CANCELLED)),
            parts = super::parts::verified_parts(core, restore_id, source) => parts,
        }?;
        core.coordination
            .running
            .set_phase(restore_id, "load", Some(artifact.raw_bytes));
        let feeds = parts.feeds()?;
        return match &plan.selection {
            None => drivers::restore_parts(conn, probe, &options, &feeds).await,
            Some(s) => {
                let source = drivers::Source::Parts(&feeds);
                restore_pg_tables(core, req, plan, s, &options, source, asked).await
            }
        };
    }
    let local = tokio::select! {
        _ = asked.cancelled() => Err(StageError::new(Stage::Download, drivers::CANCELLED)),
        local = verified_copy(core, restore_id, source) => local,
    }?;
    core.coordination
        .running
        .set_phase(restore_id, "load", Some(artifact.raw_bytes));
    match &plan.selection {
        None => drivers::restore(conn, probe, &options, &local).await,
        Some(s) if conn.engine == backline_domain::Engine::Mysql => {
            // A partial restore can be stopped until it starts loading.
            if asked.is_cancelled() {
                return Err(StageError::new(Stage::Restore, drivers::CANCELLED));
            }
            let names: Vec<String> = s.tables.iter().map(|(_, t)| t.clone()).collect();
            drivers::restore_mysql_tables(conn, probe, &names, &options.tag, req.no_definer, &local)
                .await
        }
        Some(s) => {
            let source = drivers::Source::One(&local);
            restore_pg_tables(core, req, plan, s, &options, source, asked).await
        }
    }
}

/// A PostgreSQL partial restore of `selected` from the verified copy of a version (its one
/// object or its parts): see `pg_partial`.
async fn restore_pg_tables(
    core: &Core,
    req: &RestoreRequest,
    plan: &Plan,
    selected: &Selected,
    options: &RestoreOptions,
    source: drivers::Source<'_>,
    asked: &CancellationToken,
) -> Result<RestoreOutcome, StageError> {
    let (Some(Ok(probe)), Some(conn)) = (&plan.probe, &plan.conn) else {
        return Err(unusable());
    };
    if conn.engine != backline_domain::Engine::Postgres {
        return Err(StageError::new(
            Stage::Restore,
            "a PostgreSQL version's tables cannot be restored into MySQL/MariaDB",
        ));
    }
    // A partial restore can be stopped until it starts loading.
    if asked.is_cancelled() {
        return Err(StageError::new(Stage::Restore, drivers::CANCELLED));
    }
    let partial = drivers::pg_partial::PartialOptions {
        tables: selected.tables.clone(),
        rename: selected.rename.clone(),
        no_owner: req.no_owner,
        tag: options.tag.clone(),
    };
    let work = core.settings.data_dir.join("restore-tmp");
    drivers::pg_partial::restore_tables(conn, probe, &partial, source, &work).await
}

/// Where a restore reads from.
pub(super) struct Source<'a> {
    pub(super) store: &'a ArtifactStore,
    pub(super) copy: &'a ArtifactCopy,
    pub(super) artifact: &'a StoredArtifact,
    pub(super) identity: Option<age::x25519::Identity>,
    pub(super) progress: Arc<AtomicU64>,
}

/// The verified local copy (a mismatch fails here, before any database is created or
/// dropped) that every pass of the restore reads.
async fn verified_copy(
    core: &Core,
    restore_id: &str,
    source: Source<'_>,
) -> Result<LocalArtifact, StageError> {
    let object = StoredObject {
        store: source.store,
        key: &source.copy.key,
        sha256: &source.copy.sha256,
        bytes: source.artifact.bytes,
    };
    let dir = core.settings.data_dir.join("restore-tmp");
    let local = LocalArtifact::fetch(object, &dir, restore_id, source.identity, source.progress)
        .await
        .map_err(copy_error)?;
    tracing::info!(
        restore_id,
        bytes = local.bytes(),
        "the local copy of the artifact is verified"
    );
    Ok(local)
}

/// A failed local copy, as the restore reports it (a mismatch changed nothing).
pub(super) fn copy_error(e: LocalCopyError) -> StageError {
    match e {
        LocalCopyError::Mismatch { .. } => {
            StageError::new(Stage::Verify, format!("{e}; nothing was changed"))
        }
        LocalCopyError::Download { .. } => StageError::new(Stage::Download, e.to_string()),
        LocalCopyError::Local { .. } | LocalCopyError::NoSpace { .. } => {
            StageError::new(Stage::Prepare, e.to_string())
        }
    }
}
