//! The Restore aggregate: one restore of one backup into one target database.

use crate::backup::{BackupStatus, DatabaseFacts, ToolInfo};
use crate::values::{DatabaseName, Engine, Failure};
use crate::wal::Lsn;
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// The moment a point-in-time restore brings back, and the base backup it starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointInTime {
    pub base_backup_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_lsn: Option<Lsn>,
    /// The whole cluster's data directory, written to this new directory on the Backline host
    /// (an admin's request) instead of one database copied into a target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_path: Option<String>,
}

/// What the handler knows of the backup being restored.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupFacts {
    pub id: String,
    pub status: BackupStatus,
    pub engine: Option<Engine>,
    pub database_id: Option<String>,
}

/// The tables a partial restore brings back (names as in the version: `schema.table` for
/// PostgreSQL, `table` for MySQL/MariaDB), and the new names some of them land under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TableSelection {
    pub tables: Vec<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub rename: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RestoreCommand {
    Start {
        backup: BackupFacts,
        target: DatabaseFacts,
        actor: String,
        tools: ToolInfo,
        node: String,
        /// Local space the verified copy of the artifact takes (its stored size).
        local_copy_bytes: Option<u64>,
        /// Only these tables (a partial restore).
        selection: Option<Box<TableSelection>>,
    },
    /// A point-in-time restore: a base backup and the WAL after it, replayed to the target.
    StartPointInTime {
        point_in_time: PointInTime,
        source_database_id: String,
        target: DatabaseFacts,
        actor: String,
        tools: ToolInfo,
        node: String,
    },
    /// A step of a long restore reached (unpacking, replaying WAL, copying).
    Progress {
        step: String,
        detail: String,
    },
    Complete {
        duration_ms: u64,
        previous_kept_as: Option<String>,
        warnings: Vec<String>,
    },
    Fail {
        failure: Failure,
        duration_ms: u64,
    },
    /// Someone asks a running restore to stop; the process running it notices and stops it
    /// before it replaces the target (after that point, the restore completes).
    RequestCancel {
        actor: String,
    },
    /// The process running it stopped it on request: the target is as it was.
    Cancel {
        duration_ms: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RestoreEvent {
    RestoreStarted {
        backup_id: String,
        source_database_id: String,
        target_database_id: String,
        target_database_name: DatabaseName,
        engine: Engine,
        actor: String,
        #[serde(flatten)]
        tools: ToolInfo,
        node: String,
        /// Local space the verified copy of the artifact takes while the restore runs (the
        /// stored size). Absent in restores from before 2026-11-30.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        local_copy_bytes: Option<u64>,
        /// A partial restore: the tables selected (absent: the whole version).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        selection: Option<Box<TableSelection>>,
        /// A point-in-time restore (`backup_id` is then its base backup's id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        point_in_time: Option<Box<PointInTime>>,
    },
    RestoreProgressed {
        step: String,
        detail: String,
    },
    RestoreCompleted {
        duration_ms: u64,
        previous_kept_as: Option<String>,
        /// What the restore could not bring back exactly (e.g. database-level properties of a
        /// version from before they were recorded, or a role this server lacks).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    RestoreFailed {
        #[serde(flatten)]
        failure: Failure,
        duration_ms: u64,
    },
    /// `actor` asked this running restore to stop.
    RestoreCancelRequested {
        actor: String,
    },
    /// The restore was stopped on `actor`'s request before it replaced the target: the
    /// target is as it was, its scratch database dropped.
    RestoreCancelled {
        actor: String,
        duration_ms: u64,
    },
}

impl RestoreEvent {
    /// The event's type name, as the ledger stores it.
    pub fn name(&self) -> &'static str {
        match self {
            RestoreEvent::RestoreStarted { .. } => "RestoreStarted",
            RestoreEvent::RestoreProgressed { .. } => "RestoreProgressed",
            RestoreEvent::RestoreCompleted { .. } => "RestoreCompleted",
            RestoreEvent::RestoreFailed { .. } => "RestoreFailed",
            RestoreEvent::RestoreCancelRequested { .. } => "RestoreCancelRequested",
            RestoreEvent::RestoreCancelled { .. } => "RestoreCancelled",
        }
    }
}

impl DomainEvent for RestoreEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RestoreStatus {
    #[default]
    New,
    Running,
    Completed,
    Failed,
    /// Stopped on request; the target is as it was.
    Cancelled,
}

impl RestoreStatus {
    /// The status as it is serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreStatus::New => "new",
            RestoreStatus::Running => "running",
            RestoreStatus::Completed => "completed",
            RestoreStatus::Failed => "failed",
            RestoreStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("no such backup")]
    BackupNotFound,
    #[error("backup {id} is {status:?}; only completed backups can be restored")]
    BackupNotRestorable { id: String, status: BackupStatus },
    #[error("target database {0} was removed")]
    TargetRemoved(String),
    #[error("a {backup} backup cannot be restored into a {target} database")]
    EngineMismatch { backup: Engine, target: Engine },
    #[error("this restore has already started")]
    AlreadyStarted,
    #[error("no such restore")]
    NotFound,
    #[error("this restore is {0:?}, not running")]
    NotRunning(RestoreStatus),
    #[error("a point-in-time restore cannot be cancelled")]
    NotCancellable,
    #[error("nobody asked this restore to stop")]
    NotCancelRequested,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restore {
    pub status: RestoreStatus,
    pub backup_id: Option<String>,
    pub target_database_id: Option<String>,
    #[serde(default)]
    pub point_in_time: bool,
    /// Who asked this running restore to stop.
    #[serde(default)]
    pub cancel_requested_by: Option<String>,
}

impl Restore {
    /// Asking again is recorded again (the runner is on it already).
    fn request_cancel(&self, actor: String) -> Result<RestoreEvent, RestoreError> {
        self.require_running()?;
        if self.point_in_time {
            return Err(RestoreError::NotCancellable);
        }
        Ok(RestoreEvent::RestoreCancelRequested { actor })
    }

    fn cancel(&self, duration_ms: u64) -> Result<RestoreEvent, RestoreError> {
        self.require_running()?;
        let actor = self
            .cancel_requested_by
            .clone()
            .ok_or(RestoreError::NotCancelRequested)?;
        Ok(RestoreEvent::RestoreCancelled { actor, duration_ms })
    }

    fn require_running(&self) -> Result<(), RestoreError> {
        match self.status {
            RestoreStatus::New => Err(RestoreError::NotFound),
            RestoreStatus::Running => Ok(()),
            other => Err(RestoreError::NotRunning(other)),
        }
    }
}

impl Aggregate for Restore {
    const TYPE: &'static str = "Restore";
    type Command = RestoreCommand;
    type Event = RestoreEvent;
    type Error = RestoreError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            RestoreCommand::Start {
                backup,
                target,
                actor,
                tools,
                node,
                local_copy_bytes,
                selection,
            } => {
                if self.status != RestoreStatus::New {
                    return Err(RestoreError::AlreadyStarted);
                }
                let (engine, source) = match (backup.status, backup.engine, backup.database_id) {
                    (BackupStatus::New, _, _) => return Err(RestoreError::BackupNotFound),
                    (BackupStatus::Completed, Some(e), Some(d)) => (e, d),
                    (status, _, _) => {
                        return Err(RestoreError::BackupNotRestorable {
                            id: backup.id,
                            status,
                        })
                    }
                };
                if target.removed {
                    return Err(RestoreError::TargetRemoved(target.name.to_string()));
                }
                if target.engine != engine {
                    return Err(RestoreError::EngineMismatch {
                        backup: engine,
                        target: target.engine,
                    });
                }
                RestoreEvent::RestoreStarted {
                    backup_id: backup.id,
                    source_database_id: source,
                    target_database_id: target.id,
                    target_database_name: target.name,
                    engine,
                    actor,
                    tools,
                    node,
                    local_copy_bytes,
                    selection,
                    point_in_time: None,
                }
            }
            RestoreCommand::StartPointInTime {
                point_in_time,
                source_database_id,
                target,
                actor,
                tools,
                node,
            } => {
                if self.status != RestoreStatus::New {
                    return Err(RestoreError::AlreadyStarted);
                }
                if target.removed {
                    return Err(RestoreError::TargetRemoved(target.name.to_string()));
                }
                if target.engine != Engine::Postgres {
                    return Err(RestoreError::EngineMismatch {
                        backup: Engine::Postgres,
                        target: target.engine,
                    });
                }
                RestoreEvent::RestoreStarted {
                    backup_id: point_in_time.base_backup_id.clone(),
                    source_database_id,
                    target_database_id: target.id,
                    target_database_name: target.name,
                    engine: Engine::Postgres,
                    actor,
                    tools,
                    node,
                    local_copy_bytes: None,
                    selection: None,
                    point_in_time: Some(Box::new(point_in_time)),
                }
            }
            RestoreCommand::Progress { step, detail } => {
                self.require_running()?;
                RestoreEvent::RestoreProgressed { step, detail }
            }
            RestoreCommand::Complete {
                duration_ms,
                previous_kept_as,
                warnings,
            } => {
                self.require_running()?;
                RestoreEvent::RestoreCompleted {
                    duration_ms,
                    previous_kept_as,
                    warnings,
                }
            }
            RestoreCommand::Fail {
                failure,
                duration_ms,
            } => {
                self.require_running()?;
                RestoreEvent::RestoreFailed {
                    failure,
                    duration_ms,
                }
            }
            RestoreCommand::RequestCancel { actor } => self.request_cancel(actor)?,
            RestoreCommand::Cancel { duration_ms } => self.cancel(duration_ms)?,
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            RestoreEvent::RestoreStarted {
                backup_id,
                target_database_id,
                point_in_time,
                ..
            } => {
                self.status = RestoreStatus::Running;
                self.backup_id = Some(backup_id);
                self.target_database_id = Some(target_database_id);
                self.point_in_time = point_in_time.is_some();
            }
            RestoreEvent::RestoreProgressed { .. } => {}
            RestoreEvent::RestoreCompleted { .. } => self.status = RestoreStatus::Completed,
            RestoreEvent::RestoreFailed { .. } => self.status = RestoreStatus::Failed,
            RestoreEvent::RestoreCancelRequested { actor } => {
                self.cancel_requested_by = Some(actor)
            }
            RestoreEvent::RestoreCancelled { .. } => self.status = RestoreStatus::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type T = TestFramework<Restore>;

    fn backup(status: BackupStatus) -> BackupFacts {
        BackupFacts {
            id: "b1".into(),
            status,
            engine: Some(Engine::Postgres),
            database_id: Some("db1".into()),
        }
    }

    fn target(engine: Engine, removed: bool) -> DatabaseFacts {
        DatabaseFacts {
            id: "db2".into(),
            name: DatabaseName::parse("copy").unwrap(),
            engine,
            removed,
        }
    }

    fn start(b: BackupStatus, engine: Engine, removed: bool) -> RestoreCommand {
        RestoreCommand::Start {
            backup: backup(b),
            target: target(engine, removed),
            actor: "admin".into(),
            tools: ToolInfo::default(),
            node: "n1".into(),
            local_copy_bytes: Some(42),
            selection: None,
        }
    }

    fn started() -> RestoreEvent {
        RestoreEvent::RestoreStarted {
            backup_id: "b1".into(),
            source_database_id: "db1".into(),
            target_database_id: "db2".into(),
            target_database_name: DatabaseName::parse("copy").unwrap(),
            engine: Engine::Postgres,
            actor: "admin".into(),
            tools: ToolInfo::default(),
            node: "n1".into(),
            local_copy_bytes: Some(42),
            selection: None,
            point_in_time: None,
        }
    }

    #[test]
    fn a_point_in_time_restore_goes_into_a_postgres_target() {
        let pit = PointInTime {
            base_backup_id: "bb".into(),
            target_time: DateTime::from_timestamp(1_800_000_000, 0),
            target_lsn: None,
            cluster_path: None,
        };
        let cmd = |engine| RestoreCommand::StartPointInTime {
            point_in_time: pit.clone(),
            source_database_id: "db1".into(),
            target: target(engine, false),
            actor: "admin".into(),
            tools: ToolInfo::default(),
            node: "n1".into(),
        };
        T::with(())
            .given_no_previous_events()
            .when(cmd(Engine::Mysql))
            .then_expect_error(RestoreError::EngineMismatch {
                backup: Engine::Postgres,
                target: Engine::Mysql,
            });
        T::with(())
            .given_no_previous_events()
            .when(cmd(Engine::Postgres))
            .then_expect_events(vec![RestoreEvent::RestoreStarted {
                backup_id: "bb".into(),
                source_database_id: "db1".into(),
                target_database_id: "db2".into(),
                target_database_name: DatabaseName::parse("copy").unwrap(),
                engine: Engine::Postgres,
                actor: "admin".into(),
                tools: ToolInfo::default(),
                node: "n1".into(),
                local_copy_bytes: None,
                selection: None,
                point_in_time: Some(Box::new(pit.clone())),
            }]);
    }

    #[test]
    fn restores_a_completed_backup() {
        T::with(())
            .given_no_previous_events()
            .when(start(BackupStatus::Completed, Engine::Postgres, false))
            .then_expect_events(vec![started()]);
    }

    #[test]
    fn refuses_failed_running_or_unknown_backups() {
        for s in [
            BackupStatus::Failed,
            BackupStatus::Running,
            BackupStatus::Abandoned,
        ] {
            T::with(())
                .given_no_previous_events()
                .when(start(s, Engine::Postgres, false))
                .then_expect_error(RestoreError::BackupNotRestorable {
                    id: "b1".into(),
                    status: s,
                });
        }
        T::with(())
            .given_no_previous_events()
            .when(start(BackupStatus::New, Engine::Postgres, false))
            .then_expect_error(RestoreError::BackupNotFound);
    }

    #[test]
    fn refuses_engine_mismatch_and_removed_targets() {
        T::with(())
            .given_no_previous_events()
            .when(start(BackupStatus::Completed, Engine::Mysql, false))
            .then_expect_error(RestoreError::EngineMismatch {
                backup: Engine::Postgres,
                target: Engine::Mysql,
            });
        T::with(())
            .given_no_previous_events()
            .when(start(BackupStatus::Completed, Engine::Postgres, true))
            .then_expect_error(RestoreError::TargetRemoved("copy".into()));
    }

    #[test]
    fn completes_once() {
        let done = RestoreEvent::RestoreCompleted {
            duration_ms: 3,
            previous_kept_as: None,
            warnings: vec![],
        };
        T::with(())
            .given(vec![started()])
            .when(RestoreCommand::Complete {
                duration_ms: 3,
                previous_kept_as: None,
                warnings: vec![],
            })
            .then_expect_events(vec![done.clone()]);
        T::with(())
            .given(vec![started(), done])
            .when(RestoreCommand::Fail {
                failure: Failure::default(),
                duration_ms: 3,
            })
            .then_expect_error(RestoreError::NotRunning(RestoreStatus::Completed));
    }
}
