//! A drill running in the background: the version is restored into the sandbox by the ordinary
//! restore (verified local copy, the engine's restore, the swap), the restored tables are
//! counted and checksummed by the server, a sandbox made for the drill is dropped again, and
//! the result is recorded and compared with the previous drill.

use crate::core::Core;
use crate::restores::{restore_tag, NewTarget, RestoreRequest, Restores};
use backline_domain::{
    DrillCommand, DrillSandbox, DrillSettings, DrillStage, DrillStatus, RestoreStatus,
};
use backline_infra::claims::Kind;
use backline_infra::drivers::drill as measure;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// What one drill works on.
struct Job {
    actor: String,
    id: String,
    database_id: String,
    database_name: String,
    version: String,
    settings: DrillSettings,
}

pub(super) fn spawn(
    core: Arc<Core>,
    actor: &str,
    id: &str,
    database_id: &str,
    (database_name, version): (String, String),
    settings: DrillSettings,
) -> JoinHandle<()> {
    let job = Job {
        actor: actor.to_string(),
        id: id.to_string(),
        database_id: database_id.to_string(),
        database_name,
        version,
        settings,
    };
    // If this process dies, the reaper records the drill as failed once the lease expires.
    let lease = core
        .coordination
        .hold_lease(id, &core.node, core.settings.lease_ttl());
    tokio::spawn(async move {
        let command = run(&core, &job).await.unwrap_or_else(|failed| failed);
        match &command {
            DrillCommand::Fail { stage, message, .. } => {
                tracing::warn!(drill_id = job.id, %stage, message, "restore drill failed")
            }
            _ => tracing::info!(drill_id = job.id, "restore drill completed"),
        }
        if let Err(e) = core
            .aggregates
            .drills
            .execute_with_metadata(&job.id, command, core.meta(&job.actor, &job.id))
            .await
        {
            tracing::error!(drill_id = job.id, error = %e, "could not record the end of a drill");
        }
        lease.abort();
        core.coordination.end_lease(&job.id).await;
        core.coordination
            .release(Kind::Drill, &job.database_id, &job.id)
            .await;
        core.refresh().await;
    })
}

fn fail(stage: DrillStage, message: impl Into<String>, restore_id: Option<&str>) -> DrillCommand {
    DrillCommand::Fail {
        stage,
        message: message.into(),
        restore_id: restore_id.map(str::to_string),
    }
}

async fn run(core: &Arc<Core>, job: &Job) -> Result<DrillCommand, DrillCommand> {
    let mut req = RestoreRequest {
        backup_id: job.version.clone(),
        // A sandbox may lack the source's roles and definers: a drill proves the data.
        no_owner: true,
        no_definer: true,
        ..Default::default()
    };
    let created = match &job.settings.sandbox {
        DrillSandbox::Target { database_id } => {
            req.target = Some(database_id.clone());
            false
        }
        DrillSandbox::NewDatabase { server_of } => {
            req.new_database = Some(NewTarget {
                name: measure::sandbox_name(&job.database_name, &restore_tag(&job.id)),
                server_of: server_of.clone(),
            });
            true
        }
    };
    let started = Restores::new(core.clone())
        .start(&job.actor, &req)
        .await
        .map_err(|e| fail(DrillStage::Sandbox, e.to_string(), None))?;
    let restore_id = started.id.clone();
    let rid = Some(restore_id.as_str());
    if started.done.await.is_err() {
        return Err(fail(
            DrillStage::Restore,
            "the restore task ended abnormally",
            rid,
        ));
    }
    core.refresh().await;
    let restore = core
        .projections
        .restore(&restore_id)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| fail(DrillStage::Restore, "the restore is not recorded", rid))?;
    if restore.status != RestoreStatus::Completed {
        let why = restore
            .error
            .as_ref()
            .map(|e| format!("{} ({} stage)", e.message, e.stage))
            .unwrap_or_else(|| format!("the restore is {}", restore.status.as_str()));
        return Err(fail(DrillStage::Restore, why, rid));
    }
    let conn = match core.database_state(&restore.target_database_id).await {
        Ok((_, Some(c))) => c,
        _ => {
            return Err(fail(
                DrillStage::Measure,
                "the sandbox database is no longer registered",
                rid,
            ))
        }
    };
    // The sandbox is reached as every other connection is: through its bastion when it names
    // one (a sandbox made on a tunnelled server inherits the server's tunnel).
    let reached = crate::tunnels::reach(core, &conn).await;
    let measured = match &reached {
        Ok(c) => measure::table_checks(c).await,
        Err(e) => Err(e.clone()),
    };
    if created {
        let dropped = match &reached {
            Ok(c) => measure::drop_sandbox(c).await,
            Err(e) => Err(e.clone()),
        };
        if let Err(e) = dropped {
            tracing::warn!(drill_id = job.id, database = conn.database, error = %e, "could not drop a drill's sandbox database");
        }
        if let Err(e) = crate::databases::Databases::new(core.clone())
            .remove(&job.actor, &restore.target_database_id)
            .await
        {
            tracing::warn!(drill_id = job.id, error = %e, "could not remove the registration of a drill's sandbox");
        }
    }
    let tables = measured.map_err(|e| fail(DrillStage::Measure, e.message, rid))?;
    let previous = core
        .projections
        .drills(&job.database_id, 100)
        .await
        .map_err(|e| fail(DrillStage::Measure, e.to_string(), rid))?
        .into_iter()
        .find(|d| d.id != job.id && d.status == DrillStatus::Completed)
        .map(|d| (d.id, d.tables));
    Ok(DrillCommand::Complete {
        restore_id,
        tables,
        duration_ms: restore.duration_ms.unwrap_or_default(),
        previous,
        max_row_loss_percent: job.settings.max_row_loss_percent,
    })
}
