//! Hardening end to end: webhooks that cannot be turned against the server's own network
//! (no redirects, no private or metadata addresses, no receiver text recorded), connection
//! strings that cannot name a Unix socket, a token-protected `/metrics`, a `/readyz` that does
//! not write on every call, secrets hidden from `--help`, long admin tokens, throttled wrong
//! tokens, and private file permissions.

use crate::helpers::{spawn_app_configured, TestApp};
use crate::support::pg;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------- a real webhook peer that answers what it is told ----------

/// One scripted answer: a status, a body and maybe a `Location`.
#[derive(Clone)]
struct Answer {
    status: u16,
    body: &'static str,
    location: Option<String>,
}

#[derive(Clone, Default)]
struct Peer {
    /// Paths requested, in order.
    hits: Arc<Mutex<Vec<String>>>,
    /// Path → answer; 200 "ok" for any other path.
    answers: Arc<Mutex<Vec<(String, Answer)>>>,
}

impl Peer {
    async fn start() -> (Peer, String) {
        let peer = Peer::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let router = axum::Router::new()
            .fallback(answer)
            .with_state(peer.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.ok() });
        (peer, format!("http://127.0.0.1:{port}"))
    }

    fn answer(&self, path: &str, a: Answer) {
        self.answers.lock().unwrap().push((path.to_string(), a));
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

async fn answer(
    axum::extract::State(p): axum::extract::State<Peer>,
    uri: axum::http::Uri,
) -> axum::response::Response {
    p.hits.lock().unwrap().push(uri.path().to_string());
    let a = p
        .answers
        .lock()
        .unwrap()
        .iter()
        .find(|(path, _)| path == uri.path())
        .map(|(_, a)| a.clone());
    let Some(a) = a else {
        return (StatusCode::OK, "ok").into_response();
    };
    let mut headers = HeaderMap::new();
    if let Some(l) = a.location {
        headers.insert(header::LOCATION, l.parse().unwrap());
    }
    (StatusCode::from_u16(a.status).unwrap(), headers, a.body).into_response()
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

async fn add_channel(app: &TestApp, body: Value) -> (u16, Value) {
    let r = app.post("/api/v1/channels", body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn test_channel(app: &TestApp, id: &str) -> (String, Value) {
    let r = app
        .post(&format!("/api/v1/channels/{id}/test"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap();
    (text, v)
}

const RECEIVER_SECRET: &str = "RECEIVER-SAYS-internal-hostname-db7.corp-and-a-stack-trace";

// ---------- 1. webhooks ----------

#[tokio::test]
async fn hardening_webhooks_follow_no_redirect_and_record_only_the_status() {
    let app = spawn_app_configured(|s| s.notify_retry_base_ms = 200).await;
    let (peer, base) = Peer::start().await;
    peer.answer(
        "/redirect",
        Answer {
            status: 302,
            body: RECEIVER_SECRET,
            location: Some(format!("{base}/landed")),
        },
    );
    peer.answer(
        "/broken",
        Answer {
            status: 500,
            body: RECEIVER_SECRET,
            location: None,
        },
    );
    let (status, redirect) = add_channel(
        &app,
        json!({"name": "redirect", "type": "webhook", "url": format!("{base}/redirect")}),
    )
    .await;
    assert_eq!(status, 201, "{redirect}");
    let (text, t) = test_channel(&app, redirect["id"].as_str().unwrap()).await;
    assert_eq!(
        (&t["ok"], &t["status_code"], &t["error"]),
        (&json!(false), &json!(302), &json!("HTTP 302")),
        "{t}"
    );
    assert!(!text.contains("RECEIVER-SAYS"), "{text}");
    assert_eq!(peer.hits("/redirect"), 1);
    assert_eq!(peer.hits("/landed"), 0, "the redirect was followed");

    let (_, broken) = add_channel(
        &app,
        json!({"name": "broken", "type": "webhook", "style": "slack", "url": format!("{base}/broken")}),
    )
    .await;
    let broken_id = broken["id"].as_str().unwrap();
    let (text, t) = test_channel(&app, broken_id).await;
    assert_eq!(t["error"], "HTTP 500", "{t}");
    assert!(!text.contains("RECEIVER-SAYS"), "{text}");

    // A real alert: its deliveries record the status only.
    let pg_name = pg::unique_name("hard_hook");
    let db = app
        .register(
            &pg_name.replace('_', "-"),
            "postgres",
            &pg::db_url(&pg_name),
        )
        .await;
    assert_eq!(app.backup(&db).await["status"], "failed");
    let notified = eventually("two failed deliveries to the broken hook", 30, async || {
        let ev: Vec<Value> = app
            .events_of("AlertNotified")
            .await
            .into_iter()
            .filter(|e| e["payload"]["channel_id"] == broken_id)
            .collect();
        (ev.len() >= 2).then_some(ev)
    })
    .await;
    for e in &notified {
        assert_eq!(e["payload"]["error"], "HTTP 500", "{e}");
        assert_eq!(e["payload"]["status_code"], 500, "{e}");
    }
    let everything = app
        .get("/api/v1/events?limit=1000")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !everything.contains("RECEIVER-SAYS"),
        "the ledger holds the receiver's text"
    );
    let channel = app.get(&format!("/api/v1/channels/{broken_id}")).await;
    let channel = channel.text().await.unwrap();
    assert!(
        channel.contains("HTTP 500") && !channel.contains("RECEIVER-SAYS"),
        "{channel}"
    );
    assert_eq!(peer.hits("/landed"), 0);
}

#[tokio::test]
async fn hardening_private_webhook_addresses_are_refused_unless_allowed() {
    let app = spawn_app_configured(|s| s.allow_private_webhooks = false).await;
    let (peer, base) = Peer::start().await;
    let port = base.rsplit(':').next().unwrap().to_string();
    for (url, rule) in [
        (format!("{base}/hook"), "loopback"),
        ("http://[::1]:9/hook".to_string(), "loopback"),
        ("http://10.1.2.3/hook".to_string(), "private"),
        ("http://192.168.0.10/hook".to_string(), "private"),
        ("http://0.0.0.0:9/hook".to_string(), "unspecified"),
        ("http://100.64.0.1/hook".to_string(), "carrier-grade NAT"),
        (
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "link-local",
        ),
        ("http://2852039166/latest".to_string(), "link-local"),
        ("http://[::ffff:169.254.169.254]/".to_string(), "link-local"),
        ("http://[fe80::1]/".to_string(), "link-local"),
    ] {
        let (status, p) =
            add_channel(&app, json!({"name": "x", "type": "webhook", "url": url})).await;
        assert_eq!(status, 422, "{url}: {p}");
        assert_eq!(p["errors"][0]["field"], "url", "{url}: {p}");
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains(rule), "{url}: {detail}");
    }
    assert!(
        app.events_of("ChannelAdded").await.is_empty(),
        "a refused channel records nothing"
    );
    // A name is checked when it is resolved: localhost is loopback.
    let (status, c) = add_channel(
        &app,
        json!({"name": "by-name", "type": "webhook", "url": format!("http://localhost:{port}/hook")}),
    )
    .await;
    assert_eq!(status, 201, "{c}");
    let (_, t) = test_channel(&app, c["id"].as_str().unwrap()).await;
    assert_eq!(t["ok"], false, "{t}");
    let error = t["error"].as_str().unwrap();
    assert!(
        error.contains("localhost resolves only to refused addresses")
            && error.contains("BACKLINE_ALLOW_PRIVATE_WEBHOOKS=true"),
        "{error}"
    );
    assert_eq!(peer.hits("/hook"), 0, "the request went out");
}

#[tokio::test]
async fn hardening_metadata_addresses_are_refused_even_when_private_ones_are_allowed() {
    let app = spawn_app_configured(|s| s.allow_private_webhooks = true).await;
    let (peer, base) = Peer::start().await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[fd00:ec2::254]/",
    ] {
        let (status, p) =
            add_channel(&app, json!({"name": "x", "type": "webhook", "url": url})).await;
        assert_eq!(status, 422, "{url}: {p}");
        assert!(p["detail"].as_str().unwrap().contains("never"), "{p}");
    }
    let (status, c) = add_channel(
        &app,
        json!({"name": "local", "type": "webhook", "url": format!("{base}/ok")}),
    )
    .await;
    assert_eq!(status, 201, "{c}");
    let (_, t) = test_channel(&app, c["id"].as_str().unwrap()).await;
    assert_eq!(t["ok"], true, "{t}");
    assert_eq!(peer.hits("/ok"), 1);
}

// ---------- 2. connection strings ----------

#[tokio::test]
async fn hardening_a_connection_host_that_is_a_socket_path_is_refused() {
    let app = spawn_app_configured(|_| {}).await;
    for (engine, connection) in [
        (
            "postgres",
            "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/postgres",
        ),
        ("postgres", "postgres://postgres@%2Ftmp:5432/postgres"),
        ("mysql", "mysql://root@%2Frun%2Fmysqld%2Fmysqld.sock/mysql"),
    ] {
        for (path, body) in [
            (
                "/api/v1/databases",
                json!({"name": "sock", "engine": engine, "connection": connection}),
            ),
            (
                "/api/v1/databases/test",
                json!({"engine": engine, "connection": connection}),
            ),
        ] {
            let r = app.post(path, body).await;
            assert_eq!(r.status(), 422, "{path} {connection}");
            let p: Value = r.json().await.unwrap();
            assert_eq!(p["errors"][0]["field"], "connection", "{p}");
            assert!(
                p["detail"]
                    .as_str()
                    .unwrap()
                    .contains("Unix sockets are not supported"),
                "{p}"
            );
        }
    }
    assert!(app.events_of("DatabaseRegistered").await.is_empty());
}

// ---------- 3. /metrics ----------

#[tokio::test]
async fn hardening_metrics_need_the_metrics_token_once_one_is_set() {
    const METRICS_TOKEN: &str = "scrape-me-with-this-long-token";
    let app = spawn_app_configured(|s| s.metrics_token = Some(METRICS_TOKEN.into())).await;
    let get = |token: Option<&'static str>| {
        let mut r = app.client.get(app.url("/metrics"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move { r.send().await.unwrap() }
    };
    for (token, what) in [
        (None, "no token"),
        (Some("not-the-metrics-token"), "a wrong token"),
    ] {
        let r = get(token).await;
        assert_eq!(r.status(), 401, "{what}");
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let body = r.text().await.unwrap();
        assert!(!body.contains("backline_ledger_position"), "{body}");
        assert!(body.contains("BACKLINE_METRICS_TOKEN"), "{body}");
    }
    for token in [METRICS_TOKEN, crate::helpers::TOKEN] {
        let r = get(Some(token)).await;
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("backline_ledger_position"));
    }
    // The metrics token opens nothing else.
    let r = app
        .client
        .get(app.url("/api/v1/databases"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Unset, /metrics answers without a token as before.
    let open = spawn_app_configured(|_| {}).await;
    let r = open.client.get(open.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

// ---------- 4. /readyz ----------

#[tokio::test]
async fn hardening_readyz_probes_storage_at_most_every_few_seconds() {
    let app = spawn_app_configured(|_| {}).await;
    let before = app.app.store.probes_run();
    for _ in 0..5 {
        let r = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["storage"], "ok", "{v}");
    }
    assert_eq!(
        app.app.store.probes_run() - before,
        1,
        "five quick calls wrote one probe object"
    );
    // Once the outcome is older than 5 s the next call probes again.
    tokio::time::sleep(Duration::from_millis(5200)).await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.app.store.probes_run() - before, 2);
}

// ---------- 5. secrets in --help ----------

#[test]
fn hardening_help_names_secret_variables_but_never_their_values() {
    let secrets = [
        (
            "BACKLINE_SMTP_URL",
            "smtps://mailer:SECRET-smtp-pw@smtp.example.com:465",
        ),
        (
            "BACKLINE_LEDGER_URL",
            "postgres://ledger:SECRET-ledger-pw@db:5432/ledger",
        ),
        (
            "BACKLINE_STORAGE_URL",
            "s3://bucket/x?endpoint=http://SECRET-storage-host:9000",
        ),
        ("BACKLINE_STORAGES", "offsite=s3://SECRET-offsite-bucket/x"),
        (
            "BACKLINE_ADMIN_TOKEN",
            "SECRET-admin-token-0123456789abcdef",
        ),
        (
            "BACKLINE_METRICS_TOKEN",
            "SECRET-metrics-token-0123456789abcdef",
        ),
        ("BACKLINE_AGE_RECIPIENTS", "age1SECRETrecipient"),
    ];
    for args in [&["--help"][..], &["serve", "--help"], &["backup", "--help"]] {
        let mut cmd = std::process::Command::new(crate::helpers::backline_bin());
        cmd.args(args);
        for (k, v) in secrets {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("backline --help runs");
        assert!(out.status.success(), "{args:?}");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !text.contains("SECRET"),
            "{args:?} printed a secret:\n{text}"
        );
        // The variables are still named, so the test reads the help that would show them.
        for (k, _) in secrets {
            if k != "BACKLINE_ADMIN_TOKEN" || args[0] == "serve" {
                assert!(text.contains(k), "{args:?} does not name {k}:\n{text}");
            }
        }
    }
}

// ---------- 6. admin token length ----------

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `backline serve` on a data directory, with the admin token from `token` (or none).
fn serve(data: &std::path::Path, port: u16, token: Option<&str>) -> std::process::Child {
    let mut c = std::process::Command::new(crate::helpers::backline_bin());
    c.arg("serve")
        .env("BACKLINE_DATA_DIR", data)
        .env("BACKLINE_LISTEN", format!("127.0.0.1:{port}"))
        .env("BACKLINE_LOG", "warn")
        .env_remove("BACKLINE_ADMIN_TOKEN")
        .env_remove("BACKLINE_STORAGE_URL")
        .env_remove("BACKLINE_LEDGER_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(t) = token {
        c.env("BACKLINE_ADMIN_TOKEN", t);
    }
    c.spawn().expect("backline serve")
}

/// Waits for a process that must fail, and returns what it printed.
fn refused(child: std::process::Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "the server started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn hardening_a_short_admin_token_is_refused_at_start() {
    let data = tempfile::tempdir().unwrap();
    let s = crate::helpers::settings(data.path().to_path_buf(), None, None);
    let e = backline_api::startup::Server::build(s, "127.0.0.1:0", "short-token".into())
        .await
        .err()
        .expect("a short token is refused");
    let m = e.to_string();
    assert!(
        m.contains("11 characters") && m.contains("at least 24"),
        "{m}"
    );

    // From the environment …
    let m = refused(serve(data.path(), free_port(), Some("e2e-token")));
    assert!(
        m.contains("at least 24") && m.contains("BACKLINE_ADMIN_TOKEN"),
        "{m}"
    );
    // … and from an admin.token file left by an older version.
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("admin.token"), "change-me\n").unwrap();
    let m = refused(serve(data.path(), free_port(), None));
    assert!(
        m.contains("9 characters") && m.contains("at least 24"),
        "{m}"
    );
}

#[tokio::test]
async fn hardening_a_generated_admin_token_is_long_enough() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve(data.path(), port, None);
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    let up = eventually("the server", 30, async || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("backline serve exited: {status}");
        }
        reqwest::get(&healthz).await.ok().map(|r| r.status())
    })
    .await;
    child.kill().ok();
    child.wait().ok();
    assert_eq!(up, 200);
    let token = std::fs::read_to_string(data.path().join("admin.token")).unwrap();
    assert!(token.trim().len() >= 24, "{token:?}");
}

// ---------- 7. wrong tokens ----------

#[tokio::test]
async fn hardening_wrong_tokens_are_slowed_then_refused_until_the_back_off_ends() {
    let app = spawn_app_configured(|_| {}).await;
    let send = |token: &'static str| {
        let r = app
            .client
            .get(app.url("/api/v1/databases"))
            .bearer_auth(token)
            .send();
        async move { r.await.unwrap() }
    };
    let start = Instant::now();
    let mut statuses = Vec::new();
    let mut wait = 0;
    for i in 0..50 {
        let r = send("a-wrong-token-of-the-right-length-0000").await;
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert_eq!(
                r.headers()[header::CONTENT_TYPE],
                "application/problem+json"
            );
            let secs: u64 = r.headers()[header::RETRY_AFTER]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&secs), "Retry-After {secs}");
            wait = secs;
        }
        if i == 10 {
            // The back-off has just begun: the address gets 429 whatever the token, since
            // accepting the right one would tell a guesser which guess was right.
            let r = send(crate::helpers::TOKEN).await;
            assert_eq!(r.status(), 429, "the right token during the back-off");
        }
    }
    assert_eq!(
        statuses[..10],
        [401; 10],
        "ten wrong tokens are answered 401"
    );
    assert!(
        statuses[10..].iter().all(|s| *s == 429),
        "then 429: {statuses:?}"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "each wrong token waits: 50 answered in {:?}",
        start.elapsed()
    );
    // Once it has ended, the right token works, again and again.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    for _ in 0..3 {
        assert_eq!(send(crate::helpers::TOKEN).await.status(), 200);
    }
    // Requests without a token are not guesses: they stay 401.
    let r = app
        .client
        .get(app.url("/api/v1/databases"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

// ---------- 8. permissions ----------

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn chmod(p: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Every file and directory under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[tokio::test]
async fn hardening_the_data_dir_and_artifacts_are_the_owners_alone() {
    // A data directory Backline makes itself, and a master key someone left readable.
    let keys = tempfile::tempdir().unwrap();
    let master_key = keys.path().join("master.key");
    std::fs::write(&master_key, "ab".repeat(32)).unwrap();
    chmod(&master_key, 0o644);
    let app = spawn_app_configured(|s| {
        s.data_dir = s.data_dir.join("fresh");
        s.master_key_file = Some(master_key.clone());
    })
    .await;
    assert_eq!(mode(&master_key), 0o600, "master.key fixed at start");
    let data = app.settings.data_dir.clone();
    assert_eq!(mode(&data), 0o700);

    let db = pg::TempDb::create("hard_perm").await;
    let id = app
        .register(&db.name().replace('_', "-"), "postgres", &db.url())
        .await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    let key = b["storage_key"].as_str().unwrap();
    let artifact = data.join("artifacts").join(key);
    assert_eq!(mode(&artifact), 0o600, "{}", artifact.display());
    for p in walk(&data) {
        let m = mode(&p);
        if p.is_dir() {
            assert_eq!(m, 0o700, "{}", p.display());
        } else {
            assert_eq!(m & 0o077, 0, "{} is {m:o}", p.display());
        }
    }
    // A data directory someone opened up is closed again at the next start.
    chmod(&data, 0o755);
    let again = spawn_app_configured(|s| {
        s.data_dir = data.clone();
        s.master_key_file = Some(master_key.clone());
    })
    .await;
    assert_eq!(mode(&again.settings.data_dir), 0o700);
}

#[tokio::test]
async fn hardening_admin_token_and_age_identity_files_are_made_private_at_start() {
    // age.key: made by a first start with encryption on, opened up, fixed by the next start.
    let app = spawn_app_configured(|s| s.encrypt = "all".into()).await;
    let age_key = app.settings.age_identity_file();
    assert_eq!(mode(&age_key), 0o600);
    chmod(&age_key, 0o640);
    let again = spawn_app_configured(|s| {
        s.encrypt = "all".into();
        s.age_identity_file = Some(age_key.clone());
    })
    .await;
    assert_eq!(mode(&again.settings.age_identity_file()), 0o600);

    // admin.token is read by `backline serve`.
    let data = tempfile::tempdir().unwrap();
    let token_file = data.path().join("admin.token");
    std::fs::write(&token_file, "a-long-enough-admin-token-for-this-test\n").unwrap();
    chmod(&token_file, 0o644);
    let port = free_port();
    let mut child = serve(data.path(), port, None);
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    eventually("the server", 30, async || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("backline serve exited: {status}");
        }
        reqwest::get(&healthz).await.ok().map(|r| r.status())
    })
    .await;
    child.kill().ok();
    child.wait().ok();
    assert_eq!(mode(&token_file), 0o600);
    assert_eq!(mode(&data.path().join("master.key")), 0o600);
    assert_eq!(mode(&data.path().join("ledger.db")), 0o600);
}
