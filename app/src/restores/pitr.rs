//! Point-in-time restores: check the request against the archive (a base backup that ends
//! before the target, an unbroken run of WAL from it past the target, the server binaries of
//! the archive's major), record `RestoreStarted` with the point in time, and run it
//! (`pitr_run`). Everything that can be refused is refused here, before anything changes.

use super::{pitr_run, targets};
use crate::archiving::window::{snapshot, Base, Snapshot};
use crate::backups::Started;
use crate::core::Core;
use crate::error::{from_aggregate, restore_error, AppError};
use crate::Restores;
use backline_domain::{
    ConnectionString, Lsn, PointInTime, RestoreCommand, SegmentId, ToolInfo, WalSegment,
};
use backline_infra::claims::Kind;
use backline_infra::drivers::{self, pg_archive, pg_temp_cluster::RecoveryTarget, Probe};
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// A point-in-time restore as asked for.
#[derive(Debug, Clone, Default)]
pub struct PitrRequest {
    /// The archived database (id or name).
    pub source: String,
    pub target_time: Option<DateTime<Utc>>,
    pub target_lsn: Option<String>,
    /// Target database id or name (default: the source itself).
    pub target: Option<String>,
    /// Instead: the whole cluster's data directory, written to this new, empty directory on
    /// the Backline host.
    pub cluster_path: Option<String>,
}

/// What the run needs, all checked.
pub(super) struct PitrPlan {
    pub base: Base,
    pub segments: Vec<WalSegment>,
    pub target: RecoveryTarget,
    pub postgres: PathBuf,
    pub source_conn: ConnectionString,
    pub target_id: String,
    pub target_conn: ConnectionString,
    pub target_probe: Probe,
    pub cluster_path: Option<PathBuf>,
}

/// The recovery target asked for: exactly one of a time and an LSN.
fn recovery_target(req: &PitrRequest) -> Result<RecoveryTarget, AppError> {
    match (&req.target_time, &req.target_lsn) {
        (Some(t), None) => Ok(RecoveryTarget::Time(*t)),
        (None, Some(l)) => {
            Ok(RecoveryTarget::Lsn(Lsn::parse(l).map_err(|e| {
                AppError::invalid("target_lsn", e.to_string())
            })?))
        }
        _ => Err(AppError::invalid(
            "target_time",
            "give exactly one of target_time (RFC 3339) and target_lsn",
        )),
    }
}

/// A whole-cluster restore's destination: an absolute path on this host that is a new
/// directory (its parent exists) or an empty one, outside Backline's data directory.
fn cluster_destination(core: &Core, path: &str) -> Result<PathBuf, AppError> {
    let p = PathBuf::from(path);
    let bad = |m: &str| Err(AppError::invalid("cluster_path", m.to_string()));
    if !p.is_absolute() {
        return bad("must be an absolute path on the Backline host");
    }
    if p.components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return bad("must not contain `..`");
    }
    if p.starts_with(&core.settings.data_dir) {
        return bad("must lie outside Backline's data directory");
    }
    let shown = p.display();
    match std::fs::symlink_metadata(&p) {
        Ok(m) if !m.is_dir() => Err(AppError::Unprocessable(format!(
            "{shown} exists and is not a directory: a whole-cluster restore writes only into a new, empty directory"
        ))),
        Ok(_) => match std::fs::read_dir(&p).map(|mut d| d.next().is_none()) {
            Ok(true) => Ok(p),
            Ok(false) => Err(AppError::Unprocessable(format!(
                "{shown} is not empty: a whole-cluster restore writes only into a new, empty directory"
            ))),
            Err(e) => Err(AppError::Unprocessable(format!("cannot read {shown}: {e}"))),
        },
        Err(_) => match p.parent() {
            Some(parent) if parent.is_dir() => Ok(p),
            _ => Err(AppError::Unprocessable(format!(
                "the parent directory of {shown} does not exist"
            ))),
        },
    }
}

/// The newest base backup that ends before the target.
fn choose_base(snap: &Snapshot, target: RecoveryTarget) -> Option<&Base> {
    snap.bases
        .iter()
        .filter(|b| match target {
            RecoveryTarget::Time(t) => b.coverage.stopped_at <= t,
            RecoveryTarget::Lsn(l) => b.backup.lsns.as_ref().is_some_and(|x| x.stop_lsn <= l),
            RecoveryTarget::End => true,
        })
        .max_by_key(|b| b.coverage.stopped_at)
}

/// The segments from the base's start until past the target: for a time, up to and including
/// the first segment completed after it, and the next one when archived (a commit made just
/// before a segment's completion may reach the following one); for an LSN, its segment and the
/// next. A missing one on the way is a gap: refused.
fn segments_for(
    snap: &Snapshot,
    base: &Base,
    target: RecoveryTarget,
) -> Result<Vec<WalSegment>, AppError> {
    let size = snap.seg_size();
    let window = || {
        let w = snap.window();
        w.intervals
            .iter()
            .map(|i| format!("{} – {}", i.from.to_rfc3339(), i.to.to_rfc3339()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = Vec::new();
    let mut at = base.coverage.start;
    let mut past = 0;
    loop {
        let Some(seg) = snap.present.by_id.get(&at) else {
            if past > 0 {
                return Ok(out);
            }
            let newest = snap.present.by_id.keys().next_back().copied();
            return Err(AppError::Unprocessable(if newest.is_some_and(|n| n > at) {
                format!("wal_gap: WAL segment {} is missing from the archive, so this point cannot be reached from base backup {}; the recoverable window is: {}", at.name(size), base.id, window())
            } else {
                format!(
                    "the target lies after the newest archived WAL; the recoverable window is: {}",
                    window()
                )
            }));
        };
        out.push(seg.clone());
        let beyond = match target {
            RecoveryTarget::Time(t) => seg.completed_at > t,
            RecoveryTarget::Lsn(l) => at > SegmentId::of_lsn(at.timeline, l, size),
            RecoveryTarget::End => false,
        };
        if at >= base.coverage.stop && (beyond || past > 0) {
            past += 1;
            if past >= 2 {
                return Ok(out);
            }
        }
        at = at.next();
    }
}

impl Restores {
    /// Checks a point-in-time restore, records its start and runs it in the background.
    pub async fn start_pitr(&self, actor: &str, req: &PitrRequest) -> Result<Started, AppError> {
        let core = &self.core;
        let target = recovery_target(req)?;
        let cluster_path = match &req.cluster_path {
            Some(_) if req.target.is_some() => return Err(AppError::invalid(
                "cluster_path",
                "give either target_database_id (one database) or cluster_path (the whole cluster), not both",
            )),
            Some(p) => Some(cluster_destination(core, p)?),
            None => None,
        };
        let source = core.resolve_database(&req.source).await?;
        let (_, source_conn) = core.database_state(&source.id).await?;
        let source_conn = source_conn
            .ok_or_else(|| AppError::NotFound(format!("database {} was removed", source.id)))?;
        let snap = snapshot(core, &source.id).await?;
        let major = snap
            .archive
            .server
            .as_ref()
            .map(|s| s.server_major)
            .unwrap_or_default();
        let postgres = pg_archive::exact_tool("postgres", &core.tools, major)
            .await
            .map_err(|e| AppError::Unprocessable(e.message))?;
        let base = choose_base(&snap, target).cloned().ok_or_else(|| {
            AppError::Unprocessable(format!(
                "no completed base backup of {} ends before this target: take one (POST /api/v1/databases/{}/base-backups) and restore to a later point",
                source.name, source.id
            ))
        })?;
        let segments = segments_for(&snap, &base, target)?;
        let target_id = match &req.target {
            Some(t) => {
                core.resolve_database(t)
                    .await
                    .map_err(|_| {
                        AppError::invalid(
                            "target_database_id",
                            format!("no registered database with id or name {t:?}"),
                        )
                    })?
                    .id
            }
            None => source.id.clone(),
        };
        let (target_db, target_conn) = core.database_state(&target_id).await?;
        let target_conn = target_conn.ok_or_else(|| {
            AppError::invalid("target_database_id", "the target database was removed")
        })?;
        // A whole-cluster restore writes a directory and changes no database.
        if cluster_path.is_none() {
            targets::refuse_protected(core, &target_conn).await?;
        }
        let facts = Core::facts(&target_id, &target_db)?;
        let target_probe = probe_through_bastion(core, &target_conn).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let name = facts.name.to_string();
        core.coordination
            .claim(Kind::Restore, &target_id, &id, |other| {
                AppError::Conflict(format!("a restore into {name} is already running: {other}"))
            })
            .await?;
        core.coordination.running.track(&id);
        let point_in_time = PointInTime {
            base_backup_id: base.id.clone(),
            target_time: req.target_time,
            target_lsn: match target {
                RecoveryTarget::Lsn(l) => Some(l),
                _ => None,
            },
            cluster_path: cluster_path.as_ref().map(|p| p.display().to_string()),
        };
        let recorded = core
            .aggregates
            .restores
            .execute_with_metadata(
                &id,
                RestoreCommand::StartPointInTime {
                    point_in_time,
                    source_database_id: source.id.clone(),
                    target: facts,
                    actor: actor.to_string(),
                    tools: ToolInfo {
                        tool: Some("postgres".into()),
                        tool_version: Some(major.to_string()),
                        server_version: Some(target_probe.server_version.clone()),
                    },
                    node: core.node.clone(),
                },
                core.meta(actor, &id),
            )
            .await
            .map_err(|e| from_aggregate(e, restore_error));
        if let Err(e) = recorded {
            core.coordination.running.untrack(&id);
            core.coordination
                .release(Kind::Restore, &target_id, &id)
                .await;
            return Err(e);
        }
        core.refresh().await;
        let plan = PitrPlan {
            base,
            segments,
            target,
            postgres,
            source_conn,
            target_id,
            target_conn,
            target_probe,
            cluster_path,
        };
        let done = pitr_run::spawn(self.core.clone(), actor, &id, plan);
        Ok(Started { id, done })
    }
}

/// Probes a target through its SSH bastion, when it has one (this tunnel closes after the
/// probe; the copy into the target opens its own once the replay is over).
async fn probe_through_bastion(
    core: &Core,
    conn: &backline_domain::ConnectionString,
) -> Result<Probe, AppError> {
    let reached = crate::tunnels::reach(core, conn)
        .await
        .map_err(|e| AppError::Unprocessable(e.message))?;
    drivers::probe_target(&reached, &core.tools)
        .await
        .map_err(|e| AppError::Unprocessable(e.message))
}
