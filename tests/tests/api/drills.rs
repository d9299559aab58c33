//! Restore drills against the real servers: the newest version is restored into a sandbox,
//! each table counted and checksummed in the database, and compared with the previous drill;
//! a dropped table and a mass deletion raise `drill_anomaly`, a later normal drill resolves it.

use crate::helpers::{spawn_app, TestApp, TOKEN};
use crate::support::{mysql, pg, pitr};
use serde_json::{json, Value};
use sqlx::Connection;
use std::time::{Duration, Instant};

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

/// Runs a drill now and waits for it to end; returns it.
async fn drill(app: &TestApp, db: &str) -> Value {
    let r = app
        .post(&format!("/api/v1/databases/{db}/drills"), json!({}))
        .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let start = Instant::now();
    loop {
        let list = app
            .get_json(&format!("/api/v1/databases/{db}/drills"))
            .await;
        let d = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id.as_str())
            .cloned();
        if let Some(d) = d.filter(|d| d["status"] != "running") {
            return d;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "drill {id} did not end"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn table<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no table {name} in {d}"))
}

async fn drill_alerts(app: &TestApp, db: &str, state: &str) -> Vec<Value> {
    let v = app
        .get_json(&format!("/api/v1/alerts?database_id={db}&state={state}"))
        .await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "drill_anomaly")
        .cloned()
        .collect()
}

async fn until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !f().await {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_postgres_drill_in_a_new_database_flags_a_dropped_table_and_a_mass_deletion() {
    let app = spawn_app().await;
    let db = pg::TempDb::create("drill_pg").await;
    pitr::sql(
        db.name(),
        "CREATE TABLE a (id int PRIMARY KEY, v text); \
         INSERT INTO a SELECT g, md5(g::text) FROM generate_series(1, 1000) g; \
         CREATE TABLE b (id int); INSERT INTO b SELECT generate_series(1, 10); \
         CREATE SCHEMA s; CREATE TABLE s.c (id int); INSERT INTO s.c VALUES (1);",
    )
    .await;
    let id = app.register(db.name(), "postgres", &db.url()).await;

    // Refused without a change: the database itself as the sandbox, an out-of-range share.
    let head = app.head().await;
    let (s, v) = put(
        &app,
        &format!("/api/v1/databases/{id}/drill"),
        json!({"sandbox": {"target_database_id": id}}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = put(
        &app,
        &format!("/api/v1/databases/{id}/drill"),
        json!({"sandbox": {"new_database": {"server_of": id}}, "max_row_loss_percent": 0}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(app.head().await, head);

    let (s, v) = put(
        &app,
        &format!("/api/v1/databases/{id}/drill"),
        json!({"sandbox": {"new_database": {"server_of": id}}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["drill"]["max_row_loss_percent"], 50, "{v}");
    // No version yet.
    let r = app
        .post(&format!("/api/v1/databases/{id}/drills"), json!({}))
        .await;
    assert_eq!(r.status(), 422);

    let b1 = app.backup(&id).await;
    let d1 = drill(&app, &id).await;
    assert_eq!(d1["status"], "completed", "{d1}");
    assert_eq!(d1["version"], b1["id"]);
    assert!(d1["duration_ms"].is_u64() && d1["restore_id"].is_string());
    assert_eq!(table(&d1, "public.a")["rows"], 1000);
    assert_eq!(table(&d1, "public.b")["rows"], 10);
    assert_eq!(table(&d1, "s.c")["rows"], 1);
    assert!(d1["anomalies"].as_array().unwrap().is_empty());
    // The sandbox was created for the drill and is gone: dropped and unregistered.
    let like = format!("{}_drill_%", db.name());
    let left = pitr::scalar_i64(
        "postgres",
        &format!("SELECT count(*) FROM pg_database WHERE datname LIKE '{like}'"),
    )
    .await;
    assert_eq!(left, 0);
    let dbs = app.get_json("/api/v1/databases").await;
    assert!(!dbs.to_string().contains("_drill_"), "{dbs}");
    let view = app.get_json(&format!("/api/v1/databases/{id}")).await;
    assert_eq!(view["last_drill"]["id"], d1["id"]);

    // A silent mass deletion, a dropped table, and a changed row.
    pitr::sql(
        db.name(),
        "DROP TABLE b; DELETE FROM a WHERE id > 100; UPDATE s.c SET id = 2;",
    )
    .await;
    app.backup(&id).await;
    let d2 = drill(&app, &id).await;
    assert_eq!(d2["status"], "completed", "{d2}");
    assert_eq!(d2["compared_with"], d1["id"]);
    let anomalies = d2["anomalies"].as_array().unwrap();
    assert_eq!(anomalies.len(), 2, "{d2}");
    assert!(anomalies.contains(
        &json!({"kind": "rows_lost", "table": "public.a", "previous_rows": 1000, "rows": 100})
    ));
    assert!(
        anomalies.contains(&json!({"kind": "vanished", "table": "public.b", "previous_rows": 10}))
    );
    // Same rows count, other contents: another checksum.
    assert_eq!(table(&d2, "s.c")["rows"], 1);
    assert_ne!(table(&d2, "s.c")["checksum"], table(&d1, "s.c")["checksum"]);
    until("a drill_anomaly alert", async || {
        drill_alerts(&app, &id, "open").await.len() == 1
    })
    .await;
    let open = drill_alerts(&app, &id, "open").await;
    let message = open[0]["message"].as_str().unwrap();
    assert!(
        message.contains("public.b") && message.contains("public.a"),
        "{message}"
    );

    // A later normal drill: compared with the previous one, nothing lost; the alert resolves.
    app.backup(&id).await;
    let d3 = drill(&app, &id).await;
    assert_eq!(d3["status"], "completed", "{d3}");
    assert_eq!(d3["compared_with"], d2["id"]);
    assert!(d3["anomalies"].as_array().unwrap().is_empty(), "{d3}");
    // Unchanged data, unchanged checksums.
    assert_eq!(
        table(&d3, "public.a")["checksum"],
        table(&d2, "public.a")["checksum"]
    );
    until("the alert resolved", async || {
        drill_alerts(&app, &id, "open").await.is_empty()
            && drill_alerts(&app, &id, "resolved").await.len() == 1
    })
    .await;

    // No row reached the ledger: the md5 values stored in table a appear in no event.
    let events = app
        .get_json(&format!("/api/v1/events?database_id={id}&limit=1000"))
        .await;
    let text = events.to_string();
    assert!(text.contains("RestoreDrillCompleted"));
    assert!(!text.contains("c4ca4238a0b923820dcc509a6f75849b")); // md5('1')
}

async fn my_sql(db: &str, statement: &str) {
    let mut c = sqlx::MySqlConnection::connect(&mysql::db_url(db))
        .await
        .expect("connect");
    sqlx::raw_sql(statement)
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    c.close().await.ok();
}

#[tokio::test]
async fn a_mariadb_drill_into_a_restore_target_flags_anomalies_and_a_normal_drill_resolves_them() {
    let app = spawn_app().await;
    let db = mysql::TempDb::create("drill_my").await;
    my_sql(
        db.name(),
        "CREATE TABLE t1 (id int PRIMARY KEY, v varchar(40)); \
         INSERT INTO t1 WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 200) \
         SELECT n, md5(n) FROM s; \
         CREATE TABLE t2 (id int); INSERT INTO t2 VALUES (1), (2), (3);",
    )
    .await;
    let sandbox = mysql::TempDb::create("drill_box").await;
    let id = app.register(db.name(), "mysql", &db.url()).await;
    let box_id = app.register(sandbox.name(), "mysql", &sandbox.url()).await;
    let body = json!({"sandbox": {"target_database_id": box_id}, "max_row_loss_percent": 20});
    // Not a restore target yet: refused.
    let (s, v) = put(&app, &format!("/api/v1/databases/{id}/drill"), body.clone()).await;
    assert_eq!(s, 422, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("restore_target"),
        "{v}"
    );
    let r = app
        .patch(
            &format!("/api/v1/databases/{box_id}"),
            json!({"restore_target": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (s, v) = put(&app, &format!("/api/v1/databases/{id}/drill"), body).await;
    assert_eq!(s, 200, "{v}");

    app.backup(&id).await;
    let d1 = drill(&app, &id).await;
    assert_eq!(d1["status"], "completed", "{d1}");
    assert_eq!(table(&d1, "t1")["rows"], 200);
    assert_eq!(table(&d1, "t2")["rows"], 3);
    assert!(!table(&d1, "t1")["checksum"].as_str().unwrap().is_empty());

    // 25% of t1 gone (more than the 20% allowed), t2 dropped.
    my_sql(db.name(), "DELETE FROM t1 WHERE id > 150; DROP TABLE t2;").await;
    app.backup(&id).await;
    let d2 = drill(&app, &id).await;
    assert_eq!(d2["status"], "completed", "{d2}");
    let anomalies = d2["anomalies"].as_array().unwrap();
    assert!(
        anomalies.contains(
            &json!({"kind": "rows_lost", "table": "t1", "previous_rows": 200, "rows": 150})
        ),
        "{d2}"
    );
    assert!(
        anomalies.contains(&json!({"kind": "vanished", "table": "t2", "previous_rows": 3})),
        "{d2}"
    );
    until("a drill_anomaly alert", async || {
        drill_alerts(&app, &id, "open").await.len() == 1
    })
    .await;

    app.backup(&id).await;
    let d3 = drill(&app, &id).await;
    assert_eq!(d3["status"], "completed", "{d3}");
    assert!(d3["anomalies"].as_array().unwrap().is_empty(), "{d3}");
    until("the alert resolved", async || {
        drill_alerts(&app, &id, "open").await.is_empty()
    })
    .await;
    // The sandbox holds the drilled version (its registration stays: it is the user's).
    let view = app.get_json(&format!("/api/v1/databases/{box_id}")).await;
    assert_eq!(view["status"], "active");
}
