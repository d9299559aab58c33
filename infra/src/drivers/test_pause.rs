//! TEST-ONLY: a restore that stops at a named step, so that the crash tests
//! (`tests/tests/api/restore_crash.rs`) can kill the process exactly there.
//!
//! Inert unless both variables are set: `BACKLINE_TEST_PAUSE_AT=<step>` names the step and
//! `BACKLINE_TEST_PAUSE_MARKER=<file>` the file written when the restore reaches it; the
//! restore then sleeps until the process is killed. It never skips or weakens a check: it
//! only waits, at a point the restore passes anyway. Steps are [`Step`]'s names.

use std::time::Duration;

/// A point of a restore where a crash leaves a distinct state behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// PostgreSQL: the scratch copy is loaded with its properties; the target is untouched.
    PgLoaded,
    /// PostgreSQL: inside the swap's transaction, the target renamed aside, the scratch not
    /// yet renamed into its place (uncommitted).
    PgSwapping,
    /// PostgreSQL: the swap committed; the previous contents not yet dropped.
    PgSwapped,
    /// MariaDB: the scratch copy is loaded and its definitions read; the target is untouched.
    MyLoaded,
    /// MariaDB: the move journal is written into the scratch copy (the commit point).
    MyJournaled,
    /// MariaDB: the scratch copy's triggers are dropped.
    MyTriggersDropped,
    /// MariaDB: the target is dropped and re-created empty.
    MyTargetEmptied,
    /// MariaDB: the tables are in the target; views, routines, triggers and events not yet.
    MyTablesMoved,
    /// MariaDB: everything is in the target; the scratch database is not dropped yet.
    MyDefinitionsLoaded,
}

impl Step {
    /// The name `BACKLINE_TEST_PAUSE_AT` gives it.
    fn name(self) -> &'static str {
        match self {
            Step::PgLoaded => "pg-loaded",
            Step::PgSwapping => "pg-swapping",
            Step::PgSwapped => "pg-swapped",
            Step::MyLoaded => "my-loaded",
            Step::MyJournaled => "my-journaled",
            Step::MyTriggersDropped => "my-triggers-dropped",
            Step::MyTargetEmptied => "my-target-emptied",
            Step::MyTablesMoved => "my-tables-moved",
            Step::MyDefinitionsLoaded => "my-definitions-loaded",
        }
    }
}

/// Stops here, for good, when a test asked for `step` (see the module docs).
pub(crate) async fn pause_at(step: Step) {
    let name = step.name();
    let (Some(at), Some(marker)) = (
        std::env::var_os("BACKLINE_TEST_PAUSE_AT"),
        std::env::var_os("BACKLINE_TEST_PAUSE_MARKER"),
    ) else {
        return;
    };
    if at.to_str() != Some(name) {
        return;
    }
    tracing::warn!(
        step = name,
        "BACKLINE_TEST_PAUSE_AT: the restore waits here until the process is killed"
    );
    if let Err(e) = std::fs::write(&marker, name) {
        tracing::warn!(error = %e, "BACKLINE_TEST_PAUSE_MARKER could not be written");
    }
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
