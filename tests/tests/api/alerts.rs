//! Alerts end to end: failures raise one alert per (database, kind), repeats are counted, the
//! next success resolves it; notifications reach real peers (a webhook receiver in this test
//! binary, a maildev SMTP server) with retries recorded as events; watchdogs catch missed
//! schedules and stalled dumps; metrics and the live event stream count what happened.

use crate::helpers::{backline_bin, spawn_app_configured, TestApp, TOKEN};
use crate::support::pg;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::Connection;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------- a real webhook peer ----------

#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer, in order; 200 once they run out.
    script: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    fn requests(&self, path: &str) -> Vec<Received> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

async fn receive(
    AxState(r): AxState<Receiver>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    r.got.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        headers,
        body,
        at: Instant::now(),
    });
    let mut s = r.script.lock().unwrap();
    let code = if s.is_empty() { 200 } else { s.remove(0) };
    StatusCode::from_u16(code).unwrap()
}

async fn spawn_receiver_on(
    listener: tokio::net::TcpListener,
    script: Vec<u16>,
) -> (Receiver, String) {
    let r = Receiver {
        got: Default::default(),
        script: Arc::new(Mutex::new(script)),
    };
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(r.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    (r, format!("http://{addr}"))
}

async fn spawn_receiver(script: Vec<u16>) -> (Receiver, String) {
    spawn_receiver_on(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        script,
    )
    .await
}

// ---------- a real SMTP peer ----------

struct MailDev {
    child: tokio::process::Child,
    smtp_port: u16,
    web: String,
}

impl Drop for MailDev {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl MailDev {
    async fn start() -> MailDev {
        for _ in 0..5 {
            let (smtp, web) = (free_port(), free_port());
            let child = tokio::process::Command::new("maildev")
                .args(["--smtp", &smtp.to_string(), "--web", &web.to_string()])
                .args(["--ip", "127.0.0.1", "--web-ip", "127.0.0.1"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("maildev is installed (npm install -g maildev@2; see .ci/run)");
            let mut m = MailDev {
                child,
                smtp_port: smtp,
                web: format!("http://127.0.0.1:{web}"),
            };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(20) {
                if let Ok(Some(_)) = m.child.try_wait() {
                    break; // a port was taken meanwhile: try others
                }
                let smtp_up = tokio::net::TcpStream::connect(("127.0.0.1", smtp))
                    .await
                    .is_ok();
                let web_up = reqwest::get(format!("{}/email", m.web))
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if smtp_up && web_up {
                    return m;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        panic!("maildev did not start");
    }

    async fn emails(&self) -> Vec<Value> {
        reqwest::get(format!("{}/email", self.web))
            .await
            .unwrap()
            .json::<Vec<Value>>()
            .await
            .unwrap()
    }
}

// ---------- helpers ----------

async fn fast_app(adjust: impl FnOnce(&mut backline_app::Settings)) -> TestApp {
    spawn_app_configured(|s| {
        s.notify_retry_base_ms = 200;
        adjust(s)
    })
    .await
}

/// A registered PostgreSQL database whose server database does not exist yet (backups
/// fail at `connect`); `create` makes it exist so the next backup succeeds.
struct Flaky {
    id: String,
    pg_name: String,
    name: String,
}

impl Flaky {
    async fn register(app: &TestApp, name_prefix: &str) -> Flaky {
        let pg_name = pg::unique_name(name_prefix);
        let name = pg_name.replace('_', "-");
        let id = app.register(&name, "postgres", &pg::db_url(&pg_name)).await;
        Flaky { id, pg_name, name }
    }

    async fn create(&self) {
        pg::create_db(&self.pg_name).await;
    }

    async fn drop(&self) {
        pg::drop_db(&self.pg_name).await;
    }
}

async fn eventually<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn alerts_of(app: &TestApp, db_id: &str, state: Option<&str>) -> Vec<Value> {
    let q = match state {
        Some(s) => format!("/api/v1/alerts?database_id={db_id}&state={s}"),
        None => format!("/api/v1/alerts?database_id={db_id}"),
    };
    app.get_json(&q).await["items"].as_array().unwrap().clone()
}

async fn add_channel(app: &TestApp, body: Value) -> Value {
    let r = app.post("/api/v1/channels", body.clone()).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "add channel {body}: {v}");
    v
}

fn verify_signature(secret: &str, r: &Received) -> Value {
    let sig = r.headers["x-backline-signature"].to_str().unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&r.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(sig, expected, "HMAC-SHA256 of the raw body");
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    let ts: i64 = r.headers["x-backline-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        body["timestamp"],
        json!(ts),
        "the signed body carries the timestamp header"
    );
    assert!(
        (chrono::Utc::now().timestamp() - ts).abs() < 60,
        "timestamp is fresh"
    );
    body
}

// ---------- step 1: alerts, webhooks ----------

#[tokio::test]
async fn a_failure_alerts_every_webhook_style_once_and_the_next_success_resolves_it() {
    let app = fast_app(|_| {}).await;
    let (rx, base) = spawn_receiver(vec![]).await;
    add_channel(&app, json!({"name": "slack", "type": "webhook", "style": "slack", "url": format!("{base}/slack/T0/B0/secret-token")})).await;
    add_channel(&app, json!({"name": "discord", "type": "webhook", "style": "discord", "url": format!("{base}/discord")})).await;
    let generic = add_channel(&app, json!({"name": "ops-hook", "type": "webhook", "url": format!("{base}/generic"), "secret": "s3cret"})).await;
    assert_eq!(
        generic["secret"], "s3cret",
        "the secret is shown once, at creation"
    );
    assert_eq!(generic["signed"], true);
    let listed = app.get_json("/api/v1/channels").await.to_string();
    assert!(
        !listed.contains("secret-token") && !listed.contains("s3cret"),
        "{listed}"
    );

    let db = Flaky::register(&app, "alert_hooks").await;
    let b = app.backup(&db.id).await;
    assert_eq!(b["status"], "failed");
    let (slack, discord, gen) = eventually("three webhook deliveries", 30, async || {
        let (s, d, g) = (
            rx.requests("/slack/T0/B0/secret-token"),
            rx.requests("/discord"),
            rx.requests("/generic"),
        );
        (s.len() == 1 && d.len() == 1 && g.len() == 1)
            .then(|| (s[0].clone(), d[0].clone(), g[0].clone()))
    })
    .await;
    let s: Value = serde_json::from_slice(&slack.body).unwrap();
    let text = s["text"].as_str().unwrap();
    assert!(
        text.contains(&db.name) && text.contains("backup failed"),
        "{s}"
    );
    assert!(
        s["attachments"][0]["title_link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/databases/{}", db.id)),
        "{s}"
    );
    let d: Value = serde_json::from_slice(&discord.body).unwrap();
    assert!(d["content"].as_str().unwrap().contains(&db.name), "{d}");
    assert!(
        d["embeds"][0]["title"]
            .as_str()
            .unwrap()
            .contains("backup failed"),
        "{d}"
    );
    let g = verify_signature("s3cret", &gen);
    assert_eq!(g["kind"], "backup_failed");
    assert_eq!(g["notice"], "raised");
    assert_eq!(g["database_id"], json!(db.id));
    assert!(g["message"].as_str().unwrap().contains("connect"), "{g}");
    assert!(
        slack.headers.get("x-backline-signature").is_none(),
        "only generic webhooks are signed"
    );

    let open = alerts_of(&app, &db.id, Some("open")).await;
    assert_eq!(open.len(), 1, "{open:?}");
    let alert_id = open[0]["id"].as_str().unwrap().to_string();
    assert_eq!(open[0]["count"], 1);

    // A second failure: counted, not re-sent.
    assert_eq!(app.backup(&db.id).await["status"], "failed");
    eventually("the repeat to be counted", 20, async || {
        (app.get_json(&format!("/api/v1/alerts/{alert_id}")).await["count"] == 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rx.requests("/generic").len(), 1, "a repeat sends nothing");
    assert_eq!(app.events_of("AlertRaised").await.len(), 1);

    // Acknowledged: still open for resolution, listed as acknowledged.
    let r = app
        .post(&format!("/api/v1/alerts/{alert_id}/acknowledge"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(alerts_of(&app, &db.id, Some("acknowledged")).await.len(), 1);
    let again = app
        .post(&format!("/api/v1/alerts/{alert_id}/acknowledge"), json!({}))
        .await;
    assert_eq!(again.status(), 409);

    // The next success resolves it, with a "resolved" notification everywhere.
    db.create().await;
    assert_eq!(app.backup(&db.id).await["status"], "completed");
    let resolved = eventually("resolved notifications", 30, async || {
        let g = rx.requests("/generic");
        (g.len() == 2
            && rx.requests("/slack/T0/B0/secret-token").len() == 2
            && rx.requests("/discord").len() == 2)
            .then(|| g[1].clone())
    })
    .await;
    let body = verify_signature("s3cret", &resolved);
    assert_eq!(body["notice"], "resolved");
    assert_eq!(body["resolved_by"], "BackupCompleted");
    let a = app.get_json(&format!("/api/v1/alerts/{alert_id}")).await;
    assert_eq!(a["state"], "resolved", "{a}");
    assert_eq!(alerts_of(&app, &db.id, Some("resolved")).await.len(), 1);
    assert_eq!(alerts_of(&app, &db.id, Some("open")).await.len(), 0);
    let bad = app.get("/api/v1/alerts?state=closed").await;
    assert_eq!(bad.status(), 422);
    // Ledger: every delivery is an event; secrets never reach the timeline.
    // The receiver answers before the delivery is recorded: wait for the records.
    let notified = eventually("6 recorded deliveries", 10, async || {
        let n = app.events_of("AlertNotified").await;
        (n.len() >= 6).then_some(n)
    })
    .await;
    assert_eq!(notified.len(), 6, "3 raised + 3 resolved deliveries");
    assert!(notified
        .iter()
        .all(|e| e["payload"]["outcome"] == "delivered"));
    let added = Value::from(app.events_of("ChannelAdded").await).to_string();
    assert!(
        !added.contains("secret-token") && !added.contains("s3cret"),
        "{added}"
    );
    db.drop().await;
}

#[tokio::test]
async fn a_failing_webhook_is_retried_with_backoff_and_a_dead_one_shows_as_failing() {
    let app = fast_app(|_| {}).await;
    let (rx, base) = spawn_receiver(vec![500, 500]).await;
    let flaky = add_channel(&app, json!({"name": "flaky", "type": "webhook", "style": "generic", "url": format!("{base}/hook")})).await;
    let dead_port = free_port();
    let dead = add_channel(&app, json!({"name": "dead", "type": "webhook", "style": "slack", "url": format!("http://127.0.0.1:{dead_port}/x")})).await;
    let db = Flaky::register(&app, "alert_retry").await;
    assert_eq!(app.backup(&db.id).await["status"], "failed");
    let got = eventually("the third attempt", 30, async || {
        let g = rx.requests("/hook");
        (g.len() == 3).then_some(g)
    })
    .await;
    let gap1 = got[1].at - got[0].at;
    let gap2 = got[2].at - got[1].at;
    eprintln!("retry gaps: {gap1:?}, {gap2:?}");

    assert!(gap1 >= Duration::from_millis(180), "{gap1:?}");
    // Lower bounds only: a loaded machine can delay any attempt, never bring one forward. The
    // second wait being at least twice the first delay is what shows the back-off grows.
    assert!(
        gap2 >= Duration::from_millis(380),
        "exponential: {gap1:?} then {gap2:?}"
    );
    let flaky_id = flaky["id"].as_str().unwrap();
    let attempts = eventually("three recorded attempts", 10, async || {
        let ev: Vec<Value> = app
            .events_of("AlertNotified")
            .await
            .into_iter()
            .filter(|e| e["payload"]["channel_id"] == flaky_id)
            .collect();
        (ev.len() == 3).then_some(ev)
    })
    .await;
    let shape: Vec<(u64, String, u64)> = attempts
        .iter()
        .map(|e| {
            let p = &e["payload"];
            (
                p["attempt"].as_u64().unwrap(),
                p["outcome"].as_str().unwrap().to_string(),
                p["status_code"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            (1, "failed".into(), 500),
            (2, "failed".into(), 500),
            (3, "delivered".into(), 200)
        ]
    );
    let c = app.get_json(&format!("/api/v1/channels/{flaky_id}")).await;
    assert_eq!(
        (
            c["deliveries_failed"].as_u64(),
            c["consecutive_failures"].as_u64(),
            c["failing"].as_bool()
        ),
        (Some(2), Some(0), Some(false)),
        "{c}"
    );
    let dead_id = dead["id"].as_str().unwrap();
    let d = eventually("the dead channel to count as failing", 30, async || {
        let d = app.get_json(&format!("/api/v1/channels/{dead_id}")).await;
        (d["failing"] == true).then_some(d)
    })
    .await;
    assert!(
        d["last_error"].as_str().unwrap().contains("cannot reach"),
        "{d}"
    );
    db.drop().await;
}

#[tokio::test]
async fn channels_are_validated_tested_and_removed() {
    let app = fast_app(|_| {}).await;
    let (rx, base) = spawn_receiver(vec![]).await;
    for (body, field) in [
        (json!({"name": "x", "type": "pager"}), "type"),
        (
            json!({"name": "x", "type": "webhook", "url": "ftp://h/x"}),
            "url",
        ),
        (
            json!({"name": "x", "type": "webhook", "url": format!("{base}/a"), "style": "matrix"}),
            "style",
        ),
        (json!({"name": "x", "type": "email", "to": []}), "to"),
        (
            json!({"name": "x", "type": "email", "to": ["nobody"]}),
            "to",
        ),
        (
            json!({"name": " ", "type": "email", "to": ["a@example.com"]}),
            "name",
        ),
        // This server has no SMTP: said at once, not three failed deliveries later.
        (
            json!({"name": "x", "type": "email", "to": ["a@example.com"]}),
            "type",
        ),
    ] {
        let r = app.post("/api/v1/channels", body.clone()).await;
        assert_eq!(r.status(), 422, "{body}");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["errors"][0]["field"], field, "{body}: {p}");
    }
    assert!(
        app.events_of("ChannelAdded").await.is_empty(),
        "a 4xx records nothing"
    );
    let c = add_channel(
        &app,
        json!({"name": "hook", "type": "webhook", "url": format!("{base}/t")}),
    )
    .await;
    let id = c["id"].as_str().unwrap();
    let secret = c["secret"].as_str().unwrap().to_string();
    assert!(
        secret.len() >= 32,
        "a generic webhook gets a signing secret"
    );
    let t: Value = app
        .post(&format!("/api/v1/channels/{id}/test"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["ok"], true, "{t}");
    let got = rx.requests("/t");
    assert_eq!(got.len(), 1);
    verify_signature(&secret, &got[0]);
    assert_eq!(
        app.get_json(&format!("/api/v1/channels/{id}")).await["last_test"]["outcome"],
        "delivered"
    );
    let del = app
        .client
        .delete(app.url(&format!("/api/v1/channels/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let again = app
        .client
        .delete(app.url(&format!("/api/v1/channels/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    assert!(app.get_json("/api/v1/channels").await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    let gone = app
        .post(&format!("/api/v1/channels/{id}/test"), json!({}))
        .await;
    assert_eq!(gone.status(), 404);
}

// ---------- step 2: email ----------

#[tokio::test]
async fn email_alerts_go_out_once_and_resolve_through_real_smtp() {
    let mail = MailDev::start().await;
    let app = fast_app(|s| {
        s.smtp_url = Some(format!("smtp://127.0.0.1:{}", mail.smtp_port));
        s.alert_from = Some("backline@example.com".into());
        s.public_url = Some("https://backline.example.com".into());
    })
    .await;
    add_channel(
        &app,
        json!({"name": "ops-mail", "type": "email", "to": ["ops@example.com", "dba@example.com"]}),
    )
    .await;
    let db = Flaky::register(&app, "alert_mail").await;
    assert_eq!(app.backup(&db.id).await["status"], "failed");
    let first = eventually("the alert email", 30, async || {
        let m = mail.emails().await;
        (!m.is_empty()).then_some(m)
    })
    .await;
    assert_eq!(first.len(), 1, "exactly one email: {first:?}");
    let e = &first[0];
    assert_eq!(
        e["subject"],
        json!(format!("[Backline] {}: backup failed", db.name))
    );
    let to: Vec<&str> = e["to"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert_eq!(to, vec!["ops@example.com", "dba@example.com"]);
    assert_eq!(e["from"][0]["address"], "backline@example.com");
    let text = e["text"].as_str().unwrap();
    let html = e["html"].as_str().unwrap();
    for body in [text, html] {
        assert!(body.contains(&db.name), "names the database: {body}");
        assert!(body.contains("connect"), "says what failed: {body}");
        assert!(
            body.contains(&format!("https://backline.example.com/databases/{}", db.id)),
            "links the UI: {body}"
        );
    }
    assert!(text.contains("When: 20"), "says when: {text}");

    assert_eq!(app.backup(&db.id).await["status"], "failed");
    eventually("the repeat", 20, async || {
        (alerts_of(&app, &db.id, Some("open")).await.first()?["count"] == 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        mail.emails().await.len(),
        1,
        "no duplicate for the second failure"
    );

    db.create().await;
    assert_eq!(app.backup(&db.id).await["status"], "completed");
    let all = eventually("the resolved email", 30, async || {
        let m = mail.emails().await;
        (m.len() >= 2).then_some(m)
    })
    .await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(
        all[1]["subject"],
        json!(format!("[Backline] RESOLVED: {}: backup failed", db.name))
    );
    assert!(all[1]["text"].as_str().unwrap().contains("BackupCompleted"));
    db.drop().await;
}

// ---------- step 3: metrics and the event stream ----------

fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            let (head, _) = l.rsplit_once(' ').unwrap_or((l, ""));
            let bare = head.split('{').next().unwrap();
            bare == name
                && labels
                    .iter()
                    .all(|(k, v)| head.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit_once(' ').unwrap().1.parse().ok())
}

#[tokio::test]
async fn metrics_count_what_happened_and_parse_as_prometheus_text() {
    let app = fast_app(|_| {}).await;
    let db = Flaky::register(&app, "alert_metrics").await;
    app.backup(&db.id).await;
    db.create().await;
    app.backup(&db.id).await;
    app.backup(&db.id).await;
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    // Every sample line is `name{labels} value` with a numeric value.
    for l in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (head, value) = l
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {l:?}"));
        assert!(value.parse::<f64>().is_ok(), "bad value in {l:?}");
        let name = head.split('{').next().unwrap();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name in {l:?}"
        );
    }
    let l = [("database", db.name.as_str()), ("engine", "postgres")];
    assert_eq!(
        metric(&text, "backline_backups_started_total", &l),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "backline_backups_completed_total", &l),
        Some(2.0)
    );
    assert_eq!(
        metric(&text, "backline_backups_failed_total", &l),
        Some(1.0)
    );
    assert!(metric(&text, "backline_backup_bytes_written_total", &l).unwrap() > 0.0);
    assert_eq!(
        metric(&text, "backline_backup_duration_seconds_count", &l),
        Some(2.0)
    );
    assert!(
        metric(
            &text,
            "backline_last_success_timestamp_seconds",
            &[("database", &db.name)]
        )
        .unwrap()
            > 1.7e9
    );
    assert_eq!(
        metric(&text, "backline_ledger_position", &[]),
        Some(app.head().await as f64)
    );
    assert!(
        text.contains("# TYPE backline_backup_duration_seconds histogram"),
        "{text}"
    );
    db.drop().await;
}

#[tokio::test]
async fn the_event_stream_sends_new_events_and_resumes_after_last_event_id() {
    let app = fast_app(|_| {}).await;
    let db = pg::TempDb::create("alert_sse").await;
    let id = app.register("sse-db", "postgres", &db.url()).await;
    let head = app.head().await;
    let mut resp = app
        .client
        .get(app.url("/api/v1/events/stream"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    app.backup(&id).await;
    let mut buf = String::new();
    let start = Instant::now();
    while !buf.contains("BackupCompleted") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no BackupCompleted in {buf}"
        );
        if let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .unwrap_or(Ok(None))
        {
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    let items: Vec<(i64, Value)> = buf
        .split("\n\n")
        .filter_map(|block| {
            let id = block
                .lines()
                .find_map(|l| l.strip_prefix("id:"))?
                .trim()
                .parse()
                .ok()?;
            let data = block.lines().find_map(|l| l.strip_prefix("data:"))?.trim();
            Some((id, serde_json::from_str(data).ok()?))
        })
        .collect();
    assert!(items.iter().all(|(p, _)| *p > head), "only new events");
    let types: Vec<&str> = items
        .iter()
        .map(|(_, v)| v["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        &types[..2],
        &["BackupStarted", "BackupCompleted"][..],
        "{types:?}"
    );
    // Same items as GET /events.
    let page = app
        .get_json(&format!("/api/v1/events?after={head}&limit=2"))
        .await;
    assert_eq!(page["items"][0], items[0].1);
    // Resume after the first one.
    let mut again = app
        .client
        .get(app.url("/api/v1/events/stream"))
        .bearer_auth(TOKEN)
        .header("Last-Event-ID", items[0].0.to_string())
        .send()
        .await
        .unwrap();
    let chunk = tokio::time::timeout(Duration::from_secs(10), again.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&chunk);
    assert!(
        text.contains(&format!("id: {}", items[1].0))
            || text.contains(&format!("id:{}", items[1].0)),
        "{text}"
    );
}

// ---------- step 4: missed schedule and stall ----------

#[tokio::test]
async fn a_schedule_nobody_runs_raises_a_missed_schedule_alert() {
    // This process runs no scheduler: the slots come and go with no backup.
    let app = fast_app(|s| {
        s.scheduler = false;
        s.missed_schedule_grace_secs = 1;
    })
    .await;
    let db = pg::TempDb::create("alert_missed").await;
    let r = app
        .post("/api/v1/databases", json!({"name": "nightly", "engine": "postgres", "connection": db.url(), "schedule": "*/2 * * * * *"}))
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let alert = eventually("a missed-schedule alert counted twice", 30, async || {
        let a = alerts_of(&app, &id, Some("open"))
            .await
            .into_iter()
            .next()?;
        (a["count"].as_u64()? >= 2).then_some(a)
    })
    .await;
    assert_eq!(alert["kind"], "missed_schedule", "{alert}");
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("no backup started"),
        "{alert}"
    );
    assert_eq!(
        app.events_of("AlertRaised").await.len(),
        1,
        "one alert, repeats counted"
    );
    // A manual backup that succeeds resolves it.
    assert_eq!(app.backup(&id).await["status"], "completed");
    eventually("resolution", 20, async || {
        (app.get_json(&format!("/api/v1/alerts/{}", alert["id"].as_str().unwrap()))
            .await["state"]
            == "resolved")
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_schedule_that_runs_raises_no_missed_schedule_alert() {
    let app = fast_app(|s| s.missed_schedule_grace_secs = 3).await;
    let db = pg::TempDb::create("alert_notmissed").await;
    let r = app
        .post("/api/v1/databases", json!({"name": "often", "engine": "postgres", "connection": db.url(), "schedule": "*/4 * * * * *"}))
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let _ = app
        .post(&format!("/api/v1/databases/{id}/pause"), json!({}))
        .await;
    assert!(
        !app.events_of("ScheduledRunClaimed").await.is_empty(),
        "the scheduler ran"
    );
    assert!(
        alerts_of(&app, &id, None).await.is_empty(),
        "no alert while slots run"
    );
}

#[tokio::test]
async fn a_dump_blocked_on_a_lock_is_cancelled_as_stalled_and_alerted() {
    let app = fast_app(|s| s.stall_timeout_secs = 2).await;
    let db = pg::TempDb::create("alert_stall").await;
    let mut c = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    sqlx::raw_sql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
        .execute(&mut c)
        .await
        .unwrap();
    let id = app.register("locked", "postgres", &db.url()).await;
    // Hold an exclusive lock: pg_dump waits for it and writes nothing.
    let mut lock = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .execute(&mut lock)
        .await
        .unwrap();
    let started = Instant::now();
    let b = app.backup(&id).await;
    let took = started.elapsed();
    assert_eq!(b["status"], "failed", "{b}");
    assert_eq!(b["error"]["stage"], "stalled", "{b}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(20),
        "{took:?}"
    );
    let alert = eventually("the stall alert", 20, async || {
        alerts_of(&app, &id, Some("open")).await.into_iter().next()
    })
    .await;
    assert_eq!(alert["kind"], "backup_stalled", "{alert}");
    // The dump really stopped: no pg_dump session is left waiting on the lock.
    let n: i64 = eventually("pg_dump to be gone", 10, async || {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pg_dump'")
            .bind(db.name())
            .fetch_one(&mut c)
            .await
            .unwrap();
        (n == 0).then_some(n)
    })
    .await;
    assert_eq!(n, 0);
    sqlx::raw_sql("ROLLBACK").execute(&mut lock).await.unwrap();
    // Once the lock is gone the next backup completes and resolves the alert.
    assert_eq!(app.backup(&id).await["status"], "completed");
    eventually("resolution", 20, async || {
        (app.get_json(&format!("/api/v1/alerts/{}", alert["id"].as_str().unwrap()))
            .await["state"]
            == "resolved")
            .then_some(())
    })
    .await;
}

// ---------- step 5: restart ----------

struct Proc(std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(data: &std::path::Path, port: u16) -> Proc {
    Proc(
        std::process::Command::new(backline_bin())
            .arg("serve")
            .env("BACKLINE_DATA_DIR", data)
            .env("BACKLINE_LISTEN", format!("127.0.0.1:{port}"))
            .env("BACKLINE_ADMIN_TOKEN", TOKEN)
            .env("BACKLINE_NOTIFY_RETRY_BASE_MS", "200")
            .env("BACKLINE_ALLOW_PRIVATE_WEBHOOKS", "true")
            .env("BACKLINE_LOG", "warn")
            .env_remove("BACKLINE_STORAGE_URL")
            .env_remove("BACKLINE_LEDGER_URL")
            .env_remove("BACKLINE_SMTP_URL")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("backline serve"),
    )
}

#[tokio::test]
async fn an_alert_pending_when_the_server_is_killed_is_sent_once_after_restart() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            client
                .get(url)
                .bearer_auth(TOKEN)
                .send()
                .await
                .ok()?
                .json::<Value>()
                .await
                .ok()
        }
    };
    let mut server = serve(data.path(), port);
    eventually("the server", 30, async || {
        get("/api/v1/channels".into()).await
    })
    .await;
    // The webhook's peer is down for now.
    let hook_port = free_port();
    let r = client
        .post(format!("{base}/api/v1/channels"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "later", "type": "webhook", "url": format!("http://127.0.0.1:{hook_port}/hook")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let pg_name = pg::unique_name("alert_restart");
    let r: Value = client
        .post(format!("{base}/api/v1/databases"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "restart-db", "engine": "postgres", "connection": pg::db_url(&pg_name)}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let db_id = r["id"].as_str().unwrap().to_string();
    let r = client
        .post(format!("{base}/api/v1/databases/{db_id}/backups?wait=true"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 424, "the backup failed");
    eventually("a failed delivery attempt", 30, async || {
        let v = get("/api/v1/events?type=AlertNotified".into()).await?;
        (!v["items"].as_array()?.is_empty()).then_some(())
    })
    .await;
    // Kill -9: no clean shutdown.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    drop(server);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", hook_port))
        .await
        .unwrap();
    let (rx, _) = spawn_receiver_on(listener, vec![]).await;
    let _server = serve(data.path(), port);
    eventually("the delivery after restart", 40, async || {
        (rx.requests("/hook").len() == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(rx.requests("/hook").len(), 1, "sent exactly once");
    let raised = get("/api/v1/events?type=AlertRaised".into()).await.unwrap();
    assert_eq!(
        raised["items"].as_array().unwrap().len(),
        1,
        "raised once across the restart"
    );
    let notified = get("/api/v1/events?type=AlertNotified".into())
        .await
        .unwrap();
    let outcomes: Vec<&str> = notified["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["payload"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes.last(), Some(&"delivered"));
    assert_eq!(
        outcomes.iter().filter(|o| **o == "delivered").count(),
        1,
        "{outcomes:?}"
    );
}
