//! What a restore drill measures in the database it restored: per table the row count and a
//! checksum, both computed by the server (no row leaves it); and dropping the database a drill
//! created for itself.

use super::postgres::{self, maintenance};
use super::{my_ident, mysql, pg_ident, StageError};
use backline_domain::{ConnectionString, Engine, Stage, TableCheck};
use sqlx::Row;

/// What every database a drill creates for itself has in its name.
pub const DRILL_MARK: &str = "_drill_";

/// The name of the database a drill of `source` creates (at most 63 characters).
pub fn sandbox_name(source: &str, tag: &str) -> String {
    let keep: String = source
        .chars()
        .take(63 - DRILL_MARK.len() - tag.len())
        .collect();
    format!("{keep}{DRILL_MARK}{tag}")
}

/// Every table of the database `conn` names, with its rows and checksum, ordered by name.
pub async fn table_checks(conn: &ConnectionString) -> Result<Vec<TableCheck>, StageError> {
    match conn.engine {
        Engine::Postgres => pg_checks(conn).await,
        Engine::Mysql => my_checks(conn).await,
    }
}

fn failed(e: sqlx::Error) -> StageError {
    StageError::new(Stage::Verify, e.to_string())
}

/// PostgreSQL: plain tables and partitions (a partitioned parent holds no rows of its own);
/// the checksum is the sum of the first 64 bits of each row's md5, so it does not depend on
/// the order rows are read in and needs no memory per row.
async fn pg_checks(conn: &ConnectionString) -> Result<Vec<TableCheck>, StageError> {
    let mut c = postgres::connect(conn).await?;
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
         ORDER BY 1, 2",
    )
    .fetch_all(&mut c)
    .await
    .map_err(failed)?;
    let mut out = Vec::with_capacity(tables.len());
    for (schema, table) in tables {
        let sql = format!(
            "SELECT count(*)::bigint AS n, \
             coalesce(sum(('x' || left(md5(ROW(t.*)::text), 16))::bit(64)::bigint::numeric), 0)::text AS c \
             FROM {}.{} AS t",
            pg_ident(&schema),
            pg_ident(&table)
        );
        let row = sqlx::query(&sql).fetch_one(&mut c).await.map_err(failed)?;
        let rows: i64 = row.try_get("n").map_err(failed)?;
        out.push(TableCheck {
            name: format!("{schema}.{table}"),
            rows: rows.max(0) as u64,
            checksum: row.try_get("c").map_err(failed)?,
        });
    }
    Ok(out)
}

/// MySQL/MariaDB: base and system-versioned tables; `CHECKSUM TABLE` for the checksum.
async fn my_checks(conn: &ConnectionString) -> Result<Vec<TableCheck>, StageError> {
    let mut c = mysql::connect(conn, Some(&conn.database)).await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') \
         ORDER BY TABLE_NAME",
    )
    .bind(&conn.database)
    .fetch_all(&mut c)
    .await
    .map_err(failed)?;
    let schema = my_ident(&conn.database);
    let mut out = Vec::with_capacity(tables.len());
    for table in tables {
        let name = format!("{schema}.{}", my_ident(&table));
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {name}"))
            .persistent(false)
            .fetch_one(&mut c)
            .await
            .map_err(failed)?;
        let row = sqlx::query(&format!("CHECKSUM TABLE {name}"))
            .persistent(false)
            .fetch_one(&mut c)
            .await
            .map_err(failed)?;
        let checksum = match row.try_get::<Option<u64>, _>(1) {
            Ok(v) => v.map(|v| v.to_string()),
            Err(_) => row
                .try_get::<Option<i64>, _>(1)
                .map_err(failed)?
                .map(|v| v.to_string()),
        };
        out.push(TableCheck {
            name: table,
            rows: rows.max(0) as u64,
            checksum: checksum.unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Drops the database `conn` names, which a drill created for itself. Refuses any name without
/// the drill's mark.
pub async fn drop_sandbox(conn: &ConnectionString) -> Result<(), StageError> {
    let name = conn.database.as_str();
    if !name.contains(DRILL_MARK) || conn.engine.is_system_database(name) {
        return Err(StageError::new(
            Stage::Cleanup,
            format!("{name:?} is not a database a drill created: not dropped"),
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
            let sql = format!("DROP DATABASE IF EXISTS {}", my_ident(name));
            mysql::exec(&mut c, Stage::Cleanup, &sql).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_names_fit_and_carry_the_mark() {
        let long = "a".repeat(80);
        let n = sandbox_name(&long, "0123456789ab");
        assert_eq!(n.chars().count(), 63);
        assert!(n.ends_with("_drill_0123456789ab"));
        assert_eq!(sandbox_name("shop", "x1"), "shop_drill_x1");
    }
}
