//! The stand-in role that loads a backup's rows when ownership is skipped and the target
//! belongs to a superuser (see `pg_restore`): it has rights on the new tables only, and is
//! dropped afterwards; `SECURITY DEFINER` routines that now run as a superuser lose `EXECUTE`
//! for `PUBLIC`.

use super::pg_ident;
use super::postgres::{connect, describe, exec, maintenance};
use super::StageError;
use backline_domain::{ConnectionString, Stage};
use sqlx::postgres::PgConnection;
use sqlx::Connection;

/// Creates the stand-in role that loads the data: no login, no attributes, and in `scratch`
/// only the rights a data load needs (use of its schemas, reading and writing its tables and
/// sequences, writing large objects).
pub(super) async fn prepare_stand_in(
    conn: &ConnectionString,
    scratch: &str,
    role: &str,
) -> Result<(), StageError> {
    let r = pg_ident(role);
    let mut admin = maintenance(conn).await?;
    exec(
        &mut admin,
        Stage::Prepare,
        &format!("CREATE ROLE {r} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS"),
    )
    .await?;
    exec(
        &mut admin,
        Stage::Prepare,
        &format!("ALTER ROLE {r} SET lo_compat_privileges = on"),
    )
    .await?;
    let _ = admin.close().await;
    let mut db = connect(&conn.with_database(scratch)).await?;
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') \
         AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%'",
    )
    .fetch_all(&mut db)
    .await
    .map_err(|e| StageError::new(Stage::Prepare, describe(&e)))?;
    for s in schemas {
        let s = pg_ident(&s);
        for grant in [
            format!("GRANT USAGE ON SCHEMA {s} TO {r}"),
            format!("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {s} TO {r}"),
            format!("GRANT SELECT, UPDATE, USAGE ON ALL SEQUENCES IN SCHEMA {s} TO {r}"),
        ] {
            exec(&mut db, Stage::Prepare, &grant).await?;
        }
    }
    let _ = db.close().await;
    Ok(())
}

/// Drops a stand-in role: first what it was granted in `scratch`, then the role.
pub(super) async fn drop_stand_in(
    conn: &ConnectionString,
    admin: &mut PgConnection,
    scratch: &str,
    role: &str,
) {
    let r = pg_ident(role);
    if let Ok(mut db) = connect(&conn.with_database(scratch)).await {
        if let Err(e) = exec(&mut db, Stage::Cleanup, &format!("DROP OWNED BY {r}")).await {
            tracing::warn!(role, error = %e, "could not revoke the stand-in role's rights");
        }
        let _ = db.close().await;
    }
    if let Err(e) = exec(admin, Stage::Cleanup, &format!("DROP ROLE IF EXISTS {r}")).await {
        tracing::warn!(role, error = %e, "could not drop the restore's stand-in role");
    }
}

/// After a load without ownership into a superuser's database: `SECURITY DEFINER` routines of
/// the backup would run with that superuser's rights for anyone allowed to call them. They
/// keep their definition but lose `EXECUTE` for `PUBLIC`; the warnings name them.
pub(super) async fn withhold_definer_routines(
    conn: &ConnectionString,
    scratch: &str,
) -> Vec<String> {
    let mut db = match connect(&conn.with_database(scratch)).await {
        Ok(c) => c,
        Err(e) => {
            return vec![format!(
                "could not check SECURITY DEFINER routines: {}",
                e.message
            )]
        }
    };
    // Routines owned by a superuser, not part of an extension.
    const PICK: &str = "SELECT p.oid FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner \
        WHERE p.prosecdef AND r.rolsuper \
        AND p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) \
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass \
                        AND d.objid = p.oid AND d.deptype = 'e')";
    let names: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT oid::regprocedure::text FROM ({PICK}) AS s ORDER BY 1"
    ))
    .fetch_all(&mut db)
    .await
    .unwrap_or_default();
    if names.is_empty() {
        let _ = db.close().await;
        return Vec::new();
    }
    // The server quotes each routine's name itself (format %s of a regprocedure).
    let revoke = format!(
        "DO $backline$ DECLARE f regprocedure; BEGIN FOR f IN {PICK} LOOP \
         EXECUTE format('REVOKE EXECUTE ON ROUTINE %s FROM PUBLIC', f); END LOOP; END $backline$"
    );
    let done = exec(&mut db, Stage::Restore, &revoke).await;
    let _ = db.close().await;
    match done {
        Ok(()) => vec![format!(
            "restored without ownership into a database owned by a superuser: the SECURITY \
             DEFINER routines {} would run with a superuser's rights, so PUBLIC may not execute \
             them; grant EXECUTE to the roles that should call them",
            names.join(", ")
        )],
        Err(e) => vec![format!(
            "the SECURITY DEFINER routines {} run with a superuser's rights and EXECUTE could not \
             be withheld from PUBLIC: {}",
            names.join(", "),
            e.message
        )],
    }
}
