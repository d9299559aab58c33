//! WAL values: segment names, LSNs, and the recoverable window they allow (pure arithmetic).
//!
//! A segment is named `TTTTTTTTXXXXXXXXYYYYYYYY` (timeline, then the segment number split in
//! two 32-bit halves as PostgreSQL's `XLogFileName` writes it); with a segment size `s`, one
//! "xlogid" holds `0x1_0000_0000 / s` segments.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A log sequence number (`16/B374D848`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Lsn(pub u64);

impl Lsn {
    pub fn parse(s: &str) -> Result<Self, WalError> {
        let bad = || WalError::BadLsn(s.to_string());
        let (hi, lo) = s.trim().split_once('/').ok_or_else(bad)?;
        if hi.is_empty() || lo.is_empty() || hi.len() > 8 || lo.len() > 8 {
            return Err(bad());
        }
        let hi = u64::from_str_radix(hi, 16).map_err(|_| bad())?;
        let lo = u64::from_str_radix(lo, 16).map_err(|_| bad())?;
        Ok(Lsn((hi << 32) | lo))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xffff_ffff)
    }
}

impl TryFrom<String> for Lsn {
    type Error = WalError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Lsn::parse(&s)
    }
}

impl From<Lsn> for String {
    fn from(l: Lsn) -> String {
        l.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalError {
    #[error("{0:?} is not an LSN (expected e.g. 0/16B3748)")]
    BadLsn(String),
    #[error("{0:?} is not a WAL segment name (24 hexadecimal digits)")]
    BadSegment(String),
    #[error("{0} is not a WAL segment size (a power of two from 1 MiB to 1 GiB)")]
    BadSegmentSize(u64),
}

/// Checks a segment size as PostgreSQL allows it.
pub fn check_segment_size(size: u64) -> Result<u64, WalError> {
    if size.is_power_of_two() && ((1 << 20)..=(1 << 30)).contains(&size) {
        Ok(size)
    } else {
        Err(WalError::BadSegmentSize(size))
    }
}

/// One segment: its timeline and number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId {
    pub timeline: u32,
    pub segno: u64,
}

impl SegmentId {
    /// Parses a file name as `pg_receivewal` writes it (no `.partial`).
    pub fn parse(name: &str, segment_size: u64) -> Result<Self, WalError> {
        let bad = || WalError::BadSegment(name.to_string());
        if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let part = |r: std::ops::Range<usize>| u64::from_str_radix(&name[r], 16).map_err(|_| bad());
        let per_id = 0x1_0000_0000 / check_segment_size(segment_size)?;
        let (tl, hi, lo) = (part(0..8)?, part(8..16)?, part(16..24)?);
        if lo >= per_id {
            return Err(bad());
        }
        Ok(SegmentId {
            timeline: tl as u32,
            segno: hi * per_id + lo,
        })
    }

    /// The segment holding `lsn` on `timeline`.
    pub fn of_lsn(timeline: u32, lsn: Lsn, segment_size: u64) -> Self {
        SegmentId {
            timeline,
            segno: lsn.0 / segment_size.max(1),
        }
    }

    /// The file name, as PostgreSQL spells it.
    pub fn name(&self, segment_size: u64) -> String {
        let per_id = 0x1_0000_0000 / segment_size.max(1);
        format!(
            "{:08X}{:08X}{:08X}",
            self.timeline,
            self.segno / per_id,
            self.segno % per_id
        )
    }

    pub fn next(&self) -> Self {
        SegmentId {
            timeline: self.timeline,
            segno: self.segno + 1,
        }
    }
}

/// An archived segment as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalSegment {
    /// `000000010000000000000003`.
    pub name: String,
    /// Storage key (under the database's folder: `…/wal/<timeline>/<segment>.zst[.age]`).
    pub key: String,
    /// Stored (compressed) bytes.
    pub bytes: u64,
    pub sha256: String,
    pub encrypted: bool,
    /// The destinations that hold a committed copy, by name.
    pub storages: Vec<String>,
    /// When the segment was complete (its last write): every WAL record up to then lies in this
    /// segment or an earlier one.
    pub completed_at: DateTime<Utc>,
}

/// A time span from which any second can be restored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interval {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A base backup as the window needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseCoverage {
    pub timeline: u32,
    pub start: SegmentId,
    pub stop: SegmentId,
    pub stopped_at: DateTime<Utc>,
}

/// Which archived segments are present (in storage and in the ledger), by id.
pub trait SegmentLookup {
    fn completed_at(&self, id: &SegmentId) -> Option<DateTime<Utc>>;
}

impl<F: Fn(&SegmentId) -> Option<DateTime<Utc>>> SegmentLookup for F {
    fn completed_at(&self, id: &SegmentId) -> Option<DateTime<Utc>> {
        self(id)
    }
}

/// How far a base backup's restorable span reaches: the last segment of the unbroken run from
/// its start, if that run reaches its stop segment; otherwise the first missing segment.
pub fn reach(
    base: &BaseCoverage,
    present: &dyn SegmentLookup,
) -> Result<(SegmentId, DateTime<Utc>), SegmentId> {
    let mut at = base.start;
    let mut last = None;
    while let Some(t) = present.completed_at(&at) {
        last = Some((at, t));
        at = at.next();
    }
    match last {
        Some((seg, t)) if seg >= base.stop => Ok((seg, t)),
        _ => Err(at),
    }
}

/// The intervals any second of which can be restored: from each base backup's end to the end of
/// the unbroken run of segments after it, merged where they overlap.
pub fn recovery_window(bases: &[BaseCoverage], present: &dyn SegmentLookup) -> Vec<Interval> {
    let mut spans: Vec<Interval> = bases
        .iter()
        .filter_map(|b| {
            let (_, to) = reach(b, present).ok()?;
            (to >= b.stopped_at).then_some(Interval {
                from: b.stopped_at,
                to,
            })
        })
        .collect();
    spans.sort_by_key(|i| i.from);
    let mut merged: Vec<Interval> = Vec::new();
    for s in spans {
        match merged.last_mut() {
            Some(last) if s.from <= last.to => last.to = last.to.max(s.to),
            _ => merged.push(s),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const MB16: u64 = 16 << 20;

    #[test]
    fn names_and_lsns() {
        let id = SegmentId::parse("000000010000000200000003", MB16).unwrap();
        assert_eq!(id.segno, 2 * 256 + 3);
        assert_eq!(id.name(MB16), "000000010000000200000003");
        assert_eq!(id.next().name(MB16), "000000010000000200000004");
        let last = SegmentId::parse("0000000100000002000000FF", MB16).unwrap();
        assert_eq!(last.next().name(MB16), "000000010000000300000000");
        assert!(SegmentId::parse("000000010000000200000100", MB16).is_err());
        assert!(SegmentId::parse("00000001000000020000000", MB16).is_err());
        let lsn = Lsn::parse("2/3000028").unwrap();
        assert_eq!(lsn.to_string(), "2/3000028");
        assert_eq!(SegmentId::of_lsn(1, lsn, MB16), id);
        assert!(Lsn::parse("nope").is_err());
        assert!(Lsn::parse("/1").is_err());
        assert!(check_segment_size(3 << 20).is_err());
    }

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn the_window_stops_at_a_gap_and_resumes_after_the_next_base() {
        let seg = |n| SegmentId {
            timeline: 1,
            segno: n,
        };
        let mut have = BTreeMap::new();
        for n in [2u64, 3, 4, 5, 7, 8, 9] {
            have.insert(seg(n), t(n as i64 * 10));
        }
        let lookup = |id: &SegmentId| have.get(id).copied();
        let bases = vec![
            BaseCoverage {
                timeline: 1,
                start: seg(2),
                stop: seg(3),
                stopped_at: t(25),
            },
            BaseCoverage {
                timeline: 1,
                start: seg(7),
                stop: seg(7),
                stopped_at: t(65),
            },
        ];
        let w = recovery_window(&bases, &lookup);
        assert_eq!(
            w,
            vec![
                Interval {
                    from: t(25),
                    to: t(50)
                },
                Interval {
                    from: t(65),
                    to: t(90)
                },
            ]
        );
        // A base whose own WAL is missing gives nothing.
        let broken = BaseCoverage {
            timeline: 1,
            start: seg(5),
            stop: seg(6),
            stopped_at: t(55),
        };
        assert_eq!(reach(&broken, &lookup), Err(seg(6)));
        assert!(recovery_window(&[broken], &lookup).is_empty());
    }
}
