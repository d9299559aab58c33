//! Reading events as stored, in position order: what seals are computed over.

use super::{Ledger, LedgerError, LedgerKind};
use backline_domain::seal::EventRecord;
use sqlx::Row;

impl Ledger {
    /// Events in `after < position <= up_to`, in position order, at most `limit`, as stored
    /// (payload and metadata as their JSON text): what seals are computed over.
    pub async fn read_records(
        &self,
        after: i64,
        up_to: i64,
        limit: i64,
    ) -> Result<Vec<EventRecord>, LedgerError> {
        if self.kind == LedgerKind::Sqlite {
            return self.read_records_joined(after, up_to, limit).await;
        }
        let rows = sqlx::query(
            "SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
             CAST(payload AS TEXT) AS payload, CAST(metadata AS TEXT) AS metadata \
             FROM events WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3",
        )
        .bind(after)
        .bind(up_to)
        .bind(limit)
        .fetch_all(&self.any)
        .await?;
        rows.iter()
            .map(|row| {
                // By index, in the SELECT's order: a name lookup per column and row cost a
                // measurable share of a verification.
                Ok(EventRecord {
                    position: row.try_get(0)?,
                    aggregate_type: row.try_get(1)?,
                    aggregate_id: row.try_get(2)?,
                    sequence: row.try_get(3)?,
                    event_type: row.try_get(4)?,
                    event_version: row.try_get(5)?,
                    payload: row.try_get(6)?,
                    metadata: row.try_get(7)?,
                })
            })
            .collect()
    }

    /// `read_records` on SQLite: the page joined into one JSON text by SQLite (each column
    /// as stored; payload and metadata as JSON strings of their stored text), which crosses
    /// from the connection's worker thread once instead of once per row.
    async fn read_records_joined(
        &self,
        after: i64,
        up_to: i64,
        limit: i64,
    ) -> Result<Vec<EventRecord>, LedgerError> {
        type Columns = (i64, String, String, i64, String, String, String, String);
        let row = sqlx::query(
            "SELECT json_group_array(json_array(position, aggregate_type, aggregate_id, sequence, \
             event_type, event_version, payload, metadata)) AS page FROM ( \
             SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
             CAST(payload AS TEXT) AS payload, CAST(metadata AS TEXT) AS metadata \
             FROM events WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3)",
        )
        .bind(after)
        .bind(up_to)
        .bind(limit)
        .fetch_one(&self.any)
        .await?;
        let page: String = row.try_get(0)?;
        let columns: Vec<Columns> =
            serde_json::from_str(&page).map_err(|e| LedgerError::Corrupt {
                position: after + 1,
                message: format!("the page of events from here does not read back: {e}"),
            })?;
        Ok(columns
            .into_iter()
            .map(|c| EventRecord {
                position: c.0,
                aggregate_type: c.1,
                aggregate_id: c.2,
                sequence: c.3,
                event_type: c.4,
                event_version: c.5,
                payload: c.6,
                metadata: c.7,
            })
            .collect())
    }
}
