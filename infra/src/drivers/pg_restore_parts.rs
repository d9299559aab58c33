//! Loading a multi-part version (a parallel backup, see `pg_parallel`) into the scratch
//! database: the pre-data part, then the data parts in parallel (up to the restore's jobs),
//! then the post-data part (with `--jobs` from a private decompressed file where it can). Who
//! runs each section is the same plan as for a one-object version (see `pg_restore`).

use super::pg_restore::{shared_copy, Plan};
use super::pg_stand_in::prepare_stand_in;
use super::postgres::libpq_env;
use super::process::{command, RunningTool};
use super::{run_fed, FedEnd, Feed, Probe, RestoreOptions, StageError};
use crate::sql::conninfo_value;
use backline_domain::{ConnectionString, Stage};
use futures::TryStreamExt;

/// The verified local copies of a multi-part version's parts, by role.
pub struct PartFeeds<'a> {
    pub pre_data: &'a dyn Feed,
    /// In the version's order.
    pub data: Vec<&'a dyn Feed>,
    pub post_data: &'a dyn Feed,
}

/// What a PostgreSQL restore reads: one archive, or the parts of a parallel backup.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    One(&'a dyn Feed),
    Parts(&'a PartFeeds<'a>),
}

/// The arguments of the pre-data, data and post-data passes under `plan`.
fn section_args(plan: &Plan, no_owner: bool) -> [Vec<String>; 3] {
    let base: Vec<String> = if no_owner {
        vec!["--no-owner".into(), "--no-privileges".into()]
    } else {
        Vec::new()
    };
    let (everywhere, data_only): (Vec<String>, Vec<String>) = match plan {
        Plan::AsRestorer => (Vec::new(), Vec::new()),
        Plan::AsOwner(role) => (vec![format!("--role={role}")], Vec::new()),
        Plan::DataAsOwners => (
            Vec::new(),
            vec!["--use-set-session-authorization".to_string()],
        ),
        Plan::DataAsStandIn(role) => (Vec::new(), vec![format!("--role={role}")]),
    };
    let pass = |section: &str, extra: &[String]| {
        [
            base.clone(),
            vec![format!("--section={section}")],
            everywhere.clone(),
            extra.to_vec(),
        ]
        .concat()
    };
    [
        pass("pre-data", &[]),
        pass("data", &data_only),
        pass("post-data", &[]),
    ]
}

pub(super) async fn load_parts(
    conn: &ConnectionString,
    probe: &Probe,
    scratch: &str,
    options: &RestoreOptions,
    parts: &PartFeeds<'_>,
    plan: &Plan,
) -> Result<(), StageError> {
    let [pre, data, post] = section_args(plan, options.no_owner);
    streamed(conn, probe, scratch, &pre, parts.pre_data).await?;
    if let Plan::DataAsStandIn(role) = plan {
        prepare_stand_in(conn, scratch, role).await?;
    }
    // The first failure drops the other loads, which kills their pg_restore.
    let data = &data;
    futures::stream::iter(parts.data.iter().map(Ok::<_, StageError>))
        .try_for_each_concurrent(options.jobs.max(1) as usize, |feed| {
            streamed(conn, probe, scratch, data, *feed)
        })
        .await?;
    match shared_copy(parts.post_data, options.jobs).await {
        Some(file) => {
            let mut cmd = pg_restore(conn, probe, scratch, &post);
            cmd.arg(format!("--jobs={}", options.jobs));
            cmd.arg(file.path());
            let tool = RunningTool::spawn(cmd, "pg_restore", false, false, None)?;
            tool.finish(Stage::Restore).await.map(|_| ())
        }
        None => streamed(conn, probe, scratch, &post, parts.post_data).await,
    }
}

/// `pg_restore` into `scratch` with `args`.
fn pg_restore(
    conn: &ConnectionString,
    probe: &Probe,
    scratch: &str,
    args: &[String],
) -> tokio::process::Command {
    let mut cmd = command(&probe.restore_tool);
    cmd.args(["--no-password", "--exit-on-error"]);
    cmd.args(args);
    cmd.arg(format!("--dbname=dbname={}", conninfo_value(scratch)));
    libpq_env(&mut cmd, conn, scratch);
    cmd
}

/// One pass fed from a verified part.
async fn streamed(
    conn: &ConnectionString,
    probe: &Probe,
    scratch: &str,
    args: &[String],
    feed: &dyn Feed,
) -> Result<(), StageError> {
    let tool = RunningTool::spawn(
        pg_restore(conn, probe, scratch, args),
        "pg_restore",
        true,
        false,
        None,
    )?;
    run_fed(tool, feed, None, FedEnd::ToolDecides).await
}
