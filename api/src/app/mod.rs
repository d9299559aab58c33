//! The application: command handlers shared by the HTTP API and the CLI.

use crate::config::Settings;
use backline_domain::backup::DatabaseFacts;
use backline_domain::*;
use backline_infra::claims::{Holder, Kind};
use backline_infra::drivers::{self, Probe, RestoreOptions, StageError, ToolConfig};
use backline_infra::ledger::Cqrs;
use backline_infra::local_copy::{LocalArtifact, LocalCopyError, StoredObject};
use backline_infra::pipeline;
use backline_infra::secrets::{Keyring, MasterKey};
use backline_infra::storage::{artifact_key, manifest_key, ArtifactStore};
use backline_infra::{EventMeta, Ledger};
use backline_projections::{DatabaseView, Projections};
use cqrs_es::AggregateError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::task::JoinHandle;

/// How long a claim is presumed to belong to a request still on its way to the ledger.
const IN_FLIGHT_SECS: i64 = 60;

/// What can go wrong with a command, in terms the HTTP layer maps to a status.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<backline_projections::ProjectionError> for AppError {
    fn from(e: backline_projections::ProjectionError) -> Self {
        AppError::internal(e)
    }
}

impl From<backline_infra::secrets::SecretError> for AppError {
    fn from(e: backline_infra::secrets::SecretError) -> Self {
        AppError::internal(e)
    }
}

/// An RFC 3339 time from a read model or event metadata, in UTC.
pub(crate) fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn from_aggregate<E: std::error::Error>(
    e: AggregateError<E>,
    status: impl Fn(&E) -> AppError,
) -> AppError {
    match e {
        AggregateError::UserError(u) => status(&u),
        AggregateError::AggregateConflict => {
            AppError::Conflict("the record was changed concurrently; try again".into())
        }
        other => AppError::internal(other),
    }
}

fn database_error(e: &DatabaseError) -> AppError {
    match e {
        DatabaseError::NotFound => AppError::NotFound(e.to_string()),
        DatabaseError::NothingToChange | DatabaseError::NoSchedule => {
            AppError::Unprocessable(e.to_string())
        }
        _ => AppError::Conflict(e.to_string()),
    }
}

fn backup_error(e: &BackupError) -> AppError {
    match e {
        BackupError::DatabaseNotFound | BackupError::NotFound => AppError::NotFound(e.to_string()),
        _ => AppError::Conflict(e.to_string()),
    }
}

fn restore_error(e: &RestoreError) -> AppError {
    match e {
        RestoreError::BackupNotFound | RestoreError::NotFound => AppError::NotFound(e.to_string()),
        RestoreError::EngineMismatch { .. } => AppError::Invalid {
            field: "target_database_id",
            message: e.to_string(),
        },
        _ => AppError::Conflict(e.to_string()),
    }
}

/// Result of trying a connection.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ConnectionTest {
    pub ok: bool,
    pub server_version: Option<String>,
    pub message: String,
}

/// A background run (backup or restore) the caller may wait for.
pub struct Started {
    pub id: String,
    pub done: JoinHandle<()>,
}

pub struct App {
    pub settings: Settings,
    pub ledger: Ledger,
    pub projections: Arc<Projections>,
    pub store: ArtifactStore,
    keyring: Keyring,
    tools: ToolConfig,
    node: String,
    databases: Cqrs<Database>,
    backups: Cqrs<Backup>,
    restores: Cqrs<Restore>,
    alerts: Cqrs<Alert>,
    channels: Cqrs<Channel>,
    /// Notifier, watchdog state and metrics of alerting (see `alerts.rs`).
    alerting: alerts::Alerting,
    progress: Mutex<HashMap<String, Arc<AtomicU64>>>,
    leases: backline_infra::leases::Leases,
    claims: backline_infra::claims::Claims,
    permits: Arc<tokio::sync::Semaphore>,
    /// The server's age identity and extra recipients (absent until encryption is used).
    age: Option<backline_infra::encryption::AgeKeys>,
    /// Every destination, `default` first: a backup is streamed to all of them at once.
    pub storages: Vec<(String, ArtifactStore)>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Ledger(#[from] backline_infra::LedgerError),
    #[error(transparent)]
    Secret(#[from] backline_infra::secrets::SecretError),
    #[error(transparent)]
    Storage(#[from] backline_infra::storage::StorageError),
    #[error(transparent)]
    Projection(#[from] backline_projections::ProjectionError),
    #[error(transparent)]
    Encryption(#[from] backline_infra::encryption::EncryptionError),
    #[error("storage configuration: {0}")]
    StorageConfig(String),
}

impl App {
    pub async fn open(settings: Settings) -> Result<Arc<Self>, StartError> {
        std::fs::create_dir_all(&settings.data_dir).map_err(|source| StartError::DataDir {
            path: settings.data_dir.display().to_string(),
            source,
        })?;
        // Keys, the ledger and (by default) the artifacts live here: the owner's alone.
        backline_infra::secrets::keep_private(&settings.data_dir, 0o700, "the data directory");
        let ledger = Ledger::open(&settings.ledger_url()).await?;
        let (master, created) = MasterKey::load_or_create(&settings.master_key_file())?;
        if created {
            tracing::info!(path = %settings.master_key_file().display(), "created a new master key (mode 0600); back it up: without it stored passwords cannot be read");
        }
        let storage_url = settings.storage_url();
        if let Some(path) = storage_url.strip_prefix("fs://") {
            if let Err(e) = std::fs::create_dir_all(path) {
                tracing::warn!(path, error = %e, "cannot create the storage directory");
            }
        }
        let store = ArtifactStore::from_url(&storage_url)?;
        let age = encryption::load_keys(&settings)?;
        let storages = storages::open(&settings, &store)?;
        let projections = Arc::new(Projections::new(ledger.clone()));
        projections.catch_up().await?;
        // Verified copies left by restores of a process that died.
        let swept = backline_infra::local_copy::sweep(&settings.data_dir.join("restore-tmp"));
        if swept > 0 {
            tracing::info!(swept, "removed local copies left by interrupted restores");
        }
        Ok(Arc::new(Self {
            keyring: Keyring::new(master, ledger.pool().clone()),
            tools: ToolConfig {
                pg_bin_dir: settings.pg_bin_dir.clone(),
                mysql_bin_dir: settings.mysql_bin_dir.clone(),
            },
            node: settings.node(),
            leases: backline_infra::leases::Leases::new(ledger.pool().clone()),
            claims: backline_infra::claims::Claims::new(ledger.pool().clone()),
            permits: Arc::new(tokio::sync::Semaphore::new(
                settings.max_concurrent_backups.max(1),
            )),
            databases: ledger.cqrs(()),
            backups: ledger.cqrs(()),
            restores: ledger.cqrs(()),
            alerts: ledger.cqrs(()),
            channels: ledger.cqrs(()),
            alerting: alerts::Alerting::new(&settings),
            settings,
            ledger,
            projections,
            store,
            progress: Mutex::new(HashMap::new()),
            age,
            storages,
        }))
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    fn meta(&self, actor: &str, correlation_id: &str) -> HashMap<String, String> {
        EventMeta {
            actor: actor.to_string(),
            correlation_id: correlation_id.to_string(),
            node: self.node.clone(),
        }
        .to_map()
    }

    async fn refresh(&self) {
        if let Err(e) = self.projections.catch_up().await {
            tracing::error!(error = %e, "read models could not catch up");
        }
    }

    /// Bytes processed so far by a backup or restore running in this process.
    pub fn progress(&self, id: &str) -> Option<u64> {
        self.progress
            .lock()
            .ok()?
            .get(id)
            .map(|c| c.load(Ordering::Relaxed))
    }

    fn track(&self, id: &str) -> Arc<AtomicU64> {
        let c = Arc::new(AtomicU64::new(0));
        if let Ok(mut m) = self.progress.lock() {
            m.insert(id.to_string(), c.clone());
        }
        c
    }

    fn untrack(&self, id: &str) {
        self.forget_cancel_token(id);
        if let Ok(mut m) = self.progress.lock() {
            m.remove(id);
        }
    }

    /// Finds an active database by id, or by name.
    pub async fn resolve_database(&self, reference: &str) -> Result<DatabaseView, AppError> {
        if let Some(d) = self.projections.database(reference).await? {
            return Ok(d);
        }
        if let Some(d) = self.projections.database_by_name(reference).await? {
            return Ok(d);
        }
        Err(AppError::NotFound(format!(
            "no database with id or name {reference:?}"
        )))
    }
}

mod alerts;
mod backup;
mod databases;
mod encryption;
mod import;
mod restore;
mod retention;
mod scheduler;
mod storages;
mod verify;

pub use alerts::{ChannelTest, CreatedChannel, NewChannel};
pub use databases::ScheduleInput;
pub use import::ImportReport;
pub use retention::{PruneItem, PrunePlan};
pub use verify::Verification;
