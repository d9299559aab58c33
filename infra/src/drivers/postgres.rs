//! PostgreSQL: `pg_dump -Fc -Z0` out, `pg_restore` in (into a scratch database, then swapped).

use super::process::{command, tool_version, RunningTool};
use super::{
    derived_name, find_tools, pg_ident, run_fed, Feed, Probe, RestoreOptions, RestoreOutcome,
    StageError, ToolConfig, CONNECT_TIMEOUT_SECS,
};
use backline_domain::{ConnectionString, Engine};
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
    let c = connect(conn).await?;
    version_of(c).await
}

async fn version_of(mut c: PgConnection) -> Result<(String, u32), StageError> {
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
    // Database-level properties as they were at backup time (reads only the start of the
    // stream): the encoding and locale the database is created with, then its comment,
    // settings and grants.
    let archived = database_properties(probe, feed).await?;
    let scratch = super::scratch_name(Engine::Postgres, &target, &options.tag);
    let plain = format!("CREATE DATABASE {}", pg_ident(&scratch));
    let mut attempts = Vec::new();
    if let Some(o) = &archived.create_options {
        attempts.push(format!("{plain} WITH {o}"));
    }
    // The archive's locale may not exist on this server: then the target's, or the defaults.
    attempts.push(match &props {
        Some(p) => format!("{plain} {}", p.create_clause),
        None => plain.clone(),
    });
    let mut created = Err(StageError::new("prepare", "no CREATE DATABASE to run"));
    for (i, create) in attempts.iter().enumerate() {
        created = exec(&mut admin, "prepare", create).await;
        match &created {
            Ok(()) => break,
            Err(e) if i + 1 < attempts.len() => {
                tracing::warn!(error = %e, "the archive's encoding/locale is not available here; using the target's")
            }
            Err(_) => {}
        }
    }
    created.map_err(|e| StageError {
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
        Ok(tool) => run_fed(tool, feed, false).await,
        Err(e) => Err(e),
    };
    if let Err(mut e) = loaded {
        drop_db(&mut admin, &scratch).await;
        let text = format!("{} {}", e.message, e.stderr_tail);
        if !options.no_owner && text.contains("role \"") && text.contains("does not exist") {
            e.message.push_str(
                " (the backup names roles this server does not have: create them, or restore \
                 without ownership and grants: \"no_owner\": true in the API, --no-owner in the CLI)",
            );
        }
        return Err(e);
    }
    for stmt in archived.statements(&scratch, options.no_owner) {
        if let Err(e) = exec(&mut admin, "restore", &stmt).await {
            tracing::warn!(error = %e, "a database-level property could not be restored");
        }
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

/// The database-level statements of an archive (`COMMENT ON DATABASE`, `ALTER DATABASE … SET`,
/// `GRANT … ON DATABASE`, `ALTER ROLE … IN DATABASE`), as `pg_restore --create` prints them.
struct DatabaseProperties {
    source: Option<String>,
    /// What follows `WITH` in the archive's `CREATE DATABASE` (template, encoding, locale
    /// provider, collation, ctype, ICU locale).
    create_options: Option<String>,
    statements: Vec<String>,
}

impl DatabaseProperties {
    fn parse(sql: &str) -> Self {
        let mut source = None;
        let mut create_options = None;
        let mut statements = Vec::new();
        for raw in split_statements(sql) {
            let stmt: String = raw
                .lines()
                .skip_while(|l| {
                    let t = l.trim_start();
                    t.is_empty() || t.starts_with("--") || t.starts_with('\\')
                })
                .collect::<Vec<_>>()
                .join("\n");
            let stmt = stmt.trim().to_string();
            if let Some(rest) = stmt.strip_prefix("CREATE DATABASE ") {
                let (name, options) = match rest.split_once(" WITH ") {
                    Some((n, o)) => (n, Some(o.trim().trim_end_matches(';').trim().to_string())),
                    None => (rest.trim_end_matches(';'), None),
                };
                source = Some(name.trim().to_string());
                create_options = options.filter(|o| !o.is_empty());
                continue;
            }
            let upper = stmt.to_ascii_uppercase();
            let wanted = upper.starts_with("COMMENT ON DATABASE ")
                || (upper.starts_with("ALTER DATABASE ") && !upper.contains(" OWNER TO "))
                || ((upper.starts_with("GRANT ") || upper.starts_with("REVOKE "))
                    && upper.contains(" ON DATABASE "))
                || (upper.starts_with("ALTER ROLE ") && upper.contains(" IN DATABASE "))
                || upper.starts_with("SECURITY LABEL ");
            if wanted {
                statements.push(stmt);
            }
        }
        Self {
            source,
            create_options,
            statements,
        }
    }

    /// The statements, aimed at `target` instead of the database they were dumped from.
    fn statements(&self, target: &str, no_owner: bool) -> Vec<String> {
        let Some(src) = &self.source else {
            return vec![];
        };
        let to = pg_ident(target);
        self.statements
            .iter()
            .filter(|s| {
                let u = s.to_ascii_uppercase();
                !(no_owner
                    && (u.starts_with("GRANT ")
                        || u.starts_with("REVOKE ")
                        || u.starts_with("ALTER ROLE ")))
            })
            .map(|s| {
                s.replace(&format!("DATABASE {src} "), &format!("DATABASE {to} "))
                    .replace(&format!("DATABASE {src};"), &format!("DATABASE {to};"))
            })
            .map(|s| if s.ends_with(';') { s } else { format!("{s};") })
            .collect()
    }
}

/// Splits SQL on `;` outside single-quoted strings and `--` comments.
fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut in_comment = false;
    let mut prev = '\0';
    for c in sql.chars() {
        cur.push(c);
        if in_comment {
            in_comment = c != '\n';
        } else {
            match c {
                '\'' => in_quote = !in_quote,
                '-' if prev == '-' && !in_quote => in_comment = true,
                ';' if !in_quote => out.push(std::mem::take(&mut cur)),
                _ => {}
            }
        }
        prev = c;
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// Reads the archive's table of contents (only the start of the stream) for its
/// database-level properties.
async fn database_properties(
    probe: &Probe,
    feed: &dyn Feed,
) -> Result<DatabaseProperties, StageError> {
    let mut cmd = command(&probe.restore_tool);
    cmd.args(["--create", "--schema-only", "--file=-"]);
    let mut tool = RunningTool::spawn(cmd, "pg_restore", true, true, None)?;
    let Some(mut stdout) = tool.stdout.take() else {
        return Err(StageError::new("restore", "pg_restore has no stdout"));
    };
    let reader = tokio::spawn(async move {
        let mut text = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut text).await;
        text
    });
    let Some(mut stdin) = tool.stdin.take() else {
        return Err(StageError::new("restore", "pg_restore has no stdin"));
    };
    // pg_restore stops reading once it has the table of contents: a broken pipe is expected.
    let fed = feed.feed(&mut stdin).await;
    drop(stdin);
    tool.finish("restore").await?;
    if let Err(e) = fed {
        if e.stage != "feed" {
            return Err(e);
        }
    }
    let sql = reader.await.unwrap_or_default();
    Ok(DatabaseProperties::parse(&sql))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_properties_are_retargeted() {
        let sql = "--\n-- Name: shop; Type: DATABASE\n--\n\nCREATE DATABASE \"Shop\" WITH TEMPLATE = template0 ENCODING = 'UTF8';\n\n\nALTER DATABASE \"Shop\" OWNER TO postgres;\n\\connect \"Shop\"\n\nCOMMENT ON DATABASE \"Shop\" IS 'a; b\nc';\nALTER DATABASE \"Shop\" SET search_path TO 'a', 'b';\nGRANT CONNECT ON DATABASE \"Shop\" TO reader;\nALTER ROLE reader IN DATABASE \"Shop\" SET work_mem TO '8MB';\nCREATE TABLE t (x int);\n";
        let p = DatabaseProperties::parse(sql);
        assert_eq!(p.source.as_deref(), Some("\"Shop\""));
        assert_eq!(
            p.create_options.as_deref(),
            Some("TEMPLATE = template0 ENCODING = 'UTF8'")
        );
        let s = p.statements("shop__restore_1", false);
        assert_eq!(
            s,
            vec![
                "COMMENT ON DATABASE \"shop__restore_1\" IS 'a; b\nc';",
                "ALTER DATABASE \"shop__restore_1\" SET search_path TO 'a', 'b';",
                "GRANT CONNECT ON DATABASE \"shop__restore_1\" TO reader;",
                "ALTER ROLE reader IN DATABASE \"shop__restore_1\" SET work_mem TO '8MB';",
            ]
        );
        assert_eq!(p.statements("x", true).len(), 2);
    }

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
