//! The backups and restores running in this process: how far each got (bytes), and the
//! handle that cancels a stalled backup.

use backline_infra::progress::WorkProgress;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// A phase of running work: its name, the bytes it should amount to, when it started (ms).
type Phase = (&'static str, Option<u64>, i64);

#[derive(Default)]
pub(crate) struct Running {
    progress: Mutex<HashMap<String, Arc<AtomicU64>>>,
    cancels: Mutex<HashMap<String, CancellationToken>>,
    /// Work id → its current phase: (name, expected bytes, started at ms).
    phases: Mutex<HashMap<String, Phase>>,
    /// Work id → the handle a cancel request (API, CLI, UI) fires.
    requested: Mutex<HashMap<String, CancellationToken>>,
    /// Backup id → (bytes when last seen moving, since when).
    stall: Mutex<HashMap<String, (u64, Instant)>>,
}

impl Running {
    /// Bytes processed so far by work `id` running in this process.
    pub(crate) fn progress(&self, id: &str) -> Option<u64> {
        self.progress
            .lock()
            .ok()?
            .get(id)
            .map(|c| c.load(Ordering::Relaxed))
    }

    /// A fresh progress counter for work `id`.
    pub(crate) fn track(&self, id: &str) -> Arc<AtomicU64> {
        let c = Arc::new(AtomicU64::new(0));
        if let Ok(mut m) = self.progress.lock() {
            m.insert(id.to_string(), c.clone());
        }
        c
    }

    /// The handle that stops work `id` when someone asks (made on first use).
    pub(crate) fn request_token(&self, id: &str) -> CancellationToken {
        let mut m = self.requested.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(id.to_string()).or_default().clone()
    }

    /// Fires the request handle of work `id` if it runs in this process.
    pub(crate) fn request_cancel(&self, id: &str) {
        if let Some(t) = self.requested.lock().ok().and_then(|m| m.get(id).cloned()) {
            t.cancel();
        }
    }

    /// Work `id` enters `phase`, which should amount to `expected` bytes.
    pub(crate) fn set_phase(&self, id: &str, phase: &'static str, expected: Option<u64>) {
        if let Ok(mut m) = self.phases.lock() {
            m.insert(
                id.to_string(),
                (phase, expected, chrono::Utc::now().timestamp_millis()),
            );
        }
    }

    /// Where work `id` running in this process is.
    pub(crate) fn snapshot(&self, id: &str) -> Option<WorkProgress> {
        let done = self.progress(id)?;
        let (phase, expected, started) = self.phases.lock().ok()?.get(id).copied()?;
        Some(WorkProgress {
            phase: phase.to_string(),
            done_bytes: done,
            expected_bytes: expected,
            phase_started_ms: started,
        })
    }

    /// Forgets work `id` (it ended).
    pub(crate) fn untrack(&self, id: &str) {
        if let Ok(mut m) = self.phases.lock() {
            m.remove(id);
        }
        if let Ok(mut m) = self.requested.lock() {
            m.remove(id);
        }
        if let Ok(mut m) = self.cancels.lock() {
            m.remove(id);
        }
        if let Ok(mut m) = self.stall.lock() {
            m.remove(id);
        }
        if let Ok(mut m) = self.progress.lock() {
            m.remove(id);
        }
    }

    /// The cancellation handle of work `id` (made on first use).
    pub(crate) fn cancel_token(&self, id: &str) -> CancellationToken {
        let mut m = self.cancels.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(id.to_string()).or_default().clone()
    }

    /// The work that has a cancellation handle, with it.
    pub(crate) fn cancellable(&self) -> Vec<(String, CancellationToken)> {
        match self.cancels.lock() {
            Ok(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Cancels the backups that wrote nothing for `timeout`; returns those just cancelled.
    pub(crate) fn cancel_stalled(&self, timeout: std::time::Duration) -> Vec<(String, u64)> {
        let running = self.cancellable();
        let Ok(mut stall) = self.stall.lock() else {
            return Vec::new();
        };
        stall.retain(|id, _| running.iter().any(|(r, _)| r == id));
        let mut cancelled = Vec::new();
        for (id, token) in running {
            // No counter yet: still waiting for a slot among the concurrent backups.
            let Some(bytes) = self.progress(&id) else {
                stall.remove(&id);
                continue;
            };
            let entry = stall.entry(id.clone()).or_insert((bytes, Instant::now()));
            if entry.0 != bytes {
                *entry = (bytes, Instant::now());
            } else if entry.1.elapsed() >= timeout && !token.is_cancelled() {
                token.cancel();
                cancelled.push((id, bytes));
            }
        }
        cancelled
    }
}
