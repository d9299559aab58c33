//! Which databases may be restore targets, and which copy of an artifact a restore reads.

use crate::core::Core;
use crate::error::AppError;
use backline_domain::{ArtifactCopy, ConnectionString, Engine, Stage, StoredArtifact};
use backline_infra::drivers::StageError;
use backline_infra::storage::ArtifactStore;

/// 422 for a system database or the ledger's own database as a restore target.
pub(crate) async fn refuse_protected(core: &Core, conn: &ConnectionString) -> Result<(), AppError> {
    if conn.engine.is_system_database(&conn.database) {
        return Err(AppError::Unprocessable(format!(
            "{:?} is a system database of its server: system databases ({}) are never restore targets",
            conn.database,
            conn.engine.system_databases()
        )));
    }
    if is_ledger_database(core, conn).await {
        return Err(AppError::Unprocessable(format!(
            "{:?} on {}:{} is Backline's own ledger database (BACKLINE_LEDGER_URL): it is never a restore target",
            conn.database, conn.host, conn.port
        )));
    }
    Ok(())
}

/// Whether `conn` names the PostgreSQL database the ledger lives in (same name, port, and
/// host — by name or by any address the two names resolve to).
pub(crate) async fn is_ledger_database(core: &Core, conn: &ConnectionString) -> bool {
    let url = core.settings.ledger_url();
    if conn.engine != Engine::Postgres
        || !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        return false;
    }
    let Ok(ledger) = ConnectionString::parse(Engine::Postgres, &url) else {
        return false;
    };
    if ledger.database != conn.database || ledger.port != conn.port {
        return false;
    }
    if ledger.host.eq_ignore_ascii_case(&conn.host) {
        return true;
    }
    let resolve = |host: String, port: u16| async move {
        tokio::net::lookup_host((host.as_str(), port))
            .await
            .map(|a| a.map(|s| s.ip()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let (a, b) = tokio::join!(
        resolve(ledger.host.clone(), ledger.port),
        resolve(conn.host.clone(), conn.port)
    );
    a.iter().any(|ip| b.contains(ip))
}

/// The copy a restore reads: the one on `storage` if named, else the first healthy copy whose
/// storage is configured here and still holds the object.
pub(crate) async fn pick_copy(
    core: &Core,
    artifact: &StoredArtifact,
    storage: Option<&str>,
) -> Result<(ArtifactStore, ArtifactCopy), StageError> {
    let mut tried = Vec::new();
    for copy in artifact.healthy_copies() {
        if storage.is_some_and(|s| s != copy.name) {
            continue;
        }
        let Some(store) = core.store_of(&copy) else {
            tried.push(format!(
                "{} ({}): not configured here",
                copy.name, copy.storage
            ));
            continue;
        };
        match store.operator().exists(&copy.key).await {
            Ok(true) => return Ok((store.clone(), copy)),
            Ok(false) => tried.push(format!("{}: the object is missing", copy.storage)),
            Err(e) => tried.push(format!("{}: {e}", copy.storage)),
        }
    }
    Err(StageError::new(
        Stage::Download,
        format!("no copy of the artifact can be read: {}", tried.join("; ")),
    ))
}
