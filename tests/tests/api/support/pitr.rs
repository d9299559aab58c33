//! Point-in-time recovery test support: SQL on the test server, the `pg_receivewal` processes
//! of a slot (found in /proc), and a guard that leaves no slot or receiver behind.
#![allow(dead_code)]

use super::pg::{db_url, PG_ADMIN_URL};
use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection};
use std::time::Duration;

pub async fn sql(db: &str, statement: &str) {
    let mut c = PgConnection::connect(&db_url(db)).await.expect("connect");
    sqlx::raw_sql(statement)
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    c.close().await.ok();
}

pub async fn scalar_i64(db: &str, query: &str) -> i64 {
    let mut c = PgConnection::connect(&db_url(db)).await.expect("connect");
    let v: i64 = sqlx::query_scalar(query)
        .fetch_one(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    c.close().await.ok();
    v
}

/// The sorted batch numbers present in table `t` of `db`.
pub async fn batches(db: &str) -> Vec<i32> {
    let mut c = PgConnection::connect(&db_url(db)).await.expect("connect");
    let v: Vec<i32> = sqlx::query_scalar("SELECT DISTINCT batch FROM t ORDER BY batch")
        .fetch_all(&mut c)
        .await
        .expect("batches");
    c.close().await.ok();
    v
}

/// Inserts batch `n` (10 rows) in one transaction and returns the time after its commit.
pub async fn write_batch(db: &str, n: i32) -> DateTime<Utc> {
    sql(
        db,
        &format!("INSERT INTO t (batch, v) SELECT {n}, g FROM generate_series(1, 10) g"),
    )
    .await;
    Utc::now()
}

/// Closes the current WAL segment, so that the receiver completes it.
pub async fn switch_wal() {
    let mut c = PgConnection::connect(PG_ADMIN_URL).await.expect("connect");
    // A switch on an idle segment is a no-op: write something first.
    sqlx::raw_sql("SELECT txid_current(); SELECT pg_switch_wal();")
        .execute(&mut c)
        .await
        .expect("pg_switch_wal");
    c.close().await.ok();
}

/// Pids of the `pg_receivewal` processes streaming from `slot`.
pub fn receivers(slot: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains("pg_receivewal") && cmd.contains(slot) && !cmd.contains("--create-slot") {
            pids.push(pid);
        }
    }
    pids
}

/// Waits up to `secs` for `cond`.
pub async fn eventually<F: FnMut() -> bool>(secs: u64, what: &str, mut cond: F) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Stops the slot's receivers and drops the slot when the test ends, however it ends: an
/// abandoned slot would make the shared test server keep its WAL for ever.
pub struct SlotGuard(pub String);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let slot = self.0.clone();
        let _ = std::thread::spawn(move || {
            for pid in receivers(&slot) {
                let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(async {
                    for _ in 0..50 {
                        let Ok(mut c) = PgConnection::connect(PG_ADMIN_URL).await else {
                            return;
                        };
                        let _ = sqlx::query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active")
                            .bind(&slot)
                            .execute(&mut c)
                            .await;
                        let left: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)")
                            .bind(&slot)
                            .fetch_one(&mut c)
                            .await
                            .unwrap_or(false);
                        c.close().await.ok();
                        if !left {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                });
        })
        .join();
    }
}

/// The slot Backline uses for database `id`.
pub fn slot_of(id: &str) -> String {
    let compact: String = id.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("backline_{}", &compact[..compact.len().min(40)])
}
