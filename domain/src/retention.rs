//! Retention: which completed versions a policy keeps, and why the others may go.
//! Pure: the same function serves the dry-run preview and the real prune.

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// Per-database retention policy. Every rule keeps; a version goes only when no rule keeps it.
/// With no rule at all, everything is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_daily: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_weekly: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_monthly: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_yearly: Option<u32>,
    /// Keep every version younger than this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u32>,
    /// Never prune below this many completed versions (default 1; at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_keep: Option<u32>,
}

impl Retention {
    pub fn is_empty(&self) -> bool {
        self.keep_last.is_none()
            && self.keep_daily.is_none()
            && self.keep_weekly.is_none()
            && self.keep_monthly.is_none()
            && self.keep_yearly.is_none()
            && self.max_age_days.is_none()
    }

    pub fn min_keep(&self) -> usize {
        self.min_keep.unwrap_or(1).max(1) as usize
    }

    /// A short text recorded with each pruning (`keep_last=7 keep_daily=14`).
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("keep_last", self.keep_last),
            ("keep_daily", self.keep_daily),
            ("keep_weekly", self.keep_weekly),
            ("keep_monthly", self.keep_monthly),
            ("keep_yearly", self.keep_yearly),
            ("max_age_days", self.max_age_days),
            ("min_keep", self.min_keep),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        parts.join(" ")
    }
}

/// A version as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub id: String,
    pub finished_at: DateTime<Utc>,
    /// Completed and not yet pruned: only these are candidates and only these count as good.
    pub good: bool,
    pub pinned: bool,
}

/// A version the policy lets go, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prunable {
    pub id: String,
    pub reason: String,
}

fn keep_buckets<K: Ord>(
    good: &[&Version],
    n: Option<u32>,
    key: impl Fn(&DateTime<Utc>) -> K,
    keep: &mut HashSet<String>,
) {
    let Some(n) = n else { return };
    // Newest version of each bucket, for the newest `n` buckets.
    let mut buckets: BTreeMap<K, &Version> = BTreeMap::new();
    for v in good {
        buckets
            .entry(key(&v.finished_at))
            .and_modify(|cur| {
                if v.finished_at > cur.finished_at {
                    *cur = v;
                }
            })
            .or_insert(v);
    }
    for (_, v) in buckets.into_iter().rev().take(n as usize) {
        keep.insert(v.id.clone());
    }
}

/// Which good, unpinned versions `policy` lets go at `now`.
pub fn prunable(versions: &[Version], policy: &Retention, now: DateTime<Utc>) -> Vec<Prunable> {
    if policy.is_empty() {
        return vec![];
    }
    let mut good: Vec<&Version> = versions.iter().filter(|v| v.good).collect();
    good.sort_by(|a, b| b.finished_at.cmp(&a.finished_at).then(b.id.cmp(&a.id)));
    let mut keep: HashSet<String> = HashSet::new();
    // Safety rails: the newest good version and at least `min_keep` of them always stay.
    for v in good.iter().take(policy.min_keep()) {
        keep.insert(v.id.clone());
    }
    for v in good.iter().filter(|v| v.pinned) {
        keep.insert(v.id.clone());
    }
    if let Some(n) = policy.keep_last {
        for v in good.iter().take(n as usize) {
            keep.insert(v.id.clone());
        }
    }
    keep_buckets(&good, policy.keep_daily, |t| t.date_naive(), &mut keep);
    keep_buckets(
        &good,
        policy.keep_weekly,
        |t| {
            let w = t.iso_week();
            (w.year(), w.week())
        },
        &mut keep,
    );
    keep_buckets(
        &good,
        policy.keep_monthly,
        |t| (t.year(), t.month()),
        &mut keep,
    );
    keep_buckets(&good, policy.keep_yearly, |t| t.year(), &mut keep);
    if let Some(days) = policy.max_age_days {
        let cutoff = now - chrono::Duration::days(days as i64);
        for v in good.iter().filter(|v| v.finished_at >= cutoff) {
            keep.insert(v.id.clone());
        }
    }
    let reason = format!("not kept by retention policy ({})", policy.summary());
    good.iter()
        .filter(|v| !keep.contains(&v.id))
        .map(|v| Prunable {
            id: v.id.clone(),
            reason: reason.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(days: i64, now: DateTime<Utc>) -> Vec<Version> {
        // One good backup a day at 02:00 for `days` days, plus a failed one every 10th day.
        let mut v = Vec::new();
        for d in 0..days {
            let t = now - chrono::Duration::days(d) - chrono::Duration::hours(1);
            v.push(Version {
                id: format!("d{d:03}"),
                finished_at: t,
                good: true,
                pinned: false,
            });
            if d % 10 == 0 {
                v.push(Version {
                    id: format!("f{d:03}"),
                    finished_at: t,
                    good: false,
                    pinned: false,
                });
            }
        }
        v
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn kept(v: &[Version], p: &Retention) -> Vec<String> {
        let gone: HashSet<String> = prunable(v, p, now()).into_iter().map(|p| p.id).collect();
        let mut k: Vec<String> = v
            .iter()
            .filter(|x| x.good && !gone.contains(&x.id))
            .map(|x| x.id.clone())
            .collect();
        k.sort();
        k
    }

    #[test]
    fn no_policy_keeps_everything() {
        let v = history(400, now());
        assert!(prunable(&v, &Retention::default(), now()).is_empty());
    }

    #[test]
    fn gfs_over_400_days() {
        let v = history(400, now());
        let p = Retention {
            keep_daily: Some(7),
            keep_weekly: Some(4),
            keep_monthly: Some(12),
            keep_yearly: Some(3),
            ..Default::default()
        };
        let k = kept(&v, &p);
        // 7 dailies (d000..d006), plus the newest of each of the newest 4 ISO weeks, 12 months
        // and 3 years; overlaps are counted once.
        for d in 0..7 {
            assert!(k.contains(&format!("d{d:03}")), "daily d{d:03} kept");
        }
        // Every kept version is the newest of its month, week, day or year.
        let months: std::collections::BTreeSet<(i32, u32)> = v
            .iter()
            .filter(|x| k.contains(&x.id))
            .map(|x| (x.finished_at.year(), x.finished_at.month()))
            .collect();
        assert!(
            months.len() >= 12,
            "12 monthly buckets, got {}",
            months.len()
        );
        // d329 is 2025-12-31, the newest version of 2025: kept as that year's (and month's).
        assert!(k.contains(&"d329".to_string()), "2025-12-31 kept: {k:?}");
        assert!(!k.contains(&"d399".to_string()), "the oldest version goes");
        assert!(k.len() <= 7 + 4 + 12 + 3);
        // Failed runs are never candidates and never counted.
        assert!(prunable(&v, &p, now())
            .iter()
            .all(|x| x.id.starts_with('d')));
    }

    #[test]
    fn keep_last_max_age_pins_and_min_keep() {
        let v = history(30, now());
        let p = Retention {
            keep_last: Some(3),
            ..Default::default()
        };
        assert_eq!(kept(&v, &p), vec!["d000", "d001", "d002"]);
        let p = Retention {
            max_age_days: Some(5),
            ..Default::default()
        };
        assert_eq!(kept(&v, &p).len(), 5);
        // A pinned version is never pruned.
        let mut pinned = v.clone();
        pinned.iter_mut().find(|x| x.id == "d020").unwrap().pinned = true;
        let p = Retention {
            keep_last: Some(1),
            ..Default::default()
        };
        assert_eq!(kept(&pinned, &p), vec!["d000", "d020"]);
        // min_keep wins over a stricter rule; the newest always stays.
        let p = Retention {
            max_age_days: Some(0),
            min_keep: Some(4),
            ..Default::default()
        };
        assert_eq!(kept(&v, &p), vec!["d000", "d001", "d002", "d003"]);
        let p = Retention {
            max_age_days: Some(0),
            ..Default::default()
        };
        assert_eq!(kept(&v, &p), vec!["d000"]);
    }

    #[test]
    fn failed_runs_do_not_count_as_good() {
        // Newest run failed: the newest *completed* one is the one that must stay.
        let mut v = history(3, now());
        v.push(Version {
            id: "zfail".into(),
            finished_at: now(),
            good: false,
            pinned: false,
        });
        let p = Retention {
            keep_last: Some(1),
            ..Default::default()
        };
        assert_eq!(kept(&v, &p), vec!["d000"]);
    }
}
