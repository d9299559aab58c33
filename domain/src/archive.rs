//! The Archive aggregate: continuous WAL archiving of one PostgreSQL server (id: the id of the
//! registered database that first enabled it), and the segments it archived. Every other
//! registered database of that server that enables archiving joins it (`ArchiveDatabaseAdded`):
//! one slot, one receiver, one set of base backups per server.
//!
//! `WalArchived` is recorded per batch, not per segment: a busy server completes a 16 MiB
//! segment every few seconds (thousands a day), and one event per segment would make the WAL
//! the bulk of the ledger and of every replay. A batch is what one pass of the archiver found
//! complete and stored (one segment on a quiet server, up to [`MAX_BATCH`] under load); each
//! segment keeps its own name, size, checksum and completion time inside the event, so the
//! recoverable window is exact to the segment.

use crate::archive_retention::{segment_below, ArchiveRetention};
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
        retention: ArchiveRetention,
    },
    Disable,
    /// Another registered database of the same server uses this archive.
    AddDatabase {
        database_id: String,
    },
    /// Forget every segment numbered below `before` (retention; the objects go after).
    PruneWal {
        before: String,
        policy: String,
    },
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
        #[serde(default, skip_serializing_if = "ArchiveRetention::is_empty")]
        retention: ArchiveRetention,
    },
    WalArchivingDisabled {},
    /// Another registered database of the archived server shares this archive.
    ArchiveDatabaseAdded {
        database_id: String,
    },
    /// Retention let go of every archived segment numbered below `before`: `segments` of them,
    /// `bytes` stored. Their objects are deleted after this is recorded.
    WalPruned {
        before: String,
        segments: u64,
        bytes: u64,
        policy: String,
    },
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
            ArchiveEvent::WalPruned { .. } => "WalPruned",
            ArchiveEvent::ArchiveDatabaseAdded { .. } => "ArchiveDatabaseAdded",
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
    pub retention: ArchiveRetention,
    /// Every archived segment by name (pruned ones left out).
    pub segments: BTreeMap<String, WalSegment>,
    /// Every segment numbered below this one was pruned.
    pub pruned_before: Option<String>,
    /// The other registered databases of the server that share this archive.
    #[serde(default)]
    pub databases: std::collections::BTreeSet<String>,
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
                retention,
            } => {
                if self.enabled
                    && self.server.as_ref() == Some(&server)
                    && self.base_backup_schedule == base_backup_schedule
                    && self.retention == retention
                {
                    return Ok(());
                }
                ArchiveEvent::WalArchivingEnabled {
                    server,
                    base_backup_schedule,
                    retention,
                }
            }
            ArchiveCommand::AddDatabase { database_id } => {
                if !self.enabled {
                    return Err(ArchiveError::NotEnabled);
                }
                if self.databases.contains(&database_id) {
                    return Ok(());
                }
                ArchiveEvent::ArchiveDatabaseAdded { database_id }
            }
            ArchiveCommand::PruneWal { before, policy } => {
                let gone: Vec<&WalSegment> = self
                    .segments
                    .values()
                    .filter(|s| segment_below(&s.name, &before))
                    .collect();
                if gone.is_empty() {
                    return Ok(());
                }
                ArchiveEvent::WalPruned {
                    segments: gone.len() as u64,
                    bytes: gone.iter().map(|s| s.bytes).sum(),
                    before,
                    policy,
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
                // So is one below the pruned boundary: nothing kept needs it.
                let pruned = |s: &WalSegment| {
                    self.pruned_before
                        .as_deref()
                        .is_some_and(|p| segment_below(&s.name, p))
                };
                let new: Vec<WalSegment> = segments
                    .into_iter()
                    .filter(|s| !self.segments.contains_key(&s.name) && !pruned(s))
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
                retention,
            } => {
                self.enabled = true;
                self.server = Some(server);
                self.base_backup_schedule = base_backup_schedule;
                self.retention = retention;
            }
            ArchiveEvent::WalArchivingDisabled {} => self.enabled = false,
            ArchiveEvent::ArchiveDatabaseAdded { database_id } => {
                self.databases.insert(database_id);
            }
            ArchiveEvent::WalPruned { before, .. } => {
                self.segments
                    .retain(|name, _| !segment_below(name, &before));
                let further = match &self.pruned_before {
                    Some(p) => segment_below(p, &before),
                    None => true,
                };
                if further {
                    self.pruned_before = Some(before);
                }
            }
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
            retention: ArchiveRetention::default(),
        }
    }

    #[test]
    fn enabling_twice_the_same_way_records_once() {
        TestFramework::<Archive>::with(())
            .given(vec![enabled()])
            .when(ArchiveCommand::Enable {
                server: server(),
                base_backup_schedule: None,
                retention: ArchiveRetention::default(),
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

    #[test]
    fn pruning_forgets_the_older_segments_and_refuses_them_later() {
        let (a, b) = (
            seg("000000010000000000000002"),
            seg("000000010000000000000003"),
        );
        let given = vec![
            enabled(),
            ArchiveEvent::WalArchived {
                timeline: 1,
                segments: vec![a.clone(), b.clone()],
            },
        ];
        TestFramework::<Archive>::with(())
            .given(given.clone())
            .when(ArchiveCommand::PruneWal {
                before: b.name.clone(),
                policy: "keep_base_backups=1".into(),
            })
            .then_expect_events(vec![ArchiveEvent::WalPruned {
                before: b.name.clone(),
                segments: 1,
                bytes: 10,
                policy: "keep_base_backups=1".into(),
            }]);
        let mut after = given;
        after.push(ArchiveEvent::WalPruned {
            before: b.name.clone(),
            segments: 1,
            bytes: 10,
            policy: "p".into(),
        });
        // The same boundary again changes nothing; the pruned segment is not recorded again.
        TestFramework::<Archive>::with(())
            .given(after.clone())
            .when(ArchiveCommand::PruneWal {
                before: b.name.clone(),
                policy: "p".into(),
            })
            .then_expect_events(vec![]);
        TestFramework::<Archive>::with(())
            .given(after)
            .when(ArchiveCommand::Record {
                timeline: 1,
                segments: vec![a],
            })
            .then_expect_events(vec![]);
    }
}
