//! Manifests are signed with the server's key; `backline import --from-storage` refuses a
//! forged one (changed sha256, unsigned, signed with another key), says which and why, and
//! imports nothing; a genuine one imports.

use crate::helpers::{backline_bin, spawn_app_configured};
use crate::support::pg;
use backline_domain::{BackupManifest, ManifestSignature};
use backline_infra::signing::ServerKey;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

async fn import(data_dir: &Path, storage_url: &str, extra: &[&str]) -> (bool, String) {
    let out: Output = tokio::process::Command::new(backline_bin())
        .env("BACKLINE_DATA_DIR", data_dir)
        .env("BACKLINE_LOG", "warn")
        .env("BACKLINE_STORAGE_URL", storage_url)
        .env_remove("BACKLINE_LEDGER_URL")
        .args(["import", "--from-storage"])
        .args(extra)
        .output()
        .await
        .expect("run backline");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn manifest_path(bucket: &Path) -> PathBuf {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.to_string_lossy().ends_with(".manifest.json") {
                out.push(p);
            }
        }
    }
    let mut found = Vec::new();
    walk(bucket, &mut found);
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

#[tokio::test]
async fn forged_manifests_are_refused_by_import_and_genuine_ones_import() {
    let shared = tempfile::tempdir().unwrap();
    let bucket = shared.path().join("bucket");
    let storage_url = format!("fs://{}", bucket.display());
    let url = storage_url.clone();
    let a = spawn_app_configured(move |s| s.storage_url = Some(url)).await;
    let src = pg::TempDb::create("signed_src").await;
    pg::load_rich_fixture(src.name()).await;
    let id = a.register(src.name(), "postgres", &src.url()).await;
    let b = a.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    let key = a.app.public_key();
    let ledger = a.get_json("/api/v1/ledger").await;
    assert_eq!(ledger["public_key"], key.as_str(), "{ledger}");

    let path = manifest_path(&bucket);
    let genuine = std::fs::read(&path).unwrap();
    let m: Value = serde_json::from_slice(&genuine).unwrap();
    assert_eq!(m["signature"]["public_key"], key.as_str(), "{m}");
    assert_eq!(m["signature"]["algorithm"], "ed25519");

    let fresh = || tempfile::tempdir().unwrap();
    // The sha256 changed after signing.
    let mut forged = m.clone();
    forged["sha256"] = Value::String("0".repeat(64));
    std::fs::write(&path, serde_json::to_vec_pretty(&forged).unwrap()).unwrap();
    let dir = fresh();
    let (ok, text) = import(dir.path(), &storage_url, &["--public-key", &key]).await;
    assert!(!ok, "{text}");
    assert!(text.contains("its signature does not verify"), "{text}");
    assert!(
        text.contains(".manifest.json"),
        "names the manifest: {text}"
    );

    // Unsigned: refused, unless --trust-unsigned.
    let mut unsigned = m.clone();
    unsigned.as_object_mut().unwrap().remove("signature");
    std::fs::write(&path, serde_json::to_vec_pretty(&unsigned).unwrap()).unwrap();
    let (ok, text) = import(dir.path(), &storage_url, &["--public-key", &key]).await;
    assert!(
        !ok && text.contains("unsigned (pass --trust-unsigned"),
        "{text}"
    );

    // Signed with another key: refused against the key given and against the server's own.
    let other_dir = fresh();
    let (other, _) = ServerKey::load_or_create(&other_dir.path().join("k")).unwrap();
    let mut resigned: BackupManifest = serde_json::from_value(unsigned.clone()).unwrap();
    let bytes = BackupManifest::signed_bytes(&resigned.to_bytes()).unwrap();
    resigned.signature = Some(ManifestSignature {
        algorithm: "ed25519".into(),
        public_key: other.public_hex(),
        signature: other.sign(&bytes),
    });
    std::fs::write(&path, resigned.to_bytes()).unwrap();
    let (ok, text) = import(dir.path(), &storage_url, &["--public-key", &key]).await;
    assert!(!ok && text.contains("signed by another key"), "{text}");
    assert!(text.contains(&other.public_hex()), "{text}");
    // …and it verifies against its own key: that one is a choice the operator makes.
    let (ok, text) = import(
        dir.path(),
        &storage_url,
        &["--public-key", &other.public_hex()],
    )
    .await;
    assert!(ok, "{text}");

    // The genuine manifest: refused by a fresh server's own key (not the one that signed it),
    // imported with the right one; the refusals before changed nothing.
    std::fs::write(&path, &genuine).unwrap();
    let dir = fresh();
    let (ok, text) = import(dir.path(), &storage_url, &[]).await;
    assert!(!ok && text.contains("signed by another key"), "{text}");
    let (ok, text) = import(dir.path(), &storage_url, &["--public-key", &key]).await;
    assert!(ok, "{text}");
    assert!(
        text.contains("imported 1 databases and 1 backups"),
        "{text}"
    );
    // Unsigned with --trust-unsigned imports too.
    std::fs::write(&path, serde_json::to_vec_pretty(&unsigned).unwrap()).unwrap();
    let dir = fresh();
    let (ok, text) = import(dir.path(), &storage_url, &["--trust-unsigned"]).await;
    assert!(
        ok && text.contains("imported 1 databases and 1 backups"),
        "{text}"
    );
}
