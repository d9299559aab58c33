//! The Alert aggregate: something went wrong with a database and people should know.
//!
//! One alert is open per (database, kind): a repeat of the same trouble increments its counter
//! instead of raising (and notifying) again. Every delivery attempt to every channel is an
//! event, so what was sent, and what still has to be, follows from the ledger alone.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What kind of trouble an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    BackupFailed,
    BackupAbandoned,
    BackupStalled,
    RestoreFailed,
    MissedSchedule,
    StorageFailure,
    /// A crashed restore's scratch database is still on its target's server after a day.
    LeftoverScratch,
    /// The ledger's seals do not verify (database id `ledger`).
    LedgerIntegrity,
    /// A new database appeared on a server with auto-registration.
    DatabaseDiscovered,
    /// A version's stored copy did not verify (`backline verify`, the API or a schedule).
    VerifyFailed,
    /// A WAL segment is missing from the archive: the recoverable window has a gap.
    WalGap,
    /// A restore drill found a table vanished or lost more than the allowed share of its rows.
    DrillAnomaly,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::BackupFailed => "backup_failed",
            AlertKind::BackupAbandoned => "backup_abandoned",
            AlertKind::BackupStalled => "backup_stalled",
            AlertKind::RestoreFailed => "restore_failed",
            AlertKind::MissedSchedule => "missed_schedule",
            AlertKind::StorageFailure => "storage_failure",
            AlertKind::LeftoverScratch => "leftover_scratch",
            AlertKind::LedgerIntegrity => "ledger_integrity",
            AlertKind::DatabaseDiscovered => "database_discovered",
            AlertKind::VerifyFailed => "verify_failed",
            AlertKind::DrillAnomaly => "drill_anomaly",
            AlertKind::WalGap => "wal_gap",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }

    /// A few words for subjects and chat messages.
    pub fn title(self) -> &'static str {
        match self {
            AlertKind::BackupFailed => "backup failed",
            AlertKind::BackupAbandoned => "backup abandoned",
            AlertKind::BackupStalled => "backup stalled",
            AlertKind::RestoreFailed => "restore failed",
            AlertKind::MissedSchedule => "scheduled backup missed",
            AlertKind::StorageFailure => "storage failure",
            AlertKind::LeftoverScratch => "leftover scratch database",
            AlertKind::LedgerIntegrity => "ledger integrity",
            AlertKind::DatabaseDiscovered => "new database discovered",
            AlertKind::VerifyFailed => "verification failed",
            AlertKind::DrillAnomaly => "restore drill anomaly",
            AlertKind::WalGap => "gap in the WAL archive",
        }
    }

    /// Whether a later success of this kind of operation resolves the alert: backups resolve
    /// backup-side alerts, restores resolve restore failures. A failed verification is
    /// resolved by verifications only (a new version does not mend a damaged one).
    pub fn resolved_by_backup(self) -> bool {
        !matches!(
            self,
            AlertKind::RestoreFailed
                | AlertKind::LeftoverScratch
                | AlertKind::VerifyFailed
                | AlertKind::WalGap
                | AlertKind::DrillAnomaly
        )
    }
}

/// Which notification of an alert a delivery carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    Raised,
    Reminder,
    Resolved,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Raised => "raised",
            Notice::Reminder => "reminder",
            Notice::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Delivered,
    Failed,
}

/// The result of one attempt to deliver a notification to one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub channel_id: String,
    pub notice: Notice,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AlertCommand {
    Raise {
        kind: AlertKind,
        database_id: String,
        database_name: String,
        /// What caused it, unique per cause: `position:<n>` or `slot:<time>`.
        cause: String,
        /// Ledger position of the causing event, when an event caused it.
        cause_event: Option<i64>,
        message: String,
        detail: String,
    },
    /// The same trouble again while the alert is open.
    Repeat {
        cause: String,
        cause_event: Option<i64>,
        message: String,
    },
    RecordDelivery(Delivery),
    Acknowledge {
        actor: String,
    },
    Resolve {
        by_event: i64,
        by_type: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AlertEvent {
    AlertRaised {
        kind: AlertKind,
        database_id: String,
        database_name: String,
        cause: String,
        cause_event: Option<i64>,
        message: String,
        #[serde(default)]
        detail: String,
    },
    AlertRepeated {
        cause: String,
        cause_event: Option<i64>,
        count: u64,
        message: String,
    },
    AlertNotified {
        #[serde(flatten)]
        delivery: Delivery,
    },
    AlertAcknowledged {
        actor: String,
    },
    AlertResolved {
        by_event: i64,
        by_type: String,
    },
}

impl AlertEvent {
    /// The event's type name, as the ledger stores it.
    pub fn name(&self) -> &'static str {
        match self {
            AlertEvent::AlertRaised { .. } => "AlertRaised",
            AlertEvent::AlertRepeated { .. } => "AlertRepeated",
            AlertEvent::AlertNotified { .. } => "AlertNotified",
            AlertEvent::AlertAcknowledged { .. } => "AlertAcknowledged",
            AlertEvent::AlertResolved { .. } => "AlertResolved",
        }
    }
}

impl DomainEvent for AlertEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    #[default]
    New,
    Open,
    Acknowledged,
    Resolved,
}

impl AlertState {
    /// The state as it is serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::New => "new",
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error("this alert was already raised")]
    AlreadyRaised,
    #[error("no such alert")]
    NotFound,
    #[error("this alert is resolved")]
    Resolved,
    #[error("this alert is already acknowledged")]
    AlreadyAcknowledged,
    #[error("cause {0} was already counted")]
    DuplicateCause(String),
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub state: AlertState,
    pub kind: Option<AlertKind>,
    pub database_id: Option<String>,
    pub count: u64,
    /// Every cause counted, so that a reactor re-reading the ledger never counts one twice.
    pub causes: BTreeSet<String>,
}

impl Aggregate for Alert {
    const TYPE: &'static str = "Alert";
    type Command = AlertCommand;
    type Event = AlertEvent;
    type Error = AlertError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            AlertCommand::Raise {
                kind,
                database_id,
                database_name,
                cause,
                cause_event,
                message,
                detail,
            } => {
                if self.state != AlertState::New {
                    return Err(AlertError::AlreadyRaised);
                }
                AlertEvent::AlertRaised {
                    kind,
                    database_id,
                    database_name,
                    cause,
                    cause_event,
                    message,
                    detail,
                }
            }
            AlertCommand::Repeat {
                cause,
                cause_event,
                message,
            } => {
                match self.state {
                    AlertState::New => return Err(AlertError::NotFound),
                    AlertState::Resolved => return Err(AlertError::Resolved),
                    _ => {}
                }
                if self.causes.contains(&cause) {
                    return Err(AlertError::DuplicateCause(cause));
                }
                AlertEvent::AlertRepeated {
                    cause,
                    cause_event,
                    count: self.count + 1,
                    message,
                }
            }
            AlertCommand::RecordDelivery(delivery) => {
                if self.state == AlertState::New {
                    return Err(AlertError::NotFound);
                }
                AlertEvent::AlertNotified { delivery }
            }
            AlertCommand::Acknowledge { actor } => match self.state {
                AlertState::New => return Err(AlertError::NotFound),
                AlertState::Resolved => return Err(AlertError::Resolved),
                AlertState::Acknowledged => return Err(AlertError::AlreadyAcknowledged),
                AlertState::Open => AlertEvent::AlertAcknowledged { actor },
            },
            AlertCommand::Resolve { by_event, by_type } => match self.state {
                AlertState::New => return Err(AlertError::NotFound),
                AlertState::Resolved => return Err(AlertError::Resolved),
                _ => AlertEvent::AlertResolved { by_event, by_type },
            },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            AlertEvent::AlertRaised {
                kind,
                database_id,
                cause,
                ..
            } => {
                self.state = AlertState::Open;
                self.kind = Some(kind);
                self.database_id = Some(database_id);
                self.count = 1;
                self.causes.insert(cause);
            }
            AlertEvent::AlertRepeated { cause, count, .. } => {
                self.count = count;
                self.causes.insert(cause);
            }
            AlertEvent::AlertNotified { .. } => {}
            AlertEvent::AlertAcknowledged { .. } => self.state = AlertState::Acknowledged,
            AlertEvent::AlertResolved { .. } => self.state = AlertState::Resolved,
        }
    }
}

/// Delay before retry number `attempt` (1-based count of failures so far): doubling from
/// `base`, capped at `cap`.
pub fn retry_delay(
    base: std::time::Duration,
    cap: std::time::Duration,
    failures: u32,
) -> std::time::Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use std::time::Duration;

    type T = TestFramework<Alert>;

    fn raise() -> AlertCommand {
        AlertCommand::Raise {
            kind: AlertKind::BackupFailed,
            database_id: "db1".into(),
            database_name: "shop".into(),
            cause: "position:7".into(),
            cause_event: Some(7),
            message: "pg_dump: connection refused".into(),
            detail: "tail".into(),
        }
    }

    fn raised() -> AlertEvent {
        AlertEvent::AlertRaised {
            kind: AlertKind::BackupFailed,
            database_id: "db1".into(),
            database_name: "shop".into(),
            cause: "position:7".into(),
            cause_event: Some(7),
            message: "pg_dump: connection refused".into(),
            detail: "tail".into(),
        }
    }

    fn repeat(cause: &str) -> AlertCommand {
        AlertCommand::Repeat {
            cause: cause.into(),
            cause_event: None,
            message: "again".into(),
        }
    }

    #[test]
    fn raises_once() {
        T::with(())
            .given_no_previous_events()
            .when(raise())
            .then_expect_events(vec![raised()]);
        T::with(())
            .given(vec![raised()])
            .when(raise())
            .then_expect_error(AlertError::AlreadyRaised);
    }

    #[test]
    fn repeats_count_each_cause_once() {
        T::with(())
            .given(vec![raised()])
            .when(repeat("position:9"))
            .then_expect_events(vec![AlertEvent::AlertRepeated {
                cause: "position:9".into(),
                cause_event: None,
                count: 2,
                message: "again".into(),
            }]);
        T::with(())
            .given(vec![raised()])
            .when(repeat("position:7"))
            .then_expect_error(AlertError::DuplicateCause("position:7".into()));
        T::with(())
            .given_no_previous_events()
            .when(repeat("position:9"))
            .then_expect_error(AlertError::NotFound);
    }

    #[test]
    fn acknowledge_then_resolve_then_nothing() {
        let ack = AlertEvent::AlertAcknowledged {
            actor: "admin".into(),
        };
        T::with(())
            .given(vec![raised()])
            .when(AlertCommand::Acknowledge {
                actor: "admin".into(),
            })
            .then_expect_events(vec![ack.clone()]);
        T::with(())
            .given(vec![raised(), ack.clone()])
            .when(AlertCommand::Acknowledge {
                actor: "admin".into(),
            })
            .then_expect_error(AlertError::AlreadyAcknowledged);
        let resolved = AlertEvent::AlertResolved {
            by_event: 12,
            by_type: "BackupCompleted".into(),
        };
        T::with(())
            .given(vec![raised(), ack.clone()])
            .when(AlertCommand::Resolve {
                by_event: 12,
                by_type: "BackupCompleted".into(),
            })
            .then_expect_events(vec![resolved.clone()]);
        T::with(())
            .given(vec![raised(), resolved.clone()])
            .when(repeat("position:20"))
            .then_expect_error(AlertError::Resolved);
        T::with(())
            .given(vec![raised(), resolved])
            .when(AlertCommand::Acknowledge {
                actor: "admin".into(),
            })
            .then_expect_error(AlertError::Resolved);
    }

    #[test]
    fn deliveries_are_recorded_for_raised_alerts_only() {
        let d = Delivery {
            channel_id: "c1".into(),
            notice: Notice::Raised,
            outcome: Outcome::Failed,
            status_code: Some(500),
            error: Some("HTTP 500".into()),
            attempt: 1,
        };
        T::with(())
            .given(vec![raised()])
            .when(AlertCommand::RecordDelivery(d.clone()))
            .then_expect_events(vec![AlertEvent::AlertNotified {
                delivery: d.clone(),
            }]);
        T::with(())
            .given_no_previous_events()
            .when(AlertCommand::RecordDelivery(d))
            .then_expect_error(AlertError::NotFound);
    }

    #[test]
    fn retries_back_off_exponentially_up_to_a_cap() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(60);
        let delays: Vec<u64> = (1..=8)
            .map(|n| retry_delay(base, cap, n).as_secs())
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60]);
    }
}
