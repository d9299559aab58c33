//! Every list that grows with history is a keyset page: following `next` returns each item
//! exactly once, in order, with no cap; a cursor the server did not give is a 400
//! problem+json that names `cursor`.

use crate::helpers::{spawn_app, TestApp};
use serde_json::Value;
use std::time::{Duration, Instant};

const DOWN: &str = "postgres://postgres:pw@127.0.0.1:1/nowhere";

/// Every item of `path`, following `next` with pages of `limit`; and each page's size.
async fn walk(app: &TestApp, path: &str, limit: usize) -> (Vec<Value>, Vec<usize>) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut cursor: Option<String> = None;
    let (mut items, mut sizes) = (Vec::new(), Vec::new());
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let page = app.get_json(&url).await;
        let got = page["items"].as_array().expect("items").clone();
        assert!(got.len() <= limit, "{url}: {} items", got.len());
        sizes.push(got.len());
        items.extend(got);
        match page["next"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => return (items, sizes),
        }
        assert!(sizes.len() < 50, "{path}: next never ends");
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn following_next_gives_every_item_once_in_order() {
    let app = spawn_app().await;
    let a = app.register("page-a", "postgres", DOWN).await;
    let b = app.register("page-b", "postgres", DOWN).await;
    let mut made_a = Vec::new();
    for _ in 0..3 {
        let v = app.backup(&a).await;
        assert_eq!(v["status"], "failed", "{v}");
        made_a.push(v["id"].as_str().unwrap().to_string());
    }
    for _ in 0..2 {
        assert_eq!(app.backup(&b).await["status"], "failed");
    }
    made_a.reverse(); // newest first

    // A database's history: N+1 items with pages of N.
    let path = format!("/api/v1/databases/{a}/backups");
    let (items, sizes) = walk(&app, &path, 2).await;
    assert_eq!(sizes, vec![2, 1]);
    assert_eq!(ids(&items), made_a);
    let whole = app.get_json(&path).await;
    assert_eq!(whole["total"], 3);
    assert!(whole["next"].is_null(), "{whole}");

    // Every backup, and a filtered list.
    let (items, sizes) = walk(&app, "/api/v1/backups", 2).await;
    assert_eq!(sizes, vec![2, 2, 1]);
    let all = ids(&items);
    let mut distinct = all.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "{all:?}");
    let started: Vec<&str> = items
        .iter()
        .map(|v| v["started_at"].as_str().unwrap())
        .collect();
    assert!(started.windows(2).all(|w| w[0] >= w[1]), "{started:?}");
    let (failed, sizes) = walk(&app, "/api/v1/backups?status=failed", 4).await;
    assert_eq!(sizes, vec![4, 1]);
    assert_eq!(ids(&failed), all);
    let (of_a, _) = walk(&app, &format!("/api/v1/backups?database_id={a}"), 1).await;
    assert_eq!(ids(&of_a), made_a);

    // Alerts: one backup_failed per database, raised by the reactor.
    let start = Instant::now();
    while app.get_json("/api/v1/alerts").await["total"] != 2 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "alerts never raised"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (alerts, sizes) = walk(&app, "/api/v1/alerts", 1).await;
    assert_eq!(sizes, vec![1, 1]);
    assert_ne!(alerts[0]["id"], alerts[1]["id"]);

    let (restores, sizes) = walk(&app, "/api/v1/restores", 10).await;
    assert!(restores.is_empty() && sizes == vec![0]);
    assert_eq!(app.get_json("/api/v1/restores").await["total"], 0);

    // The timeline: a fixed range of N+1 events with pages of N, ascending and descending.
    let head = app.settled_head().await;
    let mut positions = Vec::new();
    let mut after = 0;
    loop {
        let page = app
            .get_json(&format!(
                "/api/v1/events?after={after}&before={}&limit={}",
                head + 1,
                head - 1
            ))
            .await;
        positions.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["position"].as_i64().unwrap()),
        );
        match page["next"].as_i64() {
            Some(n) => after = n,
            None => break,
        }
    }
    assert_eq!(positions, (1..=head).collect::<Vec<_>>());
    let last = app
        .get_json(&format!(
            "/api/v1/events?order=desc&before={}&limit={head}",
            head + 1
        ))
        .await;
    assert!(
        last["next"].is_null(),
        "a full last page has no next: {last}"
    );
}

#[tokio::test]
async fn a_cursor_the_server_did_not_give_is_a_400_problem() {
    let app = spawn_app().await;
    let a = app.register("page-bad", "postgres", DOWN).await;
    for route in [
        "/api/v1/backups".to_string(),
        format!("/api/v1/databases/{a}/backups"),
        "/api/v1/restores".to_string(),
        "/api/v1/alerts".to_string(),
    ] {
        for cursor in ["abc", "0", "-5", "12abc", "99999999999999999999"] {
            let r = app.get(&format!("{route}?cursor={cursor}")).await;
            assert_eq!(r.status(), 400, "{route} cursor={cursor}");
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            assert_eq!(ct, "application/problem+json", "{route}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["errors"][0]["field"], "cursor", "{route}: {body}");
        }
        let r = app.get(&format!("{route}?limit=1001")).await;
        assert_eq!(r.status(), 422, "{route} limit=1001");
    }
}
