//! Every event the ledger holds, as one type. Code outside `domain/` reads events through
//! [`decode`] and matches on [`LedgerEvent`]: a renamed event or field is a compile error there,
//! never a silently empty view.

use crate::alert::{Alert, AlertEvent};
use crate::archive::{Archive, ArchiveEvent};
use crate::backup::{Backup, BackupEvent};
use crate::base_backup::{BaseBackup, BaseBackupEvent};
use crate::channel::{Channel, ChannelEvent};
use crate::database::{Database, DatabaseEvent};
use crate::drill::{Drill, DrillEvent};
use crate::ledger_chain::{LedgerChain, LedgerChainEvent};
use crate::restore::{Restore, RestoreEvent};
use crate::server::{Server, ServerEvent};
use crate::signin::{SignIn, SignInEvent};
use crate::token::{Token, TokenEvent};
use crate::user::{User, UserEvent};
use cqrs_es::Aggregate;
use serde_json::Value;

/// An event of any aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum LedgerEvent {
    Database(DatabaseEvent),
    Backup(BackupEvent),
    Restore(RestoreEvent),
    Alert(AlertEvent),
    Channel(ChannelEvent),
    Ledger(LedgerChainEvent),
    Server(ServerEvent),
    Archive(ArchiveEvent),
    BaseBackup(BaseBackupEvent),
    User(UserEvent),
    Token(TokenEvent),
    SignIn(SignInEvent),
    Drill(DrillEvent),
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown aggregate type {0:?}")]
    UnknownAggregate(String),
    #[error("{aggregate} event {event_type:?} does not decode: {source}")]
    Payload {
        aggregate: String,
        event_type: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the payload is a {found} event but the row says {event_type}")]
    TypeMismatch {
        event_type: String,
        found: &'static str,
    },
}

/// Decodes a stored event (as cqrs-es serialized it: `{"<EventType>": {fields}}`).
pub fn decode(
    aggregate_type: &str,
    event_type: &str,
    payload: &Value,
) -> Result<LedgerEvent, DecodeError> {
    fn parse<T: serde::de::DeserializeOwned>(
        aggregate: &str,
        event_type: &str,
        payload: &Value,
    ) -> Result<T, DecodeError> {
        serde_json::from_value(payload.clone()).map_err(|source| DecodeError::Payload {
            aggregate: aggregate.to_string(),
            event_type: event_type.to_string(),
            source,
        })
    }
    let event = match aggregate_type {
        Database::TYPE => LedgerEvent::Database(parse(aggregate_type, event_type, payload)?),
        Backup::TYPE => LedgerEvent::Backup(parse(aggregate_type, event_type, payload)?),
        Restore::TYPE => LedgerEvent::Restore(parse(aggregate_type, event_type, payload)?),
        Alert::TYPE => LedgerEvent::Alert(parse(aggregate_type, event_type, payload)?),
        Channel::TYPE => LedgerEvent::Channel(parse(aggregate_type, event_type, payload)?),
        LedgerChain::TYPE => LedgerEvent::Ledger(parse(aggregate_type, event_type, payload)?),
        Server::TYPE => LedgerEvent::Server(parse(aggregate_type, event_type, payload)?),
        Archive::TYPE => LedgerEvent::Archive(parse(aggregate_type, event_type, payload)?),
        BaseBackup::TYPE => LedgerEvent::BaseBackup(parse(aggregate_type, event_type, payload)?),
        User::TYPE => LedgerEvent::User(parse(aggregate_type, event_type, payload)?),
        Token::TYPE => LedgerEvent::Token(parse(aggregate_type, event_type, payload)?),
        SignIn::TYPE => LedgerEvent::SignIn(parse(aggregate_type, event_type, payload)?),
        Drill::TYPE => LedgerEvent::Drill(parse(aggregate_type, event_type, payload)?),
        other => return Err(DecodeError::UnknownAggregate(other.to_string())),
    };
    if event.name() != event_type {
        return Err(DecodeError::TypeMismatch {
            event_type: event_type.to_string(),
            found: event.name(),
        });
    }
    Ok(event)
}

impl LedgerEvent {
    /// The event's type name as stored (`BackupStarted`, …).
    pub fn name(&self) -> &'static str {
        match self {
            LedgerEvent::Database(e) => e.name(),
            LedgerEvent::Backup(e) => e.name(),
            LedgerEvent::Restore(e) => e.name(),
            LedgerEvent::Alert(e) => e.name(),
            LedgerEvent::Channel(e) => e.name(),
            LedgerEvent::Ledger(e) => e.name(),
            LedgerEvent::Server(e) => e.name(),
            LedgerEvent::Archive(e) => e.name(),
            LedgerEvent::BaseBackup(e) => e.name(),
            LedgerEvent::User(e) => e.name(),
            LedgerEvent::Token(e) => e.name(),
            LedgerEvent::SignIn(e) => e.name(),
            LedgerEvent::Drill(e) => e.name(),
        }
    }

    /// The aggregate type it belongs to.
    pub fn aggregate_type(&self) -> &'static str {
        match self {
            LedgerEvent::Database(_) => Database::TYPE,
            LedgerEvent::Backup(_) => Backup::TYPE,
            LedgerEvent::Restore(_) => Restore::TYPE,
            LedgerEvent::Alert(_) => Alert::TYPE,
            LedgerEvent::Channel(_) => Channel::TYPE,
            LedgerEvent::Ledger(_) => LedgerChain::TYPE,
            LedgerEvent::Server(_) => Server::TYPE,
            LedgerEvent::Archive(_) => Archive::TYPE,
            LedgerEvent::BaseBackup(_) => BaseBackup::TYPE,
            LedgerEvent::User(_) => User::TYPE,
            LedgerEvent::Token(_) => Token::TYPE,
            LedgerEvent::SignIn(_) => SignIn::TYPE,
            LedgerEvent::Drill(_) => Drill::TYPE,
        }
    }

    /// The event's fields without the variant tag, every sealed secret (passwords, webhook
    /// URLs, signing secrets) replaced by `***`: what the timeline shows.
    pub fn public_fields(&self) -> Value {
        let tagged = match self {
            LedgerEvent::Database(e) => serde_json::to_value(e),
            LedgerEvent::Backup(e) => serde_json::to_value(e),
            LedgerEvent::Restore(e) => serde_json::to_value(e),
            LedgerEvent::Alert(e) => serde_json::to_value(e),
            LedgerEvent::Channel(e) => serde_json::to_value(e),
            LedgerEvent::Ledger(e) => serde_json::to_value(e),
            LedgerEvent::Server(e) => serde_json::to_value(e),
            LedgerEvent::Archive(e) => serde_json::to_value(e),
            LedgerEvent::BaseBackup(e) => serde_json::to_value(e),
            LedgerEvent::User(e) => serde_json::to_value(e),
            LedgerEvent::Token(e) => serde_json::to_value(e),
            LedgerEvent::SignIn(e) => serde_json::to_value(e),
            LedgerEvent::Drill(e) => serde_json::to_value(e),
        }
        .unwrap_or(Value::Null);
        let mut fields = match tagged {
            Value::Object(mut m) if m.len() == 1 => m
                .remove(self.name())
                .unwrap_or(Value::Object(Default::default())),
            other => other,
        };
        mask_secrets(&mut fields);
        fields
    }
}

/// Replaces the values of sealed-secret fields (`password`, `sealed_url`, `secret`) by `***`
/// (also for events that do not decode).
pub fn mask_secrets(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if matches!(k.as_str(), "password" | "sealed_url" | "secret") {
                    if !val.is_null() {
                        *val = Value::String("***".into());
                    }
                } else {
                    mask_secrets(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertKind, Delivery, Notice, Outcome};
    use crate::backup::{ArtifactCopy, StoredArtifact, ToolInfo, Trigger};
    use crate::channel::{ChannelTarget, WebhookStyle};
    use crate::connection::{SealedSecret, StoredConnection};
    use crate::database::ScheduleChange;
    use crate::properties::{DatabaseProperties, MyDatabaseProperties};
    use crate::retention::Retention;
    use crate::schedule::{CatchUp, Schedule};
    use crate::server::{AutoRegister, RegisteredDatabase, RegistrationTemplate};
    use crate::values::{DatabaseName, Engine, Failure};
    use crate::Stage;
    use cqrs_es::DomainEvent;

    fn sealed() -> SealedSecret {
        SealedSecret {
            nonce: "bm9uY2U=".into(),
            ciphertext: "Y2lwaGVy".into(),
        }
    }

    fn name() -> DatabaseName {
        DatabaseName::parse("shop").unwrap()
    }

    fn artifact() -> StoredArtifact {
        StoredArtifact {
            storage: "fs:///a".into(),
            key: "k".into(),
            bytes: 1,
            raw_bytes: 2,
            sha256: "ab".into(),
            compression: "zstd".into(),
            encrypted: true,
            copies: vec![ArtifactCopy {
                name: "default".into(),
                storage: "fs:///a".into(),
                key: "k".into(),
                sha256: "ab".into(),
                ok: true,
                error: None,
            }],
            warnings: vec!["w".into()],
            database_properties: Some(DatabaseProperties::Mysql(MyDatabaseProperties {
                charset: "latin1".into(),
                collation: "latin1_bin".into(),
            })),
            parts: vec![crate::ArtifactPart {
                name: "pre-data".into(),
                role: crate::PartRole::PreData,
                order: 0,
                key: "k".into(),
                bytes: 1,
                raw_bytes: 2,
                sha256: "ab".into(),
            }],
        }
    }

    /// One of each variant. The `match` below makes a new variant a compile error here until it
    /// has a case.
    fn every_event() -> Vec<LedgerEvent> {
        let conn = StoredConnection {
            host: "db".into(),
            port: 5432,
            user: "u".into(),
            database: "shop".into(),
            params: Default::default(),
            password: Some(sealed()),
            ssh: None,
        };
        let server_conn = StoredConnection {
            database: "postgres".into(),
            ..conn.clone()
        };
        let schedule = Schedule::parse("0 2 * * *", Some("Europe/Paris"), CatchUp::Latest).unwrap();
        let failure = Failure {
            stage: Stage::Upload,
            message: "m".into(),
            stderr_tail: "t".into(),
        };
        let delivery = Delivery {
            channel_id: "c".into(),
            notice: Notice::Raised,
            outcome: Outcome::Failed,
            status_code: Some(500),
            error: Some("HTTP 500".into()),
            attempt: 2,
        };
        let all = vec![
            LedgerEvent::Database(DatabaseEvent::DatabaseRegistered {
                name: name(),
                engine: Engine::Postgres,
                connection: conn.clone(),
                schedule: Some(schedule.clone()),
                retention: Retention::default(),
            }),
            LedgerEvent::Database(DatabaseEvent::DatabaseUpdated {
                name: Some(name()),
                connection: Some(conn),
                schedule: Some(ScheduleChange {
                    schedule: Some(schedule),
                }),
                retention: Some(Retention::default()),
            }),
            LedgerEvent::Database(DatabaseEvent::DatabasePaused {}),
            LedgerEvent::Database(DatabaseEvent::DatabaseResumed {}),
            LedgerEvent::Database(DatabaseEvent::ScheduledRunClaimed {
                slot: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
                backup_id: "b".into(),
                retry_of: Some("a".into()),
            }),
            LedgerEvent::Database(DatabaseEvent::DatabaseRemoved {}),
            LedgerEvent::Database(DatabaseEvent::DestinationsChanged {
                destinations: Some(vec!["default".into()]),
            }),
            LedgerEvent::Backup(BackupEvent::BackupStarted {
                database_id: "d".into(),
                database_name: name(),
                engine: Engine::Mysql,
                trigger: Trigger::Scheduled { slot: "s".into() },
                tools: ToolInfo {
                    tool: Some("pg_dump".into()),
                    tool_version: Some("15".into()),
                    server_version: Some("15.1".into()),
                },
                node: "n".into(),
            }),
            LedgerEvent::Backup(BackupEvent::BackupCompleted {
                artifact: artifact(),
                duration_ms: 5,
            }),
            LedgerEvent::Backup(BackupEvent::BackupFailed {
                failure: failure.clone(),
                duration_ms: 5,
            }),
            LedgerEvent::Backup(BackupEvent::BackupAbandoned { reason: "r".into() }),
            LedgerEvent::Backup(BackupEvent::BackupCancelRequested { actor: "a".into() }),
            LedgerEvent::Backup(BackupEvent::BackupCancelled {
                actor: "a".into(),
                duration_ms: 5,
            }),
            LedgerEvent::Restore(RestoreEvent::RestoreCancelRequested { actor: "a".into() }),
            LedgerEvent::Restore(RestoreEvent::RestoreCancelled {
                actor: "a".into(),
                duration_ms: 5,
            }),
            LedgerEvent::Backup(BackupEvent::BackupPinned { actor: "a".into() }),
            LedgerEvent::Backup(BackupEvent::BackupUnpinned { actor: "a".into() }),
            LedgerEvent::Backup(BackupEvent::BackupPruned {
                policy: "p".into(),
                reason: "r".into(),
            }),
            LedgerEvent::Backup(BackupEvent::BackupArtifactDeleted {}),
            LedgerEvent::Backup(BackupEvent::BackupDeletionFailed { error: "e".into() }),
            LedgerEvent::Backup(BackupEvent::BackupVerified {
                ok: true,
                detail: "d".into(),
                storage: Some("default".into()),
            }),
            LedgerEvent::Backup(BackupEvent::BackupCopyFailed {
                storage: "s".into(),
                key: "k".into(),
                message: "m".into(),
            }),
            LedgerEvent::Restore(RestoreEvent::RestoreStarted {
                backup_id: "b".into(),
                source_database_id: "s".into(),
                target_database_id: "t".into(),
                target_database_name: name(),
                engine: Engine::Postgres,
                actor: "a".into(),
                tools: ToolInfo::default(),
                node: "n".into(),
                local_copy_bytes: Some(3),
                selection: Some(Box::new(crate::restore::TableSelection {
                    tables: vec!["public.orders".into()],
                    rename: [(
                        "public.orders".to_string(),
                        "public.orders_0601".to_string(),
                    )]
                    .into(),
                })),
                point_in_time: Some(Box::new(crate::restore::PointInTime {
                    base_backup_id: "bb".into(),
                    target_time: chrono::DateTime::from_timestamp(1_700_000_000, 0),
                    target_lsn: Some(crate::wal::Lsn(0x1_0000_0028)),
                    cluster_path: Some("/srv/restored".into()),
                })),
            }),
            LedgerEvent::Restore(RestoreEvent::RestoreProgressed {
                step: "replaying".into(),
                detail: "d".into(),
            }),
            LedgerEvent::Restore(RestoreEvent::RestoreCompleted {
                duration_ms: 1,
                previous_kept_as: Some("x".into()),
                warnings: vec!["w".into()],
            }),
            LedgerEvent::Restore(RestoreEvent::RestoreFailed {
                failure: failure.clone(),
                duration_ms: 1,
            }),
            LedgerEvent::Alert(AlertEvent::AlertRaised {
                kind: AlertKind::StorageFailure,
                database_id: "d".into(),
                database_name: "shop".into(),
                cause: "position:1".into(),
                cause_event: Some(1),
                message: "m".into(),
                detail: "d".into(),
            }),
            LedgerEvent::Alert(AlertEvent::AlertRepeated {
                cause: "position:2".into(),
                cause_event: Some(2),
                count: 2,
                message: "m".into(),
            }),
            LedgerEvent::Alert(AlertEvent::AlertNotified { delivery }),
            LedgerEvent::Alert(AlertEvent::AlertAcknowledged { actor: "a".into() }),
            LedgerEvent::Alert(AlertEvent::AlertResolved {
                by_event: 3,
                by_type: "BackupCompleted".into(),
            }),
            LedgerEvent::Channel(ChannelEvent::ChannelAdded {
                name: "c".into(),
                target: ChannelTarget::Webhook {
                    style: WebhookStyle::Slack,
                    sealed_url: sealed(),
                    url_redacted: "https://hooks.slack.com/…".into(),
                    chat_id: Some("-100123".into()),
                    priority: Some(4),
                },
                secret: Some(sealed()),
            }),
            LedgerEvent::Channel(ChannelEvent::ChannelRemoved {}),
            LedgerEvent::Channel(ChannelEvent::ChannelTested {
                outcome: Outcome::Delivered,
                status_code: Some(200),
                error: None,
            }),
            LedgerEvent::Ledger(LedgerChainEvent::LedgerSealed(
                crate::ledger_chain::test_seal(1, 4, crate::seal::GENESIS),
            )),
            LedgerEvent::Server(ServerEvent::ServerRegistered {
                name: name(),
                engine: Engine::Postgres,
                connection: server_conn.clone(),
                auto_register: Some(AutoRegister {
                    pattern: Some("shop_*".into()),
                    alert: true,
                    template: RegistrationTemplate {
                        schedule: Some(
                            Schedule::parse("0 3 * * *", None, CatchUp::Latest).unwrap(),
                        ),
                        retention: Retention::default(),
                        destinations: Some(vec!["default".into()]),
                    },
                }),
                existing: vec!["shop_old".into()],
            }),
            LedgerEvent::Server(ServerEvent::ServerDatabasesRegistered {
                databases: vec![RegisteredDatabase {
                    name: "shop_eu".into(),
                    database_id: "d".into(),
                }],
                pattern: Some("shop_*".into()),
                template: RegistrationTemplate::default(),
            }),
            LedgerEvent::Server(ServerEvent::DatabaseDiscovered {
                name: "shop_us".into(),
                database_id: Some("d2".into()),
                error: None,
                alert: true,
            }),
            LedgerEvent::Server(ServerEvent::ServerRemoved {}),
            LedgerEvent::Archive(ArchiveEvent::WalArchivingEnabled {
                server: crate::archive::ArchivedServer {
                    server: "db:5432".into(),
                    system_identifier: "7".into(),
                    server_major: 15,
                    wal_segment_size: 16 << 20,
                    slot: "backline_x".into(),
                },
                base_backup_schedule: Some(
                    Schedule::parse("0 3 * * *", None, CatchUp::Latest).unwrap(),
                ),
                retention: crate::archive_retention::ArchiveRetention {
                    keep_base_backups: Some(2),
                    keep_days: Some(7),
                },
            }),
            LedgerEvent::Archive(ArchiveEvent::ArchiveDatabaseAdded {
                database_id: "d2".into(),
            }),
            LedgerEvent::Archive(ArchiveEvent::WalPruned {
                before: "000000010000000000000009".into(),
                segments: 7,
                bytes: 1000,
                policy: "keep_base_backups=2".into(),
            }),
            LedgerEvent::Archive(ArchiveEvent::WalArchivingDisabled {}),
            LedgerEvent::Archive(ArchiveEvent::WalArchived {
                timeline: 1,
                segments: vec![crate::wal::WalSegment {
                    name: "000000010000000000000002".into(),
                    key: "k".into(),
                    bytes: 3,
                    sha256: "ab".into(),
                    encrypted: false,
                    storages: vec!["default".into()],
                    completed_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
                }],
            }),
            LedgerEvent::Archive(ArchiveEvent::WalReceiverExited {
                message: "m".into(),
                restart_in_ms: 1000,
            }),
            LedgerEvent::BaseBackup(BaseBackupEvent::BaseBackupStarted {
                database_id: "d".into(),
                trigger: "manual".into(),
                node: "n".into(),
            }),
            LedgerEvent::BaseBackup(BaseBackupEvent::BaseBackupCompleted {
                artifact: artifact(),
                lsns: crate::archive::BackupLsns {
                    timeline: 1,
                    start_lsn: crate::wal::Lsn(0x2000028),
                    stop_lsn: crate::wal::Lsn(0x2000100),
                },
                started_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
                stopped_at: chrono::DateTime::from_timestamp(1_700_000_001, 0).unwrap(),
                duration_ms: 1000,
            }),
            LedgerEvent::BaseBackup(BaseBackupEvent::BaseBackupFailed {
                failure: failure.clone(),
                duration_ms: 5,
            }),
            LedgerEvent::BaseBackup(BaseBackupEvent::BaseBackupPruned {
                policy: "keep_base_backups=2".into(),
                reason: "older".into(),
            }),
            LedgerEvent::BaseBackup(BaseBackupEvent::BaseBackupArtifactDeleted {}),
        ];
        let mut all = all;
        all.extend(access_events());
        all.extend(drill_events());
        all.extend(globals_events());
        for e in &all {
            // Exhaustive: a new variant must be added to the list above.
            match e {
                LedgerEvent::Database(
                    DatabaseEvent::DatabaseRegistered { .. }
                    | DatabaseEvent::DatabaseUpdated { .. }
                    | DatabaseEvent::DatabasePaused {}
                    | DatabaseEvent::DatabaseResumed {}
                    | DatabaseEvent::ScheduledRunClaimed { .. }
                    | DatabaseEvent::DatabaseRemoved {}
                    | DatabaseEvent::DestinationsChanged { .. }
                    | DatabaseEvent::RestoreTargetSet { .. }
                    | DatabaseEvent::DrillConfigured { .. }
                    | DatabaseEvent::DrillSlotClaimed { .. }
                    | DatabaseEvent::BackupJobsSet { .. }
                    | DatabaseEvent::RestoreJobsSet { .. },
                )
                | LedgerEvent::Drill(
                    DrillEvent::RestoreDrillStarted { .. }
                    | DrillEvent::RestoreDrillCompleted { .. }
                    | DrillEvent::RestoreDrillFailed { .. },
                )
                | LedgerEvent::Backup(
                    BackupEvent::BackupStarted { .. }
                    | BackupEvent::BackupCompleted { .. }
                    | BackupEvent::BackupFailed { .. }
                    | BackupEvent::BackupAbandoned { .. }
                    | BackupEvent::BackupCancelRequested { .. }
                    | BackupEvent::BackupCancelled { .. }
                    | BackupEvent::BackupPinned { .. }
                    | BackupEvent::BackupUnpinned { .. }
                    | BackupEvent::BackupPruned { .. }
                    | BackupEvent::BackupArtifactDeleted {}
                    | BackupEvent::BackupDeletionFailed { .. }
                    | BackupEvent::BackupVerified { .. }
                    | BackupEvent::BackupCopyFailed { .. },
                )
                | LedgerEvent::Restore(
                    RestoreEvent::RestoreStarted { .. }
                    | RestoreEvent::RestoreProgressed { .. }
                    | RestoreEvent::RestoreCompleted { .. }
                    | RestoreEvent::RestoreFailed { .. }
                    | RestoreEvent::RestoreCancelRequested { .. }
                    | RestoreEvent::RestoreCancelled { .. },
                )
                | LedgerEvent::Alert(
                    AlertEvent::AlertRaised { .. }
                    | AlertEvent::AlertRepeated { .. }
                    | AlertEvent::AlertNotified { .. }
                    | AlertEvent::AlertAcknowledged { .. }
                    | AlertEvent::AlertResolved { .. },
                )
                | LedgerEvent::Channel(
                    ChannelEvent::ChannelAdded { .. }
                    | ChannelEvent::ChannelRemoved {}
                    | ChannelEvent::ChannelTested { .. },
                )
                | LedgerEvent::Ledger(LedgerChainEvent::LedgerSealed(_))
                | LedgerEvent::Server(
                    ServerEvent::ServerRegistered { .. }
                    | ServerEvent::ServerDatabasesRegistered { .. }
                    | ServerEvent::DatabaseDiscovered { .. }
                    | ServerEvent::ServerRemoved {}
                    | ServerEvent::ServerGlobalsSet { .. }
                    | ServerEvent::GlobalsSlotClaimed { .. }
                    | ServerEvent::GlobalsBackupStarted { .. }
                    | ServerEvent::GlobalsBackupCompleted { .. }
                    | ServerEvent::GlobalsBackupFailed { .. }
                    | ServerEvent::GlobalsApplied { .. }
                    | ServerEvent::GlobalsApplyFailed { .. },
                )
                | LedgerEvent::Archive(
                    ArchiveEvent::WalArchivingEnabled { .. }
                    | ArchiveEvent::WalArchivingDisabled {}
                    | ArchiveEvent::WalPruned { .. }
                    | ArchiveEvent::ArchiveDatabaseAdded { .. }
                    | ArchiveEvent::WalArchived { .. }
                    | ArchiveEvent::WalReceiverExited { .. },
                )
                | LedgerEvent::BaseBackup(
                    BaseBackupEvent::BaseBackupStarted { .. }
                    | BaseBackupEvent::BaseBackupCompleted { .. }
                    | BaseBackupEvent::BaseBackupFailed { .. }
                    | BaseBackupEvent::BaseBackupPruned { .. }
                    | BaseBackupEvent::BaseBackupArtifactDeleted {},
                )
                | LedgerEvent::User(
                    UserEvent::UserCreated { .. }
                    | UserEvent::UserRoleChanged { .. }
                    | UserEvent::UserDisabled {}
                    | UserEvent::UserEnabled {}
                    | UserEvent::UserPasswordSet {},
                )
                | LedgerEvent::Token(
                    TokenEvent::TokenIssued { .. } | TokenEvent::TokenRevoked { .. },
                )
                | LedgerEvent::SignIn(
                    SignInEvent::SignedIn { .. } | SignInEvent::SignInFailed { .. },
                ) => {}
            }
        }
        all
    }

    fn drill_events() -> Vec<LedgerEvent> {
        use crate::drill::{
            DrillAnomaly, DrillSandbox, DrillSettings, DrillStage, DrillTrigger, TableCheck,
        };
        let t = TableCheck {
            name: "public.a".into(),
            rows: 3,
            checksum: "12".into(),
        };
        vec![
            LedgerEvent::Database(DatabaseEvent::DrillConfigured {
                drill: Some(DrillSettings {
                    schedule: Some(Schedule::parse("0 4 * * 0", None, CatchUp::Latest).unwrap()),
                    sandbox: DrillSandbox::NewDatabase {
                        server_of: "d1".into(),
                    },
                    max_row_loss_percent: 50,
                }),
            }),
            LedgerEvent::Database(DatabaseEvent::DrillSlotClaimed {
                slot: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
                drill_id: "x".into(),
            }),
            LedgerEvent::Database(DatabaseEvent::BackupJobsSet { backup_jobs: 2 }),
            LedgerEvent::Database(DatabaseEvent::RestoreJobsSet { restore_jobs: 1 }),
            LedgerEvent::Drill(DrillEvent::RestoreDrillStarted {
                database_id: "d1".into(),
                database_name: "shop".into(),
                version: "b1".into(),
                sandbox: DrillSandbox::Target {
                    database_id: "d2".into(),
                },
                trigger: DrillTrigger::Scheduled { slot: "s".into() },
                node: "n".into(),
            }),
            LedgerEvent::Drill(DrillEvent::RestoreDrillCompleted {
                version: "b1".into(),
                tables: vec![t],
                duration_ms: 42_000,
                restore_id: "r".into(),
                compared_with: Some("x0".into()),
                anomalies: vec![DrillAnomaly::Vanished {
                    table: "public.b".into(),
                    previous_rows: 9,
                }],
            }),
            LedgerEvent::Drill(DrillEvent::RestoreDrillFailed {
                stage: DrillStage::Measure,
                message: "m".into(),
                restore_id: None,
            }),
        ]
    }

    fn globals_events() -> Vec<LedgerEvent> {
        use crate::server_globals::{GlobalsRun, GlobalsSettings};
        vec![
            LedgerEvent::Server(ServerEvent::ServerGlobalsSet {
                globals: GlobalsSettings {
                    enabled: true,
                    keep_passwords: true,
                    schedule: Some(Schedule::parse("0 3 * * *", None, CatchUp::Latest).unwrap()),
                },
            }),
            LedgerEvent::Server(ServerEvent::GlobalsSlotClaimed {
                slot: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
                globals_id: "g".into(),
            }),
            LedgerEvent::Server(ServerEvent::GlobalsBackupStarted {
                run: GlobalsRun {
                    globals_id: "g".into(),
                    trigger: Trigger::Manual { actor: "a".into() },
                    method: "pg_dumpall".into(),
                    tool_version: "pg_dumpall 15".into(),
                    server_version: "15.1".into(),
                    keep_passwords: false,
                },
            }),
            LedgerEvent::Server(ServerEvent::GlobalsBackupCompleted {
                globals_id: "g".into(),
                artifact: artifact(),
                duration_ms: 5,
            }),
            LedgerEvent::Server(ServerEvent::GlobalsBackupFailed {
                globals_id: "g".into(),
                failure: Failure {
                    stage: Stage::Dump,
                    message: "m".into(),
                    stderr_tail: String::new(),
                },
            }),
            LedgerEvent::Server(ServerEvent::GlobalsApplied {
                globals_id: "g".into(),
                target: "s2".into(),
                application: crate::server::GlobalsApplication {
                    existing: 2,
                    errors: vec!["ERROR: x".into()],
                },
            }),
            LedgerEvent::Server(ServerEvent::GlobalsApplyFailed {
                globals_id: "g".into(),
                target: "s2".into(),
                failure: Failure {
                    stage: Stage::Verify,
                    message: "sha256 mismatch".into(),
                    stderr_tail: String::new(),
                },
            }),
        ]
    }

    fn access_events() -> Vec<LedgerEvent> {
        use crate::access::Role;
        vec![
            LedgerEvent::Database(DatabaseEvent::RestoreTargetSet {
                restore_target: true,
            }),
            LedgerEvent::User(UserEvent::UserCreated {
                username: "ann".into(),
                display_name: "Ann".into(),
                role: Role::Operator,
                databases: Some(vec!["staging_*".into()]),
                origin: "local".into(),
            }),
            LedgerEvent::User(UserEvent::UserRoleChanged {
                role: Role::Admin,
                databases: None,
            }),
            LedgerEvent::User(UserEvent::UserDisabled {}),
            LedgerEvent::User(UserEvent::UserEnabled {}),
            LedgerEvent::User(UserEvent::UserPasswordSet {}),
            LedgerEvent::Token(TokenEvent::TokenIssued {
                name: "ci".into(),
                owner: "user:1".into(),
                role: Role::Viewer,
                databases: None,
                expires_at: chrono::DateTime::from_timestamp(1_800_000_000, 0),
            }),
            LedgerEvent::Token(TokenEvent::TokenRevoked { reason: "r".into() }),
            LedgerEvent::SignIn(SignInEvent::SignedIn {
                user_id: "1".into(),
                username: "ann".into(),
                method: "password".into(),
                address: "127.0.0.1".into(),
            }),
            LedgerEvent::SignIn(SignInEvent::SignInFailed {
                username: "ann".into(),
                user_id: None,
                reason: "wrong password".into(),
                address: "127.0.0.1".into(),
            }),
        ]
    }

    /// Old payloads (before users existed) still decode, with their defaults.
    #[test]
    fn access_events_decode_with_defaults() {
        let p = serde_json::json!({"UserCreated": {"username": "a", "display_name": "A", "role": "viewer"}});
        let LedgerEvent::User(UserEvent::UserCreated {
            origin, databases, ..
        }) = decode("User", "UserCreated", &p).unwrap()
        else {
            panic!("not a UserCreated");
        };
        assert_eq!((origin.as_str(), databases), ("local", None));
    }

    /// Serialized as cqrs-es stores it, decoded back: equal, for every variant.
    #[test]
    fn every_variant_round_trips_through_decode() {
        let all = every_event();
        assert_eq!(all.len(), 74);
        for e in all {
            let (payload, stored_type) = match &e {
                LedgerEvent::Database(x) => (serde_json::to_value(x), x.event_type()),
                LedgerEvent::Backup(x) => (serde_json::to_value(x), x.event_type()),
                LedgerEvent::Restore(x) => (serde_json::to_value(x), x.event_type()),
                LedgerEvent::Alert(x) => (serde_json::to_value(x), x.event_type()),
                LedgerEvent::Channel(x) => (serde_json::to_value(x), x.event_type()),
                LedgerEvent::Ledger(x) => (serde_json::to_value(x), x.event_type()),
                LedgerEvent::Server(x) => (serde_json::to_value(x), x.event_type()),
                LedgerEvent::Archive(x) => (serde_json::to_value(x), x.event_type()),
                LedgerEvent::BaseBackup(x) => (serde_json::to_value(x), x.event_type()),
                LedgerEvent::User(x) => (serde_json::to_value(x), x.event_type()),
                LedgerEvent::Token(x) => (serde_json::to_value(x), x.event_type()),
                LedgerEvent::SignIn(x) => (serde_json::to_value(x), x.event_type()),
                LedgerEvent::Drill(x) => (serde_json::to_value(x), x.event_type()),
            };
            let payload = payload.unwrap();
            assert_eq!(stored_type, e.name());
            let back = decode(e.aggregate_type(), &stored_type, &payload).unwrap();
            assert_eq!(back, e, "{stored_type}");
        }
    }

    #[test]
    fn every_event_has_a_secret_free_summary() {
        for e in every_event() {
            let s = e.summary();
            assert!(!s.is_empty(), "{}", e.name());
            assert!(!s.contains("Y2lwaGVy"), "{s}");
        }
    }

    #[test]
    fn secrets_are_masked_and_mismatches_refused() {
        let all = every_event();
        let added = all.iter().find(|e| e.name() == "ChannelAdded").unwrap();
        let f = added.public_fields();
        assert_eq!(f["target"]["sealed_url"], "***");
        assert_eq!(f["secret"], "***");
        let reg = all
            .iter()
            .find(|e| e.name() == "DatabaseRegistered")
            .unwrap();
        assert_eq!(reg.public_fields()["connection"]["password"], "***");
        assert!(!reg.public_fields().to_string().contains("Y2lwaGVy"));
        let payload = serde_json::json!({"DatabasePaused": {}});
        assert!(matches!(
            decode("Database", "DatabaseResumed", &payload),
            Err(DecodeError::TypeMismatch { .. })
        ));
        assert!(matches!(
            decode("Nope", "X", &payload),
            Err(DecodeError::UnknownAggregate(_))
        ));
    }
}
