//! A principal limited to some databases (a signed-in user and an API token, scoped by name and
//! by id) never learns the name or id of another database, nor the ids of its backups,
//! restores and alerts: not from any list route of the OpenAPI document, not from the
//! timeline under any filter, not from the live stream while another database is backed up,
//! and not from the metrics.

use crate::helpers::{spawn_app, TestApp};
use crate::principals::{create_user, issue_token, sign_in, As, PASSWORD};
use crate::support::pg;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn assert_hidden(what: &str, text: &str, hidden: &[String]) {
    for h in hidden {
        assert!(
            !text.contains(h.as_str()),
            "{what} names {h}, outside the principal's databases: {text}"
        );
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// Waits until the admin sees an open alert for `database_id`; returns its id.
async fn alert_of(app: &TestApp, database_id: &str) -> String {
    let start = Instant::now();
    loop {
        let alerts = As::admin().get_json(app, "/api/v1/alerts").await;
        let found = alerts["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|a| a["database_id"] == json!(database_id))
            .map(id_of);
        if let Some(id) = found {
            return id;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no alert for {database_id}: {alerts}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The GET routes of the OpenAPI document that need a role, with `{id}` filled in with an
/// object the scoped principals may see (routes about something else are left out).
async fn get_routes(app: &TestApp, in_db: &str, in_backup: &str) -> Vec<String> {
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let Some(op) = item.get("get") else { continue };
        // The stream never ends: it is read below, while something happens.
        if op["x-required-role"] == "none" || path.ends_with("/stream") {
            continue;
        }
        let id = match op["x-database-scope"].as_str() {
            _ if !path.contains("{id}") => "",
            Some("the database {id}") => in_db,
            Some("the database of backup {id}") => in_backup,
            _ => continue,
        };
        out.push(path.replace("{id}", id));
    }
    out
}

/// Reads an event stream until `done` says what was read is enough (or 120 s pass).
async fn read_stream(resp: &mut reqwest::Response, done: impl Fn(&str) -> bool) -> String {
    let mut buf = String::new();
    let start = Instant::now();
    while !done(&buf) && start.elapsed() < Duration::from_secs(120) {
        match tokio::time::timeout(Duration::from_secs(2), resp.chunk()).await {
            Ok(Ok(Some(chunk))) => buf.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(_) => break,
            Err(_) => {}
        }
    }
    buf
}

/// What a stream has sent by now, reading until it has been quiet for two seconds.
async fn drain_stream(resp: &mut reqwest::Response) -> String {
    let mut buf = String::new();
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout(Duration::from_secs(2), resp.chunk()).await
    {
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
    buf
}

#[tokio::test]
async fn a_scoped_principal_never_learns_of_other_databases() {
    let app = spawn_app().await;
    let inside = pg::TempDb::create("scope_in").await;
    let outside = pg::TempDb::create("scope_out").await;
    let gone = pg::TempDb::create("scope_gone").await;
    let in_db = app.register(inside.name(), "postgres", &inside.url()).await;
    let out_db = app
        .register(outside.name(), "postgres", &outside.url())
        .await;
    let gone_db = app.register(gone.name(), "postgres", &gone.url()).await;

    // Outside the scope: a backup verified, pinned and restored; a failed backup and its alert.
    let out_backup = app.backup(&out_db).await;
    assert_eq!(out_backup["status"], "completed", "{out_backup}");
    let out_backup = id_of(&out_backup);
    for action in ["verify", "pin"] {
        let r = app
            .post(&format!("/api/v1/backups/{out_backup}/{action}"), json!({}))
            .await;
        assert_eq!(r.status(), 200, "{action}");
    }
    let restore = app.restore(&out_backup, json!({})).await;
    assert_eq!(restore["status"], "completed", "{restore}");
    pg::drop_db(gone.name()).await;
    let failed = app.backup(&gone_db).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let alert = alert_of(&app, &gone_db).await;
    // Inside the scope: a backup, so that every list has something to show.
    let in_backup = app.backup(&in_db).await;
    assert_eq!(in_backup["status"], "completed", "{in_backup}");
    let in_backup = id_of(&in_backup);
    let mut hidden = vec![
        outside.name().to_string(),
        out_db.clone(),
        gone.name().to_string(),
        gone_db.clone(),
        out_backup.clone(),
        id_of(&failed),
        id_of(&restore),
        alert,
    ];

    // A user scoped by name (signed in), a token scoped by id.
    create_user(&app, "scoped", "operator", Some(vec![inside.name()])).await;
    let session = sign_in(&app, "scoped", PASSWORD).await.expect("signs in");
    let (_, token) = issue_token(&app, &As::admin(), "operator", Some(vec![&in_db])).await;
    let principals = [
        ("scoped session", session),
        ("scoped token", As::Bearer(token)),
    ];

    // Every list and every route about something it sees.
    let routes = get_routes(&app, &in_db, &in_backup).await;
    assert!(routes.len() >= 20, "{routes:?}");
    for (label, who) in &principals {
        for path in &routes {
            let r = who.send(&app, "GET", path, None).await;
            let status = r.status().as_u16();
            let text = r.text().await.expect("body");
            // 200, 403 (not for scoped principals), or what the route says of a database with
            // nothing of that kind (404, 422): never a failure to authenticate or a crash.
            assert!(
                status != 401 && status < 500,
                "GET {path} as {label}: {status} {text}"
            );
            assert_hidden(&format!("GET {path} as {label}"), &text, &hidden);
        }
        // Not vacuous: what is in scope is there.
        let dbs = who.get_json(&app, "/api/v1/databases").await;
        assert!(dbs.to_string().contains(&in_db), "{label}: {dbs}");
        let backups = who.get_json(&app, "/api/v1/backups").await;
        assert!(backups.to_string().contains(&in_backup), "{label}");
    }

    // The timeline under every filter.
    let head = app.head().await;
    let queries = [
        String::new(),
        "order=desc".into(),
        "limit=1000&after=0".into(),
        format!("before={}&order=desc", head + 1),
        format!("database_id={out_db}"),
        format!("database_id={gone_db}"),
        format!("database_id={}", outside.name()),
        "type=DatabaseRegistered".into(),
        "type=BackupStarted".into(),
        "type=BackupCompleted".into(),
        "type=BackupFailed".into(),
        "type=BackupVerified".into(),
        "type=BackupPinned".into(),
        "type=RestoreStarted".into(),
        "type=RestoreCompleted".into(),
        "type=AlertRaised".into(),
        "actor=token:bootstrap".into(),
        "actor=system:scheduler".into(),
        "since=2000-01-01T00:00:00Z".into(),
        "until=2100-01-01T00:00:00Z".into(),
        "since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z&order=desc&limit=5".into(),
    ];
    for (label, who) in &principals {
        for q in &queries {
            let path = format!("/api/v1/events?{q}");
            let v = who.get_json(&app, &path).await;
            assert_hidden(&format!("GET {path} as {label}"), &v.to_string(), &hidden);
        }
        let registered = who
            .get_json(&app, "/api/v1/events?type=DatabaseRegistered")
            .await;
        let items = registered["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{label}: {registered}");
        assert_eq!(items[0]["database_id"], json!(in_db));
    }

    // The live stream, from the start and from now, while the other database is backed up.
    let mut streams = Vec::new();
    for (label, who) in &principals {
        for query in ["?after=0", "", &format!("?database_id={out_db}")] {
            let path = format!("/api/v1/events/stream{query}");
            let resp = who
                .request(&app, "GET", &path)
                .send()
                .await
                .expect("stream");
            assert_eq!(resp.status(), 200, "{path} as {label}");
            streams.push((format!("{path} as {label}"), resp));
        }
    }
    let started = app
        .post(&format!("/api/v1/databases/{out_db}/backups"), json!({}))
        .await;
    assert_eq!(started.status(), 202);
    let during = id_of(&started.json::<Value>().await.expect("json"));
    hidden.push(during.clone());
    let done = app.wait_for(&format!("/api/v1/backups/{during}")).await;
    assert_eq!(done["status"], "completed", "{done}");
    let last = app.backup(&in_db).await;
    let last = id_of(&last);
    for (what, resp) in &mut streams {
        let text = if what.contains("database_id=") {
            drain_stream(resp).await
        } else {
            // Until the scope's own backup, started after the other one ended, completes.
            let text = read_stream(resp, |b| {
                b.find(&last)
                    .is_some_and(|at| b[at..].contains("BackupCompleted"))
            })
            .await;
            assert!(text.contains(&last), "{what} never sent {last}: {text}");
            text
        };
        assert_hidden(what, &text, &hidden);
    }

    // The metrics, as each principal.
    for (label, who) in &principals {
        let r = who.send(&app, "GET", "/metrics", None).await;
        assert_eq!(r.status(), 200, "/metrics as {label}");
        let text = r.text().await.expect("metrics");
        assert!(
            text.contains(&format!("database=\"{}\"", inside.name())),
            "/metrics as {label} lacks its own database: {text}"
        );
        assert_hidden(&format!("/metrics as {label}"), &text, &hidden);
    }
    // The admin sees them all (the check above could not pass by showing nothing).
    let r = As::admin().send(&app, "GET", "/metrics", None).await;
    let all = r.text().await.expect("metrics");
    assert!(all.contains(outside.name()), "{all}");
}
