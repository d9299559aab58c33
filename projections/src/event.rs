//! One ledger event as the read models see it: decoded once, with its place and metadata.

use backline_domain::LedgerEvent;
use backline_infra::StoredEvent;

pub(crate) struct Applied<'a> {
    pub position: i64,
    pub aggregate_id: &'a str,
    /// When it happened (RFC 3339, from the metadata).
    pub at: String,
    pub actor: String,
    pub event: LedgerEvent,
    pub stored: &'a StoredEvent,
}

impl<'a> Applied<'a> {
    pub fn new(stored: &'a StoredEvent, event: LedgerEvent) -> Self {
        Self {
            position: stored.position,
            aggregate_id: &stored.aggregate_id,
            at: stored.meta("at").unwrap_or_default().to_string(),
            actor: stored.meta("actor").unwrap_or_default().to_string(),
            event,
            stored,
        }
    }
}
