//! The type names of a database's events, as the ledger stores them.

use crate::database::DatabaseEvent;
use cqrs_es::DomainEvent;

impl DatabaseEvent {
    /// The event's type name, as the ledger stores it.
    pub fn name(&self) -> &'static str {
        match self {
            DatabaseEvent::DatabaseRegistered { .. } => "DatabaseRegistered",
            DatabaseEvent::DatabaseUpdated { .. } => "DatabaseUpdated",
            DatabaseEvent::DatabasePaused {} => "DatabasePaused",
            DatabaseEvent::DatabaseResumed {} => "DatabaseResumed",
            DatabaseEvent::ScheduledRunClaimed { .. } => "ScheduledRunClaimed",
            DatabaseEvent::DatabaseRemoved {} => "DatabaseRemoved",
            DatabaseEvent::DestinationsChanged { .. } => "DestinationsChanged",
            DatabaseEvent::RestoreTargetSet { .. } => "RestoreTargetSet",
            DatabaseEvent::DrillConfigured { .. } => "DrillConfigured",
            DatabaseEvent::DrillSlotClaimed { .. } => "DrillSlotClaimed",
            DatabaseEvent::BackupJobsSet { .. } => "BackupJobsSet",
            DatabaseEvent::RestoreJobsSet { .. } => "RestoreJobsSet",
        }
    }
}

impl DomainEvent for DatabaseEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}
