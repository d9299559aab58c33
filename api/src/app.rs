//! The application: command handlers shared by the HTTP API and the CLI.

use crate::config::Settings;
use backline_domain::backup::DatabaseFacts;
use backline_domain::*;
use backline_infra::drivers::{self, Probe, RestoreOptions, StageError, ToolConfig};
use backline_infra::ledger::Cqrs;
use backline_infra::pipeline::{self, ArtifactFeed};
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
        DatabaseError::NothingToChange => AppError::Unprocessable(e.to_string()),
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
    progress: Mutex<HashMap<String, Arc<AtomicU64>>>,
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
}

impl App {
    pub async fn open(settings: Settings) -> Result<Arc<Self>, StartError> {
        std::fs::create_dir_all(&settings.data_dir).map_err(|source| StartError::DataDir {
            path: settings.data_dir.display().to_string(),
            source,
        })?;
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
        let projections = Arc::new(Projections::new(ledger.clone()));
        projections.catch_up().await?;
        Ok(Arc::new(Self {
            keyring: Keyring::new(master, ledger.pool().clone()),
            tools: ToolConfig {
                pg_bin_dir: settings.pg_bin_dir.clone(),
                mysql_bin_dir: settings.mysql_bin_dir.clone(),
            },
            node: settings.node(),
            databases: ledger.cqrs(()),
            backups: ledger.cqrs(()),
            restores: ledger.cqrs(()),
            settings,
            ledger,
            projections,
            store,
            progress: Mutex::new(HashMap::new()),
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

    pub async fn register(
        &self,
        actor: &str,
        name: &str,
        engine: &str,
        connection: &str,
    ) -> Result<DatabaseView, AppError> {
        let name = DatabaseName::parse(name).map_err(|e| AppError::Invalid {
            field: "name",
            message: e.to_string(),
        })?;
        let engine = Engine::parse(engine).ok_or_else(|| AppError::Invalid {
            field: "engine",
            message: format!("unknown engine {engine:?}: use \"postgres\" or \"mysql\""),
        })?;
        let conn = ConnectionString::parse(engine, connection).map_err(|e| AppError::Invalid {
            field: "connection",
            message: e.to_string(),
        })?;
        if self
            .projections
            .database_by_name(name.as_str())
            .await?
            .is_some()
        {
            return Err(AppError::Conflict(format!(
                "a database named {name} is already registered"
            )));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let sealed = match conn.password() {
            Some(p) => Some(self.keyring.seal(&id, p).await?),
            None => None,
        };
        self.databases
            .execute_with_metadata(
                &id,
                DatabaseCommand::Register {
                    name,
                    engine,
                    connection: conn.to_stored(sealed),
                },
                self.meta(actor, &id),
            )
            .await
            .map_err(|e| from_aggregate(e, database_error))?;
        self.refresh().await;
        self.projections
            .database(&id)
            .await?
            .ok_or_else(|| AppError::Internal("registered database is not visible".into()))
    }

    pub async fn update(
        &self,
        actor: &str,
        reference: &str,
        name: Option<&str>,
        connection: Option<&str>,
    ) -> Result<DatabaseView, AppError> {
        let current = self.resolve_database(reference).await?;
        let engine = Engine::parse(&current.engine)
            .ok_or_else(|| AppError::Internal("stored engine is unknown".into()))?;
        let name = name
            .map(|n| {
                DatabaseName::parse(n).map_err(|e| AppError::Invalid {
                    field: "name",
                    message: e.to_string(),
                })
            })
            .transpose()?;
        let conn = connection
            .map(|c| {
                ConnectionString::parse(engine, c).map_err(|e| AppError::Invalid {
                    field: "connection",
                    message: e.to_string(),
                })
            })
            .transpose()?;
        if let Some(n) = &name {
            if let Some(other) = self.projections.database_by_name(n.as_str()).await? {
                if other.id != current.id {
                    return Err(AppError::Conflict(format!(
                        "a database named {n} is already registered"
                    )));
                }
            }
        }
        let stored = match conn {
            Some(c) => {
                let sealed = match c.password() {
                    Some(p) => Some(self.keyring.seal(&current.id, p).await?),
                    None => None,
                };
                Some(c.to_stored(sealed))
            }
            None => None,
        };
        self.databases
            .execute_with_metadata(
                &current.id,
                DatabaseCommand::Update {
                    name,
                    connection: stored,
                },
                self.meta(actor, &current.id),
            )
            .await
            .map_err(|e| from_aggregate(e, database_error))?;
        self.refresh().await;
        self.projections
            .database(&current.id)
            .await?
            .ok_or_else(|| AppError::Internal("database vanished".into()))
    }

    pub async fn remove(&self, actor: &str, reference: &str) -> Result<(), AppError> {
        let current = self.resolve_database(reference).await?;
        self.databases
            .execute_with_metadata(
                &current.id,
                DatabaseCommand::Remove,
                self.meta(actor, &current.id),
            )
            .await
            .map_err(|e| from_aggregate(e, database_error))?;
        self.keyring.destroy(&current.id).await?;
        self.refresh().await;
        Ok(())
    }

    /// The database aggregate and its connection with the password opened.
    async fn database_state(
        &self,
        id: &str,
    ) -> Result<(Database, Option<ConnectionString>), AppError> {
        let db = self
            .ledger
            .load::<Database>(id)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(|| AppError::NotFound(format!("no database with id {id}")))?;
        if db.removed {
            return Ok((db, None));
        }
        let (Some(engine), Some(stored)) = (db.engine, db.connection.clone()) else {
            return Err(AppError::Internal("database has no connection".into()));
        };
        let password = match &stored.password {
            Some(sealed) => Some(self.keyring.open(id, sealed).await?),
            None => None,
        };
        Ok((
            db,
            Some(ConnectionString::from_stored(engine, &stored, password)),
        ))
    }

    pub async fn test_registered(&self, reference: &str) -> Result<ConnectionTest, AppError> {
        let view = self.resolve_database(reference).await?;
        let (_, conn) = self.database_state(&view.id).await?;
        let conn = conn.ok_or_else(|| AppError::Conflict("this database was removed".into()))?;
        Ok(self.test_connection(&conn).await)
    }

    pub async fn test_connection(&self, conn: &ConnectionString) -> ConnectionTest {
        match drivers::probe(conn, &self.tools).await {
            Ok(p) => ConnectionTest {
                ok: true,
                message: format!(
                    "connected; will dump with {} and restore with {}",
                    p.dump_tool_version, p.restore_tool_version
                ),
                server_version: Some(p.server_version),
            },
            Err(e) => {
                // A reachable server whose tools are missing still reports its version.
                let version = drivers::server_version(conn).await.ok();
                ConnectionTest {
                    ok: false,
                    server_version: version,
                    message: e.message,
                }
            }
        }
    }

    fn facts(id: &str, db: &Database) -> Result<DatabaseFacts, AppError> {
        match (&db.name, db.engine) {
            (Some(name), Some(engine)) => Ok(DatabaseFacts {
                id: id.to_string(),
                name: name.clone(),
                engine,
                removed: db.removed,
            }),
            _ => Err(AppError::NotFound(format!("no database with id {id}"))),
        }
    }

    /// Records `BackupStarted` and runs the backup in the background.
    pub async fn start_backup(
        self: &Arc<Self>,
        actor: &str,
        reference: &str,
        trigger: Trigger,
    ) -> Result<Started, AppError> {
        let view = self.resolve_database(reference).await?;
        let (db, conn) = self.database_state(&view.id).await?;
        let facts = Self::facts(&view.id, &db)?;
        let probe = match &conn {
            Some(c) => drivers::probe(c, &self.tools).await,
            None => Err(StageError::new("connect", "database removed")),
        };
        let tools = match &probe {
            Ok(p) => ToolInfo {
                tool: p
                    .dump_tool
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned()),
                tool_version: Some(p.dump_tool_version.clone()),
                server_version: Some(p.server_version.clone()),
            },
            Err(_) => ToolInfo::default(),
        };
        let id = uuid::Uuid::now_v7().to_string();
        let meta = self.meta(actor, &id);
        self.backups
            .execute_with_metadata(
                &id,
                BackupCommand::Start {
                    database: facts.clone(),
                    trigger,
                    tools,
                    node: self.node.clone(),
                },
                meta,
            )
            .await
            .map_err(|e| from_aggregate(e, backup_error))?;
        self.refresh().await;
        let app = self.clone();
        let actor = actor.to_string();
        let backup_id = id.clone();
        let done = tokio::spawn(async move {
            let started = Instant::now();
            let result = match (probe, conn) {
                (Ok(p), Some(c)) => app.run_backup(&backup_id, &facts, &c, &p).await,
                (Err(e), _) => Err(e),
                (Ok(_), None) => Err(StageError::new("connect", "database removed")),
            };
            let duration_ms = started.elapsed().as_millis() as u64;
            let command = match result {
                Ok(artifact) => BackupCommand::Complete {
                    artifact,
                    duration_ms,
                },
                Err(e) => {
                    tracing::warn!(backup_id, stage = e.stage, message = %e.message, "backup failed");
                    BackupCommand::Fail {
                        failure: e.into_failure(),
                        duration_ms,
                    }
                }
            };
            if let Err(e) = app
                .backups
                .execute_with_metadata(&backup_id, command, app.meta(&actor, &backup_id))
                .await
            {
                tracing::error!(backup_id, error = %e, "could not record the end of a backup");
            }
            app.untrack(&backup_id);
            app.refresh().await;
        });
        Ok(Started { id, done })
    }

    async fn run_backup(
        &self,
        backup_id: &str,
        db: &DatabaseFacts,
        conn: &ConnectionString,
        probe: &Probe,
    ) -> Result<StoredArtifact, StageError> {
        let counter = self.track(backup_id);
        let now = chrono::Utc::now();
        let ext = format!("{}.zst", db.engine.artifact_ext());
        let key = artifact_key(db.name.as_str(), &db.id, backup_id, now, &ext);
        let mut tool = drivers::spawn_dump(conn, probe).await?;
        tracing::info!(backup_id, pid = tool.pid(), tool = %probe.dump_tool.display(), "dump started");
        let stdout = tool
            .stdout
            .take()
            .ok_or_else(|| StageError::new("dump", "dump tool has no stdout"))?;
        let uploaded = pipeline::upload(
            stdout,
            &self.store,
            &key,
            self.settings.zstd_level,
            counter,
            async move { tool.finish("dump").await.map(|_| ()) },
        )
        .await
        .map_err(|e| match e {
            pipeline::PipelineError::Tool(t) => t,
            pipeline::PipelineError::Source(e) => {
                StageError::new("dump", format!("reading the dump failed: {e}"))
            }
            other => StageError::new(
                "upload",
                format!("{other} (storage {})", self.store.label()),
            ),
        })?;
        let manifest = serde_json::json!({
            "format": "backline-manifest/1",
            "backup_id": backup_id,
            "database_id": db.id,
            "database_name": db.name,
            "engine": db.engine,
            "tool": probe.dump_tool.file_name().map(|f| f.to_string_lossy().into_owned()),
            "tool_version": probe.dump_tool_version,
            "server_version": probe.server_version,
            "key": key,
            "bytes": uploaded.bytes,
            "raw_bytes": uploaded.raw_bytes,
            "sha256": uploaded.sha256,
            "compression": "zstd",
            "encrypted": false,
            "created_at": now.to_rfc3339(),
        });
        let manifest_bytes = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        if let Err(e) = self.store.put(&manifest_key(&key), manifest_bytes).await {
            let _ = self.store.operator().delete(&key).await;
            return Err(StageError::new(
                "manifest",
                format!("writing the manifest failed: {e}"),
            ));
        }
        Ok(StoredArtifact {
            storage: self.store.label().to_string(),
            key,
            bytes: uploaded.bytes,
            raw_bytes: uploaded.raw_bytes,
            sha256: uploaded.sha256,
            compression: "zstd".into(),
            encrypted: false,
        })
    }

    /// Records `RestoreStarted` and runs the restore in the background.
    pub async fn start_restore(
        self: &Arc<Self>,
        actor: &str,
        backup_id: &str,
        target: Option<&str>,
        keep_previous: bool,
        no_owner: bool,
    ) -> Result<Started, AppError> {
        let backup = self
            .ledger
            .load::<Backup>(backup_id)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(|| AppError::NotFound(format!("no backup with id {backup_id}")))?;
        let target_id = match target {
            Some(t) => {
                self.resolve_database(t)
                    .await
                    .map_err(|_| AppError::Invalid {
                        field: "target_database_id",
                        message: format!("no registered database with id or name {t:?}"),
                    })?
                    .id
            }
            None => backup
                .database_id
                .clone()
                .ok_or_else(|| AppError::Internal("backup has no database".into()))?,
        };
        let (target_db, conn) = self.database_state(&target_id).await?;
        let target_facts = Self::facts(&target_id, &target_db)?;
        let backup_facts = BackupFacts {
            id: backup_id.to_string(),
            status: backup.status,
            engine: backup.engine,
            database_id: backup.database_id.clone(),
        };
        let plausible = backup.status == BackupStatus::Completed
            && backup.engine == Some(target_facts.engine)
            && !target_facts.removed;
        let probe = match (&conn, plausible) {
            (Some(c), true) => Some(drivers::probe(c, &self.tools).await),
            _ => None,
        };
        let tools = match &probe {
            Some(Ok(p)) => ToolInfo {
                tool: p
                    .restore_tool
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned()),
                tool_version: Some(p.restore_tool_version.clone()),
                server_version: Some(p.server_version.clone()),
            },
            _ => ToolInfo::default(),
        };
        let id = uuid::Uuid::now_v7().to_string();
        self.restores
            .execute_with_metadata(
                &id,
                RestoreCommand::Start {
                    backup: backup_facts,
                    target: target_facts,
                    actor: actor.to_string(),
                    tools,
                    node: self.node.clone(),
                },
                self.meta(actor, &id),
            )
            .await
            .map_err(|e| from_aggregate(e, restore_error))?;
        self.refresh().await;
        let app = self.clone();
        let actor = actor.to_string();
        let restore_id = id.clone();
        let artifact = backup.artifact.clone();
        let done = tokio::spawn(async move {
            let started = Instant::now();
            let result = match (probe, conn, artifact) {
                (Some(Ok(p)), Some(c), Some(a)) => {
                    let progress = app.track(&restore_id);
                    let feed = ArtifactFeed {
                        store: app.store.clone(),
                        key: a.key.clone(),
                        sha256: a.sha256.clone(),
                        progress,
                    };
                    let opts = RestoreOptions {
                        keep_previous,
                        no_owner,
                        tag: restore_id.replace('-', "")[20..].to_string(),
                    };
                    drivers::restore(&c, &p, &opts, &feed).await
                }
                (Some(Err(e)), _, _) => Err(e),
                _ => Err(StageError::new("prepare", "backup or target is not usable")),
            };
            let duration_ms = started.elapsed().as_millis() as u64;
            let command = match result {
                Ok(outcome) => RestoreCommand::Complete {
                    duration_ms,
                    previous_kept_as: outcome.previous_kept_as,
                },
                Err(e) => {
                    tracing::warn!(restore_id, stage = e.stage, message = %e.message, "restore failed");
                    RestoreCommand::Fail {
                        failure: e.into_failure(),
                        duration_ms,
                    }
                }
            };
            if let Err(e) = app
                .restores
                .execute_with_metadata(&restore_id, command, app.meta(&actor, &restore_id))
                .await
            {
                tracing::error!(restore_id, error = %e, "could not record the end of a restore");
            }
            app.untrack(&restore_id);
            app.refresh().await;
        });
        Ok(Started { id, done })
    }
}
