//! Re-reading stored artifacts (`backline verify`) and rebuilding a lost ledger from the
//! manifests in storage (`backline import --from-storage`).

use crate::encryption::age_keygen;
use crate::helpers::{backline_bin, spawn_app_configured, TestApp};
use crate::support::{mysql, pg};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;
use tokio::process::Command;

/// Runs the `backline` CLI on `data_dir` with extra environment; returns its output. Async:
/// the test's runtime (which also runs the server under test) must keep going meanwhile.
async fn cli(data_dir: &Path, env: &[(&str, String)], args: &[&str]) -> Output {
    let mut c = Command::new(backline_bin());
    c.env("BACKLINE_DATA_DIR", data_dir)
        .env("BACKLINE_LOG", "warn")
        .env_remove("BACKLINE_STORAGE_URL")
        .env_remove("BACKLINE_LEDGER_URL")
        .env_remove("BACKLINE_ENCRYPT");
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args).output().await.expect("run backline")
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn events_of(app: &TestApp, event_type: &str, id: &str) -> Vec<Value> {
    app.app.projections.catch_up().await.unwrap();
    let page = app
        .get_json(&format!("/api/v1/events?type={event_type}&limit=1000"))
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["aggregate_id"] == id)
        .cloned()
        .collect()
}

#[tokio::test]
async fn verify_checks_stored_artifacts_and_records_what_it_found() {
    let app = spawn_app_configured(|_| {}).await;
    let src = pg::TempDb::create("verify_src").await;
    pg::load_rich_fixture(src.name()).await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b1 = app.backup(&id).await;
    let b2 = app.backup(&id).await;
    assert_eq!(b1["status"], "completed");
    assert_eq!(b2["status"], "completed");
    let b1_id = b1["id"].as_str().unwrap();
    let b2_id = b2["id"].as_str().unwrap();

    // Everything intact: `verify --all` passes and records one BackupVerified per backup.
    let out = cli(app.data_dir.path(), &[], &["verify", "--all"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 backups verified"),
        "{}",
        text(&out)
    );
    for bid in [b1_id, b2_id] {
        let ev = events_of(&app, "BackupVerified", bid).await;
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0]["payload"]["ok"], true, "{ev:?}");
        assert!(
            ev[0]["payload"]["detail"]
                .as_str()
                .unwrap()
                .contains("sha256 ok"),
            "{ev:?}"
        );
    }
    let v = app.get_json(&format!("/api/v1/backups/{b1_id}")).await;
    assert_eq!(v["verified_ok"], true, "{v}");

    // Flip one byte of b1's stored object: verify fails loudly, says why, and records it.
    let path = app
        .data_dir
        .path()
        .join("artifacts")
        .join(b1["storage_key"].as_str().unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&path, bytes).unwrap();
    let out = cli(app.data_dir.path(), &[], &["verify", "--backup", b1_id]).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("FAIL"),
        "{}",
        text(&out)
    );
    let ev = events_of(&app, "BackupVerified", b1_id).await;
    assert_eq!(ev.len(), 2, "{ev:?}");
    let last = ev.iter().max_by_key(|e| e["position"].as_i64()).unwrap();
    assert_eq!(last["payload"]["ok"], false, "{last}");
    let detail = last["payload"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("sha256 mismatch") || detail.contains("corrupt"),
        "{detail}"
    );
    let v = app.get_json(&format!("/api/v1/backups/{b1_id}")).await;
    assert_eq!(v["verified_ok"], false, "{v}");
    // The other version is unaffected.
    let out = cli(app.data_dir.path(), &[], &["verify", "--backup", b2_id]).await;
    assert!(out.status.success(), "{}", text(&out));
    // Over HTTP too.
    let r = app
        .post(&format!("/api/v1/backups/{b2_id}/verify"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["ok"], true, "{body}");
}

#[tokio::test]
async fn verify_decrypts_encrypted_artifacts_with_the_server_identity() {
    let keys = tempfile::tempdir().unwrap();
    let (_, public) = age_keygen(keys.path(), "offline");
    let app = crate::encryption::spawn_encrypting_app(&public).await;
    let src = pg::TempDb::create("verify_enc").await;
    pg::load_rich_fixture(src.name()).await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    let bid = b["id"].as_str().unwrap();
    let v = app.app.verify_backup("test", bid).await.unwrap();
    assert!(v.ok, "{v:?}");
    assert!(v.detail.contains("decrypted and decompressed"), "{v:?}");
    let raw = b["raw_bytes"].as_u64().unwrap();
    assert!(v.detail.contains(&format!("{raw} bytes")), "{v:?}");
}

#[tokio::test]
async fn import_from_storage_rebuilds_the_history_after_the_ledger_is_lost() {
    let shared = tempfile::tempdir().unwrap();
    let storage_url = format!("fs://{}", shared.path().join("bucket").display());
    let identity = shared.path().join("age.key");
    let (url, id_file) = (storage_url.clone(), identity.clone());
    let a = spawn_app_configured(move |s| {
        s.storage_url = Some(url);
        s.encrypt = "all".into();
        s.age_identity_file = Some(id_file);
    })
    .await;
    let pg_src = pg::TempDb::create("imp_pg").await;
    pg::load_rich_fixture(pg_src.name()).await;
    let fp_v1 = pg::fingerprint(pg_src.name()).await;
    let my_src = mysql::TempDb::create("imp_my").await;
    mysql::load_rich_fixture(my_src.name()).await;
    let fp_my = mysql::fingerprint(my_src.name()).await;
    let pg_id = a.register(pg_src.name(), "postgres", &pg_src.url()).await;
    let my_id = a.register(my_src.name(), "mysql", &my_src.url()).await;
    let v1 = a.backup(&pg_id).await;
    pg::mutate(pg_src.name()).await;
    let v2 = a.backup(&pg_id).await;
    let m1 = a.backup(&my_id).await;
    for b in [&v1, &v2, &m1] {
        assert_eq!(b["status"], "completed", "{b}");
    }

    // The ledger is lost.
    for f in ["ledger.db", "ledger.db-wal", "ledger.db-shm"] {
        let _ = std::fs::remove_file(a.data_dir.path().join(f));
    }
    let fresh = tempfile::tempdir().unwrap();
    let env = [
        ("BACKLINE_STORAGE_URL", storage_url.clone()),
        ("BACKLINE_AGE_IDENTITY_FILE", identity.display().to_string()),
    ];
    let out = cli(
        fresh.path(),
        &env,
        &[
            "import",
            "--from-storage",
            "--connection",
            &format!("{}={}", my_src.name(), my_src.url()),
            // The new data directory has a key of its own: trust the old server's.
            "--public-key",
            &a.app.public_key(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        stdout.contains("imported 2 databases and 3 backups"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the manifest's connection, without password"),
        "{stdout}"
    );
    // A second import into a ledger that is no longer empty is refused.
    let again = cli(fresh.path(), &env, &["import", "--from-storage"]).await;
    assert!(!again.status.success(), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("empty ledger"),
        "{}",
        text(&again)
    );

    // A Backline on the rebuilt ledger knows the databases and versions, under their ids.
    let (dir, url, id_file) = (
        fresh.path().to_path_buf(),
        storage_url.clone(),
        identity.clone(),
    );
    let b = spawn_app_configured(move |s| {
        s.data_dir = dir;
        s.storage_url = Some(url);
        s.age_identity_file = Some(id_file);
    })
    .await;
    let db = b.get_json(&format!("/api/v1/databases/{pg_id}")).await;
    assert_eq!(db["name"], pg_src.name(), "{db}");
    assert_eq!(db["backups_completed"], 2, "{db}");
    let history = b
        .get_json(&format!("/api/v1/databases/{pg_id}/backups"))
        .await;
    let items = history["items"].as_array().unwrap();
    let ids: Vec<&Value> = items.iter().map(|v| &v["id"]).collect();
    assert_eq!(ids, vec![&v2["id"], &v1["id"]], "{history}");
    assert_eq!(items[1]["sha256"], v1["sha256"]);
    assert_eq!(items[1]["encrypted"], true);
    assert_eq!(
        items[1]["started_at"].as_str().unwrap()[..16],
        v1["started_at"].as_str().unwrap()[..16],
        "imported versions keep their time"
    );
    let my = b.get_json(&format!("/api/v1/databases/{my_id}")).await;
    assert_eq!(my["backups_completed"], 1, "{my}");

    // Restore version 1 (before the mutation) into a fresh database, and MariaDB's version
    // over its (changed) original.
    let target = pg::TempDb::create("imp_pg_t").await;
    let target_id = b.register(target.name(), "postgres", &target.url()).await;
    let r = b
        .restore(
            v1["id"].as_str().unwrap(),
            json!({"target_database_id": target_id}),
        )
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    fp_v1.assert_same(
        &pg::fingerprint(target.name()).await,
        "version 1 restored after an import",
    );
    mysql::mutate(my_src.name()).await;
    let r = b.restore(m1["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(r["status"], "completed", "{r}");
    fp_my.assert_same(
        &mysql::fingerprint(my_src.name()).await,
        "MariaDB version restored after an import",
    );
    // And the imported database backs up again.
    let v3 = b.backup(&pg_id).await;
    assert_eq!(v3["status"], "completed", "{v3}");
    drop(a);
}
