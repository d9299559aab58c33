//! A backup can never be turned against the server it restores into: a hostile database
//! owner gains nothing, damaged or swapped artifacts are never fed to a tool, system and
//! ledger databases are never targets, and no row data reaches the ledger.

use crate::helpers::{spawn_app, spawn_app_configured, spawn_app_with, TestApp};
use crate::support::{mysql, pg};
use serde_json::{json, Value};
use sqlx::{Connection, Row};
use std::path::{Path, PathBuf};

async fn pg_exec(url: &str, sql: &str) {
    let mut c = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    sqlx::raw_sql(sql)
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    c.close().await.ok();
}

async fn pg_rows(url: &str, sql: &str) -> Vec<String> {
    let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
    let rows = sqlx::query(sql).fetch_all(&mut c).await.expect(sql);
    c.close().await.ok();
    rows.iter()
        .map(|r| {
            r.try_get::<Option<String>, _>(0)
                .ok()
                .flatten()
                .unwrap_or_default()
        })
        .collect()
}

fn url_as(role: &str, db: &str) -> String {
    format!("postgres://{role}@127.0.0.1:5432/{db}")
}

/// Roles made for one test, dropped at the end (after the databases that use them).
struct Roles(Vec<String>);

impl Drop for Roles {
    fn drop(&mut self) {
        let names = std::mem::take(&mut self.0);
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(async {
                    for r in names {
                        let mut c = sqlx::PgConnection::connect(pg::PG_ADMIN_URL)
                            .await
                            .expect("c");
                        // Databases of other tests never use these roles.
                        let _ = sqlx::raw_sql(&format!("DROP ROLE IF EXISTS \"{r}\""))
                            .execute(&mut c)
                            .await;
                    }
                })
        })
        .join();
    }
}

/// What the `postgres` database and the hostile role look like: must never change.
async fn server_state(evil: &str) -> Vec<String> {
    let mut s = pg_rows(
        pg::PG_ADMIN_URL,
        "SELECT concat_ws(' | ', datacl::text, shobj_description(oid, 'pg_database'), datconnlimit::text) \
         FROM pg_database WHERE datname = 'postgres'",
    )
    .await;
    s.extend(
        pg_rows(
            pg::PG_ADMIN_URL,
            "SELECT concat_ws(' | ', setrole::regrole::text, setconfig::text) FROM pg_db_role_setting \
             WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = 'postgres') ORDER BY 1",
        )
        .await,
    );
    s.extend(
        pg_rows(
            pg::PG_ADMIN_URL,
            &format!(
                "SELECT concat_ws(' | ', rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls) \
                 FROM pg_roles WHERE rolname = '{evil}'"
            ),
        )
        .await,
    );
    s.extend(
        pg_rows(
            pg::PG_ADMIN_URL,
            &format!("SELECT r.rolname::text FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = '{evil}'"),
        )
        .await,
    );
    s
}

/// The database-level properties of `db`, as the catalogs hold them, with the database's own
/// name and owner replaced so two databases compare.
async fn db_properties(db: &str, with_grants: bool) -> Vec<String> {
    let mut s = pg_rows(
        pg::PG_ADMIN_URL,
        &format!(
            "SELECT concat_ws(' | ', shobj_description(oid, 'pg_database'), pg_encoding_to_char(encoding), datcollate, datctype, datconnlimit::text) \
             FROM pg_database WHERE datname = '{db}'"
        ),
    )
    .await;
    s.extend(
        pg_rows(
            pg::PG_ADMIN_URL,
            &format!(
                "SELECT concat_ws(' | ', CASE WHEN setrole = 0 THEN '-' ELSE setrole::regrole::text END, setconfig::text) \
                 FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = '{db}') ORDER BY 1"
            ),
        )
        .await,
    );
    if with_grants {
        s.extend(
            pg_rows(
                pg::PG_ADMIN_URL,
                &format!(
                    "SELECT concat_ws(' | ', CASE WHEN a.grantee = 0 THEN 'PUBLIC' WHEN a.grantee = d.datdba THEN '<owner>' ELSE a.grantee::regrole::text END, a.privilege_type, a.is_grantable::text) \
                     FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = '{db}' ORDER BY 1"
                ),
            )
            .await,
        );
    }
    s
}

const SMUGGLED: &str = r#"
SET check_function_bodies = false;
CREATE FUNCTION smuggle_comment() RETURNS int LANGUAGE plpgsql AS $f$
BEGIN
/*
;ALTER ROLE %EVIL% SUPERUSER /* IN DATABASE */;
GRANT CREATE ON DATABASE postgres TO %EVIL%;
ALTER DATABASE postgres SET work_mem TO '77MB';
COMMENT ON DATABASE postgres IS 'smuggled';
ALTER ROLE %EVIL% IN DATABASE postgres SET work_mem TO '66MB';
SECURITY LABEL ON DATABASE postgres IS 'x';
*/
  RETURN 1;
END
$f$;
CREATE FUNCTION smuggle_dollar() RETURNS text LANGUAGE sql AS $f$ SELECT '$x$'::text $f$;
CREATE FUNCTION smuggle_lines() RETURNS int LANGUAGE plpgsql AS $f$
BEGIN
  RETURN 1;
END;
ALTER ROLE %EVIL% SUPERUSER /* IN DATABASE */;
GRANT CREATE ON DATABASE postgres TO %EVIL%;
ALTER DATABASE postgres SET work_mem TO '77MB';
$f$;
CREATE TABLE "t; ALTER ROLE %EVIL% SUPERUSER /* IN DATABASE */; --" (x int);
COMMENT ON TABLE "t; ALTER ROLE %EVIL% SUPERUSER /* IN DATABASE */; --" IS 'ALTER DATABASE postgres SET work_mem TO ''55MB'';
GRANT CREATE ON DATABASE postgres TO %EVIL%;';
-- Runs while the data loads: as the restoring superuser, it would make its owner one.
CREATE TABLE a0_allowed (id int PRIMARY KEY);
INSERT INTO a0_allowed VALUES (1), (2);
CREATE FUNCTION check_ok(i int) RETURNS bool LANGUAGE plpgsql AS $f$
BEGIN
  BEGIN
    EXECUTE 'ALTER ROLE %EVIL% SUPERUSER';
  EXCEPTION WHEN others THEN NULL;
  END;
  RETURN EXISTS (SELECT 1 FROM public.a0_allowed WHERE id = i);
END
$f$;
CREATE TABLE accounts (id int PRIMARY KEY CHECK (check_ok(id)), name text);
INSERT INTO accounts VALUES (1, 'first'), (2, 'second');
-- Owned by a superuser after a restore without ownership, it would make anyone one.
CREATE FUNCTION escalate() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $f$
BEGIN
  EXECUTE 'ALTER ROLE %EVIL% SUPERUSER';
END
$f$;
"#;

/// A low-privilege owner smuggles statements into its database's text (function bodies,
/// block comments, quoted identifiers, comments), runs code while data loads, and leaves a
/// SECURITY DEFINER function: after every kind of restore it has gained nothing, `postgres`
/// is unchanged, and the properties it set on its own database come back exactly.
#[tokio::test]
async fn a_hostile_owner_gains_nothing_from_any_restore() {
    let app = spawn_app().await;
    let evil = pg::unique_name("evil");
    let reader = pg::unique_name("reader");
    let _roles = Roles(vec![evil.clone(), reader.clone()]);
    pg_exec(
        pg::PG_ADMIN_URL,
        &format!("CREATE ROLE {evil} LOGIN; CREATE ROLE {reader} LOGIN;"),
    )
    .await;
    let src = pg::TempDb::create("hostile").await;
    let db = src.name().to_string();
    pg_exec(
        pg::PG_ADMIN_URL,
        &format!("ALTER DATABASE {db} OWNER TO {evil}"),
    )
    .await;
    // PostgreSQL 15: the public schema belongs to the database owner.
    pg_exec(
        &url_as(&evil, &db),
        &format!(
            "COMMENT ON DATABASE {db} IS 'owned by {evil}; it''s fine';
             ALTER DATABASE {db} SET search_path TO \"$user\", public, \"we ird\";
             ALTER DATABASE {db} SET work_mem TO '8MB';
             ALTER ROLE {evil} IN DATABASE {db} SET statement_timeout TO '123s';
             REVOKE CONNECT, TEMPORARY ON DATABASE {db} FROM PUBLIC;
             GRANT CONNECT ON DATABASE {db} TO {reader} WITH GRANT OPTION;
             {}",
            SMUGGLED.replace("%EVIL%", &evil)
        ),
    )
    .await;
    let before = server_state(&evil).await;
    assert!(before.iter().any(|l| l.starts_with("f |")), "{before:?}");
    let props = db_properties(&db, true).await;
    assert!(
        props.iter().any(|p| p.contains("statement_timeout=123s")),
        "{props:?}"
    );
    let src_id = app.register(&db, "postgres", &src.url()).await;
    let backup = app.backup(&src_id).await;
    assert_eq!(backup["status"], "completed", "{backup}");
    let fresh = pg::TempDb::create("hostile_to").await;
    let fresh_name = fresh.name().to_string();
    let fresh_id = app.register(&fresh_name, "postgres", &fresh.url()).await;
    // A target that exists and belongs to a superuser.
    let theirs = pg::TempDb::create("hostile_su").await;
    let theirs_name = theirs.name().to_string();
    let theirs_id = app.register(&theirs_name, "postgres", &theirs.url()).await;
    let bid = backup["id"].as_str().unwrap();

    for (target, name, no_owner) in [
        (&src_id, &db, false),
        (&fresh_id, &fresh_name, false),
        (&src_id, &db, true),
        (&fresh_id, &fresh_name, true),
        (&theirs_id, &theirs_name, true),
        (&theirs_id, &theirs_name, false),
    ] {
        // The other target does not exist yet: created by the restore.
        pg::drop_db(&fresh_name).await;
        let r = app
            .restore(
                bid,
                json!({"target_database_id": target, "no_owner": no_owner}),
            )
            .await;
        let case = format!("restore into {name}, no_owner {no_owner}");
        assert_eq!(r["status"], "completed", "{case}: {r}");
        assert_eq!(
            server_state(&evil).await,
            before,
            "{case}: the server changed"
        );
        // What the owner set on its own database came back (grants and per-role settings
        // only with ownership).
        let got = db_properties(name, !no_owner).await;
        if no_owner {
            let want: Vec<String> = db_properties(&db, false).await;
            let without_role: Vec<&String> = want.iter().filter(|l| !l.contains(&evil)).collect();
            for line in &without_role {
                assert!(got.contains(line), "{case}: missing {line} in {got:?}");
            }
        } else {
            assert_eq!(got, props, "{case}: database properties");
        }
        let owner = pg_rows(
            pg::PG_ADMIN_URL,
            &format!(
                "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = '{name}'"
            ),
        )
        .await;
        let expected_owner = if name == &theirs_name {
            "postgres"
        } else {
            evil.as_str()
        };
        assert_eq!(owner, vec![expected_owner.to_string()], "{case}: owner");
        if name == &theirs_name && no_owner {
            let w = r["warnings"].to_string();
            assert!(
                w.contains("escalate()") && w.contains("SECURITY"),
                "{case}: {r}"
            );
        }
        // The SECURITY DEFINER function never runs with more than its owner's rights.
        // (Where the restored grants keep PUBLIC out, it cannot even connect.)
        if let Ok(mut c) = sqlx::PgConnection::connect(&url_as(&evil, name)).await {
            let _ = sqlx::query("SELECT escalate()").execute(&mut c).await;
            c.close().await.ok();
        }
        assert_eq!(server_state(&evil).await, before, "{case}: escalate()");
        let rows = pg_rows(
            &pg::db_url(name),
            "SELECT string_agg(name, ',' ORDER BY id) FROM accounts",
        )
        .await;
        assert_eq!(rows, vec!["first,second".to_string()], "{case}");
    }
    drop(theirs);
    drop(fresh);
    drop(src);
}

/// Wrappers around the real tools that log each run (and, optionally, replace a stored object
/// when the first one starts): the tools themselves still do the work.
pub(crate) fn wrap_tools(
    dir: &Path,
    tools: &[(&str, &str)],
    swap: Option<(&Path, &Path)>,
) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("runs.log");
    for (name, real) in tools {
        let swap_step = match swap {
            Some((from, to)) => format!(
                "if [ -f '{f}' ]; then cp '{f}' '{t}'; rm -f '{f}'; fi\n",
                f = from.display(),
                t = to.display()
            ),
            None => String::new(),
        };
        let script = format!(
            "#!/bin/sh\ncase \"$1\" in --version|--help) ;; *) echo \"{name} $*\" >> '{log}'; {swap_step} ;; esac\nexec '{real}' \"$@\"\n",
            log = log.display(),
        );
        let path = bin.join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

pub(crate) fn runs(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("runs.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn artifact_path(app: &TestApp, backup: &Value) -> PathBuf {
    app.data_dir
        .path()
        .join("artifacts")
        .join(backup["storage_key"].as_str().unwrap())
}

/// Bytes changed near the end of the artifact (its start still decodes): the restore fails
/// at `verify`, no restore tool ever starts, the target is unchanged, no scratch database.
#[tokio::test]
async fn a_damaged_artifact_is_never_fed_to_a_tool() {
    let tools = tempfile::tempdir().unwrap();
    let pg_bin = wrap_tools(
        tools.path(),
        &[
            ("pg_dump", &pg::pg_bin("pg_dump")),
            ("pg_restore", &pg::pg_bin("pg_restore")),
        ],
        None,
    );
    let my_bin = wrap_tools(
        tools.path(),
        &[
            ("mariadb-dump", "/usr/bin/mariadb-dump"),
            ("mariadb", "/usr/bin/mariadb"),
        ],
        None,
    );
    let app = spawn_app_configured(move |s| {
        s.pg_bin_dir = Some(pg_bin);
        s.mysql_bin_dir = Some(my_bin);
    })
    .await;
    for engine in ["postgres", "mysql"] {
        let (db, url): (Box<dyn std::any::Any>, String) = if engine == "postgres" {
            let d = pg::TempDb::create("damaged").await;
            pg_exec(&d.url(), "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g;").await;
            let u = d.url();
            (Box::new(d), u)
        } else {
            let d = mysql::TempDb::create("damaged").await;
            let mut c = sqlx::MySqlConnection::connect(&d.url()).await.unwrap();
            sqlx::raw_sql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT seq, md5(seq) FROM seq_1_to_20000;")
                .execute(&mut c)
                .await
                .unwrap();
            let u = d.url();
            (Box::new(d), u)
        };
        let name = url.rsplit('/').next().unwrap().to_string();
        let id = app.register(&name, engine, &url).await;
        let b = app.backup(&id).await;
        assert_eq!(b["status"], "completed", "{b}");
        let fp = fingerprint(engine, &name).await;
        let path = artifact_path(&app, &b);
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        for b in &mut bytes[n - 40..n - 20] {
            *b ^= 0x5a;
        }
        std::fs::write(&path, &bytes).unwrap();
        std::fs::remove_file(tools.path().join("runs.log")).ok();
        let r = app.restore(b["id"].as_str().unwrap(), json!({})).await;
        assert_eq!(r["status"], "failed", "{engine}: {r}");
        assert_eq!(r["error"]["stage"], "verify", "{engine}: {r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("sha256 mismatch"),
            "{engine}: {r}"
        );
        assert_eq!(
            runs(tools.path()),
            Vec::<String>::new(),
            "{engine}: a tool ran"
        );
        assert_eq!(
            fingerprint(engine, &name).await,
            fp,
            "{engine}: target changed"
        );
        assert_eq!(scratch_databases(engine, &name).await, Vec::<String>::new());
        // No local copy is left behind.
        let tmp = app.data_dir.path().join("restore-tmp");
        assert_eq!(std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0), 0);
        drop(db);
    }
}

async fn fingerprint(engine: &str, db: &str) -> pg::Fingerprint {
    if engine == "postgres" {
        pg::fingerprint(db).await
    } else {
        mysql::fingerprint(db).await
    }
}

pub(crate) async fn scratch_databases(engine: &str, target: &str) -> Vec<String> {
    if engine == "postgres" {
        pg_rows(
            pg::PG_ADMIN_URL,
            &format!("SELECT datname::text FROM pg_database WHERE datname LIKE '{target}\\_\\_restore\\_%'"),
        )
        .await
    } else {
        let mut c = sqlx::MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
            .await
            .unwrap();
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
        )
        .bind(format!("{target}\\_\\_restore\\_%"))
        .fetch_all(&mut c)
        .await
        .unwrap();
        rows
    }
}

/// The stored object is replaced by another version's bytes as the first tool starts: every
/// pass still reads the verified local copy, so the restore brings back the chosen version.
#[tokio::test]
async fn an_artifact_replaced_after_the_check_is_never_loaded() {
    for engine in ["postgres", "mysql"] {
        let tools = tempfile::tempdir().unwrap();
        let swap_from = tools.path().join("swap-from");
        let swap_to = tools.path().join("swap-to-path");
        // The wrapper reads where to copy from a file written once the keys are known.
        let bin = if engine == "postgres" {
            wrap_tools(
                tools.path(),
                &[
                    ("pg_dump", &pg::pg_bin("pg_dump")),
                    ("pg_restore", &pg::pg_bin("pg_restore")),
                ],
                Some((&swap_from, &swap_to)),
            )
        } else {
            wrap_tools(
                tools.path(),
                &[
                    ("mariadb-dump", "/usr/bin/mariadb-dump"),
                    ("mariadb", "/usr/bin/mariadb"),
                ],
                Some((&swap_from, &swap_to)),
            )
        };
        let b2 = bin.clone();
        let app = spawn_app_configured(move |s| {
            if engine == "postgres" {
                s.pg_bin_dir = Some(b2);
            } else {
                s.mysql_bin_dir = Some(b2);
            }
        })
        .await;
        let (guard, url): (Box<dyn std::any::Any>, String) = if engine == "postgres" {
            let d = pg::TempDb::create("swapped").await;
            pg::load_rich_fixture(d.name()).await;
            let u = d.url();
            (Box::new(d), u)
        } else {
            let d = mysql::TempDb::create("swapped").await;
            mysql::load_rich_fixture(d.name()).await;
            let u = d.url();
            (Box::new(d), u)
        };
        let name = url.rsplit('/').next().unwrap().to_string();
        let id = app.register(&name, engine, &url).await;
        let fp_a = fingerprint(engine, &name).await;
        let a = app.backup(&id).await;
        if engine == "postgres" {
            pg::mutate(&name).await;
        } else {
            mysql::mutate(&name).await;
        }
        let b = app.backup(&id).await;
        assert_eq!(b["status"], "completed");
        // B's bytes are put in place of A's when the first restore tool starts.
        std::fs::copy(artifact_path(&app, &b), &swap_from).unwrap();
        let a_path = artifact_path(&app, &a);
        // The wrapper copies to a fixed path: make that path A's artifact.
        std::fs::remove_file(&swap_to).ok();
        std::os::unix::fs::symlink(&a_path, &swap_to).unwrap();
        let r = app.restore(a["id"].as_str().unwrap(), json!({})).await;
        assert_eq!(r["status"], "completed", "{engine}: {r}");
        assert!(!swap_from.exists(), "{engine}: the swap did not happen");
        assert_eq!(
            std::fs::read(&a_path).unwrap(),
            std::fs::read(artifact_path(&app, &b)).unwrap(),
            "{engine}: the stored object is B's now"
        );
        fp_a.assert_same(
            &fingerprint(engine, &name).await,
            &format!("{engine}: restored A"),
        );
        drop(guard);
    }
}

/// System databases and the ledger's own database are never restore targets: 422 naming the
/// rule, before anything runs, and nothing appended.
#[tokio::test]
async fn protected_targets_are_refused() {
    let app = spawn_app_with(true, None).await;
    let pg_src = pg::TempDb::create("prot_src").await;
    pg_exec(&pg_src.url(), "CREATE TABLE t (x int)").await;
    let my_src = mysql::TempDb::create("prot_src").await;
    let pg_id = app.register(pg_src.name(), "postgres", &pg_src.url()).await;
    let my_id = app.register(my_src.name(), "mysql", &my_src.url()).await;
    let pg_b = app.backup(&pg_id).await;
    let my_b = app.backup(&my_id).await;
    let ledger = app.ledger_db.as_ref().unwrap().name().to_string();
    let mut targets = Vec::new();
    for (label, engine, url, backup, rule) in [
        (
            "sys-postgres",
            "postgres",
            pg::db_url("postgres"),
            &pg_b,
            "system database",
        ),
        (
            "sys-template1",
            "postgres",
            pg::db_url("template1"),
            &pg_b,
            "system database",
        ),
        (
            "sys-template0",
            "postgres",
            pg::db_url("template0"),
            &pg_b,
            "system database",
        ),
        (
            "sys-mysql",
            "mysql",
            mysql::db_url("mysql"),
            &my_b,
            "system database",
        ),
        (
            "sys-sys",
            "mysql",
            mysql::db_url("sys"),
            &my_b,
            "system database",
        ),
        (
            "sys-is",
            "mysql",
            mysql::db_url("INFORMATION_SCHEMA"),
            &my_b,
            "system database",
        ),
        (
            "sys-ps",
            "mysql",
            mysql::db_url("performance_schema"),
            &my_b,
            "system database",
        ),
        (
            "the-ledger",
            "postgres",
            pg::db_url(&ledger),
            &pg_b,
            "ledger",
        ),
        (
            "the-ledger-by-name",
            "postgres",
            format!("postgres://postgres@localhost:5432/{ledger}"),
            &pg_b,
            "ledger",
        ),
    ] {
        let id = app.register(label, engine, &url).await;
        targets.push((label, id, backup, rule));
    }
    let head = app.settled_head().await;
    for (label, id, backup, rule) in &targets {
        let r = app
            .post(
                &format!("/api/v1/backups/{}/restore", backup["id"].as_str().unwrap()),
                json!({"target_database_id": id}),
            )
            .await;
        assert_eq!(r.status(), 422, "{label}");
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/problem+json"
        );
        let body: Value = r.json().await.unwrap();
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(rule) && detail.contains("never"),
            "{label}: {body}"
        );
    }
    assert_eq!(
        app.settled_head().await,
        head,
        "a refused restore appended events"
    );
    // Backing them up stays allowed.
    let sys = targets.iter().find(|t| t.0 == "sys-postgres").unwrap();
    let b = app.backup(&sys.1).await;
    assert_eq!(b["status"], "completed", "{b}");
}

/// A load that fails on a row carries the row in the tools' output (PostgreSQL's DETAIL and
/// CONTEXT, MariaDB's error line): none of it reaches the ledger, the API or an alert.
#[tokio::test]
async fn no_row_data_reaches_the_ledger() {
    let app = spawn_app().await;
    let marker = format!("MARKER-{}", &pg::unique_name("m")[2..]);
    // PostgreSQL: a CHECK that reads a table loaded after it fails on restore.
    let pg_src = pg::TempDb::create("rowleak").await;
    pg_exec(
        &pg_src.url(),
        &format!(
            "CREATE TABLE z_allowed (id int PRIMARY KEY); INSERT INTO z_allowed VALUES (1985);
             CREATE FUNCTION allowed(i int) RETURNS bool LANGUAGE plpgsql AS $f$
               BEGIN RETURN EXISTS (SELECT 1 FROM public.z_allowed WHERE id = i); END $f$;
             CREATE TABLE a_accounts (id int PRIMARY KEY CHECK (allowed(id)), name text, cc text);
             INSERT INTO a_accounts VALUES (1985, 'Account {marker}', 'DE');"
        ),
    )
    .await;
    // MariaDB: FLOAT keeps 6 digits in a dump, so two distinct rows become duplicates.
    let my_src = mysql::TempDb::create("rowleak").await;
    let mut c = sqlx::MySqlConnection::connect(&my_src.url()).await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE TABLE f (v FLOAT, name VARCHAR(60), UNIQUE KEY u (v, name));
         INSERT INTO f VALUES (16777217, 'Account {marker}'), (16777218, 'Account {marker}');"
    ))
    .execute(&mut c)
    .await
    .unwrap();
    c.close().await.ok();
    for (engine, src) in [("postgres", pg_src.url()), ("mysql", my_src.url())] {
        let name = src.rsplit('/').next().unwrap().to_string();
        let id = app.register(&name, engine, &src).await;
        let b = app.backup(&id).await;
        assert_eq!(b["status"], "completed", "{b}");
        let to = format!("{name}_to");
        let to_url = src.replace(&name, &to);
        let to_id = app.register(&to, engine, &to_url).await;
        let r = app
            .restore(
                b["id"].as_str().unwrap(),
                json!({"target_database_id": to_id}),
            )
            .await;
        assert_eq!(r["status"], "failed", "{engine}: {r}");
        let text = r.to_string();
        assert!(
            !text.contains(&marker),
            "{engine}: row data in the restore: {text}"
        );
        // (MariaDB reports the duplicate of its bulk load at COMMIT.)
        let expect = if engine == "postgres" {
            "violates check constraint"
        } else {
            "ERROR 1180"
        };
        assert!(
            text.contains(expect),
            "{engine}: the tool's own error is kept: {text}"
        );
        if engine == "mysql" {
            mysql::drop_db(&to).await;
        } else {
            pg::drop_db(&to).await;
        }
    }
    // Every event (failures, alerts and their deliveries) and every alert.
    app.settled_head().await;
    let events = app.get_json("/api/v1/events?limit=1000").await.to_string();
    assert!(events.contains("RestoreFailed"), "{events}");
    assert!(!events.contains(&marker), "row data in the ledger");
    let alerts = app.get_json("/api/v1/alerts").await.to_string();
    assert!(!alerts.contains(&marker), "row data in an alert");
}

/// Routine, trigger and event bodies come back exactly, comments and all, also when a body
/// holds lines the restore rewrites elsewhere (`DELIMITER ;`, `LOCK TABLES`, a sequence
/// default naming the source) inside a string.
#[tokio::test]
async fn mariadb_bodies_come_back_byte_for_byte() {
    let app = spawn_app().await;
    let src = mysql::TempDb::create("bodies").await;
    let name = src.name().to_string();
    let mut c = sqlx::MySqlConnection::connect(&src.url()).await.unwrap();
    for stmt in [
        "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)".to_string(),
        "CREATE SEQUENCE s".to_string(),
        format!(
            "CREATE PROCEDURE p()\nBEGIN\n  -- a line comment ;; here\n  # a hash comment\n  /* a block\n     comment */\n  SELECT 'x\nDELIMITER ;\nLOCK TABLES `t` WRITE;\nUNLOCK TABLES;\nALTER DATABASE `{name}` CHARACTER SET latin1 COLLATE latin1_bin ;\n  `c` int DEFAULT nextval(`{name}`.`s`),\n' AS s, 'it\\'s', \"dq ;; \";\nEND"
        ),
        "CREATE FUNCTION f(a INT) RETURNS INT DETERMINISTIC\n-- says hello\nRETURN a + 1 /* plus one */".to_string(),
        "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n  -- keep it\n  SET NEW.v = CONCAT(NEW.v, '\nDELIMITER ;\n');\nEND".to_string(),
        "CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DISABLE DO\n  -- nightly\n  DELETE FROM t WHERE id < 0".to_string(),
    ] {
        sqlx::raw_sql(&stmt).execute(&mut c).await.unwrap_or_else(|e| panic!("{stmt}: {e}"));
    }
    c.close().await.ok();
    let bodies = |db: String| async move {
        let mut c = sqlx::MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
            .await
            .unwrap();
        let mut out: Vec<String> = sqlx::query_scalar(
            "SELECT CONCAT(ROUTINE_NAME, ':', CAST(ROUTINE_DEFINITION AS CHAR)) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY 1",
        )
        .bind(&db)
        .fetch_all(&mut c)
        .await
        .unwrap();
        out.extend(
            sqlx::query_scalar::<_, String>(
                "SELECT CONCAT(TRIGGER_NAME, ':', CAST(ACTION_STATEMENT AS CHAR)) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY 1",
            )
            .bind(&db)
            .fetch_all(&mut c)
            .await
            .unwrap(),
        );
        out.extend(
            sqlx::query_scalar::<_, String>(
                "SELECT CONCAT(EVENT_NAME, ':', CAST(EVENT_DEFINITION AS CHAR)) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY 1",
            )
            .bind(&db)
            .fetch_all(&mut c)
            .await
            .unwrap(),
        );
        out
    };
    let want = bodies(name.clone()).await;
    assert_eq!(want.len(), 4, "{want:?}");
    assert!(
        want.iter().any(|b| b.contains("-- a line comment")),
        "{want:?}"
    );
    let id = app.register(&name, "mysql", &src.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    let other = mysql::TempDb::create("bodies_to").await;
    let other_id = app.register(other.name(), "mysql", &other.url()).await;
    // Into another database (the scratch copy and the target both load the dump).
    mysql::load_rich_fixture(other.name()).await;
    let r = app
        .restore(
            b["id"].as_str().unwrap(),
            json!({"target_database_id": other_id}),
        )
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    let got = bodies(other.name().to_string()).await;
    // The procedure's text names the source database on purpose: it is data, kept as is.
    assert_eq!(got, want);
}

/// A version from before database properties were recorded (its manifest has none) restores,
/// and the restore says what it could not bring back.
#[tokio::test]
async fn older_versions_restore_and_say_what_they_lack() {
    let shared = tempfile::tempdir().unwrap();
    let storage_url = format!("fs://{}", shared.path().join("bucket").display());
    let url = storage_url.clone();
    let a = spawn_app_configured(move |s| s.storage_url = Some(url)).await;
    let src = pg::TempDb::create("older").await;
    pg_exec(
        &src.url(),
        &format!(
            "CREATE TABLE t (x int); INSERT INTO t VALUES (7); COMMENT ON DATABASE {} IS 'kept'",
            src.name()
        ),
    )
    .await;
    let id = a.register(src.name(), "postgres", &src.url()).await;
    let b = a.backup(&id).await;
    assert_eq!(b["status"], "completed");
    // Strip the recorded properties from the manifest, as older versions wrote it.
    let key = b["storage_key"].as_str().unwrap();
    let manifest = shared
        .path()
        .join("bucket")
        .join(key.replace(".pgdump.zst", ".manifest.json"));
    let mut m: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    assert!(m["database_properties"]["comment"] == "kept", "{m}");
    m.as_object_mut().unwrap().remove("database_properties");
    // …and unsigned, as they were then.
    m.as_object_mut().unwrap().remove("signature");
    std::fs::write(&manifest, serde_json::to_vec(&m).unwrap()).unwrap();
    let url = storage_url.clone();
    let fresh = spawn_app_configured(move |s| s.storage_url = Some(url)).await;
    let report = fresh
        .app
        .import()
        .from_storage(
            "test",
            "default",
            &[],
            &backline_app::ImportTrust {
                public_key: None,
                trust_unsigned: true,
            },
        )
        .await
        .expect("import");
    assert_eq!(report.backups, 1, "{:?}", report.lines);
    let to = pg::TempDb::create("older_to").await;
    let to_id = fresh.register(to.name(), "postgres", &to.url()).await;
    let r = fresh
        .restore(
            b["id"].as_str().unwrap(),
            json!({"target_database_id": to_id}),
        )
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    let w = r["warnings"].to_string();
    assert!(
        w.contains("before Backline recorded database-level properties"),
        "{r}"
    );
    assert_eq!(pg_rows(&to.url(), "SELECT x::text FROM t").await, vec!["7"]);
}

/// Without ownership into a superuser's database, the data of every kind of table (partitions,
/// row-level security, large objects, sequences, materialized views…) is loaded by the
/// unprivileged stand-in role, and comes back whole.
#[tokio::test]
async fn a_restore_without_ownership_loads_everything_through_the_stand_in() {
    let app = spawn_app().await;
    let src = pg::TempDb::create("standin").await;
    pg::load_rich_fixture(src.name()).await;
    let want = pg::fingerprint(src.name()).await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    let to = pg::TempDb::create("standin_to").await;
    let to_id = app.register(to.name(), "postgres", &to.url()).await;
    let r = app
        .restore(
            b["id"].as_str().unwrap(),
            json!({"target_database_id": to_id, "no_owner": true}),
        )
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    let got = pg::fingerprint(to.name()).await;
    assert_eq!(got.tables, want.tables);
    assert_eq!(got.row_counts, want.row_counts);
    assert_eq!(got.sequences, want.sequences);
    // This restore's stand-in role is gone (named after the restore's id).
    let compact = r["id"].as_str().unwrap().replace('-', "");
    let role = format!("backline_load_{}", &compact[compact.len() - 12..]);
    let left = pg_rows(
        pg::PG_ADMIN_URL,
        &format!("SELECT rolname::text FROM pg_roles WHERE rolname = '{role}'"),
    )
    .await;
    assert_eq!(left, Vec::<String>::new());
}
