//! A restore whose target fails mid-load (its server ends the connection: what a killed or
//! unreachable target looks like to the tools) ends fast and truthfully: `failed` at stage
//! `restore` with the server's own message, the target as it was, no claim held (the next
//! restore of the same target runs and completes), no scratch database left unlisted.

use crate::helpers::spawn_app;
use crate::support::pg;
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, Row};
use std::time::{Duration, Instant};

const FAULT_LIMIT: Duration = Duration::from_secs(30);

/// Ends every connection to the restore's scratch database; how many it ended.
async fn end_scratch_connections(target: &str) -> i64 {
    let mut c = PgConnection::connect(&pg::db_url("postgres"))
        .await
        .expect("connect");
    sqlx::query(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE starts_with(datname, $1) AND pid <> pg_backend_pid()",
    )
    .bind(format!("{target}__restore_"))
    .fetch_one(&mut c)
    .await
    .expect("pg_terminate_backend")
    .get::<i64, _>(0)
}

#[tokio::test]
async fn restore_faults_a_target_that_fails_mid_load_ends_failed_and_holds_nothing() {
    let app = spawn_app().await;
    let db = pg::TempDb::create("rf_src").await;
    let mut c = PgConnection::connect(&db.url()).await.expect("connect");
    // About 80 MB to load: long enough to be cut in the middle.
    sqlx::raw_sql(
        "CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL);
         INSERT INTO big SELECT g, md5(g::text) || repeat('x', 1000) FROM generate_series(1, 80000) g;",
    )
    .execute(&mut c)
    .await
    .expect("fill");
    drop(c);
    let id = app.register("rf-src", "postgres", &db.url()).await;
    let version = app.backup(&id).await;
    assert_eq!(version["status"], "completed", "{version}");
    let before = pg::fingerprint(db.name()).await;
    let backup_id = version["id"].as_str().unwrap().to_string();

    let r = app
        .post(&format!("/api/v1/backups/{backup_id}/restore"), json!({}))
        .await;
    assert_eq!(r.status(), 202);
    let restore_id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Cut the load as soon as the restore tool is connected to the scratch database, and
    // keep cutting (a tool that reconnects meets the same end).
    let start = Instant::now();
    let mut ended = 0;
    let restore = loop {
        ended += end_scratch_connections(db.name()).await;
        let v = app
            .get_json(&format!("/api/v1/restores/{restore_id}"))
            .await;
        if v["status"] != "running" {
            break v;
        }
        assert!(
            start.elapsed() < FAULT_LIMIT + Duration::from_secs(60),
            "restore still running: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        ended > 0,
        "the restore never connected to a scratch database: {restore}"
    );
    assert_eq!(restore["status"], "failed", "{restore}");
    let stage = restore["error"]["stage"].as_str().unwrap_or_default();
    assert!(
        ["restore", "feed"].contains(&stage),
        "stage {stage}: {restore}"
    );
    let said = format!(
        "{} {}",
        restore["error"]["message"], restore["error"]["stderr_tail"]
    );
    // What the tool reports depends on the transport: "terminating connection due to
    // administrator command" in clear, "SSL connection has been closed unexpectedly" over TLS.
    assert!(
        [
            "terminat",
            "closed unexpectedly",
            "server closed the connection"
        ]
        .iter()
        .any(|m| said.contains(m)),
        "the server's own message is missing: {said}"
    );
    // The target is as it was, and nothing is held: the same restore runs again.
    pg::fingerprint(db.name())
        .await
        .assert_same(&before, "after the failed restore");
    let again = app.restore(&backup_id, json!({})).await;
    assert_eq!(again["status"], "completed", "{again}");
    pg::fingerprint(db.name())
        .await
        .assert_same(&before, "after the next restore");
    let backup = app.backup(&id).await;
    assert_eq!(backup["status"], "completed", "{backup}");
}
