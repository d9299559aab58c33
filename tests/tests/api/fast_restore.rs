//! Restores as fast as the raw tools: PostgreSQL's `pg_restore --jobs` from the verified copy,
//! MariaDB's single load moved into place; both exactly equal to the version.

use crate::helpers::spawn_app_configured;
use crate::restore_safety::{runs, scratch_databases, wrap_tools};
use crate::support::{mysql, pg};
use serde_json::json;

/// `jobs: 2` streams the schema and the rows (in the dump's order) from the verified copy while
/// decompressing it into a file, from which the post-data pass builds with `--jobs=2`;
/// `jobs: 1` streams as one pass; both restore the version exactly, over the changed database
/// and into a fresh one, and leave no local copy behind.
#[tokio::test]
async fn postgres_restores_with_parallel_jobs_equal_single_stream_ones() {
    let tools = tempfile::tempdir().unwrap();
    let bin = wrap_tools(
        tools.path(),
        &[
            ("pg_dump", &pg::pg_bin("pg_dump")),
            ("pg_restore", &pg::pg_bin("pg_restore")),
        ],
        None,
    );
    let app = spawn_app_configured(move |s| s.pg_bin_dir = Some(bin)).await;
    let src = pg::TempDb::create("jobs_src").await;
    let dst = pg::TempDb::create("jobs_dst").await;
    pg::load_rich_fixture(src.name()).await;
    let fp = pg::fingerprint(src.name()).await;
    let src_id = app.register(src.name(), "postgres", &src.url()).await;
    let dst_id = app.register(dst.name(), "postgres", &dst.url()).await;
    let v = app.backup(&src_id).await;
    assert_eq!(v["status"], "completed", "{v}");
    let id = v["id"].as_str().unwrap();
    pg::mutate(src.name()).await;
    for (jobs, target) in [(2, &src_id), (1, &src_id), (2, &dst_id)] {
        std::fs::remove_file(tools.path().join("runs.log")).ok();
        let r = app
            .restore(id, json!({"target_database_id": target, "jobs": jobs}))
            .await;
        assert_eq!(r["status"], "completed", "jobs {jobs}: {r}");
        let name = if target == &src_id {
            src.name()
        } else {
            dst.name()
        };
        fp.assert_same(&pg::fingerprint(name).await, &format!("jobs {jobs}"));
        let restores: Vec<String> = runs(tools.path())
            .into_iter()
            .filter(|l| l.starts_with("pg_restore "))
            .collect();
        assert_eq!(restores.len(), 3, "three sections: {restores:?}");
        for run in &restores {
            // The schema and the rows (in the dump's order) stream from the verified copy,
            // which is decompressed into a file meanwhile; the indexes and constraints are
            // built from that file by the jobs.
            let parallel = jobs > 1 && run.contains("--section=post-data");
            assert_eq!(
                run.contains(&format!("--jobs={jobs}")),
                parallel,
                "jobs {jobs}: {run}"
            );
            assert_eq!(
                run.contains(".raw.artifact"),
                parallel,
                "jobs {jobs}: {run}"
            );
        }
        let tmp = app.data_dir.path().join("restore-tmp");
        assert_eq!(std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0), 0);
        assert_eq!(
            scratch_databases("postgres", name).await,
            Vec::<String>::new()
        );
    }
    let bad = app
        .post(&format!("/api/v1/backups/{id}/restore"), json!({"jobs": 0}))
        .await;
    assert_eq!(bad.status(), 422);
}

/// Over a database with contents, the dump is loaded once (into the scratch database); the
/// tables are moved into place and the definitions re-created from the loaded copy, read by
/// the dump tool: the result equals the version, and no scratch database is left.
#[tokio::test]
async fn mariadb_restore_over_a_database_loads_the_dump_once() {
    let tools = tempfile::tempdir().unwrap();
    let bin = wrap_tools(
        tools.path(),
        &[
            ("mariadb-dump", "/usr/bin/mariadb-dump"),
            ("mariadb", "/usr/bin/mariadb"),
        ],
        None,
    );
    let app = spawn_app_configured(move |s| s.mysql_bin_dir = Some(bin)).await;
    let db = mysql::TempDb::create("moved").await;
    mysql::load_rich_fixture(db.name()).await;
    let fp = mysql::fingerprint(db.name()).await;
    let id = app.register(db.name(), "mysql", &db.url()).await;
    let v = app.backup(&id).await;
    assert_eq!(v["status"], "completed", "{v}");
    mysql::mutate(db.name()).await;
    std::fs::remove_file(tools.path().join("runs.log")).ok();
    let r = app.restore(v["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(r["status"], "completed", "{r}");
    fp.assert_same(&mysql::fingerprint(db.name()).await, "restored over");
    let log = runs(tools.path());
    let loads: Vec<&String> = log.iter().filter(|l| l.starts_with("mariadb ")).collect();
    let scratch = format!("--database={}__restore_", db.name());
    // One load of the dump (into the scratch copy), one of the definitions (into the target).
    assert_eq!(loads.len(), 2, "{log:?}");
    assert!(loads[0].contains(&scratch), "{log:?}");
    assert!(
        loads[1].ends_with(&format!("--database={}", db.name())),
        "{log:?}"
    );
    let definitions: Vec<&String> = log
        .iter()
        .filter(|l| l.starts_with("mariadb-dump ") && l.contains("--no-data"))
        .collect();
    assert!(!definitions.is_empty(), "{log:?}");
    assert_eq!(
        scratch_databases("mysql", db.name()).await,
        Vec::<String>::new()
    );
}

async fn pg_one(sql: &str, bind: &str) -> Option<String> {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(pg::PG_ADMIN_URL).await.unwrap();
    let v: Option<String> = sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_optional(&mut c)
        .await
        .unwrap();
    c.close().await.ok();
    v
}

async fn my_one(sql: &str, bind: &str) -> Option<String> {
    use sqlx::Connection;
    let mut c = sqlx::MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
        .await
        .unwrap();
    let v: Option<String> = sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_optional(&mut c)
        .await
        .unwrap();
    c.close().await.ok();
    v
}

/// `new_database`: the restore creates the database on the server of a registered one, with
/// the source's encoding and locale (character set and collation), registers it, and it
/// equals the version. A name that exists, an unknown server, another engine's server, or both
/// kinds of target are refused before anything runs.
#[tokio::test]
async fn restores_into_a_new_database_on_a_registered_server() {
    let app = crate::helpers::spawn_app().await;
    // PostgreSQL, from a database with the C locale (the server's default is C.UTF-8).
    let src = pg::TempDb::create("newdb_src").await;
    let new = pg::TempDb::create("newdb_new").await;
    pg::drop_db(new.name()).await;
    pg::drop_db(src.name()).await;
    pg::create_db_with(
        src.name(),
        "TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'",
    )
    .await;
    pg::load_rich_fixture(src.name()).await;
    let fp = pg::fingerprint(src.name()).await;
    let src_id = app.register(src.name(), "postgres", &src.url()).await;
    let v = app.backup(&src_id).await;
    assert_eq!(v["status"], "completed", "{v}");
    let id = v["id"].as_str().unwrap();
    let body = json!({"new_database": {"name": new.name(), "server_of": src_id}});
    let r = app.restore(id, body.clone()).await;
    assert_eq!(r["status"], "completed", "{r}");
    fp.assert_same(&pg::fingerprint(new.name()).await, "new database");
    assert_eq!(
        pg_one(
            "SELECT pg_encoding_to_char(encoding)::text || ' ' || datcollate::text FROM pg_database WHERE datname = $1",
            new.name()
        )
        .await
        .as_deref(),
        Some("UTF8 C")
    );
    let listed = app.get_json("/api/v1/databases").await;
    let items = listed["items"].as_array().unwrap();
    let entry = items.iter().find(|d| d["name"] == new.name());
    assert!(entry.is_some(), "{listed}");
    assert_eq!(r["target_database_id"], entry.unwrap()["id"], "{r}");
    // Again: the database exists now.
    let again = app
        .post(&format!("/api/v1/backups/{id}/restore"), body)
        .await;
    assert_eq!(again.status(), 409);
    for bad in [
        json!({"new_database": {"name": "x_nope", "server_of": "no-such-db"}}),
        json!({"new_database": {"name": "bad name", "server_of": src_id}}),
        json!({"new_database": {"name": "x_two", "server_of": src_id}, "target_database_id": src_id}),
    ] {
        let r = app
            .post(&format!("/api/v1/backups/{id}/restore"), bad.clone())
            .await;
        assert_eq!(r.status(), 422, "{bad}");
    }

    // MariaDB, from a latin1 database.
    let msrc = mysql::TempDb::create("newdb_msrc").await;
    let mnew = mysql::TempDb::create("newdb_mnew").await;
    mysql::drop_db(mnew.name()).await;
    mysql::load_rich_fixture(msrc.name()).await;
    let mut c = {
        use sqlx::Connection;
        sqlx::MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
            .await
            .unwrap()
    };
    sqlx::raw_sql(&format!(
        "ALTER DATABASE `{}` CHARACTER SET latin1 COLLATE latin1_german2_ci",
        msrc.name()
    ))
    .execute(&mut c)
    .await
    .unwrap();
    let mfp = mysql::fingerprint(msrc.name()).await;
    let msrc_id = app.register(msrc.name(), "mysql", &msrc.url()).await;
    let mv = app.backup(&msrc_id).await;
    assert_eq!(mv["status"], "completed", "{mv}");
    let r = app
        .restore(
            mv["id"].as_str().unwrap(),
            json!({"new_database": {"name": mnew.name(), "server_of": msrc.name()}}),
        )
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    mfp.assert_same(
        &mysql::fingerprint(mnew.name()).await,
        "new MariaDB database",
    );
    assert_eq!(
        my_one(
            "SELECT CAST(DEFAULT_COLLATION_NAME AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            mnew.name()
        )
        .await
        .as_deref(),
        Some("latin1_german2_ci")
    );
    let listed = app.get_json("/api/v1/databases").await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == mnew.name()),
        "{listed}"
    );
    // A PostgreSQL version onto a MariaDB server: refused.
    let cross = app
        .post(
            &format!("/api/v1/backups/{id}/restore"),
            json!({"new_database": {"name": "x_cross", "server_of": msrc_id}}),
        )
        .await;
    assert_eq!(cross.status(), 422);
    drop(c);
}

/// A MariaDB account without SUPER (or SET USER), allowed everything on one database and its
/// restores' scratch databases; dropped with the guard.
struct PlainUser {
    name: String,
}

impl PlainUser {
    async fn create(db: &str) -> Self {
        let name = mysql::unique_name("nd_user");
        let mut c = {
            use sqlx::Connection;
            sqlx::MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
                .await
                .unwrap()
        };
        let scratch = format!("{}\\_\\_restore\\_%", db.replace('_', "\\_"));
        for sql in [
            format!("CREATE USER '{name}'@'%' IDENTIFIED BY 'pw-{name}'"),
            format!("GRANT ALL ON `{db}`.* TO '{name}'@'%'"),
            format!("GRANT ALL ON `{scratch}`.* TO '{name}'@'%'"),
        ] {
            sqlx::raw_sql(&sql).execute(&mut c).await.unwrap();
        }
        Self { name }
    }

    fn url(&self, db: &str) -> String {
        format!("mysql://{0}:pw-{0}@127.0.0.1:3306/{db}", self.name)
    }
}

impl Drop for PlainUser {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut c) = sqlx::MySqlConnection::connect(mysql::MYSQL_ADMIN_URL).await
                    {
                        let _ = sqlx::raw_sql(&format!("DROP USER IF EXISTS '{name}'@'%'"))
                            .execute(&mut c)
                            .await;
                    }
                })
        })
        .join();
    }
}

/// `no_definer`: a user without SUPER restores a version whose views, routines, triggers and
/// events name root as definer — refused without the option (the error names it), complete
/// with it (into an empty database and over one with contents), every object then defined by
/// the restoring user, and the tables' contents equal to the source's.
#[tokio::test]
async fn mariadb_no_definer_lets_a_user_without_super_restore() {
    let app = crate::helpers::spawn_app().await;
    let src = mysql::TempDb::create("nd_src").await;
    let dst = mysql::TempDb::create("nd_dst").await;
    mysql::load_rich_fixture(src.name()).await;
    let user = PlainUser::create(dst.name()).await;
    let src_id = app.register(src.name(), "mysql", &src.url()).await;
    let dst_id = app
        .register(dst.name(), "mysql", &user.url(dst.name()))
        .await;
    let v = app.backup(&src_id).await;
    assert_eq!(v["status"], "completed", "{v}");
    let id = v["id"].as_str().unwrap();
    let refused = app.restore(id, json!({"target_database_id": dst_id})).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("no_definer"), "{refused}");
    let objects = |db: String| async move {
        my_one(
            "SELECT CONCAT_WS(' ', \
               (SELECT GROUP_CONCAT(CONCAT(ROUTINE_NAME, '=', DEFINER) ORDER BY ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = @d), \
               (SELECT GROUP_CONCAT(CONCAT(TRIGGER_NAME, '=', DEFINER) ORDER BY TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = @d), \
               (SELECT GROUP_CONCAT(CONCAT(TABLE_NAME, '=', DEFINER) ORDER BY TABLE_NAME) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = @d), \
               (SELECT GROUP_CONCAT(CONCAT(EVENT_NAME, '=', DEFINER) ORDER BY EVENT_NAME) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = @d)) \
             FROM (SELECT @d := ?) x",
            &db,
        )
        .await
        .unwrap_or_default()
    };
    let source_objects = objects(src.name().to_string()).await;
    assert!(source_objects.contains("=root@"), "{source_objects}");
    let theirs = source_objects.replace("root@127.0.0.1", &format!("{}@%", user.name));
    for round in ["into the empty database", "over its contents"] {
        let r = app
            .restore(
                id,
                json!({"target_database_id": dst_id, "no_definer": true}),
            )
            .await;
        assert_eq!(r["status"], "completed", "{round}: {r}");
        assert_eq!(objects(dst.name().to_string()).await, theirs, "{round}");
        let checksums = |db: String| async move {
            my_one(
                "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
                &db,
            )
            .await
        };
        assert_eq!(
            checksums(dst.name().to_string()).await,
            checksums(src.name().to_string()).await,
            "{round}"
        );
    }
    assert_eq!(
        scratch_databases("mysql", dst.name()).await,
        Vec::<String>::new()
    );
}

/// The target's `restore_jobs` sets `pg_restore --jobs` when a request names none; a request's
/// `jobs` wins over it. MySQL/MariaDB targets and values outside 1–16 are refused with a
/// problem naming the field, and nothing changes.
#[tokio::test]
async fn a_databases_restore_jobs_is_used_unless_the_request_names_jobs() {
    let tools = tempfile::tempdir().unwrap();
    let bin = wrap_tools(
        tools.path(),
        &[
            ("pg_dump", &pg::pg_bin("pg_dump")),
            ("pg_restore", &pg::pg_bin("pg_restore")),
        ],
        None,
    );
    let app = spawn_app_configured(move |s| s.pg_bin_dir = Some(bin)).await;
    let src = pg::TempDb::create("rjobs_src").await;
    pg::load_rich_fixture(src.name()).await;
    let fp = pg::fingerprint(src.name()).await;
    let r = app
        .post(
            "/api/v1/databases",
            json!({"name": src.name(), "engine": "postgres", "connection": src.url(),
                   "restore_jobs": 3}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let view: serde_json::Value = r.json().await.unwrap();
    assert_eq!(view["restore_jobs"], 3, "{view}");
    let id = view["id"].as_str().unwrap().to_string();
    let v = app.backup(&id).await;
    assert_eq!(v["status"], "completed", "{v}");
    let backup = v["id"].as_str().unwrap().to_string();

    // The pg_restore runs of one restore with `body`, after the database's setting is `jobs`.
    let restore_runs = |body: serde_json::Value| {
        let (app, tools, backup) = (&app, tools.path(), backup.clone());
        async move {
            std::fs::remove_file(tools.join("runs.log")).ok();
            let r = app.restore(&backup, body).await;
            assert_eq!(r["status"], "completed", "{r}");
            runs(tools)
                .into_iter()
                .filter(|l| l.starts_with("pg_restore "))
                .collect::<Vec<String>>()
        }
    };
    let with =
        |runs: &[String], jobs: u32| runs.iter().any(|r| r.contains(&format!("--jobs={jobs}")));
    pg::mutate(src.name()).await;
    let runs3 = restore_runs(json!({})).await;
    assert!(with(&runs3, 3), "{runs3:?}");
    fp.assert_same(&pg::fingerprint(src.name()).await, "restore_jobs 3");
    let runs2 = restore_runs(json!({"jobs": 2})).await;
    assert!(with(&runs2, 2) && !with(&runs2, 3), "{runs2:?}");

    let r = app
        .patch(
            &format!("/api/v1/databases/{id}"),
            json!({"restore_jobs": 1}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["restore_jobs"],
        1
    );
    pg::mutate(src.name()).await;
    let runs1 = restore_runs(json!({})).await;
    assert!(runs1.iter().all(|r| !r.contains("--jobs=")), "{runs1:?}");
    fp.assert_same(&pg::fingerprint(src.name()).await, "restore_jobs 1");
    let events = app.get_json("/api/v1/events?type=RestoreJobsSet").await;
    assert_eq!(
        events["items"].as_array().map(Vec::len),
        Some(2),
        "{events}"
    );

    // Refused, changing nothing.
    let head = app.head().await;
    for bad in [0, 17] {
        let r = app
            .patch(
                &format!("/api/v1/databases/{id}"),
                json!({"restore_jobs": bad, "name": "renamed"}),
            )
            .await;
        assert_eq!(r.status(), 422, "restore_jobs {bad}");
        let problem: serde_json::Value = r.json().await.unwrap();
        assert!(problem.to_string().contains("restore_jobs"), "{problem}");
    }
    let my = pg::unique_name("rjobs_my");
    let r = app
        .post(
            "/api/v1/databases",
            json!({"name": my, "engine": "mysql",
                   "connection": format!("mysql://root@127.0.0.1:3306/{my}"), "restore_jobs": 2}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let problem: serde_json::Value = r.json().await.unwrap();
    assert!(problem.to_string().contains("PostgreSQL only"), "{problem}");
    assert_eq!(app.head().await, head);
    assert_eq!(
        app.get_json(&format!("/api/v1/databases/{id}")).await["name"],
        src.name()
    );
}
