//! A temporary PostgreSQL server for a point-in-time restore: a verified base backup unpacked
//! into a private directory, WAL served by a `restore_command` that copies verified segments,
//! replay to the target, then promotion. It listens on a Unix socket in its own 0700 directory
//! only (no TCP), trusts local connections there, and is stopped and removed afterwards.
//!
//! PostgreSQL refuses to run as root: when Backline runs as root the directory is given to
//! the `postgres` OS user and the server started through `setpriv` as that user.

use super::process::command;
use super::{run_fed, FedEnd, Feed, RunningTool, StageError};
use backline_domain::wal::Lsn;
use backline_domain::{ConnectionString, Engine, Stage, StoredConnection};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The OS user the temporary server runs as when Backline is root.
pub const SERVER_USER: &str = "postgres";

/// Where recovery stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryTarget {
    Time(DateTime<Utc>),
    Lsn(Lsn),
    /// The end of the WAL given (used when no commit follows the target in it: the state at the
    /// target is then the state at the end).
    End,
}

pub struct TempCluster {
    root: PathBuf,
    server: Option<tokio::process::Child>,
    /// The base backup's own postgresql.conf was put aside (for a whole-cluster delivery).
    conf_saved: bool,
}

/// Where the base backup's own postgresql.conf waits while the temporary server runs.
const KEPT_CONF: &str = "postgresql.conf.backline-kept";

fn io(stage: Stage, what: &str) -> impl Fn(std::io::Error) -> StageError + '_ {
    move |e| StageError::new(stage.clone(), format!("{what}: {e}"))
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

impl TempCluster {
    /// A fresh private directory `parent/<name>` (0700) with `data/`, `wal/` and `socket/`.
    pub fn create(parent: &Path, name: &str) -> Result<Self, StageError> {
        use std::os::unix::fs::DirBuilderExt;
        let root = parent.join(name);
        let mk = |p: &Path| {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(p)
                .map_err(io(
                    Stage::Prepare,
                    "cannot create the temporary cluster's directory",
                ))
        };
        mk(parent)?;
        let cluster = Self {
            root,
            server: None,
            conf_saved: false,
        };
        for d in ["data", "wal", "socket"] {
            mk(&cluster.root.join(d))?;
        }
        Ok(cluster)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Where `restore_command` finds segments (verified copies, written by the caller).
    pub fn wal_dir(&self) -> PathBuf {
        self.root.join("wal")
    }

    fn socket_dir(&self) -> PathBuf {
        self.root.join("socket")
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("server.log")
    }

    /// Unpacks the base backup's tar (fed from its verified local copy) into `data/`.
    pub async fn unpack(&self, feed: &dyn Feed) -> Result<(), StageError> {
        let mut cmd = command(Path::new("tar"));
        cmd.arg("--extract")
            .arg("--file=-")
            .arg("--directory")
            .arg(self.data_dir());
        let tar = RunningTool::spawn(cmd, "tar", true, false, None)?;
        run_fed(tar, feed, None, FedEnd::ReadsAll).await?;
        let data = self.data_dir();
        for d in ["pg_wal", "pg_wal/archive_status"] {
            std::fs::create_dir_all(data.join(d))
                .map_err(io(Stage::Prepare, "cannot prepare pg_wal"))?;
        }
        // A server that never stopped may leave these in a backup made by other tools.
        for f in ["postmaster.pid", "standby.signal", "recovery.conf"] {
            let _ = std::fs::remove_file(data.join(f));
        }
        Ok(())
    }

    /// Writes the configuration, then starts the server replaying to `target` and promoting.
    pub async fn start(
        &mut self,
        postgres: &Path,
        target: RecoveryTarget,
    ) -> Result<(), StageError> {
        let data = self.data_dir();
        let write = |p: PathBuf, s: &str| {
            std::fs::write(p, s).map_err(io(Stage::Prepare, "cannot write the configuration"))
        };
        if !self.conf_saved {
            let own = data.join("postgresql.conf");
            if own.exists() {
                std::fs::rename(&own, data.join(KEPT_CONF))
                    .map_err(io(Stage::Prepare, "cannot put postgresql.conf aside"))?;
            }
            self.conf_saved = true;
        }
        write(
            data.join("postgresql.conf"),
            "# Backline's temporary recovery server: settings are given on its command line.\n",
        )?;
        write(self.root.join("pg_hba.conf"), "local all all trust\n")?;
        write(self.root.join("pg_ident.conf"), "")?;
        write(data.join("recovery.signal"), "")?;
        if is_root() {
            let status = command(Path::new("chown"))
                .arg("-R")
                .arg(format!("{SERVER_USER}:{SERVER_USER}"))
                .arg(&self.root)
                .status()
                .await
                .map_err(io(Stage::Prepare, "cannot run chown"))?;
            if !status.success() {
                return Err(StageError::new(Stage::Prepare, format!("Backline runs as root and PostgreSQL refuses to: the temporary server runs as the OS user {SERVER_USER:?}, which must exist (chown of {} failed)", self.root.display())));
            }
        }
        let mut cmd = if is_root() {
            let mut c = command(Path::new("setpriv"));
            c.args([
                &format!("--reuid={SERVER_USER}"),
                &format!("--regid={SERVER_USER}"),
                "--init-groups",
                "--pdeathsig=INT",
                "--",
            ])
            .arg(postgres);
            c
        } else {
            let mut c = command(postgres);
            super::pg_archive::die_with_parent(&mut c);
            c
        };
        cmd.arg("-D").arg(&data);
        for (k, v) in self.settings(target) {
            cmd.arg("-c").arg(format!("{k}={v}"));
        }
        let log = std::fs::File::create(self.log_file())
            .map_err(io(Stage::Prepare, "cannot create the server log"))?;
        let log2 = log.try_clone().map_err(io(Stage::Prepare, "server log"))?;
        cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
        let child = cmd
            .spawn()
            .map_err(io(Stage::Tool, "cannot start the temporary server"))?;
        self.server = Some(child);
        Ok(())
    }

    fn settings(&self, target: RecoveryTarget) -> Vec<(&'static str, String)> {
        let restore = format!("cp \"{}/%f\" \"%p\"", self.wal_dir().display());
        let mut s = vec![
            ("listen_addresses", String::new()),
            ("port", "5432".into()),
            (
                "unix_socket_directories",
                self.socket_dir().display().to_string(),
            ),
            ("unix_socket_permissions", "0700".into()),
            (
                "hba_file",
                self.root.join("pg_hba.conf").display().to_string(),
            ),
            (
                "ident_file",
                self.root.join("pg_ident.conf").display().to_string(),
            ),
            ("restore_command", restore),
            ("recovery_target_timeline", "current".into()),
            ("archive_mode", "off".into()),
            // No hot standby: its parameter checks against the source do not apply, and nobody
            // connects before the promotion anyway.
            ("hot_standby", "off".into()),
            ("shared_preload_libraries", String::new()),
            ("fsync", "off".into()),
            ("synchronous_commit", "off".into()),
            ("logging_collector", "off".into()),
            ("ssl", "off".into()),
        ];
        match target {
            RecoveryTarget::Time(t) => {
                s.push((
                    "recovery_target_time",
                    t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string(),
                ));
                s.push(("recovery_target_action", "promote".into()));
            }
            RecoveryTarget::Lsn(l) => {
                s.push(("recovery_target_lsn", l.to_string()));
                s.push(("recovery_target_action", "promote".into()));
            }
            RecoveryTarget::End => {}
        }
        s
    }

    /// A connection to database `database` of the temporary server, as `user` (trusted on its
    /// private socket).
    pub fn connection(&self, user: &str, database: &str) -> ConnectionString {
        let stored = StoredConnection {
            host: self.socket_dir().display().to_string(),
            port: 5432,
            user: user.to_string(),
            database: database.to_string(),
            params: Default::default(),
            password: None,
            ssh: None,
        };
        ConnectionString::from_stored(Engine::Postgres, &stored, None)
    }

    /// Waits until the server has replayed to its target and promoted. `Ok(false)`: the server
    /// stopped because the WAL ended before the target (no later commit in it).
    pub async fn wait_promoted(&mut self, user: &str, database: &str) -> Result<bool, StageError> {
        let conn = self.connection(user, database);
        loop {
            if let Some(child) = self.server.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.server = None;
                    let log = self.log_tail();
                    if log.contains("recovery ended before configured recovery target was reached")
                    {
                        return Ok(false);
                    }
                    return Err(StageError {
                        stage: Stage::Restore,
                        message: format!("the temporary PostgreSQL server stopped ({status}) before reaching the target: {}", log.lines().rev().find(|l| l.contains("FATAL") || l.contains("PANIC")).unwrap_or("see its log").trim()),
                        stderr_tail: log,
                    });
                }
            }
            if let Ok(mut c) = super::postgres::connect(&conn).await {
                let in_recovery: Result<bool, _> = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                    .fetch_one(&mut c)
                    .await;
                if let Ok(false) = in_recovery {
                    return Ok(true);
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the promoted server and moves its data directory to `dest` (a new directory, or
    /// an empty one that it replaces), with the base backup's own postgresql.conf back (or an
    /// empty one where the server kept its configuration elsewhere) and no recovery settings.
    pub async fn deliver(&mut self, dest: &Path) -> Result<(), StageError> {
        self.stop().await;
        let data = self.data_dir();
        let conf = data.join("postgresql.conf");
        let kept = data.join(KEPT_CONF);
        if kept.exists() {
            std::fs::rename(&kept, &conf)
                .map_err(io(Stage::Restore, "cannot put postgresql.conf back"))?;
        } else {
            std::fs::write(
                &conf,
                "# The archived server kept its configuration outside its data directory.\n",
            )
            .map_err(io(Stage::Restore, "cannot write postgresql.conf"))?;
        }
        for f in ["recovery.signal", "standby.signal", "postmaster.pid"] {
            let _ = std::fs::remove_file(data.join(f));
        }
        let place = io(Stage::Restore, "cannot write the data directory");
        if dest.exists() {
            // Checked empty when the restore was asked for; remove_dir fails if it is not now.
            std::fs::remove_dir(dest).map_err(&place)?;
        }
        match std::fs::rename(&data, dest) {
            Ok(()) => Ok(()),
            // Another file system: copy (preserving modes and owners), then the copy is whole.
            Err(e) if e.raw_os_error() == Some(18) => {
                let status = command(Path::new("cp"))
                    .arg("-a")
                    .arg(&data)
                    .arg(dest)
                    .status()
                    .await
                    .map_err(&place)?;
                if status.success() {
                    Ok(())
                } else {
                    let _ = std::fs::remove_dir_all(dest);
                    Err(StageError::new(
                        Stage::Restore,
                        format!(
                            "copying the data directory to {} failed ({status})",
                            dest.display()
                        ),
                    ))
                }
            }
            Err(e) => Err(place(e)),
        }
    }

    /// Stops the server (fast shutdown, then a kill) and waits for it.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            if let Some(pid) = child
                .id()
                .and_then(|p| rustix::process::Pid::from_raw(p as i32))
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
            }
            if tokio::time::timeout(Duration::from_secs(30), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        if let Some(child) = self.server.as_mut() {
            let _ = child.start_kill();
        }
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            tracing::warn!(path = %self.root.display(), error = %e, "could not remove a temporary recovery cluster");
        }
    }
}
