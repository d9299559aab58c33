//! Telegram, Microsoft Teams, ntfy, Mattermost and Gotify channels. The real services are not
//! reachable from here, so a receiver in this test binary stands in for each one and the test
//! checks the exact request each service documents: method, path, headers and JSON shape,
//! the alert's text escaped for the service's markup, tokens only where the service reads them
//! (never in the API's answers or the ledger), retries and `AlertNotified` as for webhooks.

use crate::helpers::{spawn_app_configured, TestApp};
use crate::support::pg;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
struct Req {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Value,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone, Default)]
struct Peer {
    got: Arc<Mutex<Vec<Req>>>,
    /// Statuses to answer, in order; 200 once they run out.
    script: Arc<Mutex<Vec<u16>>>,
}

impl Peer {
    async fn start(script: Vec<u16>) -> (Peer, String) {
        let p = Peer {
            got: Default::default(),
            script: Arc::new(Mutex::new(script)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = axum::Router::new().fallback(receive).with_state(p.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.ok() });
        (p, format!("http://{addr}"))
    }

    fn at(&self, path: &str) -> Vec<Req> {
        let got = self.got.lock().unwrap();
        got.iter()
            .filter(|r| r.uri.path() == path)
            .cloned()
            .collect()
    }
}

async fn receive(
    AxState(p): AxState<Peer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    p.got.lock().unwrap().push(Req {
        method,
        uri,
        headers,
        body,
    });
    let mut s = p.script.lock().unwrap();
    let code = if s.is_empty() { 200 } else { s.remove(0) };
    StatusCode::from_u16(code).unwrap()
}

async fn app() -> TestApp {
    spawn_app_configured(|s| s.notify_retry_base_ms = 200).await
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

async fn add(app: &TestApp, body: Value) -> Value {
    let r = app.post("/api/v1/channels", body.clone()).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "add channel {body}: {v}");
    v
}

/// A registered database whose PostgreSQL database does not exist: its backups fail.
async fn failing_database(app: &TestApp, prefix: &str) -> (String, String) {
    let pg_name = pg::unique_name(prefix);
    let name = pg_name.replace('_', "-");
    let id = app.register(&name, "postgres", &pg::db_url(&pg_name)).await;
    assert_eq!(app.backup(&id).await["status"], "failed");
    (id, name)
}

const TG_TOKEN: &str = "123456789:AAE-tg_secret_token";
const NTFY_TOKEN: &str = "tk_ntfysecrettoken";
const GOTIFY_TOKEN: &str = "AgotifySecretTok";
const TEAMS_SIG: &str = "teamsSigSecret";
const MM_KEY: &str = "mmhooksecretkey";

fn assert_json_post(r: &Req) {
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
}

#[tokio::test]
async fn each_service_receives_the_request_it_documents() {
    let app = app().await;
    let (peer, base) = Peer::start(vec![]).await;
    let tg = add(&app, json!({"name": "tg", "type": "webhook", "style": "telegram", "url": format!("{base}/tg"), "token": TG_TOKEN, "chat_id": "-1001234567890"})).await;
    assert_eq!(
        (tg["token_set"].as_bool(), tg["signed"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(tg["secret"].is_null(), "a token is never shown back: {tg}");
    let teams_path = "/workflows/abc/triggers/manual/paths/invoke";
    add(&app, json!({"name": "teams", "type": "webhook", "style": "teams", "url": format!("{base}{teams_path}?api-version=2016-06-01&sig={TEAMS_SIG}")})).await;
    let ntfy = add(&app, json!({"name": "ntfy", "type": "webhook", "style": "ntfy", "url": format!("{base}/ntfy/backline-alerts"), "token": NTFY_TOKEN, "priority": 5})).await;
    assert_eq!(ntfy["priority"], 5);
    add(&app, json!({"name": "mm", "type": "webhook", "style": "mattermost", "url": format!("{base}/hooks/{MM_KEY}")})).await;
    let gotify = add(&app, json!({"name": "gotify", "type": "webhook", "style": "gotify", "url": format!("{base}/gotify"), "token": GOTIFY_TOKEN})).await;
    assert_eq!(gotify["priority"], 8, "Gotify's default priority");

    let (db_id, db_name) = failing_database(&app, "notif_shape").await;
    let tg_path = format!("/tg/bot{TG_TOKEN}/sendMessage");
    let mm_path = format!("/hooks/{MM_KEY}");
    eventually("one request at each service", 30, async || {
        let n = [
            tg_path.as_str(),
            teams_path,
            "/ntfy/",
            &mm_path,
            "/gotify/message",
        ]
        .map(|p| peer.at(p).len());
        (n == [1; 5]).then_some(())
    })
    .await;

    // Telegram: POST /bot<token>/sendMessage, HTML parse mode, the error text escaped.
    let t = &peer.at(&tg_path)[0];
    assert_json_post(t);
    assert_eq!(t.body["chat_id"], json!(-1001234567890i64));
    assert_eq!(t.body["parse_mode"], "HTML");
    assert_eq!(t.body["link_preview_options"], json!({"is_disabled": true}));
    let text = t.body["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("<b>[Backline] {db_name}: backup failed</b>")),
        "{text}"
    );
    assert!(!text.contains('"') || text.contains("href=\""), "{text}");
    assert!(
        text.contains("&quot;"),
        "PostgreSQL's quotes are escaped: {text}"
    );
    assert!(
        text.contains(&format!("/databases/{db_id}\">Open in Backline</a>")),
        "{text}"
    );

    // Teams: the workflow URL with its query, a message holding an Adaptive Card.
    let m = &peer.at(teams_path)[0];
    assert_json_post(m);
    assert_eq!(
        m.uri.query(),
        Some(format!("api-version=2016-06-01&sig={TEAMS_SIG}").as_str())
    );
    assert_eq!(m.body["type"], "message");
    let att = &m.body["attachments"][0];
    assert_eq!(
        att["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &att["content"];
    assert_eq!(
        (card["type"].as_str(), card["version"].as_str()),
        (Some("AdaptiveCard"), Some("1.4"))
    );
    assert_eq!(
        card["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    assert!(card["body"][0]["inlines"][0]["text"]
        .as_str()
        .unwrap()
        .contains(&db_name));
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    assert!(card["actions"][0]["url"]
        .as_str()
        .unwrap()
        .ends_with(&db_id));

    // ntfy: JSON publishing to the server root, the topic in the body, a bearer token.
    let n = &peer.at("/ntfy/")[0];
    assert_json_post(n);
    assert_eq!(
        n.header("authorization"),
        Some(format!("Bearer {NTFY_TOKEN}").as_str())
    );
    assert_eq!(n.body["topic"], "backline-alerts");
    assert_eq!(n.body["priority"], 5);
    assert_eq!(n.body["tags"], json!(["rotating_light"]));
    assert!(n.body["title"].as_str().unwrap().contains("backup failed"));
    assert!(
        n.body["message"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{}",
        n.body
    );
    assert!(n.body["click"].as_str().unwrap().ends_with(&db_id));

    // Mattermost: the Slack-compatible body, Markdown escaped.
    let mm = &peer.at(&mm_path)[0];
    assert_json_post(mm);
    let mtext = mm.body["text"].as_str().unwrap();
    assert!(
        mtext.contains(r"\[Backline\]") && mtext.contains(r"backup failed"),
        "{mtext}"
    );
    assert!(mm.body["attachments"][0]["title_link"]
        .as_str()
        .unwrap()
        .ends_with(&db_id));

    // Gotify: POST /message, the token in X-Gotify-Key, plain text.
    let g = &peer.at("/gotify/message")[0];
    assert_json_post(g);
    assert_eq!(g.header("x-gotify-key"), Some(GOTIFY_TOKEN));
    assert!(g.uri.query().is_none(), "the token is not in the URL");
    assert_eq!(g.body["priority"], 8);
    assert_eq!(
        g.body["extras"]["client::display"]["contentType"],
        "text/plain"
    );
    assert!(g.body["title"].as_str().unwrap().contains(&db_name));

    let notified = eventually("five AlertNotified", 10, async || {
        let e = app.events_of("AlertNotified").await;
        (e.len() == 5).then_some(e)
    })
    .await;
    assert!(
        notified
            .iter()
            .all(|e| e["payload"]["outcome"] == "delivered"),
        "{notified:?}"
    );
    no_secret_shown(&app).await;
}

/// Neither the channel list nor any event holds a token or a URL's secret part.
async fn no_secret_shown(app: &TestApp) {
    let shown = format!(
        "{}{}",
        app.get_json("/api/v1/channels").await,
        app.get_json("/api/v1/events?limit=1000").await
    );
    for s in [
        TG_TOKEN,
        "tg_secret_token",
        NTFY_TOKEN,
        GOTIFY_TOKEN,
        TEAMS_SIG,
        MM_KEY,
    ] {
        assert!(!shown.contains(s), "{s} shown in {shown}");
    }
}

#[tokio::test]
async fn a_refused_message_is_retried_and_errors_never_name_the_token() {
    let app = app().await;
    let (peer, base) = Peer::start(vec![429, 502]).await;
    let tg = add(&app, json!({"name": "tg", "type": "webhook", "style": "telegram", "url": format!("{base}/api"), "token": TG_TOKEN, "chat_id": "@backline_ops"})).await;
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = add(&app, json!({"name": "dead", "type": "webhook", "style": "telegram", "url": format!("http://127.0.0.1:{dead_port}"), "token": TG_TOKEN, "chat_id": "42"})).await;
    failing_database(&app, "notif_retry").await;
    let path = format!("/api/bot{TG_TOKEN}/sendMessage");
    let got = eventually("the third attempt", 30, async || {
        let g = peer.at(&path);
        (g.len() == 3).then_some(g)
    })
    .await;
    assert_eq!(
        got[0].body["chat_id"], "@backline_ops",
        "a channel name goes as a string"
    );
    assert_eq!(got[0].body, got[2].body, "a retry sends the same message");
    let tg_id = tg["id"].as_str().unwrap();
    let dead_id = dead["id"].as_str().unwrap();
    let shape = eventually("three attempts recorded", 10, async || {
        let s: Vec<(u64, String, Option<u64>)> = app
            .events_of("AlertNotified")
            .await
            .iter()
            .map(|e| &e["payload"])
            .filter(|p| p["channel_id"] == tg_id)
            .map(|p| {
                (
                    p["attempt"].as_u64().unwrap(),
                    p["outcome"].as_str().unwrap().to_string(),
                    p["status_code"].as_u64(),
                )
            })
            .collect();
        (s.len() == 3).then_some(s)
    })
    .await;
    assert_eq!(
        shape,
        vec![
            (1, "failed".into(), Some(429)),
            (2, "failed".into(), Some(502)),
            (3, "delivered".into(), Some(200))
        ]
    );
    let d = eventually("the unreachable bot API to be recorded", 30, async || {
        let d = app.get_json(&format!("/api/v1/channels/{dead_id}")).await;
        d["last_error"].is_string().then_some(d)
    })
    .await;
    let err = d["last_error"].as_str().unwrap();
    assert!(err.contains("cannot reach"), "{err}");
    assert!(!err.contains("bot123456789"), "{err}");
    no_secret_shown(&app).await;
}

#[tokio::test]
async fn each_service_settings_are_checked_and_a_refusal_changes_nothing() {
    let app = app().await;
    let (_peer, base) = Peer::start(vec![]).await;
    let cases = [
        (json!({"style": "telegram", "chat_id": "1"}), "token"),
        (
            json!({"style": "telegram", "token": "not-a-token", "chat_id": "1"}),
            "token",
        ),
        (
            json!({"style": "telegram", "token": "1:a/../b", "chat_id": "1"}),
            "token",
        ),
        (json!({"style": "telegram", "token": TG_TOKEN}), "chat_id"),
        (
            json!({"style": "telegram", "token": TG_TOKEN, "chat_id": "12ab"}),
            "chat_id",
        ),
        (
            json!({"style": "ntfy", "url": format!("{base}/"), "priority": 3}),
            "url",
        ),
        (
            json!({"style": "ntfy", "url": format!("{base}/t"), "priority": 6}),
            "priority",
        ),
        (json!({"style": "gotify", "url": base.clone()}), "token"),
        (
            json!({"style": "gotify", "url": base.clone(), "token": "A", "priority": 11}),
            "priority",
        ),
        (
            json!({"style": "slack", "url": format!("{base}/s"), "token": "x"}),
            "token",
        ),
        (
            json!({"style": "teams", "url": format!("{base}/w"), "chat_id": "1"}),
            "chat_id",
        ),
        (
            json!({"style": "mattermost", "url": format!("{base}/h"), "priority": 1}),
            "priority",
        ),
        (
            json!({"style": "ntfy", "url": format!("{base}/t"), "secret": "s"}),
            "secret",
        ),
        (
            json!({"style": "matrix", "url": format!("{base}/m")}),
            "style",
        ),
    ];
    for (mut body, field) in cases {
        body["name"] = json!("x");
        body["type"] = json!("webhook");
        let r = app.post("/api/v1/channels", body.clone()).await;
        let status = r.status();
        let p: Value = r.json().await.unwrap();
        assert_eq!(status, 422, "{body}: {p}");
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert_eq!(fields, vec![field], "{body}: {p}");
        assert!(!p.to_string().contains("tg_secret_token"), "{p}");
    }
    assert_eq!(app.get_json("/api/v1/channels").await["items"], json!([]));
    assert!(app.events_of("ChannelAdded").await.is_empty());
}
