//! The tables a partial restore asks for, checked against what the version holds: every name
//! must be a table of the version, every new name a valid, unused one.

use super::contents::VersionContents;
use crate::error::AppError;
use backline_domain::{Engine, TableSelection};
use std::collections::BTreeMap;

/// A checked selection: what the ledger records, and the tables by schema and name.
#[derive(Debug, Clone)]
pub(crate) struct Selected {
    pub recorded: TableSelection,
    /// `(schema, table)`; MySQL/MariaDB tables have an empty schema.
    pub tables: Vec<(String, String)>,
    pub rename: BTreeMap<(String, String), (String, String)>,
}

fn invalid(field: &'static str, message: String) -> AppError {
    AppError::invalid(field, message)
}

/// A new name: `schema.table` or `table` (in the table's own schema).
fn new_name(raw: &str, schema: &str) -> Result<(String, String), AppError> {
    let (s, t) = match raw.split_once('.') {
        Some((s, t)) => (s.to_string(), t.to_string()),
        None => (schema.to_string(), raw.to_string()),
    };
    for part in [&s, &t] {
        if part.is_empty() || part.len() > 63 || part.chars().any(|c| c.is_control()) {
            return Err(invalid(
                "rename",
                format!("{raw:?} is not a valid new name: schema.table, each part 1–63 bytes without control characters"),
            ));
        }
    }
    Ok((s, t))
}

pub(crate) fn check(
    contents: &VersionContents,
    engine: Engine,
    tables: &[String],
    rename: &BTreeMap<String, String>,
) -> Result<Selected, AppError> {
    if tables.is_empty() {
        return Err(invalid("tables", "name at least one table".into()));
    }
    let mut chosen = Vec::new();
    for (i, name) in tables.iter().enumerate() {
        if tables[..i].contains(name) {
            return Err(invalid("tables", format!("{name:?} is named twice")));
        }
        let Some(t) = contents.table(name) else {
            let form = match engine {
                Engine::Postgres => "schema.table",
                Engine::Mysql => "table",
            };
            return Err(invalid(
                "tables",
                format!("{name:?} is not a table of this version (names are {form}, as GET /api/v1/backups/{}/contents lists them)", contents.backup_id),
            ));
        };
        chosen.push((t.schema.clone().unwrap_or_default(), t.table.clone()));
    }
    if !rename.is_empty() && engine == Engine::Mysql {
        return Err(invalid(
            "rename",
            "restoring under a new name is supported for PostgreSQL versions; MySQL/MariaDB tables replace the same-named ones".into(),
        ));
    }
    let mut renames = BTreeMap::new();
    for (from, to) in rename {
        let Some(i) = tables.iter().position(|t| t == from) else {
            return Err(invalid(
                "rename",
                format!("{from:?} is renamed but not among \"tables\""),
            ));
        };
        let key = chosen[i].clone();
        let target = new_name(to, &key.0)?;
        if target == key {
            return Err(invalid("rename", format!("{from:?} is renamed to itself")));
        }
        renames.insert(key, target);
    }
    let finals: Vec<&(String, String)> =
        chosen.iter().map(|t| renames.get(t).unwrap_or(t)).collect();
    for (i, f) in finals.iter().enumerate() {
        if finals[..i].contains(f) {
            return Err(invalid(
                "rename",
                format!("two tables would be restored as {}.{}", f.0, f.1),
            ));
        }
    }
    Ok(Selected {
        recorded: TableSelection {
            tables: tables.to_vec(),
            rename: rename.clone(),
        },
        tables: chosen,
        rename: renames,
    })
}

impl super::Restores {
    /// The checked table selection of a partial restore (`None`: the whole version).
    pub(super) async fn selection(
        &self,
        req: &super::RestoreRequest,
        backup: &backline_domain::Backup,
    ) -> Result<Option<Selected>, AppError> {
        Ok(match &req.tables {
            Some(_) if req.new_database.is_some() => {
                return Err(AppError::invalid(
                    "new_database",
                    "a partial restore replaces tables of an existing database: give target_database_id",
                ))
            }
            Some(tables) => {
                if req.keep_previous {
                    return Err(AppError::invalid(
                        "keep_previous",
                        "a partial restore changes only the chosen tables: keep_previous is for whole versions",
                    ));
                }
                let contents = self.contents(&req.backup_id).await?;
                let engine = backup
                    .engine
                    .ok_or_else(|| AppError::bug("completed backup without engine"))?;
                Some(check(&contents, engine, tables, &req.rename)?)
            }
            None if !req.rename.is_empty() => {
                return Err(AppError::invalid(
                    "rename",
                    "rename needs \"tables\": the tables to restore",
                ))
            }
            None => None,
        })
    }
}
