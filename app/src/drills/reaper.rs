//! Drills whose process died: recorded as failed (stage `abandoned`) once their lease expires.
//! The restore they ran is reaped on its own (see the scheduler's reaper); a database a drill
//! made for itself is left with its registration, for the operator to look at and remove.

use crate::coordination::Lapse;
use crate::core::Core;
use crate::error::AppError;
use backline_domain::{DrillCommand, DrillStage, DrillStatus};
use backline_infra::claims::Kind;

pub(crate) async fn reap_drills(core: &Core) -> Result<(), AppError> {
    let ttl = core.settings.lease_ttl();
    let running = core.projections.recent_drills(1000).await?;
    for d in running
        .into_iter()
        .filter(|d| d.status == DrillStatus::Running)
    {
        let who = match core
            .coordination
            .lease_lapse(&d.id, &d.started_at, ttl)
            .await?
        {
            Some(Lapse::Expired { node }) => format!("node {node} stopped renewing its lease"),
            Some(Lapse::NeverTaken) => "its node never took a lease".to_string(),
            None => continue,
        };
        let failed = core
            .aggregates
            .drills
            .execute_with_metadata(
                &d.id,
                DrillCommand::Fail {
                    stage: DrillStage::Abandoned,
                    message: format!("the drill was abandoned: {who}"),
                    restore_id: d.restore_id.clone(),
                },
                core.meta("reaper", &d.id),
            )
            .await;
        if failed.is_ok() {
            tracing::warn!(drill_id = d.id, who, "restore drill abandoned");
            core.coordination.end_lease(&d.id).await;
            core.coordination
                .release(Kind::Drill, &d.database_id, &d.id)
                .await;
            core.refresh().await;
        }
    }
    Ok(())
}
