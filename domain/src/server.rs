//! The Server aggregate: a database server (engine + connection, no database) whose
//! databases Backline lists, registers in bulk and, when asked, registers as they appear.

use crate::artifact::StoredArtifact;
use crate::connection::StoredConnection;
use crate::retention::Retention;
use crate::schedule::Schedule;
use crate::server_globals::{GlobalsError, GlobalsRun, GlobalsSettings, GlobalsState};
use crate::values::Failure;
use crate::values::{DatabaseName, Engine};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The settings every database registered from a server gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RegistrationTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    #[serde(default)]
    pub retention: Retention,
    /// Storage names (`None`: every configured storage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Vec<String>>,
}

/// Registers new databases of the server as they appear (checked on the discovery interval).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AutoRegister {
    /// Only names matching this glob (`*`, `?`); `None`: every database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Raise an alert when a database is discovered.
    #[serde(default)]
    pub alert: bool,
    #[serde(default)]
    pub template: RegistrationTemplate,
}

/// One database registered from a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredDatabase {
    pub name: String,
    pub database_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ServerCommand {
    Register {
        name: DatabaseName,
        engine: Engine,
        connection: StoredConnection,
        auto_register: Option<AutoRegister>,
        /// The databases it held when registered with `auto_register` (never "new").
        existing: Vec<String>,
    },
    /// Records databases registered from this server in one request.
    RecordRegistered {
        databases: Vec<RegisteredDatabase>,
        pattern: Option<String>,
        template: RegistrationTemplate,
    },
    /// Records a database that appeared on the server (registered when `database_id` is set).
    Discover {
        name: String,
        database_id: Option<String>,
        error: Option<String>,
    },
    Remove,
    /// Sets how the server's globals are backed up (`encryption_configured`: whether this
    /// process has an encryption key, which kept passwords need).
    SetGlobals {
        settings: GlobalsSettings,
        encryption_configured: bool,
    },
    /// Claims a scheduled slot of the globals backups for version `globals_id`.
    ClaimGlobalsSlot {
        slot: chrono::DateTime<chrono::Utc>,
        globals_id: String,
    },
    StartGlobalsBackup(GlobalsRun),
    CompleteGlobalsBackup {
        globals_id: String,
        artifact: StoredArtifact,
        duration_ms: u64,
    },
    FailGlobalsBackup {
        globals_id: String,
        failure: Failure,
    },
    /// Records that globals version `globals_id` of this server was applied to `target` (a
    /// server or database id), or why not.
    RecordGlobalsApplied {
        globals_id: String,
        target: String,
        outcome: Result<GlobalsApplication, Failure>,
    },
}

/// What applying a globals version did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GlobalsApplication {
    /// Statements skipped because the role/user they create exists already (kept).
    pub existing: u32,
    /// Other errors the engine reported (their last lines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerEvent {
    ServerRegistered {
        name: DatabaseName,
        engine: Engine,
        /// The server's connection; its `database` is the one connected to for listing.
        connection: StoredConnection,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        auto_register: Option<AutoRegister>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        existing: Vec<String>,
    },
    ServerDatabasesRegistered {
        databases: Vec<RegisteredDatabase>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
        #[serde(default)]
        template: RegistrationTemplate,
    },
    DatabaseDiscovered {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        database_id: Option<String>,
        /// Why it could not be registered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default)]
        alert: bool,
    },
    ServerRemoved {},
    ServerGlobalsSet {
        globals: GlobalsSettings,
    },
    GlobalsSlotClaimed {
        slot: chrono::DateTime<chrono::Utc>,
        globals_id: String,
    },
    GlobalsBackupStarted {
        #[serde(flatten)]
        run: GlobalsRun,
    },
    GlobalsBackupCompleted {
        globals_id: String,
        artifact: StoredArtifact,
        duration_ms: u64,
    },
    GlobalsBackupFailed {
        globals_id: String,
        failure: Failure,
    },
    GlobalsApplied {
        globals_id: String,
        target: String,
        #[serde(flatten)]
        application: GlobalsApplication,
    },
    GlobalsApplyFailed {
        globals_id: String,
        target: String,
        failure: Failure,
    },
}

impl ServerEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ServerEvent::ServerRegistered { .. } => "ServerRegistered",
            ServerEvent::ServerDatabasesRegistered { .. } => "ServerDatabasesRegistered",
            ServerEvent::DatabaseDiscovered { .. } => "DatabaseDiscovered",
            ServerEvent::ServerRemoved {} => "ServerRemoved",
            ServerEvent::ServerGlobalsSet { .. } => "ServerGlobalsSet",
            ServerEvent::GlobalsSlotClaimed { .. } => "GlobalsSlotClaimed",
            ServerEvent::GlobalsBackupStarted { .. } => "GlobalsBackupStarted",
            ServerEvent::GlobalsBackupCompleted { .. } => "GlobalsBackupCompleted",
            ServerEvent::GlobalsBackupFailed { .. } => "GlobalsBackupFailed",
            ServerEvent::GlobalsApplied { .. } => "GlobalsApplied",
            ServerEvent::GlobalsApplyFailed { .. } => "GlobalsApplyFailed",
        }
    }
}

impl DomainEvent for ServerEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    #[error("this server is already registered")]
    AlreadyRegistered,
    #[error("no such server")]
    NotFound,
    #[error("this server was removed")]
    Removed,
    #[error("{0} was already discovered on this server")]
    AlreadyDiscovered(String),
    #[error("nothing was registered")]
    NothingRegistered,
    #[error(transparent)]
    Globals(#[from] GlobalsError),
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    pub registered: bool,
    pub removed: bool,
    pub name: Option<DatabaseName>,
    pub engine: Option<Engine>,
    pub connection: Option<StoredConnection>,
    #[serde(default)]
    pub auto_register: Option<AutoRegister>,
    /// Databases already registered from it or discovered on it: discovery reports each once.
    #[serde(default)]
    pub known: BTreeSet<String>,
    #[serde(default)]
    pub globals: GlobalsState,
}

impl Server {
    fn require_live(&self) -> Result<(), ServerError> {
        match (self.registered, self.removed) {
            (false, _) => Err(ServerError::NotFound),
            (_, true) => Err(ServerError::Removed),
            _ => Ok(()),
        }
    }
}

impl Aggregate for Server {
    const TYPE: &'static str = "Server";
    type Command = ServerCommand;
    type Event = ServerEvent;
    type Error = ServerError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            ServerCommand::Register {
                name,
                engine,
                connection,
                auto_register,
                existing,
            } => {
                if self.registered {
                    return Err(ServerError::AlreadyRegistered);
                }
                ServerEvent::ServerRegistered {
                    name,
                    engine,
                    connection,
                    auto_register,
                    existing,
                }
            }
            ServerCommand::RecordRegistered {
                databases,
                pattern,
                template,
            } => {
                self.require_live()?;
                if databases.is_empty() {
                    return Err(ServerError::NothingRegistered);
                }
                ServerEvent::ServerDatabasesRegistered {
                    databases,
                    pattern,
                    template,
                }
            }
            ServerCommand::Discover {
                name,
                database_id,
                error,
            } => {
                self.require_live()?;
                if self.known.contains(&name) {
                    return Err(ServerError::AlreadyDiscovered(name));
                }
                let alert = self.auto_register.as_ref().is_some_and(|a| a.alert);
                ServerEvent::DatabaseDiscovered {
                    name,
                    database_id,
                    error,
                    alert,
                }
            }
            ServerCommand::Remove => {
                self.require_live()?;
                ServerEvent::ServerRemoved {}
            }
            other => {
                self.require_live()?;
                self.handle_globals(other)?
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ServerEvent::ServerRegistered {
                name,
                engine,
                connection,
                auto_register,
                existing,
            } => {
                self.registered = true;
                self.known.extend(existing);
                self.name = Some(name);
                self.engine = Some(engine);
                self.connection = Some(connection);
                self.auto_register = auto_register;
            }
            ServerEvent::ServerDatabasesRegistered { databases, .. } => {
                self.known.extend(databases.into_iter().map(|d| d.name));
            }
            ServerEvent::DatabaseDiscovered { name, .. } => {
                self.known.insert(name);
            }
            ServerEvent::ServerRemoved {} => self.removed = true,
            ServerEvent::ServerGlobalsSet { globals } => self.globals.settings = Some(globals),
            ServerEvent::GlobalsSlotClaimed { slot, globals_id } => {
                self.globals.last_slot = Some((slot, globals_id))
            }
            ServerEvent::GlobalsBackupStarted { run } => {
                self.globals.open.insert(run.globals_id, run.keep_passwords);
            }
            ServerEvent::GlobalsBackupCompleted { globals_id, .. }
            | ServerEvent::GlobalsBackupFailed { globals_id, .. } => {
                self.globals.open.remove(&globals_id);
            }
            ServerEvent::GlobalsApplied { .. } | ServerEvent::GlobalsApplyFailed { .. } => {}
        }
    }
}

impl Server {
    /// The globals commands (the server is live).
    fn handle_globals(&self, command: ServerCommand) -> Result<ServerEvent, ServerError> {
        let g = &self.globals;
        Ok(match command {
            ServerCommand::SetGlobals {
                settings,
                encryption_configured,
            } => {
                GlobalsState::check_settings(&settings, encryption_configured)?;
                ServerEvent::ServerGlobalsSet { globals: settings }
            }
            ServerCommand::ClaimGlobalsSlot { slot, globals_id } => {
                g.check_claim(slot)?;
                ServerEvent::GlobalsSlotClaimed { slot, globals_id }
            }
            ServerCommand::StartGlobalsBackup(run) => {
                g.check_start(&run)?;
                ServerEvent::GlobalsBackupStarted { run }
            }
            ServerCommand::CompleteGlobalsBackup {
                globals_id,
                artifact,
                duration_ms,
            } => {
                g.check_end(&globals_id, Some(&artifact))?;
                ServerEvent::GlobalsBackupCompleted {
                    globals_id,
                    artifact,
                    duration_ms,
                }
            }
            ServerCommand::FailGlobalsBackup {
                globals_id,
                failure,
            } => {
                g.check_end(&globals_id, None)?;
                ServerEvent::GlobalsBackupFailed {
                    globals_id,
                    failure,
                }
            }
            ServerCommand::RecordGlobalsApplied {
                globals_id,
                target,
                outcome,
            } => match outcome {
                Ok(application) => ServerEvent::GlobalsApplied {
                    globals_id,
                    target,
                    application,
                },
                Err(failure) => ServerEvent::GlobalsApplyFailed {
                    globals_id,
                    target,
                    failure,
                },
            },
            _ => return Err(ServerError::NotFound),
        })
    }
}

/// Whether `name` matches the glob `pattern` (`*`: any run of characters, `?`: one character;
/// everything else literal, case-sensitive).
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn conn() -> StoredConnection {
        StoredConnection {
            host: "db".into(),
            port: 5432,
            user: "u".into(),
            database: "postgres".into(),
            params: Default::default(),
            password: None,
            ssh: None,
        }
    }

    fn registered() -> ServerEvent {
        ServerEvent::ServerRegistered {
            name: DatabaseName::parse("main").unwrap(),
            engine: Engine::Postgres,
            connection: conn(),
            auto_register: Some(AutoRegister {
                alert: true,
                ..Default::default()
            }),
            existing: vec!["old".into()],
        }
    }

    #[test]
    fn globs() {
        assert!(glob_matches("shop_*", "shop_eu"));
        assert!(glob_matches("shop_*", "shop_"));
        assert!(!glob_matches("shop_*", "shopx"));
        assert!(glob_matches("*_db?", "a_db1"));
        assert!(!glob_matches("*_db?", "a_db12"));
        assert!(glob_matches("*", ""));
        assert!(!glob_matches("Shop*", "shop"));
    }

    #[test]
    fn a_database_is_discovered_once_and_registered_ones_are_known() {
        TestFramework::<Server>::with(())
            .given(vec![registered()])
            .when(ServerCommand::Discover {
                name: "x".into(),
                database_id: Some("d".into()),
                error: None,
            })
            .then_expect_events(vec![ServerEvent::DatabaseDiscovered {
                name: "x".into(),
                database_id: Some("d".into()),
                error: None,
                alert: true,
            }]);
        TestFramework::<Server>::with(())
            .given(vec![
                registered(),
                ServerEvent::ServerDatabasesRegistered {
                    databases: vec![RegisteredDatabase {
                        name: "x".into(),
                        database_id: "d".into(),
                    }],
                    pattern: None,
                    template: Default::default(),
                },
            ])
            .when(ServerCommand::Discover {
                name: "x".into(),
                database_id: None,
                error: None,
            })
            .then_expect_error(ServerError::AlreadyDiscovered("x".into()));
        TestFramework::<Server>::with(())
            .given(vec![registered()])
            .when(ServerCommand::Discover {
                name: "old".into(),
                database_id: None,
                error: None,
            })
            .then_expect_error(ServerError::AlreadyDiscovered("old".into()));
        TestFramework::<Server>::with(())
            .given(vec![registered(), ServerEvent::ServerRemoved {}])
            .when(ServerCommand::Remove)
            .then_expect_error(ServerError::Removed);
    }

    fn run(id: &str, keep_passwords: bool) -> GlobalsRun {
        GlobalsRun {
            globals_id: id.into(),
            trigger: crate::backup::Trigger::Manual { actor: "a".into() },
            method: "pg_dumpall".into(),
            tool_version: "15".into(),
            server_version: "15".into(),
            keep_passwords,
        }
    }

    fn artifact(encrypted: bool) -> StoredArtifact {
        StoredArtifact {
            storage: "fs".into(),
            key: "k".into(),
            bytes: 1,
            raw_bytes: 1,
            sha256: "00".into(),
            compression: "zstd".into(),
            encrypted,
            copies: Vec::new(),
            warnings: Vec::new(),
            database_properties: None,
            parts: Vec::new(),
        }
    }

    #[test]
    fn kept_passwords_need_encryption_and_globals_must_be_enabled() {
        let keep = GlobalsSettings {
            enabled: true,
            keep_passwords: true,
            schedule: None,
        };
        TestFramework::<Server>::with(())
            .given(vec![registered()])
            .when(ServerCommand::SetGlobals {
                settings: keep.clone(),
                encryption_configured: false,
            })
            .then_expect_error(ServerError::Globals(GlobalsError::PasswordsNeedEncryption));
        TestFramework::<Server>::with(())
            .given(vec![registered()])
            .when(ServerCommand::StartGlobalsBackup(run("g1", false)))
            .then_expect_error(ServerError::Globals(GlobalsError::NotEnabled));
        let started = vec![
            registered(),
            ServerEvent::ServerGlobalsSet { globals: keep },
            ServerEvent::GlobalsBackupStarted {
                run: run("g1", true),
            },
        ];
        TestFramework::<Server>::with(())
            .given(started.clone())
            .when(ServerCommand::CompleteGlobalsBackup {
                globals_id: "g1".into(),
                artifact: artifact(false),
                duration_ms: 1,
            })
            .then_expect_error(ServerError::Globals(GlobalsError::UnencryptedPasswords));
        TestFramework::<Server>::with(())
            .given(started)
            .when(ServerCommand::CompleteGlobalsBackup {
                globals_id: "g1".into(),
                artifact: artifact(true),
                duration_ms: 1,
            })
            .then_expect_events(vec![ServerEvent::GlobalsBackupCompleted {
                globals_id: "g1".into(),
                artifact: artifact(true),
                duration_ms: 1,
            }]);
    }
}
