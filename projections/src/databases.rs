//! The databases read model: every registered database with its settings, counters, last
//! backup and running backup.

use crate::backups::BackupView;
use crate::drills::{DrillSettingsView, DrillSummary, DrillView};
use crate::event::Applied;
use crate::store::{bodies, load, Arg, OnConflict, Tx, Write};
use crate::{ProjectionError, Projections};
use backline_domain::{
    BackupEvent, BackupStatus, CatchUp, DatabaseEvent, Engine, LedgerEvent, RestoreEvent,
    Retention, Schedule,
};
use serde::{Deserialize, Serialize};

/// Whether a database is still registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseStatus {
    Active,
    Removed,
}

impl DatabaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseStatus::Active => "active",
            DatabaseStatus::Removed => "removed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupSummary {
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub status: BackupStatus,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleView {
    /// Cron expression: 5 fields, or 6 with seconds first.
    pub cron: String,
    /// IANA time zone the expression is evaluated in.
    pub timezone: String,
    /// `latest`, `none` or `all`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub catch_up: CatchUp,
    /// The schedule in words.
    pub description: String,
    /// When the schedule was set: slots before it are never due.
    pub since: String,
    /// Next run (UTC), computed when read.
    #[serde(default)]
    pub next_run_at: Option<String>,
    /// Next run in the schedule's time zone, computed when read.
    #[serde(default)]
    pub next_run_at_local: Option<String>,
}

impl ScheduleView {
    pub(crate) fn of(s: &Schedule, at: &str) -> Self {
        ScheduleView {
            cron: s.cron.clone(),
            timezone: s.timezone.clone(),
            catch_up: s.catch_up,
            description: s.describe(),
            since: at.to_string(),
            next_run_at: None,
            next_run_at_local: None,
        }
    }

    /// The stored schedule, parsed again (it was validated when it was set).
    pub fn schedule(&self) -> Option<Schedule> {
        Schedule::parse(&self.cron, Some(&self.timezone), self.catch_up).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatabaseView {
    pub id: String,
    pub name: String,
    /// `postgres` or `mysql`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub engine: Engine,
    /// Connection string with the password replaced by `***`.
    pub connection: String,
    /// The SSH bastion it is reached through, if any.
    #[serde(default)]
    pub ssh: Option<crate::SshView>,
    /// `active` or `removed`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub status: DatabaseStatus,
    pub created_at: String,
    pub updated_at: String,
    pub removed_at: Option<String>,
    pub last_backup: Option<BackupSummary>,
    pub last_successful_backup_at: Option<String>,
    pub backups_total: u64,
    pub backups_completed: u64,
    pub backups_failed: u64,
    /// Restores into this database.
    pub restores_total: u64,
    /// Restores of this database's versions into other databases.
    #[serde(default)]
    pub restores_from_versions: u64,
    pub running_backup_id: Option<String>,
    #[serde(default)]
    pub schedule: Option<ScheduleView>,
    #[serde(default)]
    pub paused: bool,
    /// Retention policy (`keep_last`, `keep_daily`, …, `max_age_days`, `min_keep`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub retention: Retention,
    #[serde(default)]
    pub last_claimed_slot: Option<String>,
    /// Names of the storages its backups go to; `null` means every configured storage.
    #[serde(default)]
    pub destinations: Option<Vec<String>>,
    /// Operators may restore into it (a staging or sandbox database); admins restore anywhere.
    #[serde(default)]
    pub restore_target: bool,
    /// Its restore drill (`null`: none).
    #[serde(default)]
    pub drill: Option<DrillSettingsView>,
    /// Its latest restore drill.
    #[serde(default)]
    pub last_drill: Option<DrillSummary>,
    /// `pg_dump` processes per backup (PostgreSQL; 1: one stream).
    #[serde(default = "one_job")]
    pub backup_jobs: u32,
    /// `pg_restore` jobs per restore into it (PostgreSQL; `null`: the default, min(4, cores)
    /// of the Backline host).
    #[serde(default)]
    pub restore_jobs: Option<u32>,
}

fn one_job() -> u32 {
    1
}

impl DatabaseView {
    pub fn is_active(&self) -> bool {
        self.status == DatabaseStatus::Active
    }
}

pub(crate) fn summary(b: &BackupView) -> BackupSummary {
    BackupSummary {
        id: b.id.clone(),
        status: b.status,
        started_at: b.started_at.clone(),
        finished_at: b.finished_at.clone(),
        bytes: b.bytes,
    }
}

async fn save(tx: &mut Tx<'_>, v: &DatabaseView) -> Result<(), ProjectionError> {
    tx.write(Write {
        table: "rm_databases",
        key: ("id", Arg::S(v.id.clone())),
        cols: vec![
            ("name", Arg::S(v.name.clone())),
            ("status", Arg::S(v.status.as_str().into())),
            ("body", Arg::body(v)),
        ],
        on_conflict: OnConflict::Set(&["name", "status", "body"]),
    });
    Ok(())
}

async fn update(
    tx: &mut Tx<'_>,
    id: &str,
    change: impl FnOnce(&mut DatabaseView),
) -> Result<(), ProjectionError> {
    if let Some(mut v) = load::<DatabaseView>(tx, "rm_databases", id).await? {
        change(&mut v);
        save(tx, &v).await?;
    }
    Ok(())
}

/// Applies one event (after the backups and restores read models applied it).
pub(crate) async fn apply(tx: &mut Tx<'_>, e: &Applied<'_>) -> Result<(), ProjectionError> {
    let id = e.aggregate_id;
    let at = e.at.clone();
    match &e.event {
        LedgerEvent::Database(d) => apply_own(tx, id, &at, d).await,
        LedgerEvent::Backup(BackupEvent::BackupStarted { database_id, .. }) => {
            let Some(b) = load::<BackupView>(tx, "rm_backups", id).await? else {
                return Ok(());
            };
            update(tx, database_id, |d| {
                d.backups_total += 1;
                d.running_backup_id = Some(b.id.clone());
                d.last_backup = Some(summary(&b));
            })
            .await
        }
        LedgerEvent::Backup(
            BackupEvent::BackupCompleted { .. }
            | BackupEvent::BackupFailed { .. }
            | BackupEvent::BackupAbandoned { .. }
            | BackupEvent::BackupCancelled { .. }
            | BackupEvent::BackupPruned { .. },
        ) => {
            let Some(b) = load::<BackupView>(tx, "rm_backups", id).await? else {
                return Ok(());
            };
            let ended = !matches!(
                &e.event,
                LedgerEvent::Backup(BackupEvent::BackupPruned { .. })
            );
            update(tx, &b.database_id.clone(), |d| {
                if ended {
                    if b.status == BackupStatus::Completed {
                        d.backups_completed += 1;
                        d.last_successful_backup_at = Some(at);
                    } else if b.status != BackupStatus::Cancelled {
                        d.backups_failed += 1;
                    }
                    if d.running_backup_id.as_deref() == Some(id) {
                        d.running_backup_id = None;
                    }
                }
                if d.last_backup.as_ref().is_some_and(|l| l.id == id) {
                    d.last_backup = Some(summary(&b));
                }
            })
            .await
        }
        LedgerEvent::Restore(RestoreEvent::RestoreStarted {
            source_database_id,
            target_database_id,
            ..
        }) => {
            update(tx, target_database_id, |d| d.restores_total += 1).await?;
            if source_database_id != target_database_id {
                update(tx, source_database_id, |d| d.restores_from_versions += 1).await?;
            }
            Ok(())
        }
        LedgerEvent::Drill(_) => {
            let Some(drill) = load::<DrillView>(tx, "rm_drills", id).await? else {
                return Ok(());
            };
            update(tx, &drill.database_id.clone(), |d| {
                d.last_drill = Some(drill.summary())
            })
            .await
        }
        _ => Ok(()),
    }
}

async fn apply_own(
    tx: &mut Tx<'_>,
    id: &str,
    at: &str,
    event: &DatabaseEvent,
) -> Result<(), ProjectionError> {
    if let DatabaseEvent::DatabaseRegistered {
        name,
        engine,
        connection,
        schedule,
        retention,
    } = event
    {
        let v = DatabaseView {
            id: id.to_string(),
            name: name.to_string(),
            engine: *engine,
            connection: connection.redacted(*engine),
            ssh: connection.ssh.as_deref().map(crate::SshView::of),
            status: DatabaseStatus::Active,
            created_at: at.to_string(),
            updated_at: at.to_string(),
            removed_at: None,
            last_backup: None,
            last_successful_backup_at: None,
            backups_total: 0,
            backups_completed: 0,
            backups_failed: 0,
            restores_total: 0,
            restores_from_versions: 0,
            running_backup_id: None,
            schedule: schedule.as_ref().map(|s| ScheduleView::of(s, at)),
            paused: false,
            retention: retention.clone(),
            last_claimed_slot: None,
            destinations: None,
            restore_target: false,
            drill: None,
            last_drill: None,
            backup_jobs: 1,
            restore_jobs: None,
        };
        return save(tx, &v).await;
    }
    update(tx, id, |v| {
        match event {
            DatabaseEvent::DatabaseRegistered { .. } => {}
            DatabaseEvent::DatabaseUpdated {
                name,
                connection,
                schedule,
                retention,
            } => {
                if let Some(n) = name {
                    v.name = n.to_string();
                }
                if let Some(c) = connection {
                    v.connection = c.redacted(v.engine);
                    v.ssh = c.ssh.as_deref().map(crate::SshView::of);
                }
                if let Some(change) = schedule {
                    v.schedule = change.schedule.as_ref().map(|s| ScheduleView::of(s, at));
                    v.last_claimed_slot = None;
                }
                if let Some(r) = retention {
                    v.retention = r.clone();
                }
            }
            DatabaseEvent::DatabasePaused {} => v.paused = true,
            DatabaseEvent::DatabaseResumed {} => v.paused = false,
            DatabaseEvent::ScheduledRunClaimed { slot, .. } => {
                v.last_claimed_slot =
                    Some(slot.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            }
            DatabaseEvent::DestinationsChanged { destinations } => {
                v.destinations = destinations.clone()
            }
            DatabaseEvent::RestoreTargetSet { restore_target } => {
                v.restore_target = *restore_target
            }
            DatabaseEvent::DrillConfigured { drill } => {
                v.drill = drill.as_ref().map(|d| DrillSettingsView::of(d, at))
            }
            DatabaseEvent::BackupJobsSet { backup_jobs } => v.backup_jobs = *backup_jobs,
            DatabaseEvent::RestoreJobsSet { restore_jobs } => v.restore_jobs = Some(*restore_jobs),
            DatabaseEvent::DrillSlotClaimed { slot, .. } => {
                if let Some(d) = v.drill.as_mut() {
                    d.last_claimed_slot =
                        Some(slot.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
                }
            }
            DatabaseEvent::DatabaseRemoved {} => {
                v.status = DatabaseStatus::Removed;
                v.removed_at = Some(at.to_string());
            }
        }
        v.updated_at = at.to_string();
    })
    .await
}

/// Fills the next run of a schedule, which depends on the clock and so is never stored.
fn fill_next_run(sv: &mut ScheduleView) {
    if let Some(s) = sv.schedule() {
        if let Some(next) = s.next_runs(chrono::Utc::now(), 1).first() {
            sv.next_run_at = Some(next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            sv.next_run_at_local = Some(s.local(*next));
        }
    }
}

/// Fills the next runs of the backup and drill schedules (unless the database is paused).
fn with_next_run(mut v: DatabaseView) -> DatabaseView {
    if v.paused || !v.is_active() {
        return v;
    }
    if let Some(sv) = v.schedule.as_mut() {
        fill_next_run(sv);
    }
    if let Some(sv) = v.drill.as_mut().and_then(|d| d.schedule.as_mut()) {
        fill_next_run(sv);
    }
    v
}

impl Projections {
    pub async fn databases(
        &self,
        include_removed: bool,
    ) -> Result<Vec<DatabaseView>, ProjectionError> {
        let (sql, args) = if include_removed {
            ("SELECT body FROM rm_databases ORDER BY name, id", vec![])
        } else {
            (
                "SELECT body FROM rm_databases WHERE status = $1 ORDER BY name, id",
                vec![Arg::S(DatabaseStatus::Active.as_str().into())],
            )
        };
        let v: Vec<DatabaseView> = bodies(self.ledger.pool(), sql, args).await?;
        Ok(v.into_iter().map(with_next_run).collect())
    }

    pub async fn database(&self, id: &str) -> Result<Option<DatabaseView>, ProjectionError> {
        let v: Option<DatabaseView> = bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_databases WHERE id = $1",
            vec![Arg::S(id.into())],
        )
        .await?
        .pop();
        Ok(v.map(with_next_run))
    }

    /// The active database named `name` (names are unique among active databases).
    pub async fn database_by_name(
        &self,
        name: &str,
    ) -> Result<Option<DatabaseView>, ProjectionError> {
        let v: Option<DatabaseView> = bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_databases WHERE name = $1 AND status = $2",
            vec![
                Arg::S(name.into()),
                Arg::S(DatabaseStatus::Active.as_str().into()),
            ],
        )
        .await?
        .pop();
        Ok(v.map(with_next_run))
    }
}
