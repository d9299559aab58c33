//! PostgreSQL restores: `pg_restore` into a scratch database created with the version's
//! encoding and locale, the database's own properties re-created from the version's typed
//! record, then the scratch database swapped into the target's place.
//!
//! Who runs what, so that a backup can never act with more rights than its owners had:
//! * With a superuser restoring, the schema is created as that user (ownership set with
//!   `ALTER … OWNER TO`, as `pg_restore` does), but the *data* is loaded as each table's
//!   owner (`--use-set-session-authorization` on the data section): a CHECK constraint or
//!   domain that calls a function of the owner's runs with the owner's rights, not the
//!   superuser's. (Loading everything that way fails on schemas whose CREATE grants come later.)
//! * Without ownership (`no_owner`), every object belongs to whoever creates it: the whole load
//!   runs as the database's owner (`--role`) when that owner is not a superuser. When it is
//!   one, the schema is created as it, the data is loaded by a temporary role with no rights
//!   beyond reading and writing the new tables (`backline_load_<tag>`, dropped afterwards),
//!   and `SECURITY DEFINER` routines of the backup, which would now run with a superuser's
//!   rights, lose `EXECUTE` for `PUBLIC` (the restore says which).

use super::pg_properties;
use super::pg_restore_parts::{load_parts, Source};
use super::pg_stand_in::{drop_stand_in, prepare_stand_in, withhold_definer_routines};
use super::postgres::{describe, exec, libpq_env, maintenance, server_major};
use super::process::{command, RunningTool};
use super::tee_feed::TeeFeed;
use super::test_pause::Step;
use super::{pg_ident, run_fed, Feed, Probe, RestoreOptions, RestoreOutcome};
use super::{FedEnd, StageError};
use crate::sql::conninfo_value;
use backline_domain::Stage;
use backline_domain::{ConnectionString, Engine, PgDatabaseProperties};
use sqlx::postgres::PgConnection;
use sqlx::Connection;

/// What the restoring role is.
struct Restorer {
    superuser: bool,
}

async fn restorer(admin: &mut PgConnection) -> Result<Restorer, StageError> {
    let superuser: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_optional(&mut *admin)
            .await
            .map_err(|e| StageError::new(Stage::Prepare, describe(&e)))?
            .unwrap_or(false);
    Ok(Restorer { superuser })
}

async fn is_superuser(admin: &mut PgConnection, role: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT rolsuper FROM pg_roles WHERE rolname = $1")
        .bind(role)
        .fetch_optional(&mut *admin)
        .await
        .ok()
        .flatten()
        .unwrap_or(true)
}

pub(super) async fn drop_db(admin: &mut PgConnection, name: &str) {
    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", pg_ident(name));
    if let Err(e) = exec(admin, Stage::Cleanup, &sql).await {
        tracing::warn!(database = name, error = %e, "could not drop scratch database");
    }
}

pub async fn restore(
    conn: &ConnectionString,
    probe: &Probe,
    options: &RestoreOptions,
    feed: Source<'_>,
) -> Result<RestoreOutcome, StageError> {
    let target = conn.database.clone();
    let mut admin = maintenance(conn).await?;
    let version_num: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut admin)
        .await
        .map_err(|e| StageError::new(Stage::Prepare, describe(&e)))?;
    let major = server_major(&probe.server_version).max((version_num / 10000) as u32);
    let me = restorer(&mut admin).await?;
    let current = pg_properties::read(&mut admin, version_num, Some(&target))
        .await
        .map_err(|e| StageError {
            stage: Stage::Prepare,
            ..e
        })?;
    let archived = options.properties.as_ref().and_then(|p| p.postgres());
    let mut warnings = Vec::new();
    if archived.is_none() {
        warnings.push(
            "this version was taken before Backline recorded database-level properties: the \
             database's comment, settings, grants and connection limit were not restored, and \
             it was created with the target's encoding and locale (or the server's defaults)"
                .to_string(),
        );
    }
    let scratch = super::scratch_name(Engine::Postgres, &target, &options.tag);
    create_scratch(&mut admin, &scratch, archived, current.as_ref(), major).await?;

    // The owner: the target's if it exists, else the version's when that role exists here.
    let owner = match (&current, archived) {
        (Some(t), _) => Some(t.owner.clone()),
        (None, Some(a)) if role_exists(&mut admin, &a.owner).await => Some(a.owner.clone()),
        (None, Some(a)) => {
            if !options.no_owner {
                warnings.push(format!(
                    "the database's owner {} does not exist on this server: the restoring user owns it",
                    a.owner
                ));
            }
            None
        }
        (None, None) => None,
    };
    if let Some(o) = &owner {
        let alter = format!(
            "ALTER DATABASE {} OWNER TO {}",
            pg_ident(&scratch),
            pg_ident(o)
        );
        if let Err(e) = exec(&mut admin, Stage::Prepare, &alter).await {
            tracing::info!(error = %e, "restored database keeps the restoring user as owner");
            warnings.push(format!(
                "the database could not be given to {o}: {}",
                e.message
            ));
        }
    }
    let owner_now = owner.clone().unwrap_or_else(|| conn.user.clone());
    let plan = match (me.superuser, options.no_owner) {
        (false, _) => Plan::AsRestorer,
        (true, false) => Plan::DataAsOwners,
        (true, true) if !is_superuser(&mut admin, &owner_now).await => {
            Plan::AsOwner(owner_now.clone())
        }
        (true, true) => Plan::DataAsStandIn(format!("backline_load_{}", options.tag)),
    };

    let work = load(conn, probe, &scratch, options, feed, &plan);
    let loaded = super::unless_cancelled(&options.cancel, Stage::Restore, work).await;
    if let Err(mut e) = loaded {
        if let Plan::DataAsStandIn(role) = &plan {
            drop_stand_in(conn, &mut admin, &scratch, role).await;
        }
        drop_db(&mut admin, &scratch).await;
        let text = format!("{} {}", e.message, e.stderr_tail);
        if !options.no_owner && text.contains("role \"") && text.contains("does not exist") {
            e.message.push_str(
                " (the backup names roles this server does not have: create them, or restore \
                 without ownership and grants: \"no_owner\": true in the API, --no-owner in the CLI)",
            );
        }
        if let Plan::AsOwner(o) = &plan {
            if text.contains("must be superuser") || text.contains("permission denied") {
                e.message.push_str(&format!(
                    " (without ownership, the restore runs as the database's owner {o}, which \
                     cannot create objects that need a superuser: create them in the target \
                     first, or restore into a database owned by a superuser)"
                ));
            }
        }
        return Err(e);
    }
    if let Plan::DataAsStandIn(role) = &plan {
        drop_stand_in(conn, &mut admin, &scratch, role).await;
        warnings.extend(withhold_definer_routines(conn, &scratch).await);
    }
    if let Some(p) = archived {
        let statements = pg_properties::statements(p, &scratch, &owner_now, options.no_owner);
        warnings.extend(apply_properties(&mut admin, statements).await);
    }
    super::test_pause::pause_at(Step::PgLoaded).await;
    // The last point a cancel leaves the target untouched: the swap runs to its end.
    if let Err(e) = super::check_cancelled(&options.cancel, Stage::Swap) {
        drop_db(&mut admin, &scratch).await;
        return Err(e);
    }
    let kept =
        super::pg_swap::swap(&mut admin, &target, &scratch, current.is_some(), options).await?;
    let _ = admin.close().await;
    Ok(RestoreOutcome {
        previous_kept_as: kept,
        warnings,
    })
}

/// Runs the statements that give the scratch copy the database's own properties; what could
/// not be restored is returned as warnings.
async fn apply_properties(admin: &mut PgConnection, statements: Vec<String>) -> Vec<String> {
    let mut warnings = Vec::new();
    for stmt in statements {
        if let Err(e) = exec(admin, Stage::Restore, &stmt).await {
            tracing::warn!(error = %e, "a database-level property could not be restored");
            warnings.push(format!(
                "a database-level property could not be restored: {}",
                e.message
            ));
        }
    }
    warnings
}

/// Creates the scratch database with the version's encoding and locale; where this server
/// lacks them (or the tablespace), with the target's, else the server's defaults.
async fn create_scratch(
    admin: &mut PgConnection,
    scratch: &str,
    archived: Option<&PgDatabaseProperties>,
    current: Option<&PgDatabaseProperties>,
    major: u32,
) -> Result<(), StageError> {
    let plain = format!("CREATE DATABASE {}", pg_ident(scratch));
    let mut attempts = Vec::new();
    if let Some(a) = archived {
        if a.tablespace.is_some() {
            attempts.push(format!(
                "{plain} {}",
                pg_properties::create_options(a, major, true)
            ));
        }
        attempts.push(format!(
            "{plain} {}",
            pg_properties::create_options(a, major, false)
        ));
    }
    if let Some(t) = current {
        attempts.push(format!(
            "{plain} {}",
            pg_properties::create_options(t, major, false)
        ));
    }
    attempts.push(plain);
    let mut last = None;
    for (i, create) in attempts.iter().enumerate() {
        match exec(admin, Stage::Prepare, create).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                if i + 1 < attempts.len() {
                    tracing::warn!(error = %e, "the version's encoding/locale/tablespace is not available here; trying the next option");
                }
                last = Some(e);
            }
        }
    }
    let e = last.unwrap_or_else(|| StageError::new(Stage::Prepare, "no CREATE DATABASE to run"));
    Err(StageError {
        message: format!(
            "cannot create the scratch database {scratch} (the user needs CREATEDB): {}",
            e.message
        ),
        ..e
    })
}

/// Who runs which part of a load (see the module docs).
pub(super) enum Plan {
    /// A restoring user that is not a superuser: everything as that user.
    AsRestorer,
    /// Schema as the superuser restoring, each table's data as the table's owner.
    DataAsOwners,
    /// Without ownership, everything as the database's (unprivileged) owner.
    AsOwner(String),
    /// Without ownership into a superuser's database: schema as the superuser, data as a
    /// temporary role with rights on the new tables only.
    DataAsStandIn(String),
}

/// Runs `pg_restore` into `scratch` following `plan`.
async fn load(
    conn: &ConnectionString,
    probe: &Probe,
    scratch: &str,
    options: &RestoreOptions,
    source: Source<'_>,
    plan: &Plan,
) -> Result<(), StageError> {
    let feed = match source {
        Source::One(feed) => feed,
        Source::Parts(parts) => {
            return load_parts(conn, probe, scratch, options, parts, plan).await
        }
    };
    let base: Vec<String> = if options.no_owner {
        vec!["--no-owner".into(), "--no-privileges".into()]
    } else {
        Vec::new()
    };
    let with = |extra: &[String]| [base.clone(), extra.to_vec()].concat();
    // With jobs, the rows load from the stream while the same bytes are kept in a private
    // file (see `tee_feed`), from which the indexes and constraints are then built by the
    // jobs in parallel. The rows load in the dump's order, never in parallel (a CHECK
    // constraint may read other tables: loading them in parallel could refuse rows that load
    // one table after the other).
    let mut tee = if options.jobs > 1 {
        TeeFeed::new(feed)
    } else {
        None
    };
    let sections = |extra: &[String]| -> Vec<Vec<String>> {
        ["pre-data", "data", "post-data"]
            .iter()
            .map(|s| with(&[&[format!("--section={s}")][..], extra].concat()))
            .collect()
    };
    let passes: Vec<Vec<String>> = match plan {
        Plan::AsRestorer if tee.is_none() => vec![with(&[])],
        Plan::AsRestorer => sections(&[]),
        Plan::AsOwner(role) if tee.is_none() => vec![with(&[format!("--role={role}")])],
        Plan::AsOwner(role) => sections(&[format!("--role={role}")]),
        Plan::DataAsOwners => vec![
            with(&["--section=pre-data".into()]),
            with(&[
                "--section=data".into(),
                "--use-set-session-authorization".into(),
            ]),
            with(&["--section=post-data".into()]),
        ],
        Plan::DataAsStandIn(role) => vec![
            with(&["--section=pre-data".into()]),
            with(&["--section=data".into(), format!("--role={role}")]),
            with(&["--section=post-data".into()]),
        ],
    };
    let mut raw: Option<super::RawFile> = None;
    for (i, args) in passes.iter().enumerate() {
        if let (Plan::DataAsStandIn(role), 1) = (plan, i) {
            prepare_stand_in(conn, scratch, role).await?;
        }
        let section = |s: &str| args.iter().any(|a| a == &format!("--section={s}"));
        let mut cmd = command(&probe.restore_tool);
        cmd.args(["--no-password", "--exit-on-error"]);
        cmd.args(args);
        cmd.arg(format!("--dbname=dbname={}", conninfo_value(scratch)));
        libpq_env(&mut cmd, conn, scratch);
        match (&raw, section("post-data")) {
            (Some(file), true) => {
                cmd.arg(format!("--jobs={}", options.jobs));
                cmd.arg(file.path());
                let tool = RunningTool::spawn(cmd, "pg_restore", false, false, None)?;
                tool.finish(Stage::Restore).await?;
            }
            _ => {
                let tool = RunningTool::spawn(cmd, "pg_restore", true, false, None)?;
                // pg_restore may stop reading once it has what a section needs.
                match tee.as_ref().filter(|_| section("data")) {
                    Some(kept) => run_fed(tool, kept, None, FedEnd::ToolDecides).await?,
                    None => run_fed(tool, feed, None, FedEnd::ToolDecides).await?,
                }
            }
        }
        if section("data") {
            raw = tee.take().and_then(TeeFeed::into_file);
        }
    }
    Ok(())
}

/// With more than one job, the verified copy decompressed once to a file the jobs share
/// (`pg_restore --jobs` seeks); where that file cannot be written (a full disk), one
/// stream from the verified copy, as with one job.
pub(super) async fn shared_copy(feed: &dyn Feed, jobs: u32) -> Option<super::RawFile> {
    if jobs <= 1 {
        return None;
    }
    match feed.materialize().await {
        Ok(raw) => raw,
        Err(e) => {
            tracing::warn!(error = %e, "pg_restore runs as one job from the verified copy");
            None
        }
    }
}

pub(super) async fn role_exists(admin: &mut PgConnection, role: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
        .bind(role)
        .fetch_one(&mut *admin)
        .await
        .unwrap_or(false)
}
