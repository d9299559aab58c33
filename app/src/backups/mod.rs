//! Backups: start one (by hand or for a scheduled slot), run it through the pipeline, record
//! how it ended; pin and unpin versions.

mod cancel;
pub(crate) mod destinations;
pub mod download;
pub(crate) mod encryption;
mod parallel;
pub mod partials;
mod run;

use crate::coordination::Work;
use crate::core::Core;
use crate::error::{backup_error, from_aggregate, AppError};
use crate::retention::Retention;
use backline_domain::backup::DatabaseFacts;
use backline_domain::{BackupCommand, BackupStatus, ConnectionString, Stage, ToolInfo, Trigger};
use backline_infra::claims::Kind;
use backline_infra::drivers::{self, StageError};
use backline_projections::{BackupFilter, DatabaseView};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How a backup run ended.
enum Ended {
    Ran(Result<Box<backline_domain::StoredArtifact>, StageError>),
    /// Stopped on request (its tool killed, its uploads dropped).
    Cancelled,
}

/// A background run (backup or restore) the caller may wait for.
pub struct Started {
    pub id: String,
    pub done: JoinHandle<()>,
}

#[derive(Clone)]
pub struct Backups {
    core: Arc<Core>,
}

impl Backups {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Records `BackupStarted` and runs the backup in the background.
    pub async fn start(
        &self,
        actor: &str,
        reference: &str,
        trigger: Trigger,
    ) -> Result<Started, AppError> {
        self.start_as(actor, reference, trigger, uuid::Uuid::now_v7().to_string())
            .await
    }

    /// The same with a backup id chosen by the caller (the scheduler claims a slot with it).
    #[tracing::instrument(skip(self, trigger), fields(database = reference))]
    pub async fn start_as(
        &self,
        actor: &str,
        reference: &str,
        trigger: Trigger,
        id: String,
    ) -> Result<Started, AppError> {
        let core = &self.core;
        let view = core.resolve_database(reference).await?;
        if let Some(running) = self.running_backup(&view).await? {
            return Err(AppError::Conflict(format!(
                "a backup of {} is already running: {running}",
                view.name
            )));
        }
        let (db, conn) = core.database_state(&view.id).await?;
        let facts = Core::facts(&view.id, &db)?;
        // The read model answered for what it has seen; the claim decides for concurrent
        // requests, in this process or another on the same ledger.
        let name = view.name.clone();
        core.coordination
            .claim(Kind::Backup, &view.id, &id, |other| {
                AppError::Conflict(format!("a backup of {name} is already running: {other}"))
            })
            .await?;
        match self
            .start_claimed(actor, trigger, id.clone(), facts, conn)
            .await
        {
            Ok(started) => Ok(started),
            Err(e) => {
                core.coordination.release(Kind::Backup, &view.id, &id).await;
                Err(e)
            }
        }
    }

    /// The id of the backup of `view` that is running now, if any.
    pub(crate) async fn running_backup(
        &self,
        view: &DatabaseView,
    ) -> Result<Option<String>, AppError> {
        let Some(id) = &view.running_backup_id else {
            return Ok(None);
        };
        Ok(self
            .core
            .projections
            .backup(id)
            .await?
            .filter(|b| b.status == BackupStatus::Running)
            .map(|b| b.id))
    }

    async fn start_claimed(
        &self,
        actor: &str,
        trigger: Trigger,
        id: String,
        facts: DatabaseFacts,
        conn: Option<ConnectionString>,
    ) -> Result<Started, AppError> {
        let core = &self.core;
        // Through its SSH bastion, when it has one: the tunnel lives as long as `conn`.
        let (conn, probe) = match conn {
            Some(c) => match crate::tunnels::reach(core, &c).await {
                Ok(c) => {
                    let p = drivers::probe(&c, &core.tools).await;
                    (Some(c), p)
                }
                Err(e) => (None, Err(e)),
            },
            None => (
                None,
                Err(StageError::new(Stage::Connect, "database removed")),
            ),
        };
        let tools = match &probe {
            Ok(p) => ToolInfo {
                tool: p
                    .dump_tool
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned()),
                tool_version: Some(p.dump_tool_version.clone()),
                server_version: Some(p.server_version.clone()),
            },
            Err(_) => ToolInfo::default(),
        };
        core.aggregates
            .backups
            .execute_with_metadata(
                &id,
                BackupCommand::Start {
                    database: facts.clone(),
                    trigger,
                    tools,
                    node: core.node.clone(),
                },
                core.meta(actor, &id),
            )
            .await
            .map_err(|e| from_aggregate(e, backup_error))?;
        core.refresh().await;
        let me = self.clone();
        let actor = actor.to_string();
        let backup_id = id.clone();
        let lease = core
            .coordination
            .hold_lease(&backup_id, &core.node, core.settings.lease_ttl());
        // Cancelled by the stall watchdog (see alerting) when the dump writes nothing.
        let cancel = core.coordination.running.cancel_token(&backup_id);
        // Fired when someone asks it to stop, here or through the ledger from another process.
        let asked = core.coordination.running.request_token(&backup_id);
        let watch = core
            .coordination
            .watch_cancel(Work::Backup, &backup_id, asked.clone());
        // Its size will be about the previous version's.
        let expected = core
            .projections
            .backups(&BackupFilter {
                database_id: Some(facts.id.clone()),
                status: Some(BackupStatus::Completed),
                limit: 1,
                before: None,
            })
            .await
            .ok()
            .and_then(|v| v.first().and_then(|b| b.raw_bytes));
        core.coordination
            .running
            .set_phase(&backup_id, "dump", expected);
        let reporter = crate::progress::report(core.clone(), &backup_id);
        let done = tokio::spawn(async move {
            let started = Instant::now();
            let result = match (probe, conn) {
                (Ok(p), Some(c)) => {
                    let work = async {
                        let _permit = me.core.permits.clone().acquire_owned().await;
                        run::run_backup(&me.core, &backup_id, &facts, &c, &p).await
                    };
                    // Dropping `work` kills the dump tool's process group and drops the
                    // uploads; `finish` removes their partial files.
                    tokio::select! {
                        _ = asked.cancelled() => Err(StageError::new(Stage::Dump, drivers::CANCELLED)),
                        _ = cancel.cancelled() => {
                            Err(StageError::new(Stage::Stalled, me.stall_message(&backup_id)))
                        }
                        r = work => r,
                    }
                }
                (Err(e), _) => Err(e),
                (Ok(_), None) => Err(StageError::new(Stage::Connect, "database removed")),
            };
            watch.abort();
            reporter.abort();
            let result = match result {
                Err(_) if asked.is_cancelled() => Ended::Cancelled,
                other => Ended::Ran(other.map(Box::new)),
            };
            me.finish(&actor, &backup_id, &facts, started, result, lease)
                .await;
        });
        Ok(Started { id, done })
    }

    /// Records how a backup ended and lets go of what it held.
    async fn finish(
        &self,
        actor: &str,
        backup_id: &str,
        facts: &DatabaseFacts,
        started: Instant,
        result: Ended,
        lease: JoinHandle<()>,
    ) {
        let core = &self.core;
        let duration_ms = started.elapsed().as_millis() as u64;
        let command = match result {
            Ended::Cancelled => {
                tracing::info!(backup_id, database = %facts.name, duration_ms, "backup cancelled on request");
                BackupCommand::Cancel { duration_ms }
            }
            Ended::Ran(Ok(artifact)) => {
                tracing::info!(backup_id, database = %facts.name, bytes = artifact.bytes, duration_ms, "backup completed");
                BackupCommand::Complete {
                    artifact: *artifact,
                    duration_ms,
                }
            }
            Ended::Ran(Err(e)) => {
                tracing::warn!(backup_id, database = %facts.name, stage = %e.stage, message = %e.message, duration_ms, "backup failed");
                BackupCommand::Fail {
                    failure: e.into_failure(),
                    duration_ms,
                }
            }
        };
        // Nothing of this run is written any more: its partial uploads go before its end is
        // recorded, so that whoever sees it ended sees nothing left behind.
        partials::remove_partials_of(core, backup_id).await;
        if let Err(e) = core
            .aggregates
            .backups
            .execute_with_metadata(backup_id, command, core.meta(actor, backup_id))
            .await
        {
            tracing::error!(backup_id, error = %e, "could not record the end of a backup");
        }
        lease.abort();
        core.coordination.end_lease(backup_id).await;
        core.coordination
            .release(Kind::Backup, &facts.id, backup_id)
            .await;
        core.coordination.running.untrack(backup_id);
        core.coordination.end_progress(backup_id).await;
        core.refresh().await;
        Retention::new(core.clone()).apply_quietly(&facts.id).await;
    }

    /// Brings the read models up to date (a waiting slot checks again).
    pub(crate) async fn core_refresh(&self) {
        self.core.refresh().await;
    }

    /// The stall watchdog's timeout.
    pub(crate) fn stall_timeout(&self) -> Duration {
        Duration::from_secs(self.core.settings.stall_timeout_secs.max(1))
    }

    /// The message of a backup cancelled for writing nothing.
    fn stall_message(&self, backup_id: &str) -> String {
        format!(
            "no bytes written for {} s (BACKLINE_STALL_TIMEOUT): the dump was cancelled after {} bytes; \
             is the database waiting on a lock?",
            self.stall_timeout().as_secs(),
            self.core.coordination.running.progress(backup_id).unwrap_or(0)
        )
    }

    /// Pins (never pruned) or unpins a version.
    pub async fn set_pinned(
        &self,
        actor: &str,
        backup_id: &str,
        pinned: bool,
    ) -> Result<(), AppError> {
        let core = &self.core;
        let command = if pinned {
            BackupCommand::Pin {
                actor: actor.into(),
            }
        } else {
            BackupCommand::Unpin {
                actor: actor.into(),
            }
        };
        if core.projections.backup(backup_id).await?.is_none() {
            return Err(AppError::NotFound(format!("no backup with id {backup_id}")));
        }
        core.aggregates
            .backups
            .execute_with_metadata(backup_id, command, core.meta(actor, backup_id))
            .await
            .map_err(|e| from_aggregate(e, backup_error))?;
        core.refresh().await;
        Ok(())
    }
}
