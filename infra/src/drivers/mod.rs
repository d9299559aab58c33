//! Dump drivers: the engines' own tools (pg_dump/pg_restore, mariadb-dump/mariadb), run as
//! child processes with credentials passed by environment or a 0600 options file, never argv.

pub mod discovery;
pub mod drill;
pub mod globals;
pub mod grants;
pub mod mysql;
mod mysql_block;
mod mysql_definer;
mod mysql_grants;
mod mysql_journal;
mod mysql_move;
mod mysql_restore;
pub mod mysql_stream;
pub mod mysql_tables;
pub mod pg_archive;
mod pg_dependents;
pub mod pg_parallel;
pub mod pg_partial;
mod pg_properties;
mod pg_restore;
mod pg_restore_parts;
mod pg_stand_in;
mod pg_swap;
pub mod pg_temp_cluster;
pub mod pg_toc;
pub mod postgres;
mod process;
pub mod scratch;
pub mod scrub;
mod tee_feed;
mod test_pause;

use backline_domain::Stage;
use backline_domain::{ConnectionString, DatabaseProperties, Engine, Failure};
use std::path::PathBuf;

pub use pg_restore_parts::{PartFeeds, Source};
pub use process::RunningTool;

/// Where to find the engines' tools.
#[derive(Debug, Clone, Default)]
pub struct ToolConfig {
    pub pg_bin_dir: Option<PathBuf>,
    pub mysql_bin_dir: Option<PathBuf>,
}

/// A failure in a named stage, with the tool's last stderr lines.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{stage}: {message}")]
pub struct StageError {
    pub stage: Stage,
    pub message: String,
    pub stderr_tail: String,
}

impl StageError {
    pub fn new(stage: Stage, message: impl Into<String>) -> Self {
        Self {
            stage,
            message: message.into(),
            stderr_tail: String::new(),
        }
    }

    pub fn into_failure(self) -> Failure {
        Failure {
            stage: self.stage,
            message: self.message,
            stderr_tail: self.stderr_tail,
        }
    }
}

/// What a probe of the server and the local tools found.
#[derive(Debug, Clone)]
pub struct Probe {
    pub server_version: String,
    pub dump_tool: PathBuf,
    pub dump_tool_version: String,
    pub restore_tool: PathBuf,
    pub restore_tool_version: String,
}

/// Connects to the server (bounded by a timeout) and returns its version string.
pub async fn server_version(conn: &ConnectionString) -> Result<String, StageError> {
    match conn.engine {
        Engine::Postgres => postgres::server_version(conn).await.map(|(v, _)| v),
        Engine::Mysql => mysql::server_version(conn).await,
    }
}

/// Probes server and tools: which dump/restore tool will be used and their versions.
pub async fn probe(conn: &ConnectionString, tools: &ToolConfig) -> Result<Probe, StageError> {
    match conn.engine {
        Engine::Postgres => postgres::probe(conn, tools).await,
        Engine::Mysql => mysql::probe(conn, tools).await,
    }
}

/// `probe` for a restore target, which may not exist yet: the restore creates it.
pub async fn probe_target(
    conn: &ConnectionString,
    tools: &ToolConfig,
) -> Result<Probe, StageError> {
    match conn.engine {
        Engine::Postgres => postgres::probe_target(conn, tools).await,
        Engine::Mysql => mysql::probe_target(conn, tools).await,
    }
}

/// Whether the database `conn` names exists on its server (asked through the server's
/// maintenance database, so it works before the database is created).
pub async fn database_exists(conn: &ConnectionString) -> Result<bool, StageError> {
    match conn.engine {
        Engine::Postgres => {
            let mut c = postgres::maintenance(conn).await?;
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&conn.database)
                .fetch_one(&mut c)
                .await
                .map_err(|e| StageError::new(Stage::Connect, postgres::describe(&e)))
        }
        Engine::Mysql => {
            let mut c = mysql::connect(conn, None).await?;
            Ok(mysql::schema(&mut c, &conn.database).await?.is_some())
        }
    }
}

/// Starts the dump tool; its stdout is the raw dump.
pub async fn spawn_dump(conn: &ConnectionString, probe: &Probe) -> Result<RunningTool, StageError> {
    match conn.engine {
        Engine::Postgres => postgres::spawn_dump(conn, probe).await,
        Engine::Mysql => mysql::spawn_dump(conn, probe).await,
    }
}

pub(crate) const CONNECT_TIMEOUT_SECS: u64 = 8;

/// Candidate binaries named `name`: in `dir` if given, else on PATH plus `extra` globs.
pub(crate) fn find_tools(name: &str, dir: Option<&PathBuf>, extra_roots: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(d) = dir {
        let p = d.join(name);
        if p.is_file() {
            out.push(p);
        }
        return out;
    }
    for root in extra_roots {
        if let Ok(entries) = std::fs::read_dir(root) {
            for e in entries.flatten() {
                let p = e.path().join("bin").join(name);
                if p.is_file() {
                    out.push(p);
                }
            }
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            let p = d.join(name);
            if p.is_file() && !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

pub(crate) use crate::sql::{my_ident, pg_ident};

/// A name for a scratch or kept database derived from `base`, within `max` bytes.
pub(crate) fn derived_name(base: &str, suffix: &str, max: usize) -> String {
    let mut b = base.to_string();
    while b.len() + suffix.len() > max {
        b.pop();
    }
    format!("{b}{suffix}")
}

/// The scratch database a restore tagged `tag` loads into before it replaces `target`.
pub fn scratch_name(engine: Engine, target: &str, tag: &str) -> String {
    let max = match engine {
        Engine::Postgres => 63,
        Engine::Mysql => 64,
    };
    derived_name(target, &format!("__restore_{tag}"), max)
}

/// Something that streams a verified artifact into a restore tool's stdin (a local copy whose
/// sha256 was checked before any tool started: `pipeline::LocalArtifact`).
#[async_trait::async_trait]
pub trait Feed: Send + Sync {
    /// Writes the whole decompressed artifact, once per call.
    async fn feed(
        &self,
        sink: &mut (dyn tokio::io::AsyncWrite + Send + Unpin),
    ) -> Result<(), StageError>;

    /// Writes the whole decompressed artifact once to a private file beside the verified
    /// copy, for a tool that must seek in it (`pg_restore --jobs`); `None` where this feed
    /// has no such place. The file goes away with the returned value.
    async fn materialize(&self) -> Result<Option<RawFile>, StageError> {
        Ok(None)
    }

    /// An empty private file beside the verified copy for its decompressed bytes, and a handle
    /// to write them through (see `tee_feed`); `None` where this feed has no such place.
    fn raw_file(&self) -> Result<Option<(RawFile, std::fs::File)>, StageError> {
        Ok(None)
    }
}

pub use crate::local_copy::RawFile;

/// How a restore ended.
#[derive(Debug, Clone, Default)]
pub struct RestoreOutcome {
    /// The name under which the target's previous contents were kept, if they were.
    pub previous_kept_as: Option<String>,
    /// What could not be restored exactly (recorded with the restore).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Keep the target's previous contents under `<name>_before_restore_<time>` (PostgreSQL).
    pub keep_previous: bool,
    /// Do not restore object ownership (for targets where the original roles do not exist).
    pub no_owner: bool,
    /// MariaDB: the restoring user becomes the definer of views, routines, triggers and
    /// events (for a user without SUPER / SET USER).
    pub no_definer: bool,
    /// A short unique tag for scratch names.
    pub tag: String,
    /// The source database's own properties, as recorded with the version (`None` for
    /// versions from before they were recorded: the restore says what it could not bring back).
    pub properties: Option<DatabaseProperties>,
    /// PostgreSQL: `pg_restore --jobs` (1: one stream straight from the verified copy; more:
    /// the copy is decompressed once to a private file the jobs share).
    pub jobs: u32,
    /// Stops the restore while it loads its scratch copy, or before it replaces the target:
    /// the scratch copy is dropped and the target is as it was. Once the target is being
    /// replaced, the restore runs to its end.
    pub cancel: tokio_util::sync::CancellationToken,
}

/// The message of work stopped on request.
pub const CANCELLED: &str = "cancelled on request";

/// `work`, unless `cancel` fires first: then `work` is dropped (a tool it runs is killed with
/// its process group) and the answer is a `CANCELLED` error, which the caller cleans up after
/// like any failure.
pub(crate) async fn unless_cancelled<T>(
    cancel: &tokio_util::sync::CancellationToken,
    stage: Stage,
    work: impl std::future::Future<Output = Result<T, StageError>>,
) -> Result<T, StageError> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(StageError::new(stage, CANCELLED)),
        r = work => r,
    }
}

/// A `CANCELLED` error if `cancel` fired: checked at the last point before a target changes.
pub(crate) fn check_cancelled(
    cancel: &tokio_util::sync::CancellationToken,
    stage: Stage,
) -> Result<(), StageError> {
    if cancel.is_cancelled() {
        Err(StageError::new(stage, CANCELLED))
    } else {
        Ok(())
    }
}

/// The default number of `pg_restore` jobs: min(4, cores).
pub fn default_restore_jobs() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get().min(4) as u32)
        .unwrap_or(1)
}

/// Restores into the target named by `conn` so that it ends exactly equal to the artifact:
/// the data is loaded into a scratch database first and the target is replaced only once the
/// load succeeded. `feed` reads a local copy whose checksum was verified before this is called.
pub async fn restore(
    conn: &ConnectionString,
    probe: &Probe,
    options: &RestoreOptions,
    feed: &dyn Feed,
) -> Result<RestoreOutcome, StageError> {
    match conn.engine {
        Engine::Postgres => pg_restore::restore(conn, probe, options, Source::One(feed)).await,
        Engine::Mysql => mysql_restore::restore(conn, probe, options, feed).await,
    }
}

/// Completes what a restore whose process died left half-done on the target's server, so
/// that the target ends with the restored contents; `Ok(true)` when there was such a move.
/// `scratch` is the restore's scratch database ([`scratch_name`]). A PostgreSQL restore
/// swaps in one transaction: `Ok(true)` when it committed (its previous contents, if left
/// under the scratch name, are dropped); a MariaDB one completes its journaled move. Where
/// the target was never touched, `Ok(false)`.
pub async fn complete_interrupted_move(
    conn: &ConnectionString,
    tools: &ToolConfig,
    scratch: &str,
) -> Result<bool, StageError> {
    match conn.engine {
        _ if !scratch.contains(scratch::SCRATCH_MARK) || scratch == conn.database => Ok(false),
        Engine::Postgres => pg_swap::recover(conn, scratch).await,
        Engine::Mysql => mysql_journal::recover(conn, tools, scratch).await,
    }
}

/// Restores a multi-part version (a parallel PostgreSQL backup) like [`restore`]: its
/// pre-data part, its data parts in parallel (up to `options.jobs`), its post-data part,
/// into a scratch database swapped into place. Every part is a verified local copy.
pub async fn restore_parts(
    conn: &ConnectionString,
    probe: &Probe,
    options: &RestoreOptions,
    parts: &PartFeeds<'_>,
) -> Result<RestoreOutcome, StageError> {
    match conn.engine {
        Engine::Postgres => pg_restore::restore(conn, probe, options, Source::Parts(parts)).await,
        Engine::Mysql => Err(StageError::new(
            Stage::Restore,
            "a multi-part version is a parallel PostgreSQL backup: it cannot be restored into MySQL/MariaDB",
        )),
    }
}

/// A MySQL/MariaDB partial restore (see `mysql_restore::restore_tables`).
pub async fn restore_mysql_tables(
    conn: &ConnectionString,
    probe: &Probe,
    tables: &[String],
    tag: &str,
    no_definer: bool,
    feed: &dyn Feed,
) -> Result<RestoreOutcome, StageError> {
    mysql_restore::restore_tables(conn, probe, tables, tag, no_definer, feed).await
}

/// Whether a tool may stop reading its input before the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FedEnd {
    /// The tool must read everything: a broken pipe is a failure even if it exits 0.
    ReadsAll,
    /// The tool reads what it needs (`pg_restore` of one section): its exit status decides.
    ToolDecides,
}

/// Runs `tool` fed by `feed` and waits for both; the tool's own error wins over a broken pipe.
/// With `retarget`, the stream goes through [`mysql_stream::RetargetWriter`] on its way.
pub(crate) async fn run_fed(
    mut tool: RunningTool,
    feed: &dyn Feed,
    retarget: Option<mysql_stream::Retarget>,
    end: FedEnd,
) -> Result<(), StageError> {
    let Some(mut stdin) = tool.stdin.take() else {
        return Err(StageError::new(Stage::Restore, "restore tool has no stdin"));
    };
    let fed = if let Some(retarget) = retarget {
        use tokio::io::AsyncWriteExt;
        let mut w = mysql_stream::RetargetWriter::with(&mut stdin, retarget);
        match feed.feed(&mut w).await {
            Ok(()) => w.shutdown().await.map_err(|e| {
                StageError::new(
                    Stage::Feed,
                    format!("the restore tool stopped reading: {e}"),
                )
            }),
            Err(e) => Err(e),
        }
    } else {
        feed.feed(&mut stdin).await
    };
    drop(stdin);
    match fed {
        Ok(()) => tool.finish(Stage::Restore).await.map(|_| ()),
        Err(e) if e.stage == Stage::Feed => match (tool.finish(Stage::Restore).await, end) {
            (Err(tool_err), _) => Err(tool_err),
            (Ok(_), FedEnd::ToolDecides) => Ok(()),
            (Ok(_), FedEnd::ReadsAll) => Err(e),
        },
        Err(e) => {
            let tail = tool.kill().await;
            Err(StageError {
                stderr_tail: if e.stderr_tail.is_empty() {
                    tail
                } else {
                    e.stderr_tail
                },
                ..e
            })
        }
    }
}

#[cfg(test)]
mod send_checks {
    use super::*;
    fn is_send<T: Send>(_: T) {}
    #[allow(dead_code)]
    fn restore_futures_are_send(c: &ConnectionString, p: &Probe, o: &RestoreOptions, f: &dyn Feed) {
        is_send(pg_restore::restore(c, p, o, Source::One(f)));
        is_send(mysql_restore::restore(c, p, o, f));
        is_send(restore(c, p, o, f));
    }
    #[allow(dead_code)]
    fn partial_restore_futures_are_send(
        c: &ConnectionString,
        p: &Probe,
        o: &pg_partial::PartialOptions,
        parts: &PartFeeds<'_>,
        w: &std::path::Path,
    ) {
        is_send(pg_partial::restore_tables(c, p, o, Source::Parts(parts), w));
        is_send(pg_toc::version_row_counts(p, Source::Parts(parts)));
    }
}
