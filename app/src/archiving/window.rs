//! The recoverable window: from each completed base backup's end to the end of the unbroken
//! run of archived segments after it. A segment counts only if the ledger recorded it and its
//! object is still in storage; a missing one is a gap (and raises a `wal_gap` alert).

use super::ship::wal_prefix;
use super::Archiving;
use crate::alerting::Trouble;
use crate::core::Core;
use crate::error::AppError;
use backline_domain::wal::{reach, recovery_window, BaseCoverage};
use backline_domain::{
    AlertKind, Archive, BaseBackup, BaseBackupStatus, Database, Interval, SegmentId, WalSegment,
};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WalGap {
    /// The first missing segment.
    pub missing_segment: String,
    /// The last second restorable before it.
    pub after: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryWindow {
    /// Any second inside one of these can be restored (RFC 3339, `from` ≤ `to`).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub intervals: Vec<Interval>,
    pub gaps: Vec<WalGap>,
}

/// A completed base backup with what a restore needs of it.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub id: String,
    pub backup: BaseBackup,
    pub coverage: BaseCoverage,
}

/// The archive's segments that are still in storage, by id.
pub(crate) struct Present {
    pub by_id: BTreeMap<SegmentId, WalSegment>,
}

impl Present {
    pub fn completed_at(&self, id: &SegmentId) -> Option<DateTime<Utc>> {
        self.by_id.get(id).map(|s| s.completed_at)
    }
}

/// Everything the window and a point-in-time restore need of database `id`'s archive.
pub(crate) struct Snapshot {
    pub archive: Archive,
    pub bases: Vec<Base>,
    pub present: Present,
}

/// Everything of the archive database `database_id` uses (its own or its server's).
pub(crate) async fn snapshot(core: &Core, database_id: &str) -> Result<Snapshot, AppError> {
    let never = || {
        AppError::Unprocessable(
            "WAL archiving was never enabled for this database (POST /api/v1/databases/{id}/archiving)".into(),
        )
    };
    let (archive_id, archive) = Archiving::archive_of(core, database_id)
        .await?
        .ok_or_else(never)?;
    let database_id = archive_id.as_str();
    let server = archive.server.clone().ok_or_else(never)?;
    let seg_size = server.wal_segment_size;
    let mut bases = Vec::new();
    for id in core.ledger.aggregate_ids(BaseBackup::TYPE).await? {
        let Some(b) = core
            .ledger
            .load::<BaseBackup>(&id)
            .await
            .map_err(AppError::internal)?
        else {
            continue;
        };
        let (Some(lsns), Some(stopped_at)) = (b.lsns.clone(), b.stopped_at) else {
            continue;
        };
        if b.status != BaseBackupStatus::Completed || b.database_id.as_deref() != Some(database_id)
        {
            continue;
        }
        bases.push(Base {
            id,
            coverage: BaseCoverage {
                timeline: lsns.timeline,
                start: SegmentId::of_lsn(lsns.timeline, lsns.start_lsn, seg_size),
                stop: SegmentId::of_lsn(lsns.timeline, lsns.stop_lsn, seg_size),
                stopped_at,
            },
            backup: b,
        });
    }
    let db = core
        .ledger
        .load::<Database>(database_id)
        .await
        .map_err(AppError::internal)?
        .unwrap_or_default();
    let name = db.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
    let stored = stored_keys(core, &wal_prefix(&name, database_id)).await?;
    let by_id = archive
        .segments
        .values()
        .filter(|s| stored.contains(&s.key))
        .filter_map(|s| Some((SegmentId::parse(&s.name, seg_size).ok()?, s.clone())))
        .collect();
    Ok(Snapshot {
        archive,
        bases,
        present: Present { by_id },
    })
}

/// Every key under `prefix` on the default storage (one listing, not one request a segment).
async fn stored_keys(core: &Core, prefix: &str) -> Result<HashSet<String>, AppError> {
    let entries = core
        .store
        .operator()
        .list_with(prefix)
        .recursive(true)
        .await
        .map_err(AppError::internal)?;
    Ok(entries.into_iter().map(|e| e.path().to_string()).collect())
}

impl Snapshot {
    pub fn window(&self) -> RecoveryWindow {
        let lookup = |id: &SegmentId| self.present.completed_at(id);
        let coverage: Vec<BaseCoverage> = self.bases.iter().map(|b| b.coverage.clone()).collect();
        let intervals = recovery_window(&coverage, &lookup);
        let newest = self.present.by_id.keys().next_back().copied();
        let mut gaps: Vec<WalGap> = Vec::new();
        for b in &self.bases {
            // The first segment missing after the base's unbroken run.
            let missing = match reach(&b.coverage, &lookup) {
                Ok((last, _)) => last.next(),
                Err(missing) => missing,
            };
            // A run that merely ends at the newest segment is not a gap.
            let later = newest.is_some_and(|n| n > missing);
            let name = missing.name(self.seg_size());
            if later && !gaps.iter().any(|g| g.missing_segment == name) {
                let before = self.present.by_id.range(..missing).next_back();
                gaps.push(WalGap {
                    missing_segment: name,
                    after: before.map(|(_, s)| s.completed_at.to_rfc3339()),
                });
            }
        }
        RecoveryWindow { intervals, gaps }
    }

    pub fn seg_size(&self) -> u64 {
        self.archive
            .server
            .as_ref()
            .map(|s| s.wal_segment_size)
            .unwrap_or(16 << 20)
    }
}

impl Archiving {
    /// The recoverable window of database `reference`; a gap raises (or repeats) `wal_gap`.
    pub async fn recovery_window(&self, reference: &str) -> Result<RecoveryWindow, AppError> {
        let db = self.core.resolve_database(reference).await?;
        let snap = snapshot(&self.core, &db.id).await?;
        let window = snap.window();
        if let Some(gap) = window.gaps.first() {
            let alerting = crate::alerting::Alerting::new(self.core.clone());
            let r = alerting
                .raise_or_repeat(Trouble {
                    kind: AlertKind::WalGap,
                    database_id: &db.id,
                    database_name: &db.name,
                    cause: format!("wal:{}", gap.missing_segment),
                    cause_event: None,
                    message: format!(
                        "WAL segment {} is missing from the archive: no point after {} can be restored until the next base backup",
                        gap.missing_segment,
                        gap.after.as_deref().unwrap_or("its base backup")
                    ),
                    detail: String::new(),
                })
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "could not raise the wal_gap alert");
            }
            self.core.refresh().await;
        }
        Ok(window)
    }
}
