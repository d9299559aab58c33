//! The BaseBackup aggregate: one `pg_basebackup` of an archived server, the starting point of
//! a point-in-time restore (the WAL archived after it is replayed on top).

use crate::archive::BackupLsns;
use crate::backup::StoredArtifact;
use crate::values::Failure;
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

// One command or event at a time, briefly: the size of the completed artifact is not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum BaseBackupCommand {
    Start {
        database_id: String,
        /// `manual` or `scheduled`.
        trigger: String,
        node: String,
    },
    Complete {
        artifact: StoredArtifact,
        lsns: BackupLsns,
        started_at: DateTime<Utc>,
        stopped_at: DateTime<Utc>,
        duration_ms: u64,
    },
    Fail {
        failure: Failure,
        duration_ms: u64,
    },
    /// Retention lets this completed base backup go (its files are deleted after).
    Prune {
        policy: String,
        reason: String,
    },
    ConfirmDeleted,
}

#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BaseBackupEvent {
    BaseBackupStarted {
        database_id: String,
        trigger: String,
        node: String,
    },
    BaseBackupCompleted {
        artifact: StoredArtifact,
        #[serde(flatten)]
        lsns: BackupLsns,
        started_at: DateTime<Utc>,
        stopped_at: DateTime<Utc>,
        duration_ms: u64,
    },
    BaseBackupFailed {
        #[serde(flatten)]
        failure: Failure,
        duration_ms: u64,
    },
    BaseBackupPruned {
        policy: String,
        reason: String,
    },
    /// The pruned base backup's objects are gone from every destination.
    BaseBackupArtifactDeleted {},
}

impl BaseBackupEvent {
    pub fn name(&self) -> &'static str {
        match self {
            BaseBackupEvent::BaseBackupStarted { .. } => "BaseBackupStarted",
            BaseBackupEvent::BaseBackupCompleted { .. } => "BaseBackupCompleted",
            BaseBackupEvent::BaseBackupFailed { .. } => "BaseBackupFailed",
            BaseBackupEvent::BaseBackupPruned { .. } => "BaseBackupPruned",
            BaseBackupEvent::BaseBackupArtifactDeleted {} => "BaseBackupArtifactDeleted",
        }
    }
}

impl DomainEvent for BaseBackupEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaseBackupStatus {
    #[default]
    New,
    Running,
    Completed,
    Failed,
    Pruned,
}

impl BaseBackupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BaseBackupStatus::New => "new",
            BaseBackupStatus::Running => "running",
            BaseBackupStatus::Completed => "completed",
            BaseBackupStatus::Failed => "failed",
            BaseBackupStatus::Pruned => "pruned",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseBackupError {
    #[error("this base backup has already started")]
    AlreadyStarted,
    #[error("this base backup is {0:?}, not running")]
    NotRunning(BaseBackupStatus),
    #[error("this base backup is {0:?}, not completed")]
    NotCompleted(BaseBackupStatus),
    #[error("this base backup is not pruned, or its files are already deleted")]
    NotPendingDeletion,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseBackup {
    pub status: BaseBackupStatus,
    pub database_id: Option<String>,
    pub trigger: Option<String>,
    pub artifact: Option<StoredArtifact>,
    pub lsns: Option<BackupLsns>,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    pub failure: Option<Failure>,
    /// Pruned and its objects deleted.
    pub artifact_deleted: bool,
}

impl Aggregate for BaseBackup {
    const TYPE: &'static str = "BaseBackup";
    type Command = BaseBackupCommand;
    type Event = BaseBackupEvent;
    type Error = BaseBackupError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let running = self.status == BaseBackupStatus::Running;
        let event = match command {
            BaseBackupCommand::Start {
                database_id,
                trigger,
                node,
            } => {
                if self.status != BaseBackupStatus::New {
                    return Err(BaseBackupError::AlreadyStarted);
                }
                BaseBackupEvent::BaseBackupStarted {
                    database_id,
                    trigger,
                    node,
                }
            }
            BaseBackupCommand::Prune { policy, reason } => {
                if self.status != BaseBackupStatus::Completed {
                    return Err(BaseBackupError::NotCompleted(self.status));
                }
                BaseBackupEvent::BaseBackupPruned { policy, reason }
            }
            BaseBackupCommand::ConfirmDeleted => {
                if self.status != BaseBackupStatus::Pruned || self.artifact_deleted {
                    return Err(BaseBackupError::NotPendingDeletion);
                }
                BaseBackupEvent::BaseBackupArtifactDeleted {}
            }
            _ if !running => return Err(BaseBackupError::NotRunning(self.status)),
            BaseBackupCommand::Complete {
                artifact,
                lsns,
                started_at,
                stopped_at,
                duration_ms,
            } => BaseBackupEvent::BaseBackupCompleted {
                artifact,
                lsns,
                started_at,
                stopped_at,
                duration_ms,
            },
            BaseBackupCommand::Fail {
                failure,
                duration_ms,
            } => BaseBackupEvent::BaseBackupFailed {
                failure,
                duration_ms,
            },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            BaseBackupEvent::BaseBackupStarted {
                database_id,
                trigger,
                ..
            } => {
                self.status = BaseBackupStatus::Running;
                self.database_id = Some(database_id);
                self.trigger = Some(trigger);
            }
            BaseBackupEvent::BaseBackupCompleted {
                artifact,
                lsns,
                started_at,
                stopped_at,
                duration_ms,
            } => {
                self.status = BaseBackupStatus::Completed;
                self.artifact = Some(artifact);
                self.lsns = Some(lsns);
                self.started_at = Some(started_at);
                self.stopped_at = Some(stopped_at);
                self.duration_ms = Some(duration_ms);
            }
            BaseBackupEvent::BaseBackupFailed {
                failure,
                duration_ms,
            } => {
                self.status = BaseBackupStatus::Failed;
                self.failure = Some(failure);
                self.duration_ms = Some(duration_ms);
            }
            BaseBackupEvent::BaseBackupPruned { .. } => self.status = BaseBackupStatus::Pruned,
            BaseBackupEvent::BaseBackupArtifactDeleted {} => self.artifact_deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Stage;
    use cqrs_es::test::TestFramework;

    #[test]
    fn only_a_running_base_backup_ends() {
        let failure = Failure {
            stage: Stage::Dump,
            message: "m".into(),
            stderr_tail: String::new(),
        };
        TestFramework::<BaseBackup>::with(())
            .given_no_previous_events()
            .when(BaseBackupCommand::Fail {
                failure: failure.clone(),
                duration_ms: 1,
            })
            .then_expect_error(BaseBackupError::NotRunning(BaseBackupStatus::New));
        TestFramework::<BaseBackup>::with(())
            .given(vec![BaseBackupEvent::BaseBackupStarted {
                database_id: "d".into(),
                trigger: "manual".into(),
                node: "n".into(),
            }])
            .when(BaseBackupCommand::Fail {
                failure: failure.clone(),
                duration_ms: 1,
            })
            .then_expect_events(vec![BaseBackupEvent::BaseBackupFailed {
                failure,
                duration_ms: 1,
            }]);
    }
}
