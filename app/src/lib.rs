//! Backline's application: the use cases, one module per context, each a small service over a
//! shared [`Core`] (ledger, read models, storages, keys, settings, coordination). The HTTP API
//! and the CLI call these; nothing here knows HTTP.
//!
//! | context | service |
//! | --- | --- |
//! | users, tokens, sessions | [`Access`] |
//! | registered databases | [`Databases`] |
//! | backups (start, run, manifest, pins) | [`Backups`] |
//! | restores | [`Restores`] |
//! | restore drills | [`Drills`] |
//! | retention | [`Retention`] |
//! | scheduled runs, abandoned work | [`Scheduler`] |
//! | alerts, watchdogs, deliveries, channels | [`Alerting`] |
//! | re-reading stored artifacts | [`Verify`] |
//! | rebuilding history from storage | [`Import`] |
//! | what crashed restores left behind | [`Leftovers`] |

pub mod access;
pub mod alerting;
pub mod archiving;
pub mod backups;
mod coordination;
mod core;
pub mod databases;
pub mod drills;
mod error;
pub mod health;
pub mod import;
pub mod leftovers;
pub mod progress;
pub mod restores;
pub mod retention;
pub mod scheduling;
pub mod seals;
pub mod servers;
pub mod settings;
mod time;
pub mod tunnels;
pub mod verify;

pub use crate::core::{CatchUp, Core, StartError, SMALL_BACKLOG};
pub use access::{Access, Principal};
pub use alerting::Alerting;
pub use archiving::Archiving;
pub use backups::{Backups, Started};
pub use databases::{ConnectionTest, Databases, MissingPrivilege, NewDatabase, ScheduleInput};
pub use drills::{DrillInput, Drills};
pub use error::{AppError, FieldError};
pub use import::{Import, ImportReport, ImportTrust};
pub use leftovers::{Leftover, Leftovers};
pub use restores::{
    ObjectEntry, PitrRequest, RestoreRequest, Restores, TableEntry, VersionContents,
};
pub use retention::{PruneItem, PrunePlan, Retention};
pub use scheduling::Scheduler;
pub use seals::{LedgerStatus, LedgerVerification, SealReport, Seals};
pub use servers::{
    AutoRegisterInput, GlobalsInput, NewServer, Selection, ServerDatabase, Servers, TemplateInput,
};
pub use settings::{AccessSettings, Settings};
pub use time::parse_time;
pub use verify::{Verification, Verify};

use std::ops::Deref;
use std::sync::Arc;

/// The application: the shared core, and a handle on each service.
pub struct App {
    core: Arc<Core>,
}

impl Deref for App {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl App {
    /// Opens the ledger, keys and storages, and catches the read models up.
    pub async fn open(settings: Settings) -> Result<Arc<Self>, StartError> {
        Self::open_with(settings, CatchUp::Now).await
    }

    /// The same, catching up before it returns as `catch_up` says.
    pub async fn open_with(settings: Settings, catch_up: CatchUp) -> Result<Arc<Self>, StartError> {
        Ok(Arc::new(Self {
            core: Arc::new(Core::open(settings, catch_up).await?),
        }))
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    pub fn access(&self) -> Access {
        Access::new(self.core.clone())
    }

    pub fn databases(&self) -> Databases {
        Databases::new(self.core.clone())
    }

    pub fn backups(&self) -> Backups {
        Backups::new(self.core.clone())
    }

    pub fn servers(&self) -> Servers {
        Servers::new(self.core.clone())
    }

    pub fn archiving(&self) -> Archiving {
        Archiving::new(self.core.clone())
    }

    pub fn drills(&self) -> Drills {
        Drills::new(self.core.clone())
    }

    pub fn restores(&self) -> Restores {
        Restores::new(self.core.clone())
    }

    pub fn retention(&self) -> Retention {
        Retention::new(self.core.clone())
    }

    pub fn scheduler(&self) -> Scheduler {
        Scheduler::new(self.core.clone())
    }

    pub fn alerting(&self) -> Alerting {
        Alerting::new(self.core.clone())
    }

    pub fn verification(&self) -> Verify {
        Verify::new(self.core.clone())
    }

    pub fn leftovers(&self) -> Leftovers {
        Leftovers::new(self.core.clone())
    }

    pub fn seals(&self) -> Seals {
        Seals::new(self.core.clone())
    }

    pub fn import(&self) -> Import {
        Import::new(self.core.clone())
    }

    /// Where running backup or restore `id` is (run here or by another process on the ledger).
    pub async fn progress_of(&self, id: &str) -> Option<progress::ProgressView> {
        let p = self.core.coordination.progress_of(id).await?;
        Some(progress::ProgressView::of(
            &p,
            chrono::Utc::now().timestamp_millis(),
        ))
    }

    /// Brings the read models up to what the ledger holds (work run by other processes).
    pub async fn catch_up(&self) {
        self.core.refresh().await;
    }

    /// Bytes processed so far by a backup or restore running in this process.
    pub fn progress(&self, id: &str) -> Option<u64> {
        self.core.coordination.running.progress(id)
    }

    /// The ledger position up to which the alert reactor has reacted.
    pub async fn reactor_position(&self) -> Result<i64, AppError> {
        self.alerting().reactor_position().await
    }

    /// Re-reads one backup's copies (see [`Verify::verify_backup`]).
    pub async fn verify_backup(&self, actor: &str, id: &str) -> Result<Verification, AppError> {
        self.verification().verify_backup(actor, id).await
    }

    /// Rebuilds history from storage (see [`Import::from_storage`]).
    pub async fn import_from_storage(
        &self,
        actor: &str,
        storage: &str,
        connections: &[String],
    ) -> Result<ImportReport, AppError> {
        self.import()
            .from_storage(actor, storage, connections, &ImportTrust::default())
            .await
    }
}
