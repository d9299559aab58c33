//! `backline user …` on the host, beside a running server on the same ledger: the user it adds
//! signs in, `disable` ends the session at once, `reset-password` takes the password from
//! standard input, and no password ever reaches an argument, the output or the ledger.

use crate::helpers::{backline_bin, spawn_app, TestApp};
use crate::principals::{sign_in, As};
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

const FIRST: &str = "first long passphrase 1";
const SECOND: &str = "second long passphrase 2";

/// Runs `backline <args>` on the test server's data dir; stdin gets `input` (then EOF).
async fn cli(
    app: &TestApp,
    args: &[&str],
    env_password: Option<&str>,
    input: &str,
) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(backline_bin());
    cmd.args(args)
        .env("BACKLINE_DATA_DIR", app.data_dir.path())
        .env_remove("BACKLINE_USER_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = env_password {
        cmd.env("BACKLINE_USER_PASSWORD", p);
    }
    let mut child = cmd.spawn().expect("spawn backline");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(input.as_bytes())
        .await
        .expect("write stdin");
    drop(stdin);
    let out = child.wait_with_output().await.expect("backline output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Waits until the server's read model has `username` in the state `check` wants.
async fn until_user(app: &TestApp, username: &str, check: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let users = As::admin().get_json(app, "/api/v1/users").await;
        if let Some(u) = users["items"]
            .as_array()
            .and_then(|items| items.iter().find(|u| u["username"] == username))
            .filter(|u| check(u))
        {
            return u.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{username}: {users}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn users_are_managed_from_the_command_line_beside_a_running_server() {
    let app = spawn_app().await;

    // No password anywhere: refused, nothing created.
    let (ok, out) = cli(
        &app,
        &["user", "add", "dana", "--role", "operator"],
        None,
        "",
    )
    .await;
    assert!(!ok, "{out}");
    assert!(out.contains("no password"), "{out}");
    let (ok, out) = cli(
        &app,
        &["user", "add", "dana", "--role", "owner"],
        Some(FIRST),
        "",
    )
    .await;
    assert!(!ok && out.contains("not a role"), "{out}");

    let (ok, out) = cli(
        &app,
        &[
            "user",
            "add",
            "dana",
            "--role",
            "operator",
            "--database",
            "staging_*",
        ],
        Some(FIRST),
        "",
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("created dana (operator)"), "{out}");
    let dana = until_user(&app, "dana", |_| true).await;
    assert_eq!(dana["role"], "operator");
    assert_eq!(dana["databases"], serde_json::json!(["staging_*"]));
    let session = sign_in(&app, "dana", FIRST).await.expect("dana signs in");
    assert_eq!(
        session.get_json(&app, "/api/v1/session").await["name"],
        "dana"
    );

    // A second user of that name: refused.
    let (ok, out) = cli(
        &app,
        &["user", "add", "dana", "--role", "viewer"],
        Some(SECOND),
        "",
    )
    .await;
    assert!(!ok && out.contains("already exists"), "{out}");

    let (ok, out) = cli(&app, &["--json", "user", "list"], None, "").await;
    assert!(ok, "{out}");
    let listed: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert!(listed
        .iter()
        .any(|u| u["username"] == "dana" && u["disabled"] == false));

    // Disabling from the host ends the session the server holds.
    let (ok, out) = cli(&app, &["user", "disable", "dana"], None, "").await;
    assert!(ok && out.contains("disabled dana"), "{out}");
    until_user(&app, "dana", |u| u["disabled"] == true).await;
    let r = session.send(&app, "GET", "/api/v1/session", None).await;
    assert_eq!(r.status(), 401);

    // A new password from standard input; the old one stops working.
    let (ok, out) = cli(&app, &["user", "enable", "dana"], None, "").await;
    assert!(ok, "{out}");
    until_user(&app, "dana", |u| u["disabled"] == false).await;
    let (ok, out) = cli(
        &app,
        &["user", "reset-password", "dana"],
        None,
        &format!("{SECOND}\n"),
    )
    .await;
    assert!(ok && out.contains("new password set for dana"), "{out}");
    assert!(sign_in(&app, "dana", SECOND).await.is_ok());
    assert_eq!(sign_in(&app, "dana", FIRST).await.err(), Some(401));

    // The ledger says the command line did it, and holds no password.
    let events = As::admin()
        .get_json(&app, "/api/v1/events?limit=1000&actor=system:cli")
        .await;
    let text = events.to_string();
    let types: Vec<&str> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    for t in [
        "UserCreated",
        "UserDisabled",
        "UserEnabled",
        "UserPasswordSet",
    ] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    assert!(!text.contains(FIRST) && !text.contains(SECOND));
}

/// A route asked with a method it does not have is 405 with `Allow` (problem+json), before
/// and after authentication alike; a route is never 403 just for its method.
#[tokio::test]
async fn an_existing_route_with_another_method_is_405_with_allow() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        ("TRACE", "/healthz", "GET, HEAD"),
        ("PUT", "/api/v1/session", "POST, DELETE, GET, HEAD"),
        ("DELETE", "/api/v1/databases", "GET, POST, HEAD"),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = app
            .client
            .request(m, app.url(path))
            .bearer_auth(crate::helpers::TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 405, "{method} {path}");
        let got = r
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let mut got: Vec<&str> = got.split(", ").collect();
        let mut want: Vec<&str> = allow.split(", ").collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{method} {path}");
        assert_eq!(
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
    }
}
