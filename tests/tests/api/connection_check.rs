//! Test connection checks what a backup needs, with real limited users: a PostgreSQL role
//! that cannot read some tables, a sequence and a schema; a MariaDB user (and role) without
//! SELECT on a table, SHOW VIEW, TRIGGER, EVENT and routine access. Each lacking privilege is
//! named; once granted, the check is ready and a backup completes.

use crate::helpers::spawn_app;
use crate::support::{mysql, pg};
use serde_json::{json, Value};
use sqlx::Connection;

/// Runs `statements` on an admin connection.
async fn pg_admin(db: Option<&str>, statements: &str) {
    let url = match db {
        Some(d) => pg::db_url(d),
        None => pg::PG_ADMIN_URL.to_string(),
    };
    let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
    sqlx::raw_sql(statements)
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
    c.close().await.ok();
}

async fn my_admin(statements: &[String]) {
    let mut c = sqlx::MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
        .await
        .expect("connect");
    for s in statements {
        sqlx::raw_sql(s)
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    c.close().await.ok();
}

/// Drops the accounts a test made (after its databases: declare it first).
struct Accounts {
    pg_roles: Vec<String>,
    my_users: Vec<String>,
}

impl Drop for Accounts {
    fn drop(&mut self) {
        let roles = std::mem::take(&mut self.pg_roles);
        let users = std::mem::take(&mut self.my_users);
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(async {
                    for r in roles {
                        pg_admin(None, &format!("DROP ROLE IF EXISTS \"{r}\"")).await;
                    }
                    let drops: Vec<String> = users
                        .iter()
                        .map(|u| format!("DROP USER IF EXISTS '{u}'@'%'"))
                        .chain(users.iter().map(|u| format!("DROP ROLE IF EXISTS {u}_r")))
                        .collect();
                    my_admin(&drops).await;
                })
        })
        .join();
    }
}

async fn check(app: &crate::helpers::TestApp, engine: &str, url: &str) -> Value {
    let r = app
        .post(
            "/api/v1/databases/test",
            json!({"engine": engine, "connection": url}),
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

fn missing(test: &Value) -> Vec<(String, String)> {
    test["missing"]
        .as_array()
        .unwrap_or_else(|| panic!("no missing list: {test}"))
        .iter()
        .map(|m| {
            assert!(m["effect"].as_str().is_some_and(|e| !e.is_empty()), "{m}");
            (
                m["privilege"].as_str().unwrap_or("").to_string(),
                m["object"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn pair(p: &str, o: &str) -> (String, String) {
    (p.to_string(), o.to_string())
}

#[tokio::test]
async fn postgres_test_connection_names_every_unreadable_table_sequence_and_schema() {
    let role = pg::unique_name("ck_role");
    let _accounts = Accounts {
        pg_roles: vec![role.clone()],
        my_users: Vec::new(),
    };
    pg_admin(None, &format!("CREATE ROLE \"{role}\" LOGIN")).await;
    let db = pg::TempDb::create("ck_pg").await;
    pg_admin(
        Some(db.name()),
        &format!(
            "CREATE SCHEMA s; CREATE TABLE public.a (x serial PRIMARY KEY); \
             CREATE TABLE public.b (x int); CREATE TABLE s.c (x int); \
             CREATE VIEW public.v AS SELECT * FROM public.b; \
             GRANT SELECT ON public.a TO \"{role}\";"
        ),
    )
    .await;
    let app = spawn_app().await;
    let url = format!("postgres://{role}:pw@127.0.0.1:5432/{}", db.name());

    let test = check(&app, "postgres", &url).await;
    assert_eq!(test["ok"], true, "{test}");
    assert_eq!(test["ready"], false, "{test}");
    let got = missing(&test);
    assert_eq!(
        got,
        vec![
            pair("SELECT", "public.a_x_seq"),
            pair("SELECT", "public.b"),
            pair("USAGE", "schema s"),
            pair("SELECT", "s.c"),
        ],
        "{test}"
    );
    assert_eq!(test["missing_total"], 4);
    assert!(
        test["message"].as_str().unwrap_or("").contains("public.b"),
        "{test}"
    );

    // What it warned about: the backup fails.
    let id = app.register(db.name(), "postgres", &url).await;
    let failed = app.backup(&id).await;
    assert_eq!(failed["status"], "failed", "{failed}");

    pg_admin(
        Some(db.name()),
        &format!(
            "GRANT USAGE ON SCHEMA s TO \"{role}\"; \
             GRANT SELECT ON ALL TABLES IN SCHEMA public, s TO \"{role}\"; \
             GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO \"{role}\";"
        ),
    )
    .await;
    let test = check(&app, "postgres", &url).await;
    assert_eq!(
        (test["ok"].clone(), test["ready"].clone()),
        (json!(true), json!(true)),
        "{test}"
    );
    assert!(missing(&test).is_empty(), "{test}");
    let saved = app
        .post(&format!("/api/v1/databases/{id}/test"), json!({}))
        .await;
    let saved: Value = saved.json().await.expect("json");
    assert_eq!(saved["ready"], true, "{saved}");
    let done = app.backup(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
}

#[tokio::test]
async fn mariadb_test_connection_names_what_mariadb_dump_needs() {
    let user = mysql::unique_name("ck_user");
    let _accounts = Accounts {
        pg_roles: Vec::new(),
        my_users: vec![user.clone()],
    };
    let db = mysql::TempDb::create("ck_my").await;
    let d = db.name().to_string();
    my_admin(&[
        format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'"),
        format!("CREATE TABLE `{d}`.t (a INT PRIMARY KEY)"),
        format!("CREATE TABLE `{d}`.w (a INT PRIMARY KEY)"),
        format!("CREATE VIEW `{d}`.v AS SELECT a FROM `{d}`.t"),
        format!(
            "CREATE TRIGGER `{d}`.tr BEFORE INSERT ON `{d}`.t FOR EACH ROW SET NEW.a = NEW.a + 1"
        ),
        format!("CREATE PROCEDURE `{d}`.p() SELECT 1"),
        format!("GRANT SELECT ON `{d}`.t TO '{user}'@'%'"),
        format!("GRANT SELECT ON `{d}`.v TO '{user}'@'%'"),
        format!("GRANT INSERT ON `{d}`.w TO '{user}'@'%'"),
    ])
    .await;
    let app = spawn_app().await;
    let url = format!("mysql://{user}:pw@127.0.0.1:3306/{d}");

    let test = check(&app, "mysql", &url).await;
    assert_eq!(
        (test["ok"].clone(), test["ready"].clone()),
        (json!(true), json!(false)),
        "{test}"
    );
    assert_eq!(
        missing(&test),
        vec![
            pair("SHOW VIEW", &format!("{d}.v")),
            pair("SELECT", &format!("{d}.w")),
            pair("TRIGGER", &format!("{d}.*")),
            pair("EVENT", &format!("{d}.*")),
            pair("EXECUTE (or SELECT on mysql.proc)", &format!("{d}.*")),
        ],
        "{test}"
    );

    // Through a default role: now the routine is visible, and its body (another definer's)
    // is readable only through mysql.proc.
    let role = format!("{user}_r");
    my_admin(&[
        format!("CREATE ROLE {role}"),
        format!("GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE ON `{d}`.* TO {role}"),
        format!("GRANT {role} TO '{user}'@'%'"),
        format!("SET DEFAULT ROLE {role} FOR '{user}'@'%'"),
    ])
    .await;
    let test = check(&app, "mysql", &url).await;
    assert_eq!(
        missing(&test),
        vec![pair("SELECT on mysql.proc", &format!("{d}.p"))],
        "{test}"
    );
    let id = app.register(&d, "mysql", &url).await;
    let failed = app.backup(&id).await;
    assert_eq!(failed["status"], "failed", "{failed}");

    my_admin(&[format!("GRANT SELECT ON mysql.proc TO {role}")]).await;
    let test = check(&app, "mysql", &url).await;
    assert_eq!(test["ready"], true, "{test}");
    assert!(missing(&test).is_empty(), "{test}");
    let done = app.backup(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
}
