//! A database's `backup_jobs`: how many `pg_dump` processes, sharing one exported snapshot,
//! a backup runs (PostgreSQL only; 1 is one stream); and its `restore_jobs`: how many
//! `pg_restore` jobs a restore into it runs (PostgreSQL only; by default min(4, cores)).

use super::Databases;
use crate::error::{database_error, AppError};
use backline_domain::{Database, DatabaseCommand, Engine};
use backline_projections::DatabaseView;

impl Databases {
    /// Checks `jobs` for a database of `engine` before anything is changed.
    pub fn check_backup_jobs(&self, engine: Engine, jobs: u32) -> Result<(), AppError> {
        Database::check_backup_jobs(engine, jobs).map_err(|e| database_error(&e))
    }

    /// Sets how many `pg_dump` processes a backup of the database runs (no change: as it is).
    pub async fn set_backup_jobs(
        &self,
        actor: &str,
        reference: &str,
        backup_jobs: u32,
    ) -> Result<DatabaseView, AppError> {
        let current = self.core.resolve_database(reference).await?;
        self.check_backup_jobs(current.engine, backup_jobs)?;
        if current.backup_jobs == backup_jobs {
            return Ok(current);
        }
        self.core
            .change_database(
                actor,
                &current.id,
                DatabaseCommand::SetBackupJobs { backup_jobs },
            )
            .await
    }
}

impl Databases {
    /// Checks restore `jobs` for a database of `engine` before anything is changed.
    pub fn check_restore_jobs(&self, engine: Engine, jobs: u32) -> Result<(), AppError> {
        Database::check_restore_jobs(engine, jobs).map_err(|e| database_error(&e))
    }

    /// Sets how many `pg_restore` jobs a restore into the database runs (no change: as it is).
    pub async fn set_restore_jobs(
        &self,
        actor: &str,
        reference: &str,
        restore_jobs: u32,
    ) -> Result<DatabaseView, AppError> {
        let current = self.core.resolve_database(reference).await?;
        self.check_restore_jobs(current.engine, restore_jobs)?;
        if current.restore_jobs == Some(restore_jobs) {
            return Ok(current);
        }
        self.core
            .change_database(
                actor,
                &current.id,
                DatabaseCommand::SetRestoreJobs { restore_jobs },
            )
            .await
    }
}
