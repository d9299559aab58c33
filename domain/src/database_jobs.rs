//! A database's `backup_jobs`: how many `pg_dump` processes, sharing one exported snapshot,
//! a backup runs. PostgreSQL only; 1 (the default) is one stream. And its `restore_jobs`: how
//! many `pg_restore` jobs a restore into it runs (PostgreSQL only; by default min(4, cores)).

use crate::database::{Database, DatabaseCommand, DatabaseError, DatabaseEvent};
use crate::values::Engine;

/// The most `pg_dump` processes one backup may run.
pub const MAX_BACKUP_JOBS: u32 = 16;
/// The most `pg_restore` jobs one restore may run.
pub const MAX_RESTORE_JOBS: u32 = 16;

impl Database {
    /// How many `pg_dump` processes a backup of this database runs (1: one stream).
    pub fn backup_jobs(&self) -> u32 {
        self.backup_jobs.max(1)
    }

    /// Whether `jobs` may be set on a database of `engine` (the rule `SetBackupJobs` keeps).
    pub fn check_backup_jobs(engine: Engine, jobs: u32) -> Result<(), DatabaseError> {
        check_jobs(
            (engine, jobs, MAX_BACKUP_JOBS),
            DatabaseError::BackupJobsOutOfRange,
            DatabaseError::BackupJobsNotSupported,
        )
    }

    /// The `pg_restore` jobs restores into this database run, when set (`None`: the default).
    pub fn restore_jobs(&self) -> Option<u32> {
        (self.restore_jobs > 0).then_some(self.restore_jobs)
    }

    /// Whether `jobs` may be set on a database of `engine` (the rule `SetRestoreJobs` keeps).
    pub fn check_restore_jobs(engine: Engine, jobs: u32) -> Result<(), DatabaseError> {
        check_jobs(
            (engine, jobs, MAX_RESTORE_JOBS),
            DatabaseError::RestoreJobsOutOfRange,
            DatabaseError::RestoreJobsNotSupported,
        )
    }

    /// The event of `SetBackupJobs` or `SetRestoreJobs`: on a live database, a value its
    /// engine allows, different from what it is.
    pub(crate) fn jobs_event(&self, c: DatabaseCommand) -> Result<DatabaseEvent, DatabaseError> {
        self.require_live()?;
        let (event, unchanged) = match c {
            DatabaseCommand::SetBackupJobs { backup_jobs } => {
                if let Some(engine) = self.engine {
                    Self::check_backup_jobs(engine, backup_jobs)?;
                }
                let unchanged = backup_jobs == self.backup_jobs();
                (DatabaseEvent::BackupJobsSet { backup_jobs }, unchanged)
            }
            DatabaseCommand::SetRestoreJobs { restore_jobs } => {
                if let Some(engine) = self.engine {
                    Self::check_restore_jobs(engine, restore_jobs)?;
                }
                let unchanged = self.restore_jobs() == Some(restore_jobs);
                (DatabaseEvent::RestoreJobsSet { restore_jobs }, unchanged)
            }
            _ => return Err(DatabaseError::NothingToChange),
        };
        if unchanged {
            return Err(DatabaseError::NothingToChange);
        }
        Ok(event)
    }
}

/// The rule both settings keep: 1 to `max`, and above 1 only for PostgreSQL.
fn check_jobs(
    (engine, jobs, max): (Engine, u32, u32),
    out_of_range: fn(u32) -> DatabaseError,
    not_supported: fn(Engine) -> DatabaseError,
) -> Result<(), DatabaseError> {
    if !(1..=max).contains(&jobs) {
        return Err(out_of_range(jobs));
    }
    if engine != Engine::Postgres && jobs > 1 {
        return Err(not_supported(engine));
    }
    Ok(())
}

/// The timeline's line for a change of `backup_jobs` or `restore_jobs`.
pub(crate) fn summary(e: &DatabaseEvent) -> String {
    match e {
        DatabaseEvent::BackupJobsSet { backup_jobs: 1 } => "backups run as one pg_dump".into(),
        DatabaseEvent::BackupJobsSet { backup_jobs } => {
            format!("backups run {backup_jobs} pg_dump processes on one snapshot")
        }
        DatabaseEvent::RestoreJobsSet { restore_jobs: 1 } => {
            "restores into it run one pg_restore stream".into()
        }
        DatabaseEvent::RestoreJobsSet { restore_jobs } => {
            format!("restores into it run pg_restore with {restore_jobs} jobs")
        }
        _ => String::new(),
    }
}
