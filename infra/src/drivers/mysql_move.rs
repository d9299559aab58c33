//! MariaDB restores over a database with contents: the dump is loaded once, into the scratch
//! database, and then moved into place by metadata operations.
//!
//! * The definitions that cannot move between databases (triggers, views, routines, events)
//!   are taken from the loaded scratch copy by the dump tool itself (`--no-data`), so they come
//!   back with the SQL modes, character sets and definers the load gave them, in the order
//!   the tool writes them (views after the routines they call, stand-ins first).
//! * The scratch copy's triggers are dropped (a table with triggers cannot change database),
//!   then every table moves with one atomic `RENAME TABLE` (foreign keys follow their tables).
//! * Column defaults that name a sequence (`nextval(\`scratch\`.\`seq\`)`) would keep pointing
//!   at the scratch copy: they are set again to the moved sequence.
//!
//! Everything that can fail without the target changing (the load, reading the definitions,
//! checking the defaults) happens before the target is touched. A scratch copy that this
//! path cannot move exactly (a default that names the scratch database another way) is
//! loaded a second time into the target instead ([`Moved::NotMovable`]).

use super::mysql::exec;
use super::process::{command, RunningTool};
use super::{my_ident, Feed, Probe, StageError};
use backline_domain::{ConnectionString, Stage};
use sqlx::mysql::MySqlConnection;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What a move found before changing anything.
pub(super) enum Moved {
    /// Ready: the definitions to re-create and the plan of the move.
    Ready(Plan),
    /// This copy has something the metadata path cannot carry exactly (said why).
    NotMovable(String),
}

/// The move of a loaded scratch copy, prepared.
pub(super) struct Plan {
    pub(super) moves: Moves,
    /// The dump tool's text of the triggers, events, routines, then views.
    pub(super) definitions: Definitions,
}

/// What moves from the scratch copy into the target (kept in the move journal).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Moves {
    /// Every table (and sequence) of the scratch copy.
    pub(super) tables: Vec<String>,
    /// The scratch copy's triggers, dropped before its tables move.
    pub(super) triggers: Vec<String>,
    /// `(table, column, sequence)`: defaults `nextval(sequence)` to set again.
    pub(super) sequence_defaults: Vec<(String, String, String)>,
}

/// Definitions to load into the target, as the dump tool wrote them.
pub(super) struct Definitions(pub(super) Vec<u8>);

#[async_trait::async_trait]
impl Feed for Definitions {
    async fn feed(&self, sink: &mut (dyn AsyncWrite + Send + Unpin)) -> Result<(), StageError> {
        let stopped = |e: std::io::Error| {
            StageError::new(
                Stage::Feed,
                format!("the restore tool stopped reading: {e}"),
            )
        };
        sink.write_all(&self.0).await.map_err(stopped)?;
        sink.flush().await.map_err(stopped)
    }
}

async fn names(c: &mut MySqlConnection, sql: &str, db: &str) -> Result<Vec<String>, StageError> {
    sqlx::query_scalar(sql)
        .bind(db)
        .fetch_all(&mut *c)
        .await
        .map_err(|e| StageError::new(Stage::Restore, super::mysql::describe(&e)))
}

/// Reads what moving `scratch` needs; changes nothing.
pub(super) async fn prepare(
    admin: &mut MySqlConnection,
    conn: &ConnectionString,
    probe: &Probe,
    scratch: &str,
) -> Result<Moved, StageError> {
    let tables = names(
        admin,
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW' ORDER BY TABLE_NAME",
        scratch,
    )
    .await?;
    let views = names(
        admin,
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'VIEW' ORDER BY TABLE_NAME",
        scratch,
    )
    .await?;
    let triggers = names(
        admin,
        "SELECT CAST(TRIGGER_NAME AS CHAR) FROM information_schema.TRIGGERS \
         WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME",
        scratch,
    )
    .await?;
    let defaults: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_DEFAULT AS CHAR) \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND LOCATE(?, COLUMN_DEFAULT) > 0",
    )
    .bind(scratch)
    .bind(my_ident(scratch))
    .fetch_all(&mut *admin)
    .await
    .map_err(|e| StageError::new(Stage::Restore, super::mysql::describe(&e)))?;
    let mut sequence_defaults = Vec::new();
    for (table, column, default) in defaults {
        match sequence_of(&default, scratch) {
            Some(seq) => sequence_defaults.push((table, column, seq)),
            None => {
                return Ok(Moved::NotMovable(format!(
                    "the default of column {column} of table {table} names the database"
                )))
            }
        }
    }
    let mut definitions = dump_definitions(conn, probe, scratch, &[]).await?;
    if !views.is_empty() {
        definitions.extend(dump_definitions(conn, probe, scratch, &views).await?);
    }
    Ok(Moved::Ready(Plan {
        moves: Moves {
            tables,
            triggers,
            sequence_defaults,
        },
        definitions: Definitions(definitions),
    }))
}

/// The sequence of a default that is exactly `nextval(\`db\`.\`seq\`)`.
fn sequence_of(default: &str, db: &str) -> Option<String> {
    let inner = default
        .strip_prefix("nextval(")?
        .strip_suffix(')')?
        .strip_prefix(&format!("{}.", my_ident(db)))?;
    let body = inner.strip_prefix('`')?.strip_suffix('`')?;
    // One quoted identifier: every backtick inside it doubled.
    let name = body.replace("``", "`");
    (my_ident(&name) == inner).then_some(name)
}

/// The dump tool's definitions of `scratch`: triggers, events and routines (no `views`), or
/// the `views` named (with their stand-ins, so that they load in any order).
async fn dump_definitions(
    conn: &ConnectionString,
    probe: &Probe,
    scratch: &str,
    views: &[String],
) -> Result<Vec<u8>, StageError> {
    let opts = super::mysql::options_file(conn, &probe.dump_tool_version)?;
    let mut cmd = command(&probe.dump_tool);
    cmd.arg(format!("--defaults-extra-file={}", opts.path().display()));
    cmd.args([
        "--no-data",
        "--single-transaction",
        "--default-character-set=utf8mb4",
        "--no-tablespaces",
        "--skip-add-drop-table",
    ]);
    if views.is_empty() {
        cmd.args(["--no-create-info", "--routines", "--triggers", "--events"]);
    } else {
        cmd.args(["--skip-triggers"]);
    }
    if !super::mysql::is_mariadb(&probe.dump_tool_version) {
        cmd.args(["--set-gtid-purged=OFF"]);
        if super::mysql::is_mariadb(&probe.server_version) {
            cmd.arg("--column-statistics=0");
        }
    }
    cmd.arg("--").arg(scratch).args(views);
    let name = super::process::tool_name(&probe.dump_tool);
    let mut tool = RunningTool::spawn(cmd, &name, false, true, Some(opts))?;
    let mut out = Vec::new();
    if let Some(mut stdout) = tool.stdout.take() {
        if let Err(e) = stdout.read_to_end(&mut out).await {
            let tail = tool.kill().await;
            return Err(StageError {
                stage: Stage::Restore,
                message: format!("reading the definitions of the loaded copy failed: {e}"),
                stderr_tail: tail,
            });
        }
    }
    tool.finish(Stage::Restore).await?;
    Ok(out)
}

/// Drops the scratch copy's triggers (they are in the definitions), so its tables can move;
/// again after a crash, those that are left.
pub(super) async fn drop_triggers(
    admin: &mut MySqlConnection,
    moves: &Moves,
    scratch: &str,
) -> Result<(), StageError> {
    for t in &moves.triggers {
        let sql = format!(
            "DROP TRIGGER IF EXISTS {}.{}",
            my_ident(scratch),
            my_ident(t)
        );
        exec(admin, Stage::Restore, &sql).await?;
    }
    Ok(())
}

/// Moves every table of `scratch` into the (empty) `target` at once (one `RENAME TABLE`:
/// all of them or none).
pub(super) async fn move_tables(
    admin: &mut MySqlConnection,
    plan: &Moves,
    scratch: &str,
    target: &str,
) -> Result<(), StageError> {
    if !plan.tables.is_empty() {
        let pairs: Vec<String> = plan
            .tables
            .iter()
            .map(|t| {
                format!(
                    "{}.{} TO {}.{}",
                    my_ident(scratch),
                    my_ident(t),
                    my_ident(target),
                    my_ident(t)
                )
            })
            .collect();
        exec(
            admin,
            Stage::Swap,
            &format!("RENAME TABLE {}", pairs.join(", ")),
        )
        .await?;
    }
    Ok(())
}

/// Points the moved tables' sequence defaults at the moved sequences (again after a crash).
pub(super) async fn set_sequence_defaults(
    admin: &mut MySqlConnection,
    plan: &Moves,
    target: &str,
) -> Result<(), StageError> {
    for (table, column, seq) in &plan.sequence_defaults {
        let sql = format!(
            "ALTER TABLE {}.{} ALTER COLUMN {} SET DEFAULT nextval({}.{})",
            my_ident(target),
            my_ident(table),
            my_ident(column),
            my_ident(target),
            my_ident(seq)
        );
        exec(admin, Stage::Swap, &sql).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_sequence_default_is_taken() {
        assert_eq!(
            sequence_of("nextval(`s__restore_1`.`s1`)", "s__restore_1").as_deref(),
            Some("s1")
        );
        assert_eq!(
            sequence_of("nextval(`d`.`a``b`)", "d").as_deref(),
            Some("a`b")
        );
        assert_eq!(sequence_of("nextval(`d`.`a`b`)", "d"), None);
        assert_eq!(sequence_of("nextval(`d`.`s1`) + 1", "d"), None);
        assert_eq!(sequence_of("nextval(`e`.`s1`)", "d"), None);
        assert_eq!(sequence_of("lastval(`d`.`s1`)", "d"), None);
    }
}
