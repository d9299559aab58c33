//! Helpers for tests of users, roles and tokens: make principals through the real API.
#![allow(dead_code)]

use crate::helpers::{TestApp, TOKEN};
use serde_json::{json, Value};

pub const PASSWORD: &str = "correct horse battery staple";

/// A request made as someone: a bearer token, a session (cookie + CSRF token), or nobody.
#[derive(Debug, Clone)]
pub enum As {
    Bearer(String),
    Session { cookie: String, csrf: String },
    Nobody,
}

impl As {
    pub fn admin() -> Self {
        As::Bearer(TOKEN.to_string())
    }

    pub fn request(&self, app: &TestApp, method: &str, path: &str) -> reqwest::RequestBuilder {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let rb = app.client.request(m.clone(), app.url(path));
        match self {
            As::Bearer(t) => rb.bearer_auth(t),
            As::Session { cookie, csrf } => {
                let rb = rb.header("cookie", format!("backline_session={cookie}"));
                if m == reqwest::Method::GET {
                    rb
                } else {
                    rb.header("x-csrf-token", csrf)
                }
            }
            As::Nobody => rb,
        }
    }

    pub async fn send(
        &self,
        app: &TestApp,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut rb = self.request(app, method, path);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send().await.expect("request")
    }

    pub async fn get_json(&self, app: &TestApp, path: &str) -> Value {
        let r = self.send(app, "GET", path, None).await;
        let status = r.status();
        let v: Value = r.json().await.expect("json");
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }
}

/// Creates a user (as the bootstrap admin) and returns its id.
pub async fn create_user(
    app: &TestApp,
    username: &str,
    role: &str,
    databases: Option<Vec<&str>>,
) -> String {
    let mut body = json!({"username": username, "password": PASSWORD, "role": role});
    if let Some(d) = databases {
        body["databases"] = json!(d);
    }
    let r = app.post("/api/v1/users", body).await;
    let status = r.status();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 201, "create user {username}: {v}");
    v["id"].as_str().expect("id").to_string()
}

/// Issues a token as `by` and returns (id, secret).
pub async fn issue_token(
    app: &TestApp,
    by: &As,
    role: &str,
    databases: Option<Vec<&str>>,
) -> (String, String) {
    let mut body = json!({"name": format!("{role}-token"), "role": role});
    if let Some(d) = databases {
        body["databases"] = json!(d);
    }
    let r = by.send(app, "POST", "/api/v1/tokens", Some(body)).await;
    let status = r.status();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 201, "issue {role} token: {v}");
    (
        v["id"].as_str().expect("id").to_string(),
        v["token"].as_str().expect("token").to_string(),
    )
}

/// Signs in; returns the session, or the refusal's status.
pub async fn sign_in(app: &TestApp, username: &str, password: &str) -> Result<As, u16> {
    let r = app
        .client
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("request");
    if r.status() != 200 {
        return Err(r.status().as_u16());
    }
    let set_cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("set-cookie")
        .to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    let cookie = set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.strip_prefix("backline_session="))
        .expect("session cookie")
        .to_string();
    let v: Value = r.json().await.expect("json");
    let csrf = v["csrf_token"].as_str().expect("csrf").to_string();
    Ok(As::Session { cookie, csrf })
}
