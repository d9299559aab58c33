//! Continuous archiving of a PostgreSQL server: the prerequisite checks (each failing one with
//! its exact fix), the physical replication slot, `pg_receivewal` and `pg_basebackup` of the
//! server's own major version.
//!
//! As pgBackRest and Barman do, WAL comes over the replication protocol into a spool directory;
//! a segment is complete once `pg_receivewal` renames it from `.partial`, and only complete
//! segments leave the spool (see `app::archiving`).

use super::postgres::{connect, describe, libpq_env};
use super::process::{command, tool_version, RunningTool};
use super::{find_tools, StageError, ToolConfig};
use backline_domain::wal::{Lsn, WalError};
use backline_domain::{ConnectionString, Stage};
use sqlx::Row;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

const ROOTS: &[&str] = &["/usr/lib/postgresql", "/usr/local/pgsql", "/opt/postgresql"];

/// What the server says about itself, once every prerequisite holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFacts {
    pub system_identifier: String,
    pub server_major: u32,
    pub wal_segment_size: u64,
}

/// Checks wal_level, the role's REPLICATION attribute and a free slot and WAL sender. `Err`
/// lists every missing prerequisite with the exact fix; `slot` may already exist (ours).
pub async fn check_prerequisites(
    conn: &ConnectionString,
    slot: &str,
) -> Result<ServerFacts, Vec<String>> {
    let mut c = connect(conn).await.map_err(|e| vec![e.message])?;
    let row = sqlx::query(
        "SELECT current_setting('wal_level') AS wal_level, \
           (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can_replicate, \
           current_setting('max_replication_slots')::int AS max_slots, \
           (SELECT count(*) FROM pg_replication_slots)::int AS used_slots, \
           current_setting('max_wal_senders')::int AS max_senders, \
           (SELECT count(*) FROM pg_stat_replication)::int AS senders, \
           (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size') AS seg, \
           current_setting('server_version_num')::int AS version_num, \
           EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1) AS slot_exists",
    )
    .bind(slot)
    .fetch_one(&mut c)
    .await
    .map_err(|e| vec![format!("cannot read the server's settings: {}", describe(&e))])?;
    let get_i = |n: &str| row.try_get::<i32, _>(n).unwrap_or_default();
    let wal_level: String = row.try_get("wal_level").unwrap_or_default();
    let can_replicate: bool = row.try_get("can_replicate").unwrap_or(false);
    let slot_exists: bool = row.try_get("slot_exists").unwrap_or(false);
    let seg: i64 = row.try_get("seg").unwrap_or_default();
    let mut missing = Vec::new();
    if wal_level == "minimal" {
        missing.push("wal_level is minimal: set `wal_level = replica` in postgresql.conf (or run `ALTER SYSTEM SET wal_level = replica`) and restart the server".to_string());
    }
    if !can_replicate {
        missing.push(format!(
            "role {user} cannot stream WAL: run `ALTER ROLE {ident} REPLICATION;` as a superuser",
            user = conn.user,
            ident = super::pg_ident(&conn.user)
        ));
    }
    let (max_slots, used) = (get_i("max_slots"), get_i("used_slots"));
    if !slot_exists && used >= max_slots {
        missing.push(format!("all {max_slots} replication slots are in use: raise `max_replication_slots` in postgresql.conf and restart, or drop an unused slot with `SELECT pg_drop_replication_slot('<name>');`"));
    }
    let (max_senders, senders) = (get_i("max_senders"), get_i("senders"));
    if senders >= max_senders {
        missing.push(format!("all {max_senders} WAL senders are busy: raise `max_wal_senders` in postgresql.conf and restart the server"));
    }
    let wal_segment_size = backline_domain::wal::check_segment_size(seg as u64)
        .map_err(|e: WalError| vec![format!("unexpected wal_segment_size: {e}")])?;
    if !missing.is_empty() {
        return Err(missing);
    }
    // pg_control_system() may be closed to this role; the identifier only guards against mixing
    // two clusters' WAL, so its absence is not a failure.
    let system_identifier: String =
        sqlx::query_scalar("SELECT system_identifier::text FROM pg_control_system()")
            .fetch_one(&mut c)
            .await
            .unwrap_or_default();
    Ok(ServerFacts {
        system_identifier,
        server_major: (get_i("version_num") / 10000) as u32,
        wal_segment_size,
    })
}

/// The replication slot of the archive of database `database_id`.
pub fn slot_name(database_id: &str) -> String {
    let id: String = database_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!("backline_{}", &id[..id.len().min(40)])
}

/// The `name` tool (pg_receivewal, pg_basebackup, postgres) of exactly major `major`: WAL and
/// base backups are read and replayed by the server's own version.
pub async fn exact_tool(name: &str, tools: &ToolConfig, major: u32) -> Result<PathBuf, StageError> {
    let mut seen = Vec::new();
    for path in find_tools(name, tools.pg_bin_dir.as_ref(), ROOTS) {
        let Some(line) = tool_version(&path).await else {
            continue;
        };
        let found = line
            .split(')')
            .nth(1)
            .map(|v| {
                v.trim()
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|d| d.parse::<u32>().ok());
        if found == Some(major) {
            return Ok(path);
        }
        seen.push(format!(
            "{} ({})",
            path.display(),
            found.unwrap_or_default()
        ));
    }
    let package = if name == "postgres" {
        format!("postgresql-{major}")
    } else {
        format!("postgresql-client-{major}")
    };
    Err(StageError::new(
        Stage::Tool,
        format!(
            "no {name} of PostgreSQL {major} is installed on the Backline host (found: {}); install the package {package} (the container image ships it), or set BACKLINE_PG_BIN_DIR to its bin directory",
            if seen.is_empty() { "none".to_string() } else { seen.join(", ") }
        ),
    ))
}

/// Creates the physical slot over the replication protocol (`pg_receivewal --create-slot`), so
/// that a missing `replication` line in pg_hba.conf shows here, with its fix.
pub async fn create_slot(
    conn: &ConnectionString,
    receivewal: &Path,
    slot: &str,
) -> Result<(), StageError> {
    // The slot reserves WAL from the moment it exists (`pg_receivewal --create-slot` does not:
    // its restart LSN stays empty until the receiver first connects, so a base backup taken
    // right after enabling could start in a segment the receiver never streams).
    reserve_slot(conn, slot).await?;
    let mut cmd = command(receivewal);
    libpq_env(&mut cmd, conn, "replication");
    cmd.args(["--create-slot", "--if-not-exists", "--slot", slot]);
    let tool = RunningTool::spawn(cmd, "pg_receivewal", false, false, None)?;
    tool.finish(Stage::Connect).await.map(|_| ()).map_err(|mut e| {
        if e.stderr_tail.contains("pg_hba.conf") {
            e.message = format!(
                "the server refuses replication connections from Backline: add `host replication {} <Backline's address>/32 scram-sha-256` (or your usual method) to pg_hba.conf and reload the server ({})",
                conn.user, e.message
            );
        }
        e
    })
}

/// Creates the physical slot with its WAL reserved now, unless it exists.
async fn reserve_slot(conn: &ConnectionString, slot: &str) -> Result<(), StageError> {
    let mut c = connect(conn).await?;
    let created = sqlx::query(
        "SELECT pg_create_physical_replication_slot($1, true) \
         WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
    )
    .bind(slot)
    .execute(&mut c)
    .await;
    match created {
        Ok(_) => Ok(()),
        // Another process created it between the check and the call: it is there.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42710") => Ok(()),
        Err(e) => Err(StageError::new(Stage::Connect, describe(&e))),
    }
}

/// Drops the slot once nothing streams from it; true when it is gone.
pub async fn drop_slot(conn: &ConnectionString, slot: &str) -> Result<bool, StageError> {
    let mut c = connect(conn).await?;
    let failed = |e: sqlx::Error| StageError::new(Stage::Connect, describe(&e));
    sqlx::query(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
         WHERE slot_name = $1 AND NOT active",
    )
    .bind(slot)
    .execute(&mut c)
    .await
    .map_err(failed)?;
    let left: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
    )
    .bind(slot)
    .fetch_one(&mut c)
    .await
    .map_err(failed)?;
    Ok(!left)
}

/// Starts `pg_receivewal` into `spool` on `slot`; it exits on any connection error (the
/// supervisor restarts it with back-off).
pub fn spawn_receivewal(
    conn: &ConnectionString,
    receivewal: &Path,
    slot: &str,
    spool: &Path,
) -> Result<RunningTool, StageError> {
    let mut cmd = command(receivewal);
    libpq_env(&mut cmd, conn, "replication");
    cmd.arg("--directory")
        .arg(spool)
        .args(["--slot", slot, "--no-loop", "--status-interval", "1"]);
    die_with_parent(&mut cmd);
    RunningTool::spawn(cmd, "pg_receivewal", false, false, None)
}

/// Starts `pg_basebackup` writing one tar stream (its manifest last) to stdout. The WAL it
/// needs comes from the archive (`-X none`), which is what makes it a base for point-in-time
/// recovery.
pub fn spawn_basebackup(
    conn: &ConnectionString,
    basebackup: &Path,
) -> Result<RunningTool, StageError> {
    let mut cmd = command(basebackup);
    libpq_env(&mut cmd, conn, "replication");
    cmd.args([
        "--pgdata=-",
        "--format=tar",
        "--wal-method=none",
        "--checkpoint=fast",
    ]);
    RunningTool::spawn(cmd, "pg_basebackup", false, true, None)
}

/// A receiver must not outlive the Backline process that supervises it (it would hold the
/// slot while another node takes over): the kernel kills it when its parent goes.
pub(crate) fn die_with_parent(cmd: &mut tokio::process::Command) {
    // SAFETY: the closure runs in the child between fork and exec and only makes one
    // async-signal-safe system call (prctl PR_SET_PDEATHSIG).
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
}

/// How much of a base backup's end is kept to read its manifest's WAL range from.
const TAIL: usize = 64 * 1024;

/// Passes a base backup's tar stream through, keeping its last bytes: `backup_manifest` is the
/// stream's last entry, and its `WAL-Ranges` give the start and stop LSN.
pub struct KeepTail<R> {
    inner: R,
    tail: Arc<Mutex<Vec<u8>>>,
}

impl<R> KeepTail<R> {
    pub fn new(inner: R) -> (Self, Arc<Mutex<Vec<u8>>>) {
        let tail = Arc::new(Mutex::new(Vec::with_capacity(2 * TAIL)));
        (
            Self {
                inner,
                tail: tail.clone(),
            },
            tail,
        )
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for KeepTail<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let new = &buf.filled()[before..];
        if let Ok(mut t) = self.tail.lock() {
            t.extend_from_slice(new);
            if t.len() > 2 * TAIL {
                let cut = t.len() - TAIL;
                t.drain(..cut);
            }
        }
        r
    }
}

/// Timeline, start LSN and stop LSN from the end of a base backup's `backup_manifest`:
/// `"WAL-Ranges": [ { "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" } ]`.
pub fn parse_manifest_wal_range(tail: &[u8]) -> Option<(Lsn, u32, Lsn)> {
    let text = String::from_utf8_lossy(tail);
    let ranges = text.rsplit("\"WAL-Ranges\"").next()?;
    let ranges = &ranges[..ranges.find(']')?];
    let field = |part: &str, name: &str| -> Option<String> {
        let after = part.split(&format!("\"{name}\"")).nth(1)?;
        let after = after.trim_start().strip_prefix(':')?.trim_start();
        let value: String = after
            .trim_start_matches('"')
            .chars()
            .take_while(|c| c.is_ascii_hexdigit() || *c == '/')
            .collect();
        Some(value)
    };
    let entries: Vec<&str> = ranges.split('{').skip(1).collect();
    let first = entries.first()?;
    let last = entries.last()?;
    let timeline = field(first, "Timeline")?.parse().ok()?;
    let start = Lsn::parse(&field(first, "Start-LSN")?).ok()?;
    let stop = Lsn::parse(&field(last, "End-LSN")?).ok()?;
    Some((start, timeline, stop))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn lsns_come_from_the_manifest_at_the_end_of_the_stream() {
        let manifest = br#"{ "Path": "global/pg_control", "Size": 8192 }
],
"WAL-Ranges": [
{ "Timeline": 1, "Start-LSN": "0/E3000028", "End-LSN": "0/E3000100" }
],
"Manifest-Checksum": "70"}"#;
        let mut stream = vec![7u8; 300_000];
        stream.extend_from_slice(manifest);
        stream.extend_from_slice(&[0u8; 1024]);
        let (mut reader, tail) = KeepTail::new(&stream[..]);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, stream);
        let kept = tail.lock().unwrap().clone();
        assert!(kept.len() <= 2 * TAIL);
        let (s, tl, e) = parse_manifest_wal_range(&kept).unwrap();
        assert_eq!(
            (s.to_string(), tl, e.to_string()),
            ("0/E3000028".into(), 1, "0/E3000100".into())
        );
        assert!(parse_manifest_wal_range(b"nothing").is_none());
        assert_eq!(
            slot_name("0194a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
            "backline_0194a1b2c3d47e5f8a9b0c1d2e3f4a5b"
        );
    }
}
