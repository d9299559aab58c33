//! Waiting for ssh to say that the tunnel's local end listens, and keeping what it said
//! otherwise for an error message.

use super::{TunnelError, OPEN_TIMEOUT_SECS};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// What `ssh -v` prints once the local end listens.
const READY: &str = "Local forwarding listening on 127.0.0.1 port";

/// The lines of ssh's stderr worth showing (not its debug chatter), last ones kept.
pub(super) type Tail = Arc<Mutex<VecDeque<String>>>;

/// Waits until `ssh` listens on the local end; if it exits first, its own words say why.
pub(super) async fn wait_ready(child: &mut Child, bastion_name: &str) -> Result<Tail, TunnelError> {
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
    let tail: Tail = Default::default();
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(drain(stderr, ready_tx, tail.clone()));
    }
    let failed = |message: String| TunnelError::Failed {
        bastion: bastion_name.to_string(),
        message,
    };
    enum Outcome {
        Ready,
        Exited,
        TimedOut,
    }
    let outcome = tokio::select! {
        r = ready_rx => if r.is_ok() { Outcome::Ready } else { Outcome::Exited },
        _ = child.wait() => Outcome::Exited,
        _ = tokio::time::sleep(Duration::from_secs(OPEN_TIMEOUT_SECS)) => Outcome::TimedOut,
    };
    match outcome {
        Outcome::Ready => Ok(tail),
        Outcome::Exited => {
            // Let ssh finish writing its reason.
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            Err(failed(tail_text(&tail)))
        }
        Outcome::TimedOut => Err(failed(format!(
            "no tunnel within {OPEN_TIMEOUT_SECS} s ({})",
            tail_text(&tail)
        ))),
    }
}

/// Reads ssh's stderr to its end: signals when the local end listens and keeps the last lines
/// that are not debug chatter, for an error message.
async fn drain(
    stderr: tokio::process::ChildStderr,
    ready: tokio::sync::oneshot::Sender<()>,
    tail: Tail,
) {
    let mut ready = Some(ready);
    let mut reader = BufReader::new(stderr);
    let mut raw = Vec::new();
    // Read as bytes to the very end: a line that is not UTF-8 must not end the reading, or
    // ssh would die of SIGPIPE at its next word and take the tunnel with it.
    loop {
        raw.clear();
        match reader.read_until(b'\n', &mut raw).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&raw);
        let line = text.trim_end_matches(['\r', '\n']);
        if line.contains(READY) {
            if let Some(tx) = ready.take() {
                let _ = tx.send(());
            }
            continue;
        }
        if line.starts_with("debug") || line.starts_with("OpenSSH_") {
            continue;
        }
        if let Ok(mut t) = tail.lock() {
            if t.len() == 8 {
                t.pop_front();
            }
            t.push_back(line.chars().take(300).collect());
        }
    }
}

/// What ssh said last (not its debug chatter), for a message.
pub(super) fn tail_text(tail: &Tail) -> String {
    let lines = tail.lock().map(|t| t.clone()).unwrap_or_default();
    let text = lines.into_iter().collect::<Vec<_>>().join("; ");
    if text.is_empty() {
        "ssh exited without a message".to_string()
    } else {
        text
    }
}
