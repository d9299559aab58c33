//! Times as the read models and event metadata keep them (RFC 3339).

use chrono::{DateTime, Utc};

/// An RFC 3339 time, in UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
