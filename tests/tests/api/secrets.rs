//! The password of a registered database never appears in the ledger, the logs, API responses
//! or the dump tool's argv.

use crate::helpers::TOKEN;
use crate::support::mysql;
use serde_json::{json, Value};
use sqlx::Connection;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn dump_pids() -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd);
            if cmd.contains("mariadb-dump") || cmd.contains("mysqldump") {
                out.push(pid);
            }
        }
    }
    out
}

#[tokio::test]
async fn password_never_leaks() {
    let db = mysql::TempDb::create("sec_my").await;
    let user = format!("bl_{}", &db.name()[db.name().len() - 10..]);
    let password = format!("Pw-{}-secret", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
        .await
        .unwrap();
    for sql in [
        format!(
            "CREATE TABLE `{}`.t (id INT PRIMARY KEY, v TEXT)",
            db.name()
        ),
        format!("INSERT INTO `{}`.t VALUES (1, 'a'), (2, 'b')", db.name()),
        format!("CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"),
        format!("GRANT ALL ON `{}`.* TO '{user}'@'%'", db.name()),
    ] {
        sqlx::raw_sql(&sql).execute(&mut admin).await.unwrap();
    }

    let data = tempfile::tempdir().unwrap();
    let log_path = data.path().join("server.log");
    let port = free_port();
    let mut server = std::process::Command::new(crate::helpers::backline_bin())
        .arg("serve")
        .env("BACKLINE_DATA_DIR", data.path())
        .env("BACKLINE_LISTEN", format!("127.0.0.1:{port}"))
        .env("BACKLINE_ADMIN_TOKEN", TOKEN)
        .env("BACKLINE_LOG", "debug")
        .stdout(std::fs::File::create(data.path().join("server.out")).unwrap())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let start = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let conn = format!("mysql://{user}:{password}@127.0.0.1:3306/{}", db.name());
    let r = client
        .post(format!("{base}/api/v1/databases"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "secret-db", "engine": "mysql", "connection": conn}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body = r.text().await.unwrap();
    assert!(
        !body.contains(&password),
        "registration response leaks the password"
    );
    assert!(
        body.contains(&format!("mysql://{user}:***@127.0.0.1:3306/")),
        "{body}"
    );
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Hold a write lock so the dump blocks while we look at its argv.
    let mut locker = sqlx::MySqlConnection::connect(&mysql::db_url(db.name()))
        .await
        .unwrap();
    sqlx::raw_sql("LOCK TABLES t WRITE")
        .execute(&mut locker)
        .await
        .unwrap();
    let before = dump_pids();
    let r = client
        .post(format!("{base}/api/v1/databases/{id}/backups"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let backup_id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let start = Instant::now();
    let mut seen = 0;
    while seen == 0 {
        for pid in dump_pids().into_iter().filter(|p| !before.contains(p)) {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            assert!(
                !cmdline.contains(&password),
                "dump argv leaks the password: {cmdline}"
            );
            seen += 1;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never saw the dump process"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sqlx::raw_sql("UNLOCK TABLES")
        .execute(&mut locker)
        .await
        .unwrap();
    let backup = loop {
        let v: Value = client
            .get(format!("{base}/api/v1/backups/{backup_id}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["status"] != "running" {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(backup["status"], "completed", "{backup}");

    for path in ["/api/v1/databases", "/api/v1/events?limit=1000"] {
        let text = client
            .get(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains(&password), "{path} leaks the password");
    }
    let _ = server.kill();
    let _ = server.wait();
    for f in ["ledger.db", "ledger.db-wal", "server.log", "server.out"] {
        let p = data.path().join(f);
        if let Ok(bytes) = std::fs::read(&p) {
            let hay = String::from_utf8_lossy(&bytes);
            assert!(!hay.contains(&password), "{f} contains the password");
        }
    }
    assert!(
        std::fs::metadata(&log_path).unwrap().len() > 0,
        "the server logged nothing"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(data.path().join("master.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "master key file mode");
    sqlx::raw_sql(&format!("DROP USER '{user}'@'%'"))
        .execute(&mut admin)
        .await
        .unwrap();
}
