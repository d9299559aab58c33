//! What a partial restore puts back around the tables it replaces: foreign keys of other
//! tables that reference them, views that read them, and the tables' own foreign keys.

use super::pg_partial::{io_error, PartialOptions, TableName};
use super::pg_toc::{Listed, TocEntry};
use super::postgres::{connect, describe, exec};
use super::{Probe, StageError};
use backline_domain::{ConnectionString, Stage};
use sqlx::Connection;
use std::io::Write;
use std::path::Path;

/// What in the target depends on the tables being replaced, and is put back around them.
#[derive(Debug, Default)]
pub(super) struct Dependents {
    /// Foreign keys of other tables that reference them: `(schema, table, name, definition)`,
    /// dropped and added again (checked against the restored rows).
    pub(super) foreign_keys: Vec<(String, String, String, String)>,
    /// Views (plain `v`, materialized `m`) that read them, directly or through each other,
    /// the furthest first: dropped in that order and recreated as the version has them.
    pub(super) views: Vec<(String, String, String)>,
    /// The chosen tables' own foreign keys, as `pg_restore` writes them from the version.
    pub(super) own_foreign_keys: String,
}

/// The `FK CONSTRAINT` entries of the chosen tables (tag `<table> <constraint>`).
fn fk_entries<'a>(toc: &'a [TocEntry], tables: &[&TableName]) -> Vec<&'a TocEntry> {
    toc.iter()
        .filter(|e| e.kind == "FK CONSTRAINT")
        .filter(|e| {
            tables.iter().any(|(s, t)| {
                e.schema.as_deref() == Some(s.as_str())
                    && e.name
                        .strip_prefix(t.as_str())
                        .is_some_and(|r| r.starts_with(' '))
            })
        })
        .collect()
}

/// The SQL of the replaced tables' foreign keys, written by `pg_restore` from the version (from
/// whichever of its archives holds them: the post-data part of a multi-part version), and a
/// warning for each renamed table that had some (they would name the original table).
pub(super) async fn own_foreign_keys(
    probe: &Probe,
    options: &PartialOptions,
    archives: &[Listed<'_>],
    work_dir: &Path,
) -> Result<(String, Vec<String>), StageError> {
    let (renamed, replaced): (Vec<&TableName>, Vec<&TableName>) = options
        .tables
        .iter()
        .partition(|t| options.rename.contains_key(*t));
    let warnings = renamed
        .iter()
        .filter(|t| {
            archives
                .iter()
                .any(|a| !fk_entries(&a.toc, &[**t]).is_empty())
        })
        .map(|(s, t)| {
            format!("the foreign keys of {s}.{t} were not created on its copy under a new name")
        })
        .collect();
    let mut sql = String::new();
    for archive in archives {
        let entries = fk_entries(&archive.toc, &replaced);
        if entries.is_empty() {
            continue;
        }
        let mut list = tempfile::NamedTempFile::new_in(work_dir)
            .map_err(|e| io_error("cannot write the restore list", e))?;
        for e in entries {
            writeln!(list, "{}", e.line)
                .map_err(|e| io_error("cannot write the restore list", e))?;
        }
        list.flush()
            .map_err(|e| io_error("cannot write the restore list", e))?;
        let list_arg = format!("--use-list={}", list.path().display());
        super::pg_toc::fed_lines(probe, &["--file=-", &list_arg], archive.feed, |l| {
            sql.push_str(&String::from_utf8_lossy(l))
        })
        .await?;
    }
    Ok((sql, warnings))
}

pub(super) async fn dependents(
    conn: &ConnectionString,
    options: &PartialOptions,
    scratch: &str,
) -> Result<Dependents, StageError> {
    let replaced: Vec<&TableName> = options
        .tables
        .iter()
        .filter(|t| !options.rename.contains_key(*t))
        .collect();
    if replaced.is_empty() {
        return Ok(Dependents::default());
    }
    let schemas: Vec<String> = replaced.iter().map(|t| t.0.clone()).collect();
    let names: Vec<String> = replaced.iter().map(|t| t.1.clone()).collect();
    let fail = |e: sqlx::Error| StageError::new(Stage::Prepare, describe(&e));
    let mut c = connect(conn).await?;
    // Definitions name every table with its schema, as the script that replays them reads them.
    exec(&mut c, Stage::Prepare, "SET search_path = ''").await?;
    const CHOSEN: &str =
        "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
        JOIN unnest($1::text[], $2::text[]) AS t(s, r) ON n.nspname = t.s AND c.relname = t.r";
    let foreign_keys: Vec<(String, String, String, String)> = sqlx::query_as(&format!(
        "SELECT n.nspname::text, r.relname::text, k.conname::text, pg_get_constraintdef(k.oid) \
         FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid \
         JOIN pg_namespace n ON n.oid = r.relnamespace \
         WHERE k.contype = 'f' AND k.confrelid IN ({CHOSEN}) AND k.conrelid NOT IN ({CHOSEN}) \
         ORDER BY 1, 2, 3"
    ))
    .bind(&schemas)
    .bind(&names)
    .fetch_all(&mut c)
    .await
    .map_err(fail)?;
    let views: Vec<(String, String, String)> = sqlx::query_as(&format!(
        "WITH RECURSIVE deps(oid, depth) AS ( \
           SELECT r.ev_class, 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid \
           WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass \
             AND d.refobjid IN ({CHOSEN}) AND r.ev_class <> d.refobjid \
           UNION \
           SELECT r.ev_class, deps.depth + 1 FROM deps JOIN pg_depend d ON d.refobjid = deps.oid \
           JOIN pg_rewrite r ON r.oid = d.objid \
           WHERE d.classid = 'pg_rewrite'::regclass AND r.ev_class <> d.refobjid AND deps.depth < 100) \
         SELECT n.nspname::text, c.relname::text, c.relkind::text FROM \
           (SELECT oid, max(depth) AS depth FROM deps GROUP BY oid) x \
         JOIN pg_class c ON c.oid = x.oid JOIN pg_namespace n ON n.oid = c.relnamespace \
         ORDER BY x.depth DESC, 1, 2"
    ))
    .bind(&schemas)
    .bind(&names)
    .fetch_all(&mut c)
    .await
    .map_err(fail)?;
    let _ = c.close().await;
    if !views.is_empty() {
        let mut s = connect(&conn.with_database(scratch)).await?;
        for (schema, name, _) in &views {
            let there: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('v', 'm'))",
            )
            .bind(schema)
            .bind(name)
            .fetch_one(&mut s)
            .await
            .map_err(fail)?;
            if !there {
                let _ = s.close().await;
                return Err(StageError::new(
                    Stage::Prepare,
                    format!(
                        "view {schema}.{name} reads a chosen table but is not in this version, so it could not be recreated: nothing was changed (drop the view first, or restore the table under a new name)"
                    ),
                ));
            }
        }
        let _ = s.close().await;
    }
    Ok(Dependents {
        foreign_keys,
        views,
        own_foreign_keys: String::new(),
    })
}
