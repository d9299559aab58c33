//! Parallel backups (`backup_jobs` > 1): several pg_dump processes on one exported snapshot,
//! each part its own object of one version; restored pre-data, data parts in parallel,
//! post-data, and equal to a single-stream backup's restore.

use crate::helpers::{spawn_app_configured, TestApp};
use crate::support::pg;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use std::path::{Path, PathBuf};

/// Tables of varied types, a sequence, a view, a foreign key across tables, indexes, and a
/// table whose name holds every character pg_dump's patterns treat specially.
const EXTRA: &str = r#"
CREATE TABLE public.owners (id serial PRIMARY KEY, name text NOT NULL, born date);
CREATE TABLE public."We.ird*Tab?le" (
    id bigserial PRIMARY KEY,
    owner_id int NOT NULL REFERENCES public.owners(id),
    "Quo""ted" text,
    amount numeric(12,2),
    tags text[],
    doc jsonb,
    at timestamptz DEFAULT now()
);
CREATE INDEX weird_owner ON public."We.ird*Tab?le" (owner_id);
CREATE TABLE public."we.ird*tab?le" (id int PRIMARY KEY, note text);
CREATE SEQUENCE public.tickets START 500;
CREATE VIEW public.weird_totals AS
    SELECT o.name, sum(w.amount) AS total FROM public.owners o
    JOIN public."We.ird*Tab?le" w ON w.owner_id = o.id GROUP BY o.name;
INSERT INTO public.owners (name, born)
    SELECT 'owner ' || g, date '1970-01-01' + g FROM generate_series(1, 300) g;
INSERT INTO public."We.ird*Tab?le" (owner_id, "Quo""ted", amount, tags, doc)
    SELECT 1 + g % 300, repeat('x', g % 50), g * 1.25, ARRAY['a' || g, 'b'],
           jsonb_build_object('g', g, 'odd', g % 2 = 1)
    FROM generate_series(1, 20000) g;
INSERT INTO public."we.ird*tab?le" SELECT g, 'lower ' || g FROM generate_series(1, 50) g;
SELECT nextval('public.tickets'), nextval('public.tickets');
"#;

async fn exec(db: &str, sql: &str) {
    let mut c = sqlx::PgConnection::connect(&pg::db_url(db)).await.unwrap();
    sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    c.close().await.ok();
}

async fn scalar(db: &str, sql: &str) -> i64 {
    let mut c = sqlx::PgConnection::connect(&pg::db_url(db)).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap();
    c.close().await.ok();
    n
}

/// A `pg_dump` that logs its arguments and, when it is one part of a parallel backup (it has
/// `--section=`), first commits a row into the source: written after the snapshot was
/// exported, it must not be in the version. With `fail_section`, that part fails instead.
fn wrapped_pg_dump(dir: &Path, src: &str, fail_section: Option<&str>) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("runs.log");
    let psql = pg::pg_bin("psql");
    let fail = match fail_section {
        Some(s) => format!(
            "case \"$*\" in *--section={s}*) echo 'pg_dump: error: injected failure' >&2; exit 3 ;; esac\n"
        ),
        None => String::new(),
    };
    let insert = format!(
        "case \"$*\" in *--section=*) '{psql}' -X -q -h 127.0.0.1 -U postgres -d '{src}' -c \
         \"INSERT INTO public.\\\"We.ird*Tab?le\\\" (owner_id, \\\"Quo\\\"\\\"ted\\\") VALUES (1, 'after-snapshot')\" ;; esac\n"
    );
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in --version|--help) ;; *) echo \"pg_dump $*\" >> '{log}'; {fail}{insert} ;; esac\nexec '{real}' \"$@\"\n",
        log = log.display(),
        real = pg::pg_bin("pg_dump"),
    );
    let path = bin.join("pg_dump");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let restore = bin.join("pg_restore");
    let script = format!("#!/bin/sh\nexec '{}' \"$@\"\n", pg::pg_bin("pg_restore"));
    std::fs::write(&restore, script).unwrap();
    std::fs::set_permissions(&restore, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn runs(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("runs.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// Every stored file whose name holds `backup_id`.
fn stored_files(app: &TestApp, backup_id: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, id: &str, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, id, out);
            } else if p.to_string_lossy().contains(id) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&app.data_dir.path().join("artifacts"), backup_id, &mut out);
    out
}

#[tokio::test]
async fn a_parallel_backup_restores_like_a_single_stream_one_from_one_snapshot() {
    let src = pg::TempDb::create("par_src").await;
    pg::load_rich_fixture(src.name()).await;
    exec(src.name(), EXTRA).await;
    let tools = tempfile::tempdir().unwrap();
    let bin = wrapped_pg_dump(tools.path(), src.name(), None);
    let app = spawn_app_configured(move |s| s.pg_bin_dir = Some(bin)).await;
    let expected = pg::fingerprint(src.name()).await;
    let src_id = app.register(src.name(), "postgres", &src.url()).await;

    // One stream first (nothing is inserted: it runs no --section).
    let single = app.backup(&src_id).await;
    assert_eq!(single["status"], "completed", "{single}");
    assert!(single["parts"].as_array().unwrap().is_empty(), "{single}");

    let r = app
        .patch(
            &format!("/api/v1/databases/{src_id}"),
            json!({"backup_jobs": 2}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["backup_jobs"], 2);
    std::fs::remove_file(tools.path().join("runs.log")).ok();
    let par = app.backup(&src_id).await;
    assert_eq!(par["status"], "completed", "{par}");
    let par_id = par["id"].as_str().unwrap();

    // Four pg_dump processes on one snapshot: pre-data, two data parts, post-data.
    let dumps = runs(tools.path());
    assert_eq!(dumps.len(), 4, "{dumps:?}");
    let snapshots: std::collections::BTreeSet<&str> = dumps
        .iter()
        .map(|l| {
            l.split_whitespace()
                .find(|a| a.starts_with("--snapshot="))
                .expect("every part runs on the exported snapshot")
        })
        .collect();
    assert_eq!(snapshots.len(), 1, "{dumps:?}");
    let data_runs: Vec<&String> = dumps
        .iter()
        .filter(|l| l.contains("--section=data"))
        .collect();
    assert_eq!(data_runs.len(), 2, "{dumps:?}");
    // Tables are named by quoted patterns only; the second part lists its tables.
    for l in &data_runs {
        for a in l
            .split(" --")
            .filter(|a| a.starts_with("table=") || a.starts_with("exclude-table="))
        {
            let pattern = a.split_once('=').unwrap().1;
            assert!(
                pattern.starts_with("\"") && pattern.contains("\".\""),
                "{a}"
            );
        }
    }
    assert!(
        data_runs
            .iter()
            .any(|l| l.contains("--strict-names --table=")),
        "{data_runs:?}"
    );
    // The rows written after the snapshot are in the source, not in the version.
    assert_eq!(
        scalar(
            src.name(),
            "SELECT count(*) FROM public.\"We.ird*Tab?le\" WHERE \"Quo\"\"ted\" = 'after-snapshot'"
        )
        .await,
        4
    );

    // One version whose parts (and manifest) say what each object is.
    let parts = par["parts"].as_array().unwrap().clone();
    let roles: Vec<&str> = parts.iter().map(|p| p["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["pre-data", "data", "data", "post-data"]);
    let total: u64 = parts.iter().map(|p| p["bytes"].as_u64().unwrap()).sum();
    assert_eq!(par["bytes"].as_u64().unwrap(), total);
    let root = app.data_dir.path().join("artifacts");
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p["order"], i as u64);
        let file = root.join(p["key"].as_str().unwrap());
        assert_eq!(sha256_of(&file), p["sha256"].as_str().unwrap(), "{p}");
    }
    let manifest_path = stored_files(&app, par_id)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".manifest.json"))
        .expect("a manifest");
    let manifest: Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    assert_eq!(manifest["parts"], Value::Array(parts.clone()));
    assert_eq!(
        stored_files(&app, par_id).len(),
        5,
        "four parts and one manifest"
    );

    let v = app
        .post(&format!("/api/v1/backups/{par_id}/verify"), json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(
        v["detail"].as_str().unwrap().matches("sha256 ok").count(),
        4,
        "{v}"
    );
    let d = app.get(&format!("/api/v1/backups/{par_id}/download")).await;
    assert_eq!(d.status(), 422);
    let problem: Value = d.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("4 parts"),
        "{problem}"
    );

    // Both versions restore into fresh databases, equal to the source as it was.
    let one = pg::TempDb::create("par_one").await;
    let two = pg::TempDb::create("par_two").await;
    let one_id = app.register(one.name(), "postgres", &one.url()).await;
    let two_id = app.register(two.name(), "postgres", &two.url()).await;
    let r = app
        .restore(
            single["id"].as_str().unwrap(),
            json!({"target_database_id": one_id}),
        )
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    let r = app
        .restore(par_id, json!({"target_database_id": two_id, "jobs": 2}))
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    let from_single = pg::fingerprint(one.name()).await;
    let mut from_parallel = pg::fingerprint(two.name()).await;
    expected.assert_same(&from_single, "single-stream restore");
    // Sequences are not in snapshots (PostgreSQL reads them as they are now, for one pg_dump
    // too): the rows written meanwhile advanced this one, so it restores ahead, never behind.
    let seq = "public.We.ird*Tab?le_id_seq".to_string();
    let (before, after) = (from_single.sequences[&seq], from_parallel.sequences[&seq]);
    assert!(
        (before..=before + 4).contains(&after),
        "{seq}: {before} then {after}"
    );
    from_parallel.sequences.insert(seq, before);
    from_single.assert_same(
        &from_parallel,
        "parallel restore against single-stream restore",
    );

    // A tampered part: refused before anything is changed.
    let victim = root.join(parts[2]["key"].as_str().unwrap());
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&victim, bytes).unwrap();
    exec(two.name(), "CREATE TABLE public.marker (id int)").await;
    let before = pg::fingerprint(two.name()).await;
    let r = app
        .restore(par_id, json!({"target_database_id": two_id}))
        .await;
    assert_eq!(r["status"], "failed", "{r}");
    let error = r["error"].to_string();
    assert!(error.contains("data-2") && error.contains("sha256"), "{r}");
    before.assert_same(
        &pg::fingerprint(two.name()).await,
        "after a refused restore",
    );
    let v = app
        .post(&format!("/api/v1/backups/{par_id}/verify"), json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(v["ok"], false, "{v}");
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.contains("part data-2: ") && detail.contains("sha256 mismatch"),
        "{v}"
    );
    assert_eq!(detail.matches("sha256 ok").count(), 3, "{v}");
}

/// A part that fails stops the others and the snapshot's transaction, and leaves nothing
/// stored: no part, no manifest.
#[tokio::test]
async fn a_failed_part_leaves_no_half_version() {
    let src = pg::TempDb::create("par_fail").await;
    exec(src.name(), EXTRA).await;
    let tools = tempfile::tempdir().unwrap();
    let bin = wrapped_pg_dump(tools.path(), src.name(), Some("post-data"));
    let app = spawn_app_configured(move |s| s.pg_bin_dir = Some(bin)).await;
    let r = app
        .post(
            "/api/v1/databases",
            json!({"name": src.name(), "engine": "postgres", "connection": src.url(), "backup_jobs": 3}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "failed", "{b}");
    assert!(b["error"].to_string().contains("injected failure"), "{b}");
    let backup_id = b["id"].as_str().unwrap();
    let start = std::time::Instant::now();
    while !stored_files(&app, backup_id).is_empty() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "left behind: {:?}",
            stored_files(&app, backup_id)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The coordinating transaction is gone with its connection, and so are the other parts.
    let sql = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'backline'",
        src.name()
    );
    let start = std::time::Instant::now();
    while scalar("postgres", &sql).await > 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "a connection of the failed backup is still open"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn backup_jobs_is_refused_for_mariadb_and_out_of_range() {
    let app = crate::helpers::spawn_app().await;
    let name = pg::unique_name("par_my");
    let r = app
        .post(
            "/api/v1/databases",
            json!({"name": name, "engine": "mysql",
                   "connection": format!("mysql://root@127.0.0.1:3306/{name}"), "backup_jobs": 2}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let problem: Value = r.json().await.unwrap();
    assert!(problem.to_string().contains("PostgreSQL only"), "{problem}");
    let all = app.get_json("/api/v1/databases").await;
    assert!(
        !all.to_string().contains(&name),
        "nothing was registered: {all}"
    );

    let my_id = app
        .register(
            &name,
            "mysql",
            &format!("mysql://root@127.0.0.1:3306/{name}"),
        )
        .await;
    let r = app
        .patch(
            &format!("/api/v1/databases/{my_id}"),
            json!({"backup_jobs": 4, "name": "renamed_my"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        app.get_json(&format!("/api/v1/databases/{my_id}")).await["name"],
        name.as_str()
    );
    let r = app
        .patch(
            &format!("/api/v1/databases/{my_id}"),
            json!({"backup_jobs": 1}),
        )
        .await;
    assert_eq!(r.status(), 200);

    let pg_name = pg::unique_name("par_pg");
    let pg_id = app
        .register(&pg_name, "postgres", &pg::db_url(&pg_name))
        .await;
    for bad in [0, 17] {
        let r = app
            .patch(
                &format!("/api/v1/databases/{pg_id}"),
                json!({"backup_jobs": bad}),
            )
            .await;
        assert_eq!(r.status(), 422, "backup_jobs {bad}");
    }
    let r = app
        .patch(
            &format!("/api/v1/databases/{pg_id}"),
            json!({"backup_jobs": 16}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.get_json(&format!("/api/v1/databases/{pg_id}")).await["backup_jobs"],
        16
    );
}
