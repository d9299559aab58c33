//! Watchdogs: backups that write nothing are cancelled (and fail as `stalled`, which raises
//! their alert); a due slot that no backup claimed raises a missed-schedule alert.

use super::{Alerting, Trouble};
use crate::error::AppError;
use crate::time::parse_time;
use backline_domain::AlertKind;
use std::time::Duration;

impl Alerting {
    /// Cancels backups of this process that wrote nothing for BACKLINE_STALL_TIMEOUT.
    pub(crate) fn check_stalls(&self) {
        let timeout = Duration::from_secs(self.core.settings.stall_timeout_secs.max(1));
        for (backup_id, bytes) in self.core.coordination.running.cancel_stalled(timeout) {
            tracing::warn!(
                backup_id,
                bytes,
                timeout_s = timeout.as_secs(),
                "backup stalled: cancelling it"
            );
        }
    }

    /// Dead-man check: a due slot that no backup claimed within the grace period.
    pub(crate) async fn check_missed_schedules(&self) -> Result<(), AppError> {
        let now = chrono::Utc::now();
        let grace = chrono::Duration::seconds(self.core.settings.missed_schedule_grace_secs as i64);
        for view in self.core.projections.databases(false).await? {
            let Some(sv) = &view.schedule else { continue };
            if view.paused {
                continue;
            }
            let Some(schedule) = sv.schedule() else {
                continue;
            };
            let Some(after) = view
                .last_claimed_slot
                .as_deref()
                .or(Some(sv.since.as_str()))
                .and_then(parse_time)
            else {
                continue;
            };
            let Some(slot) = schedule.slots_between(after, now - grace, 1).pop() else {
                continue;
            };
            let slot_text = slot.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            self.raise_or_repeat(Trouble {
                kind: AlertKind::MissedSchedule,
                database_id: &view.id,
                database_name: &view.name,
                cause: format!("slot:{slot_text}"),
                cause_event: None,
                message: format!(
                    "no backup started for the slot of {} ({}) within {} s: is any Backline process running its schedule?",
                    schedule.local(slot),
                    sv.description,
                    grace.num_seconds()
                ),
                detail: String::new(),
            })
            .await?;
        }
        Ok(())
    }
}

impl Alerting {
    /// A crashed restore's scratch database still there after a day raises an alert on its
    /// target database (once per scratch database).
    pub(crate) async fn check_leftovers(&self) -> Result<(), AppError> {
        let overdue = crate::leftovers::Leftovers::new(self.core.clone())
            .overdue()
            .await?;
        for l in overdue {
            self.raise_or_repeat(Trouble {
                kind: AlertKind::LeftoverScratch,
                database_id: &l.target_database_id,
                database_name: &l.target_database_name,
                cause: format!("scratch:{}", l.scratch_database),
                cause_event: None,
                message: format!(
                    "the restore {} (started {}) left the scratch database {} on {}, holding a full copy of a backup's data: drop it with `backline cleanup --scratch`",
                    l.restore_id, l.restore_started_at, l.scratch_database, l.server
                ),
                detail: String::new(),
            })
            .await?;
        }
        Ok(())
    }
}

impl Alerting {
    /// Storage or ledger that a backup would fail on (not writable, less free space than
    /// BACKLINE_MIN_FREE_BYTES) raises a `storage_failure` alert on every database, before
    /// any backup fails; the database's next completed backup resolves it.
    pub(crate) async fn check_storage(&self) -> Result<(), AppError> {
        let checked = crate::health::check_backup_readiness(&self.core).await;
        if checked.ok() {
            return Ok(());
        }
        let problem = [&checked.ledger, &checked.storage]
            .into_iter()
            .filter(|p| p.as_str() != "ok")
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        tracing::warn!(
            problem,
            "backups would fail: storage or ledger check failed"
        );
        // One cause per hour: an open alert counts the hours the trouble lasts.
        let hour = chrono::Utc::now().format("%Y-%m-%dT%H");
        for view in self.core.projections.databases(false).await? {
            self.raise_or_repeat(Trouble {
                kind: AlertKind::StorageFailure,
                database_id: &view.id,
                database_name: &view.name,
                cause: format!("storage-check:{hour}"),
                cause_event: None,
                message: format!("the next backup would fail: {problem}"),
                detail: String::new(),
            })
            .await?;
        }
        Ok(())
    }
}
