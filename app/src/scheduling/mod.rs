//! The scheduler: claims due slots through the Database aggregate (so that a slot runs once
//! however many processes share the ledger), starts their backups, records work whose node
//! stopped renewing its lease (see `reaper`), and sweeps retention.

mod reaper;

use crate::backups::Backups;
use crate::core::Core;
use crate::error::AppError;
use crate::retention::Retention;
use crate::time::parse_time;
use backline_domain::{CatchUp, DatabaseCommand, DatabaseError, Trigger};
use chrono::Utc;
use cqrs_es::AggregateError;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How late a slot may be picked up and still count as "due now" for `catch_up: none`.
pub const GRACE: chrono::Duration = chrono::Duration::seconds(60);
const TICK: Duration = Duration::from_millis(500);
const SWEEP_EVERY: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Scheduler {
    core: Arc<Core>,
}

impl Scheduler {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Runs until the process ends.
    pub async fn run(self) {
        let ttl = self.core.settings.lease_ttl();
        let mut last_sweep = Instant::now() - SWEEP_EVERY;
        let mut last_reap = Instant::now() - ttl;
        let discover_every = Duration::from_secs(self.core.settings.discovery_interval_secs.max(1));
        let mut last_discovery = Instant::now();
        // Moves into restore targets that an earlier process left unfinished (its restore
        // already recorded as failed) are completed; on their own, as a server may not answer.
        let leftovers = crate::leftovers::Leftovers::new(self.core.clone());
        tokio::spawn(async move {
            if let Err(e) = leftovers.complete_moves().await {
                tracing::warn!(error = %e, "looking for interrupted restore moves failed");
            }
        });
        loop {
            self.core.refresh().await;
            if last_reap.elapsed() >= ttl / 3 {
                last_reap = Instant::now();
                if let Err(e) = self.reap_abandoned().await {
                    tracing::warn!(error = %e, "checking for abandoned backups failed");
                }
            }
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "scheduler tick failed");
            }
            if let Err(e) = crate::drills::tick_drills(&self.core).await {
                tracing::warn!(error = %e, "scheduling restore drills failed");
            }
            if let Err(e) = crate::servers::tick_globals(&self.core).await {
                tracing::warn!(error = %e, "scheduling server globals backups failed");
            }
            if last_discovery.elapsed() >= discover_every {
                last_discovery = Instant::now();
                crate::servers::Servers::new(self.core.clone())
                    .discover_all()
                    .await;
            }
            if last_sweep.elapsed() >= SWEEP_EVERY {
                last_sweep = Instant::now();
                Retention::new(self.core.clone()).sweep().await;
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// Claims and starts whatever is due now.
    pub async fn tick(&self) -> Result<(), AppError> {
        let now = Utc::now();
        let backups = Backups::new(self.core.clone());
        for view in self.core.projections.databases(false).await? {
            let Some(sv) = &view.schedule else { continue };
            if view.paused {
                continue;
            }
            let Some(schedule) = sv.schedule() else {
                continue;
            };
            if backups.running_backup(&view).await?.is_some() {
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
        &self,
        database_id: &str,
        slot: chrono::DateTime<Utc>,
        retry_of: Option<String>,
    ) {
        let core = &self.core;
        let backup_id = uuid::Uuid::now_v7().to_string();
        let claimed = core
            .aggregates
            .databases
            .execute_with_metadata(
                database_id,
                DatabaseCommand::ClaimSlot {
                    slot,
                    backup_id: backup_id.clone(),
                    retry_of,
                },
                core.meta("system:scheduler", &backup_id),
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
        core.refresh().await;
        let trigger = Trigger::Scheduled {
            slot: slot.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        };
        let backups = Backups::new(core.clone());
        match backups
            .start_as(
                "system:scheduler",
                database_id,
                trigger.clone(),
                backup_id.clone(),
            )
            .await
        {
            Ok(_) => tracing::info!(database_id, %slot, backup_id, "scheduled backup started"),
            // The slot is ours: it must get its backup. Another backup of this database is
            // still running (a manual one, or the previous slot's on another node that this
            // node's tick had not seen yet), so this one waits for it instead of being dropped.
            Err(AppError::Conflict(_)) => {
                let database_id = database_id.to_string();
                tokio::spawn(wait_and_start(
                    backups,
                    database_id,
                    slot,
                    trigger,
                    backup_id,
                ));
            }
            Err(e) => {
                tracing::warn!(database_id, %slot, error = %e, "scheduled backup did not start")
            }
        }
    }
}

/// Starts a claimed slot's backup once the database's running backup has ended.
async fn wait_and_start(
    backups: Backups,
    database_id: String,
    slot: chrono::DateTime<Utc>,
    trigger: Trigger,
    backup_id: String,
) {
    loop {
        tokio::time::sleep(TICK).await;
        backups.core_refresh().await;
        match backups
            .start_as(
                "system:scheduler",
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
}
