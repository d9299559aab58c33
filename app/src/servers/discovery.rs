//! What a server holds: its databases (system ones and Backline's own ledger left out), which
//! are registered, and the periodic check that registers new ones (`auto_register`).

use super::{server_error, Servers};
use crate::core::Core;
use crate::error::{from_aggregate, AppError};
use backline_domain::{glob_matches, ConnectionString, DatabaseName, Server, ServerCommand};
use backline_infra::drivers::discovery::list_databases;
use backline_projections::DatabaseView;

/// A database on a server.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerDatabase {
    pub name: String,
    /// Whether Backline backs it up already (registered from this server or on its own).
    pub registered: bool,
    /// The registered database's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_id: Option<String>,
}

/// The databases on the server of `conn` that may be registered: not a system database, not
/// the ledger's own.
pub(super) async fn listable(
    core: &Core,
    conn: &ConnectionString,
) -> Result<Vec<String>, AppError> {
    let reached = crate::tunnels::reach(core, conn).await.map_err(|e| {
        AppError::Unprocessable(format!("cannot list the server's databases: {}", e.message))
    })?;
    let names = list_databases(&reached).await.map_err(|e| {
        AppError::Unprocessable(format!("cannot list the server's databases: {}", e.message))
    })?;
    let mut out = Vec::new();
    for n in names {
        if conn.engine.is_system_database(&n) {
            continue;
        }
        if crate::restores::is_ledger_database(core, &conn.with_database(&n)).await {
            continue;
        }
        out.push(n);
    }
    Ok(out)
}

/// The registered database that is `name` on the server of `conn`, if any.
fn registered_as<'a>(
    registered: &'a [DatabaseView],
    conn: &ConnectionString,
    name: &str,
) -> Option<&'a DatabaseView> {
    registered.iter().find(|v| {
        v.engine == conn.engine
            && ConnectionString::parse(v.engine, &v.connection).is_ok_and(|c| {
                c.host.eq_ignore_ascii_case(&conn.host) && c.port == conn.port && c.database == name
            })
    })
}

impl Servers {
    /// The server's databases and which of them are registered.
    pub async fn databases(&self, id: &str) -> Result<Vec<ServerDatabase>, AppError> {
        let conn = self.connection(id).await?;
        let names = listable(&self.core, &conn).await?;
        let registered = self.core.projections.databases(false).await?;
        Ok(names
            .into_iter()
            .map(|name| {
                let found = registered_as(&registered, &conn, &name);
                ServerDatabase {
                    registered: found.is_some(),
                    database_id: found.map(|v| v.id.clone()),
                    name,
                }
            })
            .collect())
    }

    /// Checks every server with `auto_register` for new databases (the scheduler's job).
    pub async fn discover_all(&self) {
        let servers = match self.core.projections.servers().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the servers");
                return;
            }
        };
        for s in servers.iter().filter(|s| s.auto_register.is_some()) {
            if let Err(e) = self.discover(&s.id).await {
                tracing::warn!(server = s.name, error = %e, "checking the server for new databases failed");
            }
        }
    }

    /// Registers the databases that appeared on server `id` since it was last checked, with
    /// its template; each gets a `DatabaseDiscovered` event (with why, if it was not registered).
    pub async fn discover(&self, id: &str) -> Result<usize, AppError> {
        let state: Server = self.state(id).await?;
        let Some(auto) = state.auto_register.clone() else {
            return Ok(0);
        };
        let conn = self.connection(id).await?;
        let found = self.databases(id).await?;
        let mut n = 0;
        for d in found {
            if state.known.contains(&d.name) || d.registered {
                continue;
            }
            if auto
                .pattern
                .as_ref()
                .is_some_and(|p| !glob_matches(p, &d.name))
            {
                continue;
            }
            let registered = match DatabaseName::parse(&d.name) {
                Ok(name) => {
                    self.register_one("discovery", &conn, &name, &auto.template)
                        .await
                }
                Err(e) => Err(AppError::Unprocessable(format!(
                    "its name cannot be a Backline database name: {e}"
                ))),
            };
            let (database_id, error) = match registered {
                Ok(r) => (Some(r.database_id), None),
                Err(e) => (None, Some(e.to_string())),
            };
            tracing::info!(
                server = id,
                database = d.name,
                registered = database_id.is_some(),
                "new database discovered"
            );
            self.core
                .aggregates
                .servers
                .execute_with_metadata(
                    id,
                    ServerCommand::Discover {
                        name: d.name.clone(),
                        database_id,
                        error,
                    },
                    self.core.meta("discovery", id),
                )
                .await
                .map_err(|e| from_aggregate(e, server_error))?;
            n += 1;
        }
        if n > 0 {
            self.core.refresh().await;
        }
        Ok(n)
    }
}
