//! The restore drills read model: every drill with its version, sandbox, outcome, tables (row
//! counts and checksums) and anomalies.

use crate::databases::ScheduleView;
use crate::event::Applied;
use crate::store::{bodies, load, Arg, OnConflict, Tx, Write};
use crate::{ProjectionError, Projections};
use backline_domain::{
    DrillAnomaly, DrillEvent, DrillSandbox, DrillSettings, DrillStage, DrillStatus, DrillTrigger,
    LedgerEvent, TableCheck,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrillView {
    pub id: String,
    pub database_id: String,
    pub database_name: String,
    /// The version (backup id) restored.
    pub version: String,
    /// `{"target": {"database_id"}}` or `{"new_database": {"server_of"}}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub sandbox: DrillSandbox,
    /// `{"kind": "manual", "actor"}` or `{"kind": "scheduled", "slot"}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub trigger: DrillTrigger,
    /// `running`, `completed` or `failed`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub status: DrillStatus,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// The restore that ran the drill.
    pub restore_id: Option<String>,
    /// How long the restore took (the measured recovery time).
    pub duration_ms: Option<u64>,
    /// Per table: `name`, `rows`, `checksum` (computed in the database).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub tables: Vec<TableCheck>,
    /// The drill this one was compared with.
    pub compared_with: Option<String>,
    /// Tables that vanished or lost more than the allowed share of rows since then.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub anomalies: Vec<DrillAnomaly>,
    /// Where and why it failed (`sandbox`, `restore`, `measure`, `abandoned`).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub failed_stage: Option<DrillStage>,
    pub error: Option<String>,
}

/// A database's latest drill, in a few fields (on the database's view).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrillSummary {
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub status: DrillStatus,
    pub version: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub tables: usize,
    pub anomalies: usize,
}

impl DrillView {
    pub fn summary(&self) -> DrillSummary {
        DrillSummary {
            id: self.id.clone(),
            status: self.status,
            version: self.version.clone(),
            finished_at: self.finished_at.clone(),
            duration_ms: self.duration_ms,
            tables: self.tables.len(),
            anomalies: self.anomalies.len(),
        }
    }
}

async fn save(tx: &mut Tx<'_>, v: &DrillView, position: i64) -> Result<(), ProjectionError> {
    tx.write(Write {
        table: "rm_drills",
        key: ("id", Arg::S(v.id.clone())),
        cols: vec![
            ("database_id", Arg::S(v.database_id.clone())),
            ("started_position", Arg::I(position)),
            ("body", Arg::body(v)),
        ],
        on_conflict: OnConflict::Set(&["body"]),
    });
    Ok(())
}

pub(crate) async fn apply(tx: &mut Tx<'_>, e: &Applied<'_>) -> Result<(), ProjectionError> {
    let LedgerEvent::Drill(event) = &e.event else {
        return Ok(());
    };
    if let DrillEvent::RestoreDrillStarted {
        database_id,
        database_name,
        version,
        sandbox,
        trigger,
        ..
    } = event
    {
        let v = DrillView {
            id: e.aggregate_id.to_string(),
            database_id: database_id.clone(),
            database_name: database_name.clone(),
            version: version.clone(),
            sandbox: sandbox.clone(),
            trigger: trigger.clone(),
            status: DrillStatus::Running,
            started_at: e.at.clone(),
            finished_at: None,
            restore_id: None,
            duration_ms: None,
            tables: Vec::new(),
            compared_with: None,
            anomalies: Vec::new(),
            failed_stage: None,
            error: None,
        };
        return save(tx, &v, e.position).await;
    }
    let Some(mut v) = load::<DrillView>(tx, "rm_drills", e.aggregate_id).await? else {
        return Ok(());
    };
    v.finished_at = Some(e.at.clone());
    match event {
        DrillEvent::RestoreDrillStarted { .. } => {}
        DrillEvent::RestoreDrillCompleted {
            tables,
            duration_ms,
            restore_id,
            compared_with,
            anomalies,
            ..
        } => {
            v.status = DrillStatus::Completed;
            v.tables = tables.clone();
            v.duration_ms = Some(*duration_ms);
            v.restore_id = Some(restore_id.clone());
            v.compared_with = compared_with.clone();
            v.anomalies = anomalies.clone();
        }
        DrillEvent::RestoreDrillFailed {
            stage,
            message,
            restore_id,
        } => {
            v.status = DrillStatus::Failed;
            v.failed_stage = Some(*stage);
            v.error = Some(message.clone());
            v.restore_id = restore_id.clone();
        }
    }
    tx.write(Write {
        table: "rm_drills",
        key: ("id", Arg::S(v.id.clone())),
        cols: vec![("body", Arg::body(&v))],
        on_conflict: OnConflict::UpdateOnly,
    });
    Ok(())
}

impl Projections {
    pub async fn drill(&self, id: &str) -> Result<Option<DrillView>, ProjectionError> {
        Ok(bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_drills WHERE id = $1",
            vec![Arg::S(id.into())],
        )
        .await?
        .pop())
    }

    /// A database's drills, newest first.
    pub async fn drills(
        &self,
        database_id: &str,
        limit: i64,
    ) -> Result<Vec<DrillView>, ProjectionError> {
        bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_drills WHERE database_id = $1 \
             ORDER BY started_position DESC LIMIT $2",
            vec![Arg::S(database_id.into()), Arg::I(limit.clamp(1, 10_000))],
        )
        .await
    }

    /// Every database's drills, newest first (the reaper looks for running ones).
    pub async fn recent_drills(&self, limit: i64) -> Result<Vec<DrillView>, ProjectionError> {
        bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_drills ORDER BY started_position DESC LIMIT $1",
            vec![Arg::I(limit.clamp(1, 10_000))],
        )
        .await
    }
}

/// A database's restore drill settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrillSettingsView {
    /// When drills run (`null`: only when asked).
    pub schedule: Option<ScheduleView>,
    /// `{"target": {"database_id"}}` or `{"new_database": {"server_of"}}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub sandbox: DrillSandbox,
    /// A table losing more than this share of its rows (percent) is an anomaly.
    pub max_row_loss_percent: u8,
    /// The newest claimed drill slot.
    #[serde(default)]
    pub last_claimed_slot: Option<String>,
}

impl DrillSettingsView {
    pub(crate) fn of(d: &DrillSettings, at: &str) -> Self {
        DrillSettingsView {
            schedule: d.schedule.as_ref().map(|s| ScheduleView::of(s, at)),
            sandbox: d.sandbox.clone(),
            max_row_loss_percent: d.max_row_loss_percent,
            last_claimed_slot: None,
        }
    }
}
