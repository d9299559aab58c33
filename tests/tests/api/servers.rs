//! Servers and discovery against the real PostgreSQL and MariaDB: list a server's databases
//! (system ones and the ledger's own left out), register a chosen set or a pattern with one
//! template, and register new databases as they appear.

use crate::helpers::{spawn_app, spawn_app_configured, spawn_app_with, TestApp};
use crate::support::{mysql, pg};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Databases made for one test, dropped at the end (also when it panics).
struct Made {
    mysql: bool,
    names: Vec<String>,
}

impl Made {
    async fn create(mysql: bool, names: &[String]) -> Made {
        for n in names {
            if mysql {
                mysql::create_db(n).await
            } else {
                pg::create_db(n).await
            }
        }
        Made {
            mysql,
            names: names.to_vec(),
        }
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        let (names, is_mysql) = (std::mem::take(&mut self.names), self.mysql);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async {
                for n in &names {
                    if is_mysql {
                        mysql::drop_db(n).await
                    } else {
                        pg::drop_db(n).await
                    }
                }
            })
        })
        .join();
    }
}

async fn register_server(app: &TestApp, body: Value) -> String {
    let r = app.post("/api/v1/servers", body).await;
    let status = r.status();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 201, "{v}");
    v["id"].as_str().expect("id").to_string()
}

fn listed(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

fn find<'a>(items: &'a [Value], name: &str) -> Option<&'a Value> {
    items.iter().find(|d| d["name"] == name)
}

#[tokio::test]
async fn a_postgres_server_lists_its_databases_and_registers_a_list_then_a_pattern() {
    let app = spawn_app().await;
    let base = pg::unique_name("srv");
    let (eu, us, crm) = (
        format!("{base}_shop_eu"),
        format!("{base}_shop_us"),
        format!("{base}_crm"),
    );
    let _made = Made::create(false, &[eu.clone(), us.clone(), crm.clone()]).await;
    // The test server trusts local connections: the password is only there to be sealed.
    let id = register_server(
        &app,
        json!({"name": format!("{base}-pg"), "engine": "postgres",
               "connection": "postgres://postgres:srv-Secret-42@127.0.0.1:5432"}),
    )
    .await;
    let server = app.get_json(&format!("/api/v1/servers/{id}")).await;
    assert_eq!(
        server["connection"],
        "postgres://postgres:***@127.0.0.1:5432/postgres"
    );

    let items = listed(
        &app.get_json(&format!("/api/v1/servers/{id}/databases"))
            .await,
    );
    for n in [&eu, &us, &crm] {
        let d = find(&items, n).unwrap_or_else(|| panic!("{n} not listed: {items:?}"));
        assert_eq!(d["registered"], false);
        assert!(d.get("database_id").is_none(), "{d}");
    }
    for system in ["postgres", "template0", "template1"] {
        assert!(find(&items, system).is_none(), "{system} listed");
    }

    let r = app
        .post(
            &format!("/api/v1/servers/{id}/register"),
            json!({"databases": [eu], "schedule": "0 3 * * *", "timezone": "Europe/Paris",
                   "retention": {"keep_last": 3}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let first = listed(&r.json().await.expect("json"));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["name"], json!(eu));
    let eu_id = first[0]["id"].as_str().expect("id").to_string();

    let items = listed(
        &app.get_json(&format!("/api/v1/servers/{id}/databases"))
            .await,
    );
    let d = find(&items, &eu).expect("eu");
    assert_eq!(d["registered"], true);
    assert_eq!(d["database_id"], json!(eu_id));

    // The pattern takes the unregistered matches only; crm does not match.
    let r = app
        .post(
            &format!("/api/v1/servers/{id}/register"),
            json!({"pattern": format!("{base}_shop_*"), "schedule": "0 4 * * *",
                   "retention": {"keep_last": 5}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let second = listed(&r.json().await.expect("json"));
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(second[0]["name"], json!(us));
    let us_id = second[0]["id"].as_str().expect("id").to_string();
    let us_view = app.get_json(&format!("/api/v1/databases/{us_id}")).await;
    assert_eq!(us_view["schedule"]["cron"], "0 4 * * *");
    assert_eq!(us_view["retention"]["keep_last"], 5);
    assert_eq!(
        us_view["connection"],
        json!(format!("postgres://postgres:***@127.0.0.1:5432/{us}"))
    );
    let eu_view = app.get_json(&format!("/api/v1/databases/{eu_id}")).await;
    assert_eq!(eu_view["schedule"]["timezone"], "Europe/Paris");
    let items = listed(
        &app.get_json(&format!("/api/v1/servers/{id}/databases"))
            .await,
    );
    assert_eq!(find(&items, &crm).expect("crm")["registered"], false);

    // The registered database works: its sealed password opens, the backup completes.
    let b = app.backup(&us_id).await;
    assert_eq!(b["status"], "completed", "{b}");

    let reg = app.events_of("ServerRegistered").await;
    let bulk = app.events_of("ServerDatabasesRegistered").await;
    assert_eq!(reg.len(), 1);
    assert_eq!(bulk.len(), 2);
    assert_eq!(
        bulk[1]["payload"]["pattern"],
        json!(format!("{base}_shop_*"))
    );
    let all = app.get_json("/api/v1/events?limit=1000").await.to_string();
    assert!(
        !all.contains("srv-Secret-42"),
        "a password reached the timeline"
    );
    let raw: Vec<String> = sqlx::query_scalar("SELECT CAST(payload AS TEXT) FROM events")
        .fetch_all(app.app.ledger.pool())
        .await
        .expect("ledger rows");
    assert!(raw.iter().all(|p| !p.contains("srv-Secret-42")));
}

#[tokio::test]
async fn bad_registrations_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let base = pg::unique_name("srvbad");
    let one = format!("{base}_one");
    let _made = Made::create(false, std::slice::from_ref(&one)).await;
    let id = register_server(
        &app,
        json!({"name": format!("{base}-pg"), "engine": "postgres",
               "connection": "postgres://postgres@127.0.0.1:5432/"}),
    )
    .await;
    let head = app.settled_head().await;
    let path = format!("/api/v1/servers/{id}/register");
    for (body, status, words) in [
        (json!({"databases": ["postgres"]}), 422, "system databases"),
        (
            json!({"databases": [format!("{base}_none")]}),
            422,
            "not a database",
        ),
        (
            json!({"databases": [one], "pattern": "x*"}),
            422,
            "not both",
        ),
        (json!({}), 422, "not both"),
        (json!({"pattern": format!("{base}_zz*")}), 422, "matches"),
        (
            json!({"databases": [one], "schedule": "nope"}),
            422,
            "schedule",
        ),
        (
            json!({"databases": [one], "destinations": ["nowhere"]}),
            422,
            "nowhere",
        ),
    ] {
        let r = app.post(&path, body.clone()).await;
        assert_eq!(r.status().as_u16(), status, "{body}");
        let text = r.text().await.expect("text");
        assert!(text.contains(words), "{body}: {text}");
    }
    assert_eq!(app.head().await, head, "a refused request appended events");
    let r = app.post(&path, json!({"databases": [one]})).await;
    assert_eq!(r.status(), 201);
    let r = app.post(&path, json!({"databases": [one]})).await;
    assert_eq!(r.status(), 409);
    let r = app
        .post(
            "/api/v1/servers",
            json!({"name": format!("{base}-pg"), "engine": "postgres",
                   "connection": "postgres://postgres@127.0.0.1:5432"}),
        )
        .await;
    assert_eq!(r.status(), 409, "a taken server name");
    let r = app
        .post(
            "/api/v1/servers",
            json!({"name": "x", "engine": "postgres", "connection": "mysql://root@h"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        app.get(&format!("/api/v1/servers/{base}/databases"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_ledger_database_is_never_listed() {
    let app = spawn_app_with(true, None).await;
    let ledger = app
        .ledger_db
        .as_ref()
        .expect("pg ledger")
        .name()
        .to_string();
    let id = register_server(
        &app,
        json!({"name": "ledger-server", "engine": "postgres",
               "connection": "postgres://postgres@127.0.0.1:5432"}),
    )
    .await;
    let items = listed(
        &app.get_json(&format!("/api/v1/servers/{id}/databases"))
            .await,
    );
    assert!(!items.is_empty());
    assert!(
        find(&items, &ledger).is_none(),
        "the ledger {ledger} is listed"
    );
    let r = app
        .post(
            &format!("/api/v1/servers/{id}/register"),
            json!({"databases": [ledger]}),
        )
        .await;
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn a_mariadb_server_lists_without_system_databases_and_registers_a_pattern() {
    let app = spawn_app().await;
    let base = mysql::unique_name("srvmy");
    let (a, b) = (format!("{base}_a"), format!("{base}_b"));
    let _made = Made::create(true, &[a.clone(), b.clone()]).await;
    let id = register_server(
        &app,
        json!({"name": format!("{base}-my"), "engine": "mysql",
               "connection": "mysql://root@127.0.0.1:3306"}),
    )
    .await;
    let items = listed(
        &app.get_json(&format!("/api/v1/servers/{id}/databases"))
            .await,
    );
    for system in ["mysql", "sys", "information_schema", "performance_schema"] {
        assert!(find(&items, system).is_none(), "{system} listed");
    }
    let r = app
        .post(
            &format!("/api/v1/servers/{id}/register"),
            json!({"pattern": format!("{base}_*")}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let mut names: Vec<String> = listed(&r.json().await.expect("json"))
        .iter()
        .map(|d| d["name"].as_str().expect("name").to_string())
        .collect();
    names.sort();
    assert_eq!(names, vec![a.clone(), b]);
    let db = app.get_json(&format!("/api/v1/databases/{}", a)).await;
    let backup = app.backup(db["id"].as_str().expect("id")).await;
    assert_eq!(backup["status"], "completed", "{backup}");
}

#[tokio::test]
async fn new_databases_are_registered_as_they_appear_with_an_alert() {
    let app = spawn_app_configured(|s| s.discovery_interval_secs = 1).await;
    let base = pg::unique_name("srvauto");
    let old = format!("{base}_old");
    let _old = Made::create(false, std::slice::from_ref(&old)).await;
    let id = register_server(
        &app,
        json!({"name": format!("{base}-pg"), "engine": "postgres",
               "connection": "postgres://postgres@127.0.0.1:5432",
               "auto_register": {"pattern": format!("{base}_*"), "alert": true,
                                 "schedule": "15 1 * * *", "retention": {"keep_last": 2}}}),
    )
    .await;
    let fresh = format!("{base}_new");
    let other = pg::unique_name("srvother");
    let _new = Made::create(false, &[fresh.clone(), other.clone()]).await;
    let start = Instant::now();
    let found = loop {
        let events = app.events_of("DatabaseDiscovered").await;
        let mine: Vec<Value> = events
            .into_iter()
            .filter(|e| e["aggregate_id"] == json!(id))
            .collect();
        if !mine.is_empty() {
            break mine;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "nothing discovered"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["payload"]["name"], json!(fresh));
    let db_id = found[0]["payload"]["database_id"]
        .as_str()
        .expect("registered");
    let view = app.get_json(&format!("/api/v1/databases/{db_id}")).await;
    assert_eq!(view["schedule"]["cron"], "15 1 * * *");
    assert_eq!(view["retention"]["keep_last"], 2);
    // The database that was there before, and the one that does not match, stay unregistered.
    let items = listed(
        &app.get_json(&format!("/api/v1/servers/{id}/databases"))
            .await,
    );
    assert_eq!(find(&items, &old).expect("old")["registered"], false);
    assert_eq!(find(&items, &other).expect("other")["registered"], false);
    assert_eq!(find(&items, &fresh).expect("new")["registered"], true);
    let start = Instant::now();
    loop {
        let alerts = app.get_json("/api/v1/alerts").await;
        let hit = listed(&alerts)
            .into_iter()
            .any(|a| a["kind"] == "database_discovered" && a["database_id"] == json!(db_id));
        if hit {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no alert: {alerts}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // A second check finds nothing new.
    let again = app
        .post(&format!("/api/v1/servers/{id}/discover"), json!({}))
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.expect("json")["discovered"], 0);
}
