//! MySQL/MariaDB: `mariadb-dump`/`mysqldump` out, `mariadb`/`mysql` in. Credentials travel in
//! a 0600 options file (`--defaults-extra-file`), never in argv.

use super::process::{command, tool_version, RunningTool};
use super::{find_tools, Probe, StageError, ToolConfig, CONNECT_TIMEOUT_SECS};
use crate::sql::my_option_value;
use backline_domain::Stage;
use backline_domain::{ConnectionString, DatabaseProperties, MyDatabaseProperties};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlSslMode};
use sqlx::{Connection, Row};
use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

fn options(
    conn: &ConnectionString,
    database: Option<&str>,
) -> Result<MySqlConnectOptions, StageError> {
    let mut o = MySqlConnectOptions::new()
        .host(conn.dial_host())
        .port(conn.dial_port())
        .username(&conn.user)
        .charset("utf8mb4");
    if let Some(db) = database {
        o = o.database(db);
    }
    if let Some(p) = conn.password() {
        o = o.password(p);
    }
    let mode = conn.params.get("ssl-mode").or(conn.params.get("sslmode"));
    if let Some(mode) = mode {
        let m = MySqlSslMode::from_str(mode)
            .map_err(|_| StageError::new(Stage::Connect, format!("invalid ssl-mode {mode:?}")))?;
        o = o.ssl_mode(m);
    }
    if let Some(ca) = conn.params.get("ssl-ca") {
        o = o.ssl_ca(ca.as_str());
    }
    Ok(o)
}

pub(super) async fn connect(
    conn: &ConnectionString,
    database: Option<&str>,
) -> Result<MySqlConnection, StageError> {
    let o = options(conn, database)?;
    let target = format!("{}:{}", conn.dial_host(), conn.dial_port());
    match tokio::time::timeout(
        Duration::from_secs(CONNECT_TIMEOUT_SECS),
        MySqlConnection::connect_with(&o),
    )
    .await
    {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(StageError::new(
            Stage::Connect,
            format!(
                "cannot connect to MySQL/MariaDB at {target} as {}: {}",
                conn.user,
                describe(&e)
            ),
        )),
        Err(_) => Err(StageError::new(
            Stage::Connect,
            format!("MySQL/MariaDB at {target} did not answer within {CONNECT_TIMEOUT_SECS} s"),
        )),
    }
}

pub(super) fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.message().to_string(),
        other => other.to_string(),
    }
}

pub async fn server_version(conn: &ConnectionString) -> Result<String, StageError> {
    version_of(conn, Some(&conn.database)).await
}

/// The server's version, asked without a database.
pub(crate) async fn server_version_any(conn: &ConnectionString) -> Result<String, StageError> {
    version_of(conn, None).await
}

async fn version_of(conn: &ConnectionString, database: Option<&str>) -> Result<String, StageError> {
    let mut c = connect(conn, database).await?;
    let row = sqlx::query("SELECT VERSION() AS v")
        .fetch_one(&mut c)
        .await
        .map_err(|e| StageError::new(Stage::Connect, describe(&e)))?;
    let v: String = row.try_get("v").unwrap_or_default();
    let _ = c.close().await;
    Ok(v)
}

async fn pick(names: &[&str], tools: &ToolConfig) -> Result<(PathBuf, String), StageError> {
    for name in names {
        if let Some(path) = find_tools(name, tools.mysql_bin_dir.as_ref(), &[])
            .into_iter()
            .next()
        {
            let v = tool_version(&path)
                .await
                .unwrap_or_else(|| name.to_string());
            return Ok((path, v));
        }
    }
    Err(StageError::new(Stage::Tool,
        format!(
            "none of {} is installed; install mariadb-client (or mysql-client) or set BACKLINE_MYSQL_BIN_DIR",
            names.join(", ")
        ),
    ))
}

pub async fn probe(conn: &ConnectionString, tools: &ToolConfig) -> Result<Probe, StageError> {
    let version = server_version(conn).await?;
    probe_with(version, tools).await
}

/// `probe` for a restore target, which may not exist yet (the restore creates it).
pub async fn probe_target(
    conn: &ConnectionString,
    tools: &ToolConfig,
) -> Result<Probe, StageError> {
    let version = version_of(conn, None).await?;
    probe_with(version, tools).await
}

async fn probe_with(server_version: String, tools: &ToolConfig) -> Result<Probe, StageError> {
    let (dump_tool, dump_tool_version) = pick(&["mariadb-dump", "mysqldump"], tools).await?;
    let (restore_tool, restore_tool_version) = pick(&["mariadb", "mysql"], tools).await?;
    Ok(Probe {
        server_version,
        dump_tool,
        dump_tool_version,
        restore_tool,
        restore_tool_version,
    })
}

/// The client options file's text for `conn`, for a client tool whose `--version` line is
/// `tool_version` (MariaDB's and MySQL's clients spell certificate checks differently).
fn options_text(conn: &ConnectionString, tool_version: &str) -> String {
    let mut text = String::from("[client]\n");
    text.push_str(&format!("host={}\n", my_option_value(conn.dial_host())));
    text.push_str(&format!("port={}\n", conn.dial_port()));
    text.push_str(&format!("user={}\n", my_option_value(&conn.user)));
    text.push_str("protocol=TCP\n");
    if let Some(p) = conn.password() {
        text.push_str(&format!("password={}\n", my_option_value(p)));
    }
    let mode = conn
        .params
        .get("ssl-mode")
        .or(conn.params.get("sslmode"))
        .map(|m| m.to_ascii_uppercase().replace('-', "_"));
    let verify = matches!(mode.as_deref(), Some("VERIFY_CA" | "VERIFY_IDENTITY"));
    match mode.as_deref() {
        None => {}
        Some("DISABLED") => text.push_str("skip-ssl\n"),
        Some(m) if !is_mariadb(tool_version) => {
            // MySQL's clients take the mode itself.
            text.push_str(&format!("ssl-mode={m}\n"));
        }
        Some(_) => {
            text.push_str("ssl\n");
            if verify {
                // MariaDB's clients check the chain against the CA and the host name.
                text.push_str("ssl-verify-server-cert\n");
            }
        }
    }
    for key in ["ssl-ca", "ssl-cert", "ssl-key"] {
        if let Some(v) = conn.params.get(key) {
            text.push_str(&format!("{key}={}\n", my_option_value(v)));
        }
    }
    text
}

/// A 0600 options file with host, port, user, password and TLS options for the client tools.
pub(super) fn options_file(
    conn: &ConnectionString,
    tool_version: &str,
) -> Result<tempfile::NamedTempFile, StageError> {
    let err = |e: std::io::Error| {
        StageError::new(
            Stage::Tool,
            format!("cannot write the client options file: {e}"),
        )
    };
    // tempfile creates files with mode 0600.
    let mut f = tempfile::Builder::new()
        .prefix("backline-my-")
        .suffix(".cnf")
        .tempfile()
        .map_err(err)?;
    f.write_all(options_text(conn, tool_version).as_bytes())
        .map_err(err)?;
    f.flush().map_err(err)?;
    Ok(f)
}

/// MariaDB's dump tool from 10.11 on can dump system-versioned tables with their history.
fn supports_dump_history(version_line: &str) -> bool {
    if !is_mariadb(version_line) {
        return false;
    }
    let Some(v) = version_line.split("Distrib ").nth(1) else {
        return false;
    };
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (10, 11)
}

pub(super) fn is_mariadb(version_line: &str) -> bool {
    version_line.contains("MariaDB") || version_line.starts_with("mariadb")
}

pub async fn spawn_dump(conn: &ConnectionString, probe: &Probe) -> Result<RunningTool, StageError> {
    // The source's default character set and collation (what `--databases` would record in
    // its CREATE DATABASE), so that a restore recreates them; see `mysql_stream`.
    let mut history = supports_dump_history(&probe.dump_tool_version);
    let (prelude, warnings, properties) = {
        let mut c = connect(conn, None).await?;
        let s = schema(&mut c, &conn.database).await?;
        let mut warnings = if is_mariadb(&probe.server_version) {
            float_warnings(&mut c, &conn.database).await
        } else {
            Vec::new()
        };
        if history {
            if let Some(w) = history_warning(&mut c, &conn.database).await {
                history = false;
                warnings.push(w);
            }
        }
        let _ = c.close().await;
        let s = s.ok_or_else(|| {
            StageError::new(
                Stage::Connect,
                format!("database {} does not exist", conn.database),
            )
        })?;
        let properties = MyDatabaseProperties::parse(&s.charset, &s.collation);
        (
            properties
                .as_ref()
                .map(super::mysql_stream::defaults_prelude)
                .unwrap_or_default(),
            warnings,
            properties,
        )
    };
    let opts = options_file(conn, &probe.dump_tool_version)?;
    let mut cmd = command(&probe.dump_tool);
    cmd.arg(format!("--defaults-extra-file={}", opts.path().display()));
    cmd.args([
        "--single-transaction",
        "--quick",
        "--routines",
        "--triggers",
        "--events",
        "--hex-blob",
        "--default-character-set=utf8mb4",
        "--no-tablespaces",
        // No LOCK TABLES around each table's rows: under it, rows of a table whose default is
        // NEXTVAL(seq) cannot be loaded (see `mysql_stream`).
        "--skip-add-locks",
    ]);
    if history {
        // System-versioned tables keep their history rows.
        cmd.arg("--dump-history");
    }
    if !is_mariadb(&probe.dump_tool_version) {
        cmd.args(["--set-gtid-purged=OFF"]);
        if is_mariadb(&probe.server_version) {
            cmd.arg("--column-statistics=0");
        }
    }
    cmd.arg("--").arg(&conn.database);
    let name = super::process::tool_name(&probe.dump_tool);
    let mut tool = RunningTool::spawn(cmd, &name, false, true, Some(opts))?;
    tool.prelude = prelude;
    tool.warnings = warnings;
    tool.properties = properties.map(DatabaseProperties::Mysql);
    Ok(tool)
}

/// `mariadb-dump --dump-history` refuses a database with a transaction-precise
/// system-versioned table (`ROW START` a transaction id): rather than no backup at all, the
/// dump goes without history, and the backup says whose history it does not keep.
async fn history_warning(c: &mut MySqlConnection, database: &str) -> Option<String> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT CAST(t.TABLE_NAME AS CHAR), \
                CAST(EXISTS (SELECT 1 FROM information_schema.COLUMNS c \
                  WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME \
                  AND c.GENERATION_EXPRESSION = 'ROW START' AND c.DATA_TYPE = 'bigint') AS SIGNED) \
         FROM information_schema.TABLES t \
         WHERE t.TABLE_SCHEMA = ? AND t.TABLE_TYPE = 'SYSTEM VERSIONED' ORDER BY t.TABLE_NAME",
    )
    .bind(database)
    .fetch_all(&mut *c)
    .await
    .ok()?;
    let precise: Vec<&str> = rows
        .iter()
        .filter(|(_, p)| *p == 1)
        .map(|(t, _)| t.as_str())
        .collect();
    if precise.is_empty() {
        return None;
    }
    let all: Vec<&str> = rows.iter().map(|(t, _)| t.as_str()).collect();
    Some(format!(
        "transaction-precise system-versioned table{} {}: mariadb-dump cannot dump their history, so this backup keeps only the current rows of every system-versioned table ({})",
        if precise.len() == 1 { "" } else { "s" },
        precise.join(", "),
        all.join(", ")
    ))
}

/// MariaDB writes FLOAT values without a declared scale with 6 significant digits (MySQL
/// writes the shortest exact form), so `mariadb-dump` cannot keep those that need more:
/// 16777217 comes back as 16777200, 3.1415927 as 3.14159. No dump option changes it; the
/// backup says so instead of keeping quiet.
async fn float_warnings(c: &mut MySqlConnection, database: &str) -> Vec<String> {
    const SHOWN: usize = 10;
    let columns: Vec<String> = match sqlx::query_scalar(
        "SELECT CONCAT(CAST(TABLE_NAME AS CHAR), '.', CAST(COLUMN_NAME AS CHAR)) \
         FROM information_schema.COLUMNS c \
         WHERE TABLE_SCHEMA = ? AND DATA_TYPE = 'float' AND NUMERIC_SCALE IS NULL \
         AND EXISTS (SELECT 1 FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = c.TABLE_SCHEMA \
                     AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE <> 'VIEW') \
         ORDER BY TABLE_NAME, ORDINAL_POSITION",
    )
    .bind(database)
    .fetch_all(&mut *c)
    .await
    {
        Ok(c) => c,
        Err(e) => {
            return vec![format!(
                "could not check for FLOAT columns (whose values mariadb-dump rounds to 6 significant digits): {}",
                describe(&e)
            )]
        }
    };
    if columns.is_empty() {
        return Vec::new();
    }
    let mut shown = columns
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if columns.len() > SHOWN {
        shown.push_str(&format!(" and {} more", columns.len() - SHOWN));
    }
    vec![format!(
        "FLOAT column{} {shown}: mariadb-dump writes FLOAT values with 6 significant digits, so values that need more come back rounded (DOUBLE or DECIMAL columns are kept exactly)",
        if columns.len() == 1 { "" } else { "s" }
    )]
}

pub(super) async fn exec(
    c: &mut MySqlConnection,
    stage: Stage,
    sql: &str,
) -> Result<(), StageError> {
    sqlx::query(sql)
        .persistent(false)
        .execute(&mut *c)
        .await
        .map(|_| ())
        .map_err(|e| StageError::new(stage, describe(&e)))
}

pub(super) struct Schema {
    pub(super) charset: String,
    pub(super) collation: String,
    pub(super) objects: i64,
}

pub(super) async fn schema(
    c: &mut MySqlConnection,
    name: &str,
) -> Result<Option<Schema>, StageError> {
    let row = sqlx::query(
        "SELECT CAST(DEFAULT_CHARACTER_SET_NAME AS CHAR) AS cs, CAST(DEFAULT_COLLATION_NAME AS CHAR) AS co, \
         (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?) \
         + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?) \
         + (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?) AS n \
         FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    )
    .bind(name)
    .bind(name)
    .bind(name)
    .bind(name)
    .fetch_optional(&mut *c)
    .await
    .map_err(|e| StageError::new(Stage::Prepare, describe(&e)))?;
    Ok(row.map(|r| Schema {
        charset: r.try_get("cs").unwrap_or_else(|_| "utf8mb4".into()),
        collation: r
            .try_get("co")
            .unwrap_or_else(|_| "utf8mb4_general_ci".into()),
        objects: r.try_get("n").unwrap_or(0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_history_needs_mariadb_10_11() {
        assert!(supports_dump_history(
            "mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)"
        ));
        assert!(supports_dump_history(
            "mariadb-dump from 11.4.2-MariaDB, client 10.19 Distrib 11.4.2-MariaDB"
        ));
        assert!(!supports_dump_history(
            "mysqldump  Ver 10.19 Distrib 10.6.12-MariaDB, for debian-linux-gnu"
        ));
        assert!(!supports_dump_history(
            "mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)"
        ));
    }

    fn conn(url: &str) -> ConnectionString {
        ConnectionString::parse(backline_domain::Engine::Mysql, url).unwrap()
    }

    const MARIADB: &str = "mariadb  Ver 15.1 Distrib 10.11.19-MariaDB, for debian-linux-gnu";
    const MYSQL: &str = "mysql  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)";

    #[test]
    fn options_file_quotes_values() {
        let t = options_text(&conn("mysql://u%22x:p%22a%5Css@db:3307/shop"), MARIADB);
        assert_eq!(
            t,
            "[client]\nhost=\"db\"\nport=3307\nuser=\"u\\\"x\"\nprotocol=TCP\npassword=\"p\\\"a\\\\ss\"\n"
        );
    }

    #[test]
    fn verify_modes_check_the_server_certificate() {
        for mode in ["VERIFY_CA", "VERIFY_IDENTITY", "verify_identity"] {
            let c = conn(&format!(
                "mysql://u:p@db/shop?ssl-mode={mode}&ssl-ca=%2Fetc%2Fca.pem"
            ));
            let t = options_text(&c, MARIADB);
            assert!(t.contains("\nssl\nssl-verify-server-cert\n"), "{t}");
            assert!(t.contains("ssl-ca=\"/etc/ca.pem\"\n"), "{t}");
            let t = options_text(&c, MYSQL);
            assert!(
                t.contains(&format!("ssl-mode={}\n", mode.to_ascii_uppercase())),
                "{t}"
            );
            assert!(!t.contains("\nssl\n"), "{t}");
        }
        let t = options_text(&conn("mysql://u:p@db/shop?ssl-mode=REQUIRED"), MARIADB);
        assert!(t.contains("\nssl\n") && !t.contains("verify"), "{t}");
        let t = options_text(&conn("mysql://u:p@db/shop?ssl-mode=DISABLED"), MARIADB);
        assert!(t.contains("skip-ssl\n"), "{t}");
    }
}
