//! Continuous WAL archiving of a registered PostgreSQL database's server, one archive per server
//! ([`shared`]): enabling it (every prerequisite checked, each missing one named with its fix;
//! a second database of an archived server joins its archive), the supervised `pg_receivewal`
//! ([`receiver`]), shipping complete segments through the pipeline ([`ship`]), base backups
//! ([`base_backup`]) and the recoverable window ([`window`]).

pub mod base_backup;
mod receiver;
pub(crate) mod retention;
mod shared;
mod ship;
pub mod window;

pub use base_backup::BaseBackupView;
pub use receiver::run as run_receivers;
pub use window::{RecoveryWindow, WalGap};

use crate::core::Core;
use crate::error::{from_aggregate, AppError};
use backline_domain::{
    Archive, ArchiveCommand, ArchiveError, ArchiveRetention, ArchivedServer, CatchUp,
    ConnectionString, Engine, Schedule,
};
use backline_infra::drivers::pg_archive;
use std::sync::Arc;

/// The archiving state of one database, as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArchiveView {
    pub database_id: String,
    /// The server's archive (the id of the database that first enabled it).
    pub archive_id: String,
    /// Every registered database sharing this server's archive.
    pub databases: Vec<String>,
    pub enabled: bool,
    /// `host:port` of the archived server.
    pub server: Option<String>,
    pub slot: Option<String>,
    pub server_major: Option<u32>,
    /// Cron expression of the scheduled base backups (UTC).
    pub base_backup_schedule: Option<String>,
    /// Retention: the newest this many base backups stay (with the WAL they need).
    pub keep_base_backups: Option<u32>,
    /// Retention: every second of the last this many days stays restorable.
    pub keep_days: Option<u32>,
    /// Archived segments still kept.
    pub segments: usize,
    pub newest_segment: Option<String>,
}

impl ArchiveView {
    fn of(database_id: &str, archive_id: &str, a: &Archive) -> Self {
        let mut databases = vec![archive_id.to_string()];
        databases.extend(a.databases.iter().cloned());
        Self {
            database_id: database_id.to_string(),
            archive_id: archive_id.to_string(),
            databases,
            enabled: a.enabled,
            server: a.server.as_ref().map(|s| s.server.clone()),
            slot: a.server.as_ref().map(|s| s.slot.clone()),
            server_major: a.server.as_ref().map(|s| s.server_major),
            base_backup_schedule: a.base_backup_schedule.as_ref().map(|s| s.cron.clone()),
            keep_base_backups: a.retention.keep_base_backups,
            keep_days: a.retention.keep_days,
            segments: a.segments.len(),
            newest_segment: a.newest().map(|s| s.name.clone()),
        }
    }
}

pub(crate) fn archive_error(e: &ArchiveError) -> AppError {
    AppError::Conflict(e.to_string())
}

#[derive(Clone)]
pub struct Archiving {
    core: Arc<Core>,
}

impl Archiving {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// The PostgreSQL database `reference` with its connection.
    async fn postgres(&self, reference: &str) -> Result<(String, ConnectionString), AppError> {
        let id = self.core.resolve_database(reference).await?.id;
        let (_, conn) = self.core.database_state(&id).await?;
        let conn = conn.ok_or_else(|| AppError::NotFound(format!("database {id} was removed")))?;
        if conn.engine != Engine::Postgres {
            return Err(AppError::Unprocessable(
                "point-in-time recovery is for PostgreSQL databases: MySQL/MariaDB have no WAL archiving here".into(),
            ));
        }
        Ok((id, conn))
    }

    pub(crate) async fn load(core: &Core, id: &str) -> Result<Archive, AppError> {
        Ok(core
            .ledger
            .load::<Archive>(id)
            .await
            .map_err(AppError::internal)?
            .unwrap_or_default())
    }

    /// Enables archiving for the server of database `reference`: checks, slot, then the
    /// `WalArchivingEnabled` event (the receiver starts within seconds on one node).
    pub async fn enable(
        &self,
        actor: &str,
        reference: &str,
        base_backup_schedule: Option<&str>,
        retention: ArchiveRetention,
    ) -> Result<ArchiveView, AppError> {
        if retention.keep_base_backups == Some(0) {
            return Err(AppError::invalid(
                "keep_base_backups",
                "must be at least 1 (the newest base backup always stays)",
            ));
        }
        if retention
            .keep_days
            .is_some_and(|d| !(1..=36_500).contains(&d))
        {
            return Err(AppError::invalid("keep_days", "must be from 1 to 36500"));
        }
        let schedule = match base_backup_schedule {
            Some(cron) => Some(
                Schedule::parse(cron, None, CatchUp::Latest)
                    .map_err(|e| AppError::invalid("base_backup_schedule", e.to_string()))?,
            ),
            None => None,
        };
        let (id, conn) = self.postgres(reference).await?;
        let server_key = format!("{}:{}", conn.host, conn.port);
        // Another registered database of this server already archives it: share that archive.
        if let Some((archive_id, archive)) =
            Self::enabled_for_server(&self.core, &server_key, &id).await?
        {
            // What the request gives replaces the archive's; what it leaves out stays.
            if let Some(server) = archive.server.clone() {
                self.execute(
                    actor,
                    &id,
                    &archive_id,
                    ArchiveCommand::Enable {
                        server,
                        base_backup_schedule: schedule.or(archive.base_backup_schedule),
                        retention: if retention.is_empty() {
                            archive.retention
                        } else {
                            retention
                        },
                    },
                )
                .await?;
            }
            return self
                .execute(
                    actor,
                    &id,
                    &archive_id,
                    ArchiveCommand::AddDatabase {
                        database_id: id.clone(),
                    },
                )
                .await;
        }
        // Through the database's SSH bastion when it has one, like its backups.
        let conn = crate::tunnels::reach(&self.core, &conn)
            .await
            .map_err(|e| {
                AppError::Unprocessable(format!(
                    "WAL archiving cannot start on {server_key}: {}",
                    e.message
                ))
            })?;
        let slot = pg_archive::slot_name(&id);
        let facts = pg_archive::check_prerequisites(&conn, &slot)
            .await
            .map_err(|missing| {
                AppError::Unprocessable(format!(
                    "WAL archiving cannot start on {}:{}: {}",
                    conn.host,
                    conn.port,
                    missing.join("; ")
                ))
            })?;
        let receivewal =
            pg_archive::exact_tool("pg_receivewal", &self.core.tools, facts.server_major)
                .await
                .map_err(|e| AppError::Unprocessable(e.message))?;
        pg_archive::create_slot(&conn, &receivewal, &slot)
            .await
            .map_err(|e| AppError::Unprocessable(e.message))?;
        let server = ArchivedServer {
            server: server_key,
            system_identifier: facts.system_identifier,
            server_major: facts.server_major,
            wal_segment_size: facts.wal_segment_size,
            slot,
        };
        self.execute(
            actor,
            &id,
            &id,
            ArchiveCommand::Enable {
                server,
                base_backup_schedule: schedule,
                retention,
            },
        )
        .await
    }

    /// Disables archiving of the database's server (for every database sharing it): the
    /// receiver stops, its slot is dropped; archived WAL stays.
    pub async fn disable(&self, actor: &str, reference: &str) -> Result<ArchiveView, AppError> {
        let (id, _) = self.postgres(reference).await?;
        let Some((archive_id, archive)) = Self::archive_of(&self.core, &id).await? else {
            return Ok(ArchiveView::of(&id, &id, &Archive::default()));
        };
        let view = self
            .execute(actor, &id, &archive_id, ArchiveCommand::Disable)
            .await?;
        let conn = match Self::conn_of(&self.core, &archive_id, &archive).await {
            Some(c) => match crate::tunnels::reach(&self.core, &c).await {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(archive_id, error = %e.message, "cannot reach the server to drop the replication slot");
                    None
                }
            },
            None => None,
        };
        if let (Some(slot), Some(conn)) = (&view.slot, conn) {
            // The receiver notices within a tick or two; the slot drops once it is inactive.
            for _ in 0..40 {
                if let Ok(true) = pg_archive::drop_slot(&conn, slot).await {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
        }
        Ok(view)
    }

    pub async fn status(&self, reference: &str) -> Result<ArchiveView, AppError> {
        let id = self.core.resolve_database(reference).await?.id;
        Ok(match Self::archive_of(&self.core, &id).await? {
            Some((archive_id, a)) => ArchiveView::of(&id, &archive_id, &a),
            None => ArchiveView::of(&id, &id, &Archive::default()),
        })
    }

    /// Runs `command` on archive `archive_id` and returns it as database `id` sees it.
    async fn execute(
        &self,
        actor: &str,
        id: &str,
        archive_id: &str,
        command: ArchiveCommand,
    ) -> Result<ArchiveView, AppError> {
        let core = &self.core;
        core.aggregates
            .archives
            .execute_with_metadata(archive_id, command, core.meta(actor, archive_id))
            .await
            .map_err(|e| from_aggregate(e, archive_error))?;
        core.refresh().await;
        Ok(ArchiveView::of(
            id,
            archive_id,
            &Self::load(core, archive_id).await?,
        ))
    }
}
