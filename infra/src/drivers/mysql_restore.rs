//! MySQL/MariaDB restores: the verified copy loaded into the target, through a scratch
//! database moved into place when the target has contents, with `mariadb --comments
//! --sandbox` where it can.

use super::mysql::{connect, exec, options_file, schema};
use super::mysql_journal::{self, JOURNAL_TABLE};
use super::mysql_move::{self, Moved};
use super::mysql_stream::Retarget;
use super::process::{command, RunningTool};
use super::test_pause::{pause_at, Step};
use super::{my_ident, run_fed, FedEnd, Feed, Probe, RestoreOptions, RestoreOutcome, StageError};
use backline_domain::{ConnectionString, Engine, MyDatabaseProperties, Stage};
use sqlx::mysql::MySqlConnection;
use sqlx::Connection;
use std::path::PathBuf;

/// `CREATE DATABASE` for `name` with the character set and collation of `p` (checked to be
/// plain words, as they are SQL keywords), else the server's defaults.
pub(super) fn create_sql(name: &str, p: Option<&MyDatabaseProperties>) -> String {
    match p.filter(|p| p.is_valid()) {
        Some(p) => format!(
            "CREATE DATABASE {} CHARACTER SET {} COLLATE {}",
            my_ident(name),
            p.charset,
            p.collation
        ),
        None => format!("CREATE DATABASE {}", my_ident(name)),
    }
}

/// Whether the client `tool` has `--sandbox` (MariaDB 10.5.25, 10.6.18, 10.11.8, 11.0.6 and
/// later): with it, a dump cannot run shell or file commands (`\!`, `source`) on this host.
async fn supports_sandbox(tool: &std::path::Path) -> bool {
    static SEEN: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<PathBuf, bool>>> =
        std::sync::OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    if let Some(known) = seen.lock().ok().and_then(|m| m.get(tool).copied()) {
        return known;
    }
    let help = command(tool).arg("--help").output().await;
    let yes = help.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--sandbox"));
    if let Ok(mut m) = seen.lock() {
        m.insert(tool.to_path_buf(), yes);
    }
    yes
}

pub(super) async fn load(
    conn: &ConnectionString,
    probe: &Probe,
    database: &str,
    feed: &dyn Feed,
    no_definer: bool,
) -> Result<(), StageError> {
    let opts = options_file(conn, &probe.restore_tool_version)?;
    let mut cmd = command(&probe.restore_tool);
    cmd.arg(format!("--defaults-extra-file={}", opts.path().display()));
    cmd.args([
        "--binary-mode",
        "--default-character-set=utf8mb4",
        "--batch",
        // Comments inside routine, trigger and event bodies are part of them: without this
        // the client strips them and the restored routine differs from its source.
        "--comments",
    ]);
    if supports_sandbox(&probe.restore_tool).await {
        cmd.arg("--sandbox");
    }
    cmd.arg(format!("--database={database}"));
    let name = super::process::tool_name(&probe.restore_tool);
    let tool = RunningTool::spawn(cmd, &name, true, false, Some(opts))?;
    // Routines' `ALTER DATABASE \`<source>\`` lines apply to the database being loaded.
    let retarget = if no_definer {
        Retarget::without_definers()
    } else {
        Retarget::default()
    };
    run_fed(tool, feed, Some(retarget), FedEnd::ReadsAll)
        .await
        .map_err(|e| privilege_hint(e, no_definer))
}

/// A load refused for want of SUPER / SET USER names the option that avoids it.
fn privilege_hint(mut e: StageError, no_definer: bool) -> StageError {
    let text = format!("{} {}", e.message, e.stderr_tail);
    if !no_definer && (text.contains("SUPER") || text.contains("SET USER")) {
        e.message.push_str(
            " (the backup's views, routines, triggers or events name other definers, which only \
             a user with SUPER or SET USER may create: restore with \"no_definer\": true in the \
             API, --no-definer in the CLI, to make the restoring user their definer)",
        );
    }
    e
}

/// `name` with the wildcards of a GRANT database pattern (`_`, `%`) escaped.
fn grant_pattern(name: &str) -> String {
    name.replace('\\', "\\\\")
        .replace('_', "\\_")
        .replace('%', "\\%")
}

/// The account this connection is, as `'user'@'host'`.
async fn current_account(c: &mut MySqlConnection) -> String {
    let who: Option<String> = sqlx::query_scalar("SELECT CAST(CURRENT_USER() AS CHAR)")
        .fetch_one(&mut *c)
        .await
        .ok();
    match who.as_deref().and_then(|w| w.rsplit_once('@')) {
        Some((user, host)) => format!(
            "'{}'@'{}'",
            user.replace('\'', "''"),
            host.replace('\'', "''")
        ),
        None => "the backup user".to_string(),
    }
}

/// How long DDL of a restore waits for other sessions' metadata locks.
pub(super) const LOCK_WAIT_SECS: u32 = 60;

/// Ends the other sessions whose current database is `name` (best effort: without the
/// privilege to kill them, the DROP that follows waits at most `LOCK_WAIT_SECS`).
pub(super) async fn end_sessions(c: &mut MySqlConnection, name: &str) {
    let ids: Vec<u64> = sqlx::query_scalar(
        "SELECT CAST(ID AS UNSIGNED) FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
    )
    .bind(name)
    .fetch_all(&mut *c)
    .await
    .unwrap_or_default();
    for id in ids {
        if let Err(e) = exec(c, Stage::Swap, &format!("KILL CONNECTION {id}")).await {
            tracing::info!(database = name, session = id, error = %e, "could not end a session");
        }
    }
}

async fn drop_schema(c: &mut MySqlConnection, name: &str) {
    let sql = format!("DROP DATABASE IF EXISTS {}", my_ident(name));
    if let Err(e) = exec(c, Stage::Cleanup, &sql).await {
        tracing::warn!(database = name, error = %e, "could not drop scratch database");
    }
}

pub async fn restore(
    conn: &ConnectionString,
    probe: &Probe,
    options: &RestoreOptions,
    feed: &dyn Feed,
) -> Result<RestoreOutcome, StageError> {
    let target = conn.database.clone();
    let mut admin = connect(conn, None).await?;
    exec(
        &mut admin,
        Stage::Prepare,
        &format!("SET SESSION lock_wait_timeout = {LOCK_WAIT_SECS}"),
    )
    .await?;
    let current = schema(&mut admin, &target).await?;
    // The version's character set and collation, else the target's own.
    let recorded = options.properties.as_ref().and_then(|p| p.mysql()).cloned();
    let mut warnings = Vec::new();
    if recorded.is_none() {
        warnings.push(
            "this version was taken before Backline recorded the database's default character \
             set and collation: the restored database has the target's (or the server's)"
                .to_string(),
        );
    }
    let defaults = recorded.or_else(|| {
        current
            .as_ref()
            .and_then(|s| MyDatabaseProperties::parse(&s.charset, &s.collation))
    });
    let load = Load {
        conn,
        probe,
        feed,
        defaults: defaults.as_ref(),
        no_definer: options.no_definer,
        cancel: &options.cancel,
    };
    if current.as_ref().is_some_and(|s| s.objects > 0) {
        let scratch = super::scratch_name(Engine::Mysql, &target, &options.tag);
        replace_through_scratch(&mut admin, &load, &target, &scratch).await?;
    } else {
        load_into_empty(&mut admin, &load, &target, current.is_none()).await?;
    }
    let _ = admin.close().await;
    Ok(RestoreOutcome {
        previous_kept_as: None,
        warnings,
    })
}

/// A partial restore: only `tables` of the dump (structure, rows, triggers), first into a
/// scratch database (proving they load while the target is untouched), then into the target,
/// where each replaces the table of the same name. Nothing else of the target changes.
pub async fn restore_tables(
    conn: &ConnectionString,
    probe: &Probe,
    tables: &[String],
    tag: &str,
    no_definer: bool,
    feed: &dyn Feed,
) -> Result<RestoreOutcome, StageError> {
    let chosen = super::mysql_tables::ChosenTables {
        inner: feed,
        tables: tables.to_vec(),
    };
    let target = conn.database.clone();
    let mut admin = connect(conn, None).await?;
    exec(
        &mut admin,
        Stage::Prepare,
        &format!("SET SESSION lock_wait_timeout = {LOCK_WAIT_SECS}"),
    )
    .await?;
    let current = schema(&mut admin, &target).await?.ok_or_else(|| {
        StageError::new(Stage::Prepare, format!("database {target} does not exist"))
    })?;
    let defaults = MyDatabaseProperties::parse(&current.charset, &current.collation);
    let scratch = super::derived_name(&target, &format!("__partial_{tag}"), 64);
    exec(
        &mut admin,
        Stage::Prepare,
        &create_sql(&scratch, defaults.as_ref()),
    )
    .await?;
    let proved = load(conn, probe, &scratch, &chosen, no_definer).await;
    drop_schema(&mut admin, &scratch).await;
    proved?;
    load(conn, probe, &target, &chosen, no_definer).await?;
    let _ = admin.close().await;
    Ok(RestoreOutcome::default())
}

/// What a load reads and how the databases it creates are made.
struct Load<'a> {
    conn: &'a ConnectionString,
    probe: &'a Probe,
    feed: &'a dyn Feed,
    defaults: Option<&'a MyDatabaseProperties>,
    no_definer: bool,
    cancel: &'a tokio_util::sync::CancellationToken,
}

/// A target with contents: the backup is loaded once, into a scratch database (proving it
/// loads while the target is untouched), then moved into the target's place by metadata
/// operations (`mysql_move`).
async fn replace_through_scratch(
    admin: &mut MySqlConnection,
    l: &Load<'_>,
    target: &str,
    scratch: &str,
) -> Result<(), StageError> {
    if let Err(e) = exec(admin, Stage::Prepare, &create_sql(scratch, l.defaults)).await {
        let account = current_account(admin).await;
        return Err(StageError {
            message: format!(
                "cannot create the scratch database {scratch} (a restore loads the backup there first, \
                 so that {target} is only replaced by a copy that loaded): {}; let the user create \
                 such databases with: GRANT ALL ON {}.* TO {account}",
                e.message,
                my_ident(&format!("{}\\_\\_restore\\_%", grant_pattern(target))),
            ),
            ..e
        });
    }
    let loaded = super::unless_cancelled(
        l.cancel,
        Stage::Restore,
        load(l.conn, l.probe, scratch, l.feed, l.no_definer),
    )
    .await;
    if let Err(e) = loaded {
        drop_schema(admin, scratch).await;
        return Err(e);
    }
    let moved = match mysql_move::prepare(admin, l.conn, l.probe, scratch).await {
        Ok(m) => m,
        Err(e) => {
            drop_schema(admin, scratch).await;
            return Err(e);
        }
    };
    // The last point a cancel leaves the target untouched: taking it over runs to the end.
    if let Err(e) = super::check_cancelled(l.cancel, Stage::Swap) {
        drop_schema(admin, scratch).await;
        return Err(e);
    }
    let plan = match moved {
        Moved::Ready(plan) if !plan.moves.tables.iter().any(|t| t == JOURNAL_TABLE) => plan,
        Moved::Ready(_) => {
            tracing::info!("the loaded copy has a table named like the move journal: it is loaded again into the target");
            return replace_by_second_load(admin, l, target, scratch).await;
        }
        Moved::NotMovable(why) => {
            tracing::info!(reason = %why, "the loaded copy is loaded again into the target");
            return replace_by_second_load(admin, l, target, scratch).await;
        }
    };
    pause_at(Step::MyLoaded).await;
    let journal = mysql_journal::Journal {
        target: target.to_string(),
        defaults: l.defaults.cloned(),
        moves: plan.moves,
    };
    // The commit point: from here on, a process that dies leaves a move that is completed
    // (by the reaper, at start-up or by `backline cleanup --scratch`), never undone.
    let written = match mysql_journal::lock_move(admin, scratch).await {
        Ok(()) => mysql_journal::write(admin, scratch, &journal, &plan.definitions).await,
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        drop_schema(admin, scratch).await;
        return Err(e);
    }
    pause_at(Step::MyJournaled).await;
    mysql_journal::complete(admin, l.conn, l.probe, scratch, &journal, &plan.definitions)
        .await
        .map_err(|e| StageError {
            message: format!(
                "{}; the restore stopped while moving the loaded copy into {target}: the rest of \
                 the move is journaled in database {scratch} and is completed at the next start \
                 of Backline or by `backline cleanup --scratch`",
                e.message
            ),
            ..e
        })
}

/// Ends the sessions in `target` and makes it an empty database with the version's defaults;
/// on failure the scratch copy is dropped and the target is as it was.
async fn take_over(
    admin: &mut MySqlConnection,
    l: &Load<'_>,
    target: &str,
    scratch: &str,
) -> Result<(), StageError> {
    // Like PostgreSQL's swap: sessions using the target are ended, or the DROP would wait
    // for their metadata locks (lock_wait_timeout defaults to a year).
    end_sessions(admin, target).await;
    let dropped = exec(
        admin,
        Stage::Swap,
        &format!("DROP DATABASE {}", my_ident(target)),
    )
    .await;
    if let Err(e) = dropped {
        drop_schema(admin, scratch).await;
        return Err(StageError {
            message: format!(
                "could not take over {target}: {} (a session outside it holds locks on its tables?)",
                e.message
            ),
            ..e
        });
    }
    exec(admin, Stage::Swap, &create_sql(target, l.defaults)).await
}

/// The copy in `scratch` loaded, but cannot move: the target is replaced by a second load.
async fn replace_by_second_load(
    admin: &mut MySqlConnection,
    l: &Load<'_>,
    target: &str,
    scratch: &str,
) -> Result<(), StageError> {
    take_over(admin, l, target, scratch).await?;
    if let Err(e) = load(l.conn, l.probe, target, l.feed, l.no_definer).await {
        return Err(StageError {
            message: format!(
                "{}; the verified copy of the backup is in database {scratch}",
                e.message
            ),
            ..e
        });
    }
    drop_schema(admin, scratch).await;
    Ok(())
}

/// An empty or missing target: loaded directly, and left empty (or missing) again if the
/// load fails.
async fn load_into_empty(
    admin: &mut MySqlConnection,
    l: &Load<'_>,
    target: &str,
    missing: bool,
) -> Result<(), StageError> {
    if missing {
        exec(admin, Stage::Prepare, &create_sql(target, l.defaults)).await?;
    }
    let loaded = super::unless_cancelled(
        l.cancel,
        Stage::Restore,
        load(l.conn, l.probe, target, l.feed, l.no_definer),
    )
    .await;
    if let Err(e) = loaded {
        drop_schema(admin, target).await;
        // As it was: empty, or not there at all.
        if !missing {
            let _ = exec(admin, Stage::Cleanup, &create_sql(target, l.defaults)).await;
        }
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_sql_takes_plain_words_only() {
        let p = MyDatabaseProperties::parse("latin1", "latin1_swedish_ci");
        assert_eq!(
            create_sql("a`b", p.as_ref()),
            "CREATE DATABASE `a``b` CHARACTER SET latin1 COLLATE latin1_swedish_ci"
        );
        let forged = MyDatabaseProperties {
            charset: "latin1; DROP DATABASE x".into(),
            collation: "c".into(),
        };
        assert_eq!(create_sql("d", Some(&forged)), "CREATE DATABASE `d`");
    }
}
