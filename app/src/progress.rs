//! How far a running backup or restore got, as shown by the API, the UI and the CLI: bytes
//! of the current phase, the share of what it should amount to (a backup: the previous
//! version's raw size; a restore: the artifact's stored size while it is fetched, its raw size
//! while it loads), and an ETA from the phase's pace so far.

use crate::coordination::PROGRESS_EVERY;
use crate::core::Core;
use backline_infra::progress::WorkProgress;
use std::sync::Arc;

/// Writes work `id`'s progress to the ledger's database about once a second, for the other
/// processes; abort the returned task and call `end_progress` when the work ends.
pub(crate) fn report(core: Arc<Core>, id: &str) -> tokio::task::JoinHandle<()> {
    let id = id.to_string();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            if let Some(p) = core.coordination.running.snapshot(&id) {
                if let Err(e) = core.coordination.progress.write(&id, &p).await {
                    tracing::debug!(id, error = %e, "could not write progress");
                }
            }
        }
    })
}

/// Progress of running work.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProgressView {
    /// `dump` (a backup), `download` or `load` (a restore).
    pub phase: String,
    /// Bytes of this phase so far (a backup: raw dump bytes).
    pub bytes: u64,
    /// What this phase should amount to, when known.
    pub expected_bytes: Option<u64>,
    /// 0–100 (at most 99 while it runs: the estimate can be short), when the size is known.
    pub percent: Option<u8>,
    /// Seconds left at this phase's pace so far, when the size is known.
    pub eta_seconds: Option<u64>,
}

impl ProgressView {
    /// The view of `p` at `now_ms`.
    pub fn of(p: &WorkProgress, now_ms: i64) -> Self {
        let expected = p.expected_bytes.filter(|e| *e > 0);
        let percent = expected.map(|e| ((p.done_bytes.saturating_mul(100) / e).min(99)) as u8);
        let elapsed_ms = (now_ms - p.phase_started_ms).max(0) as u64;
        let eta_seconds = match expected {
            Some(e) if p.done_bytes > 0 && elapsed_ms > 0 => {
                let left = e.saturating_sub(p.done_bytes);
                Some(left.saturating_mul(elapsed_ms) / p.done_bytes / 1000)
            }
            _ => None,
        };
        Self {
            phase: p.phase.clone(),
            bytes: p.done_bytes,
            expected_bytes: p.expected_bytes,
            percent,
            eta_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_and_eta_follow_the_pace_so_far() {
        let p = WorkProgress {
            phase: "dump".into(),
            done_bytes: 250,
            expected_bytes: Some(1000),
            phase_started_ms: 0,
        };
        let v = ProgressView::of(&p, 10_000);
        assert_eq!((v.percent, v.eta_seconds), (Some(25), Some(30)));
        let over = WorkProgress {
            done_bytes: 1500,
            ..p.clone()
        };
        assert_eq!(ProgressView::of(&over, 10_000).percent, Some(99));
        assert_eq!(ProgressView::of(&over, 10_000).eta_seconds, Some(0));
        let unknown = WorkProgress {
            expected_bytes: None,
            ..p
        };
        let v = ProgressView::of(&unknown, 10_000);
        assert_eq!((v.percent, v.eta_seconds), (None, None));
    }
}
