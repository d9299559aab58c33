//! A server with a large backlog of events its read models have not applied listens at once:
//! `/healthz` answers, `/readyz` says `catching_up` with the positions, reads answer from the
//! read models as they are with their position in `X-Backline-Position`, and the read models
//! end current.

use crate::support::external::External;
use crate::support::pg;
use sqlx::{Connection, SqliteConnection};
use std::time::{Duration, Instant};

/// Copies every Backup event `copies` times under new backup ids (documented SQL duplication
/// of real events: the same payloads, new aggregates), as a year of history would add them.
async fn grow_ledger(ledger: &std::path::Path, copies: u32) {
    let mut c = SqliteConnection::connect(&format!("sqlite://{}", ledger.display()))
        .await
        .expect("open the ledger");
    sqlx::raw_sql(&format!(
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < {copies})
         INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT e.aggregate_type, e.aggregate_id || '-copy-' || c.n, e.sequence, e.event_type,
                e.event_version, e.payload, e.metadata
         FROM c, events e WHERE e.aggregate_type = 'Backup' ORDER BY c.n, e.position"
    ))
    .execute(&mut c)
    .await
    .expect("grow the ledger");
}

#[tokio::test]
async fn startup_listens_at_once_and_catches_up_in_the_background() {
    let db = pg::TempDb::create("startup_big").await;
    let data = tempfile::tempdir().expect("tempdir");
    let mut server = External::start(data.path(), false, &[]).await;
    let id = server.register(db.name(), &db.url()).await;
    let backup = server.start_backup(&id).await;
    let b = server.wait_backup(&backup, Duration::from_secs(120)).await;
    assert_eq!(b["status"], "completed", "{b}");
    server.kill9();
    grow_ledger(&data.path().join("ledger.db"), 20_000).await;

    // `start` returns once /healthz answers: before the 40,000 new events are applied.
    let server = External::start(data.path(), false, &[]).await;
    let r = server
        .client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), 503);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["catching_up"], true, "{v}");
    assert!(
        v["projections"]
            .as_str()
            .unwrap_or("")
            .starts_with("catching_up: at "),
        "{v}"
    );
    let head = v["ledger_position"].as_i64().expect("head");
    assert!(
        v["applied_position"].as_i64().expect("applied") < head,
        "{v}"
    );

    // Reads answer meanwhile, saying how far the read models are.
    let r = server
        .client
        .get(format!("{}/api/v1/databases/{id}", server.base))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let position: i64 = r
        .headers()
        .get("x-backline-position")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse().ok())
        .expect("an X-Backline-Position header");
    assert!(position <= head, "{position} > {head}");

    // And the read models end current.
    let start = Instant::now();
    loop {
        let r = server
            .client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .expect("readyz");
        let status = r.status();
        let v: serde_json::Value = r.json().await.expect("json");
        if status == 200 {
            assert_eq!(v["catching_up"], false, "{v}");
            assert!(
                v["applied_position"].as_i64() >= v["ledger_position"].as_i64(),
                "{v}"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "still catching up: {v}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let view = server.get_json(&format!("/api/v1/databases/{id}")).await;
    assert_eq!(view["backups_completed"], 20_001, "{view}");
}
