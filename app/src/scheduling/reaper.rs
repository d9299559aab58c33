//! Work whose process died: backups whose lease expired are recorded as abandoned (and their
//! slot re-run when the catch-up policy asks), restores as failed.

use super::Scheduler;
use crate::coordination::Lapse;
use crate::error::AppError;
use crate::restores::scratch_name;
use crate::time::parse_time;
use backline_domain::{
    BackupCommand, BackupStatus, CatchUp, Failure, RestoreCommand, RestoreStatus, Stage,
    TriggerKind,
};
use backline_infra::claims::Kind;
use backline_infra::drivers;
use backline_projections::{BackupFilter, BackupView, RestoreView};
use chrono::Utc;

impl Scheduler {
    /// Records running backups whose lease expired as abandoned, cleans up after them, and
    /// re-runs their slot when the catch-up policy asks for it; records running restores whose
    /// lease expired as failed.
    pub async fn reap_abandoned(&self) -> Result<(), AppError> {
        self.reap_restores().await?;
        crate::drills::reap_drills(&self.core).await?;
        let running = self
            .core
            .projections
            .all_backups(&BackupFilter {
                status: Some(BackupStatus::Running),
                ..Default::default()
            })
            .await?;
        for b in running {
            self.reap_backup(b).await?;
        }
        Ok(())
    }

    async fn reap_backup(&self, b: BackupView) -> Result<(), AppError> {
        let core = &self.core;
        let ttl = core.settings.lease_ttl();
        let reason = match core
            .coordination
            .lease_lapse(&b.id, &b.started_at, ttl)
            .await?
        {
            Some(Lapse::Expired { node }) => format!("node {node} stopped renewing its lease"),
            Some(Lapse::NeverTaken) => format!("node {} never took a lease", b.node),
            None => return Ok(()),
        };
        let abandoned = core
            .aggregates
            .backups
            .execute_with_metadata(
                &b.id,
                BackupCommand::Abandon {
                    reason: reason.clone(),
                },
                core.meta("reaper", &b.id),
            )
            .await;
        if abandoned.is_err() {
            return Ok(()); // someone else recorded it, or it ended meanwhile
        }
        tracing::warn!(backup_id = b.id, reason, "backup abandoned");
        core.coordination.end_lease(&b.id).await;
        core.coordination
            .release(Kind::Backup, &b.database_id, &b.id)
            .await;
        crate::backups::partials::remove_partials_of(core, &b.id).await;
        core.refresh().await;
        if b.trigger != TriggerKind::Scheduled {
            return Ok(());
        }
        let db = core.projections.database(&b.database_id).await?;
        let policy = db
            .as_ref()
            .and_then(|d| d.schedule.as_ref())
            .map(|s| s.catch_up);
        let slot = db
            .as_ref()
            .and_then(|d| d.last_claimed_slot.clone())
            .and_then(|s| parse_time(&s));
        if let (Some(p), Some(slot)) = (policy, slot) {
            if p != CatchUp::None && db.as_ref().is_some_and(|d| !d.paused) {
                self.claim_and_start(&b.database_id, slot, Some(b.id.clone()))
                    .await;
            }
        }
        Ok(())
    }

    /// A restore whose process died, once its lease expired: if it had begun to replace its
    /// target (a PostgreSQL swap that committed, a journaled MariaDB move), that is finished
    /// and the restore recorded completed; otherwise it is failed (stage `abandoned`), the
    /// target untouched, and its scratch database left for the operator (a leftover).
    async fn reap_restores(&self) -> Result<(), AppError> {
        let running: Vec<RestoreView> = self
            .core
            .projections
            .restores(None, 1000)
            .await?
            .into_iter()
            .filter(|r| r.status == RestoreStatus::Running)
            .collect();
        for r in running {
            self.reap_restore(r).await?;
        }
        Ok(())
    }

    async fn reap_restore(&self, r: RestoreView) -> Result<(), AppError> {
        let core = &self.core;
        let ttl = core.settings.lease_ttl();
        let who = match core
            .coordination
            .lease_lapse(&r.id, &r.started_at, ttl)
            .await?
        {
            Some(Lapse::Expired { node }) => format!("node {node} stopped renewing its lease"),
            Some(Lapse::NeverTaken) => "its node never took a lease".to_string(),
            None => return Ok(()),
        };
        let age = Utc::now() - parse_time(&r.started_at).unwrap_or_else(Utc::now);
        let duration_ms = age.num_milliseconds().max(0) as u64;
        let conn = match core.database_state(&r.target_database_id).await {
            Ok((_, Some(c))) => Some(c),
            _ => None,
        };
        let target_database = conn
            .as_ref()
            .map(|c| c.database.clone())
            .unwrap_or_else(|| r.target_database_id.clone());
        let scratch = scratch_name(r.engine, &target_database, &r.id);
        // A restore that died after its commit point is completed, not failed.
        let moved = match &conn {
            Some(c) => match crate::tunnels::reach(core, c).await {
                Ok(c) => drivers::complete_interrupted_move(&c, &core.tools, &scratch).await,
                Err(e) => Err(e),
            },
            None => Ok(false),
        };
        let command = match moved {
            Ok(true) => RestoreCommand::Complete {
                duration_ms,
                previous_kept_as: None,
                warnings: vec![format!(
                    "the process running this restore died ({who}) after it had begun to replace \
                     {}; the replacement was completed from what that process had prepared",
                    r.target_database_name
                )],
            },
            moved => {
                let looked = match moved {
                    Err(e) => format!(
                        "; whether it died while replacing the target could not be checked ({}): \
                         an interrupted replacement is completed at the next start of Backline or \
                         by `backline cleanup --scratch`",
                        e.message
                    ),
                    _ => String::new(),
                };
                RestoreCommand::Fail {
                    failure: Failure {
                        stage: Stage::Abandoned,
                        message: format!(
                            "the restore was abandoned: {who}; check {}: a scratch database {scratch} may be left on its server, holding the backup's data{looked}",
                            r.target_database_name
                        ),
                        stderr_tail: String::new(),
                    },
                    duration_ms,
                }
            }
        };
        let failed = core
            .aggregates
            .restores
            .execute_with_metadata(&r.id, command, core.meta("reaper", &r.id))
            .await;
        if failed.is_err() {
            return Ok(()); // someone else recorded it, or it ended meanwhile
        }
        tracing::warn!(restore_id = r.id, who, "restore abandoned");
        core.coordination.end_lease(&r.id).await;
        core.coordination
            .release(Kind::Restore, &r.target_database_id, &r.id)
            .await;
        core.refresh().await;
        Ok(())
    }
}
