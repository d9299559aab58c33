//! A restore whose process is killed (SIGKILL) at each step of replacing its target leaves the
//! target either exactly as it was or exactly restored — never mixed, never missing — once
//! Backline is back: before the commit point (PostgreSQL: the swap's transaction; MariaDB:
//! the move journal written into the scratch copy) the target is untouched, the restore is
//! failed and its scratch database is a listed leftover; after it, the replacement is
//! completed and the restore recorded completed. A later restore succeeds either way.
//!
//! Each step is reached with the test-only pause hook (`BACKLINE_TEST_PAUSE_AT`, see
//! `infra/src/drivers/test_pause.rs`): the restore writes a marker file there and waits to be
//! killed. Targets hold the rich fixtures, compared by rows and object definitions.

use crate::helpers::backline_bin;
use crate::support::external::External;
use crate::support::pg::Fingerprint;
use crate::support::{mysql, pg};
use serde_json::{json, Value};
use sqlx::{Connection, MySqlConnection, PgConnection};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pg,
    My,
}

/// What the target must hold after a crash at a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Old,
    New,
}

enum Db {
    Pg(pg::TempDb),
    My(mysql::TempDb),
}

impl Db {
    async fn create(kind: Kind) -> Db {
        match kind {
            Kind::Pg => Db::Pg(pg::TempDb::create("crash").await),
            Kind::My => Db::My(mysql::TempDb::create("crash").await),
        }
    }
    fn name(&self) -> &str {
        match self {
            Db::Pg(d) => d.name(),
            Db::My(d) => d.name(),
        }
    }
    fn url(&self) -> String {
        match self {
            Db::Pg(d) => d.url(),
            Db::My(d) => d.url(),
        }
    }
    fn engine(&self) -> &'static str {
        match self {
            Db::Pg(_) => "postgres",
            Db::My(_) => "mysql",
        }
    }
    async fn load_fixture(&self) {
        match self {
            Db::Pg(d) => pg::load_rich_fixture(d.name()).await,
            Db::My(d) => mysql::load_rich_fixture(d.name()).await,
        }
    }
    async fn mutate(&self) {
        match self {
            Db::Pg(d) => pg::mutate(d.name()).await,
            Db::My(d) => mysql::mutate(d.name()).await,
        }
    }
    async fn fingerprint(&self) -> Fingerprint {
        match self {
            Db::Pg(d) => pg::fingerprint(d.name()).await,
            Db::My(d) => mysql::fingerprint(d.name()).await,
        }
    }

    /// The restores' scratch (and set-aside) databases of this target on its server.
    async fn scratch_databases(&self) -> Vec<String> {
        let prefix = format!("{}__restore_", self.name());
        match self {
            Db::Pg(_) => {
                let mut c = PgConnection::connect(&pg::db_url("postgres"))
                    .await
                    .expect("connect");
                sqlx::query_scalar(
                    "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
                )
                .bind(&prefix)
                .fetch_all(&mut c)
                .await
                .expect("pg_database")
            }
            Db::My(_) => {
                let mut c = MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
                    .await
                    .expect("connect");
                sqlx::query_scalar(
                    "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA \
                     WHERE LEFT(SCHEMA_NAME, CHAR_LENGTH(?)) = ? ORDER BY 1",
                )
                .bind(&prefix)
                .bind(&prefix)
                .fetch_all(&mut c)
                .await
                .expect("SCHEMATA")
            }
        }
    }

    /// Drops what a failing test left behind.
    async fn drop_scratch(&self) {
        for name in self.scratch_databases().await {
            match self {
                Db::Pg(_) => pg::drop_db(&name).await,
                Db::My(_) => mysql::drop_db(&name).await,
            }
        }
    }
}

const LEASE: (&str, &str) = ("BACKLINE_LEASE_TTL_SECS", "3");

async fn backup(server: &External, database_id: &str) -> String {
    let id = server.start_backup(database_id).await;
    let b = server.wait_backup(&id, Duration::from_secs(600)).await;
    assert_eq!(b["status"], "completed", "{b}");
    id
}

async fn start_restore(server: &External, backup_id: &str) -> String {
    let (status, body) = server
        .post(&format!("/api/v1/backups/{backup_id}/restore"), json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    body["id"].as_str().expect("id").to_string()
}

async fn cleanup_scratch(data: &Path) -> (bool, String) {
    let out = tokio::process::Command::new(backline_bin())
        .env("BACKLINE_DATA_DIR", data)
        .env("BACKLINE_LOG", "warn")
        .env_remove("BACKLINE_STORAGE_URL")
        .env_remove("BACKLINE_LEDGER_URL")
        .args(["cleanup", "--scratch"])
        .output()
        .await
        .expect("backline runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs a restore of `backup_id` paused at `step`, kills the server there, and starts it
/// again; returns the restarted server and the restore as it ended.
async fn crash_at(data: &Path, backup_id: &str, step: &str) -> (External, Value) {
    let marker = data.join(format!("paused-at-{step}"));
    let marker_text = marker.display().to_string();
    let env = [
        LEASE,
        ("BACKLINE_TEST_PAUSE_AT", step),
        ("BACKLINE_TEST_PAUSE_MARKER", marker_text.as_str()),
    ];
    let mut server = External::start(data, false, &env).await;
    let restore_id = start_restore(&server, backup_id).await;
    let start = Instant::now();
    while !marker.exists() {
        let r = server
            .get_json(&format!("/api/v1/restores/{restore_id}"))
            .await;
        assert_eq!(
            r["status"], "running",
            "step {step}: the restore ended before it: {r}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "step {step} was not reached"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill9();
    let server = External::start(data, false, &[LEASE]).await;
    let r = server
        .wait_restore(&restore_id, Duration::from_secs(180))
        .await;
    (server, r)
}

async fn crash_at_each_step(kind: Kind, steps: &[(&str, Expect)]) {
    let db = Db::create(kind).await;
    db.load_fixture().await;
    let data = tempfile::tempdir().expect("tempdir");
    let server = External::start(data.path(), false, &[LEASE]).await;
    let id = server
        .register_engine(db.name(), db.engine(), &db.url())
        .await;
    let new_backup = backup(&server, &id).await;
    let new = db.fingerprint().await;
    db.mutate().await;
    let old = db.fingerprint().await;
    assert!(
        !old.differences(&new).is_empty(),
        "the mutation changed nothing"
    );
    let old_backup = backup(&server, &id).await;
    drop(server);

    for &(step, expect) in steps {
        let (server, r) = crash_at(data.path(), &new_backup, step).await;
        let now = db.fingerprint().await;
        let (vs_old, vs_new) = (now.differences(&old), now.differences(&new));
        assert!(
            vs_old.is_empty() || vs_new.is_empty(),
            "step {step}: the target is neither as it was nor as restored:\n vs old: {vs_old:#?}\n vs new: {vs_new:#?}"
        );
        match expect {
            Expect::Old => {
                assert!(vs_old.is_empty(), "step {step}: {vs_old:#?}");
                assert_eq!(r["status"], "failed", "step {step}: {r}");
                // The scratch copy is a listed leftover, dropped on request.
                let scratch = db.scratch_databases().await;
                assert_eq!(scratch.len(), 1, "step {step}: {scratch:?}");
                let listed = server.get_json("/api/v1/leftovers").await;
                let items = listed["items"].as_array().cloned().unwrap_or_default();
                assert!(
                    items
                        .iter()
                        .any(|l| l["scratch_database"] == scratch[0].as_str()
                            && l["restore_id"] == r["id"]),
                    "step {step}: {listed}"
                );
                let (ok, out) = cleanup_scratch(data.path()).await;
                assert!(
                    ok && out.contains(&format!("dropped {}", scratch[0])),
                    "step {step}: {out}"
                );
            }
            Expect::New => {
                assert!(vs_new.is_empty(), "step {step}: {vs_new:#?}");
                assert_eq!(r["status"], "completed", "step {step}: {r}");
                let warned = r["warnings"].as_array().is_some_and(|w| {
                    w.iter()
                        .any(|w| w.as_str().is_some_and(|w| w.contains("died")))
                });
                assert!(
                    warned,
                    "step {step}: the restore does not say it was completed after a crash: {r}"
                );
            }
        }
        assert_eq!(
            db.scratch_databases().await,
            Vec::<String>::new(),
            "step {step}: something was left on the server"
        );
        // A later restore succeeds, and gives the next step a target with the old contents.
        let again = start_restore(&server, &old_backup).await;
        let r = server.wait_restore(&again, Duration::from_secs(600)).await;
        assert_eq!(r["status"], "completed", "after step {step}: {r}");
        let back = db.fingerprint().await;
        assert!(
            back.differences(&old).is_empty(),
            "after step {step}: {:#?}",
            back.differences(&old)
        );
        drop(server);
    }
    db.drop_scratch().await;
}

#[tokio::test]
async fn restore_crash_postgres_target_is_old_or_new_at_every_step() {
    crash_at_each_step(
        Kind::Pg,
        &[
            ("pg-loaded", Expect::Old),
            ("pg-swapping", Expect::Old),
            ("pg-swapped", Expect::New),
        ],
    )
    .await;
}

#[tokio::test]
async fn restore_crash_mariadb_target_is_old_or_new_at_every_step() {
    crash_at_each_step(
        Kind::My,
        &[
            ("my-loaded", Expect::Old),
            ("my-journaled", Expect::New),
            ("my-triggers-dropped", Expect::New),
            ("my-target-emptied", Expect::New),
            ("my-tables-moved", Expect::New),
            ("my-definitions-loaded", Expect::New),
        ],
    )
    .await;
}
