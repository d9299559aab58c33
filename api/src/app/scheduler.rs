//! The scheduler: claims due slots through the Database aggregate (so that a slot runs once
//! however many processes share the ledger), starts their backups, records backups whose
//! node stopped renewing its lease as abandoned, and sweeps retention.

use super::*;
use backline_projections::BackupFilter;
use chrono::Utc;
use std::time::Duration;

/// How late a slot may be picked up and still count as "due now" for `catch_up: none`.
pub const GRACE: chrono::Duration = chrono::Duration::seconds(60);
const TICK: Duration = Duration::from_millis(500);
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// How a lease shows that the process running the work is gone.
enum Lapse {
    Expired { node: String },
    NeverTaken,
}

impl App {
    pub(crate) fn lease_ttl(&self) -> Duration {
        Duration::from_secs(self.settings.lease_ttl_secs.max(3))
    }

    /// Renews the lease on running work `id` (a backup or a restore) until the returned task
    /// is aborted: it says this node is alive and working on it (see `reap_abandoned`).
    pub(crate) fn hold_lease(self: &Arc<Self>, id: &str) -> tokio::task::JoinHandle<()> {
        let app = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            loop {
                if let Err(e) = app.leases.renew(&id, &app.node, app.lease_ttl()).await {
                    tracing::warn!(id, error = %e, "could not renew a lease");
                }
                tokio::time::sleep(app.lease_ttl() / 3).await;
            }
        })
    }

    /// Whether the lease of running work `id`, started at `started_at`, shows that its process
    /// is gone: it expired, or none was taken within a lease's time.
    async fn lease_lapse(&self, id: &str, started_at: &str) -> Result<Option<Lapse>, AppError> {
        let lease = self.leases.get(id).await.map_err(AppError::internal)?;
        let started = parse_time(started_at).unwrap_or_else(Utc::now);
        let stale_without_lease =
            Utc::now() - started > chrono::Duration::from_std(self.lease_ttl()).unwrap_or_default();
        Ok(match lease {
            Some((node, true)) => Some(Lapse::Expired { node }),
            None if stale_without_lease => Some(Lapse::NeverTaken),
            _ => None,
        })
    }

    /// The id of the backup of `view` that is running now, if any.
    pub(crate) async fn running_backup(
        &self,
        view: &DatabaseView,
    ) -> Result<Option<String>, AppError> {
        let Some(id) = &view.running_backup_id else {
            return Ok(None);
        };
        Ok(self
            .projections
            .backup(id)
            .await?
            .filter(|b| b.status == "running")
            .map(|b| b.id))
    }

    /// Runs until the process ends.
    pub async fn run_scheduler(self: Arc<Self>) {
        let mut last_sweep = Instant::now() - SWEEP_EVERY;
        let mut last_reap = Instant::now() - self.lease_ttl();
        loop {
            self.refresh().await;
            if last_reap.elapsed() >= self.lease_ttl() / 3 {
                last_reap = Instant::now();
                if let Err(e) = self.reap_abandoned().await {
                    tracing::warn!(error = %e, "checking for abandoned backups failed");
                }
            }
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "scheduler tick failed");
            }
            if last_sweep.elapsed() >= SWEEP_EVERY {
                last_sweep = Instant::now();
                self.sweep_retention().await;
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// Claims and starts whatever is due now.
    pub async fn tick(self: &Arc<Self>) -> Result<(), AppError> {
        let now = Utc::now();
        for view in self.projections.databases(false).await? {
            let Some(sv) = &view.schedule else { continue };
            if view.paused {
                continue;
            }
            let Some(schedule) = sv.schedule() else {
                continue;
            };
            if self.running_backup(&view).await?.is_some() {
                continue; // one at a time per database; due slots wait for it
            }
            let after = view
                .last_claimed_slot
                .as_deref()
                .or(Some(sv.since.as_str()))
                .and_then(parse_time)
                .unwrap_or(now);
            let due = schedule.due_slots(after, now, GRACE);
            let slot = match schedule.catch_up {
                CatchUp::All => due.first(),
                _ => due.last(),
            };
            let Some(slot) = slot.copied() else { continue };
            self.claim_and_start(&view.id, slot, None).await;
        }
        Ok(())
    }

    /// Claims `slot` (or re-claims it after an abandoned run) and starts its backup.
    async fn claim_and_start(
        self: &Arc<Self>,
        database_id: &str,
        slot: chrono::DateTime<Utc>,
        retry_of: Option<String>,
    ) {
        let backup_id = uuid::Uuid::now_v7().to_string();
        let claimed = self
            .databases
            .execute_with_metadata(
                database_id,
                DatabaseCommand::ClaimSlot {
                    slot,
                    backup_id: backup_id.clone(),
                    retry_of,
                },
                self.meta("scheduler", &backup_id),
            )
            .await;
        match claimed {
            Ok(()) => {}
            // Another process claimed it first: that one runs it.
            Err(AggregateError::AggregateConflict)
            | Err(AggregateError::UserError(DatabaseError::SlotClaimed { .. })) => return,
            Err(e) => {
                tracing::warn!(database_id, %slot, error = %e, "could not claim a scheduled slot");
                return;
            }
        }
        self.refresh().await;
        let trigger = Trigger::Scheduled {
            slot: slot.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        };
        match self
            .start_backup_as("scheduler", database_id, trigger.clone(), backup_id.clone())
            .await
        {
            Ok(_) => tracing::info!(database_id, %slot, backup_id, "scheduled backup started"),
            // The slot is ours: it must get its backup. Another backup of this database is
            // still running (a manual one, or the previous slot's on another node that this
            // node's tick had not seen yet), so this one waits for it instead of being dropped.
            Err(AppError::Conflict(_)) => {
                let app = self.clone();
                let database_id = database_id.to_string();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(TICK).await;
                        app.refresh().await;
                        match app
                            .start_backup_as(
                                "scheduler",
                                &database_id,
                                trigger.clone(),
                                backup_id.clone(),
                            )
                            .await
                        {
                            Ok(_) => {
                                tracing::info!(database_id, %slot, backup_id, "scheduled backup started after the running one ended");
                                return;
                            }
                            Err(AppError::Conflict(_)) => continue,
                            Err(e) => {
                                tracing::warn!(database_id, %slot, error = %e, "scheduled backup did not start");
                                return;
                            }
                        }
                    }
                });
            }
            Err(e) => {
                tracing::warn!(database_id, %slot, error = %e, "scheduled backup did not start")
            }
        }
    }

    /// Records running backups whose lease expired as abandoned, cleans up after them, and
    /// re-runs their slot when the catch-up policy asks for it; records running restores whose
    /// lease expired as failed.
    pub async fn reap_abandoned(self: &Arc<Self>) -> Result<(), AppError> {
        self.reap_restores().await?;
        let running = self
            .projections
            .backups(&BackupFilter {
                database_id: None,
                status: Some("running".into()),
                limit: 1000,
            })
            .await?;
        for b in running {
            let reason = match self.lease_lapse(&b.id, &b.started_at).await? {
                Some(Lapse::Expired { node }) => format!("node {node} stopped renewing its lease"),
                Some(Lapse::NeverTaken) => format!("node {} never took a lease", b.node),
                None => continue,
            };
            let abandoned = self
                .backups
                .execute_with_metadata(
                    &b.id,
                    BackupCommand::Abandon {
                        reason: reason.clone(),
                    },
                    self.meta("reaper", &b.id),
                )
                .await;
            if abandoned.is_err() {
                continue; // someone else recorded it, or it ended meanwhile
            }
            tracing::warn!(backup_id = b.id, reason, "backup abandoned");
            let _ = self.leases.release(&b.id).await;
            self.release(Kind::Backup, &b.database_id, &b.id).await;
            self.clean_partial_uploads().await;
            self.refresh().await;
            if b.trigger == "scheduled" {
                let db = self.projections.database(&b.database_id).await?;
                let policy = db
                    .as_ref()
                    .and_then(|d| d.schedule.as_ref())
                    .and_then(|s| CatchUp::parse(&s.catch_up));
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
            }
        }
        Ok(())
    }

    /// A restore whose process died is failed (stage `abandoned`) once its lease expires; its
    /// scratch database is left for the operator, because a restore that died in the middle of
    /// replacing the target may hold the only complete copy there.
    async fn reap_restores(self: &Arc<Self>) -> Result<(), AppError> {
        let running: Vec<_> = self
            .projections
            .restores(None, 1000)
            .await?
            .into_iter()
            .filter(|r| r.status == "running")
            .collect();
        for r in running {
            let who = match self.lease_lapse(&r.id, &r.started_at).await? {
                Some(Lapse::Expired { node }) => format!("node {node} stopped renewing its lease"),
                Some(Lapse::NeverTaken) => "its node never took a lease".to_string(),
                None => continue,
            };
            let age = Utc::now() - parse_time(&r.started_at).unwrap_or_else(Utc::now);
            let engine = backline_domain::Engine::parse(&r.engine).unwrap_or(Engine::Postgres);
            let scratch = drivers::scratch_name(
                engine,
                &self.connection_database(&r.target_database_id).await,
                &super::restore::restore_tag(&r.id),
            );
            let failed = self
                .restores
                .execute_with_metadata(
                    &r.id,
                    RestoreCommand::Fail {
                        failure: backline_domain::Failure {
                            stage: "abandoned".into(),
                            message: format!(
                                "the restore was abandoned: {who}; check {}: a scratch database {scratch} may be left on its server, holding the backup's data",
                                r.target_database_name
                            ),
                            stderr_tail: String::new(),
                        },
                        duration_ms: age.num_milliseconds().max(0) as u64,
                    },
                    self.meta("reaper", &r.id),
                )
                .await;
            if failed.is_err() {
                continue; // someone else recorded it, or it ended meanwhile
            }
            tracing::warn!(restore_id = r.id, who, "restore abandoned");
            let _ = self.leases.release(&r.id).await;
            self.release(Kind::Restore, &r.target_database_id, &r.id)
                .await;
            self.refresh().await;
        }
        Ok(())
    }

    /// The server-side database name of a registered database (its connection's), or its id.
    async fn connection_database(&self, id: &str) -> String {
        match self.database_state(id).await {
            Ok((_, Some(c))) => c.database,
            _ => id.to_string(),
        }
    }

    /// Removes partial uploads a dead process left behind (local storage keeps them in
    /// `.partial/`; object stores expire incomplete multipart uploads by their own rules).
    async fn clean_partial_uploads(&self) {
        let op = self.store.operator();
        let Ok(entries) = op.list(".partial/").await else {
            return;
        };
        let cutoff = Utc::now() - chrono::Duration::from_std(self.lease_ttl()).unwrap_or_default();
        for e in entries {
            let old = e
                .metadata()
                .last_modified()
                .map(|t| chrono::DateTime::<Utc>::from(std::time::SystemTime::from(t)) < cutoff)
                .unwrap_or(true);
            if old && !e.path().ends_with('/') {
                let _ = op.delete(e.path()).await;
            }
        }
    }
}
