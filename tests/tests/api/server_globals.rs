//! Server globals against the real PostgreSQL and MariaDB: roles (users and grants) backed up
//! as versions of their own, without password hashes unless asked (and then encrypted), and
//! recreated before a restore so that ownership and grants come back without `no_owner`.
//! Roles are cluster-wide: every test makes its own uniquely named ones and drops only those.

use crate::encryption::{age_keygen, spawn_encrypting_app};
use crate::helpers::{spawn_app, TestApp, TOKEN};
use crate::support::{mysql, pg};
use serde_json::{json, Value};
use sqlx::{Connection, MySqlConnection, PgConnection, Row};
use std::time::{Duration, Instant};

/// Roles (PostgreSQL) or users (MariaDB, as `'name'@'%'`) made by one test, and databases,
/// dropped at the end, also when it panics. Only these names are ever dropped.
struct Made {
    mysql: bool,
    roles: Vec<String>,
    databases: Vec<String>,
}

impl Drop for Made {
    fn drop(&mut self) {
        let (roles, dbs, is_mysql) = (
            std::mem::take(&mut self.roles),
            std::mem::take(&mut self.databases),
            self.mysql,
        );
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async {
                for d in &dbs {
                    if is_mysql {
                        mysql::drop_db(d).await
                    } else {
                        pg::drop_db(d).await
                    }
                }
                for r in &roles {
                    if is_mysql {
                        my_exec(&format!("DROP USER IF EXISTS '{r}'@'%'")).await;
                    } else {
                        pg_exec("postgres", &format!("DROP ROLE IF EXISTS \"{r}\"")).await;
                    }
                }
            })
        })
        .join();
    }
}

async fn pg_exec(db: &str, sql: &str) {
    let mut c = PgConnection::connect(&pg::db_url(db))
        .await
        .expect("connect");
    sqlx::raw_sql(sql)
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    c.close().await.ok();
}

async fn pg_value(db: &str, sql: &str) -> Option<String> {
    let mut c = PgConnection::connect(&pg::db_url(db))
        .await
        .expect("connect");
    let v = sqlx::query(sql)
        .fetch_optional(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .map(|r| r.get::<String, _>(0));
    c.close().await.ok();
    v
}

/// Every role of the cluster.
async fn pg_roles() -> std::collections::BTreeSet<String> {
    let mut c = PgConnection::connect(pg::PG_ADMIN_URL)
        .await
        .expect("connect");
    let rows = sqlx::query("SELECT rolname::text FROM pg_roles")
        .fetch_all(&mut c)
        .await
        .expect("roles");
    c.close().await.ok();
    rows.iter().map(|r| r.get::<String, _>(0)).collect()
}

/// A globals version holds every role of the shared test server, also other tests' roles:
/// the ones that applying it brought back (not there before, named in the artifact) were
/// made by this test, and are dropped here.
async fn drop_pg_roles_brought_back(
    before: &std::collections::BTreeSet<String>,
    text: &str,
    mine: &[String],
) {
    for r in pg_roles().await.difference(before) {
        if mine.contains(r) {
            continue; // dropped with the test's database, by `Made`
        }
        let created = text.contains(&format!("CREATE ROLE {r};"))
            || text.contains(&format!("CREATE ROLE \"{r}\";"));
        if created {
            pg_exec(
                "postgres",
                &format!("DROP ROLE IF EXISTS \"{}\"", r.replace('"', "\"\"")),
            )
            .await;
        }
    }
}

/// Every account of the MariaDB server, as (user, host).
async fn my_users() -> std::collections::BTreeSet<(String, String)> {
    let mut c = MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
        .await
        .expect("connect");
    let rows = sqlx::query("SELECT CAST(User AS CHAR), CAST(Host AS CHAR) FROM mysql.user")
        .fetch_all(&mut c)
        .await
        .expect("users");
    c.close().await.ok();
    rows.iter()
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .collect()
}

/// The MariaDB counterpart of `drop_pg_roles_brought_back`.
async fn drop_my_users_brought_back(
    before: &std::collections::BTreeSet<(String, String)>,
    text: &str,
    mine: &str,
) {
    for (u, h) in my_users().await.difference(before) {
        if u == mine {
            continue;
        }
        if text.contains(&format!("CREATE USER IF NOT EXISTS `{u}`@`{h}`")) {
            let q = |s: &str| s.replace('\'', "''");
            my_exec(&format!("DROP USER IF EXISTS '{}'@'{}'", q(u), q(h))).await;
        }
    }
}

async fn my_exec(sql: &str) {
    let mut c = MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
        .await
        .expect("connect");
    sqlx::raw_sql(sql)
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    c.close().await.ok();
}

async fn my_grants(user: &str) -> Option<Vec<String>> {
    let mut c = MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
        .await
        .expect("connect");
    let rows = sqlx::query(&format!("SHOW GRANTS FOR '{user}'@'%'"))
        .fetch_all(&mut c)
        .await
        .ok()?;
    c.close().await.ok();
    Some(rows.iter().map(|r| r.get::<String, _>(0)).collect())
}

async fn put(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let r = app
        .client
        .put(app.url(path))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn register_server(app: &TestApp, name: &str, engine: &str, conn: &str) -> String {
    let r = app
        .post(
            "/api/v1/servers",
            json!({"name": name, "engine": engine, "connection": conn}),
        )
        .await;
    let status = r.status();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 201, "{v}");
    v["id"].as_str().expect("id").to_string()
}

/// Starts a globals backup (202) and waits for its version to end.
async fn back_up_globals(app: &TestApp, server: &str) -> Value {
    let r = app
        .post(
            &format!("/api/v1/servers/{server}/globals-backups"),
            json!({}),
        )
        .await;
    let status = r.status();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 202, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    let start = Instant::now();
    loop {
        let list = app
            .get_json(&format!("/api/v1/servers/{server}/globals"))
            .await;
        let found = list["items"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["id"] == id.as_str()).cloned());
        if let Some(v) = found.filter(|v| v["status"] != "running") {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "globals backup {id} never ended"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The stored artifact's text: decrypted with `identity` when given, decompressed.
async fn artifact_text(
    app: &TestApp,
    version: &Value,
    identity: Option<&std::path::Path>,
) -> String {
    let path = app
        .data_dir
        .path()
        .join("artifacts")
        .join(version["key"].as_str().expect("key"));
    let script = match identity {
        Some(id) => format!("age -d -i {} {} | zstd -dc", id.display(), path.display()),
        None => format!("zstd -dc {}", path.display()),
    };
    let out = tokio::process::Command::new("bash")
        .args(["-c", &format!("set -euo pipefail; {script}")])
        .output()
        .await
        .expect("bash");
    assert!(out.status.success(), "{script}: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

#[tokio::test]
async fn pg_globals_hold_the_roles_without_password_hashes_and_refuse_unencrypted_passwords() {
    let app = spawn_app().await;
    let role = pg::unique_name("glb_login");
    let _made = Made {
        mysql: false,
        roles: vec![role.clone()],
        databases: Vec::new(),
    };
    pg_exec(
        "postgres",
        &format!("CREATE ROLE \"{role}\" LOGIN PASSWORD 'not-in-the-artifact' CREATEDB"),
    )
    .await;
    let server = register_server(
        &app,
        &pg::unique_name("glbsrv"),
        "postgres",
        "postgres://postgres:unused@127.0.0.1:5432",
    )
    .await;
    // Not enabled yet: refused, nothing started.
    let r = app
        .post(
            &format!("/api/v1/servers/{server}/globals-backups"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 422);
    // Passwords without an encryption key: refused with what to do.
    let (status, v) = put(
        &app,
        &format!("/api/v1/servers/{server}/globals"),
        json!({"enabled": true, "keep_passwords": true}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap_or("")
            .contains("BACKLINE_ENCRYPT"),
        "{v}"
    );
    let (status, v) = put(
        &app,
        &format!("/api/v1/servers/{server}/globals"),
        json!({"enabled": true}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["globals"]["enabled"], true, "{v}");
    assert_eq!(v["globals"]["keep_passwords"], false, "{v}");

    let version = back_up_globals(&app, &server).await;
    assert_eq!(version["status"], "completed", "{version}");
    assert_eq!(version["kind"], "server_globals");
    assert_eq!(version["method"], "pg_dumpall");
    assert_eq!(version["encrypted"], false);
    assert!(
        version["key"]
            .as_str()
            .unwrap()
            .ends_with(".globals.sql.zst"),
        "{version}"
    );
    let text = artifact_text(&app, &version, None).await;
    assert!(text.contains(&format!("CREATE ROLE {role};")), "{text}");
    assert!(text.contains("CREATEDB"), "{text}");
    assert!(!text.contains("SCRAM-SHA-256$"), "a password hash was kept");
    assert!(!text.contains("PASSWORD '"), "a password was kept");
    // The sha256 recorded is of the stored bytes.
    let path = app
        .data_dir
        .path()
        .join("artifacts")
        .join(version["key"].as_str().unwrap());
    let bytes = std::fs::read(path).unwrap();
    use sha2::Digest;
    assert_eq!(version["sha256"], hex::encode(sha2::Sha256::digest(&bytes)));
    assert_eq!(app.events_of("GlobalsBackupCompleted").await.len(), 1);
}

#[tokio::test]
async fn pg_globals_with_kept_passwords_are_age_encrypted_and_hold_the_hash() {
    let keys = tempfile::tempdir().unwrap();
    let (identity, recipient) = age_keygen(keys.path(), "offline");
    let app = spawn_encrypting_app(&recipient).await;
    let role = pg::unique_name("glb_pw");
    let _made = Made {
        mysql: false,
        roles: vec![role.clone()],
        databases: Vec::new(),
    };
    pg_exec(
        "postgres",
        &format!("CREATE ROLE \"{role}\" LOGIN PASSWORD 'kept-as-a-hash'"),
    )
    .await;
    let server = register_server(
        &app,
        &pg::unique_name("glbenc"),
        "postgres",
        "postgres://postgres@127.0.0.1:5432",
    )
    .await;
    let (status, v) = put(
        &app,
        &format!("/api/v1/servers/{server}/globals"),
        json!({"enabled": true, "keep_passwords": true}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let version = back_up_globals(&app, &server).await;
    assert_eq!(version["status"], "completed", "{version}");
    assert_eq!(version["encrypted"], true, "{version}");
    assert_eq!(version["keep_passwords"], true, "{version}");
    assert!(version["key"]
        .as_str()
        .unwrap()
        .ends_with(".globals.sql.zst.age"));
    let path = app
        .data_dir
        .path()
        .join("artifacts")
        .join(version["key"].as_str().unwrap());
    let stored = std::fs::read(&path).unwrap();
    assert!(
        stored.starts_with(b"age-encryption.org/v1"),
        "not an age file"
    );
    let text = artifact_text(&app, &version, Some(&identity)).await;
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("ALTER ROLE {role} ")))
        .unwrap_or_else(|| panic!("no ALTER ROLE for {role}: {text}"));
    assert!(line.contains("PASSWORD 'SCRAM-SHA-256$"), "{line}");
}

#[tokio::test]
async fn restore_with_globals_recreates_dropped_roles_with_ownership_and_grants() {
    let app = spawn_app().await;
    let owner = pg::unique_name("glb_owner");
    let reader = pg::unique_name("glb_reader");
    let db = pg::unique_name("glb_db");
    let _made = Made {
        mysql: false,
        roles: vec![owner.clone(), reader.clone()],
        databases: vec![db.clone()],
    };
    pg_exec(
        "postgres",
        &format!(
            "CREATE ROLE \"{owner}\" NOLOGIN; CREATE ROLE \"{reader}\" LOGIN IN ROLE \"{owner}\""
        ),
    )
    .await;
    pg::create_db(&db).await;
    pg_exec(
        &db,
        &format!(
            "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2); \
             ALTER TABLE t OWNER TO \"{owner}\"; GRANT SELECT ON t TO \"{reader}\""
        ),
    )
    .await;
    let server = register_server(
        &app,
        &pg::unique_name("glbrst"),
        "postgres",
        "postgres://postgres@127.0.0.1:5432",
    )
    .await;
    let r = app
        .post(
            &format!("/api/v1/servers/{server}/register"),
            json!({"databases": [db]}),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    let db_id = v["items"][0]["id"]
        .as_str()
        .expect("registered")
        .to_string();
    put(
        &app,
        &format!("/api/v1/servers/{server}/globals"),
        json!({"enabled": true}),
    )
    .await;
    let globals = back_up_globals(&app, &server).await;
    assert_eq!(globals["status"], "completed", "{globals}");
    let b = app.backup(&db_id).await;
    assert_eq!(b["status"], "completed", "{b}");

    // A fresh server, as far as these roles go: the database and both roles are gone.
    pg::drop_db(&db).await;
    pg_exec(
        "postgres",
        &format!("DROP ROLE \"{reader}\"; DROP ROLE \"{owner}\""),
    )
    .await;
    let before = pg_roles().await;
    let text = artifact_text(&app, &globals, None).await;
    let backup_id = b["id"].as_str().unwrap();
    let r = app.restore(backup_id, json!({})).await;
    assert_eq!(
        r["status"], "failed",
        "without the roles, ownership cannot come back: {r}"
    );

    let r = app.restore(backup_id, json!({"with_globals": true})).await;
    let table_owner = pg_value(
        &db,
        "SELECT tableowner::text FROM pg_tables WHERE tablename = 't'",
    )
    .await;
    let can_read = pg_value(
        &db,
        &format!("SELECT has_table_privilege('{reader}', 't', 'SELECT')::text"),
    )
    .await;
    let member = pg_value(
        "postgres",
        &format!("SELECT pg_has_role('{reader}', '{owner}', 'MEMBER')::text"),
    )
    .await;
    // Applying the same version again keeps what exists: no role is dropped or duplicated.
    let again = app
        .post(
            &format!(
                "/api/v1/globals/{}/restore",
                globals["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    let again_status = again.status();
    let again: Value = again.json().await.unwrap();
    let still = pg_value(
        &db,
        "SELECT tableowner::text FROM pg_tables WHERE tablename = 't'",
    )
    .await;
    // Other tests' roles this brought back go before any assertion can stop the test.
    drop_pg_roles_brought_back(&before, &text, &[owner.clone(), reader.clone()]).await;

    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(table_owner.as_deref(), Some(owner.as_str()));
    assert_eq!(can_read.as_deref(), Some("true"));
    assert_eq!(member.as_deref(), Some("true"), "the membership came back");
    let applied = app.events_of("GlobalsApplied").await;
    assert_eq!(applied.len(), 2, "{applied:?}");
    assert_eq!(again_status, 200, "{again}");
    assert!(again["existing"].as_u64().unwrap() >= 2, "{again}");
    assert_eq!(still.as_deref(), Some(owner.as_str()));
}

#[tokio::test]
async fn mariadb_users_and_grants_are_backed_up_and_a_dropped_user_recreated() {
    let app = spawn_app().await;
    let user = mysql::unique_name("glb_user");
    let db = mysql::unique_name("glb_db");
    let _made = Made {
        mysql: true,
        roles: vec![user.clone()],
        databases: vec![db.clone()],
    };
    mysql::create_db(&db).await;
    my_exec(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'secret-pw'; \
         GRANT SELECT, INSERT ON `{db}`.* TO '{user}'@'%'"
    ))
    .await;
    let server = register_server(
        &app,
        &mysql::unique_name("glbmy"),
        "mysql",
        "mysql://root@127.0.0.1:3306",
    )
    .await;
    put(
        &app,
        &format!("/api/v1/servers/{server}/globals"),
        json!({"enabled": true}),
    )
    .await;
    let version = back_up_globals(&app, &server).await;
    assert_eq!(version["status"], "completed", "{version}");
    assert_eq!(version["method"], "show-grants");
    let text = artifact_text(&app, &version, None).await;
    assert!(
        text.contains(&format!(
            "CREATE USER IF NOT EXISTS `{user}`@`%` ACCOUNT LOCK;"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "GRANT SELECT, INSERT ON `{db}`.* TO `{user}`@`%`;"
        )),
        "{text}"
    );
    assert!(
        !text.contains("IDENTIFIED"),
        "an authentication clause was kept: {text}"
    );
    assert!(!text.contains("`root`@"), "a system account was backed up");

    my_exec(&format!("DROP USER '{user}'@'%'")).await;
    assert!(my_grants(&user).await.is_none());
    let before = my_users().await;
    let r = app
        .post(
            &format!(
                "/api/v1/globals/{}/restore",
                version["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    let grants = my_grants(&user).await;
    drop_my_users_brought_back(&before, &text, &user).await;
    assert_eq!(status, 200, "{v}");
    // (Other tests' accounts are in the version too; what they do is theirs.)
    let errors = v["errors"].as_array().unwrap();
    assert!(
        !errors.iter().any(|e| e.as_str().unwrap().contains(&user)),
        "{v}"
    );
    let grants = grants.expect("the user is back");
    assert!(
        grants
            .iter()
            .any(|g| g.contains(&format!("GRANT SELECT, INSERT ON `{db}`.*"))),
        "{grants:?}"
    );
}

#[tokio::test]
async fn pg_globals_are_backed_up_on_the_servers_schedule_without_a_trigger() {
    let app = spawn_app().await;
    let role = pg::unique_name("glb_sched");
    let _made = Made {
        mysql: false,
        roles: vec![role.clone()],
        databases: Vec::new(),
    };
    pg_exec("postgres", &format!("CREATE ROLE \"{role}\" NOLOGIN")).await;
    let server = register_server(
        &app,
        &pg::unique_name("glbsched"),
        "postgres",
        "postgres://postgres@127.0.0.1:5432",
    )
    .await;
    // Every 2 seconds (6 fields, seconds first), in the server's time zone.
    let (status, v) = put(
        &app,
        &format!("/api/v1/servers/{server}/globals"),
        json!({"enabled": true, "schedule": "*/2 * * * * *", "timezone": "Europe/Paris"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["globals"]["schedule"], "*/2 * * * * *", "{v}");
    assert_eq!(v["globals"]["timezone"], "Europe/Paris", "{v}");

    // Nobody asks for a backup: the scheduler starts one and it completes.
    let start = Instant::now();
    let version = loop {
        let list = app
            .get_json(&format!("/api/v1/servers/{server}/globals"))
            .await;
        let done = list["items"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["status"] == "completed").cloned());
        if let Some(v) = done {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no scheduled globals version completed within 60 s: {list}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(version["trigger"], "scheduled", "{version}");
    assert_eq!(version["method"], "pg_dumpall", "{version}");
    let text = artifact_text(&app, &version, None).await;
    assert!(text.contains(&format!("CREATE ROLE {role};")), "{text}");

    // On the timeline: the claimed slot, the start and the completion, all the scheduler's
    // and all about this server's version.
    let id = version["id"].as_str().unwrap();
    let of_server = |events: Vec<Value>| -> Vec<Value> {
        events
            .into_iter()
            .filter(|e| e["aggregate_id"] == server.as_str())
            .collect()
    };
    let claimed = of_server(app.events_of("GlobalsSlotClaimed").await);
    let claim = claimed
        .iter()
        .find(|e| e["payload"]["globals_id"] == id)
        .unwrap_or_else(|| panic!("no slot claimed for {id}: {claimed:?}"));
    assert_eq!(claim["actor"], "system:scheduler", "{claim}");
    let started = of_server(app.events_of("GlobalsBackupStarted").await);
    let start_event = started
        .iter()
        .find(|e| e["payload"]["globals_id"] == id)
        .unwrap_or_else(|| panic!("no start for {id}: {started:?}"));
    assert_eq!(start_event["actor"], "system:scheduler", "{start_event}");
    assert_eq!(
        start_event["payload"]["trigger"]["kind"], "scheduled",
        "{start_event}"
    );
    assert_eq!(
        start_event["payload"]["trigger"]["slot"], claim["payload"]["slot"],
        "the run is the claimed slot's"
    );
    let completed = of_server(app.events_of("GlobalsBackupCompleted").await);
    let done = completed
        .iter()
        .find(|e| e["payload"]["globals_id"] == id)
        .unwrap_or_else(|| panic!("no completion for {id}: {completed:?}"));
    assert_eq!(done["actor"], "system:scheduler", "{done}");
    assert_eq!(done["aggregate_type"], claim["aggregate_type"], "{done}");
    assert!(
        done["summary"]
            .as_str()
            .unwrap_or("")
            .starts_with("globals backup completed"),
        "{done}"
    );
    assert!(done["position"].as_i64() > start_event["position"].as_i64());
    // And no one but the scheduler started a globals backup of this server.
    assert!(
        started.iter().all(|e| e["actor"] == "system:scheduler"),
        "{started:?}"
    );
}
