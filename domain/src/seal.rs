//! The canonical bytes of a ledger event and of a block of sealed events: defined here once,
//! the same for the SQLite and the PostgreSQL ledger, documented in `docs/ledger-seals.md` and
//! re-implemented by `scripts/verify-ledger.py`. Change nothing here without a new
//! [`SEAL_FORMAT`]: every seal ever written depends on these bytes.
//!
//! - JSON is canonical when objects have their keys sorted (by UTF-8 bytes), there is no
//!   whitespace, strings are written the way `serde_json` writes them (only `"`, `\` and control
//!   characters escaped, the rest as UTF-8) and numbers exactly as they were written.
//! - In an event's metadata, every string that is an RFC 3339 timestamp is normalised to UTC
//!   with microseconds and `Z` (`2026-11-30T18:07:05.123456Z`).
//! - An event's canonical bytes are the canonical JSON of `{aggregate_id, aggregate_type,
//!   event_type, event_version, metadata, payload, position, sequence}`.
//! - A leaf is `sha256(0x00 ‖ canonical bytes)`; a block's root is `sha256(0x01 ‖ leaf₁ ‖ … ‖
//!   leafₙ)` over its events in position order (leaves can be computed in parallel).
//! - A block head is `{count, from, prev, root, to}`; its hash is the sha256 of its canonical
//!   JSON, and its `prev` is the hash of the block before it ([`GENESIS`] for the first).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What the bytes below are: written into every seal and anchor.
pub const SEAL_FORMAT: &str = "backline-seal/1";
/// The `prev` of the first block.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Hex digits of a leaf kept in a seal to name the first bad position (the root decides).
pub const LEAF_HINT_HEX: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonError {
    #[error("not JSON: {0}")]
    Json(String),
}

impl From<serde_json::Error> for CanonError {
    fn from(e: serde_json::Error) -> Self {
        CanonError::Json(e.to_string())
    }
}

/// The canonical form of the JSON text `raw` (see the module's documentation).
pub fn canonical_json(raw: &str) -> Result<String, CanonError> {
    let mut out = String::with_capacity(raw.len());
    write_canonical(raw, false, &mut out)?;
    Ok(out)
}

pub(crate) fn write_canonical(
    raw: &str,
    timestamps: bool,
    out: &mut String,
) -> Result<(), CanonError> {
    let mark = out.len();
    if crate::canonical::write(raw, timestamps, out).is_ok() {
        return Ok(());
    }
    // Text the one-pass writer refuses is left to the definition, which decides (they differ
    // only on values the definition never reads: a duplicate key's earlier value is not
    // range-checked there).
    out.truncate(mark);
    reference_write(raw, timestamps, out)
}

/// The definition of canonical JSON, as the first seals were written: each level parsed by
/// `serde_json` and written again. The one-pass writer gives the same bytes much faster (its
/// tests hold it to this); this decides for the text the one-pass writer refuses.
pub(crate) fn reference_write(
    raw: &str,
    timestamps: bool,
    out: &mut String,
) -> Result<(), CanonError> {
    let text = raw.trim_matches(|c: char| c.is_ascii_whitespace());
    match text.as_bytes().first() {
        Some(b'{') => {
            let map: BTreeMap<String, &RawValue> = serde_json::from_str(text)?;
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k)?);
                out.push(':');
                reference_write(v.get(), timestamps, out)?;
            }
            out.push('}');
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text)?;
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                reference_write(v.get(), timestamps, out)?;
            }
            out.push(']');
        }
        Some(b'"') => {
            let s: String = serde_json::from_str(text)?;
            let s = match timestamps.then(|| normalise_timestamp(&s)).flatten() {
                Some(t) => t,
                None => s,
            };
            out.push_str(&serde_json::to_string(&s)?);
        }
        Some(_) => {
            // A number, true, false or null: checked, then kept as written.
            let _: serde_json::Value = serde_json::from_str(text)?;
            out.push_str(text);
        }
        None => return Err(CanonError::Json("empty".into())),
    }
    Ok(())
}

/// `s` as UTC with microseconds and `Z` when it is an RFC 3339 timestamp of the strict form
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `None` otherwise.
pub fn normalise_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape || b[17] > b'5' {
        return None;
    }
    let mut i = 19;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let zone = &s[i..];
    let zone_ok = zone == "Z"
        || (zone.len() == 6
            && matches!(zone.as_bytes()[0], b'+' | b'-')
            && digits(i + 1..i + 3)
            && zone.as_bytes()[3] == b':'
            && digits(i + 4..i + 6));
    if !zone_ok {
        return None;
    }
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    Some(
        t.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    )
}

/// One stored event as the seal sees it: its columns, payload and metadata as stored (JSON
/// text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
}

impl EventRecord {
    /// The event's canonical bytes.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, CanonError> {
        use crate::canonical::write_string;
        use std::fmt::Write;
        let mut out = String::with_capacity(self.payload.len() + self.metadata.len() + 256);
        out.push_str("{\"aggregate_id\":");
        write_string(&self.aggregate_id, &mut out);
        out.push_str(",\"aggregate_type\":");
        write_string(&self.aggregate_type, &mut out);
        out.push_str(",\"event_type\":");
        write_string(&self.event_type, &mut out);
        out.push_str(",\"event_version\":");
        write_string(&self.event_version, &mut out);
        out.push_str(",\"metadata\":");
        write_canonical(&self.metadata, true, &mut out)?;
        out.push_str(",\"payload\":");
        write_canonical(&self.payload, false, &mut out)?;
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            ",\"position\":{},\"sequence\":{}}}",
            self.position, self.sequence
        );
        Ok(out.into_bytes())
    }

    /// `sha256(0x00 ‖ canonical bytes)`.
    pub fn leaf(&self) -> Result<[u8; 32], CanonError> {
        Ok(leaf_of(&self.canonical_bytes()?))
    }
}

/// `sha256(0x00 ‖ bytes)`.
pub fn leaf_of(canonical: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(canonical);
    h.finalize().into()
}

/// `sha256(0x01 ‖ leaf₁ ‖ … ‖ leafₙ)`, hex.
pub fn root_of(leaves: &[[u8; 32]]) -> String {
    let mut h = Sha256::new();
    h.update([1u8]);
    for l in leaves {
        h.update(l);
    }
    hex::encode(h.finalize())
}

/// The leading [`LEAF_HINT_HEX`] hex digits of a leaf.
pub fn leaf_hint(leaf: &[u8; 32]) -> String {
    hex::encode(&leaf[..LEAF_HINT_HEX / 2])
}

/// What a block of sealed events says of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHead {
    /// First and last position the block covers (inclusive).
    pub from: i64,
    pub to: i64,
    /// Events in `from..=to` (PostgreSQL positions may have gaps: a rolled-back append).
    pub count: u64,
    /// [`root_of`] the block's events, hex.
    pub root: String,
    /// The previous block's [`BlockHead::hash`], or [`GENESIS`].
    pub prev: String,
}

impl BlockHead {
    /// `{"count":…,"from":…,"prev":"…","root":"…","to":…}`: what is hashed and signed.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let s = |v: &str| serde_json::to_string(v).unwrap_or_default();
        format!(
            "{{\"count\":{},\"from\":{},\"prev\":{},\"root\":{},\"to\":{}}}",
            self.count,
            self.from,
            s(&self.prev),
            s(&self.root),
            self.to
        )
        .into_bytes()
    }

    /// sha256 of the canonical bytes, hex.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> EventRecord {
        EventRecord {
            position: 7,
            aggregate_type: "Backup".into(),
            aggregate_id: "b1".into(),
            sequence: 2,
            event_type: "BackupCompleted".into(),
            event_version: "1".into(),
            payload: r#"{"BackupCompleted": {"z": 1.50, "a": [1e3, "é\u00e9\n"], "m": null}}"#
                .into(),
            metadata: r#"{"at":"2026-11-30T19:07:05.1234567+01:00","actor":"x"}"#.into(),
        }
    }

    #[test]
    fn canonical_json_sorts_keys_keeps_numbers_and_normalises_strings() {
        assert_eq!(
            canonical_json(r#" { "b" : 1.50 , "a" : [ 1e3 , -0 , "\u00e9\t\"" ] , "c": {} } "#)
                .unwrap(),
            "{\"a\":[1e3,-0,\"é\\t\\\"\"],\"b\":1.50,\"c\":{}}"
        );
        assert!(canonical_json("{\"a\":").is_err());
        assert!(canonical_json("").is_err());
    }

    /// The bytes every seal depends on: if this changes, old seals no longer verify.
    #[test]
    fn an_events_canonical_bytes_are_stable() {
        let bytes = String::from_utf8(record().canonical_bytes().unwrap()).unwrap();
        assert_eq!(
            bytes,
            "{\"aggregate_id\":\"b1\",\"aggregate_type\":\"Backup\",\"event_type\":\"BackupCompleted\",\
             \"event_version\":\"1\",\"metadata\":{\"actor\":\"x\",\"at\":\"2026-11-30T18:07:05.123456Z\"},\
             \"payload\":{\"BackupCompleted\":{\"a\":[1e3,\"éé\\n\"],\"m\":null,\"z\":1.50}},\
             \"position\":7,\"sequence\":2}"
        );
        // The same event written another way (key order, spacing, escapes) has the same bytes.
        let mut other = record();
        other.payload = r#"{"BackupCompleted":{"m":null,"a":[1e3,"\u00e9é\n"],"z":1.50}}"#.into();
        other.metadata = r#"{"actor":"x","at":"2026-11-30T18:07:05.123456Z"}"#.into();
        assert_eq!(other.leaf().unwrap(), record().leaf().unwrap());
        // Any change of content or place changes the leaf.
        let mut moved = record();
        moved.position = 8;
        assert_ne!(moved.leaf().unwrap(), record().leaf().unwrap());
    }

    #[test]
    fn only_strict_rfc3339_strings_are_timestamps() {
        assert_eq!(
            normalise_timestamp("2026-11-30T18:07:05Z").as_deref(),
            Some("2026-11-30T18:07:05.000000Z")
        );
        assert_eq!(
            normalise_timestamp("2026-11-30T23:30:00.5-01:00").as_deref(),
            Some("2026-12-01T00:30:00.500000Z")
        );
        for s in [
            "2026-11-30 18:07:05Z",
            "2026-11-30T18:07:05",
            "2026-11-30T18:07:60Z",
            "2026-13-30T18:07:05Z",
            "2026-11-30T18:07:05.Z",
            "x2026-11-30T18:07:05Z",
        ] {
            assert_eq!(normalise_timestamp(s), None, "{s}");
        }
    }

    #[test]
    fn block_heads_hash_their_canonical_bytes() {
        let head = BlockHead {
            from: 1,
            to: 3,
            count: 3,
            root: root_of(&[record().leaf().unwrap()]),
            prev: GENESIS.into(),
        };
        let text = String::from_utf8(head.canonical_bytes()).unwrap();
        assert!(
            text.starts_with("{\"count\":3,\"from\":1,\"prev\":\"0000"),
            "{text}"
        );
        assert_eq!(head.hash().len(), 64);
        assert_ne!(
            head.hash(),
            BlockHead {
                count: 2,
                ..head.clone()
            }
            .hash()
        );
    }
}
