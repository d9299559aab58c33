//! PostgreSQL: `pg_dump -Fc -Z0` out, `pg_restore` in (into a scratch database, then swapped).

use super::process::{command, tool_version, RunningTool};
use super::{
    derived_name, find_tools, pg_ident, run_fed, Feed, Probe, RestoreOptions, RestoreOutcome,
    StageError, ToolConfig, CONNECT_TIMEOUT_SECS,
};
use backline_domain::ConnectionString;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::{Connection, Row};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

const ROOTS: &[&str] = &["/usr/lib/postgresql", "/usr/local/pgsql", "/opt/postgresql"];

fn options(conn: &ConnectionString) -> Result<PgConnectOptions, StageError> {
    let mut o = PgConnectOptions::new()
        .host(&conn.host)
        .port(conn.port)
        .username(&conn.user)
        .database(&conn.database)
        .application_name("backline");
    if let Some(p) = conn.password() {
        o = o.password(p);
    }
    if let Some(mode) = conn.params.get("sslmode") {
        let m = PgSslMode::from_str(mode)
            .map_err(|_| StageError::new("connect", format!("invalid sslmode {mode:?}")))?;
        o = o.ssl_mode(m);
    }
    if let Some(ca) = conn.params.get("sslrootcert") {
        o = o.ssl_root_cert(ca.as_str());
    }
    Ok(o)
}

pub(crate) async fn connect(conn: &ConnectionString) -> Result<PgConnection, StageError> {
    let o = options(conn)?;
    let target = format!("{}:{}", conn.host, conn.port);
    match tokio::time::timeout(
        Duration::from_secs(CONNECT_TIMEOUT_SECS),
        PgConnection::connect_with(&o),
    )
    .await
    {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(StageError::new(
            "connect",
            format!(
                "cannot connect to PostgreSQL at {target} as {}: {}",
                conn.user,
                describe(&e)
            ),
        )),
        Err(_) => Err(StageError::new(
            "connect",
            format!("PostgreSQL at {target} did not answer within {CONNECT_TIMEOUT_SECS} s"),
        )),
    }
}

fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.message().to_string(),
        other => other.to_string(),
    }
}

/// The server's version string and major version.
pub async fn server_version(conn: &ConnectionString) -> Result<(String, u32), StageError> {
    let mut c = connect(conn).await?;
    let row = sqlx::query("SELECT current_setting('server_version') AS v, current_setting('server_version_num')::int AS n")
        .fetch_one(&mut c)
        .await
        .map_err(|e| StageError::new("connect", describe(&e)))?;
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
async fn pick_tool(
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
        None => Err(StageError::new(
            "tool",
            format!(
                "no {name} with major version ≥ {server_major} is installed (found: {}); install postgresql-client-{server_major} or set BACKLINE_PG_BIN_DIR to a directory with {name} ≥ {server_major}",
                if seen.is_empty() { "none".to_string() } else { seen.join(", ") }
            ),
        )),
    }
}

pub async fn probe(conn: &ConnectionString, tools: &ToolConfig) -> Result<Probe, StageError> {
    let (server_version, major) = server_version(conn).await?;
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

/// libpq environment for `conn`: the password travels here, never in argv.
fn libpq_env(cmd: &mut tokio::process::Command, conn: &ConnectionString, database: &str) {
    cmd.env("PGHOST", &conn.host)
        .env("PGPORT", conn.port.to_string())
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

pub fn spawn_dump(conn: &ConnectionString, probe: &Probe) -> Result<RunningTool, StageError> {
    let mut cmd = command(&probe.dump_tool);
    cmd.args(["--format=custom", "--compress=0", "--no-password"]);
    libpq_env(&mut cmd, conn, &conn.database);
    RunningTool::spawn(cmd, "pg_dump", false, true, None)
}

fn conninfo_dbname(db: &str) -> String {
    format!("dbname='{}'", db.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

struct TargetProps {
    create_clause: String,
    owner: String,
}

async fn target_props(
    admin: &mut PgConnection,
    name: &str,
) -> Result<Option<TargetProps>, StageError> {
    let row = sqlx::query(
        "SELECT pg_encoding_to_char(encoding) AS enc, datcollate::text AS coll, datctype::text AS ctype, \
         pg_get_userbyid(datdba)::text AS owner FROM pg_database WHERE datname = $1",
    )
    .bind(name)
    .fetch_optional(&mut *admin)
    .await
    .map_err(|e| StageError::new("prepare", describe(&e)))?;
    Ok(row.map(|r| {
        let enc: String = r.try_get("enc").unwrap_or_else(|_| "UTF8".into());
        let coll: String = r.try_get("coll").unwrap_or_default();
        let ctype: String = r.try_get("ctype").unwrap_or_default();
        TargetProps {
            create_clause: format!(
                "TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}",
                lit(&enc),
                lit(&coll),
                lit(&ctype)
            ),
            owner: r.try_get("owner").unwrap_or_default(),
        }
    }))
}

async fn exec(admin: &mut PgConnection, stage: &'static str, sql: &str) -> Result<(), StageError> {
    sqlx::query(sql)
        .execute(&mut *admin)
        .await
        .map(|_| ())
        .map_err(|e| StageError::new(stage, describe(&e)))
}

async fn drop_db(admin: &mut PgConnection, name: &str) {
    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", pg_ident(name));
    if let Err(e) = exec(admin, "cleanup", &sql).await {
        tracing::warn!(database = name, error = %e, "could not drop scratch database");
    }
}

async fn maintenance(conn: &ConnectionString) -> Result<PgConnection, StageError> {
    match connect(&conn.with_database("postgres")).await {
        Ok(c) => Ok(c),
        Err(first) => connect(&conn.with_database("template1"))
            .await
            .map_err(|_| first),
    }
}

pub async fn restore(
    conn: &ConnectionString,
    probe: &Probe,
    options: &RestoreOptions,
    feed: &dyn Feed,
) -> Result<RestoreOutcome, StageError> {
    let target = conn.database.clone();
    let mut admin = maintenance(conn).await?;
    let props = target_props(&mut admin, &target).await?;
    let scratch = derived_name(&target, &format!("__restore_{}", options.tag), 63);
    let mut create = format!("CREATE DATABASE {}", pg_ident(&scratch));
    if let Some(p) = &props {
        create.push(' ');
        create.push_str(&p.create_clause);
    }
    exec(&mut admin, "prepare", &create)
        .await
        .map_err(|e| StageError {
            message: format!(
                "cannot create the scratch database {scratch} (the user needs CREATEDB): {}",
                e.message
            ),
            ..e
        })?;
    if let Some(p) = &props {
        let alter = format!(
            "ALTER DATABASE {} OWNER TO {}",
            pg_ident(&scratch),
            pg_ident(&p.owner)
        );
        if let Err(e) = exec(&mut admin, "prepare", &alter).await {
            tracing::info!(error = %e, "restored database keeps the restoring user as owner");
        }
    }

    let mut cmd = command(&probe.restore_tool);
    cmd.args(["--no-password", "--exit-on-error"]);
    if options.no_owner {
        cmd.args(["--no-owner", "--no-privileges"]);
    }
    cmd.arg(format!("--dbname={}", conninfo_dbname(&scratch)));
    libpq_env(&mut cmd, conn, &scratch);
    let loaded = match RunningTool::spawn(cmd, "pg_restore", true, false, None) {
        Ok(tool) => run_fed(tool, feed).await,
        Err(e) => Err(e),
    };
    if let Err(e) = loaded {
        drop_db(&mut admin, &scratch).await;
        return Err(e);
    }

    // Swap: the target's current contents step aside (kept or dropped), the scratch takes its name.
    let mut kept = None;
    if props.is_some() {
        let keep_name = derived_name(
            &target,
            &format!(
                "_before_restore_{}",
                chrono::Utc::now().format("%Y%m%d%H%M%S")
            ),
            63,
        );
        let mut attempt = 0;
        loop {
            attempt += 1;
            let _ = sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind(&target)
            .execute(&mut admin)
            .await;
            let sql = format!(
                "ALTER DATABASE {} RENAME TO {}",
                pg_ident(&target),
                pg_ident(&keep_name)
            );
            match exec(&mut admin, "swap", &sql).await {
                Ok(()) => break,
                Err(e) if attempt < 20 => {
                    tracing::debug!(error = %e, "target busy, retrying the swap");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => {
                    drop_db(&mut admin, &scratch).await;
                    return Err(StageError {
                        message: format!(
                            "could not take over {target}: {} (clients keep reconnecting to it?)",
                            e.message
                        ),
                        ..e
                    });
                }
            }
        }
        kept = Some(keep_name);
    }
    let promote = format!(
        "ALTER DATABASE {} RENAME TO {}",
        pg_ident(&scratch),
        pg_ident(&target)
    );
    if let Err(e) = exec(&mut admin, "swap", &promote).await {
        if let Some(k) = &kept {
            let back = format!(
                "ALTER DATABASE {} RENAME TO {}",
                pg_ident(k),
                pg_ident(&target)
            );
            let _ = exec(&mut admin, "swap", &back).await;
        }
        drop_db(&mut admin, &scratch).await;
        return Err(e);
    }
    if let (Some(k), false) = (&kept, options.keep_previous) {
        drop_db(&mut admin, k).await;
        kept = None;
    }
    let _ = admin.close().await;
    Ok(RestoreOutcome {
        previous_kept_as: kept,
    })
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
    }

    #[test]
    fn quotes() {
        assert_eq!(conninfo_dbname("a'b\\c"), "dbname='a\\'b\\\\c'");
        assert_eq!(pg_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
