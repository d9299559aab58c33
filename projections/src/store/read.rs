//! Reading read-model rows: bodies, keyset pages and counts.

use super::{bind_all, Arg};
use crate::ProjectionError;
use serde::de::DeserializeOwned;
use sqlx::{AnyPool, Row};

/// The `body` of every row `sql` selects, decoded.
pub(crate) async fn bodies<T: DeserializeOwned>(
    pool: &AnyPool,
    sql: &str,
    args: Vec<Arg>,
) -> Result<Vec<T>, ProjectionError> {
    if on_sqlite(pool) {
        let joined = format!(
            "SELECT '[' || COALESCE(group_concat(body, ','), '') || ']' AS joined FROM ({sql})"
        );
        let row = bind_all(sqlx::query(&joined), args)?
            .fetch_one(pool)
            .await?;
        return Ok(serde_json::from_str(&row.try_get::<String, _>("joined")?)?);
    }
    let rows = bind_all(sqlx::query(sql), args)?.fetch_all(pool).await?;
    rows.iter()
        .map(|r| {
            let body: String = r.try_get("body")?;
            Ok(serde_json::from_str(&body)?)
        })
        .collect()
}

/// Whether `pool` is SQLite's. There, each row of a result crosses from the connection's
/// worker thread to the task on its own, a thread hand-off per row that was most of what a
/// list of 100 rows cost (measured with perf on a 250k-version ledger); so lists are joined
/// into one JSON text by SQLite and cross once. The subquery keeps its `ORDER BY … LIMIT`,
/// and SQLite feeds an aggregate over such a subquery in its order (the paging tests check
/// the order of every list).
fn on_sqlite(pool: &AnyPool) -> bool {
    pool.connect_options()
        .database_url
        .scheme()
        .starts_with("sqlite")
}

/// One page of a list, newest or oldest first, and where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The key to pass as the next page's `before`/`after` bound; `None` on the last page.
    pub next: Option<i64>,
}

/// The `(k, body)` of every row `sql` selects, decoded: `sql` asks for `limit + 1` rows, so
/// that whether a next page exists is known without another query.
pub(crate) async fn page<T: DeserializeOwned>(
    pool: &AnyPool,
    sql: &str,
    args: Vec<Arg>,
    limit: i64,
) -> Result<Page<T>, ProjectionError> {
    if on_sqlite(pool) {
        let joined = format!(
            "SELECT '[' || COALESCE(group_concat('[' || k || ',' || body || ']', ','), '') || ']' \
             AS joined FROM ({sql})"
        );
        let row = bind_all(sqlx::query(&joined), args)?
            .fetch_one(pool)
            .await?;
        let mut rows: Vec<(i64, T)> = serde_json::from_str(&row.try_get::<String, _>("joined")?)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit.max(0) as usize);
        let last = rows.last().map(|(k, _)| *k);
        return Ok(Page {
            items: rows.into_iter().map(|(_, t)| t).collect(),
            next: if more { last } else { None },
        });
    }
    let rows = bind_all(sqlx::query(sql), args)?.fetch_all(pool).await?;
    let more = rows.len() as i64 > limit;
    let mut items = Vec::with_capacity(rows.len());
    let mut last = None;
    for r in rows.iter().take(limit.max(0) as usize) {
        let body: String = r.try_get("body")?;
        last = Some(r.try_get::<i64, _>("k")?);
        items.push(serde_json::from_str(&body)?);
    }
    Ok(Page {
        items,
        next: if more { last } else { None },
    })
}

/// `COUNT(*)` of what `sql` selects (a column named `n`).
pub(crate) async fn count(
    pool: &AnyPool,
    sql: &str,
    args: Vec<Arg>,
) -> Result<i64, ProjectionError> {
    let row = bind_all(sqlx::query(sql), args)?.fetch_one(pool).await?;
    Ok(row.try_get("n")?)
}
