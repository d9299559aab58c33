//! Databases and servers reached through an SSH bastion: a real `sshd` started by the test,
//! its host key pinned by fingerprint. The bastion's log shows every forwarded connection, so
//! the tests prove the tools went through it; a wrong fingerprint is refused before any
//! forward; the private key never shows in a process's arguments or in the ledger. A bastion
//! that takes only passwords is reached with one (given to ssh by an askpass helper), which
//! shows nowhere: not in argv, the ledger, the answers or the server's log.

use crate::helpers::{spawn_app, TOKEN};
use crate::support::external::External;
use crate::support::sshd::{self, Sshd};
use crate::support::{mysql, pg};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Every `ssh`/`ssh-keyscan` command line seen while `watching` is set, read from /proc.
fn watch_ssh_argv(
    watching: Arc<AtomicBool>,
) -> (std::thread::JoinHandle<()>, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    let handle = std::thread::spawn(move || {
        while watching.load(Ordering::Relaxed) {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
                    continue;
                };
                let argv = String::from_utf8_lossy(&raw).replace('\0', " ");
                if argv.starts_with("ssh ") || argv.starts_with("ssh-keyscan ") {
                    let mut s = out.lock().unwrap();
                    if !s.contains(&argv) {
                        s.push(argv);
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    });
    (handle, seen)
}

/// The base64 body of a private key: what must never leak.
fn key_body(private_key: &str) -> Vec<String> {
    private_key
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn pg_backup_and_restore_through_the_bastion() {
    let bastion = Sshd::start().await;
    let app = spawn_app().await;
    let src = pg::TempDb::create("ssh_pg_src").await;
    let dst = pg::TempDb::create("ssh_pg_dst").await;
    pg::load_rich_fixture(src.name()).await;
    let expected = pg::fingerprint(src.name()).await;

    // The operator asks which host keys the bastion offers, and confirms one.
    let r = app
        .post(
            "/api/v1/ssh/scan",
            json!({"host": "127.0.0.1", "port": bastion.port}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let scan: Value = r.json().await.unwrap();
    let offered: Vec<&str> = scan["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["fingerprint"].as_str().unwrap())
        .collect();
    assert!(offered.contains(&bastion.fingerprint.as_str()), "{scan}");

    // No fingerprint, no registration (no trust on first use).
    let mut unpinned = bastion.block(&bastion.fingerprint);
    unpinned
        .as_object_mut()
        .unwrap()
        .remove("host_key_fingerprint");
    let r = app
        .post(
            "/api/v1/databases",
            json!({"name": "unpinned", "engine": "postgres", "connection": src.url(), "ssh": unpinned}),
        )
        .await;
    assert_eq!(r.status(), 422);

    let register = |name: String, url: String| {
        let body = json!({"name": name, "engine": "postgres", "connection": url,
                          "ssh": bastion.block(&bastion.fingerprint)});
        let app = &app;
        async move {
            let r = app.post("/api/v1/databases", body).await;
            let status = r.status();
            let v: Value = r.json().await.unwrap();
            assert_eq!(status, 201, "{v}");
            v
        }
    };
    let src_view = register(src.name().to_string(), src.url()).await;
    let src_id = src_view["id"].as_str().unwrap().to_string();
    assert_eq!(
        src_view["ssh"],
        json!({"host": "127.0.0.1", "port": bastion.port, "user": bastion.user,
               "host_key_fingerprint": bastion.fingerprint, "auth": "key"}),
        "{src_view}"
    );
    let dst_id = register(dst.name().to_string(), dst.url()).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let watching = Arc::new(AtomicBool::new(true));
    let (watcher, argv_seen) = watch_ssh_argv(watching.clone());

    let before = bastion.forwards_to(5432);
    let t = app
        .post(&format!("/api/v1/databases/{src_id}/test"), json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(t["ok"], true, "{t}");
    assert!(
        bastion.forwards_to(5432) > before,
        "the test did not go through the bastion"
    );

    let before = bastion.forwards_to(5432);
    let b = app.backup(&src_id).await;
    assert_eq!(b["status"], "completed", "{b}");
    assert!(
        bastion.forwards_to(5432) > before,
        "the backup did not go through the bastion"
    );

    let before = bastion.forwards_to(5432);
    let r = app
        .restore(
            b["id"].as_str().unwrap(),
            json!({"target_database_id": dst_id}),
        )
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    assert!(
        bastion.forwards_to(5432) > before,
        "the restore did not go through the bastion"
    );
    expected.assert_same(
        &pg::fingerprint(dst.name()).await,
        "restored through the bastion",
    );

    watching.store(false, Ordering::Relaxed);
    watcher.join().unwrap();
    let argv_seen = argv_seen.lock().unwrap().clone();
    assert!(
        argv_seen
            .iter()
            .any(|a| a.contains("StrictHostKeyChecking=yes")),
        "no ssh process was seen: {argv_seen:?}"
    );
    let secrets = key_body(&bastion.private_key);
    assert!(!secrets.is_empty());
    for argv in &argv_seen {
        for s in &secrets {
            assert!(!argv.contains(s.as_str()), "key material in argv: {argv}");
        }
    }
    // Nor in the ledger, nor in any answer.
    let events = app
        .get("/api/v1/events?limit=1000")
        .await
        .text()
        .await
        .unwrap();
    let view = app
        .get(&format!("/api/v1/databases/{src_id}"))
        .await
        .text()
        .await
        .unwrap();
    for s in &secrets {
        assert!(!events.contains(s.as_str()), "key material in the events");
        assert!(
            !view.contains(s.as_str()),
            "key material in the database view"
        );
    }
    // Nothing secret stays on disk once the tunnels are up.
    let tmp = app.data_dir.path().join("ssh-tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.flatten().count())
        .into_iter()
        .collect();
    assert_eq!(
        left.iter().sum::<usize>(),
        0,
        "files left in {}",
        tmp.display()
    );
}

#[tokio::test]
async fn a_wrong_host_key_is_refused_with_a_clear_error() {
    let bastion = Sshd::start().await;
    let app = spawn_app().await;
    let src = pg::TempDb::create("ssh_pg_wrongkey").await;
    let wrong = sshd::stranger_fingerprint();
    let r = app
        .post(
            "/api/v1/databases",
            json!({"name": src.name(), "engine": "postgres", "connection": src.url(),
                   "ssh": bastion.block(&wrong)}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let t = app
        .post(&format!("/api/v1/databases/{id}/test"), json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(t["ok"], false, "{t}");
    let m = t["message"].as_str().unwrap();
    assert!(
        m.contains("host key mismatch") && m.contains(&wrong) && m.contains(&bastion.fingerprint),
        "{m}"
    );
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "failed", "{b}");
    assert_eq!(b["error"]["stage"], "connect", "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("host key mismatch"),
        "{b}"
    );
    assert_eq!(
        bastion.forwards_to(5432),
        0,
        "a refused bastion forwarded a connection"
    );
}

#[tokio::test]
async fn mariadb_backup_and_server_discovery_through_the_bastion() {
    let bastion = Sshd::start().await;
    let app = spawn_app().await;
    let db = mysql::TempDb::create("ssh_my").await;
    mysql::load_rich_fixture(db.name()).await;
    let r = app
        .post(
            "/api/v1/databases",
            json!({"name": db.name(), "engine": "mysql", "connection": db.url(),
                   "ssh": bastion.block(&bastion.fingerprint)}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    assert!(
        bastion.forwards_to(3306) > 0,
        "the MariaDB backup did not go through the bastion"
    );

    // A server reached through the bastion lists its databases through it.
    let pg_db = pg::TempDb::create("ssh_listed").await;
    let before = bastion.forwards_to(5432);
    let r = app
        .post(
            "/api/v1/servers",
            json!({"name": pg::unique_name("ssh_srv"), "engine": "postgres",
                   "connection": "postgres://postgres@127.0.0.1:5432",
                   "ssh": bastion.block(&bastion.fingerprint)}),
        )
        .await;
    let status = r.status();
    let server: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{server}");
    let listed = app
        .get_json(&format!(
            "/api/v1/servers/{}/databases",
            server["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == pg_db.name()),
        "{listed}"
    );
    assert!(
        bastion.forwards_to(5432) > before,
        "discovery did not go through the bastion"
    );
}

#[tokio::test]
async fn pg_backup_and_restore_through_a_bastion_that_takes_a_password() {
    let bastion = Sshd::start_with_password().await;
    let password = bastion.password.clone().expect("a password bastion");
    // Backline as its own process, so that its whole log (at debug level) can be searched.
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let log_path = logs.path().join("server.log");
    let mut server = External::start_logged(data.path(), &log_path).await;
    let text = |path: String| {
        let (client, base) = (server.client.clone(), server.base.clone());
        async move {
            let r = client
                .get(format!("{base}{path}"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("request");
            assert!(r.status().is_success(), "GET {path}: {}", r.status());
            r.text().await.expect("text")
        }
    };

    let src = pg::TempDb::create("sshpw_src").await;
    let dst = pg::TempDb::create("sshpw_dst").await;
    pg::load_rich_fixture(src.name()).await;
    let expected = pg::fingerprint(src.name()).await;

    let mut answers = Vec::new();
    let mut ids = Vec::new();
    for db in [&src, &dst] {
        let r = server
            .client
            .post(format!("{}/api/v1/databases", server.base))
            .bearer_auth(TOKEN)
            .json(
                &json!({"name": db.name(), "engine": "postgres", "connection": db.url(),
                          "ssh": bastion.password_block(&bastion.fingerprint, &password)}),
            )
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(status, 201, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v["ssh"],
            json!({"host": "127.0.0.1", "port": bastion.port, "user": bastion.user,
                   "host_key_fingerprint": bastion.fingerprint, "auth": "password"}),
            "{v}"
        );
        ids.push(v["id"].as_str().unwrap().to_string());
        answers.push(body);
    }
    let (src_id, dst_id) = (ids[0].clone(), ids[1].clone());

    let watching = Arc::new(AtomicBool::new(true));
    let (watcher, argv_seen) = watch_ssh_argv(watching.clone());

    let before = bastion.forwards_to(5432);
    let (status, t) = server
        .post(&format!("/api/v1/databases/{src_id}/test"), json!({}))
        .await;
    assert_eq!((status, &t["ok"]), (200, &json!(true)), "{t}");
    assert!(
        bastion.forwards_to(5432) > before,
        "the connection test did not go through the bastion"
    );

    let before = bastion.forwards_to(5432);
    let backup_id = server.start_backup(&src_id).await;
    let b = server
        .wait_backup(&backup_id, std::time::Duration::from_secs(300))
        .await;
    assert_eq!(b["status"], "completed", "{b}");
    assert!(
        bastion.forwards_to(5432) > before,
        "the backup did not go through the bastion"
    );

    let before = bastion.forwards_to(5432);
    let (status, r) = server
        .post(
            &format!("/api/v1/backups/{backup_id}/restore"),
            json!({"target_database_id": dst_id}),
        )
        .await;
    assert_eq!(status, 202, "{r}");
    let restore_id = r["id"].as_str().unwrap().to_string();
    let r = server
        .wait_restore(&restore_id, std::time::Duration::from_secs(300))
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    assert!(
        bastion.forwards_to(5432) > before,
        "the restore did not go through the bastion"
    );
    expected.assert_same(
        &pg::fingerprint(dst.name()).await,
        "restored through the password bastion",
    );

    // The bastion let Backline in with the password (it takes nothing else).
    let sshd_log = std::fs::read_to_string(bastion.log_path()).unwrap();
    assert!(
        sshd_log.contains(&format!("Accepted password for {}", bastion.user)),
        "sshd did not log a password login"
    );

    watching.store(false, Ordering::Relaxed);
    watcher.join().unwrap();
    let argv_seen = argv_seen.lock().unwrap().clone();
    assert!(
        argv_seen
            .iter()
            .any(|a| a.contains("PreferredAuthentications=password")),
        "no password ssh process was seen: {argv_seen:?}"
    );
    for argv in &argv_seen {
        assert!(!argv.contains(&password), "the password in argv: {argv}");
    }

    for path in [
        "/api/v1/events?limit=1000".to_string(),
        "/api/v1/databases".to_string(),
        format!("/api/v1/databases/{src_id}"),
        format!("/api/v1/backups/{backup_id}"),
        format!("/api/v1/restores/{restore_id}"),
    ] {
        answers.push(text(path).await);
    }
    assert!(
        answers[2].contains("DatabaseRegistered"),
        "the events were not read"
    );
    for a in &answers {
        assert!(!a.contains(&password), "the password in an answer: {a}");
    }

    server.kill9();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("DEBUG") || log.contains("debug"),
        "the server logged nothing at debug level: {log}"
    );
    assert!(!log.contains(&password), "the password in the server's log");
    let ledger = std::fs::read(data.path().join("ledger.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&ledger).contains(&password),
        "the password in clear in the ledger file"
    );
    // The askpass helper and known_hosts went with the tunnels.
    let left = std::fs::read_dir(data.path().join("ssh-tmp"))
        .map(|d| d.flatten().count())
        .unwrap_or(0);
    assert_eq!(left, 0, "files left in ssh-tmp");
}

#[tokio::test]
async fn a_wrong_ssh_password_is_refused_with_a_clear_error() {
    let bastion = Sshd::start_with_password().await;
    let app = spawn_app().await;
    let db = pg::TempDb::create("sshpw_wrong").await;
    let wrong = format!("{}-not-it", bastion.password.as_deref().unwrap());
    let r = app
        .post(
            "/api/v1/databases",
            json!({"name": db.name(), "engine": "postgres", "connection": db.url(),
                   "ssh": bastion.password_block(&bastion.fingerprint, &wrong)}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let t = app
        .post(&format!("/api/v1/databases/{id}/test"), json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(t["ok"], false, "{t}");
    let m = t["message"].as_str().unwrap();
    assert!(
        m.contains(&format!(
            "the SSH bastion 127.0.0.1:{} refused the password of user \"{}\": check ssh.user and ssh.password",
            bastion.port, bastion.user
        )) && m.contains("Permission denied"),
        "{m}"
    );
    assert!(!m.contains(&wrong), "{m}");

    let b = app.backup(&id).await;
    assert_eq!(b["status"], "failed", "{b}");
    assert_eq!(b["error"]["stage"], "connect", "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("refused the password"),
        "{b}"
    );
    assert_eq!(
        bastion.forwards_to(5432),
        0,
        "the bastion forwarded a connection without a login"
    );
    let log = std::fs::read_to_string(bastion.log_path()).unwrap();
    assert!(
        log.contains(&format!("Failed password for {}", bastion.user)),
        "sshd saw no password attempt"
    );
    let events = app
        .get("/api/v1/events?limit=1000")
        .await
        .text()
        .await
        .unwrap();
    assert!(events.contains("BackupFailed"), "{events}");
    assert!(!events.contains(&wrong), "the password in the events");
}

/// `PGPORT` in the environment of process `pid`: where a libpq tool dials.
fn pgport_of(pid: i32) -> Option<u16> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    env.split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"PGPORT="))
        .and_then(|p| std::str::from_utf8(p).ok()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_archiving_and_point_in_time_restores_go_through_the_bastion() {
    use crate::pitr::{archived_past, base_backup, disable, enable, pause, restore_pitr_done};
    use crate::support::pitr::{batches, eventually, receivers, slot_of, sql, switch_wal};
    use crate::support::pitr::{write_batch, SlotGuard};

    let bastion = Sshd::start().await;
    let app = spawn_app().await;
    let src = pg::TempDb::create("sshwal_src").await;
    let dst = pg::TempDb::create("sshwal_dst").await;
    sql(
        src.name(),
        "CREATE TABLE t (id serial PRIMARY KEY, batch int NOT NULL, v int NOT NULL)",
    )
    .await;
    let mut ids = Vec::new();
    for db in [&src, &dst] {
        let r = app
            .post(
                "/api/v1/databases",
                json!({"name": db.name(), "engine": "postgres", "connection": db.url(),
                       "ssh": bastion.block(&bastion.fingerprint)}),
            )
            .await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let (id, dst_id) = (ids[0].clone(), ids[1].clone());
    let slot = slot_of(&id);
    let _guard = SlotGuard(slot.clone());

    // Enabling checks the server and creates the slot through the bastion.
    let before = bastion.forwards_to(5432);
    let v = enable(&app, &id).await;
    assert_eq!(v["enabled"], true, "{v}");
    assert!(
        bastion.forwards_to(5432) > before,
        "enabling WAL archiving did not go through the bastion"
    );

    // pg_receivewal dials the tunnel's local end, never the server itself. (Its restart after
    // a kill -9 is `pitr::restores_one_database_to_a_second_and_survives_a_killed_receiver`;
    // here, run alone, a restart through a new tunnel missed a 60 s deadline 1 run in 10.)
    eventually(30, "a receiver", || receivers(&slot).len() == 1).await;
    let old = receivers(&slot);
    let port = pgport_of(old[0]).expect("the receiver's PGPORT");
    assert_ne!(port, 5432, "pg_receivewal connects to the server directly");

    let before = bastion.forwards_to(5432);
    base_backup(&app, &id).await;
    assert!(
        bastion.forwards_to(5432) > before,
        "the base backup did not go through the bastion"
    );
    pause().await;
    let t1 = write_batch(src.name(), 1).await;
    switch_wal().await;
    pause().await;
    let between = chrono::Utc::now();
    pause().await;
    let t2 = write_batch(src.name(), 2).await;
    switch_wal().await;
    assert!(t1 < between && between < t2);
    let w = archived_past(&app, &id, t2).await;
    assert_eq!(w["gaps"], json!([]), "{w}");

    // The copy into the target goes through the target's bastion.
    let before = bastion.forwards_to(5432);
    restore_pitr_done(
        &app,
        &id,
        json!({"target_time": between, "target_database_id": dst_id}),
    )
    .await;
    assert_eq!(batches(dst.name()).await, vec![1]);
    assert!(
        bastion.forwards_to(5432) > before,
        "the point-in-time restore did not reach its target through the bastion"
    );

    // Disabling drops the slot through the bastion too.
    let before = bastion.forwards_to(5432);
    disable(&app, &id).await;
    eventually(30, "the receiver to stop", || receivers(&slot).is_empty()).await;
    let mut gone = false;
    for _ in 0..50 {
        let left = crate::support::pitr::scalar_i64(
            "postgres",
            &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"),
        )
        .await;
        if left == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(gone, "the replication slot {slot} was not dropped");
    assert!(
        bastion.forwards_to(5432) > before,
        "the slot was not dropped through the bastion"
    );
}
