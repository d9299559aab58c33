//! Downloading a version: the bytes equal the stored object (and its sha256); a tampered
//! object is never served whole (refused up front, or its transfer fails before the end);
//! decrypt=true gives the age plaintext; the version page's manual restore command, run as
//! shown, restores the downloaded object exactly.

use crate::encryption::{age_keygen, spawn_encrypting_app};
use crate::helpers::{spawn_app, TestApp, TOKEN};
use crate::support::pg;
use serde_json::Value;
use sha2::Digest;
use std::path::PathBuf;

fn stored_file(app: &TestApp, backup: &Value) -> PathBuf {
    app.data_dir
        .path()
        .join("artifacts")
        .join(backup["storage_key"].as_str().expect("storage_key"))
}

async fn download(app: &TestApp, id: &str, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/backups/{id}/download{query}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request")
}

/// Drops a database the test made by other means.
struct Dropped(String);

impl Drop for Dropped {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.0);
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(pg::drop_db(&name))
        })
        .join();
    }
}

async fn sh(script: &str, env: &[(&str, &str)]) -> std::process::Output {
    tokio::process::Command::new("bash")
        .args(["-c", &format!("set -euo pipefail; {script}")])
        .envs(env.iter().copied())
        .output()
        .await
        .expect("bash")
}

#[tokio::test]
async fn a_download_is_the_stored_object_and_its_manual_command_restores_it() {
    let app = spawn_app().await;
    let src = pg::TempDb::create("dl_src").await;
    pg::load_rich_fixture(src.name()).await;
    let fp = pg::fingerprint(src.name()).await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    let bid = b["id"].as_str().unwrap();

    let r = download(&app, bid, "").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        r.headers()["x-backline-sha256"],
        b["sha256"].as_str().unwrap()
    );
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    let body = r.bytes().await.expect("the whole body");
    let stored = std::fs::read(stored_file(&app, &b)).unwrap();
    assert!(
        body[..] == stored[..],
        "the download differs from the stored object"
    );
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&body)),
        b["sha256"].as_str().unwrap()
    );

    // The command the version page shows, run as shown beside the downloaded file.
    let view: Value = app
        .get(&format!("/api/v1/backups/{bid}"))
        .await
        .json()
        .await
        .unwrap();
    let command = view["manual_restore_command"]
        .as_str()
        .expect("a manual restore command");
    let file_name = disposition.split('"').nth(1).expect("file name");
    assert!(
        command.contains(file_name) && command.contains("sha256sum -c"),
        "{command}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(file_name), &body).unwrap();
    let restored = format!("{}_restored", src.name());
    let _restored_guard = Dropped(restored.clone());
    let out = sh(
        &format!("cd {} && {command}", dir.path().display()),
        &[("PGHOST", "127.0.0.1"), ("PGUSER", "postgres")],
    )
    .await;
    assert!(out.status.success(), "{command}: {out:?}");
    fp.assert_same(
        &pg::fingerprint(&restored).await,
        "restored by hand from the download",
    );

    // Not completed: 409; unknown: 404; both problem+json.
    let r = download(&app, &uuid::Uuid::now_v7().to_string(), "").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    // decrypt for a plain version: refused.
    let r = download(&app, bid, "?decrypt=true").await;
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn a_tampered_object_is_never_served_whole() {
    let app = spawn_app().await;
    let src = pg::TempDb::create("dl_tamper").await;
    // About 13 MB of incompressible-enough text: more than one 8 MiB chunk once stored.
    crate::support::pitr::sql(
        src.name(),
        "CREATE TABLE big AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS a \
         FROM generate_series(1, 400000) g; CREATE TABLE small (x int); INSERT INTO small VALUES (1);",
    )
    .await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    let bid = b["id"].as_str().unwrap();
    let path = stored_file(&app, &b);
    let good = std::fs::read(&path).unwrap();
    assert!(
        good.len() > 8 << 20,
        "the object should span chunks: {} bytes",
        good.len()
    );

    // Same size, one byte changed near the start: the stream starts, and fails before its end.
    let mut bad = good.clone();
    bad[1000] ^= 0xff;
    std::fs::write(&path, &bad).unwrap();
    let r = download(&app, bid, "").await;
    if r.status() == 200 {
        // An error reading the body is the transfer failing: nothing was served as good.
        if let Ok(body) = r.bytes().await {
            assert!(
                body.len() < bad.len(),
                "a tampered object was served whole ({} bytes)",
                body.len()
            );
        }
    } else {
        assert_eq!(r.status(), 422);
    }

    // Another size: refused before anything is sent.
    std::fs::write(&path, &good[..good.len() - 1]).unwrap();
    let r = download(&app, bid, "").await;
    assert_eq!(r.status(), 422);
    let problem: Value = r.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap_or("").contains("corrupt"),
        "{problem}"
    );

    // Put back: served whole again.
    std::fs::write(&path, &good).unwrap();
    let r = download(&app, bid, "").await;
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap()[..] == good[..]);
}

#[tokio::test]
async fn an_encrypted_version_downloads_as_stored_or_decrypted_and_a_small_tampered_one_is_refused()
{
    let keys = tempfile::tempdir().unwrap();
    let (offline_key, offline_pub) = age_keygen(keys.path(), "offline");
    let app = spawn_encrypting_app(&offline_pub).await;
    let src = pg::TempDb::create("dl_enc").await;
    pg::load_rich_fixture(src.name()).await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(
        (b["status"].as_str(), b["encrypted"].as_bool()),
        (Some("completed"), Some(true)),
        "{b}"
    );
    let bid = b["id"].as_str().unwrap();
    let path = stored_file(&app, &b);
    let stored = std::fs::read(&path).unwrap();

    let as_stored = download(&app, bid, "").await.bytes().await.unwrap();
    assert!(
        as_stored[..] == stored[..],
        "as stored: the age file itself"
    );

    let r = download(&app, bid, "?decrypt=true").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-backline-sha256").is_none());
    let plain = r.bytes().await.unwrap();
    let by_cli = sh(
        &format!("age -d -i {} {}", offline_key.display(), path.display()),
        &[],
    )
    .await;
    assert!(by_cli.status.success(), "{by_cli:?}");
    assert!(
        plain[..] == by_cli.stdout[..],
        "decrypted: what age -d gives"
    );

    // A small object (one chunk) with one byte changed: refused before anything is sent,
    // decrypted or not.
    let mut bad = stored.clone();
    let at = bad.len() - 10;
    bad[at] ^= 0x01;
    std::fs::write(&path, &bad).unwrap();
    for q in ["", "?decrypt=true"] {
        let r = download(&app, bid, q).await;
        assert_eq!(r.status(), 422, "{q}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
}
