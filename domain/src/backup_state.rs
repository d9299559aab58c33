//! A backup's status and what its commands refuse.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackupStatus {
    #[default]
    New,
    Running,
    Completed,
    Failed,
    Abandoned,
    /// Stopped on request before it completed.
    Cancelled,
    /// Retention let it go: it stays in the history, its files are deleted.
    Pruned,
}

impl BackupStatus {
    /// The status as it is serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupStatus::New => "new",
            BackupStatus::Running => "running",
            BackupStatus::Completed => "completed",
            BackupStatus::Failed => "failed",
            BackupStatus::Abandoned => "abandoned",
            BackupStatus::Cancelled => "cancelled",
            BackupStatus::Pruned => "pruned",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    #[error("no such database")]
    DatabaseNotFound,
    #[error("database {0} was removed; it cannot be backed up")]
    DatabaseRemoved(String),
    #[error("this backup has already started")]
    AlreadyStarted,
    #[error("no such backup")]
    NotFound,
    #[error("this backup is {0:?}, not running; it cannot change any more")]
    NotRunning(BackupStatus),
    #[error("only completed versions can be pinned or pruned; this one is {0:?}")]
    NotCompleted(BackupStatus),
    #[error("this version is pinned; unpin it first")]
    Pinned,
    #[error("this version is already pinned")]
    AlreadyPinned,
    #[error("this version is not pinned")]
    NotPinned,
    #[error("this version was not pruned, or its files are already deleted")]
    NothingToDelete,
    #[error("nobody asked this backup to stop")]
    NotCancelRequested,
}
