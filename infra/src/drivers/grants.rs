//! What a backup needs from the database user, checked before the first backup: PostgreSQL
//! read access to every table and sequence (and USAGE on their schemas), MariaDB/MySQL the
//! privileges `mariadb-dump --single-transaction --routines --triggers --events` uses.
//! "Connected" alone used to be followed by a failing (or silently incomplete) backup.

use super::{mysql_grants, postgres, StageError};
use backline_domain::{ConnectionString, Engine, Stage};
use sqlx::Row;

/// A privilege the user lacks, on what, and what goes wrong without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingGrant {
    /// `SELECT`, `USAGE`, `SHOW VIEW`, `TRIGGER`, `EVENT`, …
    pub privilege: String,
    /// `schema.name` (PostgreSQL), `db.table` or `db.*` (MariaDB), `schema s`.
    pub object: String,
    /// What the dump does without it.
    pub effect: String,
}

/// At most this many are reported (a role without any grant on a database of 10 000 tables
/// would otherwise answer with all of them); `missing_for_backup` says how many there were.
pub const REPORTED_AT_MOST: usize = 200;

/// The privileges a backup of the database `conn` names needs and its user lacks, with the
/// total count (the list stops at `REPORTED_AT_MOST`).
pub async fn missing_for_backup(
    conn: &ConnectionString,
) -> Result<(Vec<MissingGrant>, usize), StageError> {
    let mut all = match conn.engine {
        Engine::Postgres => postgres_missing(conn).await?,
        Engine::Mysql => mysql_grants::missing(conn).await?,
    };
    let total = all.len();
    all.truncate(REPORTED_AT_MOST);
    Ok((all, total))
}

/// Tables (and partitions) pg_dump locks and copies, sequences whose state it reads, and the
/// schemas holding them; objects of extensions are the extension's business. A table with
/// row-level security makes pg_dump stop (it runs with row_security off) unless the user
/// owns it or bypasses RLS.
const PG_UNREADABLE: &str = "\
SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind = 'S' AS is_sequence, \
       has_schema_privilege(n.oid, 'USAGE') AS usage, \
       has_table_privilege(c.oid, 'SELECT') AS readable, \
       (c.relrowsecurity AND NOT pg_has_role(c.relowner, 'USAGE') \
        AND NOT (SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user)) AS rls \
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
WHERE c.relkind IN ('r', 'p', 'S') \
  AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' \
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                  AND d.objid = c.oid AND d.deptype = 'e') \
ORDER BY n.nspname, c.relname";

async fn postgres_missing(conn: &ConnectionString) -> Result<Vec<MissingGrant>, StageError> {
    let mut c = postgres::connect(conn).await?;
    let rows = sqlx::query(PG_UNREADABLE)
        .fetch_all(&mut c)
        .await
        .map_err(|e| StageError::new(Stage::Connect, postgres::describe(&e)))?;
    let _ = sqlx::Connection::close(c).await;
    let mut out = Vec::new();
    let mut schemas_reported = std::collections::BTreeSet::new();
    for r in rows {
        let schema: String = r.try_get("schema").unwrap_or_default();
        let name: String = r.try_get("name").unwrap_or_default();
        let sequence: bool = r.try_get("is_sequence").unwrap_or(false);
        let usage: bool = r.try_get("usage").unwrap_or(true);
        let readable: bool = r.try_get("readable").unwrap_or(true);
        let rls: bool = r.try_get("rls").unwrap_or(false);
        if !usage && schemas_reported.insert(schema.clone()) {
            out.push(MissingGrant {
                privilege: "USAGE".into(),
                object: format!("schema {schema}"),
                effect: "pg_dump stops: permission denied for schema".into(),
            });
        }
        let object = format!("{schema}.{name}");
        if !readable {
            let (kind, what) = if sequence {
                ("sequence", "reads its last value")
            } else {
                ("table", "locks and copies it")
            };
            out.push(MissingGrant {
                privilege: "SELECT".into(),
                object: object.clone(),
                effect: format!("pg_dump {what} and stops: permission denied for {kind}"),
            });
        }
        if rls {
            out.push(MissingGrant {
                privilege: "BYPASSRLS (or ownership)".into(),
                object,
                effect:
                    "the table has row-level security: pg_dump stops rather than dump part of it"
                        .into(),
            });
        }
    }
    Ok(out)
}
