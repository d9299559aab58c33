//! Parallel PostgreSQL backups (`backup_jobs` > 1): one coordinating connection opens a
//! repeatable-read transaction, exports its snapshot and keeps it open for the whole backup;
//! several `pg_dump --snapshot=<id>` processes then each write one part of the same moment:
//! the schema before the data (`--section=pre-data`), the rows of groups of tables balanced
//! by size (`--section=data`), and indexes, constraints and triggers (`--section=post-data`).
//!
//! No data part is ever run without a table list: `pg_dump --section=data` with no `--table`
//! would dump every table. The first data part takes every table the others do not (by
//! `--exclude-table`), so tables, sequences and large objects nobody listed still land
//! somewhere, exactly once.

use super::postgres::{connect, describe, libpq_env};
use super::process::{command, RunningTool};
use super::{Probe, StageError};
use backline_domain::{ConnectionString, DatabaseProperties, PartRole, Stage};
use sqlx::postgres::PgConnection;

/// A table (or partition) whose rows a data part dumps, with its size on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSize {
    pub schema: String,
    pub name: String,
    pub bytes: i64,
}

/// A `pg_dump` pattern (`--table`, `--exclude-table`) that matches exactly the table `name`
/// in `schema`, whatever characters they hold. pg_dump reads patterns like psql: unquoted,
/// `*` and `?` are wildcards, `.` separates the schema, letters are folded to lower case and
/// regular-expression characters pass through; inside double quotes every character stands
/// for itself (pg_dump escapes it for the regular expression) and `""` is one `"`. So each
/// part is double-quoted with its quotes doubled.
pub fn pg_pattern(schema: &str, name: &str) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    format!("{}.{}", quote(schema), quote(name))
}

/// Spreads `tables` over `groups` groups of about equal size: largest first, each into the
/// group that is smallest so far (the first such group on ties). Empty groups are kept.
pub fn balance(mut tables: Vec<TableSize>, groups: usize) -> Vec<Vec<TableSize>> {
    let groups = groups.max(1);
    tables.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)))
    });
    let mut out: Vec<(i64, Vec<TableSize>)> = vec![(0, Vec::new()); groups];
    for t in tables {
        // Ties (empty tables weigh nothing) go to the group with fewer tables.
        let i = out
            .iter()
            .enumerate()
            .min_by_key(|(i, (total, g))| (*total, g.len(), *i))
            .map(|(i, _)| i)
            .unwrap_or(0);
        out[i].0 = out[i].0.saturating_add(t.bytes.max(0));
        out[i].1.push(t);
    }
    out.into_iter().map(|(_, g)| g).collect()
}

/// One `pg_dump` process of a parallel backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSpec {
    /// `pre-data`, `data-1`, …, `post-data`.
    pub name: String,
    pub role: PartRole,
    pub order: u32,
    /// The section and table arguments of its `pg_dump`.
    pub args: Vec<String>,
    /// The tables whose rows it holds (data parts that list them), for the log.
    pub tables: usize,
}

/// The parts of a backup with `jobs` data parts over `tables`.
pub fn plan_parts(tables: Vec<TableSize>, jobs: usize) -> Vec<PartSpec> {
    let groups = balance(tables, jobs);
    let listed: Vec<&TableSize> = groups.iter().skip(1).flatten().collect();
    let mut parts = vec![PartSpec {
        name: "pre-data".into(),
        role: PartRole::PreData,
        order: 0,
        args: vec!["--section=pre-data".into()],
        tables: 0,
    }];
    // The first data part: everything the other parts do not list.
    let mut rest = vec!["--section=data".to_string()];
    rest.extend(
        listed
            .iter()
            .map(|t| format!("--exclude-table={}", pg_pattern(&t.schema, &t.name))),
    );
    parts.push(PartSpec {
        name: "data-1".into(),
        role: PartRole::Data,
        order: 1,
        args: rest,
        tables: groups.first().map(Vec::len).unwrap_or(0),
    });
    for group in groups.iter().skip(1).filter(|g| !g.is_empty()) {
        let order = parts.len() as u32;
        let mut args = vec!["--section=data".to_string(), "--strict-names".to_string()];
        args.extend(
            group
                .iter()
                .map(|t| format!("--table={}", pg_pattern(&t.schema, &t.name))),
        );
        parts.push(PartSpec {
            name: format!("data-{order}"),
            role: PartRole::Data,
            order,
            args,
            tables: group.len(),
        });
    }
    let order = parts.len() as u32;
    parts.push(PartSpec {
        name: "post-data".into(),
        role: PartRole::PostData,
        order,
        args: vec!["--section=post-data".into()],
        tables: 0,
    });
    parts
}

/// A parallel backup about to run: its snapshot (held open until this is dropped), the
/// database's properties read in that snapshot, and its parts.
pub struct ParallelDump {
    pub snapshot: String,
    pub properties: DatabaseProperties,
    pub parts: Vec<PartSpec>,
    /// Dropped (with this value) when the backup ends, however: the coordinating
    /// transaction is rolled back and its connection closed.
    _hold: tokio::sync::oneshot::Sender<()>,
}

/// Opens the coordinating transaction, exports its snapshot, reads the database's
/// properties and its tables' sizes in it, and plans `jobs` data parts.
pub async fn prepare(conn: &ConnectionString, jobs: u32) -> Result<ParallelDump, StageError> {
    let mut c = connect(conn).await?;
    let err = |e: sqlx::Error| StageError::new(Stage::Connect, describe(&e));
    let version_num: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut c)
        .await
        .map_err(err)?;
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut c)
        .await
        .map_err(err)?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut c)
        .await
        .map_err(|e| {
            StageError::new(
                Stage::Connect,
                format!(
                    "backup_jobs > 1 needs a snapshot the pg_dump processes can share, but the \
                     server refused pg_export_snapshot(): {} (a pooler in transaction mode? \
                     set backup_jobs to 1)",
                    describe(&e)
                ),
            )
        })?;
    // It goes into argv: only the characters PostgreSQL's snapshot ids have.
    if snapshot.is_empty()
        || !snapshot
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(StageError::new(
            Stage::Connect,
            "the server exported a snapshot id this version does not recognise",
        ));
    }
    let properties = super::pg_properties::read(&mut c, version_num, None)
        .await?
        .ok_or_else(|| {
            StageError::new(
                Stage::Connect,
                format!("database {} does not exist", conn.database),
            )
        })?;
    let tables = table_sizes(&mut c).await?;
    Ok(ParallelDump {
        snapshot,
        properties: DatabaseProperties::Postgres(Box::new(properties)),
        parts: plan_parts(tables, jobs.max(1) as usize),
        _hold: hold_open(c),
    })
}

/// Every table that holds rows (plain tables and partitions, not temporary ones), with its
/// size including indexes and TOAST, as of the snapshot.
async fn table_sizes(c: &mut PgConnection) -> Result<Vec<TableSize>, StageError> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text, pg_total_relation_size(c.oid)::bigint \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND c.relpersistence <> 't' \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' \
         ORDER BY 1, 2",
    )
    .fetch_all(&mut *c)
    .await
    .map_err(|e| StageError::new(Stage::Connect, describe(&e)))?;
    Ok(rows
        .into_iter()
        .map(|(schema, name, bytes)| TableSize {
            schema,
            name,
            bytes,
        })
        .collect())
}

/// Keeps `c` and its transaction open until the sender is dropped.
fn hold_open(mut c: PgConnection) -> tokio::sync::oneshot::Sender<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = rx.await;
        let _ = sqlx::query("ROLLBACK").execute(&mut c).await;
        let _ = sqlx::Connection::close(c).await;
    });
    tx
}

/// Starts the `pg_dump` of `part` on the backup's snapshot; its stdout is the part.
pub fn spawn_part(
    conn: &ConnectionString,
    probe: &Probe,
    dump: &ParallelDump,
    part: &PartSpec,
) -> Result<RunningTool, StageError> {
    let mut cmd = command(&probe.dump_tool);
    cmd.args(["--format=custom", "--compress=0", "--no-password"]);
    cmd.arg(format!("--snapshot={}", dump.snapshot));
    cmd.args(&part.args);
    libpq_env(&mut cmd, conn, &conn.database);
    RunningTool::spawn(cmd, "pg_dump", false, true, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, bytes: i64) -> TableSize {
        TableSize {
            schema: "public".into(),
            name: name.into(),
            bytes,
        }
    }

    #[test]
    fn patterns_quote_every_special_character() {
        assert_eq!(pg_pattern("public", "orders"), r#""public"."orders""#);
        assert_eq!(
            pg_pattern("public", r#"We.ird*Tab?le"#),
            r#""public"."We.ird*Tab?le""#
        );
        assert_eq!(
            pg_pattern(r#"my"schema"#, r#"a""b"#),
            r#""my""schema"."a""""b""#
        );
        assert_eq!(pg_pattern("S", "$x|y(z)"), r#""S"."$x|y(z)""#);
    }

    #[test]
    fn groups_are_balanced_largest_first() {
        let groups = balance(
            vec![t("a", 10), t("b", 7), t("c", 5), t("d", 4), t("e", 1)],
            2,
        );
        let sums: Vec<i64> = groups
            .iter()
            .map(|g| g.iter().map(|t| t.bytes).sum())
            .collect();
        assert_eq!(sums, vec![14, 13]);
        assert_eq!(groups[0][0].name, "a");
        assert_eq!(balance(vec![t("a", 1)], 3)[1].len(), 0);
        let empty = balance(vec![t("a", 0), t("b", 0), t("c", 0), t("d", 0)], 2);
        assert_eq!((empty[0].len(), empty[1].len()), (2, 2));
    }

    #[test]
    fn every_data_part_names_its_tables_and_the_first_takes_the_rest() {
        let parts = plan_parts(vec![t("a", 10), t("b", 9), t("c", 1), t("x\"y", 1)], 3);
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["pre-data", "data-1", "data-2", "data-3", "post-data"]
        );
        let orders: Vec<u32> = parts.iter().map(|p| p.order).collect();
        assert_eq!(orders, [0, 1, 2, 3, 4]);
        // a alone; b; c and x"y (the smallest groups fill up).
        assert_eq!(parts[1].args.len(), 1 + 3);
        assert!(parts[1]
            .args
            .contains(&r#"--exclude-table="public"."x""y""#.to_string()));
        for p in &parts[2..4] {
            assert!(p.args.iter().any(|a| a.starts_with("--table=")));
            assert!(p.args.contains(&"--strict-names".to_string()));
        }
        // With fewer tables than parts, no part runs without a table list.
        let few = plan_parts(vec![t("a", 1)], 4);
        assert_eq!(few.len(), 3);
        assert_eq!(few[1].args, vec!["--section=data".to_string()]);
    }
}
