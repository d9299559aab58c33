//! The alert reactor: reads the ledger from its own checkpoint and turns failures into alerts,
//! successes into resolutions.

use super::{Alerting, Trouble, STALE_CAUSE};
use crate::error::{alert_error, from_aggregate, AppError};
use crate::time::parse_time;
use backline_domain::{
    decode, AlertCommand, AlertError, AlertKind, BackupEvent, DrillAnomaly, DrillEvent,
    LedgerEvent, RestoreEvent, ServerEvent, Stage,
};
use backline_infra::StoredEvent;
use cqrs_es::AggregateError;

const REACTOR: &str = "alerts";
const BATCH: i64 = 200;

impl Alerting {
    /// The ledger position up to which the alert reactor has reacted.
    pub async fn reactor_position(&self) -> Result<i64, AppError> {
        let row = sqlx::query("SELECT position FROM reactor_checkpoints WHERE name = $1")
            .bind(REACTOR)
            .fetch_optional(self.core.ledger.pool())
            .await
            .map_err(AppError::internal)?;
        Ok(match row {
            Some(r) => sqlx::Row::try_get(&r, "position").map_err(AppError::internal)?,
            None => 0,
        })
    }

    async fn save_checkpoint(&self, position: i64) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO reactor_checkpoints (name, position) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        )
        .bind(REACTOR)
        .bind(position)
        .execute(self.core.ledger.pool())
        .await
        .map_err(AppError::internal)?;
        Ok(())
    }

    /// Turns the events after the checkpoint into alerts, in position order.
    pub(crate) async fn react(&self) -> Result<(), AppError> {
        let core = &self.core;
        // The read models must have seen what the reactor looks up (backups, open alerts).
        let applied = core.projections.catch_up().await?;
        let mut from = self.reactor_position().await?;
        loop {
            let events = core
                .ledger
                .read_after(from, BATCH)
                .await
                .map_err(AppError::internal)?;
            let n = events.len();
            for e in events.into_iter().take_while(|e| e.position <= applied) {
                if let Ok(event) = decode(&e.aggregate_type, &e.event_type, &e.payload) {
                    self.react_to(&e, &event).await?;
                }
                core.projections.catch_up().await?;
                self.save_checkpoint(e.position).await?;
                from = e.position;
            }
            if (n as i64) < BATCH || from >= applied {
                return Ok(());
            }
        }
    }

    async fn react_to(&self, s: &StoredEvent, event: &LedgerEvent) -> Result<(), AppError> {
        let fresh = s
            .meta("at")
            .and_then(parse_time)
            .is_none_or(|t| chrono::Utc::now() - t < STALE_CAUSE);
        match event {
            LedgerEvent::Backup(BackupEvent::BackupCompleted { .. }) => {
                self.resolve_after_backup(s).await
            }
            LedgerEvent::Backup(BackupEvent::BackupVerified { ok: true, .. }) => {
                self.resolve_after_verify(s).await
            }
            LedgerEvent::Restore(RestoreEvent::RestoreCompleted { .. }) => {
                self.resolve_after_restore(s).await
            }
            LedgerEvent::Drill(DrillEvent::RestoreDrillCompleted { anomalies, .. }) => {
                self.on_drill(s, anomalies, fresh).await
            }
            LedgerEvent::Backup(b) if fresh => self.on_backup_trouble(s, b).await,
            LedgerEvent::Restore(RestoreEvent::RestoreFailed { failure, .. }) if fresh => {
                let Some(r) = self.core.projections.restore(&s.aggregate_id).await? else {
                    return Ok(());
                };
                self.raise_or_repeat(Trouble {
                    kind: AlertKind::RestoreFailed,
                    database_id: &r.target_database_id,
                    database_name: &r.target_database_name,
                    cause: format!("position:{}", s.position),
                    cause_event: Some(s.position),
                    message: format!(
                        "restore {} of backup {} failed: {} ({} stage)",
                        r.id, r.backup_id, failure.message, failure.stage
                    ),
                    detail: failure.stderr_tail.clone(),
                })
                .await
            }
            LedgerEvent::Server(ServerEvent::DatabaseDiscovered {
                name,
                database_id,
                error,
                alert: true,
            }) if fresh => {
                let server = self.core.projections.server(&s.aggregate_id).await?;
                let server_name = server.map(|v| v.name).unwrap_or_default();
                self.raise_or_repeat(Trouble {
                    kind: AlertKind::DatabaseDiscovered,
                    database_id: database_id.as_deref().unwrap_or(&s.aggregate_id),
                    database_name: name,
                    cause: format!("position:{}", s.position),
                    cause_event: Some(s.position),
                    message: match error {
                        None => format!("new database {name} on server {server_name} was registered"),
                        Some(e) => format!(
                            "new database {name} on server {server_name} could not be registered: {e}"
                        ),
                    },
                    detail: String::new(),
                })
                .await
            }
            _ => Ok(()),
        }
    }

    /// A backup that failed, was abandoned, lost a copy or could not be deleted.
    async fn on_backup_trouble(
        &self,
        s: &StoredEvent,
        event: &BackupEvent,
    ) -> Result<(), AppError> {
        let Some(b) = self.core.projections.backup(&s.aggregate_id).await? else {
            return Ok(());
        };
        let (kind, message, detail) = match event {
            BackupEvent::BackupFailed { failure, .. } => {
                let kind = match &failure.stage {
                    Stage::Stalled => AlertKind::BackupStalled,
                    stage if stage.is_storage() => AlertKind::StorageFailure,
                    _ => AlertKind::BackupFailed,
                };
                (
                    kind,
                    format!("{} ({} stage)", failure.message, failure.stage),
                    failure.stderr_tail.clone(),
                )
            }
            BackupEvent::BackupDeletionFailed { error } => (
                AlertKind::StorageFailure,
                format!(
                    "pruned version {} could not be deleted from storage: {error}",
                    b.id
                ),
                String::new(),
            ),
            BackupEvent::BackupAbandoned { reason } => (
                AlertKind::BackupAbandoned,
                format!("backup {} was abandoned: {reason}", b.id),
                String::new(),
            ),
            BackupEvent::BackupVerified {
                ok: false,
                detail,
                storage,
            } => (
                AlertKind::VerifyFailed,
                format!(
                    "version {} of {} did not verify{}: {detail}",
                    b.id,
                    b.database_name,
                    storage
                        .as_deref()
                        .map(|s| format!(" (its copy on {s})"))
                        .unwrap_or_default()
                ),
                String::new(),
            ),
            BackupEvent::BackupCopyFailed {
                storage, message, ..
            } => (
                AlertKind::StorageFailure,
                format!("the copy of backup {} to {storage} failed: {message}", b.id),
                String::new(),
            ),
            _ => return Ok(()),
        };
        self.raise_or_repeat(Trouble {
            kind,
            database_id: &b.database_id,
            database_name: &b.database_name,
            cause: format!("position:{}", s.position),
            cause_event: Some(s.position),
            message,
            detail,
        })
        .await
    }

    async fn resolve_after_backup(&self, s: &StoredEvent) -> Result<(), AppError> {
        let core = &self.core;
        let Some(b) = core.projections.backup(&s.aggregate_id).await? else {
            return Ok(());
        };
        for a in core.projections.alerts(None, Some(&b.database_id)).await? {
            let degraded = b.degraded && a.kind == AlertKind::StorageFailure;
            if !a.is_resolved() && a.kind.resolved_by_backup() && !degraded {
                self.resolve(&a.id, s).await?;
            }
        }
        Ok(())
    }

    /// A verification that passed resolves the database's `verify_failed` alert once none of
    /// its kept versions' last verification failed.
    async fn resolve_after_verify(&self, s: &StoredEvent) -> Result<(), AppError> {
        let core = &self.core;
        let Some(b) = core.projections.backup(&s.aggregate_id).await? else {
            return Ok(());
        };
        let filter = backline_projections::BackupFilter {
            database_id: Some(b.database_id.clone()),
            status: Some(backline_domain::BackupStatus::Completed),
            ..Default::default()
        };
        let still_failing = core
            .projections
            .all_backups(&filter)
            .await?
            .iter()
            .any(|v| v.verified_ok == Some(false));
        if still_failing {
            return Ok(());
        }
        for a in core.projections.alerts(None, Some(&b.database_id)).await? {
            if !a.is_resolved() && a.kind == AlertKind::VerifyFailed {
                self.resolve(&a.id, s).await?;
            }
        }
        Ok(())
    }

    /// A drill with anomalies raises `drill_anomaly`; a drill without resolves it.
    async fn on_drill(
        &self,
        s: &StoredEvent,
        anomalies: &[DrillAnomaly],
        fresh: bool,
    ) -> Result<(), AppError> {
        let core = &self.core;
        let Some(d) = core.projections.drill(&s.aggregate_id).await? else {
            return Ok(());
        };
        if anomalies.is_empty() {
            for a in core.projections.alerts(None, Some(&d.database_id)).await? {
                if !a.is_resolved() && a.kind == AlertKind::DrillAnomaly {
                    self.resolve(&a.id, s).await?;
                }
            }
            return Ok(());
        }
        if !fresh {
            return Ok(());
        }
        let what: Vec<String> = anomalies.iter().map(DrillAnomaly::describe).collect();
        self.raise_or_repeat(Trouble {
            kind: AlertKind::DrillAnomaly,
            database_id: &d.database_id,
            database_name: &d.database_name,
            cause: format!("position:{}", s.position),
            cause_event: Some(s.position),
            message: format!(
                "restore drill {} of {} (version {}) found: {}",
                d.id,
                d.database_name,
                d.version,
                what.join("; ")
            ),
            detail: String::new(),
        })
        .await
    }

    async fn resolve_after_restore(&self, s: &StoredEvent) -> Result<(), AppError> {
        let core = &self.core;
        let Some(r) = core.projections.restore(&s.aggregate_id).await? else {
            return Ok(());
        };
        for a in core
            .projections
            .alerts(None, Some(&r.target_database_id))
            .await?
        {
            if !a.is_resolved() && a.kind == AlertKind::RestoreFailed {
                self.resolve(&a.id, s).await?;
            }
        }
        Ok(())
    }

    async fn resolve(&self, alert_id: &str, by: &StoredEvent) -> Result<(), AppError> {
        let core = &self.core;
        let r = core
            .aggregates
            .alerts
            .execute_with_metadata(
                alert_id,
                AlertCommand::Resolve {
                    by_event: by.position,
                    by_type: by.event_type.clone(),
                },
                core.meta("alerts", alert_id),
            )
            .await;
        match r {
            Ok(()) => {
                tracing::info!(alert_id, by = by.event_type, "alert resolved");
                Ok(())
            }
            Err(AggregateError::UserError(AlertError::Resolved)) => Ok(()),
            Err(e) => Err(from_aggregate(e, alert_error)),
        }
    }
}
