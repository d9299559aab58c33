//! Beyond backups and restores, every path that talks to a tunnelled database goes through its
//! bastion: a drill's measuring and the drop of its sandbox, the scan for leftover scratch
//! databases after a crash, and `backline cleanup --scratch`. The database is registered at the
//! address of a relay that counts the connections it carries: each one must be a connection
//! the bastion forwarded, none may go around it.

use crate::leftovers::cli;
use crate::support::external::External;
use crate::support::relay::Relay;
use crate::support::sshd::Sshd;
use crate::support::{pg, pitr};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use std::time::{Duration, Instant};

async fn databases_like(prefix: &str) -> Vec<String> {
    let mut c = PgConnection::connect(&pg::db_url("postgres"))
        .await
        .expect("connect");
    sqlx::query_scalar::<_, String>(
        "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
    )
    .bind(prefix)
    .fetch_all(&mut c)
    .await
    .expect("pg_database")
}

/// Every connection the relay carried was one the bastion forwarded (the bastion's log may
/// lag a little behind the relay's count, never the other way round).
async fn all_through_the_bastion(relay: &Relay, bastion: &Sshd, step: &str) {
    let start = Instant::now();
    loop {
        let (carried, forwarded) = (relay.accepted(), bastion.forwards_to(relay.port));
        if carried == forwarded && carried > 0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{step}: the relay carried {carried} connections, the bastion forwarded {forwarded}: \
             some went around the bastion"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn drills_and_leftovers_of_a_tunnelled_database_go_through_the_bastion() {
    let bastion = Sshd::start().await;
    let relay = Relay::start(5432);
    let db = pg::TempDb::create("reach_src").await;
    // Big enough that a restore is still loading when the server is killed.
    pitr::sql(
        db.name(),
        "CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL); \
         INSERT INTO big SELECT g, md5(g::text) || repeat('y', 1000) FROM generate_series(1, 100000) g; \
         CREATE TABLE small (id int); INSERT INTO small SELECT generate_series(1, 10);",
    )
    .await;
    let prefix: String = db.name().chars().take(20).collect();
    let data = tempfile::tempdir().expect("tempdir");
    let env = [("BACKLINE_LEASE_TTL_SECS", "3")];
    let mut server = External::start(data.path(), false, &env).await;
    let url = format!("postgres://postgres@127.0.0.1:{}/{}", relay.port, db.name());
    let (status, v) = server
        .post(
            "/api/v1/databases",
            json!({"name": db.name(), "engine": "postgres", "connection": url,
                   "ssh": bastion.block(&bastion.fingerprint)}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    let backup_id = server.start_backup(&id).await;
    let backup = server
        .wait_backup(&backup_id, Duration::from_secs(300))
        .await;
    assert_eq!(backup["status"], "completed", "{backup}");
    all_through_the_bastion(&relay, &bastion, "backup").await;

    // A drill into a new database on the tunnelled server: restored, measured and dropped.
    let r = server
        .client
        .put(format!("{}/api/v1/databases/{id}/drill", server.base))
        .bearer_auth(crate::helpers::TOKEN)
        .json(&json!({"sandbox": {"new_database": {"server_of": id}}}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let (status, v) = server
        .post(&format!("/api/v1/databases/{id}/drills"), json!({}))
        .await;
    assert_eq!(status, 202, "{v}");
    let drill_id = v["id"].as_str().expect("id").to_string();
    let start = Instant::now();
    let drill = loop {
        let list = server
            .get_json(&format!("/api/v1/databases/{id}/drills"))
            .await;
        let d = list["items"]
            .as_array()
            .and_then(|items| items.iter().find(|d| d["id"] == drill_id.as_str()))
            .cloned();
        if let Some(d) = d.filter(|d| d["status"] != "running") {
            break d;
        }
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "drill did not end"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(drill["status"], "completed", "{drill}");
    let rows = |name: &str| -> Value {
        drill["tables"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["name"] == name))
            .map(|t| t["rows"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(rows("public.big"), 100000, "{drill}");
    assert_eq!(rows("public.small"), 10, "{drill}");
    all_through_the_bastion(&relay, &bastion, "drill").await;
    assert_eq!(
        databases_like(&prefix).await,
        vec![db.name().to_string()],
        "the drill's sandbox is left"
    );

    // A restore killed while it loads leaves its scratch database; after the restart it is
    // listed and then dropped, both through the bastion.
    let (status, restore) = server
        .post(&format!("/api/v1/backups/{backup_id}/restore"), json!({}))
        .await;
    assert_eq!(status, 202, "{restore}");
    let start = Instant::now();
    while databases_like(&prefix).await.len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no scratch database appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill9();
    let scratch: Vec<String> = databases_like(&prefix)
        .await
        .into_iter()
        .filter(|n| n != db.name())
        .collect();
    assert_eq!(scratch.len(), 1, "{scratch:?}");
    let server = External::start(data.path(), false, &env).await;
    let start = Instant::now();
    let listed = loop {
        let v = server.get_json("/api/v1/leftovers").await;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        if !items.is_empty() {
            break items;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the leftover is not listed: {v}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["scratch_database"], scratch[0].as_str());
    all_through_the_bastion(&relay, &bastion, "leftovers").await;
    let (ok, out) = cli(data.path(), &["cleanup", "--scratch"]).await;
    assert!(
        ok && out.contains(&format!("dropped {}", scratch[0])),
        "{out}"
    );
    all_through_the_bastion(&relay, &bastion, "cleanup").await;
    assert_eq!(databases_like(&prefix).await, vec![db.name().to_string()]);
    drop(server);
}
