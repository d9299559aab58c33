//! The move journal of a MariaDB restore over a database with contents, and the completion of
//! a move whose process died.
//!
//! Moving the loaded scratch copy into the target takes several statements (the target
//! emptied, the tables renamed into it at once, the definitions re-created), and only the
//! `RENAME TABLE` is atomic. So before the first of them changes the target, the move is
//! written down: one row in a table `__backline_move_journal` of the scratch database itself,
//! holding the plan (target, tables, triggers, sequence defaults, character set) and the
//! definitions to re-create. That row is the commit point:
//! * without it (the process died while loading or reading the definitions), the target was
//!   never touched: it keeps its old contents, and the scratch database is a leftover;
//! * with it, the move is completed by [`complete`], whose every step can run again after a
//!   crash at any point: the target ends with the restored contents.
//!
//! Why in the scratch database and not the ledger or the data directory: the definitions are
//! the backup's own text (routine bodies may hold literals, which the ledger must not), the
//! scratch copy already holds all of it on the same server, and any Backline process that
//! reaches the target's server can finish the move (the one that reaps the restore may not
//! be the one that ran it). The journal goes away with the scratch database.

use super::mysql::{connect, describe, exec, probe_target};
use super::mysql_move::{self, Definitions, Moves};
use super::test_pause::{pause_at, Step};
use super::{my_ident, StageError, ToolConfig};
use backline_domain::{ConnectionString, MyDatabaseProperties, Stage};
use sqlx::mysql::MySqlConnection;

/// The journal's table in the scratch database.
pub(super) const JOURNAL_TABLE: &str = "__backline_move_journal";
/// The journal's layout; a journal of another format is not acted on.
const FORMAT: i32 = 1;

/// The plan of a move, as journaled.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Journal {
    /// The database the scratch copy moves into.
    pub(super) target: String,
    /// The target's character set and collation when it is created again.
    pub(super) defaults: Option<MyDatabaseProperties>,
    pub(super) moves: Moves,
}

fn failed(stage: Stage) -> impl Fn(sqlx::Error) -> StageError {
    move |e| StageError::new(stage.clone(), describe(&e))
}

/// Writes the journal into `scratch` (the commit point of the move). Until this returns
/// `Ok`, the target has not been touched.
pub(super) async fn write(
    admin: &mut MySqlConnection,
    scratch: &str,
    journal: &Journal,
    definitions: &Definitions,
) -> Result<(), StageError> {
    let table = format!("{}.{}", my_ident(scratch), my_ident(JOURNAL_TABLE));
    let create = format!(
        "CREATE TABLE {table} (format INT NOT NULL, plan LONGTEXT NOT NULL, \
         definitions LONGBLOB NOT NULL) ENGINE=InnoDB"
    );
    exec(admin, Stage::Prepare, &create).await?;
    let plan = serde_json::to_string(journal)
        .map_err(|e| StageError::new(Stage::Prepare, format!("the move journal: {e}")))?;
    sqlx::query(&format!("INSERT INTO {table} VALUES (?, ?, ?)"))
        .bind(FORMAT)
        .bind(plan)
        .bind(&definitions.0)
        .execute(&mut *admin)
        .await
        .map_err(|e| {
            StageError::new(
                Stage::Prepare,
                format!("could not write the move journal: {}", describe(&e)),
            )
        })?;
    Ok(())
}

/// Takes the server-side lock on moving `scratch` for this connection (held until it closes,
/// so a process that dies lets go of it): two processes never move the same copy at once
/// (the one that runs the restore, and one that reaps it after a lease lapsed under load).
pub(super) async fn lock_move(
    admin: &mut MySqlConnection,
    scratch: &str,
) -> Result<(), StageError> {
    // Lock names hold at most 64 characters; a scratch name ends with its restore's tag.
    let tail: String = {
        let chars: Vec<char> = scratch.chars().collect();
        chars[chars.len().saturating_sub(56)..].iter().collect()
    };
    let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 0)")
        .bind(format!("bl-move:{tail}"))
        .fetch_one(&mut *admin)
        .await
        .map_err(failed(Stage::Swap))?;
    if got == Some(1) {
        Ok(())
    } else {
        Err(StageError::new(
            Stage::Swap,
            format!("another process is moving {scratch} into its target right now"),
        ))
    }
}

/// The journal in `scratch`, if the move it records was committed.
pub(super) async fn read(
    admin: &mut MySqlConnection,
    scratch: &str,
) -> Result<Option<(Journal, Definitions)>, StageError> {
    let present: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
    )
    .bind(scratch)
    .bind(JOURNAL_TABLE)
    .fetch_one(&mut *admin)
    .await
    .map_err(failed(Stage::Prepare))?;
    if present == 0 {
        return Ok(None);
    }
    let sql = format!(
        "SELECT CAST(plan AS CHAR), definitions FROM {}.{} WHERE format = ?",
        my_ident(scratch),
        my_ident(JOURNAL_TABLE)
    );
    let row: Option<(String, Vec<u8>)> = sqlx::query_as(&sql)
        .bind(FORMAT)
        .fetch_optional(&mut *admin)
        .await
        .map_err(failed(Stage::Prepare))?;
    let Some((plan, definitions)) = row else {
        return Ok(None); // created, never written: not committed
    };
    let journal: Journal = serde_json::from_str(&plan).map_err(|e| {
        StageError::new(
            Stage::Prepare,
            format!("the move journal in {scratch} cannot be read: {e}"),
        )
    })?;
    Ok(Some((journal, Definitions(definitions))))
}

/// Whether `scratch` holds a committed move journal.
pub(super) async fn is_journaled(
    admin: &mut MySqlConnection,
    scratch: &str,
) -> Result<bool, StageError> {
    Ok(read(admin, scratch).await?.is_some())
}

async fn names(c: &mut MySqlConnection, sql: &str, db: &str) -> Result<Vec<String>, StageError> {
    sqlx::query_scalar(sql)
        .bind(db)
        .fetch_all(&mut *c)
        .await
        .map_err(failed(Stage::Swap))
}

/// Moves the journaled scratch copy into its target, from wherever an earlier attempt
/// stopped, and drops the scratch database (journal included) at the end.
pub(super) async fn complete(
    admin: &mut MySqlConnection,
    conn: &ConnectionString,
    probe: &super::Probe,
    scratch: &str,
    journal: &Journal,
    definitions: &Definitions,
) -> Result<(), StageError> {
    let target = journal.target.as_str();
    mysql_move::drop_triggers(admin, &journal.moves, scratch).await?;
    pause_at(Step::MyTriggersDropped).await;
    // One RENAME moves all tables or none: while any is still in the scratch copy, none
    // has moved, and the target may still hold (some of) its old contents.
    let left = names(
        admin,
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
        scratch,
    )
    .await?;
    let pending =
        journal.moves.tables.is_empty() || journal.moves.tables.iter().any(|t| left.contains(t));
    if pending {
        empty_target(admin, target, journal.defaults.as_ref()).await?;
        pause_at(Step::MyTargetEmptied).await;
        mysql_move::move_tables(admin, &journal.moves, scratch, target).await?;
    }
    pause_at(Step::MyTablesMoved).await;
    mysql_move::set_sequence_defaults(admin, &journal.moves, target).await?;
    drop_definitions(admin, target, &journal.moves.tables).await?;
    super::mysql_restore::load(conn, probe, target, definitions, false).await?;
    pause_at(Step::MyDefinitionsLoaded).await;
    exec(
        admin,
        Stage::Cleanup,
        &format!("DROP DATABASE IF EXISTS {}", my_ident(scratch)),
    )
    .await
}

/// Makes `target` an empty database with `defaults` (whatever it held, or if it is missing).
async fn empty_target(
    admin: &mut MySqlConnection,
    target: &str,
    defaults: Option<&MyDatabaseProperties>,
) -> Result<(), StageError> {
    // Sessions using the target are ended, or the DROP would wait for their metadata locks.
    super::mysql_restore::end_sessions(admin, target).await;
    exec(
        admin,
        Stage::Swap,
        &format!("DROP DATABASE IF EXISTS {}", my_ident(target)),
    )
    .await
    .map_err(|e| StageError {
        message: format!(
            "could not take over {target}: {} (a session outside it holds locks on its tables?)",
            e.message
        ),
        ..e
    })?;
    exec(
        admin,
        Stage::Swap,
        &super::mysql_restore::create_sql(target, defaults),
    )
    .await
}

/// Drops what an interrupted load of the definitions may have left in `target` (triggers,
/// views, routines, events, and stand-in tables of views): everything but the moved
/// `tables`. In a move that was not interrupted there is nothing to drop.
async fn drop_definitions(
    admin: &mut MySqlConnection,
    target: &str,
    tables: &[String],
) -> Result<(), StageError> {
    let t = my_ident(target);
    let mut drops = Vec::new();
    for n in names(
        admin,
        "SELECT CAST(TRIGGER_NAME AS CHAR) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?",
        target,
    )
    .await?
    {
        drops.push(format!("DROP TRIGGER IF EXISTS {t}.{}", my_ident(&n)));
    }
    for n in names(
        admin,
        "SELECT CAST(EVENT_NAME AS CHAR) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?",
        target,
    )
    .await?
    {
        drops.push(format!("DROP EVENT IF EXISTS {t}.{}", my_ident(&n)));
    }
    let routines: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(ROUTINE_TYPE AS CHAR), CAST(ROUTINE_NAME AS CHAR) \
         FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?",
    )
    .bind(target)
    .fetch_all(&mut *admin)
    .await
    .map_err(failed(Stage::Swap))?;
    for (kind, n) in routines {
        // The kind is one of the server's own words, never taken as text into the SQL.
        let kind = match kind.as_str() {
            "PROCEDURE" => "PROCEDURE",
            "FUNCTION" => "FUNCTION",
            "PACKAGE" => "PACKAGE",
            "PACKAGE BODY" => "PACKAGE BODY",
            other => {
                return Err(StageError::new(
                    Stage::Swap,
                    format!("{target} holds a routine of an unknown kind {other:?}"),
                ))
            }
        };
        drops.push(format!("DROP {kind} IF EXISTS {t}.{}", my_ident(&n)));
    }
    let objects: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(TABLE_TYPE AS CHAR) \
         FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
    )
    .bind(target)
    .fetch_all(&mut *admin)
    .await
    .map_err(failed(Stage::Swap))?;
    for (n, kind) in objects {
        if kind == "VIEW" {
            drops.push(format!("DROP VIEW IF EXISTS {t}.{}", my_ident(&n)));
        } else if !tables.contains(&n) {
            drops.push(format!("DROP TABLE IF EXISTS {t}.{}", my_ident(&n)));
        }
    }
    for sql in drops {
        exec(admin, Stage::Swap, &sql).await?;
    }
    Ok(())
}

/// Completes the move of a restore whose process died after writing its journal into
/// `scratch` (see the module docs). `Ok(false)`: there was no committed move (the target was
/// never touched); `Ok(true)`: the target now holds the restored contents.
pub(super) async fn recover(
    conn: &ConnectionString,
    tools: &ToolConfig,
    scratch: &str,
) -> Result<bool, StageError> {
    let mut admin = connect(conn, None).await?;
    lock_move(&mut admin, scratch).await?;
    let Some((journal, definitions)) = read(&mut admin, scratch).await? else {
        return Ok(false);
    };
    if journal.target != conn.database {
        return Err(StageError::new(
            Stage::Swap,
            format!(
                "the move journal in {scratch} is for database {}, not {}: left alone",
                journal.target, conn.database
            ),
        ));
    }
    exec(
        &mut admin,
        Stage::Prepare,
        &format!(
            "SET SESSION lock_wait_timeout = {}",
            super::mysql_restore::LOCK_WAIT_SECS
        ),
    )
    .await?;
    let probe = probe_target(conn, tools).await?;
    tracing::warn!(
        scratch,
        target = journal.target,
        "completing the interrupted move of a restore"
    );
    complete(&mut admin, conn, &probe, scratch, &journal, &definitions).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_reads_back_what_was_written() {
        let j = Journal {
            target: "shop`x".into(),
            defaults: MyDatabaseProperties::parse("utf8mb4", "utf8mb4_general_ci"),
            moves: Moves {
                tables: vec!["a".into(), "b c".into()],
                triggers: vec!["t".into()],
                sequence_defaults: vec![("a".into(), "id".into(), "s".into())],
            },
        };
        let text = serde_json::to_string(&j).expect("serialize");
        let back: Journal = serde_json::from_str(&text).expect("deserialize");
        assert_eq!(back, j);
    }
}
