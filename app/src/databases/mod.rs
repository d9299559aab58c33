//! Registered databases: register, change, pause, remove, choose destinations, test.

mod backup_jobs;
mod connection_test;
mod schedule_input;

pub use connection_test::{ConnectionTest, MissingPrivilege};

pub use schedule_input::ScheduleInput;

use crate::core::Core;
use crate::error::{database_error, from_aggregate, AppError, FieldError};
use backline_domain::{ConnectionString, Database, DatabaseCommand, DatabaseName, Engine};
use backline_infra::claims::Kind;
use backline_projections::DatabaseView;
use std::sync::Arc;

/// A database to register, as the API or CLI received it.
#[derive(Debug, Clone, Default)]
pub struct NewDatabase {
    pub name: String,
    pub engine: String,
    pub connection: String,
    /// The SSH bastion it is reached through.
    pub ssh: Option<backline_domain::SshInput>,
    pub settings: ScheduleInput,
}

#[derive(Clone)]
pub struct Databases {
    core: Arc<Core>,
}

impl Databases {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Registers a database. Every invalid field is reported at once.
    #[tracing::instrument(skip_all, fields(name = %new.name, engine = %new.engine))]
    pub async fn register(&self, actor: &str, new: &NewDatabase) -> Result<DatabaseView, AppError> {
        let mut errors = Vec::new();
        let mut field = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.to_string(),
                message,
            })
        };
        let name = DatabaseName::parse(&new.name)
            .map_err(|e| field("name", e.to_string()))
            .ok();
        let engine = Engine::parse(&new.engine);
        if engine.is_none() {
            field(
                "engine",
                format!(
                    "unknown engine {:?}: use \"postgres\" or \"mysql\"",
                    new.engine
                ),
            );
        }
        let ssh = crate::tunnels::parse(new.ssh.as_ref())
            .map_err(|e| field("ssh", e.to_string()))
            .ok()
            .flatten();
        let conn = engine.and_then(|engine| {
            ConnectionString::parse(engine, &new.connection)
                .map_err(|e| field("connection", e.to_string()))
                .ok()
                .map(|mut c| {
                    c.ssh = ssh;
                    c
                })
        });
        let schedule = match new.settings.resolve(None) {
            Ok(s) => s.flatten(),
            Err(AppError::Invalid { field: f, message }) => {
                field(f, message);
                None
            }
            Err(e) => return Err(e),
        };
        let (Some(name), Some(engine), Some(conn), true) = (name, engine, conn, errors.is_empty())
        else {
            return Err(match errors.len() {
                1 => {
                    let e = errors.remove(0);
                    AppError::Invalid {
                        field: leak_field(&e.field),
                        message: e.message,
                    }
                }
                _ => AppError::InvalidFields(errors),
            });
        };
        let retention = new.settings.retention.clone().unwrap_or_default();
        self.record(actor, name, engine, conn, schedule, retention)
            .await
    }

    /// Registers `conn` (a checked connection) as `name`, without a schedule: a database a
    /// restore creates.
    pub(crate) async fn register_connection(
        &self,
        actor: &str,
        name: DatabaseName,
        conn: ConnectionString,
    ) -> Result<DatabaseView, AppError> {
        let engine = conn.engine;
        self.record(actor, name, engine, conn, None, Default::default())
            .await
    }

    /// Registers a database whose name, connection and settings were already validated
    /// (409 when the name is taken): a database registered from a server.
    pub(crate) async fn create(
        &self,
        actor: &str,
        name: &DatabaseName,
        conn: &ConnectionString,
        schedule: Option<backline_domain::Schedule>,
        retention: backline_domain::Retention,
    ) -> Result<DatabaseView, AppError> {
        self.record(
            actor,
            name.clone(),
            conn.engine,
            conn.clone(),
            schedule,
            retention,
        )
        .await
    }

    async fn record(
        &self,
        actor: &str,
        name: DatabaseName,
        engine: Engine,
        conn: ConnectionString,
        schedule: Option<backline_domain::Schedule>,
        retention: backline_domain::Retention,
    ) -> Result<DatabaseView, AppError> {
        let core = &self.core;
        if core
            .projections
            .database_by_name(name.as_str())
            .await?
            .is_some()
        {
            return Err(AppError::Taken {
                field: "name",
                message: format!("a database named {name} is already registered"),
            });
        }
        let id = uuid::Uuid::now_v7().to_string();
        // The read model answered for what it has seen; the claim decides for concurrent
        // registrations, in this process or another on the same ledger.
        core.coordination.claim_name(&name, &id).await?;
        let registered = async {
            let stored = crate::tunnels::seal(core, &id, &conn).await?;
            core.aggregates
                .databases
                .execute_with_metadata(
                    &id,
                    DatabaseCommand::Register {
                        name: name.clone(),
                        engine,
                        connection: stored,
                        schedule,
                        retention,
                    },
                    core.meta(actor, &id),
                )
                .await
                .map_err(|e| from_aggregate(e, database_error))
        }
        .await;
        if let Err(e) = registered {
            core.coordination
                .release(Kind::Name, name.as_str(), &id)
                .await;
            return Err(e);
        }
        core.refresh().await;
        core.projections
            .database(&id)
            .await?
            .ok_or_else(|| AppError::bug("registered database is not visible"))
    }

    /// Changes a database's name, connection, schedule or retention.
    #[tracing::instrument(skip_all, fields(database = reference))]
    pub async fn update(
        &self,
        actor: &str,
        reference: &str,
        name: Option<&str>,
        connection: Option<&str>,
        ssh: Option<Option<&backline_domain::SshInput>>,
        settings: &ScheduleInput,
    ) -> Result<DatabaseView, AppError> {
        let core = &self.core;
        let current = core.resolve_database(reference).await?;
        let state = core
            .ledger
            .load::<Database>(&current.id)
            .await
            .map_err(AppError::internal)?
            .unwrap_or_default();
        let schedule = settings.resolve(state.schedule.as_ref())?;
        let name = name
            .map(|n| DatabaseName::parse(n).map_err(|e| AppError::invalid("name", e.to_string())))
            .transpose()?;
        let conn = connection
            .map(|c| {
                ConnectionString::parse(current.engine, c)
                    .map_err(|e| AppError::invalid("connection", e.to_string()))
            })
            .transpose()?;
        let conn = self.with_ssh(&current.id, conn, ssh).await?;
        if let Some(n) = &name {
            if let Some(other) = core.projections.database_by_name(n.as_str()).await? {
                if other.id != current.id {
                    return Err(AppError::Taken {
                        field: "name",
                        message: format!("a database named {n} is already registered"),
                    });
                }
            }
        }
        let stored = match conn {
            Some(c) => Some(crate::tunnels::seal(core, &current.id, &c).await?),
            None => None,
        };
        let renamed = name.clone().filter(|n| n.as_str() != current.name);
        if let Some(n) = &renamed {
            core.coordination.claim_name(n, &current.id).await?;
        }
        let updated = core
            .change_database(
                actor,
                &current.id,
                DatabaseCommand::Update {
                    name,
                    connection: stored,
                    schedule,
                    retention: settings.retention.clone(),
                },
            )
            .await;
        let claims = &core.coordination;
        match (&renamed, &updated) {
            (Some(n), Err(_)) => claims.release(Kind::Name, n.as_str(), &current.id).await,
            (Some(_), Ok(_)) => claims.release(Kind::Name, &current.name, &current.id).await,
            (None, _) => {}
        }
        updated
    }

    /// Stops (`pause`) or restarts scheduled backups.
    pub async fn set_paused(
        &self,
        actor: &str,
        reference: &str,
        paused: bool,
    ) -> Result<DatabaseView, AppError> {
        let current = self.core.resolve_database(reference).await?;
        let command = if paused {
            DatabaseCommand::Pause
        } else {
            DatabaseCommand::Resume
        };
        self.core.change_database(actor, &current.id, command).await
    }

    /// Removes a database: its history stays, its password is shredded.
    pub async fn remove(&self, actor: &str, reference: &str) -> Result<(), AppError> {
        let core = &self.core;
        let current = core.resolve_database(reference).await?;
        core.change_database(actor, &current.id, DatabaseCommand::Remove)
            .await?;
        core.coordination
            .release(Kind::Name, &current.name, &current.id)
            .await;
        core.keyring.destroy(&current.id).await?;
        Ok(())
    }

    /// Checks a database's chosen destinations: at least one, each a configured storage.
    pub fn check_destinations(&self, names: &[String]) -> Result<(), AppError> {
        let invalid = |message: String| AppError::invalid("destinations", message);
        if names.is_empty() {
            return Err(invalid(
                "give at least one storage, or null for all of them".into(),
            ));
        }
        let known: Vec<&str> = self.core.storages.iter().map(|(n, _)| n.as_str()).collect();
        for (i, n) in names.iter().enumerate() {
            if !known.contains(&n.as_str()) {
                return Err(invalid(format!(
                    "no storage named {n:?} is configured; configured: {}",
                    known.join(", ")
                )));
            }
            if names[..i].contains(n) {
                return Err(invalid(format!("{n:?} is named twice")));
            }
        }
        Ok(())
    }

    /// Chooses where a database's backups go (`None`: every configured storage).
    pub async fn set_destinations(
        &self,
        actor: &str,
        reference: &str,
        destinations: Option<Vec<String>>,
    ) -> Result<DatabaseView, AppError> {
        if let Some(d) = &destinations {
            self.check_destinations(d)?;
        }
        let current = self.core.resolve_database(reference).await?;
        self.core
            .change_database(
                actor,
                &current.id,
                DatabaseCommand::SetDestinations { destinations },
            )
            .await
    }

    /// Lets operators restore into a database (or no longer).
    pub async fn set_restore_target(
        &self,
        actor: &str,
        reference: &str,
        restore_target: bool,
    ) -> Result<DatabaseView, AppError> {
        let current = self.core.resolve_database(reference).await?;
        if current.restore_target == restore_target {
            return Ok(current);
        }
        self.core
            .change_database(
                actor,
                &current.id,
                DatabaseCommand::SetRestoreTarget { restore_target },
            )
            .await
    }

    /// The connection an update leaves: `conn` (or the current one, when only the bastion
    /// changes) with the bastion asked for (`Some(None)` removes it) or the current one.
    async fn with_ssh(
        &self,
        id: &str,
        conn: Option<ConnectionString>,
        ssh: Option<Option<&backline_domain::SshInput>>,
    ) -> Result<Option<ConnectionString>, AppError> {
        if conn.is_none() && ssh.is_none() {
            return Ok(None);
        }
        let (_, current) = self.core.database_state(id).await?;
        let current =
            current.ok_or_else(|| AppError::Conflict("this database was removed".into()))?;
        let mut conn = conn.unwrap_or_else(|| current.clone());
        conn.ssh = match ssh {
            Some(s) => crate::tunnels::parse(s)?,
            None => current.ssh,
        };
        Ok(Some(conn))
    }

    /// Tries a registered database's connection.
    pub async fn test_registered(&self, reference: &str) -> Result<ConnectionTest, AppError> {
        let view = self.core.resolve_database(reference).await?;
        let (_, conn) = self.core.database_state(&view.id).await?;
        let conn = conn.ok_or_else(|| AppError::Conflict("this database was removed".into()))?;
        Ok(self.test_connection(&conn).await)
    }

    /// Tries a connection: the server's version, the tools that would be used, and whether
    /// the user holds every privilege a backup needs.
    pub async fn test_connection(&self, conn: &ConnectionString) -> ConnectionTest {
        let conn = match crate::tunnels::reach(&self.core, conn).await {
            Ok(c) => c,
            Err(e) => {
                return ConnectionTest {
                    ok: false,
                    server_version: None,
                    message: e.message,
                    ready: false,
                    missing: vec![],
                    missing_total: 0,
                }
            }
        };
        connection_test::run(&conn, &self.core.tools).await
    }
}

/// The `&'static str` field name of a known request field.
fn leak_field(f: &str) -> &'static str {
    match f {
        "name" => "name",
        "engine" => "engine",
        "connection" => "connection",
        "ssh" => "ssh",
        "schedule" => "schedule",
        "timezone" => "timezone",
        "catch_up" => "catch_up",
        "retention" => "retention",
        _ => "body",
    }
}
