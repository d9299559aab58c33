//! Backups on SFTP storage against a real OpenSSH server (`internal-sftp`) started by the test:
//! a round trip (backup, verify, restore), a ledger rebuilt from the manifests on the server
//! (`backline import --from-storage`), a server whose host key is not the pinned one refused,
//! and a server whose disk fills in the middle of an upload: the backup fails at stage
//! `upload` with the server's error, nothing is left at its key or under `.partial/`, and the
//! next backup (room again) completes.

use crate::faults::Tmpfs;
use crate::helpers::{backline_bin, spawn_app_with};
use crate::s3::random_pg;
use crate::support::pg;
use crate::support::s3::sha256_hex;
use crate::support::sshd::{stranger_fingerprint, Sshd};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;
use tokio::process::Command;

/// Every file under `dir`, as paths relative to it.
fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else if let Ok(rel) = p.strip_prefix(base) {
                out.push(rel.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

async fn cli(data_dir: &Path, env: &[(&str, String)], args: &[&str]) -> Output {
    let mut c = Command::new(backline_bin());
    c.env("BACKLINE_DATA_DIR", data_dir)
        .env("BACKLINE_LOG", "warn")
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

#[tokio::test]
async fn sftp_round_trip_verify_and_import_from_storage() {
    let sshd = Sshd::start().await;
    let store = tempfile::tempdir().unwrap();
    let root: PathBuf = store.path().join("backups/prod");
    let url = sshd.sftp_url(&root, &sshd.fingerprint);
    let app = spawn_app_with(false, Some(url.clone())).await;
    let src = random_pg("sftp_src", 20_000).await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");

    // The artifact and its manifest are on the server, whole, and nothing is left partial.
    let key = b["storage_key"].as_str().unwrap();
    let on_server = files(&root);
    let manifest_key = key.replace(".pgdump.zst", ".manifest.json");
    assert!(on_server.contains(&key.to_string()), "{on_server:?}");
    assert!(on_server.contains(&manifest_key), "{on_server:?}");
    assert!(
        !on_server.iter().any(|k| k.contains(".partial/")),
        "{on_server:?}"
    );
    let object = std::fs::read(root.join(key)).unwrap();
    assert_eq!(sha256_hex(&object), b["sha256"].as_str().unwrap());
    let storages = app.get_json("/api/v1/storages").await.to_string();
    assert!(storages.contains("sftp://127.0.0.1:"), "{storages}");

    // Verify reads it back over SFTP; a flipped byte on the server is found.
    let bid = b["id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/backups/{bid}/verify"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ok"], true, "{v}");

    // Restore from it into a fresh database: the same data.
    let target = pg::TempDb::create("sftp_dst").await;
    let target_id = app.register(target.name(), "postgres", &target.url()).await;
    let r = app
        .restore(bid, json!({"target_database_id": target_id}))
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    pg::fingerprint(src.name())
        .await
        .assert_same(&pg::fingerprint(target.name()).await, &url);

    // The private key is never shown.
    let key_text = sshd.private_key.lines().nth(1).unwrap().to_string();
    let shown = format!(
        "{b}{storages}{}",
        app.get_json("/api/v1/events?limit=1000").await
    );
    assert!(!shown.contains(&key_text), "the private key is shown");

    // The ledger is lost: rebuild it from the manifests on the SFTP server.
    let fresh = tempfile::tempdir().unwrap();
    let env = [("BACKLINE_STORAGE_URL", url.clone())];
    let out = cli(
        fresh.path(),
        &env,
        &[
            "import",
            "--from-storage",
            "--public-key",
            &app.app.public_key(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        stdout.contains("imported 1 databases and 1 backups"),
        "{stdout}"
    );
    let out = cli(fresh.path(), &env, &["verify", "--all"]).await;
    assert!(out.status.success(), "{}", text(&out));

    let mut bytes = std::fs::read(root.join(key)).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(root.join(key), bytes).unwrap();
    let r = app
        .post(&format!("/api/v1/backups/{bid}/verify"), json!({}))
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ok"], false, "{v}");
}

#[tokio::test]
async fn sftp_server_with_another_host_key_is_refused() {
    let sshd = Sshd::start().await;
    let store = tempfile::tempdir().unwrap();
    let pinned = stranger_fingerprint();
    let app = spawn_app_with(false, Some(sshd.sftp_url(store.path(), &pinned))).await;
    let src = pg::TempDb::create("sftp_hk").await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "failed", "{b}");
    assert_eq!(b["error"]["stage"], "upload", "{b}");
    let message = b["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("host key mismatch")
            && message.contains(&pinned)
            && message.contains(&sshd.fingerprint),
        "{message}"
    );
    assert!(files(store.path()).is_empty(), "{:?}", files(store.path()));
}

#[tokio::test]
async fn sftp_disk_full_mid_upload_fails_the_backup_and_leaves_nothing() {
    let sshd = Sshd::start().await;
    let disk = Tmpfs::mount("2m");
    let root = disk.0.path().join("backups");
    let app = spawn_app_with(false, Some(sshd.sftp_url(&root, &sshd.fingerprint))).await;
    // ~20 MiB of artifact for a 2 MiB disk: the server's writes fail part way.
    let big = random_pg("sftp_full", 200_000).await;
    let id = app.register(big.name(), "postgres", &big.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "failed", "{b}");
    assert_eq!(b["error"]["stage"], "upload", "{b}");
    assert!(b["storage_key"].is_null(), "{b}");
    let message = b["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("sftp"), "{message}");
    let left = files(&root);
    assert!(left.is_empty(), "a failed upload left files: {left:?}");
    let versions = app
        .get_json(&format!("/api/v1/backups?database_id={id}"))
        .await;
    let completed = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["status"] == "completed")
        .count();
    assert_eq!(completed, 0, "{versions}");

    // Room again: the next backup completes.
    disk.resize("256m");
    let again = app.backup(&id).await;
    assert_eq!(again["status"], "completed", "{again}");
}
