//! How read models keep their rows: one JSON `body` per row, plus the columns queries filter
//! and sort on. Shared by every read model.

use crate::ProjectionError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row, Transaction};

pub(crate) type Tx<'a> = Transaction<'a, Any>;

/// The row of `table` whose `id` is `id`, decoded.
pub(crate) async fn load<T: DeserializeOwned>(
    tx: &mut Tx<'_>,
    table: &str,
    id: &str,
) -> Result<Option<T>, ProjectionError> {
    let row = sqlx::query(&format!("SELECT body FROM {table} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(r) => {
            let body: String = r.try_get("body")?;
            Ok(Some(serde_json::from_str(&body)?))
        }
        None => Ok(None),
    }
}

pub(crate) fn to_text<T: Serialize>(v: &T) -> Result<String, ProjectionError> {
    Ok(serde_json::to_string(v)?)
}

/// A bound argument of a read query.
pub(crate) enum Arg {
    I(i64),
    S(String),
}

fn bind_all<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    args: Vec<Arg>,
) -> Query<'q, Any, AnyArguments<'q>> {
    for a in args {
        q = match a {
            Arg::I(i) => q.bind(i),
            Arg::S(s) => q.bind(s),
        };
    }
    q
}

/// The `body` of every row `sql` selects, decoded.
pub(crate) async fn bodies<T: DeserializeOwned>(
    pool: &AnyPool,
    sql: &str,
    args: Vec<Arg>,
) -> Result<Vec<T>, ProjectionError> {
    let rows = bind_all(sqlx::query(sql), args).fetch_all(pool).await?;
    rows.iter()
        .map(|r| {
            let body: String = r.try_get("body")?;
            Ok(serde_json::from_str(&body)?)
        })
        .collect()
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
    let rows = bind_all(sqlx::query(sql), args).fetch_all(pool).await?;
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
pub(crate) async fn count(pool: &AnyPool, sql: &str, args: Vec<Arg>) -> Result<i64, ProjectionError> {
    let row = bind_all(sqlx::query(sql), args).fetch_one(pool).await?;
    Ok(row.try_get("n")?)
}

/// Builds a `WHERE` clause of bound conditions (`$1`, `$2`, … in the order pushed).
#[derive(Default)]
pub(crate) struct Conditions {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl Conditions {
    /// Adds `AND <lhs> $n` (`lhs` is code, never input).
    pub fn and(&mut self, lhs: &str, a: Arg) {
        self.args.push(a);
        self.sql
            .push_str(&format!(" AND {lhs} ${}", self.args.len()));
    }

    /// The `$n` the next argument gets, after pushing it.
    pub fn bind(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }
}
