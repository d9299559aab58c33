//! Things only one holder may have at a time, across every process on one ledger: a
//! database's name, a database's running backup. A claim is a row in the ledger's own
//! database (its primary key decides), taken before the event it guards is appended and
//! released when that thing ends.
//!
//! A claim whose event was never appended (the process died in between) or whose holder has
//! ended without releasing it is stale; the caller decides that from the ledger and takes it
//! over with [`Claims::take_over`], which only succeeds against the holder it saw.

use sqlx::{AnyPool, Row};

#[derive(Clone)]
pub struct Claims {
    pool: AnyPool,
}

/// What a claim is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Key: a database name; holder: the database id.
    Name,
    /// Key: a database id; holder: the id of its running backup.
    Backup,
    /// Key: a database id; holder: the id of the restore running into it.
    Restore,
    /// Key: a username; holder: the user id.
    Username,
    /// Key: a database id; holder: the id of its running restore drill.
    Drill,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Name => "name",
            Kind::Backup => "backup",
            Kind::Restore => "restore",
            Kind::Username => "username",
            Kind::Drill => "drill",
        }
    }
}

/// Who holds what could not be claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub id: String,
    /// Unix seconds; 0 for claims carried over from before claims existed.
    pub claimed_at: i64,
}

impl Holder {
    /// Whether the claim is younger than `secs`: its event may still be on its way.
    pub fn younger_than(&self, secs: i64) -> bool {
        chrono::Utc::now().timestamp() - self.claimed_at < secs
    }
}

impl Claims {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Claims `key` for `holder`: `Ok(None)` when it is now (or already was) `holder`'s,
    /// `Ok(Some(other))` when another holder has it.
    pub async fn claim(
        &self,
        kind: Kind,
        key: &str,
        holder: &str,
    ) -> Result<Option<Holder>, sqlx::Error> {
        loop {
            let inserted = sqlx::query(
                "INSERT INTO claims (kind, key, holder, claimed_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (kind, key) DO NOTHING",
            )
            .bind(kind.as_str())
            .bind(key)
            .bind(holder)
            .bind(chrono::Utc::now().timestamp())
            .execute(&self.pool)
            .await?
            .rows_affected();
            if inserted == 1 {
                return Ok(None);
            }
            let row =
                sqlx::query("SELECT holder, claimed_at FROM claims WHERE kind = $1 AND key = $2")
                    .bind(kind.as_str())
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
            // None: released in between, try again.
            if let Some(r) = row {
                let other = Holder {
                    id: r.try_get("holder")?,
                    claimed_at: r.try_get("claimed_at")?,
                };
                return Ok((other.id != holder).then_some(other));
            }
        }
    }

    /// Moves a stale claim from `from` to `to`; false if it is no longer `from`'s.
    pub async fn take_over(
        &self,
        kind: Kind,
        key: &str,
        from: &str,
        to: &str,
    ) -> Result<bool, sqlx::Error> {
        let n = sqlx::query(
            "UPDATE claims SET holder = $1, claimed_at = $2 \
             WHERE kind = $3 AND key = $4 AND holder = $5",
        )
        .bind(to)
        .bind(chrono::Utc::now().timestamp())
        .bind(kind.as_str())
        .bind(key)
        .bind(from)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Gives up `holder`'s claim on `key` (nothing if it holds none).
    pub async fn release(&self, kind: Kind, key: &str, holder: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM claims WHERE kind = $1 AND key = $2 AND holder = $3")
            .bind(kind.as_str())
            .bind(key)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
