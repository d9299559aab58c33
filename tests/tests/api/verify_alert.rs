//! A version that does not verify raises a `verify_failed` alert for its database; a later
//! verification that passes (and leaves no kept version failing) resolves it.

use crate::helpers::spawn_app;
use crate::support::pg;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn verify_alerts(app: &crate::helpers::TestApp, db_id: &str, state: &str) -> Vec<Value> {
    let v = app
        .get_json(&format!("/api/v1/alerts?database_id={db_id}&state={state}"))
        .await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "verify_failed")
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
async fn a_failed_verification_raises_verify_failed_and_a_passing_one_resolves_it() {
    let app = spawn_app().await;
    let db = pg::TempDb::create("verify_alert").await;
    pg::load_rich_fixture(db.name()).await;
    let id = app.register(db.name(), "postgres", &db.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    let bid = b["id"].as_str().unwrap();
    let path = app
        .data_dir
        .path()
        .join("artifacts")
        .join(b["storage_key"].as_str().unwrap());
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    let n = bad.len();
    bad[n / 2] ^= 0x5a;
    std::fs::write(&path, &bad).unwrap();

    let r = app
        .post(&format!("/api/v1/backups/{bid}/verify"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ok"], false, "{v}");
    until("a verify_failed alert", async || {
        verify_alerts(&app, &id, "open").await.len() == 1
    })
    .await;
    let open = verify_alerts(&app, &id, "open").await;
    let message = open[0]["message"].as_str().unwrap();
    assert!(
        message.contains(bid) && message.contains("did not verify"),
        "{message}"
    );
    // The restore dialog's warning reads this.
    assert_eq!(
        app.get_json(&format!("/api/v1/backups/{bid}")).await["verified_ok"],
        false
    );

    // A new version does not mend the damaged one.
    assert_eq!(app.backup(&id).await["status"], "completed");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(verify_alerts(&app, &id, "open").await.len(), 1);

    std::fs::write(&path, &good).unwrap();
    let r = app
        .post(&format!("/api/v1/backups/{bid}/verify"), json!({}))
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ok"], true, "{v}");
    until("the alert resolved", async || {
        verify_alerts(&app, &id, "open").await.is_empty()
            && verify_alerts(&app, &id, "resolved").await.len() == 1
    })
    .await;
}
