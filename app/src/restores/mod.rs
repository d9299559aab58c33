//! Restores: check the request and the target, record `RestoreStarted`, and run it in the
//! background from a verified local copy of the chosen artifact.

mod cancel;
mod contents;
mod new_target;
mod parts;
mod pitr;
mod pitr_run;
mod run;
mod selection;
pub(crate) mod targets;

pub use contents::{ObjectEntry, TableEntry, VersionContents};
pub use new_target::NewTarget;
pub use pitr::PitrRequest;

pub(crate) use targets::{is_ledger_database, pick_copy, refuse_protected};

use crate::backups::Started;
use crate::core::Core;
use crate::error::{from_aggregate, restore_error, AppError};
use backline_domain::{
    Backup, BackupFacts, BackupStatus, ConnectionString, Engine, RestoreCommand, Stage, ToolInfo,
};
use backline_infra::claims::Kind;
use backline_infra::drivers::{self, Probe, StageError};
use std::sync::Arc;

/// The short unique tag of a restore's scratch database name.
pub fn restore_tag(restore_id: &str) -> String {
    let compact = restore_id.replace('-', "");
    compact[compact.len().saturating_sub(12)..].to_string()
}

/// A restore as asked for.
#[derive(Debug, Clone, Default)]
pub struct RestoreRequest {
    pub backup_id: String,
    /// Target database id or name (default: the backup's own database).
    pub target: Option<String>,
    /// PostgreSQL: keep the target's previous contents as `<name>_before_restore_<time>`.
    pub keep_previous: bool,
    /// Skip ownership and privileges (targets without the original roles).
    pub no_owner: bool,
    /// MariaDB: make the restoring user the definer of views, routines, triggers and events.
    pub no_definer: bool,
    /// Read the copy on this named storage (default: the first healthy copy).
    pub storage: Option<String>,
    /// PostgreSQL: `pg_restore --jobs` (default: the target's `restore_jobs`, else min(4, cores)).
    pub jobs: Option<u32>,
    /// Restore into a new database on the server of a registered one (not with `target`).
    pub new_database: Option<NewTarget>,
    /// Only these tables (`schema.table` for PostgreSQL, `table` for MySQL/MariaDB).
    pub tables: Option<Vec<String>>,
    /// New names for some of `tables` (PostgreSQL).
    pub rename: std::collections::BTreeMap<String, String>,
    /// Apply the newest globals version (roles, users, grants) of the backup's server to the
    /// target's server first.
    pub with_globals: bool,
}

/// What a restore about to run needs.
struct Plan {
    backup: Backup,
    target_id: String,
    /// The target was registered for this restore (`new_database`): removed if it fails.
    created: bool,
    conn: Option<ConnectionString>,
    probe: Option<Result<Probe, StageError>>,
    selection: Option<selection::Selected>,
    /// `pg_restore --jobs`: the request's, else the target's `restore_jobs`, else the default.
    jobs: u32,
}

#[derive(Clone)]
pub struct Restores {
    core: Arc<Core>,
}

impl Restores {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Records `RestoreStarted` and runs the restore in the background.
    #[tracing::instrument(skip_all, fields(backup = %req.backup_id, target = ?req.target))]
    pub async fn start(&self, actor: &str, req: &RestoreRequest) -> Result<Started, AppError> {
        let core = &self.core;
        let backup = core
            .ledger
            .load::<Backup>(&req.backup_id)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(|| AppError::NotFound(format!("no backup with id {}", req.backup_id)))?;
        if let (Some(name), Some(a)) = (&req.storage, &backup.artifact) {
            let copies = a.healthy_copies();
            if !copies.iter().any(|c| &c.name == name) {
                let names: Vec<&str> = copies.iter().map(|c| c.name.as_str()).collect();
                return Err(AppError::invalid(
                    "storage",
                    format!(
                        "this backup has no healthy copy on a storage named {name:?}; its copies are on: {}",
                        names.join(", ")
                    ),
                ));
            }
        }
        let selected = self.selection(req, &backup).await?;
        let created = req.new_database.is_some();
        let target_id = match (&req.target, &req.new_database) {
            (Some(_), Some(_)) => {
                return Err(AppError::invalid(
                    "new_database",
                    "give either target_database_id or new_database, not both",
                ))
            }
            (None, Some(new)) => {
                if backup.status != BackupStatus::Completed {
                    return Err(AppError::Unprocessable(format!(
                        "backup {} is {}: only a completed version can be restored",
                        req.backup_id,
                        backup.status.as_str()
                    )));
                }
                new_target::register(core, actor, &backup, new).await?
            }
            (Some(t), None) => {
                core.resolve_database(t)
                    .await
                    .map_err(|_| {
                        AppError::invalid(
                            "target_database_id",
                            format!("no registered database with id or name {t:?}"),
                        )
                    })?
                    .id
            }
            (None, None) => backup
                .database_id
                .clone()
                .ok_or_else(|| AppError::bug("backup has no database"))?,
        };
        let (target_db, conn) = core.database_state(&target_id).await?;
        if let Some(c) = &conn {
            targets::refuse_protected(core, c).await?;
            if req.with_globals {
                let source = backup.database_id.as_deref();
                crate::servers::globals_before_restore(core, actor, source, &target_id, c).await?;
            }
        }
        // Through its SSH bastion, when it has one: the tunnel lives as long as `conn`.
        let (conn, unreachable) = match conn {
            Some(c) => match crate::tunnels::reach(core, &c).await {
                Ok(c) => (Some(c), None),
                Err(e) => (Some(c), Some(e)),
            },
            None => (None, None),
        };
        let target = Core::facts(&target_id, &target_db)?;
        let plausible = backup.status == BackupStatus::Completed
            && backup.engine == Some(target.engine)
            && !target.removed;
        let probe = match (&conn, plausible, unreachable) {
            (Some(_), true, Some(e)) => Some(Err(e)),
            (Some(c), true, None) => Some(drivers::probe_target(c, &core.tools).await),
            _ => None,
        };
        let id = uuid::Uuid::now_v7().to_string();
        // One restore into a database at a time: two would swap or drop it under each other.
        if plausible {
            let name = target.name.to_string();
            core.coordination
                .claim(Kind::Restore, &target_id, &id, |other| {
                    AppError::Conflict(format!("a restore into {name} is already running: {other}"))
                })
                .await?;
            // Running here from now on (see the claim's holder check).
            core.coordination.running.track(&id);
        }
        let plan = Plan {
            backup,
            target_id,
            created,
            conn,
            probe,
            selection: selected,
            jobs: req
                .jobs
                .or_else(|| target_db.restore_jobs())
                .unwrap_or_else(drivers::default_restore_jobs),
        };
        if let Err(e) = self.record_start(actor, &id, req, &plan, target).await {
            core.coordination.running.untrack(&id);
            core.coordination
                .release(Kind::Restore, &plan.target_id, &id)
                .await;
            if plan.created {
                run::unregister(core, actor, &plan.target_id).await;
            }
            return Err(e);
        }
        core.refresh().await;
        let done = run::spawn(self.core.clone(), actor, &id, req, plan);
        Ok(Started { id, done })
    }

    async fn record_start(
        &self,
        actor: &str,
        id: &str,
        req: &RestoreRequest,
        plan: &Plan,
        target: backline_domain::backup::DatabaseFacts,
    ) -> Result<(), AppError> {
        let core = &self.core;
        let tools = match &plan.probe {
            Some(Ok(p)) => ToolInfo {
                tool: p
                    .restore_tool
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned()),
                tool_version: Some(p.restore_tool_version.clone()),
                server_version: Some(p.server_version.clone()),
            },
            _ => ToolInfo::default(),
        };
        core.aggregates
            .restores
            .execute_with_metadata(
                id,
                RestoreCommand::Start {
                    backup: BackupFacts {
                        id: req.backup_id.clone(),
                        status: plan.backup.status,
                        engine: plan.backup.engine,
                        database_id: plan.backup.database_id.clone(),
                    },
                    target,
                    actor: actor.to_string(),
                    tools,
                    node: core.node.clone(),
                    local_copy_bytes: plan.backup.artifact.as_ref().map(|a| a.bytes),
                    selection: plan
                        .selection
                        .as_ref()
                        .map(|s| Box::new(s.recorded.clone())),
                },
                core.meta(actor, id),
            )
            .await
            .map_err(|e| from_aggregate(e, restore_error))
    }
}

/// The engine of a restore's target, for names of its scratch database.
pub(crate) fn scratch_name(engine: Engine, target_database: &str, restore_id: &str) -> String {
    drivers::scratch_name(engine, target_database, &restore_tag(restore_id))
}

/// A stage error for work that could not start.
pub(crate) fn unusable() -> StageError {
    StageError::new(Stage::Prepare, "backup or target is not usable")
}
