use super::StageError;
use backline_domain::Stage;
use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;

const TAIL_LINES: usize = 20;

/// A tool running as a child process, with its stderr collected in the background.
pub struct RunningTool {
    pub name: String,
    child: Child,
    pub stdout: Option<ChildStdout>,
    pub stdin: Option<ChildStdin>,
    /// Bytes the artifact starts with, before the tool's stdout (see `mysql_stream`).
    pub prelude: Vec<u8>,
    /// What this dump is known not to keep exactly (recorded with the backup).
    pub warnings: Vec<String>,
    /// The database's own properties, read from the catalogs with the dump's snapshot.
    pub properties: Option<backline_domain::DatabaseProperties>,
    /// Dropped when the tool is done: ends the transaction whose snapshot it imported.
    pub(crate) keepalive: Option<tokio::sync::oneshot::Sender<()>>,
    stderr: Option<JoinHandle<String>>,
    /// Keeps a 0600 options file alive for as long as the tool runs.
    _options: Option<tempfile::NamedTempFile>,
}

/// A command with a clean environment: only PATH, a locale, and what the caller adds.
pub(crate) fn command(tool: &Path) -> Command {
    let mut cmd = Command::new(tool);
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("LC_ALL", "C.UTF-8");
    cmd.kill_on_drop(true);
    // Its own process group, so a failure elsewhere stops the tool and anything it started
    // at once (see `Drop for RunningTool`), instead of leaving it blocked on a full pipe.
    cmd.process_group(0);
    cmd
}

/// SIGKILL to the process group led by `pid` (the tools run as group leaders, see `command`).
fn kill_group(pid: u32) {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .filter(|p| *p > 1)
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    if let Err(e) = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL) {
        if e != rustix::io::Errno::SRCH {
            tracing::warn!(pid = pid.as_raw_nonzero().get(), error = %e, "could not stop a tool's process group");
        }
    }
}

impl RunningTool {
    pub(crate) fn spawn(
        mut cmd: Command,
        name: &str,
        stdin: bool,
        stdout: bool,
        options: Option<tempfile::NamedTempFile>,
    ) -> Result<Self, StageError> {
        cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() });
        cmd.stdout(if stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| StageError::new(Stage::Tool, format!("cannot start {name}: {e}")))?;
        let stderr = child
            .stderr
            .take()
            .map(|err| tokio::spawn(collect_stderr(err)));
        Ok(Self {
            name: name.to_string(),
            stdout: child.stdout.take(),
            stdin: child.stdin.take(),
            prelude: Vec::new(),
            warnings: Vec::new(),
            properties: None,
            keepalive: None,
            child,
            stderr,
            _options: options,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn stderr_tail(&mut self) -> String {
        match self.stderr.take() {
            Some(h) => h.await.unwrap_or_default(),
            None => String::new(),
        }
    }

    /// Waits for the tool to exit; a non-zero exit is an error carrying the stderr tail.
    pub async fn finish(mut self, stage: Stage) -> Result<String, StageError> {
        drop(self.stdin.take());
        drop(self.stdout.take());
        let status = self.child.wait().await.map_err(|e| {
            StageError::new(
                stage.clone(),
                format!("waiting for {} failed: {e}", self.name),
            )
        })?;
        let tail = self.stderr_tail().await;
        if status.success() {
            return Ok(tail);
        }
        // The most telling line: the last one that reports an error, else the last one.
        let last = tail
            .lines()
            .rev()
            .find(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("error") || l.contains("fatal") || l.contains("terminating")
            })
            .or_else(|| tail.lines().last())
            .unwrap_or("")
            .trim()
            .to_string();
        let how = match status.code() {
            Some(c) => format!("exited with code {c}"),
            None => "was killed by a signal".to_string(),
        };
        Err(StageError {
            stage,
            message: if last.is_empty() {
                format!("{} {how}", self.name)
            } else {
                format!("{} {how}: {last}", self.name)
            },
            stderr_tail: tail,
        })
    }

    /// Stops the tool (after a failure elsewhere in the pipeline) and returns its stderr tail.
    pub async fn kill(mut self) -> String {
        if let Some(pid) = self.child.id() {
            kill_group(pid);
        }
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        self.stderr_tail().await
    }
}

/// A tool dropped before it was waited for (its output is no longer wanted: storage failed,
/// the run was cancelled) is killed with its whole process group, at once; nothing is drained.
impl Drop for RunningTool {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            kill_group(pid);
        }
    }
}

/// Reads a tool's stderr to its end (so the tool never blocks on a full pipe, whatever it
/// writes) and returns its last lines, scrubbed (see `scrub`): rows and statements the tool
/// echoes never leave this function. Lines are read as bytes (not every server speaks UTF-8)
/// and at most `MAX_HELD` bytes of one line are held.
async fn collect_stderr(err: tokio::process::ChildStderr) -> String {
    const MAX_HELD: usize = 4 * super::scrub::MAX_LINE;
    let mut reader = BufReader::new(err);
    let mut tail = VecDeque::new();
    let mut scrubber = super::scrub::Scrubber::default();
    let mut line: Vec<u8> = Vec::new();
    let mut push = |line: &mut Vec<u8>, tail: &mut VecDeque<String>| {
        let text = String::from_utf8_lossy(line).into_owned();
        line.clear();
        if let Some(kept) = scrubber.line(&text) {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(kept);
        }
    };
    loop {
        let chunk = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(c) => c,
        };
        let (used, ends_line) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_HELD.saturating_sub(line.len());
        let body = if ends_line { &chunk[..used - 1] } else { chunk };
        line.extend_from_slice(&body[..body.len().min(room)]);
        reader.consume(used);
        if ends_line {
            push(&mut line, &mut tail);
        }
    }
    if !line.is_empty() {
        push(&mut line, &mut tail);
    }
    Vec::from(tail).join("\n")
}

/// A tool's name as it runs (`mariadb-dump`, not the engine's generic name).
pub(crate) fn tool_name(tool: &Path) -> String {
    tool.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| tool.display().to_string())
}

/// Runs `tool --version` and returns its first line.
pub(crate) async fn tool_version(tool: &Path) -> Option<String> {
    let out = command(tool).arg("--version").output().await.ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().map(|l| l.trim().to_string())
}
