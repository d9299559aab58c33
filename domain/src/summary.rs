//! One line a person reads for each event: what happened, never a secret or a row.

use crate::alert::{AlertEvent, Outcome};
use crate::archive::ArchiveEvent;
use crate::backup::BackupEvent;
use crate::base_backup::BaseBackupEvent;
use crate::channel::ChannelEvent;
use crate::database::DatabaseEvent;
use crate::drill::{DrillEvent, DrillSandbox};
use crate::events::LedgerEvent;
use crate::ledger_chain::LedgerChainEvent;
use crate::restore::RestoreEvent;
use crate::server::ServerEvent;
use crate::signin::SignInEvent;
use crate::token::TokenEvent;
use crate::user::UserEvent;

fn bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

impl LedgerEvent {
    /// What happened, in a few words.
    pub fn summary(&self) -> String {
        match self {
            LedgerEvent::Database(e) => database(e),
            LedgerEvent::Backup(e) => backup(e),
            LedgerEvent::Restore(e) => restore(e),
            LedgerEvent::Alert(e) => alert(e),
            LedgerEvent::Channel(e) => channel(e),
            LedgerEvent::Ledger(LedgerChainEvent::LedgerSealed(s)) => format!(
                "Sealed positions {} to {} ({} events){}",
                s.head.from,
                s.head.to,
                s.head.count,
                if s.signature.is_some() {
                    ", signed"
                } else {
                    ""
                }
            ),
            LedgerEvent::Server(e) => server(e),
            LedgerEvent::Archive(e) => archive(e),
            LedgerEvent::BaseBackup(e) => base_backup(e),
            LedgerEvent::User(e) => user(e),
            LedgerEvent::Token(e) => token(e),
            LedgerEvent::SignIn(e) => sign_in(e),
            LedgerEvent::Drill(e) => drill(e),
        }
    }
}

fn server(e: &ServerEvent) -> String {
    match e {
        ServerEvent::ServerRegistered { name, engine, .. } => {
            format!("server {name} ({engine}) registered")
        }
        ServerEvent::ServerDatabasesRegistered { databases, .. } => {
            let names: Vec<&str> = databases.iter().map(|d| d.name.as_str()).collect();
            format!(
                "{} registered from the server: {}",
                databases.len(),
                names.join(", ")
            )
        }
        ServerEvent::DatabaseDiscovered {
            name,
            database_id,
            error,
            ..
        } => match (database_id, error) {
            (Some(_), _) => format!("new database {name} discovered and registered"),
            (None, Some(e)) => format!("new database {name} discovered; not registered: {e}"),
            (None, None) => format!("new database {name} discovered"),
        },
        ServerEvent::ServerRemoved {} => "server removed".into(),
        ServerEvent::ServerGlobalsSet { globals } => {
            match (globals.enabled, globals.keep_passwords) {
                (false, _) => "globals backups turned off".into(),
                (true, false) => "globals backups on (without passwords)".into(),
                (true, true) => "globals backups on (passwords kept, encrypted)".into(),
            }
        }
        ServerEvent::GlobalsSlotClaimed { slot, .. } => {
            format!("scheduled globals slot {} claimed", slot.to_rfc3339())
        }
        ServerEvent::GlobalsBackupStarted { run } => {
            format!("globals backup started ({})", run.method)
        }
        ServerEvent::GlobalsBackupCompleted { artifact, .. } => {
            format!("globals backup completed ({} bytes)", artifact.bytes)
        }
        ServerEvent::GlobalsApplied { application, .. } => format!(
            "globals applied ({} kept as they were, {} other errors)",
            application.existing,
            application.errors.len()
        ),
        ServerEvent::GlobalsBackupFailed { failure, .. }
        | ServerEvent::GlobalsApplyFailed { failure, .. } => {
            format!("globals {} failed: {}", failure.stage, failure.message)
        }
    }
}

fn database(e: &DatabaseEvent) -> String {
    match e {
        DatabaseEvent::DatabaseRegistered { name, engine, .. } => {
            format!("database {name} ({engine}) registered")
        }
        DatabaseEvent::DatabaseUpdated { .. } => "settings changed".into(),
        DatabaseEvent::DatabasePaused {} => "scheduled backups paused".into(),
        DatabaseEvent::DatabaseResumed {} => "scheduled backups resumed".into(),
        DatabaseEvent::ScheduledRunClaimed { slot, .. } => {
            format!("scheduled slot {} claimed", slot.to_rfc3339())
        }
        DatabaseEvent::DatabaseRemoved {} => "removed (its history stays)".into(),
        DatabaseEvent::RestoreTargetSet { restore_target } => if *restore_target {
            "operators may restore into it"
        } else {
            "only admins may restore into it"
        }
        .into(),
        DatabaseEvent::DrillConfigured { drill } => match drill {
            Some(d) => format!(
                "restore drill set: {}, into {}",
                d.schedule
                    .as_ref()
                    .map(|s| s.describe())
                    .unwrap_or_else(|| "when asked".into()),
                match d.sandbox {
                    DrillSandbox::Target { .. } => "a restore-target database",
                    DrillSandbox::NewDatabase { .. } => "a new database each time",
                }
            ),
            None => "restore drill removed".into(),
        },
        DatabaseEvent::DrillSlotClaimed { slot, .. } => {
            format!("restore drill slot {} claimed", slot.to_rfc3339())
        }
        e @ (DatabaseEvent::BackupJobsSet { .. } | DatabaseEvent::RestoreJobsSet { .. }) => {
            crate::database_jobs::summary(e)
        }
        DatabaseEvent::DestinationsChanged { destinations } => match destinations {
            Some(d) => format!("backups go to {}", d.join(", ")),
            None => "backups go to every configured storage".into(),
        },
    }
}

fn backup(e: &BackupEvent) -> String {
    match e {
        BackupEvent::BackupStarted {
            database_name,
            tools,
            ..
        } => format!(
            "backup of {database_name} started{}",
            tools
                .tool
                .as_deref()
                .map(|t| format!(" with {t}"))
                .unwrap_or_default()
        ),
        BackupEvent::BackupCompleted {
            artifact,
            duration_ms,
        } => format!(
            "backup completed: {} stored ({} raw) in {}",
            bytes(artifact.bytes),
            bytes(artifact.raw_bytes),
            seconds(*duration_ms)
        ),
        BackupEvent::BackupFailed { failure, .. } => format!(
            "backup failed at stage {}: {}",
            failure.stage, failure.message
        ),
        BackupEvent::BackupAbandoned { reason } => format!("backup abandoned: {reason}"),
        BackupEvent::BackupCancelRequested { .. } => "asked to stop the backup".into(),
        BackupEvent::BackupCancelled { duration_ms, .. } => {
            format!("backup cancelled after {}", seconds(*duration_ms))
        }
        BackupEvent::BackupPinned { .. } => "version pinned".into(),
        BackupEvent::BackupUnpinned { .. } => "version unpinned".into(),
        BackupEvent::BackupPruned { reason, .. } => format!("version pruned: {reason}"),
        BackupEvent::BackupArtifactDeleted {} => "pruned version's files deleted".into(),
        BackupEvent::BackupDeletionFailed { error } => {
            format!("deleting a pruned version's files failed: {error}")
        }
        BackupEvent::BackupVerified { ok: true, .. } => {
            "verified: the stored copy is intact".into()
        }
        BackupEvent::BackupVerified {
            ok: false, detail, ..
        } => {
            format!("verification failed: {detail}")
        }
        BackupEvent::BackupCopyFailed {
            storage, message, ..
        } => format!("the copy to {storage} failed: {message}"),
    }
}

fn restore(e: &RestoreEvent) -> String {
    match e {
        RestoreEvent::RestoreStarted {
            target_database_name,
            point_in_time: None,
            ..
        } => format!("restore into {target_database_name} started"),
        RestoreEvent::RestoreStarted {
            target_database_name,
            point_in_time: Some(p),
            ..
        } => match (&p.target_time, &p.target_lsn) {
            (Some(t), _) => format!(
                "restore into {target_database_name} as of {} started",
                t.to_rfc3339()
            ),
            (None, Some(l)) => {
                format!("restore into {target_database_name} as of LSN {l} started")
            }
            (None, None) => format!("point-in-time restore into {target_database_name} started"),
        },
        RestoreEvent::RestoreProgressed { step, detail } => format!("{step}: {detail}"),
        RestoreEvent::RestoreCompleted {
            duration_ms,
            previous_kept_as,
            ..
        } => format!(
            "restore completed in {}{}",
            seconds(*duration_ms),
            previous_kept_as
                .as_deref()
                .map(|k| format!("; previous contents kept as {k}"))
                .unwrap_or_default()
        ),
        RestoreEvent::RestoreFailed { failure, .. } => format!(
            "restore failed at stage {}: {}",
            failure.stage, failure.message
        ),
        RestoreEvent::RestoreCancelRequested { .. } => "asked to stop the restore".into(),
        RestoreEvent::RestoreCancelled { duration_ms, .. } => format!(
            "restore cancelled after {}; the target is as it was",
            seconds(*duration_ms)
        ),
    }
}

fn alert(e: &AlertEvent) -> String {
    match e {
        AlertEvent::AlertRaised {
            kind,
            database_name,
            ..
        } => format!("alert raised: {} ({database_name})", kind.title()),
        AlertEvent::AlertRepeated { count, .. } => format!("alert repeated ({count} times)"),
        AlertEvent::AlertNotified { delivery } => match delivery.outcome {
            Outcome::Delivered => format!("{} notice delivered", delivery.notice.as_str()),
            Outcome::Failed => format!(
                "{} notice not delivered (attempt {}): {}",
                delivery.notice.as_str(),
                delivery.attempt,
                delivery.error.as_deref().unwrap_or("failed")
            ),
        },
        AlertEvent::AlertAcknowledged { actor } => format!("alert acknowledged by {actor}"),
        AlertEvent::AlertResolved { by_type, .. } => format!("alert resolved by {by_type}"),
    }
}

fn channel(e: &ChannelEvent) -> String {
    match e {
        ChannelEvent::ChannelAdded { name, .. } => format!("channel {name} added"),
        ChannelEvent::ChannelRemoved {} => "channel removed".into(),
        ChannelEvent::ChannelTested { outcome, error, .. } => match outcome {
            Outcome::Delivered => "test notification delivered".into(),
            Outcome::Failed => format!(
                "test notification failed: {}",
                error.as_deref().unwrap_or("failed")
            ),
        },
    }
}

fn archive(e: &ArchiveEvent) -> String {
    match e {
        ArchiveEvent::WalArchivingEnabled { server, .. } => format!(
            "WAL archiving enabled for {} (slot {})",
            server.server, server.slot
        ),
        ArchiveEvent::WalArchivingDisabled {} => "WAL archiving disabled".into(),
        ArchiveEvent::ArchiveDatabaseAdded { database_id } => {
            format!("database {database_id} shares this server's WAL archive")
        }
        ArchiveEvent::WalPruned {
            before,
            segments,
            bytes: b,
            policy,
        } => format!(
            "{segments} WAL segments before {before} pruned ({}; {policy})",
            bytes(*b)
        ),
        ArchiveEvent::WalArchived { segments, .. } => match segments.as_slice() {
            [one] => format!("WAL segment {} archived ({})", one.name, bytes(one.bytes)),
            many => format!(
                "{} WAL segments archived ({})",
                many.len(),
                bytes(many.iter().map(|s| s.bytes).sum())
            ),
        },
        ArchiveEvent::WalReceiverExited {
            message,
            restart_in_ms,
        } => format!(
            "pg_receivewal stopped ({message}); restarting in {}",
            seconds(*restart_in_ms)
        ),
    }
}

fn base_backup(e: &BaseBackupEvent) -> String {
    match e {
        BaseBackupEvent::BaseBackupStarted { trigger, .. } => {
            format!("base backup started ({trigger})")
        }
        BaseBackupEvent::BaseBackupCompleted {
            artifact,
            lsns,
            duration_ms,
            ..
        } => format!(
            "base backup completed: {} from {} to {} in {}",
            bytes(artifact.bytes),
            lsns.start_lsn,
            lsns.stop_lsn,
            seconds(*duration_ms)
        ),
        BaseBackupEvent::BaseBackupFailed { failure, .. } => format!(
            "base backup failed at stage {}: {}",
            failure.stage, failure.message
        ),
        BaseBackupEvent::BaseBackupPruned { reason, .. } => {
            format!("base backup pruned: {reason}")
        }
        BaseBackupEvent::BaseBackupArtifactDeleted {} => {
            "pruned base backup's files deleted".into()
        }
    }
}
fn scope(databases: &Option<Vec<String>>) -> String {
    match databases {
        None => String::new(),
        Some(d) => format!(" on {}", d.join(", ")),
    }
}

fn user(e: &UserEvent) -> String {
    match e {
        UserEvent::UserCreated {
            username,
            role,
            databases,
            ..
        } => format!("user {username} created ({role}{})", scope(databases)),
        UserEvent::UserRoleChanged { role, databases } => {
            format!("role changed to {role}{}", scope(databases))
        }
        UserEvent::UserDisabled {} => "user disabled: its sessions and tokens ended".into(),
        UserEvent::UserEnabled {} => "user enabled".into(),
        UserEvent::UserPasswordSet {} => "password set".into(),
    }
}

fn token(e: &TokenEvent) -> String {
    match e {
        TokenEvent::TokenIssued {
            name,
            role,
            databases,
            ..
        } => format!("token {name} issued ({role}{})", scope(databases)),
        TokenEvent::TokenRevoked { reason } if reason.is_empty() => "token revoked".into(),
        TokenEvent::TokenRevoked { reason } => format!("token revoked: {reason}"),
    }
}

fn sign_in(e: &SignInEvent) -> String {
    match e {
        SignInEvent::SignedIn {
            username, method, ..
        } => format!("{username} signed in ({method})"),
        SignInEvent::SignInFailed {
            username,
            reason,
            address,
            ..
        } => format!("sign-in as {username} from {address} refused: {reason}"),
    }
}

fn drill(e: &DrillEvent) -> String {
    match e {
        DrillEvent::RestoreDrillStarted {
            database_name,
            version,
            ..
        } => format!("restore drill of {database_name} started (version {version})"),
        DrillEvent::RestoreDrillCompleted {
            tables,
            duration_ms,
            anomalies,
            ..
        } => {
            let head = format!(
                "restore drill passed: {} tables restored in {}",
                tables.len(),
                seconds(*duration_ms)
            );
            if anomalies.is_empty() {
                head
            } else {
                let what: Vec<String> = anomalies.iter().map(|a| a.describe()).collect();
                format!(
                    "restore drill restored {} tables in {}, with anomalies: {}",
                    tables.len(),
                    seconds(*duration_ms),
                    what.join("; ")
                )
            }
        }
        DrillEvent::RestoreDrillFailed { stage, message, .. } => {
            format!("restore drill failed ({stage} stage): {message}")
        }
    }
}
