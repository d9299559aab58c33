//! PostgreSQL partial restores: chosen tables of a version into an existing database.
//!
//! 1. A scratch database gets the version's whole schema but only the chosen tables' data
//!    (`pg_restore -L` with the other tables' data left out of the list): indexes,
//!    constraints, triggers, owned sequences and defaults are built as in the version. A
//!    multi-part version loads the same way part by part, each with a list made from its own
//!    listing: the pre-data part, the data parts (only the chosen tables' data, wherever it
//!    is), the post-data part.
//! 2. Renamed tables (and their indexes and owned sequences, whose names must not collide with
//!    the originals') are renamed there.
//! 3. `pg_dump -t` of exactly those tables, then one `psql --single-transaction` into the
//!    target: foreign keys of other tables that reference them are dropped, views that read
//!    them too (recreated as the version has them; one the version lacks stops the restore),
//!    the same-named tables are dropped (without CASCADE: anything else that depends on one
//!    stops the restore, which then changes nothing) and recreated, and the foreign keys are
//!    added again, checked against the restored rows.
//!
//! Nothing that was not chosen is touched; the scratch database is dropped in every case.

use super::pg_dependents::{dependents, own_foreign_keys, Dependents};
use super::pg_restore_parts::Source;
use super::pg_toc::{list_archives, TocEntry};
use super::postgres::{connect, describe, exec, libpq_env, maintenance};
use super::process::{command, RunningTool};
use super::{derived_name, pg_ident, run_fed, FedEnd, Feed, Probe, RestoreOutcome, StageError};
use crate::sql::conninfo_value;
use backline_domain::{ConnectionString, Stage};
use sqlx::Connection;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// A table by schema and name.
pub type TableName = (String, String);

/// What a partial restore brings back.
#[derive(Debug, Clone)]
pub struct PartialOptions {
    pub tables: Vec<TableName>,
    /// New names (same or another existing schema) for some of `tables`.
    pub rename: BTreeMap<TableName, TableName>,
    pub no_owner: bool,
    /// A short unique tag for the scratch database's name.
    pub tag: String,
}

/// Entries whose data is left out unless their table is chosen; large objects are never part
/// of a table restore.
fn keep(e: &TocEntry, chosen: &[TableName]) -> bool {
    match e.kind.as_str() {
        "TABLE DATA" => chosen
            .iter()
            .any(|(s, t)| e.schema.as_deref() == Some(s) && &e.name == t),
        "BLOBS" | "BLOB" | "BLOB DATA" | "BLOB METADATA" | "LARGE OBJECT" => false,
        "MATERIALIZED VIEW DATA" => false,
        // Their referenced rows are not loaded there: the chosen tables' own foreign keys are
        // added in the target (see `own_foreign_keys`).
        "FK CONSTRAINT" => false,
        _ => true,
    }
}

pub(super) fn io_error(what: &str, e: std::io::Error) -> StageError {
    StageError::new(Stage::Prepare, format!("{what}: {e}"))
}

pub async fn restore_tables(
    conn: &ConnectionString,
    probe: &Probe,
    options: &PartialOptions,
    source: Source<'_>,
    work_dir: &Path,
) -> Result<RestoreOutcome, StageError> {
    std::fs::create_dir_all(work_dir)
        .map_err(|e| io_error("cannot create the work directory", e))?;
    let archives = list_archives(probe, source).await?;
    let lists = archives
        .iter()
        .map(|a| restore_list(&a.toc, options, work_dir))
        .collect::<Result<Vec<_>, _>>()?;
    let scratch = derived_name(&conn.database, &format!("__partial_{}", options.tag), 63);
    let mut admin = maintenance(conn).await?;
    exec(
        &mut admin,
        Stage::Prepare,
        &format!("CREATE DATABASE {} TEMPLATE template0", pg_ident(&scratch)),
    )
    .await
    .map_err(|e| StageError {
        message: format!(
            "cannot create the scratch database {scratch} (the user needs CREATEDB): {}",
            e.message
        ),
        ..e
    })?;
    let result = async {
        for (archive, list) in archives.iter().zip(&lists) {
            if let Some(list) = list {
                load_scratch(conn, probe, options, &scratch, list.path(), archive.feed).await?;
            }
        }
        rename_in_scratch(conn, &scratch, options).await?;
        let mut deps = dependents(conn, options, &scratch).await?;
        let (own, warnings) = own_foreign_keys(probe, options, &archives, work_dir).await?;
        deps.own_foreign_keys = own;
        let dump = dump_chosen(conn, probe, options, &deps, &scratch, work_dir).await?;
        replace_in_target(conn, probe, options, &deps, dump.path()).await?;
        Ok(warnings)
    }
    .await;
    let drop = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        pg_ident(&scratch)
    );
    if let Err(e) = exec(&mut admin, Stage::Cleanup, &drop).await {
        tracing::warn!(database = scratch, error = %e, "could not drop the scratch database");
    }
    let _ = admin.close().await;
    result.map(|warnings| RestoreOutcome {
        previous_kept_as: None,
        warnings,
    })
}

/// The `pg_restore -L` list of one archive: its listing with what is not restored commented
/// out; `None` when it restores nothing of that archive (a data part without chosen tables
/// or sequences).
fn restore_list(
    toc: &[TocEntry],
    options: &PartialOptions,
    work_dir: &Path,
) -> Result<Option<tempfile::NamedTempFile>, StageError> {
    let kept = |e: &TocEntry| !e.line.starts_with(';') && keep(e, &options.tables);
    if !toc.iter().any(kept) {
        return Ok(None);
    }
    let mut list = tempfile::NamedTempFile::new_in(work_dir)
        .map_err(|e| io_error("cannot write the restore list", e))?;
    for e in toc {
        let prefix = if keep(e, &options.tables) { "" } else { ";" };
        writeln!(list, "{prefix}{}", e.line)
            .map_err(|e| io_error("cannot write the restore list", e))?;
    }
    list.flush()
        .map_err(|e| io_error("cannot write the restore list", e))?;
    Ok(Some(list))
}

fn owner_args(options: &PartialOptions) -> Vec<&'static str> {
    if options.no_owner {
        vec!["--no-owner", "--no-privileges"]
    } else {
        Vec::new()
    }
}

async fn load_scratch(
    conn: &ConnectionString,
    probe: &Probe,
    options: &PartialOptions,
    scratch: &str,
    list: &Path,
    feed: &dyn Feed,
) -> Result<(), StageError> {
    let mut cmd = command(&probe.restore_tool);
    cmd.args(["--no-password", "--exit-on-error"]);
    cmd.args(owner_args(options));
    cmd.arg(format!("--use-list={}", list.display()));
    cmd.arg(format!("--dbname=dbname={}", conninfo_value(scratch)));
    libpq_env(&mut cmd, conn, scratch);
    let tool = RunningTool::spawn(cmd, "pg_restore", true, false, None)?;
    run_fed(tool, feed, None, FedEnd::ToolDecides).await
}

/// `name` with the table's old name replaced by its new one, within 63 bytes.
fn renamed(name: &str, old: &str, new: &str) -> String {
    let rest = name
        .strip_prefix(old)
        .map(str::to_string)
        .unwrap_or_else(|| format!("_{name}"));
    let mut out = format!("{new}{rest}");
    while out.len() > 63 {
        out.pop();
    }
    out
}

async fn rename_in_scratch(
    conn: &ConnectionString,
    scratch: &str,
    options: &PartialOptions,
) -> Result<(), StageError> {
    if options.rename.is_empty() {
        return Ok(());
    }
    let mut c = connect(&conn.with_database(scratch)).await?;
    for ((schema, table), (to_schema, to_table)) in &options.rename {
        let oid: i64 = sqlx::query_scalar(
            "SELECT c.oid::int8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2",
        )
        .bind(schema)
        .bind(table)
        .fetch_one(&mut c)
        .await
        .map_err(|e| {
            StageError::new(
                Stage::Restore,
                format!("{schema}.{table}: {}", describe(&e)),
            )
        })?;
        // Indexes (with the constraints they back) and owned sequences live in the schema's
        // namespace: renamed along, so that they do not collide with the original's.
        let related: Vec<(String, String)> = sqlx::query_as(
            "SELECT CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'INDEX' END, c.relname::text \
             FROM pg_class c WHERE c.relkind IN ('i', 'I', 'S') AND c.oid IN ( \
               SELECT indexrelid FROM pg_index WHERE indrelid = $1::oid \
               UNION SELECT d.objid FROM pg_depend d WHERE d.refobjid = $1::oid \
                 AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))",
        )
        .bind(oid)
        .fetch_all(&mut c)
        .await
        .map_err(|e| StageError::new(Stage::Restore, describe(&e)))?;
        let mut statements = vec![format!(
            "ALTER TABLE {}.{} RENAME TO {}",
            pg_ident(schema),
            pg_ident(table),
            pg_ident(to_table)
        )];
        for (kind, name) in &related {
            statements.push(format!(
                "ALTER {kind} {}.{} RENAME TO {}",
                pg_ident(schema),
                pg_ident(name),
                pg_ident(&renamed(name, table, to_table))
            ));
        }
        if to_schema != schema {
            statements.push(format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                pg_ident(to_schema)
            ));
            statements.push(format!(
                "ALTER TABLE {}.{} SET SCHEMA {}",
                pg_ident(schema),
                pg_ident(to_table),
                pg_ident(to_schema)
            ));
        }
        for s in statements {
            exec(&mut c, Stage::Restore, &s).await?;
        }
    }
    let _ = c.close().await;
    Ok(())
}

/// The chosen tables' final names.
fn final_names(options: &PartialOptions) -> Vec<TableName> {
    options
        .tables
        .iter()
        .map(|t| options.rename.get(t).cloned().unwrap_or_else(|| t.clone()))
        .collect()
}

async fn dump_chosen(
    conn: &ConnectionString,
    probe: &Probe,
    options: &PartialOptions,
    deps: &Dependents,
    scratch: &str,
    work_dir: &Path,
) -> Result<tempfile::NamedTempFile, StageError> {
    let file = tempfile::NamedTempFile::new_in(work_dir)
        .map_err(|e| io_error("cannot create the dump of the chosen tables", e))?;
    let mut cmd = command(&probe.dump_tool);
    cmd.args(["--format=custom", "--compress=0", "--no-password"]);
    cmd.arg(format!("--file={}", file.path().display()));
    for (schema, table) in final_names(options) {
        // A quoted pattern matches the name literally.
        cmd.arg(format!(
            "--table={}.{}",
            pg_ident(&schema),
            pg_ident(&table)
        ));
    }
    for (schema, name, _) in &deps.views {
        cmd.arg(format!("--table={}.{}", pg_ident(schema), pg_ident(name)));
    }
    libpq_env(&mut cmd, conn, scratch);
    let tool = RunningTool::spawn(cmd, "pg_dump", false, false, None)?;
    tool.finish(Stage::Restore).await?;
    Ok(file)
}

async fn replace_in_target(
    conn: &ConnectionString,
    probe: &Probe,
    options: &PartialOptions,
    deps: &Dependents,
    dump: &Path,
) -> Result<(), StageError> {
    use tokio::io::AsyncWriteExt;
    let psql = probe.restore_tool.with_file_name("psql");
    let mut cmd = command(&psql);
    cmd.args([
        "--no-psqlrc",
        "--quiet",
        "--no-password",
        "--single-transaction",
        "--set=ON_ERROR_STOP=1",
        "--file=-",
    ]);
    libpq_env(&mut cmd, conn, &conn.database);
    let mut target = RunningTool::spawn(cmd, "psql", true, false, None)?;
    let mut script = command(&probe.restore_tool);
    script.arg("--file=-");
    script.args(owner_args(options));
    script.arg(dump);
    let mut source = RunningTool::spawn(script, "pg_restore", false, true, None)?;
    let (Some(mut stdin), Some(mut stdout)) = (target.stdin.take(), source.stdout.take()) else {
        return Err(StageError::new(
            Stage::Restore,
            "psql or pg_restore has no pipe",
        ));
    };
    let mut prefix = String::from("SET lock_timeout = '60s';\n");
    for (schema, table, name, _) in &deps.foreign_keys {
        prefix.push_str(&format!(
            "ALTER TABLE {}.{} DROP CONSTRAINT {};\n",
            pg_ident(schema),
            pg_ident(table),
            pg_ident(name)
        ));
    }
    for (schema, name, kind) in &deps.views {
        let what = if kind == "m" {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        };
        prefix.push_str(&format!(
            "DROP {what} IF EXISTS {}.{};\n",
            pg_ident(schema),
            pg_ident(name)
        ));
    }
    // Foreign keys come back as they were, checked against the restored rows.
    let mut suffix = deps.own_foreign_keys.clone();
    suffix.push('\n');
    for (schema, table, name, definition) in &deps.foreign_keys {
        suffix.push_str(&format!(
            "ALTER TABLE {}.{} ADD CONSTRAINT {} {definition};\n",
            pg_ident(schema),
            pg_ident(table),
            pg_ident(name)
        ));
    }
    for t in &options.tables {
        if !options.rename.contains_key(t) {
            prefix.push_str(&format!(
                "DROP TABLE IF EXISTS {}.{};\n",
                pg_ident(&t.0),
                pg_ident(&t.1)
            ));
        }
    }
    let copied = async {
        stdin.write_all(prefix.as_bytes()).await?;
        tokio::io::copy(&mut stdout, &mut stdin).await?;
        stdin.write_all(b"\n").await?;
        stdin.write_all(suffix.as_bytes()).await?;
        stdin.shutdown().await
    }
    .await;
    drop(stdin);
    let produced = source.finish(Stage::Restore).await;
    let applied = target.finish(Stage::Restore).await;
    applied.map_err(|e| StageError {
        message: format!(
            "{} (the transaction was rolled back: nothing changed)",
            e.message
        ),
        ..e
    })?;
    produced?;
    copied.map_err(|e| StageError::new(Stage::Feed, format!("psql stopped reading: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{renamed, restore_list, PartialOptions};
    use crate::drivers::pg_toc::parse_toc;

    #[test]
    fn each_archive_lists_only_the_chosen_tables_data_and_may_have_nothing_to_load() {
        let options = PartialOptions {
            tables: vec![("public".into(), "orders".into())],
            rename: Default::default(),
            no_owner: false,
            tag: "t".into(),
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let list = |text: &str| {
            restore_list(&parse_toc(text), &options, dir.path())
                .expect("list")
                .map(|f| std::fs::read_to_string(f.path()).expect("read"))
        };
        // A data part holding only other tables' rows is not loaded at all.
        assert_eq!(
            list(";\n; Archive\n3363; 0 29767 TABLE DATA public customers app\n"),
            None
        );
        // Sequences are set as in the version, as from a single-stream version.
        assert_eq!(
            list("3363; 0 29767 TABLE DATA public customers app\n3377; 0 0 SEQUENCE SET public customers_id_seq app\n"),
            Some(";3363; 0 29767 TABLE DATA public customers app\n3377; 0 0 SEQUENCE SET public customers_id_seq app\n".into())
        );
        assert_eq!(
            list("3365; 0 29783 TABLE DATA public orders app\n3366; 0 0 BLOBS - BLOBS \n"),
            Some("3365; 0 29783 TABLE DATA public orders app\n;3366; 0 0 BLOBS - BLOBS \n".into())
        );
    }

    #[test]
    fn related_names_follow_the_table() {
        assert_eq!(
            renamed("orders_pkey", "orders", "orders_0601"),
            "orders_0601_pkey"
        );
        assert_eq!(renamed("by_customer", "orders", "o2"), "o2_by_customer");
        assert_eq!(renamed(&"x".repeat(60), "orders", "orders_0601").len(), 63);
    }
}
