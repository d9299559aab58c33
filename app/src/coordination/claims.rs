//! Claims: taken before the event they guard is appended, released when the thing ends, taken
//! over when their holder ended or died (decided from the ledger).

use super::Coordination;
use crate::error::AppError;
use backline_domain::{Backup, BackupStatus, Database, DatabaseName, Restore, RestoreStatus};
use backline_infra::claims::{Holder, Kind};

/// How long a claim is presumed to belong to a request still on its way to the ledger.
pub const IN_FLIGHT_SECS: i64 = 60;

impl Coordination {
    /// Claims `key` of `kind` for `id` (see `backline_infra::claims`). When another holder has
    /// it and still does (`holds`), `busy` names the conflict; a stale claim is taken over.
    pub(crate) async fn claim(
        &self,
        kind: Kind,
        key: &str,
        id: &str,
        busy: impl Fn(&str) -> AppError,
    ) -> Result<(), AppError> {
        for _ in 0..3 {
            let Some(holder) = self
                .claims
                .claim(kind, key, id)
                .await
                .map_err(AppError::internal)?
            else {
                return Ok(());
            };
            if self.holds(kind, key, &holder).await? {
                return Err(busy(&holder.id));
            }
            if self
                .claims
                .take_over(kind, key, &holder.id, id)
                .await
                .map_err(AppError::internal)?
            {
                return Ok(());
            }
        }
        Err(busy("another holder"))
    }

    /// Claims `name` for database `id`, or answers 409 when another database has it.
    pub(crate) async fn claim_name(&self, name: &DatabaseName, id: &str) -> Result<(), AppError> {
        self.claim(Kind::Name, name.as_str(), id, |_| AppError::Taken {
            field: "name",
            message: format!("a database named {name} is already registered"),
        })
        .await
    }

    /// Whether `holder` still has its claim, from the ledger. A claim whose event never reached
    /// the ledger (its process died) is stale a minute on; younger, it may be on its way.
    async fn holds(&self, kind: Kind, key: &str, holder: &Holder) -> Result<bool, AppError> {
        let in_flight = holder.younger_than(IN_FLIGHT_SECS);
        Ok(match kind {
            Kind::Name => {
                let db = self
                    .ledger
                    .load::<Database>(&holder.id)
                    .await
                    .map_err(AppError::internal)?;
                in_flight
                    || db.is_some_and(|d| {
                        !d.removed && d.name.as_ref().map(DatabaseName::as_str) == Some(key)
                    })
            }
            Kind::Username => {
                let u = self
                    .ledger
                    .load::<backline_domain::User>(&holder.id)
                    .await
                    .map_err(AppError::internal)?;
                in_flight || u.is_some_and(|u| u.created)
            }
            Kind::Backup => {
                let b = self
                    .ledger
                    .load::<Backup>(&holder.id)
                    .await
                    .map_err(AppError::internal)?
                    .unwrap_or_default();
                match b.status {
                    BackupStatus::Running => true,
                    BackupStatus::New => in_flight,
                    _ => false,
                }
            }
            Kind::Restore => {
                let r = self
                    .ledger
                    .load::<Restore>(&holder.id)
                    .await
                    .map_err(AppError::internal)?
                    .unwrap_or_default();
                match r.status {
                    // Running while its node renews the lease (see the reaper).
                    RestoreStatus::Running => match self
                        .leases
                        .get(&holder.id)
                        .await
                        .map_err(AppError::internal)?
                    {
                        Some((_, expired)) => !expired,
                        None => in_flight,
                    },
                    RestoreStatus::New => in_flight,
                    _ => false,
                }
            }
            Kind::Drill => {
                let d = self
                    .ledger
                    .load::<backline_domain::Drill>(&holder.id)
                    .await
                    .map_err(AppError::internal)?
                    .unwrap_or_default();
                match d.status {
                    // Running while its node renews the lease (see the reaper).
                    backline_domain::DrillStatus::Running => match self
                        .leases
                        .get(&holder.id)
                        .await
                        .map_err(AppError::internal)?
                    {
                        Some((_, expired)) => !expired,
                        None => in_flight,
                    },
                    backline_domain::DrillStatus::New => in_flight,
                    _ => false,
                }
            }
        })
    }

    /// Gives up a claim; a failure is harmless (a stale claim is taken over later).
    pub(crate) async fn release(&self, kind: Kind, key: &str, holder: &str) {
        if let Err(e) = self.claims.release(kind, key, holder).await {
            tracing::warn!(?kind, key, holder, error = %e, "could not release a claim");
        }
    }
}
