//! Applying a server's globals version to a server: from a verified local copy (its sha256
//! checked before any tool reads it), statement by statement, keeping what exists.

use super::{server_error, Servers};
use crate::core::Core;
use crate::error::{from_aggregate, AppError};
use backline_domain::{
    ConnectionString, Failure, GlobalsApplication, ServerCommand, Stage, StoredArtifact,
};
use backline_infra::drivers::globals;
use backline_infra::drivers::StageError;
use backline_infra::local_copy::{LocalArtifact, LocalCopyError, StoredObject};
use backline_projections::GlobalsVersionView;

/// Applies the completed globals version `globals_id` to the server `target` reaches, from a
/// verified local copy (its sha256 checked before any tool reads it); records the outcome on
/// the version's server. Roles and users that exist are kept; nothing is dropped.
async fn apply_globals(
    core: &Core,
    actor: &str,
    globals_id: &str,
    target_id: &str,
    target: &ConnectionString,
) -> Result<GlobalsApplication, AppError> {
    let version = core
        .projections
        .globals_version(globals_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no globals version with id {globals_id:?}")))?;
    let artifact = completed_artifact(core, &version).await?;
    let outcome = apply_verified(core, globals_id, &artifact, target).await;
    let recorded = match &outcome {
        Ok(a) => Ok(a.clone()),
        Err(e) => Err(Failure {
            stage: e.stage.clone(),
            message: e.message.clone(),
            stderr_tail: String::new(),
        }),
    };
    core.aggregates
        .servers
        .execute_with_metadata(
            &version.server_id,
            ServerCommand::RecordGlobalsApplied {
                globals_id: globals_id.to_string(),
                target: target_id.to_string(),
                outcome: recorded,
            },
            core.meta(actor, globals_id),
        )
        .await
        .map_err(|e| from_aggregate(e, server_error))?;
    core.refresh().await;
    outcome.map_err(|e| AppError::Unprocessable(format!("applying the globals failed: {e}")))
}

/// The artifact of a completed globals version, from the ledger (not the read model).
async fn completed_artifact(
    core: &Core,
    version: &GlobalsVersionView,
) -> Result<StoredArtifact, AppError> {
    use cqrs_es::EventStore;
    let events = core
        .ledger
        .store::<backline_domain::Server>()
        .load_events(&version.server_id)
        .await
        .map_err(AppError::internal)?;
    events
        .into_iter()
        .find_map(|e| match e.payload {
            backline_domain::ServerEvent::GlobalsBackupCompleted {
                globals_id,
                artifact,
                ..
            } if globals_id == version.id => Some(artifact),
            _ => None,
        })
        .ok_or_else(|| {
            AppError::Unprocessable(format!(
                "globals version {} is {}, not completed: only a completed version can be applied",
                version.id, version.status
            ))
        })
}

async fn apply_verified(
    core: &Core,
    globals_id: &str,
    artifact: &StoredArtifact,
    target: &ConnectionString,
) -> Result<GlobalsApplication, StageError> {
    let identity = match artifact.encrypted {
        true => Some(core.age_identity().ok_or_else(|| {
            StageError::new(
                Stage::Decrypt,
                "this globals version is age-encrypted but this server has no age identity",
            )
        })?),
        false => None,
    };
    let (store, copy) = crate::restores::targets::pick_copy(core, artifact, None).await?;
    let object = StoredObject {
        store: &store,
        key: &copy.key,
        sha256: &copy.sha256,
        bytes: artifact.bytes,
    };
    let dir = core.settings.data_dir.join("restore-tmp");
    let name = format!("globals-{globals_id}-{}", uuid::Uuid::now_v7());
    let local = LocalArtifact::fetch(object, &dir, &name, identity, Default::default())
        .await
        .map_err(|e| match e {
            LocalCopyError::Mismatch { .. } => StageError::new(Stage::Verify, e.to_string()),
            LocalCopyError::Download { .. } => StageError::new(Stage::Download, e.to_string()),
            _ => StageError::new(Stage::Prepare, e.to_string()),
        })?;
    let reached = crate::tunnels::reach(core, target).await?;
    let applied = globals::apply(&reached, &core.tools, &local).await?;
    Ok(GlobalsApplication {
        existing: applied.existing as u32,
        errors: applied.errors,
    })
}

impl Servers {
    /// Applies globals version `globals_id` to server `target` (default: its own server).
    pub async fn restore_globals(
        &self,
        actor: &str,
        globals_id: &str,
        target: Option<&str>,
    ) -> Result<GlobalsApplication, AppError> {
        let version = self
            .core
            .projections
            .globals_version(globals_id)
            .await?
            .ok_or_else(|| {
                AppError::NotFound(format!("no globals version with id {globals_id:?}"))
            })?;
        let target = target.unwrap_or(&version.server_id).to_string();
        let server = self.view(&target).await.map_err(|_| {
            AppError::invalid(
                "target_server_id",
                format!("no registered server with id {target:?}"),
            )
        })?;
        let source = self.view(&version.server_id).await?;
        if server.engine != source.engine {
            return Err(AppError::invalid(
                "target_server_id",
                format!(
                    "globals of a {} server cannot be applied to a {} server",
                    source.engine, server.engine
                ),
            ));
        }
        let conn = self.connection(&target).await?;
        apply_globals(&self.core, actor, globals_id, &target, &conn).await
    }
}

/// `with_globals` of a restore: the newest completed globals version of the server the
/// backup's database was registered from (else of the target's server) is applied to the
/// target's server before the restore starts, so the roles its objects belong to exist.
pub(crate) async fn globals_before_restore(
    core: &Core,
    actor: &str,
    source_database_id: Option<&str>,
    target_id: &str,
    target: &ConnectionString,
) -> Result<GlobalsApplication, AppError> {
    let servers = core.projections.servers().await?;
    let from = |id: Option<&str>| {
        servers.iter().find(|s| {
            s.databases
                .iter()
                .any(|d| d.database_id.is_some() && d.database_id.as_deref() == id)
        })
    };
    let Some(server) = from(source_database_id).or_else(|| from(Some(target_id))) else {
        return Err(AppError::invalid(
            "with_globals",
            "neither the backup's database nor the target was registered from a server, so there are no globals to apply: register the server (POST /api/v1/servers) and back up its globals",
        ));
    };
    let version = core
        .projections
        .server_globals(&server.id)
        .await?
        .into_iter()
        .find(|v| v.status == "completed")
        .ok_or_else(|| {
            AppError::invalid(
                "with_globals",
                format!(
                    "server {} has no completed globals version: POST /api/v1/servers/{}/globals-backups first",
                    server.name, server.id
                ),
            )
        })?;
    if server.engine != target.engine {
        return Err(AppError::invalid(
            "with_globals",
            "the globals are of another engine than the target",
        ));
    }
    apply_globals(core, actor, &version.id, target_id, target).await
}
