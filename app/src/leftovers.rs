//! What crashed restores left behind: the scratch database a restore loads into before it
//! replaces its target stays on the target's server when the restoring process dies (a
//! restore that fails on its own drops it). They hold a full copy of a backup's data, so they
//! are listed (API, UI, an alert once a day old) and dropped only when the operator asks.

use crate::core::Core;
use crate::error::AppError;
use crate::restores::scratch_name;
use crate::time::parse_time;
use backline_domain::{ConnectionString, Engine, RestoreStatus};
use backline_infra::drivers::{self, scratch};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How old a leftover may get before it raises an alert.
pub const ALERT_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// One scratch database of a restore that did not finish.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Leftover {
    /// The database's name on the target's server.
    pub scratch_database: String,
    /// `postgres` or `mysql`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub engine: Engine,
    /// The server, `host:port`.
    pub server: String,
    pub restore_id: String,
    pub restore_started_at: String,
    pub target_database_id: String,
    pub target_database_name: String,
    /// Why the restore ended, as recorded.
    pub restore_error: Option<String>,
}

/// A leftover and the connection that reaches its server.
struct Found {
    leftover: Leftover,
    conn: ConnectionString,
}

/// What `remove_scratch` did with one leftover.
#[derive(Debug, Clone)]
pub struct Removal {
    pub leftover: Leftover,
    /// `None` when it was dropped.
    pub error: Option<String>,
    /// It held an interrupted move into its target (MariaDB), which was completed (the
    /// target now holds the restored contents) before it was dropped.
    pub completed_move: bool,
}

#[derive(Clone)]
pub struct Leftovers {
    core: Arc<Core>,
}

impl Leftovers {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// The scratch databases of failed restores that still exist, oldest first. A server
    /// that cannot be reached is skipped (its leftovers are listed once it answers).
    pub async fn list(&self) -> Result<Vec<Leftover>, AppError> {
        Ok(self.find().await?.into_iter().map(|f| f.leftover).collect())
    }

    async fn find(&self) -> Result<Vec<Found>, AppError> {
        let failed = self
            .core
            .projections
            .all_restores(None)
            .await?
            .into_iter()
            .filter(|r| r.status == RestoreStatus::Failed);
        // One query per target database, whatever the number of restores.
        let mut by_target: BTreeMap<String, Vec<backline_projections::RestoreView>> =
            BTreeMap::new();
        for r in failed {
            by_target
                .entry(r.target_database_id.clone())
                .or_default()
                .push(r);
        }
        let mut out = Vec::new();
        for (target, restores) in by_target {
            let Ok((_, Some(registered))) = self.core.database_state(&target).await else {
                continue; // removed: no connection to look with
            };
            // Through the target's bastion when it names one; the tunnel lives as long as the
            // connection kept in `Found`.
            let conn = match crate::tunnels::reach(&self.core, &registered).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(database_id = target, error = %e.message, "cannot reach a server to look for leftover scratch databases");
                    continue;
                }
            };
            let names: Vec<String> = restores
                .iter()
                .map(|r| scratch_name(r.engine, &conn.database, &r.id))
                .collect();
            let existing = match scratch::existing(&conn, &names).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(database_id = target, error = %e.message, "cannot look for leftover scratch databases");
                    continue;
                }
            };
            for (r, name) in restores.iter().zip(names) {
                if !existing.contains(&name) {
                    continue;
                }
                out.push(Found {
                    leftover: Leftover {
                        scratch_database: name,
                        engine: r.engine,
                        server: format!("{}:{}", conn.host, conn.port),
                        restore_id: r.id.clone(),
                        restore_started_at: r.started_at.clone(),
                        target_database_id: r.target_database_id.clone(),
                        target_database_name: r.target_database_name.clone(),
                        restore_error: r.error.as_ref().map(|e| e.message.clone()),
                    },
                    conn: conn.clone(),
                });
            }
        }
        out.sort_by(|a, b| {
            a.leftover
                .restore_started_at
                .cmp(&b.leftover.restore_started_at)
        });
        Ok(out)
    }

    /// Completes the interrupted moves that leftovers hold (a MariaDB restore that died after
    /// its commit point, see `drivers::complete_interrupted_move`), so that their targets hold
    /// the restored contents. Run at start-up; what cannot be completed now is logged.
    pub async fn complete_moves(&self) -> Result<(), AppError> {
        for f in self.find().await? {
            self.complete_move(&f).await;
        }
        Ok(())
    }

    /// `Some(true)`: `f` held an interrupted move, now completed (and `f` dropped);
    /// `Some(false)`: it held none; `None`: it could not be looked at or completed.
    async fn complete_move(&self, f: &Found) -> Option<bool> {
        let scratch = &f.leftover.scratch_database;
        match drivers::complete_interrupted_move(&f.conn, &self.core.tools, scratch).await {
            Ok(true) => {
                tracing::warn!(
                    scratch_database = scratch,
                    target = f.leftover.target_database_name,
                    restore_id = f.leftover.restore_id,
                    "the interrupted move of a restore was completed: the target holds the restored contents"
                );
                Some(true)
            }
            Ok(false) => Some(false),
            Err(e) => {
                tracing::warn!(scratch_database = scratch, error = %e.message, "could not complete the interrupted move of a restore");
                None
            }
        }
    }

    /// Drops every leftover scratch database, saying what it did with each (one that holds an
    /// interrupted move is completed into its target instead).
    pub async fn remove_scratch(&self) -> Result<Vec<Removal>, AppError> {
        let mut out = Vec::new();
        for f in self.find().await? {
            if self.complete_move(&f).await == Some(true) {
                out.push(Removal {
                    leftover: f.leftover,
                    error: None,
                    completed_move: true,
                });
                continue;
            }
            let error = scratch::drop_scratch(&f.conn, &f.leftover.scratch_database)
                .await
                .err()
                .map(|e| e.message);
            match &error {
                None => tracing::warn!(
                    scratch_database = f.leftover.scratch_database,
                    server = f.leftover.server,
                    restore_id = f.leftover.restore_id,
                    "leftover scratch database dropped"
                ),
                Some(e) => tracing::warn!(
                    scratch_database = f.leftover.scratch_database,
                    error = %e,
                    "could not drop a leftover scratch database"
                ),
            }
            out.push(Removal {
                leftover: f.leftover,
                error,
                completed_move: false,
            });
        }
        Ok(out)
    }

    /// The leftovers older than [`ALERT_AFTER`].
    pub async fn overdue(&self) -> Result<Vec<Leftover>, AppError> {
        let now = chrono::Utc::now();
        Ok(self
            .list()
            .await?
            .into_iter()
            .filter(|l| parse_time(&l.restore_started_at).is_some_and(|t| now - t > ALERT_AFTER))
            .collect())
    }
}
