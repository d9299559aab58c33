//! `ledger export --from --to`: the events of a range, widened to whole blocks, and the seals
//! of those blocks, as JSON lines a third party verifies with the public key alone
//! (`scripts/verify-ledger.py`, algorithm in `docs/ledger-seals.md`). Payload and metadata are
//! written exactly as stored, so their numbers are as written.

use super::Seals;
use crate::error::AppError;
use backline_domain::seal::SEAL_FORMAT;
use backline_domain::Seal;
use serde::Serialize;
use serde_json::value::RawValue;

/// The export's format.
pub const EXPORT_FORMAT: &str = "backline-ledger-export/1";

/// One line of an export.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ExportLine {
    Header {
        kind: &'static str,
        format: &'static str,
        seal_format: &'static str,
        public_key: String,
        /// The range asked for, and the range written (whole blocks).
        requested: (i64, i64),
        from: i64,
        to: i64,
    },
    Event {
        kind: &'static str,
        position: i64,
        aggregate_type: String,
        aggregate_id: String,
        sequence: i64,
        event_type: String,
        event_version: String,
        payload: Box<RawValue>,
        metadata: Box<RawValue>,
    },
    Seal {
        kind: &'static str,
        /// Where the `LedgerSealed` event is in the ledger.
        position: i64,
        seal: Seal,
    },
}

impl Seals {
    /// Writes the export of `from..=to` line by line to `out`.
    pub async fn export(
        &self,
        from: i64,
        to: i64,
        out: &mut (dyn FnMut(&ExportLine) -> std::io::Result<()> + Send),
    ) -> Result<(u64, u64), AppError> {
        if from < 1 || to < from {
            return Err(AppError::invalid(
                "from",
                format!("--from {from} --to {to}: expected 1 <= from <= to"),
            ));
        }
        let blocks: Vec<(i64, Seal)> = self
            .blocks()
            .await?
            .into_iter()
            .filter(|(_, s)| s.head.to >= from && s.head.from <= to)
            .collect();
        let first = blocks.first().map_or(from, |(_, s)| s.head.from.min(from));
        let last = blocks.last().map_or(to, |(_, s)| s.head.to.max(to));
        let io = |e: std::io::Error| AppError::bug(format!("writing the export: {e}"));
        out(&ExportLine::Header {
            kind: "header",
            format: EXPORT_FORMAT,
            seal_format: SEAL_FORMAT,
            public_key: self.core.signing.public_hex(),
            requested: (from, to),
            from: first,
            to: last,
        })
        .map_err(io)?;
        let mut after = first - 1;
        let mut events = 0;
        loop {
            let page = self
                .core
                .ledger
                .read_records(after, last, 5000)
                .await
                .map_err(AppError::internal)?;
            let Some(end) = page.last() else { break };
            after = end.position;
            for r in page {
                let raw = |text: String, what: &str| {
                    RawValue::from_string(text).map_err(|e| {
                        AppError::bug(format!(
                            "{what} at position {} is not JSON: {e}",
                            r.position
                        ))
                    })
                };
                let line = ExportLine::Event {
                    kind: "event",
                    position: r.position,
                    payload: raw(r.payload.clone(), "payload")?,
                    metadata: raw(r.metadata.clone(), "metadata")?,
                    aggregate_type: r.aggregate_type,
                    aggregate_id: r.aggregate_id,
                    sequence: r.sequence,
                    event_type: r.event_type,
                    event_version: r.event_version,
                };
                out(&line).map_err(io)?;
                events += 1;
            }
        }
        let count = blocks.len() as u64;
        for (position, seal) in blocks {
            out(&ExportLine::Seal {
                kind: "seal",
                position,
                seal,
            })
            .map_err(io)?;
        }
        Ok((events, count))
    }
}
