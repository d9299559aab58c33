//! Restore drills: a database's drill settings (schedule, sandbox, allowed row loss), starting
//! a drill (by hand or by the scheduler), and the drills run so far. A drill restores the newest
//! completed version through the same verified restore path as any restore (see `run`).

mod reaper;
mod run;
mod scheduled;

use crate::backups::Started;
use crate::core::Core;
use crate::error::{from_aggregate, AppError};
use backline_domain::{
    CatchUp, DatabaseCommand, DrillCommand, DrillError, DrillSandbox, DrillSettings, DrillTrigger,
    Schedule, DEFAULT_MAX_ROW_LOSS_PERCENT,
};
use backline_infra::claims::Kind;
use backline_projections::{BackupFilter, DatabaseView, DrillView};
use std::sync::Arc;

pub(crate) use reaper::reap_drills;
pub(crate) use scheduled::tick_drills;

/// A drill's settings as a request gives them.
#[derive(Debug, Clone, Default)]
pub struct DrillInput {
    /// Cron expression of scheduled drills (absent: drills run only when asked).
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub catch_up: Option<String>,
    /// A registered database flagged `restore_target` (id or name)…
    pub target_database_id: Option<String>,
    /// …or a registered database on whose server each drill creates (and drops) a database.
    pub new_database_server_of: Option<String>,
    /// Default 50.
    pub max_row_loss_percent: Option<u8>,
}

#[derive(Clone)]
pub struct Drills {
    core: Arc<Core>,
}

impl Drills {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Sets a database's drill (replacing any earlier settings).
    pub async fn configure(
        &self,
        actor: &str,
        reference: &str,
        input: &DrillInput,
    ) -> Result<DatabaseView, AppError> {
        let core = &self.core;
        let db = core.resolve_database(reference).await?;
        let sandbox = self.sandbox(&db, input).await?;
        let percent = input
            .max_row_loss_percent
            .unwrap_or(DEFAULT_MAX_ROW_LOSS_PERCENT);
        if !(1..=100).contains(&percent) {
            return Err(AppError::invalid(
                "max_row_loss_percent",
                format!("give a percentage from 1 to 100, not {percent}"),
            ));
        }
        let schedule = match &input.schedule {
            None => {
                if input.timezone.is_some() || input.catch_up.is_some() {
                    return Err(AppError::invalid(
                        "schedule",
                        "timezone and catch_up need a schedule (a cron expression)",
                    ));
                }
                None
            }
            Some(cron) => {
                let catch_up = match &input.catch_up {
                    None => CatchUp::Latest,
                    Some(c) => CatchUp::parse(c).ok_or_else(|| {
                        AppError::invalid(
                            "catch_up",
                            format!("catch_up must be latest, none or all, not {c:?}"),
                        )
                    })?,
                };
                Some(
                    Schedule::parse(cron, input.timezone.as_deref(), catch_up)
                        .map_err(|e| AppError::invalid(e.field(), e.to_string()))?,
                )
            }
        };
        let drill = DrillSettings {
            schedule,
            sandbox,
            max_row_loss_percent: percent,
        };
        self.set(actor, &db, Some(drill)).await
    }

    /// Removes a database's drill (drills already run stay in its history).
    pub async fn remove(&self, actor: &str, reference: &str) -> Result<DatabaseView, AppError> {
        let db = self.core.resolve_database(reference).await?;
        self.set(actor, &db, None).await
    }

    async fn set(
        &self,
        actor: &str,
        db: &DatabaseView,
        drill: Option<DrillSettings>,
    ) -> Result<DatabaseView, AppError> {
        let (state, _) = self.core.database_state(&db.id).await?;
        if state.drill == drill {
            return Ok(db.clone()); // the same settings again: nothing to record
        }
        self.core
            .change_database(actor, &db.id, DatabaseCommand::SetDrill { drill })
            .await
    }

    /// Checks the sandbox a request names: a restore target of the same engine that is not the
    /// database itself, or a registered database of the same engine whose server gets the new
    /// database.
    async fn sandbox(
        &self,
        db: &DatabaseView,
        input: &DrillInput,
    ) -> Result<DrillSandbox, AppError> {
        let core = &self.core;
        let (field, reference) = match (&input.target_database_id, &input.new_database_server_of) {
            (Some(t), None) => ("sandbox.target_database_id", t),
            (None, Some(s)) => ("sandbox.new_database.server_of", s),
            _ => {
                return Err(AppError::invalid(
                    "sandbox",
                    "give sandbox.target_database_id (a registered restore target) or sandbox.new_database.server_of (a new database each drill), not both",
                ))
            }
        };
        let other = core.resolve_database(reference).await.map_err(|_| {
            AppError::invalid(
                field,
                format!("no registered database with id or name {reference:?}"),
            )
        })?;
        if other.engine != db.engine {
            return Err(AppError::invalid(
                field,
                format!(
                    "{} is a {} database, but {} is {}",
                    other.name,
                    other.engine.as_str(),
                    db.name,
                    db.engine.as_str()
                ),
            ));
        }
        if input.new_database_server_of.is_some() {
            return Ok(DrillSandbox::NewDatabase {
                server_of: other.id,
            });
        }
        if other.id == db.id {
            return Err(AppError::invalid(
                field,
                "a drill never restores into the database it rehearses: choose another database",
            ));
        }
        if !other.restore_target {
            return Err(AppError::invalid(
                field,
                format!(
                    "{} is not registered as a restore target (restore_target: true): a drill \
                     replaces its contents each time",
                    other.name
                ),
            ));
        }
        if let (_, Some(conn)) = core.database_state(&other.id).await? {
            crate::restores::refuse_protected(core, &conn).await?;
        }
        Ok(DrillSandbox::Target {
            database_id: other.id,
        })
    }

    /// A database's drills, newest first.
    pub async fn list(&self, reference: &str, limit: i64) -> Result<Vec<DrillView>, AppError> {
        let db = self.core.resolve_database(reference).await?;
        Ok(self.core.projections.drills(&db.id, limit).await?)
    }

    /// Starts a drill of the database's newest completed version now.
    pub async fn start(&self, actor: &str, reference: &str) -> Result<Started, AppError> {
        let db = self.core.resolve_database(reference).await?;
        let trigger = DrillTrigger::Manual {
            actor: actor.to_string(),
        };
        let id = uuid::Uuid::now_v7().to_string();
        self.start_as(actor, &db.id, trigger, id).await
    }

    /// Starts drill `id` of database `database_id` (the scheduler gives the id it claimed).
    pub(crate) async fn start_as(
        &self,
        actor: &str,
        database_id: &str,
        trigger: DrillTrigger,
        id: String,
    ) -> Result<Started, AppError> {
        let core = &self.core;
        let (state, _) = core.database_state(database_id).await?;
        let name = state
            .name
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default();
        if state.removed {
            return Err(AppError::Conflict(format!("{name} was removed")));
        }
        let Some(settings) = state.drill.clone() else {
            return Err(AppError::Unprocessable(format!(
                "{name} has no restore drill: set one first (PUT /api/v1/databases/{database_id}/drill)"
            )));
        };
        let newest = core
            .projections
            .backups(&BackupFilter {
                database_id: Some(database_id.to_string()),
                status: Some(backline_domain::BackupStatus::Completed),
                limit: 1,
                before: None,
            })
            .await?
            .pop()
            .ok_or_else(|| {
                AppError::Unprocessable(format!(
                    "{name} has no completed version to rehearse: back it up first"
                ))
            })?;
        core.coordination
            .claim(Kind::Drill, database_id, &id, |other| {
                AppError::Conflict(format!("a drill of {name} is already running: {other}"))
            })
            .await?;
        let started = core
            .aggregates
            .drills
            .execute_with_metadata(
                &id,
                DrillCommand::Start {
                    database_id: database_id.to_string(),
                    database_name: name.clone(),
                    version: newest.id.clone(),
                    sandbox: settings.sandbox.clone(),
                    trigger,
                    node: core.node.clone(),
                },
                core.meta(actor, &id),
            )
            .await
            .map_err(|e| from_aggregate(e, drill_error));
        if let Err(e) = started {
            core.coordination
                .release(Kind::Drill, database_id, &id)
                .await;
            return Err(e);
        }
        core.refresh().await;
        let done = run::spawn(
            core.clone(),
            actor,
            &id,
            database_id,
            (name, newest.id),
            settings,
        );
        Ok(Started { id, done })
    }
}

fn drill_error(e: &DrillError) -> AppError {
    match e {
        DrillError::NotFound => AppError::NotFound(e.to_string()),
        _ => AppError::Conflict(e.to_string()),
    }
}
