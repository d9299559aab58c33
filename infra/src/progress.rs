//! How far running work got, kept in the ledger's database (table `progress`) so that every
//! process on the ledger can show it; the process running the work writes it about once a
//! second and removes it when the work ends.

use sqlx::{AnyPool, Row};

/// One piece of running work's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkProgress {
    /// `dump` (a backup), `download` or `load` (a restore).
    pub phase: String,
    pub done_bytes: u64,
    /// What the phase will roughly amount to, when known.
    pub expected_bytes: Option<u64>,
    /// When the phase started (ms since the epoch).
    pub phase_started_ms: i64,
}

#[derive(Clone)]
pub struct ProgressTable {
    pool: AnyPool,
}

impl ProgressTable {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub async fn write(&self, id: &str, p: &WorkProgress) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO progress (work_id, phase, done_bytes, expected_bytes, phase_started_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (work_id) DO UPDATE SET phase = excluded.phase, \
             done_bytes = excluded.done_bytes, expected_bytes = excluded.expected_bytes, \
             phase_started_at = excluded.phase_started_at, updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(&p.phase)
        .bind(p.done_bytes as i64)
        .bind(p.expected_bytes.map(|b| b as i64))
        .bind(p.phase_started_ms)
        .bind(chrono::Utc::now().timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get(&self, id: &str) -> Result<Option<WorkProgress>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT phase, done_bytes, expected_bytes, phase_started_at FROM progress WHERE work_id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let expected: Option<i64> = r.try_get("expected_bytes")?;
        Ok(Some(WorkProgress {
            phase: r.try_get("phase")?,
            done_bytes: r.try_get::<i64, _>("done_bytes")?.max(0) as u64,
            expected_bytes: expected.map(|e| e.max(0) as u64),
            phase_started_ms: r.try_get("phase_started_at")?,
        }))
    }

    pub async fn remove(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM progress WHERE work_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
