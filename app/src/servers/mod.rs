//! Servers: a database server registered without a database, whose databases are listed,
//! registered in bulk with one settings template, and (with `auto_register`) registered as
//! they appear.

mod discovery;
mod globals;
mod globals_apply;

pub use discovery::ServerDatabase;
pub(crate) use globals::tick_globals;
pub use globals::GlobalsInput;
pub(crate) use globals_apply::globals_before_restore;

use crate::core::Core;
use crate::databases::{Databases, ScheduleInput};
use crate::error::{from_aggregate, AppError};
use backline_domain::{
    glob_matches, AutoRegister, ConnectionString, DatabaseName, Engine, GlobalsError,
    RegisteredDatabase, RegistrationTemplate, Server, ServerCommand, ServerError,
};
use backline_projections::ServerView;
use std::sync::Arc;

/// A server to register, as the API received it.
#[derive(Debug, Clone, Default)]
pub struct NewServer {
    pub name: String,
    pub engine: String,
    pub connection: String,
    /// The SSH bastion it is reached through.
    pub ssh: Option<backline_domain::SshInput>,
    /// Register new databases as they appear, with these settings.
    pub auto_register: Option<AutoRegisterInput>,
}

/// `auto_register` as a request gives it.
#[derive(Debug, Clone, Default)]
pub struct AutoRegisterInput {
    pub pattern: Option<String>,
    pub alert: bool,
    pub template: TemplateInput,
}

/// The settings every database registered from a server gets, as a request gives them.
#[derive(Debug, Clone, Default)]
pub struct TemplateInput {
    pub settings: ScheduleInput,
    pub destinations: Option<Vec<String>>,
}

/// Which databases of a server to register.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub databases: Option<Vec<String>>,
    pub pattern: Option<String>,
}

pub(crate) fn server_error(e: &ServerError) -> AppError {
    match e {
        ServerError::NotFound => AppError::NotFound(e.to_string()),
        ServerError::NothingRegistered => AppError::Unprocessable(e.to_string()),
        ServerError::Globals(
            GlobalsError::PasswordsNeedEncryption
            | GlobalsError::NotEnabled
            | GlobalsError::UnencryptedPasswords,
        ) => AppError::Unprocessable(e.to_string()),
        _ => AppError::Conflict(e.to_string()),
    }
}

#[derive(Clone)]
pub struct Servers {
    core: Arc<Core>,
}

impl Servers {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Checks a template: its schedule, retention and destinations.
    fn template(&self, t: &TemplateInput) -> Result<RegistrationTemplate, AppError> {
        let schedule = t.settings.resolve(None)?.flatten();
        if let Some(d) = &t.destinations {
            Databases::new(self.core.clone()).check_destinations(d)?;
        }
        Ok(RegistrationTemplate {
            schedule,
            retention: t.settings.retention.clone().unwrap_or_default(),
            destinations: t.destinations.clone(),
        })
    }

    /// Registers a server. With `auto_register`, the databases it holds now are its baseline
    /// (so the server must answer): only databases that appear later are registered.
    #[tracing::instrument(skip_all, fields(name = %new.name, engine = %new.engine))]
    pub async fn register(&self, actor: &str, new: &NewServer) -> Result<ServerView, AppError> {
        let core = &self.core;
        let name =
            DatabaseName::parse(&new.name).map_err(|e| AppError::invalid("name", e.to_string()))?;
        let engine = Engine::parse(&new.engine).ok_or_else(|| {
            AppError::invalid(
                "engine",
                format!(
                    "unknown engine {:?}: use \"postgres\" or \"mysql\"",
                    new.engine
                ),
            )
        })?;
        let mut conn = ConnectionString::parse_server(engine, &new.connection)
            .map_err(|e| AppError::invalid("connection", e.to_string()))?;
        conn.ssh = crate::tunnels::parse(new.ssh.as_ref())?;
        let auto_register = match &new.auto_register {
            Some(a) => {
                if let Some(p) = &a.pattern {
                    check_pattern(p)?;
                }
                Some(AutoRegister {
                    pattern: a.pattern.clone(),
                    alert: a.alert,
                    template: self.template(&a.template)?,
                })
            }
            None => None,
        };
        if core
            .projections
            .server_by_name(name.as_str())
            .await?
            .is_some()
        {
            return Err(AppError::Taken {
                field: "name",
                message: format!("a server named {name} is already registered"),
            });
        }
        // With auto_register, the databases there now are not "new": they are its baseline.
        let existing = match &auto_register {
            Some(_) => discovery::listable(core, &conn).await?,
            None => Vec::new(),
        };
        let id = uuid::Uuid::now_v7().to_string();
        let stored = crate::tunnels::seal(core, &id, &conn).await?;
        core.aggregates
            .servers
            .execute_with_metadata(
                &id,
                ServerCommand::Register {
                    name,
                    engine,
                    connection: stored,
                    auto_register,
                    existing,
                },
                core.meta(actor, &id),
            )
            .await
            .map_err(|e| from_aggregate(e, server_error))?;
        core.refresh().await;
        self.view(&id).await
    }

    pub async fn view(&self, id: &str) -> Result<ServerView, AppError> {
        self.core
            .projections
            .server(id)
            .await?
            .filter(|s| s.status == "active")
            .ok_or_else(|| AppError::NotFound(format!("no server with id {id:?}")))
    }

    /// Removes a server (the databases registered from it stay) and shreds its password.
    pub async fn remove(&self, actor: &str, id: &str) -> Result<(), AppError> {
        let core = &self.core;
        self.view(id).await?;
        core.aggregates
            .servers
            .execute_with_metadata(id, ServerCommand::Remove, core.meta(actor, id))
            .await
            .map_err(|e| from_aggregate(e, server_error))?;
        core.keyring.destroy(id).await?;
        core.refresh().await;
        Ok(())
    }

    /// Registers the chosen databases (a list, or every unregistered one matching a pattern),
    /// each with the same template. All are checked before any is registered.
    #[tracing::instrument(skip_all, fields(server = id))]
    pub async fn register_databases(
        &self,
        actor: &str,
        id: &str,
        selection: &Selection,
        template: &TemplateInput,
    ) -> Result<Vec<RegisteredDatabase>, AppError> {
        let template = self.template(template)?;
        let listed = self.databases(id).await?;
        let chosen: Vec<String> = match (&selection.databases, &selection.pattern) {
            (Some(names), None) => {
                if names.is_empty() {
                    return Err(AppError::invalid("databases", "name at least one database"));
                }
                for (i, n) in names.iter().enumerate() {
                    let Some(d) = listed.iter().find(|d| &d.name == n) else {
                        return Err(AppError::invalid(
                            "databases",
                            format!("{n:?} is not a database on this server that can be registered (system databases and Backline's own ledger are left out)"),
                        ));
                    };
                    if names[..i].contains(n) {
                        return Err(AppError::invalid("databases", format!("{n:?} is named twice")));
                    }
                    if d.registered {
                        return Err(AppError::Taken {
                            field: "databases",
                            message: format!("{n} is already registered"),
                        });
                    }
                }
                names.clone()
            }
            (None, Some(p)) => {
                check_pattern(p)?;
                let matching: Vec<&ServerDatabase> =
                    listed.iter().filter(|d| glob_matches(p, &d.name)).collect();
                if matching.is_empty() {
                    return Err(AppError::invalid(
                        "pattern",
                        format!("no database on this server matches {p:?}"),
                    ));
                }
                matching
                    .into_iter()
                    .filter(|d| !d.registered)
                    .map(|d| d.name.clone())
                    .collect()
            }
            _ => {
                return Err(AppError::invalid(
                    "databases",
                    "give either \"databases\" (a list of names) or \"pattern\" (e.g. \"shop_*\"), not both",
                ))
            }
        };
        let mut names = Vec::new();
        for n in &chosen {
            let name = DatabaseName::parse(n).map_err(|e| {
                AppError::invalid(
                    "databases",
                    format!("{n:?} cannot be a Backline database name: {e}"),
                )
            })?;
            if self
                .core
                .projections
                .database_by_name(name.as_str())
                .await?
                .is_some()
            {
                return Err(AppError::Taken {
                    field: "databases",
                    message: format!(
                        "a database named {name} (on another server) is already registered"
                    ),
                });
            }
            names.push(name);
        }
        let conn = self.connection(id).await?;
        let mut done = Vec::new();
        let mut failed = None;
        for name in &names {
            match self.register_one(actor, &conn, name, &template).await {
                Ok(d) => done.push(d),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if !done.is_empty() {
            self.core
                .aggregates
                .servers
                .execute_with_metadata(
                    id,
                    ServerCommand::RecordRegistered {
                        databases: done.clone(),
                        pattern: selection.pattern.clone(),
                        template,
                    },
                    self.core.meta(actor, id),
                )
                .await
                .map_err(|e| from_aggregate(e, server_error))?;
            self.core.refresh().await;
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    /// Registers database `name` of the server whose connection is `conn`.
    async fn register_one(
        &self,
        actor: &str,
        conn: &ConnectionString,
        name: &DatabaseName,
        template: &RegistrationTemplate,
    ) -> Result<RegisteredDatabase, AppError> {
        let databases = Databases::new(self.core.clone());
        let view = databases
            .create(
                actor,
                name,
                &conn.with_database(name.as_str()),
                template.schedule.clone(),
                template.retention.clone(),
            )
            .await?;
        if let Some(d) = &template.destinations {
            databases
                .set_destinations(actor, &view.id, Some(d.clone()))
                .await?;
        }
        Ok(RegisteredDatabase {
            name: name.to_string(),
            database_id: view.id,
        })
    }

    /// The server aggregate, live.
    async fn state(&self, id: &str) -> Result<Server, AppError> {
        let s = self
            .core
            .ledger
            .load::<Server>(id)
            .await
            .map_err(AppError::internal)?
            .filter(|s| s.registered && !s.removed)
            .ok_or_else(|| AppError::NotFound(format!("no server with id {id:?}")))?;
        Ok(s)
    }

    /// The server's connection with its password opened.
    async fn connection(&self, id: &str) -> Result<ConnectionString, AppError> {
        let s = self.state(id).await?;
        let (Some(engine), Some(stored)) = (s.engine, s.connection) else {
            return Err(AppError::bug("server has no connection"));
        };
        crate::tunnels::open(&self.core, id, engine, &stored).await
    }
}

/// A glob of database names: `*` and `?` wildcards, at most 128 characters, no control
/// characters.
fn check_pattern(p: &str) -> Result<(), AppError> {
    if p.is_empty() || p.chars().count() > 128 || p.chars().any(|c| c.is_control()) {
        return Err(AppError::invalid(
            "pattern",
            "a pattern is 1–128 characters with * and ? as wildcards, e.g. \"shop_*\"",
        ));
    }
    Ok(())
}
