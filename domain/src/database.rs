//! The Database aggregate: a database registered for backups.

use crate::connection::StoredConnection;
use crate::drill::DrillSettings;
use crate::retention::Retention;
use crate::schedule::Schedule;
use crate::values::{DatabaseName, Engine};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
pub enum DatabaseCommand {
    Register {
        name: DatabaseName,
        engine: Engine,
        connection: StoredConnection,
        schedule: Option<Schedule>,
        retention: Retention,
    },
    Update {
        name: Option<DatabaseName>,
        connection: Option<StoredConnection>,
        /// `Some(None)` removes the schedule.
        schedule: Option<Option<Schedule>>,
        retention: Option<Retention>,
    },
    Pause,
    Resume,
    /// Claims a scheduled slot for one backup. Claims are totally ordered per database, so
    /// of several processes racing for the same slot exactly one wins (the others conflict,
    /// reload and see it claimed). `retry_of` re-claims a slot whose backup was abandoned.
    ClaimSlot {
        slot: chrono::DateTime<chrono::Utc>,
        backup_id: String,
        retry_of: Option<String>,
    },
    /// Chooses the configured storages this database's backups go to (`None`: all of them).
    /// Whether operators may restore into it (staging, sandbox): see `RestoreTargetSet`.
    SetRestoreTarget {
        restore_target: bool,
    },
    SetDestinations {
        destinations: Option<Vec<String>>,
    },
    /// How many `pg_dump` processes a backup runs (PostgreSQL; 1: one stream).
    SetBackupJobs {
        backup_jobs: u32,
    },
    /// How many `pg_restore` jobs a restore into this database runs (PostgreSQL; 1: one stream).
    SetRestoreJobs {
        restore_jobs: u32,
    },
    /// Sets (or with `None` removes) the database's restore drill.
    SetDrill {
        drill: Option<DrillSettings>,
    },
    /// Claims a drill schedule's slot for one drill (like `ClaimSlot` for backups).
    ClaimDrillSlot {
        slot: chrono::DateTime<chrono::Utc>,
        drill_id: String,
    },
    Remove,
}

/// A change of schedule (`schedule: null` removes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleChange {
    pub schedule: Option<Schedule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DatabaseEvent {
    DatabaseRegistered {
        name: DatabaseName,
        engine: Engine,
        connection: StoredConnection,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schedule: Option<Schedule>,
        #[serde(default)]
        retention: Retention,
    },
    DatabaseUpdated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<DatabaseName>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connection: Option<StoredConnection>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schedule: Option<ScheduleChange>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retention: Option<Retention>,
    },
    DatabasePaused {},
    DatabaseResumed {},
    ScheduledRunClaimed {
        slot: chrono::DateTime<chrono::Utc>,
        backup_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_of: Option<String>,
    },
    DatabaseRemoved {},
    /// The storages its backups go to from now on (`None`: every configured storage).
    DestinationsChanged {
        #[serde(default)]
        destinations: Option<Vec<String>>,
    },
    /// Operators may (or may no longer) restore into this database.
    RestoreTargetSet {
        restore_target: bool,
    },
    /// The restore drill's settings from now on (`null`: no more drills).
    DrillConfigured {
        #[serde(default)]
        drill: Option<DrillSettings>,
    },
    /// A drill schedule's slot was claimed by drill `drill_id`.
    DrillSlotClaimed {
        slot: chrono::DateTime<chrono::Utc>,
        drill_id: String,
    },
    /// Backups run this many `pg_dump` processes on one snapshot from now on (1: one stream).
    BackupJobsSet {
        backup_jobs: u32,
    },
    /// Restores into it run this many `pg_restore` jobs from now on (1: one stream).
    RestoreJobsSet {
        restore_jobs: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseError {
    #[error("this database is already registered")]
    AlreadyRegistered,
    #[error("no such database")]
    NotFound,
    #[error("this database was removed; its history stays but it cannot be changed")]
    Removed,
    #[error("nothing to change: give a new name or connection")]
    NothingToChange,
    #[error("the connection string's engine is {given}, but this database is {registered}")]
    EngineMismatch { given: Engine, registered: Engine },
    #[error("this database is already paused")]
    AlreadyPaused,
    #[error("this database is not paused")]
    NotPaused,
    #[error("slot {slot} is already claimed (by backup {backup_id})")]
    SlotClaimed { slot: String, backup_id: String },
    #[error("this database has no schedule")]
    NoSchedule,
    #[error("this database has no drill schedule")]
    NoDrillSchedule,
    #[error("backup_jobs must be between 1 and {max}, not {0}", max = crate::database_jobs::MAX_BACKUP_JOBS)]
    BackupJobsOutOfRange(u32),
    #[error(
        "backup_jobs is for PostgreSQL only (several pg_dump processes sharing one snapshot); \
         a {0} database is backed up by one mariadb-dump stream: leave backup_jobs out or set it to 1"
    )]
    BackupJobsNotSupported(Engine),
    #[error("restore_jobs must be between 1 and {max}, not {0}", max = crate::database_jobs::MAX_RESTORE_JOBS)]
    RestoreJobsOutOfRange(u32),
    #[error(
        "restore_jobs is for PostgreSQL only (pg_restore --jobs); a {0} database is restored by \
         one mariadb stream: leave restore_jobs out or set it to 1"
    )]
    RestoreJobsNotSupported(Engine),
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Database {
    pub registered: bool,
    pub removed: bool,
    pub name: Option<DatabaseName>,
    pub engine: Option<Engine>,
    pub connection: Option<StoredConnection>,
    #[serde(default)]
    pub schedule: Option<Schedule>,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub paused: bool,
    /// The newest claimed slot and the backup that runs it.
    #[serde(default)]
    pub last_claim: Option<(chrono::DateTime<chrono::Utc>, String)>,
    /// Names of the storages its backups go to; `None` means every configured storage.
    #[serde(default)]
    pub destinations: Option<Vec<String>>,
    /// Operators may restore into it (admins restore anywhere).
    #[serde(default)]
    pub restore_target: bool,
    /// Its restore drill, if any.
    #[serde(default)]
    pub drill: Option<DrillSettings>,
    /// The newest claimed drill slot.
    #[serde(default)]
    pub last_drill_slot: Option<chrono::DateTime<chrono::Utc>>,
    /// `pg_dump` processes per backup (0 and 1: one stream).
    #[serde(default)]
    pub backup_jobs: u32,
    /// `pg_restore` jobs per restore into it (0: never set, the default min(4, cores)).
    #[serde(default)]
    pub restore_jobs: u32,
}

impl Database {
    pub(crate) fn require_live(&self) -> Result<(), DatabaseError> {
        if !self.registered {
            return Err(DatabaseError::NotFound);
        }
        if self.removed {
            return Err(DatabaseError::Removed);
        }
        Ok(())
    }

    /// The event of a drill command (`SetDrill`, `ClaimDrillSlot`).
    fn drill_event(&self, command: DatabaseCommand) -> Result<DatabaseEvent, DatabaseError> {
        self.require_live()?;
        match command {
            DatabaseCommand::SetDrill { drill } => {
                if drill == self.drill {
                    return Err(DatabaseError::NothingToChange);
                }
                Ok(DatabaseEvent::DrillConfigured { drill })
            }
            DatabaseCommand::ClaimDrillSlot { slot, drill_id } => {
                if self.drill.as_ref().is_none_or(|d| d.schedule.is_none()) {
                    return Err(DatabaseError::NoDrillSchedule);
                }
                if self.last_drill_slot.is_some_and(|last| slot <= last) {
                    return Err(DatabaseError::SlotClaimed {
                        slot: slot.to_rfc3339(),
                        backup_id: drill_id,
                    });
                }
                Ok(DatabaseEvent::DrillSlotClaimed { slot, drill_id })
            }
            _ => Err(DatabaseError::NothingToChange),
        }
    }
}

impl Aggregate for Database {
    const TYPE: &'static str = "Database";
    type Command = DatabaseCommand;
    type Event = DatabaseEvent;
    type Error = DatabaseError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event =
            match command {
                DatabaseCommand::Register {
                    name,
                    engine,
                    connection,
                    schedule,
                    retention,
                } => {
                    if self.registered {
                        return Err(DatabaseError::AlreadyRegistered);
                    }
                    DatabaseEvent::DatabaseRegistered {
                        name,
                        engine,
                        connection,
                        schedule,
                        retention,
                    }
                }
                DatabaseCommand::Update {
                    name,
                    connection,
                    schedule,
                    retention,
                } => {
                    self.require_live()?;
                    let name = name.filter(|n| Some(n) != self.name.as_ref());
                    let connection = connection.filter(|c| Some(c) != self.connection.as_ref());
                    let schedule = schedule
                        .filter(|s| *s != self.schedule)
                        .map(|schedule| ScheduleChange { schedule });
                    let retention = retention.filter(|r| *r != self.retention);
                    if name.is_none()
                        && connection.is_none()
                        && schedule.is_none()
                        && retention.is_none()
                    {
                        return Err(DatabaseError::NothingToChange);
                    }
                    DatabaseEvent::DatabaseUpdated {
                        name,
                        connection,
                        schedule,
                        retention,
                    }
                }
                DatabaseCommand::Pause => {
                    self.require_live()?;
                    if self.paused {
                        return Err(DatabaseError::AlreadyPaused);
                    }
                    DatabaseEvent::DatabasePaused {}
                }
                DatabaseCommand::Resume => {
                    self.require_live()?;
                    if !self.paused {
                        return Err(DatabaseError::NotPaused);
                    }
                    DatabaseEvent::DatabaseResumed {}
                }
                DatabaseCommand::ClaimSlot {
                    slot,
                    backup_id,
                    retry_of,
                } => {
                    self.require_live()?;
                    if self.schedule.is_none() {
                        return Err(DatabaseError::NoSchedule);
                    }
                    if let Some((last, by)) = &self.last_claim {
                        let is_retry = retry_of.as_ref().is_some_and(|r| r == by) && *last == slot;
                        if slot <= *last && !is_retry {
                            return Err(DatabaseError::SlotClaimed {
                                slot: last.to_rfc3339(),
                                backup_id: by.clone(),
                            });
                        }
                    } else if retry_of.is_some() {
                        return Err(DatabaseError::NoSchedule);
                    }
                    DatabaseEvent::ScheduledRunClaimed {
                        slot,
                        backup_id,
                        retry_of,
                    }
                }
                DatabaseCommand::Remove => {
                    self.require_live()?;
                    DatabaseEvent::DatabaseRemoved {}
                }
                DatabaseCommand::SetDestinations { destinations } => {
                    self.require_live()?;
                    if destinations == self.destinations {
                        return Err(DatabaseError::NothingToChange);
                    }
                    DatabaseEvent::DestinationsChanged { destinations }
                }
                DatabaseCommand::SetRestoreTarget { restore_target } => {
                    self.require_live()?;
                    if restore_target == self.restore_target {
                        return Err(DatabaseError::NothingToChange);
                    }
                    DatabaseEvent::RestoreTargetSet { restore_target }
                }
                c @ (DatabaseCommand::SetBackupJobs { .. }
                | DatabaseCommand::SetRestoreJobs { .. }) => self.jobs_event(c)?,
                c @ (DatabaseCommand::SetDrill { .. } | DatabaseCommand::ClaimDrillSlot { .. }) => {
                    self.drill_event(c)?
                }
            };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            DatabaseEvent::DatabaseRegistered {
                name,
                engine,
                connection,
                schedule,
                retention,
            } => {
                self.registered = true;
                self.name = Some(name);
                self.engine = Some(engine);
                self.connection = Some(connection);
                self.schedule = schedule;
                self.retention = retention;
            }
            DatabaseEvent::DatabaseUpdated {
                name,
                connection,
                schedule,
                retention,
            } => {
                if let Some(n) = name {
                    self.name = Some(n);
                }
                if let Some(c) = connection {
                    self.connection = Some(c);
                }
                if let Some(s) = schedule {
                    self.schedule = s.schedule;
                }
                if let Some(r) = retention {
                    self.retention = r;
                }
            }
            DatabaseEvent::DatabasePaused {} => self.paused = true,
            DatabaseEvent::DatabaseResumed {} => self.paused = false,
            DatabaseEvent::ScheduledRunClaimed {
                slot, backup_id, ..
            } => self.last_claim = Some((slot, backup_id)),
            DatabaseEvent::DatabaseRemoved {} => self.removed = true,
            DatabaseEvent::DestinationsChanged { destinations } => self.destinations = destinations,
            DatabaseEvent::RestoreTargetSet { restore_target } => {
                self.restore_target = restore_target
            }
            DatabaseEvent::DrillConfigured { drill } => {
                self.drill = drill;
                self.last_drill_slot = None;
            }
            DatabaseEvent::DrillSlotClaimed { slot, .. } => self.last_drill_slot = Some(slot),
            DatabaseEvent::BackupJobsSet { backup_jobs } => self.backup_jobs = backup_jobs,
            DatabaseEvent::RestoreJobsSet { restore_jobs } => self.restore_jobs = restore_jobs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use std::collections::BTreeMap;

    type T = TestFramework<Database>;

    fn conn(host: &str) -> StoredConnection {
        StoredConnection {
            host: host.into(),
            port: 5432,
            user: "u".into(),
            database: "d".into(),
            params: BTreeMap::new(),
            password: None,
            ssh: None,
        }
    }

    fn registered() -> DatabaseEvent {
        DatabaseEvent::DatabaseRegistered {
            name: DatabaseName::parse("shop").unwrap(),
            engine: Engine::Postgres,
            connection: conn("h1"),
            schedule: None,
            retention: Retention::default(),
        }
    }

    #[test]
    fn registers_once() {
        T::with(())
            .given_no_previous_events()
            .when(DatabaseCommand::Register {
                name: DatabaseName::parse("shop").unwrap(),
                engine: Engine::Postgres,
                connection: conn("h1"),
                schedule: None,
                retention: Retention::default(),
            })
            .then_expect_events(vec![registered()]);
        T::with(())
            .given(vec![registered()])
            .when(DatabaseCommand::Register {
                name: DatabaseName::parse("shop").unwrap(),
                engine: Engine::Postgres,
                connection: conn("h1"),
                schedule: None,
                retention: Retention::default(),
            })
            .then_expect_error(DatabaseError::AlreadyRegistered);
    }

    #[test]
    fn update_records_only_what_changed() {
        T::with(())
            .given(vec![registered()])
            .when(DatabaseCommand::Update {
                name: Some(DatabaseName::parse("shop").unwrap()),
                connection: Some(conn("h2")),
                schedule: None,
                retention: None,
            })
            .then_expect_events(vec![DatabaseEvent::DatabaseUpdated {
                name: None,
                connection: Some(conn("h2")),
                schedule: None,
                retention: None,
            }]);
        T::with(())
            .given(vec![registered()])
            .when(DatabaseCommand::Update {
                name: Some(DatabaseName::parse("shop").unwrap()),
                connection: Some(conn("h1")),
                schedule: Some(None),
                retention: Some(Retention::default()),
            })
            .then_expect_error(DatabaseError::NothingToChange);
    }

    #[test]
    fn unknown_database_cannot_change() {
        T::with(())
            .given_no_previous_events()
            .when(DatabaseCommand::Remove)
            .then_expect_error(DatabaseError::NotFound);
    }

    #[test]
    fn removed_database_is_frozen() {
        let removed = vec![registered(), DatabaseEvent::DatabaseRemoved {}];
        T::with(())
            .given(removed.clone())
            .when(DatabaseCommand::Remove)
            .then_expect_error(DatabaseError::Removed);
        T::with(())
            .given(removed)
            .when(DatabaseCommand::Update {
                name: None,
                connection: Some(conn("h3")),
                schedule: None,
                retention: None,
            })
            .then_expect_error(DatabaseError::Removed);
    }

    fn scheduled() -> Vec<DatabaseEvent> {
        vec![
            registered(),
            DatabaseEvent::DatabaseUpdated {
                name: None,
                connection: None,
                schedule: Some(ScheduleChange {
                    schedule: Some(
                        Schedule::parse("0 * * * *", None, crate::schedule::CatchUp::Latest)
                            .unwrap(),
                    ),
                }),
                retention: None,
            },
        ]
    }

    fn at(h: u32) -> chrono::DateTime<chrono::Utc> {
        use chrono::TimeZone;
        chrono::Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap()
    }

    fn claim(h: u32, id: &str, retry_of: Option<&str>) -> DatabaseCommand {
        DatabaseCommand::ClaimSlot {
            slot: at(h),
            backup_id: id.into(),
            retry_of: retry_of.map(str::to_string),
        }
    }

    fn claimed(h: u32, id: &str) -> DatabaseEvent {
        DatabaseEvent::ScheduledRunClaimed {
            slot: at(h),
            backup_id: id.into(),
            retry_of: None,
        }
    }

    #[test]
    fn a_slot_is_claimed_once() {
        T::with(())
            .given(scheduled())
            .when(claim(1, "b1", None))
            .then_expect_events(vec![claimed(1, "b1")]);
        let mut history = scheduled();
        history.push(claimed(1, "b1"));
        T::with(())
            .given(history.clone())
            .when(claim(1, "b2", None))
            .then_expect_error(DatabaseError::SlotClaimed {
                slot: at(1).to_rfc3339(),
                backup_id: "b1".into(),
            });
        // An older slot cannot be claimed after a newer one.
        T::with(())
            .given(history.clone())
            .when(claim(0, "b0", None))
            .then_expect_error(DatabaseError::SlotClaimed {
                slot: at(1).to_rfc3339(),
                backup_id: "b1".into(),
            });
        // A slot whose backup was abandoned may be claimed again, once, by naming that backup.
        T::with(())
            .given(history.clone())
            .when(claim(1, "b3", Some("b1")))
            .then_expect_events(vec![DatabaseEvent::ScheduledRunClaimed {
                slot: at(1),
                backup_id: "b3".into(),
                retry_of: Some("b1".into()),
            }]);
        T::with(())
            .given(history)
            .when(claim(1, "b3", Some("zz")))
            .then_expect_error(DatabaseError::SlotClaimed {
                slot: at(1).to_rfc3339(),
                backup_id: "b1".into(),
            });
    }

    #[test]
    fn unscheduled_databases_have_no_slots() {
        T::with(())
            .given(vec![registered()])
            .when(claim(1, "b1", None))
            .then_expect_error(DatabaseError::NoSchedule);
    }

    #[test]
    fn pause_and_resume() {
        T::with(())
            .given(vec![registered()])
            .when(DatabaseCommand::Pause)
            .then_expect_events(vec![DatabaseEvent::DatabasePaused {}]);
        T::with(())
            .given(vec![registered(), DatabaseEvent::DatabasePaused {}])
            .when(DatabaseCommand::Pause)
            .then_expect_error(DatabaseError::AlreadyPaused);
        T::with(())
            .given(vec![registered()])
            .when(DatabaseCommand::Resume)
            .then_expect_error(DatabaseError::NotPaused);
    }

    #[test]
    fn destinations_change_only_when_different() {
        let two = Some(vec!["default".to_string(), "offsite".to_string()]);
        T::with(())
            .given(vec![registered()])
            .when(DatabaseCommand::SetDestinations {
                destinations: two.clone(),
            })
            .then_expect_events(vec![DatabaseEvent::DestinationsChanged {
                destinations: two.clone(),
            }]);
        T::with(())
            .given(vec![
                registered(),
                DatabaseEvent::DestinationsChanged {
                    destinations: two.clone(),
                },
            ])
            .when(DatabaseCommand::SetDestinations { destinations: two })
            .then_expect_error(DatabaseError::NothingToChange);
        T::with(())
            .given(vec![registered()])
            .when(DatabaseCommand::SetDestinations { destinations: None })
            .then_expect_error(DatabaseError::NothingToChange);
    }

    #[test]
    fn backup_jobs_are_for_postgres_and_between_1_and_16() {
        T::with(())
            .given(vec![registered()])
            .when(DatabaseCommand::SetBackupJobs { backup_jobs: 4 })
            .then_expect_events(vec![DatabaseEvent::BackupJobsSet { backup_jobs: 4 }]);
        for bad in [0, 17] {
            T::with(())
                .given(vec![registered()])
                .when(DatabaseCommand::SetBackupJobs { backup_jobs: bad })
                .then_expect_error(DatabaseError::BackupJobsOutOfRange(bad));
        }
        // 1 is what it already is.
        T::with(())
            .given(vec![registered()])
            .when(DatabaseCommand::SetBackupJobs { backup_jobs: 1 })
            .then_expect_error(DatabaseError::NothingToChange);
        let mysql = DatabaseEvent::DatabaseRegistered {
            name: DatabaseName::parse("shop").unwrap(),
            engine: Engine::Mysql,
            connection: conn("h1"),
            schedule: None,
            retention: Retention::default(),
        };
        T::with(())
            .given(vec![mysql])
            .when(DatabaseCommand::SetBackupJobs { backup_jobs: 2 })
            .then_expect_error(DatabaseError::BackupJobsNotSupported(Engine::Mysql));
        let mut d = Database::default();
        d.apply(registered());
        assert_eq!(d.backup_jobs(), 1);
        d.apply(DatabaseEvent::BackupJobsSet { backup_jobs: 3 });
        assert_eq!(d.backup_jobs(), 3);
    }

    #[test]
    fn restore_jobs_are_for_postgres_between_1_and_16_and_unset_by_default() {
        T::with(())
            .given(vec![registered()])
            .when(DatabaseCommand::SetRestoreJobs { restore_jobs: 1 })
            .then_expect_events(vec![DatabaseEvent::RestoreJobsSet { restore_jobs: 1 }]);
        for bad in [0, 17] {
            T::with(())
                .given(vec![registered()])
                .when(DatabaseCommand::SetRestoreJobs { restore_jobs: bad })
                .then_expect_error(DatabaseError::RestoreJobsOutOfRange(bad));
        }
        T::with(())
            .given(vec![
                registered(),
                DatabaseEvent::RestoreJobsSet { restore_jobs: 3 },
            ])
            .when(DatabaseCommand::SetRestoreJobs { restore_jobs: 3 })
            .then_expect_error(DatabaseError::NothingToChange);
        let mysql = DatabaseEvent::DatabaseRegistered {
            name: DatabaseName::parse("shop").unwrap(),
            engine: Engine::Mysql,
            connection: conn("h1"),
            schedule: None,
            retention: Retention::default(),
        };
        T::with(())
            .given(vec![mysql])
            .when(DatabaseCommand::SetRestoreJobs { restore_jobs: 2 })
            .then_expect_error(DatabaseError::RestoreJobsNotSupported(Engine::Mysql));
        let mut d = Database::default();
        d.apply(registered());
        assert_eq!(d.restore_jobs(), None);
        d.apply(DatabaseEvent::RestoreJobsSet { restore_jobs: 3 });
        assert_eq!(d.restore_jobs(), Some(3));
    }

    #[test]
    fn a_drill_slot_is_claimed_once_and_only_with_a_drill_schedule() {
        let drill = DrillSettings {
            schedule: Some(Schedule::parse("0 * * * *", None, Default::default()).unwrap()),
            sandbox: crate::drill::DrillSandbox::NewDatabase {
                server_of: "d".into(),
            },
            max_row_loss_percent: 50,
        };
        let configured = DatabaseEvent::DrillConfigured { drill: Some(drill) };
        let claim = |h| DatabaseCommand::ClaimDrillSlot {
            slot: at(h),
            drill_id: "x".into(),
        };
        T::with(())
            .given(vec![registered()])
            .when(claim(3))
            .then_expect_error(DatabaseError::NoDrillSchedule);
        T::with(())
            .given(vec![registered(), configured.clone()])
            .when(claim(3))
            .then_expect_events(vec![DatabaseEvent::DrillSlotClaimed {
                slot: at(3),
                drill_id: "x".into(),
            }]);
        let claimed = DatabaseEvent::DrillSlotClaimed {
            slot: at(3),
            drill_id: "y".into(),
        };
        T::with(())
            .given(vec![registered(), configured.clone(), claimed])
            .when(claim(3))
            .then_expect_error(DatabaseError::SlotClaimed {
                slot: at(3).to_rfc3339(),
                backup_id: "x".into(),
            });
        T::with(())
            .given(vec![registered(), configured.clone()])
            .when(DatabaseCommand::SetDrill {
                drill: match configured {
                    DatabaseEvent::DrillConfigured { drill } => drill,
                    _ => None,
                },
            })
            .then_expect_error(DatabaseError::NothingToChange);
    }
}
