//! Leases on running backups: the node running a backup renews its lease; when a lease has
//! expired (the node died), any node may record the backup as abandoned.

use sqlx::{AnyPool, Row};

#[derive(Clone)]
pub struct Leases {
    pool: AnyPool,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Leases {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Takes or renews the lease on `backup_id` for `ttl`.
    pub async fn renew(
        &self,
        backup_id: &str,
        node: &str,
        ttl: std::time::Duration,
    ) -> Result<(), sqlx::Error> {
        let expires = now_ms() + ttl.as_millis() as i64;
        sqlx::query(
            "INSERT INTO leases (backup_id, node, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (backup_id) DO UPDATE SET node = excluded.node, expires_at = excluded.expires_at",
        )
        .bind(backup_id)
        .bind(node)
        .bind(expires)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes the lease on `key` for `node` if it is free, expired, or already `node`'s (and
    /// renews it then); false when another node holds it. One statement: two nodes racing for
    /// it cannot both win.
    pub async fn acquire(
        &self,
        key: &str,
        node: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        let n = sqlx::query(
            "INSERT INTO leases (backup_id, node, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (backup_id) DO UPDATE SET node = excluded.node, expires_at = excluded.expires_at \
             WHERE leases.node = excluded.node OR leases.expires_at < $4",
        )
        .bind(key)
        .bind(node)
        .bind(now + ttl.as_millis() as i64)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Gives up `node`'s lease on `key` (nothing if another node holds it).
    pub async fn release_held(&self, key: &str, node: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM leases WHERE backup_id = $1 AND node = $2")
            .bind(key)
            .bind(node)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn release(&self, backup_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM leases WHERE backup_id = $1")
            .bind(backup_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The lease of `backup_id`: `Some((node, expired))`, or `None` when it has none.
    pub async fn get(&self, backup_id: &str) -> Result<Option<(String, bool)>, sqlx::Error> {
        let row = sqlx::query("SELECT node, expires_at FROM leases WHERE backup_id = $1")
            .bind(backup_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => {
                let node: String = r.try_get("node")?;
                let exp: i64 = r.try_get("expires_at")?;
                Some((node, exp < now_ms()))
            }
            None => None,
        })
    }
}
