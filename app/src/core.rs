//! What every use case shares: the ledger and its aggregates, the read models, the storages,
//! the keys, the settings, and the coordination of running work.

use crate::coordination::Coordination;
use crate::error::{database_error, from_aggregate, AppError};
use crate::settings::Settings;
use crate::{alerting, backups};
use backline_domain::backup::DatabaseFacts;
use backline_domain::{
    Alert, Archive, ArtifactCopy, Backup, BaseBackup, Channel, ConnectionString, Database,
    DatabaseCommand, Drill, LedgerChain, Restore, Server, SignIn, Token, User,
};
use backline_infra::drivers::ToolConfig;
use backline_infra::encryption::{age, AgeKeys};
use backline_infra::ledger::Cqrs;
use backline_infra::secrets::{Keyring, MasterKey};
use backline_infra::signing::ServerKey;
use backline_infra::storage::ArtifactStore;
use backline_infra::{EventMeta, Ledger};
use backline_projections::{DatabaseView, Projections};
use std::collections::HashMap;
use std::sync::Arc;

/// The command side of each aggregate.
pub struct Aggregates {
    pub(crate) databases: Cqrs<Database>,
    pub(crate) backups: Cqrs<Backup>,
    pub(crate) restores: Cqrs<Restore>,
    pub(crate) alerts: Cqrs<Alert>,
    pub(crate) channels: Cqrs<Channel>,
    pub(crate) ledger: Cqrs<LedgerChain>,
    pub(crate) servers: Cqrs<Server>,
    pub(crate) archives: Cqrs<Archive>,
    pub(crate) base_backups: Cqrs<BaseBackup>,
    pub(crate) users: Cqrs<User>,
    pub(crate) tokens: Cqrs<Token>,
    pub(crate) sign_ins: Cqrs<SignIn>,
    pub(crate) drills: Cqrs<Drill>,
}

pub struct Core {
    pub settings: Settings,
    pub ledger: Ledger,
    pub projections: Arc<Projections>,
    /// The default storage (BACKLINE_STORAGE_URL).
    pub store: ArtifactStore,
    /// Every destination, `default` first: a backup is streamed to all of them at once.
    pub storages: Vec<(String, ArtifactStore)>,
    pub(crate) keyring: Keyring,
    /// Signs seals and manifests.
    pub(crate) signing: ServerKey,
    /// The last ledger verification this process ran.
    last_ledger_check: std::sync::Mutex<Option<crate::seals::LedgerVerification>>,
    pub(crate) tools: ToolConfig,
    pub(crate) node: String,
    /// The server's age identity and extra recipients (absent until encryption is used).
    pub(crate) age: Option<AgeKeys>,
    pub(crate) aggregates: Aggregates,
    pub(crate) coordination: Coordination,
    pub(crate) alerting: alerting::AlertingState,
    /// At most BACKLINE_MAX_CONCURRENT_BACKUPS dumps at once in this process.
    pub(crate) permits: Arc<tokio::sync::Semaphore>,
    /// What versions hold, once read (versions never change).
    pub(crate) contents_cache:
        std::sync::Mutex<HashMap<String, Arc<crate::restores::VersionContents>>>,
    /// The names of the actors this process has seen, for `actor_name`.
    pub actor_names: crate::access::ActorNames,
    pub(crate) access: crate::access::AccessState,
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
    #[error(transparent)]
    Signing(#[from] backline_infra::signing::SigningError),
    #[error("storage configuration: {0}")]
    StorageConfig(String),
    #[error("single sign-on configuration: {0}")]
    AccessConfig(String),
}

/// When `Core::open` brings the read models up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// Before it returns (commands of the CLI).
    Now,
    /// Before it returns only when at most `SMALL_BACKLOG` events wait (a server).
    SmallBacklog,
    /// Not at all (`replay`, which rebuilds every read model from the start anyway).
    Never,
}

/// Events a server applies before it listens (about a second's work).
pub const SMALL_BACKLOG: i64 = 5_000;

impl Core {
    /// Opens everything; with `CatchUp::Now` the read models are current when this returns,
    /// with `CatchUp::SmallBacklog` only when few events wait (a server then listens at once
    /// and catches up in the background: see `catch_up_in_background`).
    pub(crate) async fn open(settings: Settings, catch_up: CatchUp) -> Result<Self, StartError> {
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
        let (signing, created) = ServerKey::load_or_create(&settings.signing_key_file())?;
        if created {
            tracing::info!(path = %settings.signing_key_file().display(), public_key = signing.public_hex(), "created the ledger's Ed25519 signing key (mode 0600)");
        }
        let storage_url = settings.storage_url();
        if let Some(path) = storage_url.strip_prefix("fs://") {
            if let Err(e) = std::fs::create_dir_all(path) {
                tracing::warn!(path, error = %e, "cannot create the storage directory");
            }
        }
        let store = ArtifactStore::from_url(&storage_url)?;
        let age = backups::encryption::load_keys(&settings)?;
        let storages = backups::destinations::open(&settings, &store)?;
        let projections = Arc::new(Projections::new(ledger.clone()));
        let backlog = ledger.head().await? - projections.checkpoint().await?;
        let now = match catch_up {
            CatchUp::Now => true,
            CatchUp::SmallBacklog => backlog <= SMALL_BACKLOG,
            CatchUp::Never => false,
        };
        if now {
            projections.catch_up().await?;
        } else if catch_up == CatchUp::SmallBacklog {
            tracing::info!(
                backlog,
                "the read models are behind the ledger: catching up in the background"
            );
        }
        // Verified copies left by restores of a process that died.
        let swept = backline_infra::local_copy::sweep(&settings.data_dir.join("restore-tmp"));
        if swept > 0 {
            tracing::info!(swept, "removed local copies left by interrupted restores");
        }
        Ok(Self {
            keyring: Keyring::new(master, ledger.pool().clone()),
            signing,
            last_ledger_check: std::sync::Mutex::new(None),
            tools: ToolConfig {
                pg_bin_dir: settings.pg_bin_dir.clone(),
                mysql_bin_dir: settings.mysql_bin_dir.clone(),
            },
            node: settings.node(),
            coordination: Coordination::new(&ledger),
            permits: Arc::new(tokio::sync::Semaphore::new(
                settings.max_concurrent_backups.max(1),
            )),
            aggregates: Aggregates {
                databases: ledger.cqrs(()),
                backups: ledger.cqrs(()),
                restores: ledger.cqrs(()),
                alerts: ledger.cqrs(()),
                channels: ledger.cqrs(()),
                ledger: ledger.cqrs(()),
                servers: ledger.cqrs(()),
                archives: ledger.cqrs(()),
                base_backups: ledger.cqrs(()),
                users: ledger.cqrs(()),
                tokens: ledger.cqrs(()),
                sign_ins: ledger.cqrs(()),
                drills: ledger.cqrs(()),
            },
            actor_names: Default::default(),
            access: crate::access::AccessState::new(&settings).map_err(StartError::AccessConfig)?,
            alerting: alerting::AlertingState::new(&settings),
            contents_cache: Default::default(),
            settings,
            ledger,
            projections,
            store,
            age,
            storages,
        })
    }

    /// The server's Ed25519 public key (hex).
    pub fn public_key(&self) -> String {
        self.signing.public_hex()
    }

    /// Signs `manifest` with the server's key.
    pub(crate) fn sign_manifest(&self, manifest: &mut backline_domain::BackupManifest) {
        manifest.signature = None;
        // A manifest just serialized always reads back.
        let Ok(bytes) = backline_domain::BackupManifest::signed_bytes(&manifest.to_bytes()) else {
            return;
        };
        manifest.signature = Some(backline_domain::ManifestSignature {
            algorithm: "ed25519".into(),
            public_key: self.signing.public_hex(),
            signature: self.signing.sign(&bytes),
        });
    }

    pub(crate) fn last_ledger_check(&self) -> Option<crate::seals::LedgerVerification> {
        self.last_ledger_check
            .lock()
            .map(|g| g.clone())
            .unwrap_or_default()
    }

    pub(crate) fn set_last_ledger_check(&self, v: crate::seals::LedgerVerification) {
        if let Ok(mut g) = self.last_ledger_check.lock() {
            *g = Some(v);
        }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Metadata of an event appended by `actor` (`user:<id>`, `token:<id>`, `system:…`) for
    /// `correlation_id`.
    pub(crate) fn meta(&self, actor: &str, correlation_id: &str) -> HashMap<String, String> {
        let mut meta = EventMeta {
            actor: actor.to_string(),
            correlation_id: correlation_id.to_string(),
            node: self.node.clone(),
        }
        .to_map();
        // The actor as people know it (a username, a token's name), for the timeline.
        meta.insert("actor_name".into(), self.actor_names.name_of(actor));
        meta
    }

    /// Password and token hashes, and sessions.
    pub(crate) fn credentials(&self) -> backline_infra::credentials::Credentials {
        backline_infra::credentials::Credentials::new(self.ledger.pool().clone())
    }

    /// Brings the read models up to what was just appended.
    pub(crate) async fn refresh(&self) {
        if let Err(e) = self.projections.catch_up().await {
            tracing::error!(error = %e, "read models could not catch up");
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

    /// The database aggregate and its connection with the password opened.
    pub(crate) async fn database_state(
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
            return Err(AppError::bug("database has no connection"));
        };
        let conn = crate::tunnels::open(self, id, engine, &stored).await?;
        Ok((db, Some(conn)))
    }

    /// What a backup or restore command needs to know of a database.
    pub(crate) fn facts(id: &str, db: &Database) -> Result<DatabaseFacts, AppError> {
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

    /// Runs a command on database `id` and returns its view afterwards.
    pub(crate) async fn change_database(
        &self,
        actor: &str,
        id: &str,
        command: DatabaseCommand,
    ) -> Result<DatabaseView, AppError> {
        self.aggregates
            .databases
            .execute_with_metadata(id, command, self.meta(actor, id))
            .await
            .map_err(|e| from_aggregate(e, database_error))?;
        self.refresh().await;
        self.projections
            .database(id)
            .await?
            .ok_or_else(|| AppError::bug("database vanished"))
    }

    /// The configured storage called `name`.
    pub fn storage_named(&self, name: &str) -> Option<&ArtifactStore> {
        self.storages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }

    /// Where a recorded copy lives, if that storage is configured in this process: by name,
    /// else by URL (the name may have changed, the bucket not).
    pub(crate) fn store_of(&self, copy: &ArtifactCopy) -> Option<&ArtifactStore> {
        self.storage_named(&copy.name)
            .filter(|s| s.label() == copy.storage)
            .or_else(|| {
                self.storages
                    .iter()
                    .find(|(_, s)| s.label() == copy.storage)
                    .map(|(_, s)| s)
            })
            .or_else(|| self.storage_named(&copy.name))
    }

    /// The identity that opens artifacts encrypted by this server.
    pub(crate) fn age_identity(&self) -> Option<age::x25519::Identity> {
        self.age.as_ref().map(|k| k.identity().clone())
    }
}
