//! Several destinations from one dump (3-2-1): one stream written to every configured storage
//! at once; a failed destination degrades the backup (and says so) without losing it; restore
//! reads the first healthy copy, or the one it is told to.

use crate::helpers::{spawn_app_configured, TestApp};
use crate::s3::random_pg;
use crate::support::pg;
use crate::support::s3::{sha256_hex, Fault, FaultProxy, S3Server};
use serde_json::{json, Value};

fn copy<'a>(backup: &'a Value, name: &str) -> &'a Value {
    backup["copies"]
        .as_array()
        .unwrap_or_else(|| panic!("no copies: {backup}"))
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no copy on {name}: {backup}"))
}

async fn restore_into_fresh(app: &TestApp, backup_id: &str, body: Value) -> (Value, pg::TempDb) {
    let target = pg::TempDb::create("fan_t").await;
    let target_id = app.register(target.name(), "postgres", &target.url()).await;
    let mut body = body;
    body["target_database_id"] = json!(target_id);
    let r = app.restore(backup_id, body).await;
    (r, target)
}

#[tokio::test]
async fn fanout_writes_one_dump_to_every_destination_and_restores_from_any() {
    let s3 = S3Server::start().await;
    let bucket = s3.bucket("fan").await;
    let second = tempfile::tempdir().unwrap();
    let offsite = s3.url(&bucket, "offsite");
    let second_url = format!("fs://{}", second.path().display());
    let app = spawn_app_configured(move |s| {
        s.storages = vec![format!("offsite={offsite}"), format!("second={second_url}")];
    })
    .await;
    let storages = app.get_json("/api/v1/storages").await;
    let names: Vec<&str> = storages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["default", "offsite", "second"]);

    let src = random_pg("fan_src", 120_000).await;
    let fp = pg::fingerprint(src.name()).await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    assert_eq!(b["degraded"], false, "{b}");
    let sha = b["sha256"].as_str().unwrap();
    let key = b["storage_key"].as_str().unwrap();
    assert_eq!(b["copies"].as_array().unwrap().len(), 3, "{b}");

    // The same bytes everywhere, each with its manifest.
    let local = std::fs::read(app.data_dir.path().join("artifacts").join(key)).unwrap();
    let remote = s3.get(&bucket, &format!("offsite/{key}")).await;
    let other = std::fs::read(second.path().join(key)).unwrap();
    for (name, bytes) in [
        ("default", &local),
        ("offsite", &remote),
        ("second", &other),
    ] {
        assert_eq!(sha256_hex(bytes), sha, "copy on {name}");
        let c = copy(&b, name);
        assert_eq!(c["ok"], true, "{c}");
        assert_eq!(c["sha256"], sha, "{c}");
        assert_eq!(c["key"], key, "{c}");
    }
    assert!(second
        .path()
        .join(key.replace(".pgdump.zst", ".manifest.json"))
        .exists());

    // The first copy is gone: restore reads the next healthy one.
    std::fs::remove_file(app.data_dir.path().join("artifacts").join(key)).unwrap();
    let (r, t1) = restore_into_fresh(&app, b["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(r["status"], "completed", "{r}");
    fp.assert_same(&pg::fingerprint(t1.name()).await, "restored from offsite");

    // Told which: the second local copy.
    let (r, t2) = restore_into_fresh(
        &app,
        b["id"].as_str().unwrap(),
        json!({"storage": "second"}),
    )
    .await;
    assert_eq!(r["status"], "completed", "{r}");
    fp.assert_same(&pg::fingerprint(t2.name()).await, "restored from second");

    // Told a storage that holds no copy: refused up front.
    let r = app
        .post(
            &format!("/api/v1/backups/{}/restore", b["id"].as_str().unwrap()),
            json!({"storage": "nowhere"}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422, "{:?}", r.text().await);
}

#[tokio::test]
async fn fanout_with_a_failing_destination_completes_degraded_with_an_alert_event() {
    let s3 = S3Server::start().await;
    let good = s3.bucket("fan-good").await;
    // A slow destination (every request delayed) and one whose bucket does not exist.
    let slow = FaultProxy::start(&s3.endpoint, Fault::Delay(40)).await;
    let slow_url = s3.url_via(&slow.endpoint, &good, "slow");
    let broken_url = s3.url("no-such-bucket-here", "p");
    let app = spawn_app_configured(move |s| {
        s.storages = vec![format!("slow={slow_url}"), format!("broken={broken_url}")];
    })
    .await;
    let src = random_pg("fan_deg", 120_000).await;
    let fp = pg::fingerprint(src.name()).await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    assert_eq!(b["degraded"], true, "{b}");
    let sha = b["sha256"].as_str().unwrap();
    let key = b["storage_key"].as_str().unwrap();
    assert_eq!(copy(&b, "default")["ok"], true);
    assert_eq!(copy(&b, "slow")["ok"], true);
    let broken = copy(&b, "broken");
    assert_eq!(broken["ok"], false, "{broken}");
    assert!(
        !broken["error"].as_str().unwrap_or("").is_empty(),
        "{broken}"
    );
    // The slow copy was slowed, not changed.
    assert!(slow.seen.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    assert_eq!(
        sha256_hex(&s3.get(&good, &format!("slow/{key}")).await),
        sha
    );
    // The alert-worthy event names the storage that failed.
    let events = app
        .get_json("/api/v1/events?type=BackupCopyFailed&limit=100")
        .await;
    let ev: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["aggregate_id"] == b["id"])
        .collect();
    assert_eq!(ev.len(), 1, "{events}");
    assert!(
        ev[0]["payload"]["storage"]
            .as_str()
            .unwrap()
            .contains("no-such-bucket-here"),
        "{}",
        ev[0]
    );
    assert_eq!(ev[0]["database_id"], id, "{}", ev[0]);

    // Restore refuses the failed copy but reads the slow one when told.
    let r = app
        .post(
            &format!("/api/v1/backups/{}/restore", b["id"].as_str().unwrap()),
            json!({"storage": "broken"}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let (r, t) =
        restore_into_fresh(&app, b["id"].as_str().unwrap(), json!({"storage": "slow"})).await;
    assert_eq!(r["status"], "completed", "{r}");
    fp.assert_same(
        &pg::fingerprint(t.name()).await,
        "restored from the slow copy",
    );

    // Verify checks the healthy copies only.
    let v = app
        .app
        .verify_backup("test", b["id"].as_str().unwrap())
        .await
        .unwrap();
    assert!(v.ok, "{v:?}");
    assert!(v.detail.contains("slow"), "{v:?}");
}

#[tokio::test]
async fn fanout_fails_the_backup_only_when_every_destination_fails() {
    let s3 = S3Server::start().await;
    let missing = s3.url("no-such-bucket-either", "p");
    let offsite = format!("offsite={}", s3.url("nor-this-one", "p"));
    let app = spawn_app_configured(move |s| {
        s.storage_url = Some(missing);
        s.storages = vec![offsite];
    })
    .await;
    let src = pg::TempDb::create("fan_none").await;
    pg::load_rich_fixture(src.name()).await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "failed", "{b}");
    assert!(b["storage_key"].is_null(), "{b}");
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("no-such-bucket-either") && msg.contains("nor-this-one"),
        "the error names every destination: {msg}"
    );
}

#[tokio::test]
async fn fanout_destinations_are_chosen_per_database() {
    let offsite = tempfile::tempdir().unwrap();
    let offsite_url = format!("fs://{}", offsite.path().display());
    let app = spawn_app_configured(move |s| {
        s.storages = vec![format!("offsite={offsite_url}")];
    })
    .await;
    let a = pg::TempDb::create("fan_choose_a").await;
    let b = pg::TempDb::create("fan_choose_b").await;
    for db in [&a, &b] {
        sqlx::raw_sql(
            "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100);",
        )
        .execute(
            &mut <sqlx::PgConnection as sqlx::Connection>::connect(&db.url())
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    }

    // An unknown storage is refused and registers nothing.
    let r = app
        .post(
            "/api/v1/databases",
            json!({"name": a.name(), "engine": "postgres", "connection": a.url(), "destinations": ["nowhere"]}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(
        app.get(&format!("/api/v1/databases/{}", a.name()))
            .await
            .status(),
        404
    );

    let r = app
        .post(
            "/api/v1/databases",
            json!({"name": a.name(), "engine": "postgres", "connection": a.url(), "destinations": ["offsite"]}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 201);
    let view: Value = r.json().await.unwrap();
    assert_eq!(view["destinations"], json!(["offsite"]), "{view}");
    let a_id = view["id"].as_str().unwrap().to_string();
    let b_id = app.register(b.name(), "postgres", &b.url()).await;

    let ba = app.backup(&a_id).await;
    assert_eq!(ba["status"], "completed", "{ba}");
    let copies = ba["copies"].as_array().unwrap();
    assert_eq!(copies.len(), 1, "{ba}");
    assert_eq!(copies[0]["name"], "offsite");
    let key = ba["storage_key"].as_str().unwrap();
    assert!(offsite.path().join(key).exists());
    assert!(!app.data_dir.path().join("artifacts").join(key).exists());

    let bb = app.backup(&b_id).await;
    assert_eq!(bb["copies"].as_array().unwrap().len(), 2, "{bb}");

    // Back to every storage.
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/databases/{a_id}")))
        .bearer_auth(crate::helpers::TOKEN)
        .json(&json!({"destinations": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let view: Value = r.json().await.unwrap();
    assert!(view["destinations"].is_null(), "{view}");
    let ba2 = app.backup(&a_id).await;
    assert_eq!(ba2["copies"].as_array().unwrap().len(), 2, "{ba2}");

    // The offsite-only version restores from offsite.
    let r = app
        .restore(ba["id"].as_str().unwrap(), json!({"storage": "offsite"}))
        .await;
    assert_eq!(r["status"], "completed", "{r}");
}
