//! The Archive aggregate: continuous WAL archiving of one registered PostgreSQL database's
//! server (id: the database id), and the segments it archived.
//!
//! `WalArchived` is recorded per batch, not per segment: a busy server completes a 16 MiB
//! segment every few seconds (thousands a day), and one event per segment would make the WAL
//! the bulk of the ledger and of every replay. A batch is what one pass of the archiver found
//! complete and stored (one segment on a quiet server, up to [`MAX_BATCH`] under load); each
//! segment keeps its own name, size, checksum and completion time inside the event, so the
//! recoverable window is exact to the segment.

use crate::schedule::Schedule;
use crate::wal::{Lsn, WalSegment};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// At most this many segments in one `WalArchived` event.
pub const MAX_BATCH: usize = 64;

/// What the prerequisite checks found of the server when archiving was enabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedServer {
    /// `host:port`.
    pub server: String,
    /// `pg_control`'s system identifier: WAL of another cluster is never mixed in.
    pub system_identifier: String,
    pub server_major: u32,
    pub wal_segment_size: u64,
    /// The physical replication slot that keeps the WAL until it is archived.
    pub slot: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ArchiveCommand {
    Enable {
        server: ArchivedServer,
        base_backup_schedule: Option<Schedule>,
    },
    Disable,
    Record {
        timeline: u32,
        segments: Vec<WalSegment>,
    },
    NoteReceiverExit {
        message: String,
        restart_in_ms: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ArchiveEvent {
    WalArchivingEnabled {
        #[serde(flatten)]
        server: ArchivedServer,
        #[serde(default)]
        base_backup_schedule: Option<Schedule>,
    },
    WalArchivingDisabled {},
    WalArchived {
        timeline: u32,
        segments: Vec<WalSegment>,
    },
    /// `pg_receivewal` ended; the supervisor restarts it after the back-off.
    WalReceiverExited {
        message: String,
        restart_in_ms: u64,
    },
}

impl ArchiveEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ArchiveEvent::WalArchivingEnabled { .. } => "WalArchivingEnabled",
            ArchiveEvent::WalArchivingDisabled {} => "WalArchivingDisabled",
            ArchiveEvent::WalArchived { .. } => "WalArchived",
            ArchiveEvent::WalReceiverExited { .. } => "WalReceiverExited",
        }
    }
}

impl DomainEvent for ArchiveEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("WAL archiving is not enabled for this database")]
    NotEnabled,
    #[error("a batch holds at most {MAX_BATCH} segments")]
    BatchTooLarge,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Archive {
    pub enabled: bool,
    pub server: Option<ArchivedServer>,
    pub base_backup_schedule: Option<Schedule>,
    /// Every archived segment by name.
    pub segments: BTreeMap<String, WalSegment>,
}

impl Archive {
    /// The newest archived segment's completion.
    pub fn newest(&self) -> Option<&WalSegment> {
        self.segments.values().max_by_key(|s| s.completed_at)
    }
}

impl Aggregate for Archive {
    const TYPE: &'static str = "Archive";
    type Command = ArchiveCommand;
    type Event = ArchiveEvent;
    type Error = ArchiveError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            ArchiveCommand::Enable {
                server,
                base_backup_schedule,
            } => {
                if self.enabled
                    && self.server.as_ref() == Some(&server)
                    && self.base_backup_schedule == base_backup_schedule
                {
                    return Ok(());
                }
                ArchiveEvent::WalArchivingEnabled {
                    server,
                    base_backup_schedule,
                }
            }
            ArchiveCommand::Disable => {
                if !self.enabled {
                    return Ok(());
                }
                ArchiveEvent::WalArchivingDisabled {}
            }
            ArchiveCommand::Record { timeline, segments } => {
                if segments.len() > MAX_BATCH {
                    return Err(ArchiveError::BatchTooLarge);
                }
                // A segment streamed again after a restart is recorded once.
                let new: Vec<WalSegment> = segments
                    .into_iter()
                    .filter(|s| !self.segments.contains_key(&s.name))
                    .collect();
                if new.is_empty() {
                    return Ok(());
                }
                ArchiveEvent::WalArchived {
                    timeline,
                    segments: new,
                }
            }
            ArchiveCommand::NoteReceiverExit {
                message,
                restart_in_ms,
            } => {
                if !self.enabled {
                    return Err(ArchiveError::NotEnabled);
                }
                ArchiveEvent::WalReceiverExited {
                    message,
                    restart_in_ms,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ArchiveEvent::WalArchivingEnabled {
                server,
                base_backup_schedule,
            } => {
                self.enabled = true;
                self.server = Some(server);
                self.base_backup_schedule = base_backup_schedule;
            }
            ArchiveEvent::WalArchivingDisabled {} => self.enabled = false,
            ArchiveEvent::WalArchived { segments, .. } => {
                for s in segments {
                    self.segments.insert(s.name.clone(), s);
                }
            }
            ArchiveEvent::WalReceiverExited { .. } => {}
        }
    }
}

/// Start and stop of a base backup, as `pg_basebackup` reported them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupLsns {
    pub timeline: u32,
    pub start_lsn: Lsn,
    pub stop_lsn: Lsn,
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn server() -> ArchivedServer {
        ArchivedServer {
            server: "db:5432".into(),
            system_identifier: "7".into(),
            server_major: 15,
            wal_segment_size: 16 << 20,
            slot: "backline_x".into(),
        }
    }

    fn seg(name: &str) -> WalSegment {
        WalSegment {
            name: name.into(),
            key: format!("wal/00000001/{name}.zst"),
            bytes: 10,
            sha256: "ab".into(),
            encrypted: false,
            storages: vec!["default".into()],
            completed_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        }
    }

    fn enabled() -> ArchiveEvent {
        ArchiveEvent::WalArchivingEnabled {
            server: server(),
            base_backup_schedule: None,
        }
    }

    #[test]
    fn enabling_twice_the_same_way_records_once() {
        TestFramework::<Archive>::with(())
            .given(vec![enabled()])
            .when(ArchiveCommand::Enable {
                server: server(),
                base_backup_schedule: None,
            })
            .then_expect_events(vec![]);
        TestFramework::<Archive>::with(())
            .given_no_previous_events()
            .when(ArchiveCommand::Disable)
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_segment_streamed_again_is_recorded_once() {
        let a = seg("000000010000000000000002");
        let b = seg("000000010000000000000003");
        TestFramework::<Archive>::with(())
            .given(vec![
                enabled(),
                ArchiveEvent::WalArchived {
                    timeline: 1,
                    segments: vec![a.clone()],
                },
            ])
            .when(ArchiveCommand::Record {
                timeline: 1,
                segments: vec![a, b.clone()],
            })
            .then_expect_events(vec![ArchiveEvent::WalArchived {
                timeline: 1,
                segments: vec![b],
            }]);
    }

    #[test]
    fn batches_are_bounded() {
        let many = (0..=MAX_BATCH)
            .map(|i| seg(&format!("0000000100000000000000{i:02X}")))
            .collect();
        TestFramework::<Archive>::with(())
            .given(vec![enabled()])
            .when(ArchiveCommand::Record {
                timeline: 1,
                segments: many,
            })
            .then_expect_error(ArchiveError::BatchTooLarge);
    }
}
