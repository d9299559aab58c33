//! Secrets of people and tokens, kept beside the ledger (never in it): password hashes
//! (argon2id, PHC strings), API token hashes (sha256 of a 256-bit random secret) and UI
//! sessions (sha256 of the cookie's secret). Only hashes are stored: a copy of this table
//! signs nobody in.

use sqlx::{AnyPool, Row};

#[derive(Clone)]
pub struct Credentials {
    pool: AnyPool,
}

/// A UI session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub user_id: String,
    pub csrf: String,
    /// Unix seconds.
    pub created_at: i64,
    pub last_seen_at: i64,
}

impl Credentials {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Sets (or replaces) the hash of `principal_id`.
    pub async fn set_hash(&self, principal_id: &str, hash: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO credentials (principal_id, hash) VALUES ($1, $2) \
             ON CONFLICT (principal_id) DO UPDATE SET hash = excluded.hash",
        )
        .bind(principal_id)
        .bind(hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn hash(&self, principal_id: &str) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query("SELECT hash FROM credentials WHERE principal_id = $1")
            .bind(principal_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("hash")).transpose()
    }

    /// Records a use at `now` (unix seconds), at most once a minute per principal: a token
    /// used by every request must not make every request a write.
    pub async fn touch(&self, principal_id: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE credentials SET last_used_at = $1 WHERE principal_id = $2 \
             AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(now)
        .bind(principal_id)
        .bind(now - 60)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When each principal was last used (unix seconds), for those ever used.
    pub async fn last_used(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT principal_id, last_used_at FROM credentials WHERE last_used_at IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("principal_id")?, r.try_get("last_used_at")?)))
            .collect()
    }

    pub async fn create_session(
        &self,
        id_hash: &str,
        user_id: &str,
        csrf: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT user_id, csrf, created_at, last_seen_at FROM sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SessionRow {
                user_id: r.try_get("user_id")?,
                csrf: r.try_get("csrf")?,
                created_at: r.try_get("created_at")?,
                last_seen_at: r.try_get("last_seen_at")?,
            })
        })
        .transpose()
    }

    /// Moves the idle expiry on (at most every 10 s, to spare writes).
    pub async fn touch_session(&self, id_hash: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2 AND last_seen_at < $3",
        )
        .bind(now)
        .bind(id_hash)
        .bind(now - 10)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn end_session(&self, id_hash: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every session of a user (disabled, or its password reset).
    pub async fn end_sessions_of(&self, user_id: &str) -> Result<u64, sqlx::Error> {
        let r = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }
}
