//! A database's `backup_jobs`: how many `pg_dump` processes, sharing one exported snapshot,
//! a backup runs. PostgreSQL only; 1 (the default) is one stream.

use crate::database::{Database, DatabaseError, DatabaseEvent};
use crate::values::Engine;

/// The most `pg_dump` processes one backup may run.
pub const MAX_BACKUP_JOBS: u32 = 16;

impl Database {
    /// How many `pg_dump` processes a backup of this database runs (1: one stream).
    pub fn backup_jobs(&self) -> u32 {
        self.backup_jobs.max(1)
    }

    /// Whether `jobs` may be set on a database of `engine` (the rule `SetBackupJobs` keeps).
    pub fn check_backup_jobs(engine: Engine, jobs: u32) -> Result<(), DatabaseError> {
        if !(1..=MAX_BACKUP_JOBS).contains(&jobs) {
            return Err(DatabaseError::BackupJobsOutOfRange(jobs));
        }
        if engine != Engine::Postgres && jobs > 1 {
            return Err(DatabaseError::BackupJobsNotSupported(engine));
        }
        Ok(())
    }

    /// The event of `SetBackupJobs`.
    pub(crate) fn backup_jobs_set(&self, backup_jobs: u32) -> Result<DatabaseEvent, DatabaseError> {
        if !self.registered {
            return Err(DatabaseError::NotFound);
        }
        if self.removed {
            return Err(DatabaseError::Removed);
        }
        if let Some(engine) = self.engine {
            Self::check_backup_jobs(engine, backup_jobs)?;
        }
        if backup_jobs == self.backup_jobs() {
            return Err(DatabaseError::NothingToChange);
        }
        Ok(DatabaseEvent::BackupJobsSet { backup_jobs })
    }
}
