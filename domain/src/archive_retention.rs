//! Retention of an archive: which base backups a policy lets go, and below which segment the
//! archived WAL is needed by no base backup that stays. Pure.
//!
//! The promise: every second restorable from a kept base backup stays restorable. With
//! `keep_base_backups = N` the newest N completed base backups stay; with `keep_days = D` every
//! base backup that ended within the last D days stays, and so does the newest one that ended
//! before (its span covers the start of those D days). A base backup is kept when either rule
//! keeps it, and the newest one always is. The WAL goes only below the oldest kept base
//! backup's start segment: nothing kept replays it.

use crate::retention::Prunable;
use crate::wal::SegmentId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How much of the archive to keep. With neither rule, nothing is pruned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRetention {
    /// Keep the newest this many completed base backups (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_base_backups: Option<u32>,
    /// Keep every second of the last this many days restorable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_days: Option<u32>,
}

impl ArchiveRetention {
    pub fn is_empty(&self) -> bool {
        self.keep_base_backups.is_none() && self.keep_days.is_none()
    }

    /// `keep_base_backups=2 keep_days=7`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.keep_base_backups {
            parts.push(format!("keep_base_backups={n}"));
        }
        if let Some(d) = self.keep_days {
            parts.push(format!("keep_days={d}"));
        }
        parts.join(" ")
    }
}

/// A completed, unpruned base backup as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseAge {
    pub id: String,
    pub stopped_at: DateTime<Utc>,
    /// The segment its WAL replay starts in.
    pub start: SegmentId,
}

/// What a pass of retention removes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchivePrune {
    pub bases: Vec<Prunable>,
    /// Every archived segment numbered below this one's number is needed by nothing kept.
    pub wal_before: Option<SegmentId>,
}

/// What `policy` lets go of `bases` at `now`.
pub fn archive_prune(
    bases: &[BaseAge],
    policy: &ArchiveRetention,
    now: DateTime<Utc>,
) -> ArchivePrune {
    if policy.is_empty() || bases.is_empty() {
        return ArchivePrune::default();
    }
    let mut sorted: Vec<&BaseAge> = bases.iter().collect();
    sorted.sort_by(|a, b| b.stopped_at.cmp(&a.stopped_at).then(b.id.cmp(&a.id)));
    let mut keep = 1usize;
    if let Some(n) = policy.keep_base_backups {
        keep = keep.max(n as usize);
    }
    if let Some(days) = policy.keep_days {
        let cutoff = now - chrono::Duration::days(i64::from(days));
        let covering = sorted
            .iter()
            .position(|b| b.stopped_at <= cutoff)
            .unwrap_or(sorted.len() - 1);
        keep = keep.max(covering + 1);
    }
    let keep = keep.min(sorted.len());
    let (kept, gone) = sorted.split_at(keep);
    let oldest = kept[keep - 1];
    let summary = policy.summary();
    ArchivePrune {
        bases: gone
            .iter()
            .map(|b| Prunable {
                id: b.id.clone(),
                reason: format!(
                    "older than base backup {} ({}), the oldest one {summary} keeps",
                    oldest.id,
                    oldest.stopped_at.to_rfc3339()
                ),
            })
            .collect(),
        wal_before: kept.iter().map(|b| b.start).min_by_key(|s| s.segno),
    }
}

/// Whether segment `name` is numbered below segment `before` (whatever their timelines: the
/// last 16 hexadecimal digits are the segment number, fixed width).
pub fn segment_below(name: &str, before: &str) -> bool {
    match (name.get(8..), before.get(8..)) {
        (Some(a), Some(b)) => a.to_ascii_uppercase() < b.to_ascii_uppercase(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + h * 3600, 0).unwrap()
    }

    fn base(id: &str, h: i64, segno: u64) -> BaseAge {
        BaseAge {
            id: id.into(),
            stopped_at: t(h),
            start: SegmentId { timeline: 1, segno },
        }
    }

    fn ids(p: &ArchivePrune) -> Vec<&str> {
        p.bases.iter().map(|b| b.id.as_str()).collect()
    }

    #[test]
    fn keeps_the_newest_n_and_the_wal_from_the_oldest_kept() {
        let bases = [base("a", 0, 2), base("c", 48, 9), base("b", 24, 5)];
        let policy = ArchiveRetention {
            keep_base_backups: Some(2),
            keep_days: None,
        };
        let p = archive_prune(&bases, &policy, t(50));
        assert_eq!(ids(&p), vec!["a"]);
        assert_eq!(
            p.wal_before,
            Some(SegmentId {
                timeline: 1,
                segno: 5
            })
        );
        assert!(p.bases[0].reason.contains("keep_base_backups=2"));
        // At least one always stays, and nothing goes without a policy.
        let zero = ArchiveRetention {
            keep_base_backups: Some(0),
            keep_days: None,
        };
        assert_eq!(ids(&archive_prune(&bases, &zero, t(50))), vec!["b", "a"]);
        assert_eq!(
            archive_prune(&bases, &ArchiveRetention::default(), t(50)),
            ArchivePrune::default()
        );
    }

    #[test]
    fn keep_days_keeps_the_base_that_covers_the_cutoff() {
        let bases = [base("a", 0, 2), base("b", 24, 5), base("c", 48, 9)];
        let policy = ArchiveRetention {
            keep_base_backups: None,
            keep_days: Some(1),
        };
        // Cutoff at hour 26: c ended after it, b is the newest before it (covers it).
        let p = archive_prune(&bases, &policy, t(50));
        assert_eq!(ids(&p), vec!["a"]);
        assert_eq!(p.wal_before.map(|s| s.segno), Some(5));
        // Cutoff before every base: all stay.
        assert!(archive_prune(&bases, &policy, t(10)).bases.is_empty());
        // The union of both rules: the older promise wins.
        let both = ArchiveRetention {
            keep_base_backups: Some(3),
            keep_days: Some(1),
        };
        assert!(archive_prune(&bases, &both, t(100)).bases.is_empty());
    }

    #[test]
    fn segments_compare_by_number() {
        assert!(segment_below(
            "000000010000000000000004",
            "000000020000000000000005"
        ));
        assert!(!segment_below(
            "000000020000000000000005",
            "000000010000000000000005"
        ));
        assert!(segment_below(
            "0000000100000000000000FF",
            "000000010000000100000000"
        ));
        assert!(!segment_below("short", "000000010000000100000000"));
    }
}
