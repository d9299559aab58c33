//! The restores read model: every restore with its source, target, outcome and warnings.

use crate::backups::{BackupView, FailureView};
use crate::event::Applied;
use crate::store::{bodies, count, load, page, Arg, Conditions, OnConflict, Page, Tx, Write};
use crate::{ProjectionError, Projections};
use backline_domain::{Engine, LedgerEvent, RestoreEvent, RestoreStatus, TableSelection};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RestoreView {
    pub id: String,
    pub backup_id: String,
    pub source_database_id: String,
    /// The source database's name when the version was taken.
    #[serde(default)]
    pub source_database_name: Option<String>,
    /// When the restored version was taken.
    #[serde(default)]
    pub backup_started_at: Option<String>,
    pub target_database_id: String,
    pub target_database_name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub engine: Engine,
    /// `running`, `completed` or `failed`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub status: RestoreStatus,
    pub actor: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub previous_kept_as: Option<String>,
    pub tool: Option<String>,
    pub tool_version: Option<String>,
    pub server_version: Option<String>,
    pub error: Option<FailureView>,
    /// Local space the verified copy of the artifact takes while the restore runs.
    #[serde(default)]
    pub local_copy_bytes: Option<u64>,
    /// What the restore could not bring back exactly.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// A partial restore: the tables selected (and new names); `null` for a whole version.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub selection: Option<TableSelection>,
    /// A point-in-time restore: the moment restored (RFC 3339) or the LSN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_lsn: Option<String>,
    /// A whole-cluster point-in-time restore: the directory its data directory was written to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_path: Option<String>,
    /// The step a long restore is at (`unpacking`, `replaying`, `copying`) and how far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Who asked this running restore to stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_requested_by: Option<String>,
}

async fn save(tx: &mut Tx<'_>, v: &RestoreView, position: i64) -> Result<(), ProjectionError> {
    tx.write(Write {
        table: "rm_restores",
        key: ("id", Arg::S(v.id.clone())),
        cols: vec![
            ("source_database_id", Arg::S(v.source_database_id.clone())),
            ("target_database_id", Arg::S(v.target_database_id.clone())),
            ("started_position", Arg::I(position)),
            ("body", Arg::body(v)),
        ],
        on_conflict: OnConflict::Set(&["body"]),
    });
    Ok(())
}

/// Updates a restore row; its `started_position` never changes.
async fn update(tx: &mut Tx<'_>, v: &RestoreView) -> Result<(), ProjectionError> {
    tx.write(Write {
        table: "rm_restores",
        key: ("id", Arg::S(v.id.clone())),
        cols: vec![("body", Arg::body(v))],
        on_conflict: OnConflict::UpdateOnly,
    });
    Ok(())
}

pub(crate) async fn apply(tx: &mut Tx<'_>, e: &Applied<'_>) -> Result<(), ProjectionError> {
    let LedgerEvent::Restore(event) = &e.event else {
        return Ok(());
    };
    match event {
        RestoreEvent::RestoreStarted {
            backup_id,
            source_database_id,
            target_database_id,
            target_database_name,
            engine,
            tools,
            local_copy_bytes,
            selection,
            point_in_time,
            ..
        } => {
            let backup = load::<BackupView>(tx, "rm_backups", backup_id).await?;
            let r = RestoreView {
                id: e.aggregate_id.to_string(),
                backup_id: backup_id.clone(),
                source_database_id: source_database_id.clone(),
                source_database_name: backup.as_ref().map(|b| b.database_name.clone()),
                backup_started_at: backup.map(|b| b.started_at),
                target_database_id: target_database_id.clone(),
                target_database_name: target_database_name.to_string(),
                engine: *engine,
                status: RestoreStatus::Running,
                actor: e.actor.clone(),
                started_at: e.at.clone(),
                finished_at: None,
                duration_ms: None,
                previous_kept_as: None,
                tool: tools.tool.clone(),
                tool_version: tools.tool_version.clone(),
                server_version: tools.server_version.clone(),
                error: None,
                local_copy_bytes: *local_copy_bytes,
                warnings: Vec::new(),
                selection: selection.as_deref().cloned(),
                target_time: point_in_time
                    .as_ref()
                    .and_then(|p| p.target_time)
                    .map(|t| t.to_rfc3339()),
                target_lsn: point_in_time
                    .as_ref()
                    .and_then(|p| p.target_lsn)
                    .map(|l| l.to_string()),
                cluster_path: point_in_time.as_ref().and_then(|p| p.cluster_path.clone()),
                step: None,
                cancel_requested_by: None,
            };
            save(tx, &r, e.position).await
        }
        RestoreEvent::RestoreProgressed { step, detail } => {
            let Some(mut r) = load::<RestoreView>(tx, "rm_restores", e.aggregate_id).await? else {
                return Ok(());
            };
            r.step = Some(format!("{step}: {detail}"));
            update(tx, &r).await
        }
        RestoreEvent::RestoreCompleted {
            duration_ms,
            previous_kept_as,
            warnings,
        } => {
            let Some(mut r) = load::<RestoreView>(tx, "rm_restores", e.aggregate_id).await? else {
                return Ok(());
            };
            r.finished_at = Some(e.at.clone());
            r.duration_ms = Some(*duration_ms);
            r.status = RestoreStatus::Completed;
            r.previous_kept_as = previous_kept_as.clone();
            r.warnings = warnings.clone();
            update(tx, &r).await
        }
        RestoreEvent::RestoreCancelRequested { actor } => {
            let Some(mut r) = load::<RestoreView>(tx, "rm_restores", e.aggregate_id).await? else {
                return Ok(());
            };
            r.cancel_requested_by = Some(actor.clone());
            update(tx, &r).await
        }
        RestoreEvent::RestoreCancelled { duration_ms, .. } => {
            let Some(mut r) = load::<RestoreView>(tx, "rm_restores", e.aggregate_id).await? else {
                return Ok(());
            };
            r.finished_at = Some(e.at.clone());
            r.duration_ms = Some(*duration_ms);
            r.status = RestoreStatus::Cancelled;
            update(tx, &r).await
        }
        RestoreEvent::RestoreFailed {
            failure,
            duration_ms,
        } => {
            let Some(mut r) = load::<RestoreView>(tx, "rm_restores", e.aggregate_id).await? else {
                return Ok(());
            };
            r.finished_at = Some(e.at.clone());
            r.duration_ms = Some(*duration_ms);
            r.status = RestoreStatus::Failed;
            r.error = Some(failure.into());
            update(tx, &r).await
        }
    }
}

impl Projections {
    pub async fn restore(&self, id: &str) -> Result<Option<RestoreView>, ProjectionError> {
        Ok(bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_restores WHERE id = $1",
            vec![Arg::S(id.into())],
        )
        .await?
        .pop())
    }

    /// Restores, newest first (at most `limit`); `database_id` matches the source or the
    /// target.
    pub async fn restores(
        &self,
        database_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RestoreView>, ProjectionError> {
        Ok(self.restores_page(database_id, None, limit).await?.items)
    }

    /// One page of restores, newest first, by keyset on the history position (`next` is the
    /// `before` of the following page).
    pub async fn restores_page(
        &self,
        database_id: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Page<RestoreView>, ProjectionError> {
        let mut c = Conditions::default();
        if let Some(d) = database_id {
            let a = c.bind(Arg::S(d.into()));
            let b = c.bind(Arg::S(d.into()));
            c.sql.push_str(&format!(
                " AND (source_database_id = {a} OR target_database_id = {b})"
            ));
        }
        if let Some(b) = before {
            c.and("started_position <", Arg::I(b));
        }
        let limit = limit.max(1);
        let lim = c.bind(Arg::I(limit.saturating_add(1)));
        let sql = format!(
            "SELECT started_position AS k, body FROM rm_restores WHERE 1 = 1{} \
             ORDER BY started_position DESC LIMIT {lim}",
            c.sql
        );
        page(self.ledger.pool(), &sql, c.args, limit).await
    }

    /// Every restore (of `database_id`, source or target), newest first.
    pub async fn all_restores(
        &self,
        database_id: Option<&str>,
    ) -> Result<Vec<RestoreView>, ProjectionError> {
        let mut out = Vec::new();
        let mut before = None;
        loop {
            let p = self.restores_page(database_id, before, 500).await?;
            out.extend(p.items);
            match p.next {
                Some(n) => before = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// How many restores there are (of `database_id`, source or target).
    pub async fn restore_count(&self, database_id: Option<&str>) -> Result<i64, ProjectionError> {
        match database_id {
            Some(d) => count(
                self.ledger.pool(),
                "SELECT COUNT(*) AS n FROM rm_restores WHERE source_database_id = $1 OR target_database_id = $2",
                vec![Arg::S(d.into()), Arg::S(d.into())],
            )
            .await,
            None => count(self.ledger.pool(), "SELECT COUNT(*) AS n FROM rm_restores", vec![]).await,
        }
    }
}
