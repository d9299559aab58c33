//! Every kind of object and type each engine can hold survives a backup and a restore, into a
//! fresh database and over the original after it changed: compared with the engines' own dump
//! tools (pg_dump with owners and privileges; mariadb-dump with routines, events and triggers,
//! blobs in hex) and, for MariaDB, `CHECKSUM TABLE` and the history of system-versioned tables.

use crate::helpers::spawn_app;
use crate::support::{mysql, pg};
use serde_json::json;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

const PG_FIXTURE: &str = include_str!("../../fixtures/every_object.pg.sql");
const MARIADB_FIXTURE: &str = include_str!("../../fixtures/every_object.mariadb.sql");

/// Runs `program args…` with `input` on stdin; panics with its stderr when it fails.
async fn run_with_stdin(program: &str, args: &[&str], input: &str) -> String {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_owned();
    let writer = tokio::spawn(async move {
        stdin.write_all(input.as_bytes()).await.ok();
        drop(stdin);
    });
    let out = child.wait_with_output().await.expect("wait");
    writer.await.ok();
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

async fn psql(db: &str, sql: &str) -> String {
    let args = [
        "-h",
        pg::PG_HOST,
        "-p",
        pg::PG_PORT,
        "-U",
        pg::PG_USER,
        "-d",
        db,
        "-v",
        "ON_ERROR_STOP=1",
        "-q",
        "-At",
    ];
    run_with_stdin(&pg::pg_bin("psql"), &args, sql).await
}

async fn mariadb(db: &str, sql: &str) -> String {
    let args = [
        "-h",
        mysql::MYSQL_HOST,
        "-P",
        mysql::MYSQL_PORT,
        "-u",
        mysql::MYSQL_USER,
        "-N",
        "-B",
        db,
    ];
    run_with_stdin("mariadb", &args, sql).await
}

/// pg_dump of the whole database (owners, privileges, large objects, data), without the lines
/// that vary from run to run.
async fn pg_dump_text(db: &str) -> String {
    let args = [
        "-h",
        pg::PG_HOST,
        "-p",
        pg::PG_PORT,
        "-U",
        pg::PG_USER,
        "-d",
        db,
        "--restrict-key=compare",
    ];
    pg::normalise_schema_dump(&run_with_stdin(&pg::pg_bin("pg_dump"), &args, "").await)
}

/// mariadb-dump of the database with the database's own name replaced, so two databases can be
/// compared.
async fn mariadb_dump_text(db: &str) -> String {
    let args = [
        "-h",
        mysql::MYSQL_HOST,
        "-P",
        mysql::MYSQL_PORT,
        "-u",
        mysql::MYSQL_USER,
        "--skip-dump-date",
        "--skip-comments",
        "--routines",
        "--events",
        "--triggers",
        "--hex-blob",
        "--single-transaction",
        db,
    ];
    run_with_stdin("mariadb-dump", &args, "")
        .await
        .replace(&format!("`{db}`"), "`DB`")
}

/// Per-table checksums and the row count of every system-versioned table's whole history.
async fn mariadb_contents(db: &str) -> String {
    let tables = mariadb(
        db,
        "SELECT table_name, table_type FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_type IN ('BASE TABLE', 'SYSTEM VERSIONED') \
         ORDER BY table_name",
    )
    .await;
    let mut out = String::new();
    for line in tables.lines() {
        let (name, kind) = line.split_once('\t').expect("name\ttype");
        let quoted = format!("`{}`", name.replace('`', "``"));
        out += &mariadb(db, &format!("CHECKSUM TABLE {quoted} EXTENDED"))
            .await
            .replace(&format!("{db}."), "DB.");
        if kind == "SYSTEM VERSIONED" {
            out += &mariadb(
                db,
                &format!("SELECT COUNT(*) FROM {quoted} FOR SYSTEM_TIME ALL"),
            )
            .await;
        }
    }
    out
}

fn assert_same_text(expected: &str, actual: &str, context: &str) {
    if expected == actual {
        return;
    }
    let diff: Vec<String> = expected
        .lines()
        .zip(actual.lines())
        .filter(|(a, b)| a != b)
        .take(5)
        .map(|(a, b)| format!("- {a}\n+ {b}"))
        .collect();
    panic!(
        "{context}: differs ({} vs {} lines); first differing lines:\n{}",
        expected.lines().count(),
        actual.lines().count(),
        diff.join("\n")
    );
}

#[tokio::test]
async fn postgres_every_object_and_type_comes_back() {
    let app = spawn_app().await;
    let src = pg::TempDb::create("eo_pg_src").await;
    let dst = pg::TempDb::create("eo_pg_dst").await;
    psql(src.name(), PG_FIXTURE).await;
    let before = pg_dump_text(src.name()).await;
    assert!(before.contains("CREATE EVENT TRIGGER") && before.contains("lo_create"));

    let src_id = app.register(src.name(), "postgres", &src.url()).await;
    let dst_id = app.register(dst.name(), "postgres", &dst.url()).await;
    let v = app.backup(&src_id).await;
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["warnings"], json!([]), "pg_dump keeps everything: {v}");
    let id = v["id"].as_str().unwrap();

    let r = app.restore(id, json!({"target_database_id": dst_id})).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_same_text(
        &before,
        &pg_dump_text(dst.name()).await,
        "restored into a fresh database",
    );

    // The original changes in every way a user might change it, then the version goes back over it.
    psql(
        src.name(),
        "DROP TABLE app.big; DELETE FROM app.everything WHERE id < 50; \
         ALTER TYPE app.mood ADD VALUE 'angry'; CREATE TABLE app.newtable (x int); \
         ALTER TABLE app.parent ADD COLUMN z int; DROP EXTENSION cube CASCADE; \
         DROP PUBLICATION pub_all; CREATE SCHEMA extra; \
         SELECT lo_unlink(oid) FROM pg_largeobject_metadata; DROP EVENT TRIGGER evt_ddl; \
         SELECT setval('app.seq_cycle', 3); ALTER TABLE app.everything DISABLE ROW LEVEL SECURITY;",
    )
    .await;
    assert_ne!(before, pg_dump_text(src.name()).await);
    let r = app.restore(id, json!({})).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_same_text(
        &before,
        &pg_dump_text(src.name()).await,
        "restored over the changed original",
    );
}

#[tokio::test]
async fn mariadb_every_object_and_type_comes_back() {
    let app = spawn_app().await;
    let src = mysql::TempDb::create("eo_my_src").await;
    let dst = mysql::TempDb::create("eo_my_dst").await;
    mariadb(src.name(), MARIADB_FIXTURE).await;
    let before = mariadb_dump_text(src.name()).await;
    let contents = mariadb_contents(src.name()).await;
    assert!(before.contains("CREATE DEFINER") && before.contains("WITH SYSTEM VERSIONING"));

    let src_id = app.register(src.name(), "mysql", &src.url()).await;
    let dst_id = app.register(dst.name(), "mysql", &dst.url()).await;
    let v = app.backup(&src_id).await;
    assert_eq!(v["status"], "completed", "{v}");
    // The one thing mariadb-dump cannot keep exactly is said: FLOAT with 6 significant digits
    // (the fixture's values fit in them, so they compare equal).
    let warnings = v["warnings"].as_array().unwrap();
    assert!(
        warnings.len() == 1 && warnings[0].as_str().unwrap().contains("everything.f"),
        "{warnings:?}"
    );
    let id = v["id"].as_str().unwrap();

    let r = app.restore(id, json!({"target_database_id": dst_id})).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_same_text(
        &before,
        &mariadb_dump_text(dst.name()).await,
        "restored into a fresh database",
    );
    assert_same_text(
        &contents,
        &mariadb_contents(dst.name()).await,
        "checksums in a fresh database",
    );

    mariadb(
        src.name(),
        "DROP TABLE parts; DELETE FROM everything WHERE id < 100; CREATE TABLE newt (x INT); \
         ALTER TABLE parent ADD COLUMN z INT; DROP VIEW v2; DROP PROCEDURE p1; \
         CREATE PROCEDURE p9() SELECT 1; DROP EVENT e1; \
         CREATE EVENT e9 ON SCHEDULE EVERY 1 HOUR DISABLE DO SELECT 1; DROP TRIGGER t_bi2; \
         ALTER TABLE child DROP FOREIGN KEY child_ibfk_1; UPDATE versioned SET v = 3; \
         ALTER TABLE `weird ``name``; DROP` CONVERT TO CHARACTER SET utf8mb4;",
    )
    .await;
    assert_ne!(before, mariadb_dump_text(src.name()).await);
    let r = app.restore(id, json!({})).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_same_text(
        &before,
        &mariadb_dump_text(src.name()).await,
        "restored over the changed original",
    );
    assert_same_text(
        &contents,
        &mariadb_contents(src.name()).await,
        "checksums over the changed original",
    );
}
