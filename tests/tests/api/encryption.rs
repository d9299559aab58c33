//! age-encrypted backups: the stored object is an age file (sha256 of the stored bytes), the
//! standard `age` CLI opens it with an extra recipient's identity and the engine's own tool
//! restores it outside Backline; Backline restores it with its own identity.

use crate::helpers::{spawn_app_configured, TestApp};
use crate::support::{mysql, pg};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `age-keygen -o <dir>/<name>.key` and returns the key file and its public key.
pub fn age_keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(format!("{name}.key"));
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .expect("age-keygen is not installed: apt-get install age (see .ci/run)");
    assert!(out.status.success(), "age-keygen: {out:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key line")
        .trim()
        .to_string();
    (path, public)
}

/// `bash -c` with pipefail. Async, so the server under test (same runtime) keeps running.
async fn sh(script: &str) -> std::process::Output {
    tokio::process::Command::new("bash")
        .args(["-c", &format!("set -euo pipefail; {script}")])
        .output()
        .await
        .expect("bash")
}

pub async fn spawn_encrypting_app(extra_recipient: &str) -> TestApp {
    let recipient = extra_recipient.to_string();
    spawn_app_configured(move |s| {
        s.encrypt = "all".into();
        s.age_recipients = vec![recipient];
    })
    .await
}

fn stored_file(app: &TestApp, backup: &Value) -> PathBuf {
    app.data_dir
        .path()
        .join("artifacts")
        .join(backup["storage_key"].as_str().unwrap())
}

fn assert_encrypted_artifact(app: &TestApp, backup: &Value, ext: &str) -> PathBuf {
    assert_eq!(backup["status"], "completed", "{backup}");
    assert_eq!(backup["encrypted"], true, "{backup}");
    let key = backup["storage_key"].as_str().unwrap();
    assert!(key.ends_with(&format!(".{ext}.zst.age")), "{key}");
    let path = stored_file(app, backup);
    let bytes = std::fs::read(&path).expect("artifact on disk");
    assert!(
        bytes.starts_with(b"age-encryption.org/v1\n"),
        "not an age file"
    );
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&bytes)),
        backup["sha256"].as_str().unwrap(),
        "the sha256 is of the stored (encrypted) bytes"
    );
    // The server's own identity was made beside the master key, 0600.
    let own = app.data_dir.path().join("age.key");
    let mode = std::fs::metadata(&own).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "age.key mode");
    // The manifest says how it is encrypted and to whom (public keys only).
    let manifest_path = path
        .to_string_lossy()
        .replace(&format!(".{ext}.zst.age"), ".manifest.json");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(manifest_path).expect("manifest")).unwrap();
    assert_eq!(manifest["encrypted"], true);
    assert_eq!(
        manifest["encryption"]["recipients"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    path
}

#[tokio::test]
async fn encrypted_postgres_backup_opens_with_the_age_cli_and_pg_restore() {
    let keys = tempfile::tempdir().unwrap();
    let (offline_key, offline_pub) = age_keygen(keys.path(), "offline");
    let (stranger_key, _) = age_keygen(keys.path(), "stranger");
    let app = spawn_encrypting_app(&offline_pub).await;
    let src = pg::TempDb::create("enc_pg_src").await;
    pg::load_rich_fixture(src.name()).await;
    let fp = pg::fingerprint(src.name()).await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    let artifact = assert_encrypted_artifact(&app, &b, "pgdump");

    // Not readable as plain zstd, nor by an identity it was not encrypted to.
    assert!(!sh(&format!("zstd -t -q {}", artifact.display()))
        .await
        .status
        .success());
    let wrong = sh(&format!(
        "age -d -i {} {} > /dev/null",
        stranger_key.display(),
        artifact.display()
    ))
    .await;
    assert!(!wrong.status.success(), "a stranger's key opened it");

    // Outside Backline: age -d | zstd -d | pg_restore.
    let outside = pg::TempDb::create("enc_pg_cli").await;
    let out = sh(&format!(
        "age -d -i {} {} | zstd -d -q | {} --exit-on-error -h 127.0.0.1 -p 5432 -U postgres -d {}",
        offline_key.display(),
        artifact.display(),
        pg::pg_bin("pg_restore"),
        outside.name()
    ))
    .await;
    assert!(
        out.status.success(),
        "age | zstd | pg_restore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fp.assert_same(
        &pg::fingerprint(outside.name()).await,
        "decrypted with the age CLI and restored with pg_restore",
    );

    // Backline itself restores it with its own identity.
    let target = pg::TempDb::create("enc_pg_bl").await;
    let target_id = app.register(target.name(), "postgres", &target.url()).await;
    let r = app
        .restore(
            b["id"].as_str().unwrap(),
            json!({"target_database_id": target_id}),
        )
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    fp.assert_same(
        &pg::fingerprint(target.name()).await,
        "restored by Backline",
    );
}

#[tokio::test]
async fn encrypted_mariadb_backup_opens_with_the_age_cli_and_mariadb() {
    let keys = tempfile::tempdir().unwrap();
    let (offline_key, offline_pub) = age_keygen(keys.path(), "offline");
    let app = spawn_encrypting_app(&offline_pub).await;
    let src = mysql::TempDb::create("enc_my_src").await;
    mysql::load_rich_fixture(src.name()).await;
    let fp = mysql::fingerprint(src.name()).await;
    let id = app.register(src.name(), "mysql", &src.url()).await;
    let b = app.backup(&id).await;
    let artifact = assert_encrypted_artifact(&app, &b, "sql");

    // As on a new server after a disaster: the database is gone, an empty one of the same
    // name is created and the artifact loaded by hand. (Into a database of another name,
    // mariadb-dump's own lines still name the source for routines and sequence defaults;
    // Backline's restore rewrites those, the raw tools cannot.)
    mysql::drop_db(src.name()).await;
    mysql::create_db(src.name()).await;
    let out = sh(&format!(
        "age -d -i {} {} | zstd -d -q | mariadb -h 127.0.0.1 -P 3306 -u root {}",
        offline_key.display(),
        artifact.display(),
        src.name()
    ))
    .await;
    assert!(
        out.status.success(),
        "age | zstd | mariadb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fp.assert_same(
        &mysql::fingerprint(src.name()).await,
        "decrypted with the age CLI and loaded with mariadb",
    );
    mysql::mutate(src.name()).await;

    let r = app.restore(b["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(r["status"], "completed", "{r}");
    fp.assert_same(
        &mysql::fingerprint(src.name()).await,
        "restored by Backline over the original",
    );
}

fn identity_of(key_file: &Path) -> backline_infra::encryption::age::x25519::Identity {
    std::fs::read_to_string(key_file)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn encrypted_artifact_opens_only_with_a_recipient_identity() {
    let keys = tempfile::tempdir().unwrap();
    let (offline_key, offline_pub) = age_keygen(keys.path(), "offline");
    let (stranger_key, _) = age_keygen(keys.path(), "stranger");
    let app = spawn_encrypting_app(&offline_pub).await;
    let src = pg::TempDb::create("enc_ids").await;
    pg::load_rich_fixture(src.name()).await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    assert_encrypted_artifact(&app, &b, "pgdump");
    let key = b["storage_key"].as_str().unwrap();
    let sha = b["sha256"].as_str().unwrap();

    let mut plain = Vec::new();
    let ok = backline_infra::pipeline::download_decrypting(
        &app.app.store,
        key,
        sha,
        Some(&identity_of(&offline_key)),
        &mut plain,
        Default::default(),
    )
    .await
    .expect("the extra recipient opens it");
    assert!(
        plain.starts_with(b"PGDMP"),
        "a pg_dump custom-format archive"
    );
    assert_eq!(ok.raw_bytes, b["raw_bytes"].as_u64().unwrap());

    let mut sink = Vec::new();
    let err = backline_infra::pipeline::download_decrypting(
        &app.app.store,
        key,
        sha,
        Some(&identity_of(&stranger_key)),
        &mut sink,
        Default::default(),
    )
    .await
    .expect_err("a stranger's identity must not open it");
    assert!(sink.is_empty(), "no plaintext may come out");
    let msg = err.to_string();
    assert!(
        msg.contains("decrypt") || msg.contains("identity") || msg.contains("key"),
        "{msg}"
    );
}
