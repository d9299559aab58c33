//! Backline's domain: aggregates, commands, events and their rules.
//!
//! Pure: no I/O, no async runtime, no database. Everything here is tested with
//! cqrs-es's `TestFramework` (given events, when command, then events or error).

pub mod access;
pub mod alert;
pub mod archive;
pub mod archive_retention;
pub mod artifact;
pub mod backup;
mod backup_state;
pub mod base_backup;
mod canonical;
pub mod channel;
pub mod connection;
pub mod database;
mod database_event;
pub mod database_jobs;
pub mod drill;
pub mod events;
pub mod ledger_chain;
pub mod manifest;
pub mod properties;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod seal;
pub mod server;
pub mod server_globals;
pub mod signin;
pub mod ssh;
pub mod stage;
mod summary;
pub mod token;
pub mod user;
pub mod values;
pub mod wal;
pub mod webhook_style;

pub use access::{AccessError, DatabaseScope, Role};
pub use alert::{
    retry_delay, Alert, AlertCommand, AlertError, AlertEvent, AlertKind, AlertState, Delivery,
    Notice, Outcome,
};
pub use archive::{
    Archive, ArchiveCommand, ArchiveError, ArchiveEvent, ArchivedServer, BackupLsns,
};
pub use archive_retention::{archive_prune, ArchivePrune, ArchiveRetention, BaseAge};
pub use backup::{
    parts_digest, parts_list, ArtifactCopy, ArtifactPart, Backup, BackupCommand, BackupError,
    BackupEvent, BackupStatus, DatabaseFacts, PartRole, StoredArtifact, ToolInfo, Trigger,
    TriggerKind,
};
pub use base_backup::{
    BaseBackup, BaseBackupCommand, BaseBackupError, BaseBackupEvent, BaseBackupStatus,
};
pub use channel::{
    redact_webhook_url, validate_address, Channel, ChannelCommand, ChannelError, ChannelEvent,
    ChannelTarget, WebhookStyle,
};
pub use connection::{ConnectionError, ConnectionString, SealedSecret, StoredConnection, Via};
pub use database::{Database, DatabaseCommand, DatabaseError, DatabaseEvent};
pub use database_jobs::MAX_BACKUP_JOBS;
pub use drill::{
    Drill, DrillAnomaly, DrillCommand, DrillError, DrillEvent, DrillSandbox, DrillSettings,
    DrillStage, DrillStatus, DrillTrigger, TableCheck, DEFAULT_MAX_ROW_LOSS_PERCENT,
};
pub use events::{decode, DecodeError, LedgerEvent};
pub use ledger_chain::{LedgerChain, LedgerChainCommand, LedgerChainError, LedgerChainEvent, Seal};
pub use manifest::{BackupManifest, ManifestEncryption, ManifestError, ManifestSignature};
pub use properties::{
    DatabaseProperties, MyDatabaseProperties, PgDatabaseGrant, PgDatabasePrivilege,
    PgDatabaseProperties, PgLocaleProvider, PgSecurityLabel, PgSetting,
};
pub use restore::{
    BackupFacts, PointInTime, Restore, RestoreCommand, RestoreError, RestoreEvent, RestoreStatus,
    TableSelection,
};
pub use retention::{Prunable, Retention, Version};
pub use schedule::{CatchUp, Schedule, ScheduleError};
pub use server::{
    glob_matches, AutoRegister, GlobalsApplication, RegisteredDatabase, RegistrationTemplate,
    Server, ServerCommand, ServerError, ServerEvent,
};
pub use server_globals::{GlobalsError, GlobalsRun, GlobalsSettings, GlobalsState};
pub use signin::{SignIn, SignInEvent};
pub use ssh::{HostKeyFingerprint, SshAuth, SshError, SshInput, SshSettings, StoredSsh};
pub use stage::Stage;
pub use token::{Token, TokenCommand, TokenEvent};
pub use user::{User, UserCommand, UserEvent};
pub use values::{DatabaseName, Engine, Failure, NameError};
pub use wal::{Interval, Lsn, SegmentId, WalError, WalSegment};
