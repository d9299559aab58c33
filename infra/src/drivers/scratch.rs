//! Scratch databases a restore left on its target's server when its process died in the
//! middle (a restore that fails on its own drops its scratch database): which of them exist,
//! and dropping one, by its exact name, when the operator asks.

use super::postgres::{self, maintenance};
use super::{my_ident, mysql, pg_ident, StageError};
use backline_domain::{ConnectionString, Engine, Stage};

/// What every scratch name holds (see [`super::scratch_name`]).
pub const SCRATCH_MARK: &str = "__restore_";

/// Which of `names` exist as databases on the server of `conn`.
pub async fn existing(
    conn: &ConnectionString,
    names: &[String],
) -> Result<Vec<String>, StageError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<String> = match conn.engine {
        Engine::Postgres => {
            let mut c = maintenance(conn).await?;
            sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname = ANY($1)")
                .bind(names)
                .fetch_all(&mut c)
                .await
                .map_err(|e| StageError::new(Stage::Connect, postgres::describe(&e)))?
        }
        Engine::Mysql => {
            let mut c = mysql::connect(conn, None).await?;
            let all: Vec<String> = sqlx::query_scalar(
                "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA",
            )
            .fetch_all(&mut c)
            .await
            .map_err(|e| StageError::new(Stage::Connect, e.to_string()))?;
            all.into_iter().filter(|n| names.contains(n)).collect()
        }
    };
    Ok(names
        .iter()
        .filter(|n| found.contains(n))
        .cloned()
        .collect())
}

/// Drops the scratch database `name` on the server of `conn`. Refuses any name that is not a
/// scratch name, or is the connection's own database.
pub async fn drop_scratch(conn: &ConnectionString, name: &str) -> Result<(), StageError> {
    if !name.contains(SCRATCH_MARK) || name == conn.database {
        return Err(StageError::new(
            Stage::Cleanup,
            format!("{name:?} is not a restore's scratch database: not dropped"),
        ));
    }
    match conn.engine {
        Engine::Postgres => {
            let mut c = maintenance(conn).await?;
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", pg_ident(name));
            postgres::exec(&mut c, Stage::Cleanup, &sql).await
        }
        Engine::Mysql => {
            let mut c = mysql::connect(conn, None).await?;
            if super::mysql_journal::is_journaled(&mut c, name).await? {
                return Err(StageError::new(
                    Stage::Cleanup,
                    format!(
                        "{name} holds the restored contents of an interrupted move into {}: not \
                         dropped (the move is completed at the next start of Backline, or by \
                         `backline cleanup --scratch` once the server answers)",
                        conn.database
                    ),
                ));
            }
            let sql = format!("DROP DATABASE IF EXISTS {}", my_ident(name));
            mysql::exec(&mut c, Stage::Cleanup, &sql).await
        }
    }
}
