//! The last step of a PostgreSQL restore: the loaded scratch database takes the target's
//! place.

use super::pg_restore::drop_db;
use super::postgres::maintenance;
use super::postgres::{describe, exec};
use super::test_pause::{pause_at, Step};
use super::{derived_name, pg_ident, RestoreOptions, StageError};
use backline_domain::ConnectionString;
use backline_domain::Stage;
use sqlx::postgres::PgConnection;
use sqlx::Connection;
use std::time::Duration;

/// The target's current contents step aside (kept or dropped), the scratch takes its name.
///
/// Both renames run in one transaction (PostgreSQL allows `ALTER DATABASE … RENAME` in a
/// transaction block, unlike CREATE/DROP DATABASE): a process killed at any point leaves the
/// target either wholly as it was or wholly restored, never missing. Without `keep_previous`
/// the previous contents take the scratch database's name and a mark in the same
/// transaction, so that if the process dies before dropping them, whoever reaps the restore
/// sees that the swap committed and drops them (`recover`).
pub(super) async fn swap(
    admin: &mut PgConnection,
    target: &str,
    scratch: &str,
    target_exists: bool,
    options: &RestoreOptions,
) -> Result<Option<String>, StageError> {
    if !target_exists {
        let promote = rename_sql(scratch, target);
        if let Err(e) = exec(admin, Stage::Swap, &promote).await {
            drop_db(admin, scratch).await;
            return Err(e);
        }
        return Ok(None);
    }
    let kept = options.keep_previous.then(|| {
        derived_name(
            target,
            &format!(
                "_before_restore_{}",
                chrono::Utc::now().format("%Y%m%d%H%M%S")
            ),
            63,
        )
    });
    // Only ever seen inside the uncommitted transaction.
    let aside = derived_name(target, &format!("__restore_{}_old", options.tag), 63);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let _ = sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(target)
        .execute(&mut *admin)
        .await;
        let marker = previous_marker(&options.tag);
        match swap_once(admin, target, scratch, &aside, kept.as_deref(), &marker).await {
            Ok(()) => break,
            Err(e) if attempt < 20 && e.stage == Stage::Prepare => {
                tracing::debug!(error = %e, "target busy, retrying the swap");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => {
                drop_db(admin, scratch).await;
                return Err(StageError {
                    message: format!(
                        "could not take over {target}: {} (clients keep reconnecting to it?)",
                        e.message
                    ),
                    stage: Stage::Swap,
                    ..e
                });
            }
        }
    }
    pause_at(Step::PgSwapped).await;
    if kept.is_none() {
        // The previous contents, now under the scratch name.
        drop_db(admin, scratch).await;
    }
    Ok(kept)
}

fn rename_sql(from: &str, to: &str) -> String {
    format!(
        "ALTER DATABASE {} RENAME TO {}",
        pg_ident(from),
        pg_ident(to)
    )
}

/// One attempt at the swap's transaction. A failure to move the target aside (sessions still
/// in it) is reported at stage `prepare`, to be retried; anything later at stage `swap`. On
/// any error the transaction is rolled back: nothing was renamed.
async fn swap_once(
    admin: &mut PgConnection,
    target: &str,
    scratch: &str,
    aside: &str,
    kept: Option<&str>,
    marker: &str,
) -> Result<(), StageError> {
    let mut tx = admin
        .begin()
        .await
        .map_err(|e| StageError::new(Stage::Swap, describe(&e)))?;
    exec(
        &mut tx,
        Stage::Prepare,
        &rename_sql(target, kept.unwrap_or(aside)),
    )
    .await?;
    if kept.is_none() {
        // Says, after a crash, that this swap committed (see `recover`). Contents kept on
        // request keep their comment: after a crash there, the restore is recorded abandoned.
        let comment = format!(
            "COMMENT ON DATABASE {} IS {}",
            pg_ident(aside),
            crate::sql::pg_literal(marker)
        );
        exec(&mut tx, Stage::Swap, &comment).await?;
    }
    pause_at(Step::PgSwapping).await;
    exec(&mut tx, Stage::Swap, &rename_sql(scratch, target)).await?;
    if kept.is_none() {
        exec(&mut tx, Stage::Swap, &rename_sql(aside, scratch)).await?;
    }
    tx.commit()
        .await
        .map_err(|e| StageError::new(Stage::Swap, describe(&e)))
}

/// The comment the swap gives the target's previous contents, in its transaction.
fn previous_marker(tag: &str) -> String {
    format!("backline: the contents of a database before restore {tag} replaced them")
}

/// After a process died during the restore that made `scratch`: whether its swap committed
/// (then the target holds the restored contents, and the previous ones, left under the
/// scratch name, are dropped). Without the swap's mark, the scratch database holds an
/// unfinished load and is left to the operator (a leftover).
pub(super) async fn recover(conn: &ConnectionString, scratch: &str) -> Result<bool, StageError> {
    let Some((_, tag)) = scratch.rsplit_once(super::scratch::SCRATCH_MARK) else {
        return Ok(false);
    };
    let mut admin = maintenance(conn).await?;
    let marked: Vec<String> = sqlx::query_scalar(
        "SELECT d.datname::text FROM pg_database d JOIN pg_shdescription c \
         ON c.objoid = d.oid AND c.classoid = 'pg_database'::regclass WHERE c.description = $1",
    )
    .bind(previous_marker(tag))
    .fetch_all(&mut admin)
    .await
    .map_err(|e| StageError::new(Stage::Cleanup, describe(&e)))?;
    if !marked.iter().any(|m| m == scratch) {
        return Ok(false);
    }
    drop_db(&mut admin, scratch).await;
    Ok(true)
}
