//! Restore drills: on a schedule or by hand, the newest completed version of a database is
//! restored into a sandbox, each table is counted and checksummed inside the database (no row
//! leaves it), and the result is compared with the previous drill. A table that vanished, or
//! lost more than a configured share of its rows, is an anomaly: a silent mass deletion shows up
//! before the good versions are pruned.

use crate::schedule::Schedule;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// The share of its rows a table may lose between two drills before it is an anomaly.
pub const DEFAULT_MAX_ROW_LOSS_PERCENT: u8 = 50;

/// Where a drill restores to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrillSandbox {
    /// A registered database flagged `restore_target`: its contents are replaced each time.
    Target { database_id: String },
    /// A new database on the server of a registered one, created and dropped by each drill.
    NewDatabase { server_of: String },
}

/// A database's drill settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillSettings {
    /// When drills run (absent: only when asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    pub sandbox: DrillSandbox,
    /// A table that lost more than this share of its rows since the previous drill is an
    /// anomaly (percent, 1–100).
    pub max_row_loss_percent: u8,
}

/// One table as a drill found it: its row count and a checksum computed in the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCheck {
    /// `schema.table` (PostgreSQL) or `table` (MySQL/MariaDB).
    pub name: String,
    pub rows: u64,
    pub checksum: String,
}

/// What changed for the worse since the previous drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DrillAnomaly {
    /// The table was in the previous drill and is not in this one.
    Vanished { table: String, previous_rows: u64 },
    /// The table lost more than the allowed share of its rows.
    RowsLost {
        table: String,
        previous_rows: u64,
        rows: u64,
    },
}

impl DrillAnomaly {
    /// In words, for alerts and the timeline (names and counts only, never rows).
    pub fn describe(&self) -> String {
        match self {
            DrillAnomaly::Vanished {
                table,
                previous_rows,
            } => format!("table {table} vanished (it had {previous_rows} rows)"),
            DrillAnomaly::RowsLost {
                table,
                previous_rows,
                rows,
            } => format!("table {table} went from {previous_rows} to {rows} rows"),
        }
    }
}

/// Compares a drill's tables with the previous drill's.
pub fn compare(
    previous: &[TableCheck],
    now: &[TableCheck],
    max_loss_percent: u8,
) -> Vec<DrillAnomaly> {
    let mut out = Vec::new();
    for p in previous {
        match now.iter().find(|t| t.name == p.name) {
            None => out.push(DrillAnomaly::Vanished {
                table: p.name.clone(),
                previous_rows: p.rows,
            }),
            Some(t) if t.rows < p.rows => {
                let lost = (p.rows - t.rows) as u128 * 100;
                if lost > p.rows as u128 * max_loss_percent as u128 {
                    out.push(DrillAnomaly::RowsLost {
                        table: p.name.clone(),
                        previous_rows: p.rows,
                        rows: t.rows,
                    });
                }
            }
            Some(_) => {}
        }
    }
    out
}

/// How a drill was started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DrillTrigger {
    Manual { actor: String },
    Scheduled { slot: String },
}

/// Where a drill failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DrillStage {
    /// Preparing: the sandbox could not be made or used.
    Sandbox,
    /// The restore of the version into the sandbox.
    Restore,
    /// Counting and checksumming the restored tables.
    Measure,
    /// The drill's process died.
    Abandoned,
}

impl DrillStage {
    pub fn as_str(self) -> &'static str {
        match self {
            DrillStage::Sandbox => "sandbox",
            DrillStage::Restore => "restore",
            DrillStage::Measure => "measure",
            DrillStage::Abandoned => "abandoned",
        }
    }
}

impl std::fmt::Display for DrillStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum DrillCommand {
    Start {
        database_id: String,
        database_name: String,
        /// The version restored (the newest completed one).
        version: String,
        sandbox: DrillSandbox,
        trigger: DrillTrigger,
        node: String,
    },
    /// The restore into the sandbox ran (`restore_id`); its tables as measured, compared with
    /// `previous` (the previous completed drill's, if any).
    Complete {
        restore_id: String,
        tables: Vec<TableCheck>,
        duration_ms: u64,
        previous: Option<(String, Vec<TableCheck>)>,
        max_row_loss_percent: u8,
    },
    Fail {
        stage: DrillStage,
        message: String,
        restore_id: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DrillEvent {
    RestoreDrillStarted {
        database_id: String,
        database_name: String,
        version: String,
        sandbox: DrillSandbox,
        trigger: DrillTrigger,
        node: String,
    },
    RestoreDrillCompleted {
        version: String,
        tables: Vec<TableCheck>,
        /// How long the restore took: the measured recovery time.
        duration_ms: u64,
        restore_id: String,
        /// The drill compared with (absent for a database's first drill).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        compared_with: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        anomalies: Vec<DrillAnomaly>,
    },
    RestoreDrillFailed {
        stage: DrillStage,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restore_id: Option<String>,
    },
}

impl DrillEvent {
    /// The event's type name, as the ledger stores it.
    pub fn name(&self) -> &'static str {
        match self {
            DrillEvent::RestoreDrillStarted { .. } => "RestoreDrillStarted",
            DrillEvent::RestoreDrillCompleted { .. } => "RestoreDrillCompleted",
            DrillEvent::RestoreDrillFailed { .. } => "RestoreDrillFailed",
        }
    }
}

impl DomainEvent for DrillEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DrillStatus {
    #[default]
    New,
    Running,
    Completed,
    Failed,
}

impl DrillStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DrillStatus::New => "new",
            DrillStatus::Running => "running",
            DrillStatus::Completed => "completed",
            DrillStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrillError {
    #[error("this drill has already started")]
    AlreadyStarted,
    #[error("no such drill")]
    NotFound,
    #[error("this drill is {}, not running", .0.as_str())]
    NotRunning(DrillStatus),
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drill {
    pub status: DrillStatus,
    pub version: Option<String>,
}

impl Aggregate for Drill {
    const TYPE: &'static str = "Drill";
    type Command = DrillCommand;
    type Event = DrillEvent;
    type Error = DrillError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            DrillCommand::Start {
                database_id,
                database_name,
                version,
                sandbox,
                trigger,
                node,
            } => {
                if self.status != DrillStatus::New {
                    return Err(DrillError::AlreadyStarted);
                }
                DrillEvent::RestoreDrillStarted {
                    database_id,
                    database_name,
                    version,
                    sandbox,
                    trigger,
                    node,
                }
            }
            DrillCommand::Complete {
                restore_id,
                tables,
                duration_ms,
                previous,
                max_row_loss_percent,
            } => {
                self.require_running()?;
                let (compared_with, anomalies) = match previous {
                    Some((id, before)) => {
                        (Some(id), compare(&before, &tables, max_row_loss_percent))
                    }
                    None => (None, Vec::new()),
                };
                DrillEvent::RestoreDrillCompleted {
                    version: self.version.clone().unwrap_or_default(),
                    tables,
                    duration_ms,
                    restore_id,
                    compared_with,
                    anomalies,
                }
            }
            DrillCommand::Fail {
                stage,
                message,
                restore_id,
            } => {
                self.require_running()?;
                DrillEvent::RestoreDrillFailed {
                    stage,
                    message,
                    restore_id,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            DrillEvent::RestoreDrillStarted { version, .. } => {
                self.status = DrillStatus::Running;
                self.version = Some(version);
            }
            DrillEvent::RestoreDrillCompleted { .. } => self.status = DrillStatus::Completed,
            DrillEvent::RestoreDrillFailed { .. } => self.status = DrillStatus::Failed,
        }
    }
}

impl Drill {
    fn require_running(&self) -> Result<(), DrillError> {
        match self.status {
            DrillStatus::New => Err(DrillError::NotFound),
            DrillStatus::Running => Ok(()),
            other => Err(DrillError::NotRunning(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn t(name: &str, rows: u64) -> TableCheck {
        TableCheck {
            name: name.into(),
            rows,
            checksum: format!("c{rows}"),
        }
    }

    #[test]
    fn a_vanished_table_and_a_mass_deletion_are_anomalies() {
        let before = [t("public.a", 100), t("public.b", 10), t("public.c", 7)];
        let now = [t("public.a", 49), t("public.c", 9), t("public.d", 1)];
        assert_eq!(
            compare(&before, &now, 50),
            vec![
                DrillAnomaly::RowsLost {
                    table: "public.a".into(),
                    previous_rows: 100,
                    rows: 49
                },
                DrillAnomaly::Vanished {
                    table: "public.b".into(),
                    previous_rows: 10
                },
            ]
        );
    }

    #[test]
    fn losing_exactly_the_allowed_share_is_normal() {
        assert!(compare(&[t("a", 100)], &[t("a", 50)], 50).is_empty());
        assert_eq!(compare(&[t("a", 100)], &[t("a", 89)], 10).len(), 1);
        assert!(compare(&[t("a", 0)], &[t("a", 0)], 1).is_empty());
    }

    fn started() -> DrillEvent {
        DrillEvent::RestoreDrillStarted {
            database_id: "d".into(),
            database_name: "shop".into(),
            version: "v1".into(),
            sandbox: DrillSandbox::NewDatabase {
                server_of: "d".into(),
            },
            trigger: DrillTrigger::Manual {
                actor: "user:1".into(),
            },
            node: "n".into(),
        }
    }

    #[test]
    fn completion_compares_with_the_previous_drill() {
        TestFramework::<Drill>::with(())
            .given(vec![started()])
            .when(DrillCommand::Complete {
                restore_id: "r".into(),
                tables: vec![t("a", 1)],
                duration_ms: 42,
                previous: Some(("p".into(), vec![t("a", 10), t("b", 3)])),
                max_row_loss_percent: 50,
            })
            .then_expect_events(vec![DrillEvent::RestoreDrillCompleted {
                version: "v1".into(),
                tables: vec![t("a", 1)],
                duration_ms: 42,
                restore_id: "r".into(),
                compared_with: Some("p".into()),
                anomalies: vec![
                    DrillAnomaly::RowsLost {
                        table: "a".into(),
                        previous_rows: 10,
                        rows: 1,
                    },
                    DrillAnomaly::Vanished {
                        table: "b".into(),
                        previous_rows: 3,
                    },
                ],
            }]);
    }

    #[test]
    fn a_drill_ends_once() {
        let failed = DrillEvent::RestoreDrillFailed {
            stage: DrillStage::Restore,
            message: "x".into(),
            restore_id: None,
        };
        TestFramework::<Drill>::with(())
            .given(vec![started(), failed])
            .when(DrillCommand::Fail {
                stage: DrillStage::Measure,
                message: "y".into(),
                restore_id: None,
            })
            .then_expect_error(DrillError::NotRunning(DrillStatus::Failed));
        TestFramework::<Drill>::with(())
            .given_no_previous_events()
            .when(DrillCommand::Fail {
                stage: DrillStage::Measure,
                message: "y".into(),
                restore_id: None,
            })
            .then_expect_error(DrillError::NotFound);
    }
}
