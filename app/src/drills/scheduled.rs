//! Scheduled drills: each due slot of a database's drill schedule is claimed through the
//! Database aggregate (one drill per slot however many processes share the ledger), then run.

use super::Drills;
use crate::core::Core;
use crate::error::AppError;
use crate::scheduling::GRACE;
use crate::time::parse_time;
use backline_domain::{CatchUp, DatabaseCommand, DrillTrigger};
use chrono::Utc;
use std::sync::Arc;

/// Claims and starts the drills that are due now.
pub(crate) async fn tick_drills(core: &Arc<Core>) -> Result<(), AppError> {
    let now = Utc::now();
    for view in core.projections.databases(false).await? {
        let Some(drill) = &view.drill else { continue };
        let Some(sv) = &drill.schedule else { continue };
        if view.paused {
            continue;
        }
        let Some(schedule) = sv.schedule() else {
            continue;
        };
        let after = drill
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
        let drill_id = uuid::Uuid::now_v7().to_string();
        let claimed = core
            .aggregates
            .databases
            .execute_with_metadata(
                &view.id,
                DatabaseCommand::ClaimDrillSlot {
                    slot,
                    drill_id: drill_id.clone(),
                },
                core.meta("system:scheduler", &drill_id),
            )
            .await;
        if claimed.is_err() {
            continue; // another process claimed it (it runs the drill), or the drill was removed
        }
        core.refresh().await;
        let trigger = DrillTrigger::Scheduled {
            slot: slot.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        };
        match Drills::new(core.clone())
            .start_as("system:scheduler", &view.id, trigger, drill_id.clone())
            .await
        {
            Ok(_) => {
                tracing::info!(database_id = view.id, %slot, drill_id, "scheduled restore drill started")
            }
            Err(e) => {
                tracing::warn!(database_id = view.id, %slot, error = %e, "a scheduled restore drill could not start")
            }
        }
    }
    Ok(())
}
