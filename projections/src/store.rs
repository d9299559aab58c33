//! How read models keep their rows: one JSON `body` per row, plus the columns queries filter
//! and sort on. Shared by every read model.
//!
//! Writes go through a write-behind buffer of the transaction (`Tx`): a row written or read
//! once is kept in memory, later events of the same batch change it there, and `flush` writes
//! every changed row with a few multi-row statements. Applying an event costs no database
//! round trip unless it reads a row the batch has not touched yet; the result is the same as
//! writing each change at once (the buffer applies `ON CONFLICT` exactly as the statement
//! would). Bodies are kept decoded (`Arg::body`): a row an event changes is read back by the
//! next one without parsing and turned into JSON text once, when the batch is flushed.

use crate::ProjectionError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row, Transaction};
use std::collections::HashMap;
use std::sync::Arc;

mod body;
mod read;
pub(crate) use body::Body;
use body::{key_text, Known};
pub use read::Page;
pub(crate) use read::{bodies, count, page};

/// Rows whose bodies stay known after a flush, at most (their bodies as written: the next
/// events that change them read nothing back). Over it, the buffer starts afresh.
const KEEP_ROWS: usize = 50_000;

/// Rows per multi-row statement, and bound values per statement at most (SQLite allows
/// 32,766, PostgreSQL 65,535).
const ROWS_PER_STATEMENT: usize = 500;
const VALUES_PER_STATEMENT: usize = 8000;

/// How a buffered write meets an existing row.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OnConflict {
    /// `INSERT … ON CONFLICT (key) DO UPDATE SET` these columns (nothing: `DO NOTHING`).
    Set(&'static [&'static str]),
    /// `UPDATE … SET` every given column `WHERE key = …` (the row exists).
    UpdateOnly,
}

/// One row write: `table`, its key column and value, the other columns (with `body`).
pub(crate) struct Write {
    pub table: &'static str,
    pub key: (&'static str, Arg),
    pub cols: Vec<(&'static str, Arg)>,
    pub on_conflict: OnConflict,
}

/// A change not written yet: an insert (that sets `set` on conflict) or an update of `set`.
struct Pending {
    key_col: &'static str,
    key: Arg,
    cols: Vec<(&'static str, Arg)>,
    insert: bool,
    set: Vec<&'static str>,
}

impl Pending {
    fn assign(&mut self, col: &'static str, v: Arg) {
        match self.cols.iter_mut().find(|(c, _)| *c == col) {
            Some((_, old)) => *old = v,
            None => self.cols.push((col, v)),
        }
        if !self.set.contains(&col) {
            self.set.push(col);
        }
    }
}

/// Rows written by one statement: the table, its columns, what a conflict updates.
type Shape = (&'static str, Vec<&'static str>, Vec<&'static str>);

struct Entry {
    /// The row's body as this transaction sees it (`None`: not known here).
    body: Option<Known>,
    pending: Option<Pending>,
}

/// Rows whose bodies a committed transaction knew (see `Tx::commit`).
#[derive(Default)]
pub(crate) struct KnownRows(HashMap<(&'static str, String), Entry>);

/// A read-model transaction with its write-behind buffer.
pub(crate) struct Tx<'a> {
    sql: Transaction<'a, Any>,
    rows: HashMap<(&'static str, String), Entry>,
    /// Every table was emptied in this transaction and nothing flushed yet: a row not in the
    /// buffer does not exist (a rebuild reads nothing back).
    empty: bool,
}

impl<'a> Tx<'a> {
    pub fn new(sql: Transaction<'a, Any>) -> Self {
        Self {
            sql,
            rows: HashMap::new(),
            empty: false,
        }
    }

    /// After every read model table was emptied in this transaction.
    pub fn emptied(&mut self) {
        self.rows.clear();
        self.empty = true;
    }

    /// The transaction's connection, for statements of its own (flush first when they read
    /// read-model rows).
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.sql
    }

    /// Buffers a row write.
    pub fn write(&mut self, w: Write) {
        let k = (w.table, key_text(&w.key.1));
        let body = w
            .cols
            .iter()
            .find(|(c, _)| *c == "body")
            .map(|(_, v)| Known::of(v));
        let sets_body = |cols: &[&str]| cols.contains(&"body");
        match self.rows.get_mut(&k) {
            Some(Entry {
                body: known,
                pending: Some(p),
            }) => {
                // The row exists by now: the write updates what its ON CONFLICT updates.
                let cols: Vec<(&'static str, Arg)> = match w.on_conflict {
                    OnConflict::Set(set) => w
                        .cols
                        .into_iter()
                        .filter(|(c, _)| set.contains(c))
                        .collect(),
                    OnConflict::UpdateOnly => w.cols,
                };
                if cols.iter().any(|(c, _)| *c == "body") {
                    *known = body;
                }
                for (c, v) in cols {
                    p.assign(c, v);
                }
            }
            entry => {
                let (insert, set) = match w.on_conflict {
                    OnConflict::Set(set) => (true, set.to_vec()),
                    OnConflict::UpdateOnly => (false, w.cols.iter().map(|(c, _)| *c).collect()),
                };
                // A new row, or one read from the database: the body is known when written
                // as a whole or updated.
                let known = match (&entry, insert) {
                    (Some(e), true) if !sets_body(&set) => e.body.clone(),
                    (None, true) if !sets_body(&set) && !self.empty => None,
                    _ => body,
                };
                let pending = Pending {
                    key_col: w.key.0,
                    key: w.key.1,
                    cols: w.cols,
                    insert,
                    set,
                };
                self.rows.insert(
                    k,
                    Entry {
                        body: known,
                        pending: Some(pending),
                    },
                );
            }
        }
    }

    /// Writes every buffered change. The rows' bodies stay known (what the database now
    /// holds), but for the timeline's (never read back) and when there are too many.
    pub async fn flush(&mut self) -> Result<(), ProjectionError> {
        let mut inserts: HashMap<Shape, Vec<Pending>> = HashMap::new();
        let mut updates = Vec::new();
        for ((table, _), e) in self.rows.iter_mut() {
            let Some(p) = e.pending.take() else { continue };
            let table: &'static str = table;
            if p.insert {
                let cols: Vec<&'static str> = p.cols.iter().map(|(c, _)| *c).collect();
                inserts
                    .entry((table, cols, p.set.clone()))
                    .or_default()
                    .push(p);
            } else {
                updates.push((table, p));
            }
        }
        self.rows
            .retain(|(table, _), e| e.body.is_some() && *table != "rm_timeline");
        if self.rows.len() > KEEP_ROWS {
            self.rows.clear();
        }
        self.empty = false;
        for ((table, cols, set), rows) in inserts {
            let per = (VALUES_PER_STATEMENT / (cols.len() + 1)).clamp(1, ROWS_PER_STATEMENT);
            for chunk in rows.chunks(per) {
                insert_rows(&mut self.sql, table, &cols, &set, chunk).await?;
            }
        }
        for (table, p) in updates {
            let mut args = Vec::new();
            let mut sets = Vec::new();
            for (c, v) in &p.cols {
                args.push(v.clone());
                sets.push(format!("{c} = ${}", args.len()));
            }
            args.push(p.key.clone());
            let sql = format!(
                "UPDATE {table} SET {} WHERE {} = ${}",
                sets.join(", "),
                p.key_col,
                args.len()
            );
            bind_all(sqlx::query(&sql), args)?
                .execute(&mut *self.sql)
                .await?;
        }
        Ok(())
    }

    /// Flushes and commits. Returns the rows whose bodies are known, for the next
    /// transaction to start from (`resume`) if nothing else applies events in between.
    pub async fn commit(mut self) -> Result<KnownRows, ProjectionError> {
        self.flush().await?;
        self.sql.commit().await?;
        Ok(KnownRows(self.rows))
    }

    /// Starts from the rows a previous transaction committed (`commit`), when the read models
    /// are still exactly as that transaction left them.
    pub fn resume(&mut self, known: KnownRows) {
        self.rows = known.0;
    }
}

/// One multi-row `INSERT … ON CONFLICT` of rows with the same columns (names from code, never
/// from input).
async fn insert_rows(
    conn: &mut AnyConnection,
    table: &str,
    cols: &[&str],
    set: &[&str],
    rows: &[Pending],
) -> Result<(), ProjectionError> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let key_col = first.key_col;
    let width = cols.len() + 1;
    // SQLite: anonymous `?` parameters. SQLite keeps named ones (`$1`) in a list it searches
    // from the start for each name, and sqlx asks the name of every parameter it binds: with
    // `$n` a statement of n values costs n²/2 steps before it runs (a third of a rebuild's
    // time at 8,000 values, by perf). PostgreSQL: `$n`.
    let anonymous = conn.backend_name() == "SQLite";
    let values: Vec<String> = (0..rows.len())
        .map(|r| {
            let ps: Vec<String> = (1..=width)
                .map(|c| {
                    if anonymous {
                        "?".to_string()
                    } else {
                        format!("${}", r * width + c)
                    }
                })
                .collect();
            format!("({})", ps.join(", "))
        })
        .collect();
    let action = if set.is_empty() {
        "DO NOTHING".to_string()
    } else {
        let s: Vec<String> = set.iter().map(|c| format!("{c} = excluded.{c}")).collect();
        format!("DO UPDATE SET {}", s.join(", "))
    };
    let sql = format!(
        "INSERT INTO {table} ({key_col}, {}) VALUES {} ON CONFLICT ({key_col}) {action}",
        cols.join(", "),
        values.join(", ")
    );
    let mut args = Vec::with_capacity(rows.len() * width);
    for p in rows {
        args.push(p.key.clone());
        args.extend(p.cols.iter().map(|(_, v)| v.clone()));
    }
    bind_all(sqlx::query(&sql), args)?.execute(conn).await?;
    Ok(())
}

/// The row of `table` whose `id` is `id`, decoded.
pub(crate) async fn load<T: DeserializeOwned + Clone + 'static>(
    tx: &mut Tx<'_>,
    table: &'static str,
    id: &str,
) -> Result<Option<T>, ProjectionError> {
    let k = (table, id.to_string());
    match tx.rows.get(&k) {
        Some(Entry { body: Some(b), .. }) => return Ok(Some(b.decode()?)),
        Some(Entry { body: None, .. }) => tx.flush().await?,
        None if tx.empty => return Ok(None),
        None => {}
    }
    let row = sqlx::query(&format!("SELECT body FROM {table} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx.sql)
        .await?;
    match row {
        Some(r) => {
            let body: String = r.try_get("body")?;
            let v = serde_json::from_str(&body)?;
            tx.rows.insert(
                k,
                Entry {
                    body: Some(Known::Text(body)),
                    pending: None,
                },
            );
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

/// A bound argument of a query.
#[derive(Clone)]
pub(crate) enum Arg {
    I(i64),
    S(String),
    /// Text or NULL.
    N(Option<String>),
    /// A row body, bound as its JSON text.
    B(Arc<dyn Body>),
}

impl Arg {
    /// A row body (kept decoded until the write; see the module docs).
    pub fn body<T: Serialize + Clone + Send + Sync + 'static>(v: &T) -> Arg {
        Arg::B(Arc::new(v.clone()))
    }
}

pub(crate) fn bind_all<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    args: Vec<Arg>,
) -> Result<Query<'q, Any, AnyArguments<'q>>, ProjectionError> {
    for a in args {
        q = match a {
            Arg::I(i) => q.bind(i),
            Arg::S(s) => q.bind(s),
            Arg::N(n) => q.bind(n),
            Arg::B(b) => q.bind(b.text()?),
        };
    }
    Ok(q)
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
