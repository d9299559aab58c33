//! A server's globals: PostgreSQL roles and tablespaces (`pg_dumpall --globals-only`), MariaDB
//! and MySQL users and grants (`mariadb-dump --system=users`, or `SHOW CREATE USER` /
//! `SHOW GRANTS` per user); and applying a verified globals artifact to a server, where roles
//! and users that exist already are kept.
//!
//! Password hashes are secrets: they are dumped only when `keep_passwords` is asked for (the
//! application then encrypts the artifact), never otherwise.

use super::process::{command, tool_version, RunningTool};
use super::{find_tools, Feed, StageError, ToolConfig};
use crate::sql::my_ident;
use backline_domain::{ConnectionString, Engine, Stage};
use sqlx::Row;

/// Where the globals' SQL comes from: a running tool's stdout, or statements read here.
pub enum GlobalsSource {
    Tool(Box<RunningTool>),
    Text(Vec<u8>),
}

/// A globals dump about to be streamed.
pub struct GlobalsDump {
    pub source: GlobalsSource,
    /// `pg_dumpall`, `mariadb-dump` or `show-grants`.
    pub method: String,
    pub tool_version: String,
    pub server_version: String,
}

/// Accounts every MariaDB/MySQL server has of its own: never backed up, never recreated.
pub fn is_system_account(user: &str) -> bool {
    matches!(
        user,
        "" | "root" | "mariadb.sys" | "mysql" | "debian-sys-maint" | "PUBLIC"
    ) || user.starts_with("mysql.")
}

/// Starts the globals dump of the server `conn` reaches.
pub async fn dump(
    conn: &ConnectionString,
    tools: &ToolConfig,
    keep_passwords: bool,
) -> Result<GlobalsDump, StageError> {
    match conn.engine {
        Engine::Postgres => pg_dump(conn, tools, keep_passwords).await,
        Engine::Mysql => my_dump(conn, tools, keep_passwords).await,
    }
}

async fn pg_dump(
    conn: &ConnectionString,
    tools: &ToolConfig,
    keep_passwords: bool,
) -> Result<GlobalsDump, StageError> {
    let (server_version, major, database) = super::postgres::maintenance_probe(conn).await?;
    let (tool, version) = super::postgres::pick_tool("pg_dumpall", tools, major).await?;
    let mut cmd = command(&tool);
    cmd.args(["--globals-only", "--no-password"]);
    if !keep_passwords {
        // Roles are read from pg_roles instead of pg_authid: no hash ever leaves the server.
        cmd.arg("--no-role-passwords");
    }
    cmd.arg(format!("--database={database}"));
    super::postgres::libpq_env(&mut cmd, conn, &database);
    let tool = RunningTool::spawn(cmd, "pg_dumpall", false, true, None)?;
    Ok(GlobalsDump {
        source: GlobalsSource::Tool(Box::new(tool)),
        method: "pg_dumpall".into(),
        tool_version: version,
        server_version,
    })
}

/// Whether this client's dump tool has `--system=users` (MariaDB's, from 10.5 on).
async fn supports_system_users(tool: &std::path::Path) -> bool {
    match command(tool).arg("--help").output().await {
        Ok(out) => {
            let help = String::from_utf8_lossy(&out.stdout);
            help.lines()
                .any(|l| l.trim_start().starts_with("--system=") && l.contains("users"))
        }
        Err(_) => false,
    }
}

async fn my_dump(
    conn: &ConnectionString,
    tools: &ToolConfig,
    keep_passwords: bool,
) -> Result<GlobalsDump, StageError> {
    let server_version = super::mysql::server_version_any(conn).await?;
    let tool = ["mariadb-dump", "mysqldump"].iter().find_map(|n| {
        find_tools(n, tools.mysql_bin_dir.as_ref(), &[])
            .into_iter()
            .next()
    });
    if keep_passwords {
        if let Some(tool) = tool {
            if supports_system_users(&tool).await {
                let version = tool_version(&tool).await.unwrap_or_default();
                let opts = super::mysql::options_file(conn, &version)?;
                let mut cmd = command(&tool);
                cmd.arg(format!("--defaults-extra-file={}", opts.path().display()));
                // IF NOT EXISTS: a restore keeps the users that exist.
                cmd.args(["--system=users", "--insert-ignore", "--skip-comments"]);
                let tool = RunningTool::spawn(cmd, "mariadb-dump", false, true, Some(opts))?;
                return Ok(GlobalsDump {
                    source: GlobalsSource::Tool(Box::new(tool)),
                    method: "mariadb-dump".into(),
                    tool_version: version,
                    server_version,
                });
            }
        }
    }
    let text = show_grants(conn, keep_passwords, &server_version).await?;
    Ok(GlobalsDump {
        source: GlobalsSource::Text(text.into_bytes()),
        method: "show-grants".into(),
        tool_version: String::new(),
        server_version,
    })
}

/// `SHOW CREATE USER` (with passwords) or a locked `CREATE USER` (without), then `SHOW GRANTS`
/// of every account but the system ones. Without passwords, the authentication clause of a
/// grant line (MariaDB prints `IDENTIFIED BY PASSWORD '…'` there) is left out.
async fn show_grants(
    conn: &ConnectionString,
    keep_passwords: bool,
    server_version: &str,
) -> Result<String, StageError> {
    let fail = |e: sqlx::Error| StageError::new(Stage::Dump, super::mysql::describe(&e));
    let mut c = super::mysql::connect(conn, None).await?;
    let mariadb = super::mysql::is_mariadb(server_version);
    let list = if mariadb {
        // Compared here, not in SQL: the view's collation and the connection's differ.
        "SELECT CAST(User AS CHAR) AS u, CAST(Host AS CHAR) AS h, CAST(is_role AS CHAR) AS r FROM mysql.user ORDER BY 1, 2"
    } else {
        "SELECT CAST(User AS CHAR) AS u, CAST(Host AS CHAR) AS h, 'N' AS r FROM mysql.user ORDER BY 1, 2"
    };
    let rows = sqlx::query(list).fetch_all(&mut c).await.map_err(fail)?;
    let mut out = String::from("-- Backline: users and grants\n");
    for row in rows {
        let user: String = row.try_get("u").map_err(fail)?;
        let host: String = row.try_get("h").map_err(fail)?;
        let role: String = row.try_get("r").unwrap_or_default();
        if is_system_account(&user) || role.eq_ignore_ascii_case("Y") {
            continue;
        }
        let grantee = format!("{}@{}", my_ident(&user), my_ident(&host));
        match account(&mut c, &grantee, keep_passwords).await {
            Ok(text) => out.push_str(&text),
            // Dropped since the listing: as if it had been dropped before it.
            Err(e) if vanished(&e) => {
                tracing::info!(
                    account = grantee,
                    "an account was dropped while the users and grants were read: left out"
                );
            }
            Err(e) => return Err(fail(e)),
        }
    }
    let _ = sqlx::Connection::close(c).await;
    Ok(out)
}

/// The statements that re-create one account (`user@host`, quoted): its `CREATE USER` and its
/// grants.
async fn account(
    c: &mut sqlx::MySqlConnection,
    grantee: &str,
    keep_passwords: bool,
) -> Result<String, sqlx::Error> {
    let mut out = if keep_passwords {
        let row = sqlx::query(&format!("SHOW CREATE USER {grantee}"))
            .fetch_one(&mut *c)
            .await?;
        let create = text(&row);
        match create.strip_prefix("CREATE USER ") {
            Some(rest) => format!("CREATE USER IF NOT EXISTS {rest}"),
            None => create,
        }
    } else {
        // No password: locked until an operator sets one (an account without a password
        // would let anyone in).
        format!("CREATE USER IF NOT EXISTS {grantee} ACCOUNT LOCK")
    };
    out.push_str(";\n");
    let grants = sqlx::query(&format!("SHOW GRANTS FOR {grantee}"))
        .fetch_all(&mut *c)
        .await?;
    for g in grants {
        let line = text(&g);
        let line = if keep_passwords {
            line
        } else {
            without_authentication(&line)
        };
        out.push_str(&line);
        out.push_str(";\n");
    }
    Ok(out)
}

/// The server says the account does not exist (any more): `SHOW GRANTS FOR` answers 1141
/// (ER_NONEXISTING_GRANT); `SHOW CREATE USER` 1133 on MariaDB 10.11 ("Can't find any matching
/// row in the user table"), 1396 (ER_CANNOT_USER) on MySQL.
fn vanished(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .is_some_and(|d| matches!(d.number(), 1133 | 1141 | 1396))
}

/// The first column as text, or as bytes on servers that report it as binary.
fn text(row: &sqlx::mysql::MySqlRow) -> String {
    row.try_get::<String, _>(0).unwrap_or_else(|_| {
        String::from_utf8_lossy(&row.try_get::<Vec<u8>, _>(0).unwrap_or_default()).into_owned()
    })
}

/// A `SHOW GRANTS` line without its `IDENTIFIED …` clause (up to `REQUIRE` / `WITH`, or the
/// end).
pub fn without_authentication(line: &str) -> String {
    let Some(start) = line.find(" IDENTIFIED ") else {
        return line.to_string();
    };
    let rest = &line[start + 1..];
    let end = [" REQUIRE ", " WITH "]
        .iter()
        .filter_map(|k| rest.find(k))
        .min()
        .map(|i| start + 1 + i)
        .unwrap_or(line.len());
    format!("{}{}", &line[..start], &line[end..])
}

/// What applying a globals artifact did.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Statements refused because what they create exists already (kept as it is).
    pub existing: usize,
    /// Other errors the engine reported (the last lines), for the operator to read.
    pub errors: Vec<String>,
}

/// Applies the verified globals artifact `feed` to the server `conn` reaches: each statement
/// on its own (a role or user that exists makes its CREATE fail and is kept; nothing is
/// dropped). PostgreSQL: `psql` without ON_ERROR_STOP, in autocommit (CREATE TABLESPACE
/// cannot run in a transaction). MariaDB/MySQL: the client with `--force`.
pub async fn apply(
    conn: &ConnectionString,
    tools: &ToolConfig,
    feed: &dyn Feed,
) -> Result<Applied, StageError> {
    let tool = match conn.engine {
        Engine::Postgres => {
            let (_, major, database) = super::postgres::maintenance_probe(conn).await?;
            let (psql, _) = super::postgres::pick_tool("psql", tools, major).await?;
            let mut cmd = command(&psql);
            cmd.args(["-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=0"]);
            super::postgres::libpq_env(&mut cmd, conn, &database);
            RunningTool::spawn(cmd, "psql", true, false, None)?
        }
        Engine::Mysql => {
            let probe = super::mysql::probe_target(conn, tools).await?;
            let opts = super::mysql::options_file(conn, &probe.restore_tool_version)?;
            let mut cmd = command(&probe.restore_tool);
            cmd.arg(format!("--defaults-extra-file={}", opts.path().display()));
            cmd.args(["--force", "--batch", "--binary-mode"]);
            let name = super::process::tool_name(&probe.restore_tool);
            RunningTool::spawn(cmd, &name, true, false, Some(opts))?
        }
    };
    let tail = feed_all(tool, feed).await?;
    let mut applied = Applied::default();
    for line in tail.lines().filter(|l| l.contains("ERROR")) {
        if line.contains("already exists") || line.contains("Operation CREATE USER failed") {
            applied.existing += 1;
        } else {
            applied.errors.push(line.trim().to_string());
        }
    }
    Ok(applied)
}

/// Feeds the whole artifact to `tool` and returns its stderr tail once it exits 0.
async fn feed_all(mut tool: RunningTool, feed: &dyn Feed) -> Result<String, StageError> {
    let Some(mut stdin) = tool.stdin.take() else {
        return Err(StageError::new(Stage::Restore, "the tool has no stdin"));
    };
    let fed = feed.feed(&mut stdin).await;
    drop(stdin);
    match fed {
        Ok(()) => tool.finish(Stage::Restore).await,
        Err(e) => {
            let tail = tool.kill().await;
            Err(StageError {
                stderr_tail: tail,
                ..e
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the MariaDB of the machine (as the end-to-end tests): an account dropped after
    /// the listing is recognised as gone, whichever statement meets it first, and an existing
    /// one reads back.
    #[tokio::test]
    async fn an_account_dropped_after_the_listing_is_recognised_as_gone() {
        use sqlx::Connection;
        let mut c = sqlx::MySqlConnection::connect("mysql://root@127.0.0.1:3306")
            .await
            .expect("MariaDB at 127.0.0.1:3306");
        let gone = format!("`bl_gone_{}`@`%`", std::process::id());
        for keep_passwords in [true, false] {
            let e = account(&mut c, &gone, keep_passwords)
                .await
                .expect_err("no such account");
            assert!(vanished(&e), "{e}");
        }
        let root = account(&mut c, "`root`@`localhost`", false)
            .await
            .expect("root reads back");
        assert!(root.contains("GRANT "), "{root}");
        let other = sqlx::query("SELECT * FROM no_such_table_anywhere")
            .execute(&mut c)
            .await
            .expect_err("no such table");
        assert!(!vanished(&other), "{other}");
    }

    #[test]
    fn grant_lines_lose_their_authentication_only() {
        assert_eq!(
            without_authentication("GRANT USAGE ON *.* TO `a`@`%` IDENTIFIED BY PASSWORD '*AB12'"),
            "GRANT USAGE ON *.* TO `a`@`%`"
        );
        assert_eq!(
            without_authentication(
                "GRANT RELOAD ON *.* TO `a`@`h` IDENTIFIED VIA ed25519 USING 'x' WITH GRANT OPTION"
            ),
            "GRANT RELOAD ON *.* TO `a`@`h` WITH GRANT OPTION"
        );
        assert_eq!(
            without_authentication("GRANT SELECT ON `d`.* TO `a`@`%`"),
            "GRANT SELECT ON `d`.* TO `a`@`%`"
        );
        assert!(is_system_account("mysql.session") && is_system_account("root"));
        assert!(!is_system_account("app"));
    }
}
