//! The server globals read model: each globals version of a server (newest first), and the
//! server's globals setting on its `ServerView`.

use crate::event::Applied;
use crate::store::{bodies, load, Arg, OnConflict, Tx, Write};
use crate::{ProjectionError, Projections};
use backline_domain::{LedgerEvent, ServerEvent, Trigger};
use serde::{Deserialize, Serialize};

/// One globals version of a server: its roles and tablespaces (PostgreSQL) or its users and
/// grants (MariaDB/MySQL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GlobalsVersionView {
    pub id: String,
    pub server_id: String,
    /// Always `server_globals`: what this version holds.
    pub kind: String,
    /// `running`, `completed` or `failed`.
    pub status: String,
    /// `manual` or `scheduled`.
    pub trigger: String,
    /// `pg_dumpall`, `mariadb-dump` or `show-grants`.
    pub method: String,
    pub tool_version: String,
    pub server_version: String,
    /// Whether role/user password hashes are kept (then the artifact is encrypted).
    pub keep_passwords: bool,
    pub encrypted: bool,
    pub bytes: Option<u64>,
    pub raw_bytes: Option<u64>,
    pub sha256: Option<String>,
    pub storage: Option<String>,
    pub key: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// Why it failed: `stage: message`.
    pub error: Option<String>,
}

async fn save(tx: &mut Tx<'_>, v: &GlobalsVersionView) -> Result<(), ProjectionError> {
    tx.write(Write {
        table: "rm_server_globals",
        key: ("id", Arg::S(v.id.clone())),
        cols: vec![
            ("server_id", Arg::S(v.server_id.clone())),
            ("body", Arg::body(v)),
        ],
        on_conflict: OnConflict::Set(&["body"]),
    });
    Ok(())
}

async fn update(
    tx: &mut Tx<'_>,
    id: &str,
    change: impl FnOnce(&mut GlobalsVersionView),
) -> Result<(), ProjectionError> {
    if let Some(mut v) = load::<GlobalsVersionView>(tx, "rm_server_globals", id).await? {
        change(&mut v);
        save(tx, &v).await?;
    }
    Ok(())
}

pub(crate) async fn apply(tx: &mut Tx<'_>, e: &Applied<'_>) -> Result<(), ProjectionError> {
    let LedgerEvent::Server(event) = &e.event else {
        return Ok(());
    };
    let at = e.at.clone();
    match event {
        ServerEvent::GlobalsBackupStarted { run } => {
            let v = GlobalsVersionView {
                id: run.globals_id.clone(),
                server_id: e.aggregate_id.to_string(),
                kind: "server_globals".into(),
                status: "running".into(),
                trigger: match run.trigger {
                    Trigger::Manual { .. } => "manual".into(),
                    Trigger::Scheduled { .. } => "scheduled".into(),
                },
                method: run.method.clone(),
                tool_version: run.tool_version.clone(),
                server_version: run.server_version.clone(),
                keep_passwords: run.keep_passwords,
                encrypted: false,
                bytes: None,
                raw_bytes: None,
                sha256: None,
                storage: None,
                key: None,
                started_at: at,
                ended_at: None,
                duration_ms: None,
                error: None,
            };
            save(tx, &v).await
        }
        ServerEvent::GlobalsBackupCompleted {
            globals_id,
            artifact,
            duration_ms,
        } => {
            update(tx, globals_id, |v| {
                v.status = "completed".into();
                v.encrypted = artifact.encrypted;
                v.bytes = Some(artifact.bytes);
                v.raw_bytes = Some(artifact.raw_bytes);
                v.sha256 = Some(artifact.sha256.clone());
                v.storage = Some(artifact.storage.clone());
                v.key = Some(artifact.key.clone());
                v.ended_at = Some(at);
                v.duration_ms = Some(*duration_ms);
            })
            .await
        }
        ServerEvent::GlobalsBackupFailed {
            globals_id,
            failure,
        } => {
            update(tx, globals_id, |v| {
                v.status = "failed".into();
                v.ended_at = Some(at);
                v.error = Some(format!("{}: {}", failure.stage, failure.message));
            })
            .await
        }
        _ => Ok(()),
    }
}

impl Projections {
    /// A server's globals versions, newest first (ids are UUIDv7: time-ordered).
    pub async fn server_globals(
        &self,
        server_id: &str,
    ) -> Result<Vec<GlobalsVersionView>, ProjectionError> {
        bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_server_globals WHERE server_id = $1 ORDER BY id DESC",
            vec![Arg::S(server_id.into())],
        )
        .await
    }

    pub async fn globals_version(
        &self,
        id: &str,
    ) -> Result<Option<GlobalsVersionView>, ProjectionError> {
        Ok(bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_server_globals WHERE id = $1",
            vec![Arg::S(id.into())],
        )
        .await?
        .pop())
    }
}
