//! PostgreSQL: connections, tools, and `pg_dump -Fc -Z0` out (restores: `pg_restore.rs`).

use super::process::{command, tool_version, RunningTool};
use super::{find_tools, Probe, StageError, ToolConfig, CONNECT_TIMEOUT_SECS};
use backline_domain::Stage;
use backline_domain::{ConnectionString, DatabaseProperties};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::{Connection, Row};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

const ROOTS: &[&str] = &["/usr/lib/postgresql", "/usr/local/pgsql", "/opt/postgresql"];

fn options(conn: &ConnectionString) -> Result<PgConnectOptions, StageError> {
    let mut o = PgConnectOptions::new()
        .host(conn.dial_host())
        .port(conn.dial_port())
        .username(&conn.user)
        .database(&conn.database)
        .application_name("backline");
    if let Some(p) = conn.password() {
        o = o.password(p);
    }
    if let Some(mode) = conn.params.get("sslmode") {
        let m = PgSslMode::from_str(mode)
            .map_err(|_| StageError::new(Stage::Connect, format!("invalid sslmode {mode:?}")))?;
        o = o.ssl_mode(m);
    }
    if let Some(ca) = conn.params.get("sslrootcert") {
        o = o.ssl_root_cert(ca.as_str());
    }
    Ok(o)
}

pub(crate) async fn connect(conn: &ConnectionString) -> Result<PgConnection, StageError> {
    let o = options(conn)?;
    let target = format!("{}:{}", conn.dial_host(), conn.dial_port());
    match tokio::time::timeout(
        Duration::from_secs(CONNECT_TIMEOUT_SECS),
        PgConnection::connect_with(&o),
    )
    .await
    {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(StageError::new(
            Stage::Connect,
            format!(
                "cannot connect to PostgreSQL at {target} as {}: {}",
                conn.user,
                describe(&e)
            ),
        )),
        Err(_) => Err(StageError::new(
            Stage::Connect,
            format!("PostgreSQL at {target} did not answer within {CONNECT_TIMEOUT_SECS} s"),
        )),
    }
}

pub(crate) fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.message().to_string(),
        other => other.to_string(),
    }
}

/// The server's version string and major version.
pub async fn server_version(conn: &ConnectionString) -> Result<(String, u32), StageError> {
    let c = connect(conn).await?;
    version_of(c).await
}

async fn version_of(mut c: PgConnection) -> Result<(String, u32), StageError> {
    let row = sqlx::query("SELECT current_setting('server_version') AS v, current_setting('server_version_num')::int AS n")
        .fetch_one(&mut c)
        .await
        .map_err(|e| StageError::new(Stage::Connect, describe(&e)))?;
    let v: String = row.try_get("v").unwrap_or_default();
    let n: i32 = row.try_get("n").unwrap_or_default();
    let _ = c.close().await;
    Ok((v, (n / 10000) as u32))
}

fn major_of(version_line: &str) -> Option<u32> {
    // "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
    let after = version_line.split(')').nth(1)?.trim();
    let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// The newest installed `name` whose major version is at least `server_major`.
pub(crate) async fn pick_tool(
    name: &str,
    tools: &ToolConfig,
    server_major: u32,
) -> Result<(PathBuf, String), StageError> {
    let mut best: Option<(u32, PathBuf, String)> = None;
    let mut seen = Vec::new();
    for path in find_tools(name, tools.pg_bin_dir.as_ref(), ROOTS) {
        let Some(line) = tool_version(&path).await else {
            continue;
        };
        let Some(major) = major_of(&line) else {
            continue;
        };
        seen.push(format!("{} ({major})", path.display()));
        if major >= server_major && best.as_ref().is_none_or(|(m, _, _)| major > *m) {
            best = Some((major, path, line));
        }
    }
    match best {
        Some((_, p, v)) => Ok((p, v)),
        None => Err(StageError::new(Stage::Tool,
            format!(
                "no {name} with major version ≥ {server_major} is installed (found: {}); install postgresql-client-{server_major} or set BACKLINE_PG_BIN_DIR to a directory with {name} ≥ {server_major}",
                if seen.is_empty() { "none".to_string() } else { seen.join(", ") }
            ),
        )),
    }
}

pub async fn probe(conn: &ConnectionString, tools: &ToolConfig) -> Result<Probe, StageError> {
    let version = server_version(conn).await?;
    probe_with(version, tools).await
}

/// `probe` for a restore target, which may not exist yet (the restore creates it): the server
/// is asked through the maintenance database when the target cannot be reached.
pub async fn probe_target(
    conn: &ConnectionString,
    tools: &ToolConfig,
) -> Result<Probe, StageError> {
    let version = match connect(conn).await {
        Ok(c) => version_of(c).await?,
        Err(first) => match maintenance(conn).await {
            Ok(c) => version_of(c).await?,
            Err(_) => return Err(first),
        },
    };
    probe_with(version, tools).await
}

async fn probe_with(
    (server_version, major): (String, u32),
    tools: &ToolConfig,
) -> Result<Probe, StageError> {
    let (dump_tool, dump_tool_version) = pick_tool("pg_dump", tools, major).await?;
    let (restore_tool, restore_tool_version) = pick_tool("pg_restore", tools, major).await?;
    Ok(Probe {
        server_version,
        dump_tool,
        dump_tool_version,
        restore_tool,
        restore_tool_version,
    })
}

/// The newest installed `pg_restore` and `pg_dump`, for reading archives without a server
/// (a version's contents): a newer `pg_restore` reads every older archive.
pub async fn local_tools(tools: &ToolConfig) -> Result<Probe, StageError> {
    probe_with((String::new(), 0), tools).await
}

/// libpq environment for `conn`: the password travels here, never in argv.
pub(crate) fn libpq_env(
    cmd: &mut tokio::process::Command,
    conn: &ConnectionString,
    database: &str,
) {
    cmd.env("PGHOST", conn.dial_host())
        .env("PGPORT", conn.dial_port().to_string())
        .env("PGUSER", &conn.user)
        .env("PGDATABASE", database)
        .env("PGAPPNAME", "backline")
        .env("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT_SECS.to_string());
    if let Some(p) = conn.password() {
        cmd.env("PGPASSWORD", p);
    }
    for (param, var) in [
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("sslcert", "PGSSLCERT"),
        ("sslkey", "PGSSLKEY"),
        ("application_name", "PGAPPNAME"),
        ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ] {
        if let Some(v) = conn.params.get(param) {
            cmd.env(var, v);
        }
    }
}

/// Starts `pg_dump` on the snapshot of a transaction that first reads the database's own
/// properties from the catalogs (see `pg_properties`), so both describe the same moment. The
/// transaction stays open until the dump ends (pg_dump imports its snapshot when it starts).
/// Where a snapshot cannot be exported (a pooler in transaction mode, say), the properties
/// are read just before the dump starts.
pub async fn spawn_dump(conn: &ConnectionString, probe: &Probe) -> Result<RunningTool, StageError> {
    let mut c = connect(conn).await?;
    let version_num: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut c)
        .await
        .map_err(|e| StageError::new(Stage::Connect, describe(&e)))?;
    let snapshot = export_snapshot(&mut c).await;
    let properties = super::pg_properties::read(&mut c, version_num, None)
        .await?
        .ok_or_else(|| {
            StageError::new(
                Stage::Connect,
                format!("database {} does not exist", conn.database),
            )
        })?;
    let mut cmd = command(&probe.dump_tool);
    cmd.args(["--format=custom", "--compress=0", "--no-password"]);
    if let Some(id) = &snapshot {
        cmd.arg(format!("--snapshot={id}"));
    }
    libpq_env(&mut cmd, conn, &conn.database);
    let mut tool = RunningTool::spawn(cmd, "pg_dump", false, true, None)?;
    tool.properties = Some(DatabaseProperties::Postgres(Box::new(properties)));
    tool.keepalive = Some(hold_open(c));
    Ok(tool)
}

/// Opens a repeatable-read transaction and exports its snapshot; `None` (and no transaction)
/// where the server or a pooler does not allow it.
async fn export_snapshot(c: &mut PgConnection) -> Option<String> {
    let begun = sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *c)
        .await;
    if begun.is_err() {
        return None;
    }
    match sqlx::query_scalar::<_, String>("SELECT pg_export_snapshot()")
        .fetch_one(&mut *c)
        .await
    {
        Ok(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
            Some(id)
        }
        result => {
            if let Err(e) = result {
                tracing::info!(error = %describe(&e), "no exported snapshot: the database's properties are read just before the dump");
            }
            let _ = sqlx::query("ROLLBACK").execute(&mut *c).await;
            None
        }
    }
}

/// Keeps `c` (and its transaction) open until the returned sender is dropped, then ends the
/// transaction and closes the connection cleanly.
fn hold_open(mut c: PgConnection) -> tokio::sync::oneshot::Sender<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = rx.await;
        let _ = sqlx::query("ROLLBACK").execute(&mut c).await;
        let _ = c.close().await;
    });
    tx
}

pub(crate) async fn exec(
    admin: &mut PgConnection,
    stage: Stage,
    sql: &str,
) -> Result<(), StageError> {
    sqlx::query(sql)
        .execute(&mut *admin)
        .await
        .map(|_| ())
        .map_err(|e| StageError::new(stage, describe(&e)))
}

/// A connection to the server's maintenance database (`postgres`, else `template1`) as the
/// user of `conn`: databases are created, renamed and dropped from there.
pub(crate) async fn maintenance(conn: &ConnectionString) -> Result<PgConnection, StageError> {
    match connect(&conn.with_database("postgres")).await {
        Ok(c) => Ok(c),
        Err(first) => connect(&conn.with_database("template1"))
            .await
            .map_err(|_| first),
    }
}

/// The server's version, major version, and a database to connect to for server-wide work:
/// the connection's own, else `postgres`, else `template1`.
pub(crate) async fn maintenance_probe(
    conn: &ConnectionString,
) -> Result<(String, u32, String), StageError> {
    let mut first = None;
    for db in [conn.database.as_str(), "postgres", "template1"] {
        match connect(&conn.with_database(db)).await {
            Ok(c) => {
                let (v, major) = version_of(c).await?;
                return Ok((v, major, db.to_string()));
            }
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    Err(first.unwrap_or_else(|| StageError::new(Stage::Connect, "no database to connect to")))
}

/// The major version in a `server_version` string (`15.19 (Debian …)` → 15).
pub(crate) fn server_major(version: &str) -> u32 {
    version
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tool_majors() {
        assert_eq!(
            major_of("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(major_of("pg_restore (PostgreSQL) 17beta1"), Some(17));
        assert_eq!(major_of("pg_dump (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(server_major("15.19 (Debian 15.19-0+deb12u1)"), 15);
        assert_eq!(server_major("17devel"), 17);
    }
}
