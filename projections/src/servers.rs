//! The servers read model: each registered server, its auto-registration setting, and the
//! databases registered from it or discovered on it.

use crate::event::Applied;
use crate::store::{bodies, load, Arg, OnConflict, Tx, Write};
use crate::{ProjectionError, Projections};
use backline_domain::{Engine, LedgerEvent, ServerEvent};
use serde::{Deserialize, Serialize};

/// A database registered from a server, or discovered on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerDatabaseView {
    pub name: String,
    pub database_id: Option<String>,
    /// `registered` (in a request), `discovered` (by the periodic check).
    pub how: String,
    pub at: String,
    /// Why a discovered database could not be registered.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AutoRegisterView {
    /// Only names matching this glob; `null`: every database.
    pub pattern: Option<String>,
    /// Discoveries raise an alert.
    pub alert: bool,
    /// Cron expression of the registered databases' backups.
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub destinations: Option<Vec<String>>,
}

/// How the server's globals (roles, users, grants) are backed up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GlobalsSettingsView {
    pub enabled: bool,
    /// Password hashes are kept (and the artifact encrypted).
    pub keep_passwords: bool,
    /// Cron expression of scheduled globals backups; `null`: on demand only.
    pub schedule: Option<String>,
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerView {
    pub id: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub engine: Engine,
    /// Connection string with the password replaced by `***`.
    pub connection: String,
    /// The SSH bastion it is reached through, if any.
    #[serde(default)]
    pub ssh: Option<crate::SshView>,
    /// `active` or `removed`.
    pub status: String,
    pub created_at: String,
    pub removed_at: Option<String>,
    /// Registers new databases as they appear, when set.
    pub auto_register: Option<AutoRegisterView>,
    /// Databases registered from it or discovered on it, oldest first.
    pub databases: Vec<ServerDatabaseView>,
    /// How its globals are backed up; `null`: never set.
    #[serde(default)]
    pub globals: Option<GlobalsSettingsView>,
}

async fn save(tx: &mut Tx<'_>, v: &ServerView) -> Result<(), ProjectionError> {
    tx.write(Write {
        table: "rm_servers",
        key: ("id", Arg::S(v.id.clone())),
        cols: vec![
            ("name", Arg::S(v.name.clone())),
            ("status", Arg::S(v.status.clone())),
            ("body", Arg::body(v)),
        ],
        on_conflict: OnConflict::Set(&["status", "body"]),
    });
    Ok(())
}

async fn update(
    tx: &mut Tx<'_>,
    id: &str,
    change: impl FnOnce(&mut ServerView),
) -> Result<(), ProjectionError> {
    if let Some(mut v) = load::<ServerView>(tx, "rm_servers", id).await? {
        change(&mut v);
        save(tx, &v).await?;
    }
    Ok(())
}

pub(crate) async fn apply(tx: &mut Tx<'_>, e: &Applied<'_>) -> Result<(), ProjectionError> {
    let LedgerEvent::Server(event) = &e.event else {
        return Ok(());
    };
    let at = e.at.clone();
    match event {
        ServerEvent::ServerRegistered {
            name,
            engine,
            connection,
            auto_register,
            ..
        } => {
            let v = ServerView {
                id: e.aggregate_id.to_string(),
                name: name.to_string(),
                engine: *engine,
                connection: connection.redacted(*engine),
                ssh: connection.ssh.as_deref().map(crate::SshView::of),
                status: "active".into(),
                created_at: at,
                removed_at: None,
                auto_register: auto_register.as_ref().map(|a| AutoRegisterView {
                    pattern: a.pattern.clone(),
                    alert: a.alert,
                    schedule: a.template.schedule.as_ref().map(|s| s.cron.clone()),
                    timezone: a.template.schedule.as_ref().map(|s| s.timezone.clone()),
                    destinations: a.template.destinations.clone(),
                }),
                databases: Vec::new(),
                globals: None,
            };
            save(tx, &v).await
        }
        ServerEvent::ServerDatabasesRegistered { databases, .. } => {
            update(tx, e.aggregate_id, |v| {
                v.databases
                    .extend(databases.iter().map(|d| ServerDatabaseView {
                        name: d.name.clone(),
                        database_id: Some(d.database_id.clone()),
                        how: "registered".into(),
                        at: at.clone(),
                        error: None,
                    }))
            })
            .await
        }
        ServerEvent::DatabaseDiscovered {
            name,
            database_id,
            error,
            ..
        } => {
            update(tx, e.aggregate_id, |v| {
                v.databases.push(ServerDatabaseView {
                    name: name.clone(),
                    database_id: database_id.clone(),
                    how: "discovered".into(),
                    at,
                    error: error.clone(),
                })
            })
            .await
        }
        ServerEvent::ServerRemoved {} => {
            update(tx, e.aggregate_id, |v| {
                v.status = "removed".into();
                v.removed_at = Some(at);
            })
            .await
        }
        ServerEvent::ServerGlobalsSet { globals } => {
            update(tx, e.aggregate_id, |v| {
                v.globals = Some(GlobalsSettingsView {
                    enabled: globals.enabled,
                    keep_passwords: globals.keep_passwords,
                    schedule: globals.schedule.as_ref().map(|s| s.cron.clone()),
                    timezone: globals.schedule.as_ref().map(|s| s.timezone.clone()),
                })
            })
            .await
        }
        _ => Ok(()),
    }
}

impl Projections {
    /// Active servers by name.
    pub async fn servers(&self) -> Result<Vec<ServerView>, ProjectionError> {
        bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_servers WHERE status = $1 ORDER BY name, id",
            vec![Arg::S("active".into())],
        )
        .await
    }

    pub async fn server(&self, id: &str) -> Result<Option<ServerView>, ProjectionError> {
        Ok(bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_servers WHERE id = $1",
            vec![Arg::S(id.into())],
        )
        .await?
        .pop())
    }

    /// The active server named `name`.
    pub async fn server_by_name(&self, name: &str) -> Result<Option<ServerView>, ProjectionError> {
        Ok(bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_servers WHERE name = $1 AND status = $2",
            vec![Arg::S(name.into()), Arg::S("active".into())],
        )
        .await?
        .pop())
    }
}
