//! Real backups restore to identical data: two versions of a rich database, each restored into
//! a fresh database and over the (changed) original, compared table by table and schema by schema.

use crate::helpers::spawn_app;
use crate::support::{mysql, pg};
use serde_json::json;

async fn round_trip(engine: &str) {
    let app = spawn_app().await;
    let (src, ta, tb) = if engine == "postgres" {
        (
            pg::TempDb::create("rt_pg_src").await.into(),
            pg::TempDb::create("rt_pg_a").await.into(),
            pg::TempDb::create("rt_pg_b").await.into(),
        )
    } else {
        (
            Db::My(mysql::TempDb::create("rt_my_src").await),
            Db::My(mysql::TempDb::create("rt_my_a").await),
            Db::My(mysql::TempDb::create("rt_my_b").await),
        )
    };
    // Version B is restored into a registered database that does not exist on the server
    // yet: the restore creates it.
    tb.drop_now().await;
    src.load().await;
    let fp_a = src.fingerprint().await;
    let src_id = app.register(&src.name(), engine, &src.url()).await;

    let a = app.backup(&src_id).await;
    assert_eq!(a["status"], "completed", "version A: {a}");
    assert!(a["bytes"].as_u64().unwrap() > 0);
    assert_eq!(a["sha256"].as_str().unwrap().len(), 64);
    // What the dump tool cannot keep exactly is said with the version: MariaDB writes FLOAT
    // with 6 significant digits (the fixture's customers.rating); pg_dump keeps everything.
    let warnings = a["warnings"].as_array().unwrap();
    if engine == "postgres" {
        assert!(warnings.is_empty(), "{warnings:?}");
    } else {
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let w = warnings[0].as_str().unwrap();
        assert!(
            w.contains("customers.rating") && w.contains("6 significant digits"),
            "{w}"
        );
    }

    src.mutate().await;
    let fp_b = src.fingerprint().await;
    assert_ne!(fp_a, fp_b, "mutate() must change the database");
    let b = app.backup(&src_id).await;
    assert_eq!(b["status"], "completed", "version B: {b}");

    // The stored object's sha256 is the one recorded.
    let path = app
        .data_dir
        .path()
        .join("artifacts")
        .join(a["storage_key"].as_str().unwrap());
    let bytes = std::fs::read(&path).expect("artifact on disk");
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&bytes)),
        a["sha256"].as_str().unwrap()
    );
    assert_eq!(bytes.len() as u64, a["bytes"].as_u64().unwrap());

    // History: newest first.
    let history = app
        .get_json(&format!("/api/v1/databases/{src_id}/backups"))
        .await;
    let ids: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![b["id"].as_str().unwrap(), a["id"].as_str().unwrap()]
    );

    let ta_id = app.register(&ta.name(), engine, &ta.url()).await;
    let tb_id = app.register(&tb.name(), engine, &tb.url()).await;
    let ra = app
        .restore(
            a["id"].as_str().unwrap(),
            json!({"target_database_id": ta_id}),
        )
        .await;
    assert_eq!(ra["status"], "completed", "restore A: {ra}");
    let rb = app
        .restore(
            b["id"].as_str().unwrap(),
            json!({"target_database_id": tb_id}),
        )
        .await;
    assert_eq!(rb["status"], "completed", "restore B: {rb}");
    fp_a.assert_same(
        &ta.fingerprint().await,
        "version A restored into a fresh database",
    );
    fp_b.assert_same(
        &tb.fingerprint().await,
        "version B restored into a database the restore created",
    );

    // Restore A over the original, which changed since: nothing of B may survive.
    let ro = app.restore(a["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(ro["status"], "completed", "restore over the original: {ro}");
    fp_a.assert_same(
        &src.fingerprint().await,
        "version A restored over the changed original",
    );

    let db = app.get_json(&format!("/api/v1/databases/{src_id}")).await;
    assert_eq!(db["backups_completed"], 2);
    assert_eq!(db["last_backup"]["id"], b["id"]);
}

enum Db {
    Pg(pg::TempDb),
    My(mysql::TempDb),
}

impl From<pg::TempDb> for Db {
    fn from(d: pg::TempDb) -> Self {
        Db::Pg(d)
    }
}

impl Db {
    fn name(&self) -> String {
        match self {
            Db::Pg(d) => d.name().to_string(),
            Db::My(d) => d.name().to_string(),
        }
    }
    fn url(&self) -> String {
        match self {
            Db::Pg(d) => d.url(),
            Db::My(d) => d.url(),
        }
    }
    /// Drops the database now (the guard drops it again, if it exists, at the end).
    async fn drop_now(&self) {
        match self {
            Db::Pg(d) => pg::drop_db(d.name()).await,
            Db::My(d) => mysql::drop_db(d.name()).await,
        }
    }
    async fn load(&self) {
        match self {
            Db::Pg(d) => pg::load_rich_fixture(d.name()).await,
            Db::My(d) => mysql::load_rich_fixture(d.name()).await,
        }
    }
    async fn mutate(&self) {
        match self {
            Db::Pg(d) => pg::mutate(d.name()).await,
            Db::My(d) => mysql::mutate(d.name()).await,
        }
    }
    async fn fingerprint(&self) -> pg::Fingerprint {
        match self {
            Db::Pg(d) => pg::fingerprint(d.name()).await,
            Db::My(d) => mysql::fingerprint(d.name()).await,
        }
    }
}

#[tokio::test]
async fn postgres_versions_restore_to_identical_data() {
    round_trip("postgres").await;
}

#[tokio::test]
async fn mariadb_versions_restore_to_identical_data() {
    round_trip("mysql").await;
}

/// System-versioned tables come back with their history, not just their current rows.
#[tokio::test]
async fn mariadb_system_versioned_history_survives() {
    use sqlx::Connection;
    let app = spawn_app().await;
    let src = mysql::TempDb::create("rt_svt_src").await;
    let dst = mysql::TempDb::create("rt_svt_dst").await;
    let mut c = sqlx::MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
        .await
        .unwrap();
    for sql in [
        format!(
            "CREATE TABLE `{}`.t (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING",
            src.name()
        ),
        format!("INSERT INTO `{}`.t VALUES (1, 1), (2, 2)", src.name()),
        format!("UPDATE `{}`.t SET v = 10 WHERE id = 1", src.name()),
        format!("DELETE FROM `{}`.t WHERE id = 2", src.name()),
    ] {
        sqlx::raw_sql(&sql).execute(&mut c).await.unwrap();
    }
    let history = |db: String| async move {
        let mut c = sqlx::MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
            .await
            .unwrap();
        let rows: Vec<(i32, i32)> = sqlx::query_as(&format!(
            "SELECT id, v FROM `{db}`.t FOR SYSTEM_TIME ALL ORDER BY id, v"
        ))
        .fetch_all(&mut c)
        .await
        .unwrap();
        rows
    };
    let before = history(src.name().to_string()).await;
    assert_eq!(before, vec![(1, 1), (1, 10), (2, 2)]);
    let src_id = app.register(src.name(), "mysql", &src.url()).await;
    let dst_id = app.register(dst.name(), "mysql", &dst.url()).await;
    let b = app.backup(&src_id).await;
    assert_eq!(b["status"], "completed", "{b}");
    let r = app
        .restore(
            b["id"].as_str().unwrap(),
            json!({"target_database_id": dst_id}),
        )
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(history(dst.name().to_string()).await, before);
}

/// Database-level properties (comment, settings, grants) come back as they were at backup time.
#[tokio::test]
async fn postgres_database_properties_survive_a_restore_over_changes() {
    use sqlx::Connection;
    let app = spawn_app().await;
    let db = pg::TempDb::create("rt_props").await;
    let name = db.name().to_string();
    let mut admin = sqlx::PgConnection::connect(pg::PG_ADMIN_URL).await.unwrap();
    let role = format!("{name}_reader");
    for sql in [
        format!("CREATE ROLE \"{role}\""),
        format!("COMMENT ON DATABASE \"{name}\" IS 'version A; with ''quotes'''"),
        format!("ALTER DATABASE \"{name}\" SET work_mem TO '7MB'"),
        format!("GRANT CONNECT ON DATABASE \"{name}\" TO \"{role}\""),
    ] {
        sqlx::raw_sql(&sql).execute(&mut admin).await.unwrap();
    }
    let props = |name: String| async move {
        let mut c = sqlx::PgConnection::connect(pg::PG_ADMIN_URL).await.unwrap();
        let row: (Option<String>, Option<Vec<String>>, Option<String>) = sqlx::query_as(
            "SELECT shobj_description(d.oid, 'pg_database'), \
             (SELECT setconfig FROM pg_db_role_setting WHERE setdatabase = d.oid AND setrole = 0), \
             d.datacl::text FROM pg_database d WHERE datname = $1",
        )
        .bind(&name)
        .fetch_one(&mut c)
        .await
        .unwrap();
        row
    };
    let before = props(name.clone()).await;
    assert_eq!(before.0.as_deref(), Some("version A; with 'quotes'"));
    let id = app.register(&name, "postgres", &db.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    for sql in [
        format!("COMMENT ON DATABASE \"{name}\" IS 'version B'"),
        format!("ALTER DATABASE \"{name}\" SET work_mem TO '9MB'"),
        format!("REVOKE CONNECT ON DATABASE \"{name}\" FROM \"{role}\""),
    ] {
        sqlx::raw_sql(&sql).execute(&mut admin).await.unwrap();
    }
    assert_ne!(props(name.clone()).await, before);
    let r = app.restore(b["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(props(name.clone()).await, before);
    drop(db);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let _ = sqlx::raw_sql(&format!("DROP ROLE IF EXISTS \"{role}\""))
        .execute(&mut admin)
        .await;
}

/// A client connection of either engine, for tests that do the same on both.
enum Client {
    Pg(sqlx::PgConnection),
    My(sqlx::MySqlConnection),
}

impl Client {
    async fn connect(url: &str) -> Client {
        use sqlx::Connection;
        if url.starts_with("postgres") {
            Client::Pg(sqlx::PgConnection::connect(url).await.unwrap())
        } else {
            Client::My(sqlx::MySqlConnection::connect(url).await.unwrap())
        }
    }

    /// Runs each statement on its own (MariaDB takes one statement per query).
    async fn exec(&mut self, statements: &[&str]) {
        for s in statements {
            match self {
                Client::Pg(c) => sqlx::raw_sql(s).execute(&mut *c).await.map(|_| ()),
                Client::My(c) => sqlx::raw_sql(s).execute(&mut *c).await.map(|_| ()),
            }
            .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
    }

    async fn count(&mut self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match self {
            Client::Pg(c) => sqlx::query_scalar(&sql).fetch_one(&mut *c).await,
            Client::My(c) => sqlx::query_scalar(&sql).fetch_one(&mut *c).await,
        }
        .unwrap()
    }
}

/// A restore over a database that a client is using (an open transaction holding locks on
/// its tables) ends that client's session instead of waiting for it.
async fn restore_over_a_database_in_use(engine: &str) {
    let app = spawn_app().await;
    let db: Db = if engine == "postgres" {
        pg::TempDb::create("rt_busy_pg").await.into()
    } else {
        Db::My(mysql::TempDb::create("rt_busy_my").await)
    };
    let url = db.url();
    let mut c = Client::connect(&url).await;
    c.exec(&[
        "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)",
        "INSERT INTO t VALUES (1, 'backed up')",
    ])
    .await;
    let id = app.register(&db.name(), engine, &url).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    c.exec(&["INSERT INTO t VALUES (2, 'after the backup')"])
        .await;

    // A client in the middle of a transaction that read the table (it holds its locks).
    let mut client = Client::connect(&url).await;
    client.exec(&["BEGIN", "SELECT * FROM t"]).await;
    let started = std::time::Instant::now();
    let r = app.restore(b["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(50),
        "the restore waited for the client's locks"
    );
    let rows = Client::connect(&url).await.count("t").await;
    assert_eq!(rows, 1, "the restored table is the backed-up one");
    drop(client);
}

#[tokio::test]
async fn postgres_restore_over_a_database_in_use() {
    restore_over_a_database_in_use("postgres").await;
}

#[tokio::test]
async fn mariadb_restore_over_a_database_in_use() {
    restore_over_a_database_in_use("mysql").await;
}

/// Restores into one database run one at a time (two would swap or drop it under each other);
/// the next one is accepted once the first has ended.
#[tokio::test]
async fn concurrent_restores_into_one_database_run_one_at_a_time() {
    use sqlx::Connection;
    let app = spawn_app().await;
    let src = pg::TempDb::create("rt_conc_src").await;
    let dst = pg::TempDb::create("rt_conc_dst").await;
    let mut c = sqlx::PgConnection::connect(&src.url()).await.unwrap();
    sqlx::raw_sql("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 50000) g")
        .execute(&mut c)
        .await
        .unwrap();
    let src_id = app.register(src.name(), "postgres", &src.url()).await;
    let dst_id = app.register(dst.name(), "postgres", &dst.url()).await;
    let b = app.backup(&src_id).await;
    let path = format!("/api/v1/backups/{}/restore", b["id"].as_str().unwrap());
    let body = json!({"target_database_id": dst_id});
    let responses = futures::future::join_all((0..4).map(|_| app.post(&path, body.clone()))).await;
    let mut accepted = Vec::new();
    for r in responses {
        match r.status().as_u16() {
            202 => accepted.push(
                r.json::<serde_json::Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ),
            409 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(accepted.len(), 1, "one restore into a database at a time");
    let done = app
        .wait_for(&format!("/api/v1/restores/{}", accepted[0]))
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    let again = app
        .restore(
            b["id"].as_str().unwrap(),
            json!({"target_database_id": dst_id}),
        )
        .await;
    assert_eq!(again["status"], "completed", "{again}");
}

/// `mariadb-dump --dump-history` refuses transaction-precise system-versioned tables: the
/// backup still happens, without history, and says so; the current rows come back.
#[tokio::test]
async fn mariadb_transaction_precise_versioning_is_backed_up_without_history_and_says_so() {
    use sqlx::Connection;
    let app = spawn_app().await;
    let src = mysql::TempDb::create("rt_trx_src").await;
    let mut c = sqlx::MySqlConnection::connect(&src.url()).await.unwrap();
    for sql in [
        "CREATE TABLE trx (id INT PRIMARY KEY, v INT, \
           s BIGINT UNSIGNED GENERATED ALWAYS AS ROW START INVISIBLE, \
           e BIGINT UNSIGNED GENERATED ALWAYS AS ROW END INVISIBLE, \
           PERIOD FOR SYSTEM_TIME(s, e)) WITH SYSTEM VERSIONING ENGINE=InnoDB",
        "CREATE TABLE ts (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING",
        "INSERT INTO trx (id, v) VALUES (1, 1), (2, 2)",
        "UPDATE trx SET v = 10 WHERE id = 1",
        "INSERT INTO ts VALUES (1, 1)",
    ] {
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    }
    let id = app.register(src.name(), "mysql", &src.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    let warnings = b["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| {
            let w = w.as_str().unwrap();
            w.contains("transaction-precise") && w.contains("trx") && w.contains("ts")
        }),
        "{warnings:?}"
    );
    sqlx::raw_sql("DELETE FROM trx; DELETE FROM ts")
        .execute(&mut c)
        .await
        .unwrap();
    let r = app.restore(b["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(r["status"], "completed", "{r}");
    let mut c = sqlx::MySqlConnection::connect(&src.url()).await.unwrap();
    let rows: Vec<(i32, i32)> = sqlx::query_as("SELECT id, v FROM trx ORDER BY id")
        .fetch_all(&mut c)
        .await
        .unwrap();
    assert_eq!(rows, vec![(1, 10), (2, 2)]);
    let ts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ts")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(ts, 1);
}

/// A PostgreSQL database comes back with the encoding and locale it was backed up with: into a
/// database the restore creates, and over one created with other settings.
#[tokio::test]
async fn postgres_encoding_and_locale_come_back() {
    use sqlx::Connection;
    let app = spawn_app().await;
    let admin = || async { sqlx::PgConnection::connect(pg::PG_ADMIN_URL).await.unwrap() };
    let latin = pg::TempDb::create("rt_latin1").await;
    let icu = pg::TempDb::create("rt_icu").await;
    let fresh = pg::TempDb::create("rt_enc_fresh").await;
    let other = pg::TempDb::create("rt_enc_other").await;
    let mut c = admin().await;
    for sql in [
        format!("DROP DATABASE \"{}\"", latin.name()),
        format!(
            "CREATE DATABASE \"{}\" TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'",
            latin.name()
        ),
        format!("DROP DATABASE \"{}\"", icu.name()),
        format!(
            "CREATE DATABASE \"{}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' LOCALE 'C.UTF-8'",
            icu.name()
        ),
        format!("DROP DATABASE \"{}\"", fresh.name()),
    ] {
        sqlx::raw_sql(&sql).execute(&mut c).await.unwrap();
    }
    for db in [&latin, &icu] {
        let mut d = sqlx::PgConnection::connect(&db.url()).await.unwrap();
        sqlx::raw_sql("CREATE TABLE t (v text); INSERT INTO t VALUES ('b'), ('ä'), ('a')")
            .execute(&mut d)
            .await
            .unwrap();
    }
    let props = |name: String| async move {
        let mut c = sqlx::PgConnection::connect(pg::PG_ADMIN_URL).await.unwrap();
        let row: (String, String, String, String, Option<String>) = sqlx::query_as(
            "SELECT pg_encoding_to_char(encoding)::text, datcollate::text, datctype::text, \
             datlocprovider::text, daticulocale::text FROM pg_database WHERE datname = $1",
        )
        .bind(&name)
        .fetch_one(&mut c)
        .await
        .unwrap();
        row
    };
    let sorted = |url: String| async move {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let v: String = sqlx::query_scalar("SELECT string_agg(v, ',' ORDER BY v) FROM t")
            .fetch_one(&mut c)
            .await
            .unwrap();
        v
    };
    for (src, dst) in [(&latin, &fresh), (&icu, &other)] {
        let src_id = app.register(src.name(), "postgres", &src.url()).await;
        let dst_id = app.register(dst.name(), "postgres", &dst.url()).await;
        let b = app.backup(&src_id).await;
        assert_eq!(b["status"], "completed", "{b}");
        let r = app
            .restore(
                b["id"].as_str().unwrap(),
                json!({"target_database_id": dst_id}),
            )
            .await;
        assert_eq!(r["status"], "completed", "{r}");
        assert_eq!(
            props(dst.name().to_string()).await,
            props(src.name().to_string()).await,
            "{} restored into {}",
            src.name(),
            dst.name()
        );
        assert_eq!(sorted(dst.url()).await, sorted(src.url()).await);
    }
}
