//! The Database aggregate: a database registered for backups.

use crate::connection::StoredConnection;
use crate::values::{DatabaseName, Engine};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
pub enum DatabaseCommand {
    Register {
        name: DatabaseName,
        engine: Engine,
        connection: StoredConnection,
    },
    Update {
        name: Option<DatabaseName>,
        connection: Option<StoredConnection>,
    },
    Remove,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DatabaseEvent {
    DatabaseRegistered {
        name: DatabaseName,
        engine: Engine,
        connection: StoredConnection,
    },
    DatabaseUpdated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<DatabaseName>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connection: Option<StoredConnection>,
    },
    DatabaseRemoved {},
}

impl DomainEvent for DatabaseEvent {
    fn event_type(&self) -> String {
        match self {
            DatabaseEvent::DatabaseRegistered { .. } => "DatabaseRegistered",
            DatabaseEvent::DatabaseUpdated { .. } => "DatabaseUpdated",
            DatabaseEvent::DatabaseRemoved {} => "DatabaseRemoved",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
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
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Database {
    pub registered: bool,
    pub removed: bool,
    pub name: Option<DatabaseName>,
    pub engine: Option<Engine>,
    pub connection: Option<StoredConnection>,
}

impl Database {
    fn require_live(&self) -> Result<(), DatabaseError> {
        if !self.registered {
            return Err(DatabaseError::NotFound);
        }
        if self.removed {
            return Err(DatabaseError::Removed);
        }
        Ok(())
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
        let event = match command {
            DatabaseCommand::Register {
                name,
                engine,
                connection,
            } => {
                if self.registered {
                    return Err(DatabaseError::AlreadyRegistered);
                }
                DatabaseEvent::DatabaseRegistered {
                    name,
                    engine,
                    connection,
                }
            }
            DatabaseCommand::Update { name, connection } => {
                self.require_live()?;
                let name = name.filter(|n| Some(n) != self.name.as_ref());
                let connection = connection.filter(|c| Some(c) != self.connection.as_ref());
                if name.is_none() && connection.is_none() {
                    return Err(DatabaseError::NothingToChange);
                }
                DatabaseEvent::DatabaseUpdated { name, connection }
            }
            DatabaseCommand::Remove => {
                self.require_live()?;
                DatabaseEvent::DatabaseRemoved {}
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
            } => {
                self.registered = true;
                self.name = Some(name);
                self.engine = Some(engine);
                self.connection = Some(connection);
            }
            DatabaseEvent::DatabaseUpdated { name, connection } => {
                if let Some(n) = name {
                    self.name = Some(n);
                }
                if let Some(c) = connection {
                    self.connection = Some(c);
                }
            }
            DatabaseEvent::DatabaseRemoved {} => self.removed = true,
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
        }
    }

    fn registered() -> DatabaseEvent {
        DatabaseEvent::DatabaseRegistered {
            name: DatabaseName::parse("shop").unwrap(),
            engine: Engine::Postgres,
            connection: conn("h1"),
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
            })
            .then_expect_events(vec![registered()]);
        T::with(())
            .given(vec![registered()])
            .when(DatabaseCommand::Register {
                name: DatabaseName::parse("shop").unwrap(),
                engine: Engine::Postgres,
                connection: conn("h1"),
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
            })
            .then_expect_events(vec![DatabaseEvent::DatabaseUpdated {
                name: None,
                connection: Some(conn("h2")),
            }]);
        T::with(())
            .given(vec![registered()])
            .when(DatabaseCommand::Update {
                name: Some(DatabaseName::parse("shop").unwrap()),
                connection: Some(conn("h1")),
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
            })
            .then_expect_error(DatabaseError::Removed);
    }
}
