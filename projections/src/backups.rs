//! The backups read model: every version with its status, sizes, checksum, copies,
//! verification and pruning.

use crate::event::Applied;
use crate::store::{bodies, count, load, page, Arg, Conditions, OnConflict, Page, Tx, Write};
use crate::{ProjectionError, Projections};
use backline_domain::{
    ArtifactCopy, BackupEvent, BackupStatus, Engine, Failure, LedgerEvent, Stage, StoredArtifact,
    TriggerKind,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FailureView {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub stage: Stage,
    pub message: String,
    pub stderr_tail: String,
}

impl From<&Failure> for FailureView {
    fn from(f: &Failure) -> Self {
        FailureView {
            stage: f.stage.clone(),
            message: f.message.clone(),
            stderr_tail: f.stderr_tail.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupView {
    pub id: String,
    pub database_id: String,
    pub database_name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub engine: Engine,
    /// `running`, `completed`, `failed`, `abandoned` or `pruned`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub status: BackupStatus,
    /// `manual` or `scheduled`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub trigger: TriggerKind,
    pub actor: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// Bytes stored (compressed).
    pub bytes: Option<u64>,
    /// Bytes the dump tool produced.
    pub raw_bytes: Option<u64>,
    /// SHA-256 of the stored bytes (`sha256sum` of the downloaded object).
    pub sha256: Option<String>,
    pub storage: Option<String>,
    pub storage_key: Option<String>,
    pub compression: Option<String>,
    pub encrypted: bool,
    pub tool: Option<String>,
    pub tool_version: Option<String>,
    pub server_version: Option<String>,
    pub node: String,
    pub error: Option<FailureView>,
    /// The scheduled slot this backup ran for.
    #[serde(default)]
    pub slot: Option<String>,
    /// A pinned version is never pruned.
    #[serde(default)]
    pub pinned: bool,
    #[serde(default)]
    pub pruned_at: Option<String>,
    #[serde(default)]
    pub prune_reason: Option<String>,
    /// For pruned versions: whether the files are gone from storage yet.
    #[serde(default)]
    pub artifact_deleted: bool,
    /// The last error deleting a pruned version's files (retried by the sweep).
    #[serde(default)]
    pub deletion_error: Option<String>,
    /// Every copy (`name`, `storage`, `key`, `sha256`, `ok`, `error`) when the backup was
    /// streamed to several destinations; empty for a single one.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub copies: Vec<ArtifactCopy>,
    /// Completed, but at least one destination did not get its copy.
    #[serde(default)]
    pub degraded: bool,
    /// The last re-read of the stored artifact (`backline verify`).
    #[serde(default)]
    pub verified_at: Option<String>,
    #[serde(default)]
    pub verified_ok: Option<bool>,
    #[serde(default)]
    pub verification_detail: Option<String>,
    /// What the dump tool is known not to keep exactly in this version.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// A parallel backup's parts (name, role, order, key, bytes, raw_bytes, sha256); empty for
    /// a version of one object.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub parts: Vec<backline_domain::ArtifactPart>,
    /// Who asked this running backup to stop (it ends `cancelled`, or completes if the request
    /// came too late).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_requested_by: Option<String>,
}

/// Which backups to list.
#[derive(Debug, Clone, Default)]
pub struct BackupFilter {
    pub database_id: Option<String>,
    pub status: Option<BackupStatus>,
    pub limit: i64,
    /// Only versions started before this history position (a page's `next`).
    pub before: Option<i64>,
}

/// What `BackupCompleted` tells of a version.
fn completed(b: &mut BackupView, artifact: &StoredArtifact, duration_ms: u64, at: String) {
    b.finished_at = Some(at);
    b.duration_ms = Some(duration_ms);
    b.status = BackupStatus::Completed;
    b.bytes = Some(artifact.bytes);
    b.raw_bytes = Some(artifact.raw_bytes);
    b.sha256 = Some(artifact.sha256.clone());
    b.storage = Some(artifact.storage.clone());
    b.storage_key = Some(artifact.key.clone());
    b.compression = Some(artifact.compression.clone());
    b.encrypted = artifact.encrypted;
    b.copies = artifact.copies.clone();
    b.degraded = b.copies.iter().any(|c| !c.ok);
    b.warnings = artifact.warnings.clone();
    b.parts = artifact.parts.clone();
}

async fn save(tx: &mut Tx<'_>, v: &BackupView, position: i64) -> Result<(), ProjectionError> {
    tx.write(Write {
        table: "rm_backups",
        key: ("id", Arg::S(v.id.clone())),
        cols: vec![
            ("database_id", Arg::S(v.database_id.clone())),
            ("status", Arg::S(v.status.as_str().into())),
            ("started_position", Arg::I(position)),
            ("body", Arg::body(v)),
        ],
        on_conflict: OnConflict::Set(&["status", "body"]),
    });
    Ok(())
}

/// Updates a backup row; its `started_position` (the history order) never changes.
async fn update(tx: &mut Tx<'_>, v: &BackupView) -> Result<(), ProjectionError> {
    tx.write(Write {
        table: "rm_backups",
        key: ("id", Arg::S(v.id.clone())),
        cols: vec![
            ("status", Arg::S(v.status.as_str().into())),
            ("body", Arg::body(v)),
        ],
        on_conflict: OnConflict::UpdateOnly,
    });
    Ok(())
}

pub(crate) async fn apply(tx: &mut Tx<'_>, e: &Applied<'_>) -> Result<(), ProjectionError> {
    let LedgerEvent::Backup(event) = &e.event else {
        return Ok(());
    };
    if let BackupEvent::BackupStarted {
        database_id,
        database_name,
        engine,
        trigger,
        tools,
        node,
    } = event
    {
        let b = BackupView {
            id: e.aggregate_id.to_string(),
            database_id: database_id.clone(),
            database_name: database_name.to_string(),
            engine: *engine,
            status: BackupStatus::Running,
            trigger: trigger.kind(),
            actor: e.actor.clone(),
            started_at: e.at.clone(),
            finished_at: None,
            duration_ms: None,
            bytes: None,
            raw_bytes: None,
            sha256: None,
            storage: None,
            storage_key: None,
            compression: None,
            encrypted: false,
            tool: tools.tool.clone(),
            tool_version: tools.tool_version.clone(),
            server_version: tools.server_version.clone(),
            node: node.clone(),
            error: None,
            slot: trigger.slot().map(str::to_string),
            pinned: false,
            pruned_at: None,
            prune_reason: None,
            artifact_deleted: false,
            deletion_error: None,
            copies: Vec::new(),
            parts: Vec::new(),
            degraded: false,
            verified_at: None,
            verified_ok: None,
            verification_detail: None,
            warnings: Vec::new(),
            cancel_requested_by: None,
        };
        return save(tx, &b, e.position).await;
    }
    let Some(mut b) = load::<BackupView>(tx, "rm_backups", e.aggregate_id).await? else {
        return Ok(());
    };
    let at = e.at.clone();
    match event {
        BackupEvent::BackupStarted { .. } | BackupEvent::BackupCopyFailed { .. } => return Ok(()),
        BackupEvent::BackupCompleted {
            artifact,
            duration_ms,
        } => completed(&mut b, artifact, *duration_ms, at),
        BackupEvent::BackupFailed {
            failure,
            duration_ms,
        } => {
            b.finished_at = Some(at);
            b.duration_ms = Some(*duration_ms);
            b.status = BackupStatus::Failed;
            b.error = Some(failure.into());
        }
        BackupEvent::BackupAbandoned { reason } => {
            b.finished_at = Some(at);
            b.status = BackupStatus::Abandoned;
            b.error = Some(FailureView {
                stage: Stage::Abandoned,
                message: reason.clone(),
                stderr_tail: String::new(),
            });
        }
        BackupEvent::BackupCancelRequested { actor } => b.cancel_requested_by = Some(actor.clone()),
        BackupEvent::BackupCancelled { duration_ms, .. } => {
            b.finished_at = Some(at);
            b.duration_ms = Some(*duration_ms);
            b.status = BackupStatus::Cancelled;
        }
        BackupEvent::BackupPinned { .. } => b.pinned = true,
        BackupEvent::BackupUnpinned { .. } => b.pinned = false,
        BackupEvent::BackupPruned { reason, .. } => {
            b.status = BackupStatus::Pruned;
            b.pruned_at = Some(at);
            b.prune_reason = Some(reason.clone());
        }
        BackupEvent::BackupArtifactDeleted {} => {
            b.artifact_deleted = true;
            b.deletion_error = None;
        }
        BackupEvent::BackupDeletionFailed { error } => b.deletion_error = Some(error.clone()),
        BackupEvent::BackupVerified { ok, detail, .. } => {
            b.verified_at = Some(at);
            b.verified_ok = Some(*ok);
            b.verification_detail = Some(detail.clone());
        }
    }
    update(tx, &b).await
}

impl Projections {
    pub async fn backup(&self, id: &str) -> Result<Option<BackupView>, ProjectionError> {
        Ok(bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_backups WHERE id = $1",
            vec![Arg::S(id.into())],
        )
        .await?
        .pop())
    }

    /// Backups, newest first (at most `limit`).
    pub async fn backups(&self, f: &BackupFilter) -> Result<Vec<BackupView>, ProjectionError> {
        Ok(self.backups_page(f).await?.items)
    }

    /// One page of backups, newest first, by keyset on the history position: each page is
    /// one index range, whatever the depth; `next` is the `before` of the following page.
    pub async fn backups_page(
        &self,
        f: &BackupFilter,
    ) -> Result<Page<BackupView>, ProjectionError> {
        let mut c = Conditions::default();
        if let Some(d) = &f.database_id {
            c.and("database_id =", Arg::S(d.clone()));
        }
        if let Some(s) = f.status {
            c.and("status =", Arg::S(s.as_str().into()));
        }
        if let Some(b) = f.before {
            c.and("started_position <", Arg::I(b));
        }
        let limit = f.limit.max(1);
        let lim = c.bind(Arg::I(limit.saturating_add(1)));
        let sql = format!(
            "SELECT started_position AS k, body FROM rm_backups WHERE 1 = 1{} \
             ORDER BY started_position DESC LIMIT {lim}",
            c.sql
        );
        page(self.ledger.pool(), &sql, c.args, limit).await
    }

    /// Every backup the filter selects (its `limit` is the page size), newest first.
    pub async fn all_backups(&self, f: &BackupFilter) -> Result<Vec<BackupView>, ProjectionError> {
        let mut f = f.clone();
        f.limit = f.limit.max(500);
        let mut out = Vec::new();
        loop {
            let p = self.backups_page(&f).await?;
            out.extend(p.items);
            match p.next {
                Some(n) => f.before = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// How many versions a database has (one index range).
    pub async fn backup_count(&self, database_id: &str) -> Result<i64, ProjectionError> {
        count(
            self.ledger.pool(),
            "SELECT COUNT(*) AS n FROM rm_backups WHERE database_id = $1",
            vec![Arg::S(database_id.into())],
        )
        .await
    }
}
