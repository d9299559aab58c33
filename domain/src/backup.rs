//! The Backup aggregate: one version of one database.

use crate::values::{DatabaseName, Engine, Failure};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// What started a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Trigger {
    Manual { actor: String },
    Scheduled { slot: String },
}

/// Whether a backup was started by hand or by its schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerKind {
    Manual,
    Scheduled,
}

impl Trigger {
    pub fn kind(&self) -> TriggerKind {
        match self {
            Trigger::Manual { .. } => TriggerKind::Manual,
            Trigger::Scheduled { .. } => TriggerKind::Scheduled,
        }
    }

    /// The scheduled slot it ran for.
    pub fn slot(&self) -> Option<&str> {
        match self {
            Trigger::Scheduled { slot } => Some(slot),
            Trigger::Manual { .. } => None,
        }
    }
}

/// What the command handler knows of the database at the time of the command (read from the
/// Database aggregate by the application layer).
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseFacts {
    pub id: String,
    pub name: DatabaseName,
    pub engine: Engine,
    pub removed: bool,
}

pub use crate::artifact::{
    parts_digest, parts_list, ArtifactCopy, ArtifactPart, PartRole, StoredArtifact, ToolInfo,
};

#[derive(Debug, Clone, PartialEq)]
pub enum BackupCommand {
    Start {
        database: DatabaseFacts,
        trigger: Trigger,
        tools: ToolInfo,
        node: String,
    },
    Complete {
        artifact: StoredArtifact,
        duration_ms: u64,
    },
    Fail {
        failure: Failure,
        duration_ms: u64,
    },
    Abandon {
        reason: String,
    },
    /// Someone asks a running backup to stop; the process running it notices and stops it.
    RequestCancel {
        actor: String,
    },
    /// The process running it stopped it on request: nothing of it is left.
    Cancel {
        duration_ms: u64,
    },
    Pin {
        actor: String,
    },
    Unpin {
        actor: String,
    },
    /// Retention lets this version go; its files are deleted after the event is recorded.
    Prune {
        policy: String,
        reason: String,
    },
    /// The artifact and manifest of a pruned version are gone from storage.
    ConfirmDeleted,
    /// Deleting a pruned version's files failed; the sweep retries.
    RecordDeletionFailure {
        error: String,
    },
    /// Records a re-read of the stored artifact (`backline verify`).
    Verify {
        ok: bool,
        detail: String,
        storage: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BackupEvent {
    BackupStarted {
        database_id: String,
        database_name: DatabaseName,
        engine: Engine,
        trigger: Trigger,
        #[serde(flatten)]
        tools: ToolInfo,
        node: String,
    },
    BackupCompleted {
        #[serde(flatten)]
        artifact: StoredArtifact,
        duration_ms: u64,
    },
    BackupFailed {
        #[serde(flatten)]
        failure: Failure,
        duration_ms: u64,
    },
    BackupAbandoned {
        reason: String,
    },
    /// `actor` asked this running backup to stop.
    BackupCancelRequested {
        actor: String,
    },
    /// The backup was stopped on `actor`'s request: its tool killed, its partial uploads
    /// removed; no version was made.
    BackupCancelled {
        actor: String,
        duration_ms: u64,
    },
    BackupPinned {
        actor: String,
    },
    BackupUnpinned {
        actor: String,
    },
    BackupPruned {
        policy: String,
        reason: String,
    },
    BackupArtifactDeleted {},
    BackupDeletionFailed {
        error: String,
    },
    /// A stored artifact was re-read: its sha256 (and decryptability, when the key is
    /// present) checked out, or not.
    BackupVerified {
        ok: bool,
        detail: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        storage: Option<String>,
    },
    /// One destination of a completed backup did not get its copy (alert-worthy: the backup
    /// is degraded, not lost). Recorded right after `BackupCompleted`.
    BackupCopyFailed {
        storage: String,
        key: String,
        message: String,
    },
}

impl BackupEvent {
    /// The event's type name, as the ledger stores it.
    pub fn name(&self) -> &'static str {
        match self {
            BackupEvent::BackupStarted { .. } => "BackupStarted",
            BackupEvent::BackupCompleted { .. } => "BackupCompleted",
            BackupEvent::BackupFailed { .. } => "BackupFailed",
            BackupEvent::BackupAbandoned { .. } => "BackupAbandoned",
            BackupEvent::BackupCancelRequested { .. } => "BackupCancelRequested",
            BackupEvent::BackupCancelled { .. } => "BackupCancelled",
            BackupEvent::BackupPinned { .. } => "BackupPinned",
            BackupEvent::BackupUnpinned { .. } => "BackupUnpinned",
            BackupEvent::BackupPruned { .. } => "BackupPruned",
            BackupEvent::BackupArtifactDeleted {} => "BackupArtifactDeleted",
            BackupEvent::BackupDeletionFailed { .. } => "BackupDeletionFailed",
            BackupEvent::BackupVerified { .. } => "BackupVerified",
            BackupEvent::BackupCopyFailed { .. } => "BackupCopyFailed",
        }
    }
}

impl DomainEvent for BackupEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

pub use crate::backup_state::{BackupError, BackupStatus};

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    pub status: BackupStatus,
    pub database_id: Option<String>,
    pub engine: Option<Engine>,
    pub artifact: Option<StoredArtifact>,
    #[serde(default)]
    pub pinned: bool,
    #[serde(default)]
    pub artifact_deleted: bool,
    /// Who asked this running backup to stop.
    #[serde(default)]
    pub cancel_requested_by: Option<String>,
}

impl Backup {
    fn require_running(&self) -> Result<(), BackupError> {
        match self.status {
            BackupStatus::New => Err(BackupError::NotFound),
            BackupStatus::Running => Ok(()),
            other => Err(BackupError::NotRunning(other)),
        }
    }
}

impl Backup {
    /// Asking again is recorded again (the runner is on it already).
    fn request_cancel(&self, actor: String) -> Result<BackupEvent, BackupError> {
        self.require_running()?;
        Ok(BackupEvent::BackupCancelRequested { actor })
    }

    fn cancel(&self, duration_ms: u64) -> Result<BackupEvent, BackupError> {
        self.require_running()?;
        let actor = self
            .cancel_requested_by
            .clone()
            .ok_or(BackupError::NotCancelRequested)?;
        Ok(BackupEvent::BackupCancelled { actor, duration_ms })
    }

    fn start(
        &self,
        database: DatabaseFacts,
        trigger: Trigger,
        tools: ToolInfo,
        node: String,
    ) -> Result<BackupEvent, BackupError> {
        if self.status != BackupStatus::New {
            return Err(BackupError::AlreadyStarted);
        }
        if database.removed {
            return Err(BackupError::DatabaseRemoved(database.name.to_string()));
        }
        Ok(BackupEvent::BackupStarted {
            database_id: database.id,
            database_name: database.name,
            engine: database.engine,
            trigger,
            tools,
            node,
        })
    }
}

impl Aggregate for Backup {
    const TYPE: &'static str = "Backup";
    type Command = BackupCommand;
    type Event = BackupEvent;
    type Error = BackupError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            BackupCommand::Start {
                database,
                trigger,
                tools,
                node,
            } => self.start(database, trigger, tools, node)?,
            BackupCommand::Complete {
                artifact,
                duration_ms,
            } => {
                self.require_running()?;
                let failed: Vec<BackupEvent> = artifact
                    .copies
                    .iter()
                    .filter(|c| !c.ok)
                    .map(|c| BackupEvent::BackupCopyFailed {
                        storage: c.storage.clone(),
                        key: c.key.clone(),
                        message: c.error.clone().unwrap_or_default(),
                    })
                    .collect();
                sink.write(
                    BackupEvent::BackupCompleted {
                        artifact,
                        duration_ms,
                    },
                    self,
                )
                .await;
                for e in failed {
                    sink.write(e, self).await;
                }
                return Ok(());
            }
            BackupCommand::Fail {
                failure,
                duration_ms,
            } => {
                self.require_running()?;
                BackupEvent::BackupFailed {
                    failure,
                    duration_ms,
                }
            }
            BackupCommand::Abandon { reason } => {
                self.require_running()?;
                BackupEvent::BackupAbandoned { reason }
            }
            BackupCommand::RequestCancel { actor } => self.request_cancel(actor)?,
            BackupCommand::Cancel { duration_ms } => self.cancel(duration_ms)?,
            BackupCommand::Pin { actor } => {
                if self.status != BackupStatus::Completed {
                    return Err(BackupError::NotCompleted(self.status));
                }
                if self.pinned {
                    return Err(BackupError::AlreadyPinned);
                }
                BackupEvent::BackupPinned { actor }
            }
            BackupCommand::Unpin { actor } => {
                if !self.pinned {
                    return Err(BackupError::NotPinned);
                }
                BackupEvent::BackupUnpinned { actor }
            }
            BackupCommand::Prune { policy, reason } => {
                if self.status != BackupStatus::Completed {
                    return Err(BackupError::NotCompleted(self.status));
                }
                if self.pinned {
                    return Err(BackupError::Pinned);
                }
                BackupEvent::BackupPruned { policy, reason }
            }
            BackupCommand::ConfirmDeleted => {
                if self.status != BackupStatus::Pruned || self.artifact_deleted {
                    return Err(BackupError::NothingToDelete);
                }
                BackupEvent::BackupArtifactDeleted {}
            }
            BackupCommand::RecordDeletionFailure { error } => {
                if self.status != BackupStatus::Pruned || self.artifact_deleted {
                    return Err(BackupError::NothingToDelete);
                }
                BackupEvent::BackupDeletionFailed { error }
            }
            BackupCommand::Verify {
                ok,
                detail,
                storage,
            } => {
                if self.status != BackupStatus::Completed || self.artifact_deleted {
                    return Err(BackupError::NotCompleted(self.status));
                }
                BackupEvent::BackupVerified {
                    ok,
                    detail,
                    storage,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            BackupEvent::BackupStarted {
                database_id,
                engine,
                ..
            } => {
                self.status = BackupStatus::Running;
                self.database_id = Some(database_id);
                self.engine = Some(engine);
            }
            BackupEvent::BackupCompleted { artifact, .. } => {
                self.status = BackupStatus::Completed;
                self.artifact = Some(artifact);
            }
            BackupEvent::BackupFailed { .. } => self.status = BackupStatus::Failed,
            BackupEvent::BackupAbandoned { .. } => self.status = BackupStatus::Abandoned,
            BackupEvent::BackupCancelRequested { actor } => self.cancel_requested_by = Some(actor),
            BackupEvent::BackupCancelled { .. } => self.status = BackupStatus::Cancelled,
            BackupEvent::BackupPinned { .. } => self.pinned = true,
            BackupEvent::BackupUnpinned { .. } => self.pinned = false,
            BackupEvent::BackupPruned { .. } => self.status = BackupStatus::Pruned,
            BackupEvent::BackupArtifactDeleted {} => self.artifact_deleted = true,
            BackupEvent::BackupDeletionFailed { .. } => {}
            BackupEvent::BackupVerified { .. } | BackupEvent::BackupCopyFailed { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type T = TestFramework<Backup>;

    fn facts(removed: bool) -> DatabaseFacts {
        DatabaseFacts {
            id: "db1".into(),
            name: DatabaseName::parse("shop").unwrap(),
            engine: Engine::Postgres,
            removed,
        }
    }

    fn start() -> BackupCommand {
        BackupCommand::Start {
            database: facts(false),
            trigger: Trigger::Manual {
                actor: "admin".into(),
            },
            tools: ToolInfo::default(),
            node: "n1".into(),
        }
    }

    fn started() -> BackupEvent {
        BackupEvent::BackupStarted {
            database_id: "db1".into(),
            database_name: DatabaseName::parse("shop").unwrap(),
            engine: Engine::Postgres,
            trigger: Trigger::Manual {
                actor: "admin".into(),
            },
            tools: ToolInfo::default(),
            node: "n1".into(),
        }
    }

    fn artifact() -> StoredArtifact {
        StoredArtifact {
            storage: "fs".into(),
            key: "k".into(),
            bytes: 10,
            raw_bytes: 20,
            sha256: "ab".into(),
            compression: "zstd".into(),
            encrypted: false,
            copies: vec![],
            warnings: Vec::new(),
            database_properties: None,
            parts: Vec::new(),
        }
    }

    fn completed() -> BackupEvent {
        BackupEvent::BackupCompleted {
            artifact: artifact(),
            duration_ms: 5,
        }
    }

    #[test]
    fn a_running_backup_is_asked_to_stop_then_cancelled_by_its_runner() {
        let asked = BackupEvent::BackupCancelRequested {
            actor: "user:dana".into(),
        };
        T::with(())
            .given(vec![started()])
            .when(BackupCommand::RequestCancel {
                actor: "user:dana".into(),
            })
            .then_expect_events(vec![asked.clone()]);
        T::with(())
            .given(vec![started(), asked])
            .when(BackupCommand::Cancel { duration_ms: 7 })
            .then_expect_events(vec![BackupEvent::BackupCancelled {
                actor: "user:dana".into(),
                duration_ms: 7,
            }]);
        // Nobody asked: the runner cannot record a cancel.
        T::with(())
            .given(vec![started()])
            .when(BackupCommand::Cancel { duration_ms: 7 })
            .then_expect_error(BackupError::NotCancelRequested);
        // Ended: nothing to stop.
        T::with(())
            .given(vec![started(), completed()])
            .when(BackupCommand::RequestCancel { actor: "a".into() })
            .then_expect_error(BackupError::NotRunning(BackupStatus::Completed));
    }

    #[test]
    fn starts_for_a_live_database() {
        T::with(())
            .given_no_previous_events()
            .when(start())
            .then_expect_events(vec![started()]);
    }

    #[test]
    fn removed_database_cannot_be_backed_up() {
        T::with(())
            .given_no_previous_events()
            .when(BackupCommand::Start {
                database: facts(true),
                trigger: Trigger::Scheduled {
                    slot: "2026-01-01T00:00:00Z".into(),
                },
                tools: ToolInfo::default(),
                node: "n1".into(),
            })
            .then_expect_error(BackupError::DatabaseRemoved("shop".into()));
    }

    #[test]
    fn cannot_start_twice() {
        T::with(())
            .given(vec![started()])
            .when(start())
            .then_expect_error(BackupError::AlreadyStarted);
    }

    #[test]
    fn completes_once() {
        T::with(())
            .given(vec![started()])
            .when(BackupCommand::Complete {
                artifact: artifact(),
                duration_ms: 5,
            })
            .then_expect_events(vec![completed()]);
        T::with(())
            .given(vec![started(), completed()])
            .when(BackupCommand::Complete {
                artifact: artifact(),
                duration_ms: 5,
            })
            .then_expect_error(BackupError::NotRunning(BackupStatus::Completed));
    }

    #[test]
    fn failed_backup_cannot_complete() {
        let failed = BackupEvent::BackupFailed {
            failure: Failure {
                stage: "dump".into(),
                message: "boom".into(),
                stderr_tail: String::new(),
            },
            duration_ms: 1,
        };
        T::with(())
            .given(vec![started(), failed])
            .when(BackupCommand::Complete {
                artifact: artifact(),
                duration_ms: 5,
            })
            .then_expect_error(BackupError::NotRunning(BackupStatus::Failed));
    }

    #[test]
    fn unknown_backup_cannot_fail_or_be_abandoned() {
        T::with(())
            .given_no_previous_events()
            .when(BackupCommand::Abandon { reason: "x".into() })
            .then_expect_error(BackupError::NotFound);
    }

    #[test]
    fn pinned_versions_cannot_be_pruned() {
        let pinned = BackupEvent::BackupPinned { actor: "a".into() };
        T::with(())
            .given(vec![started(), completed()])
            .when(BackupCommand::Pin { actor: "a".into() })
            .then_expect_events(vec![pinned.clone()]);
        T::with(())
            .given(vec![started(), completed(), pinned.clone()])
            .when(BackupCommand::Prune {
                policy: "keep_last=1".into(),
                reason: "r".into(),
            })
            .then_expect_error(BackupError::Pinned);
        T::with(())
            .given(vec![
                started(),
                completed(),
                pinned,
                BackupEvent::BackupUnpinned { actor: "a".into() },
            ])
            .when(BackupCommand::Prune {
                policy: "keep_last=1".into(),
                reason: "r".into(),
            })
            .then_expect_events(vec![BackupEvent::BackupPruned {
                policy: "keep_last=1".into(),
                reason: "r".into(),
            }]);
    }

    #[test]
    fn only_completed_versions_are_pruned_and_files_deleted_once() {
        T::with(())
            .given(vec![started()])
            .when(BackupCommand::Prune {
                policy: "p".into(),
                reason: "r".into(),
            })
            .then_expect_error(BackupError::NotCompleted(BackupStatus::Running));
        let pruned = BackupEvent::BackupPruned {
            policy: "p".into(),
            reason: "r".into(),
        };
        T::with(())
            .given(vec![started(), completed(), pruned.clone()])
            .when(BackupCommand::ConfirmDeleted)
            .then_expect_events(vec![BackupEvent::BackupArtifactDeleted {}]);
        T::with(())
            .given(vec![
                started(),
                completed(),
                pruned,
                BackupEvent::BackupArtifactDeleted {},
            ])
            .when(BackupCommand::ConfirmDeleted)
            .then_expect_error(BackupError::NothingToDelete);
    }

    #[test]
    fn running_backup_can_be_abandoned() {
        T::with(())
            .given(vec![started()])
            .when(BackupCommand::Abandon {
                reason: "node died".into(),
            })
            .then_expect_events(vec![BackupEvent::BackupAbandoned {
                reason: "node died".into(),
            }]);
    }

    fn copy(name: &str, ok: bool) -> ArtifactCopy {
        ArtifactCopy {
            name: name.into(),
            storage: format!("fs:///{name}"),
            key: "k".into(),
            sha256: "ab".into(),
            ok,
            error: (!ok).then(|| "disk full".to_string()),
        }
    }

    #[test]
    fn a_failed_copy_completes_degraded_with_an_alert_event() {
        let mut a = artifact();
        a.copies = vec![copy("local", true), copy("offsite", false)];
        T::with(())
            .given(vec![started()])
            .when(BackupCommand::Complete {
                artifact: a.clone(),
                duration_ms: 5,
            })
            .then_expect_events(vec![
                BackupEvent::BackupCompleted {
                    artifact: a.clone(),
                    duration_ms: 5,
                },
                BackupEvent::BackupCopyFailed {
                    storage: "fs:///offsite".into(),
                    key: "k".into(),
                    message: "disk full".into(),
                },
            ]);
        assert_eq!(a.healthy_copies(), vec![copy("local", true)]);
        assert_eq!(
            artifact().healthy_copies().len(),
            1,
            "old events: the artifact itself"
        );
    }

    #[test]
    fn only_completed_versions_are_verified() {
        let verify = || BackupCommand::Verify {
            ok: true,
            detail: "sha256 ok".into(),
            storage: None,
        };
        T::with(())
            .given(vec![started(), completed()])
            .when(verify())
            .then_expect_events(vec![BackupEvent::BackupVerified {
                ok: true,
                detail: "sha256 ok".into(),
                storage: None,
            }]);
        T::with(())
            .given(vec![started()])
            .when(verify())
            .then_expect_error(BackupError::NotCompleted(BackupStatus::Running));
    }
}
