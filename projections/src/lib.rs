//! Read models built from the ledger, in global position order. Every read model remembers the
//! last position it applied, catches up from there, and can be dropped and rebuilt by replaying
//! the ledger with exactly the code that maintains it live. Each read model is one file that
//! matches on the decoded `LedgerEvent`; the Prometheus metrics are a projection of their own.

mod alerts;
mod backups;
mod channels;
mod databases;
mod drills;
mod event;
pub mod metrics;
mod principals;
mod restores;
mod server_globals;
mod servers;
mod ssh;
mod store;
mod timeline;

pub use alerts::{AlertView, DeliveryView};
pub use backups::{BackupFilter, BackupView, FailureView};
pub use channels::{ChannelKind, ChannelStatus, ChannelTestView, ChannelView, FAILING_AFTER};
pub use databases::{BackupSummary, DatabaseStatus, DatabaseView, ScheduleView};
pub use drills::DrillSettingsView;
pub use drills::{DrillSummary, DrillView};
pub use metrics::Metrics;
pub use principals::{TokenView, UserView};
pub use restores::RestoreView;
pub use server_globals::GlobalsVersionView;
pub use servers::{AutoRegisterView, GlobalsSettingsView, ServerDatabaseView, ServerView};
pub use ssh::SshView;
pub use store::Page;
pub use timeline::{EventQuery, EventView, Order};

use backline_domain::decode;
use backline_infra::{Ledger, LedgerError};
use event::Applied;
use sqlx::Row;
use std::sync::atomic::{AtomicI64, Ordering};
use store::{KnownRows, Tx};
use tokio::sync::{Mutex, MutexGuard};

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("read model query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("read model row is unreadable: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("reading the ledger stopped: {0}")]
    Reader(String),
}

/// The read models, and what keeps them up to date.
pub struct Projections {
    ledger: Ledger,
    /// Serialises catch-up within this process; across processes the checkpoint row lock does.
    running: Mutex<()>,
    metrics: Metrics,
    /// The position the read models were last seen to have applied (by this process).
    applied: AtomicI64,
}

pub(crate) const READ_MODELS: &[&str] = &["databases", "backups", "restores", "timeline"];
// Alerts and channels share the checkpoints above (they are applied in the same transaction):
// a new checkpoint name would start at 0 and re-apply every older event to the other models.
const TABLES: &[&str] = &[
    "rm_databases",
    "rm_backups",
    "rm_restores",
    "rm_timeline",
    "rm_alerts",
    "rm_channels",
    "rm_servers",
    "rm_server_globals",
    "rm_users",
    "rm_tokens",
    "rm_metrics",
    "rm_drills",
];
/// Events per catch-up transaction.
const BATCH: i64 = 2000;
/// Events read per query during a rebuild, and applied between two flushes of the buffer.
const REPLAY_BATCH: i64 = 5000;
const FLUSH_EVERY: usize = 25_000;
/// SQLite's page cache for the rebuild's connection while it runs (negative: KiB), 1 GiB at
/// most: enough to hold the read models of a ledger of a few million events.
const REBUILD_CACHE: &str = "PRAGMA cache_size = -1048576";

/// Takes the write lock first (SQLite: RESERVED; PostgreSQL: the row locks), so that two
/// processes never apply the same events twice; returns the position every read model has
/// applied.
async fn lock_checkpoints(tx: &mut Tx<'_>) -> Result<i64, ProjectionError> {
    for name in READ_MODELS {
        sqlx::query(
            "INSERT INTO rm_checkpoints (name, position) VALUES ($1, 0) \
             ON CONFLICT (name) DO UPDATE SET position = rm_checkpoints.position",
        )
        .bind(*name)
        .execute(tx.conn())
        .await?;
    }
    let row = sqlx::query("SELECT MIN(position) AS p FROM rm_checkpoints")
        .fetch_one(tx.conn())
        .await?;
    Ok(row.try_get("p")?)
}

async fn set_checkpoints(tx: &mut Tx<'_>, position: i64) -> Result<(), ProjectionError> {
    sqlx::query("UPDATE rm_checkpoints SET position = $1")
        .bind(position)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// One event through every read model, in the order their lookups need: backups and restores
/// first (the databases and the timeline read them), the timeline last.
async fn apply(
    tx: &mut Tx<'_>,
    stored: &backline_infra::StoredEvent,
) -> Result<(), ProjectionError> {
    let event = match decode(&stored.aggregate_type, &stored.event_type, &stored.payload) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(position = stored.position, error = %e, "an event does not decode: only the timeline shows it");
            return timeline::apply_undecoded(tx, stored).await;
        }
    };
    let e = Applied::new(stored, event);
    backups::apply(tx, &e).await?;
    restores::apply(tx, &e).await?;
    drills::apply(tx, &e).await?;
    databases::apply(tx, &e).await?;
    alerts::apply(tx, &e).await?;
    channels::apply(tx, &e).await?;
    metrics::apply(tx, &e).await?;
    servers::apply(tx, &e).await?;
    server_globals::apply(tx, &e).await?;
    principals::apply(tx, &e).await?;
    timeline::apply(tx, &e).await
}

impl Projections {
    pub fn new(ledger: Ledger) -> Self {
        Self {
            ledger,
            running: Mutex::new(()),
            metrics: Metrics::new(),
            applied: AtomicI64::new(0),
        }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The Prometheus metrics projection.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The position up to which the read models are known to be applied: what a read
    /// answered from them reflects (at least).
    pub fn applied_position(&self) -> i64 {
        self.applied.load(Ordering::Relaxed)
    }

    /// The position the read models have applied, from their checkpoints (a cheap read).
    pub async fn checkpoint(&self) -> Result<i64, ProjectionError> {
        let row = sqlx::query("SELECT COALESCE(MIN(position), 0) AS p FROM rm_checkpoints")
            .fetch_one(self.ledger.pool())
            .await?;
        let p: i64 = row.try_get("p")?;
        self.applied.fetch_max(p, Ordering::Relaxed);
        Ok(p)
    }

    /// Applies every event after the checkpoint. Returns the position applied up to.
    pub async fn catch_up(&self) -> Result<i64, ProjectionError> {
        let guard = self.running.lock().await;
        self.catch_up_locked(guard).await
    }

    /// `catch_up`, unless one is running already (`None`: the read models are catching up).
    pub async fn try_catch_up(&self) -> Option<Result<i64, ProjectionError>> {
        let guard = self.running.try_lock().ok()?;
        Some(self.catch_up_locked(guard).await)
    }

    async fn catch_up_locked(&self, _guard: MutexGuard<'_, ()>) -> Result<i64, ProjectionError> {
        let r = self.apply_pending().await;
        if let Ok(p) = &r {
            self.applied.fetch_max(*p, Ordering::Relaxed);
        }
        r
    }

    async fn apply_pending(&self) -> Result<i64, ProjectionError> {
        let head_at_start = self.ledger.head().await?;
        let mut logged = std::time::Instant::now();
        // Nothing new (the common case of the scheduler's and reactor's ticks): answer with two
        // reads instead of taking the write lock.
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, COALESCE(MIN(position), 0) AS p FROM rm_checkpoints",
        )
        .fetch_one(self.ledger.pool())
        .await?;
        let (n, applied): (i64, i64) = (row.try_get("n")?, row.try_get("p")?);
        if n >= READ_MODELS.len() as i64 && head_at_start <= applied {
            return Ok(applied);
        }
        // Rows the previous batch knew, and the position they are exact at.
        let mut known: Option<(i64, KnownRows)> = None;
        loop {
            let mut tx = Tx::new(self.ledger.pool().begin().await?);
            let from = lock_checkpoints(&mut tx).await?;
            if let Some((at, rows)) = known.take() {
                // Nobody (another process on a shared ledger) applied events in between.
                if at == from {
                    tx.resume(rows);
                }
            }
            let events = self.ledger.read_after(from, BATCH).await?;
            let Some(last) = events.last().map(|e| e.position) else {
                tx.commit().await?;
                return Ok(from);
            };
            for e in &events {
                apply(&mut tx, e).await?;
            }
            set_checkpoints(&mut tx, last).await?;
            known = Some((last, tx.commit().await?));
            self.applied.fetch_max(last, Ordering::Relaxed);
            if logged.elapsed() >= std::time::Duration::from_secs(2) {
                logged = std::time::Instant::now();
                tracing::info!(
                    applied = last,
                    head = head_at_start,
                    "read models catching up"
                );
            }
            if (events.len() as i64) < BATCH {
                return Ok(last);
            }
        }
    }

    /// Drops every read model and rebuilds it from the whole ledger.
    pub async fn rebuild(&self) -> Result<i64, ProjectionError> {
        self.rebuild_with(|_, _| {}).await
    }

    /// Rebuilds every read model from the whole ledger in one transaction, telling `progress`
    /// (applied, head) as it goes. Events are read in large batches in position order and
    /// applied in memory (the write-behind buffer), written with multi-row statements. Until
    /// the transaction commits, every reader (this process's API, another process) keeps
    /// reading the read models as they were; at the commit it sees the rebuilt ones at once.
    pub async fn rebuild_with(&self, progress: impl Fn(i64, i64)) -> Result<i64, ProjectionError> {
        let _guard = self.running.lock().await;
        let mut conn = self.ledger.pool().acquire().await?;
        // SQLite: the rebuild's transaction writes the whole read models; with the default
        // page cache (2 MB) it spills them into the WAL and reads them back while it runs.
        let sqlite = conn.backend_name() == "SQLite";
        let mut cache = None;
        if sqlite {
            cache = sqlx::query_scalar::<_, i64>("PRAGMA cache_size")
                .fetch_optional(&mut *conn)
                .await?;
            sqlx::query(REBUILD_CACHE).execute(&mut *conn).await?;
        }
        let r = self.rebuild_on(&mut conn, progress).await;
        // Rebuilt at the same positions: what /metrics kept is rendered again.
        self.metrics.forget();
        if let Some(pages) = cache {
            // Back to what it was for this pooled connection's other users.
            let reset = sqlx::query(&format!("PRAGMA cache_size = {pages}"))
                .execute(&mut *conn)
                .await;
            if let Err(e) = reset {
                tracing::warn!(error = %e, "the rebuild's page cache was not given back: closing its connection");
                conn.detach();
            }
        }
        r
    }

    async fn rebuild_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        progress: impl Fn(i64, i64),
    ) -> Result<i64, ProjectionError> {
        let mut head = self.ledger.head().await?;
        let mut tx = Tx::new(sqlx::Connection::begin(conn).await?);
        lock_checkpoints(&mut tx).await?;
        for t in TABLES {
            sqlx::query(&format!("DELETE FROM {t}"))
                .execute(tx.conn())
                .await?;
        }
        tx.emptied();
        // The next batch is read (and its JSON parsed) on another thread while this one is
        // applied.
        let read = |after: i64| {
            let ledger = self.ledger.clone();
            tokio::spawn(async move { ledger.read_after(after, REPLAY_BATCH).await })
        };
        let mut next = Some(read(0));
        let mut last = 0;
        let mut since_flush = 0;
        while let Some(reading) = next.take() {
            let events = reading
                .await
                .map_err(|e| ProjectionError::Reader(e.to_string()))??;
            if events.len() as i64 == REPLAY_BATCH {
                if let Some(e) = events.last() {
                    next = Some(read(e.position));
                }
            }
            for e in &events {
                apply(&mut tx, e).await?;
                last = e.position;
            }
            since_flush += events.len();
            if since_flush >= FLUSH_EVERY {
                tx.flush().await?;
                since_flush = 0;
            }
            head = head.max(last);
            progress(last, head);
        }
        set_checkpoints(&mut tx, last).await?;
        tx.commit().await?;
        self.applied.store(last, Ordering::Relaxed);
        Ok(last)
    }

    /// Positions each read model has applied, by name.
    pub async fn checkpoints(&self) -> Result<Vec<(String, i64)>, ProjectionError> {
        let rows = sqlx::query("SELECT name, position FROM rm_checkpoints ORDER BY name")
            .fetch_all(self.ledger.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("position")?)))
            .collect()
    }

    /// Every row of every read model, in a stable order (for replay-equality checks).
    pub async fn snapshot(&self) -> Result<Vec<(String, String, String)>, ProjectionError> {
        let mut out = Vec::new();
        for (t, key) in TABLES.iter().zip([
            "id", "id", "id", "position", "id", "id", "id", "id", "id", "id", "id",
        ]) {
            let rows = sqlx::query(&format!(
                "SELECT CAST({key} AS TEXT) AS k, body FROM {t} ORDER BY {key}"
            ))
            .fetch_all(self.ledger.pool())
            .await?;
            for r in rows {
                out.push((t.to_string(), r.try_get("k")?, r.try_get("body")?));
            }
        }
        Ok(out)
    }
}
