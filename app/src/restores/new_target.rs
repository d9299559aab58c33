//! A restore into a new database: named by the request, created on the server of a registered
//! database (the restore creates it with the version's encoding and locale, or character set
//! and collation), and registered — without a schedule — as the restore's target. A restore
//! that fails removes that registration again: nothing half-made stays listed.

use crate::core::Core;
use crate::databases::Databases;
use crate::error::AppError;
use backline_domain::{Backup, DatabaseName, Engine};
use backline_infra::drivers;

/// Where a new database goes: its name (as the database's name and as Backline's) and the
/// registered database whose server and credentials it uses.
#[derive(Debug, Clone, Default)]
pub struct NewTarget {
    pub name: String,
    pub server_of: String,
}

/// Checks the request and registers the new database; returns its id.
pub(super) async fn register(
    core: &std::sync::Arc<Core>,
    actor: &str,
    backup: &Backup,
    new: &NewTarget,
) -> Result<String, AppError> {
    let name = DatabaseName::parse(&new.name)
        .map_err(|e| AppError::invalid("new_database.name", e.to_string()))?;
    let server = core.resolve_database(&new.server_of).await.map_err(|_| {
        AppError::invalid(
            "new_database.server_of",
            format!("no registered database with id or name {:?}", new.server_of),
        )
    })?;
    let (_, conn) = core.database_state(&server.id).await?;
    let conn = conn.ok_or_else(|| {
        AppError::invalid(
            "new_database.server_of",
            format!(
                "{} was removed: its connection is no longer kept",
                server.name
            ),
        )
    })?;
    if backup.engine != Some(conn.engine) {
        return Err(AppError::invalid(
            "new_database.server_of",
            format!(
                "{} is a {} server, but this version is of a {} database",
                server.name,
                conn.engine.as_str(),
                backup.engine.map(Engine::as_str).unwrap_or("?")
            ),
        ));
    }
    let conn = conn.with_database(name.as_str());
    super::targets::refuse_protected(core, &conn).await?;
    let conn = crate::tunnels::reach(core, &conn).await.map_err(|e| {
        AppError::Unprocessable(format!(
            "cannot reach the server of {}: {}",
            server.name, e.message
        ))
    })?;
    let exists = drivers::database_exists(&conn).await.map_err(|e| {
        AppError::Unprocessable(format!(
            "cannot reach the server of {}: {}",
            server.name, e.message
        ))
    })?;
    if exists {
        return Err(AppError::Taken {
            field: "new_database.name",
            message: format!(
                "a database named {name} already exists on the server of {}: register it and \
                 restore into it with target_database_id",
                server.name
            ),
        });
    }
    let view = Databases::new(core.clone())
        .register_connection(actor, name, conn)
        .await?;
    Ok(view.id)
}
