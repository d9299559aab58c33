//! The databases a server holds, as its user sees them (for servers and discovery).

use super::postgres::describe;
use super::StageError;
use backline_domain::{ConnectionString, Engine, Stage};
use sqlx::Connection;

/// Names of the databases on the server of `conn` that accept connections, sorted. System
/// databases are included: the caller decides what to show.
pub async fn list_databases(conn: &ConnectionString) -> Result<Vec<String>, StageError> {
    let names: Vec<String> = match conn.engine {
        Engine::Postgres => {
            let mut c = super::postgres::connect(conn).await?;
            let names = sqlx::query_scalar(
                "SELECT datname::text FROM pg_database WHERE datallowconn AND NOT datistemplate \
                 ORDER BY datname",
            )
            .fetch_all(&mut c)
            .await
            .map_err(|e| StageError::new(Stage::Connect, describe(&e)))?;
            let _ = c.close().await;
            names
        }
        Engine::Mysql => {
            let mut c = super::mysql::connect(conn, None).await?;
            let names = sqlx::query_scalar(
                "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA ORDER BY 1",
            )
            .persistent(false)
            .fetch_all(&mut c)
            .await
            .map_err(|e| StageError::new(Stage::Connect, describe(&e)))?;
            let _ = c.close().await;
            names
        }
    };
    // Scratch databases of restores running now are Backline's own, never the user's.
    Ok(names
        .into_iter()
        .filter(|n| !n.contains("__restore_") && !n.contains("__partial_"))
        .collect())
}
