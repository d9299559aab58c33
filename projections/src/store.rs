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
