//! Users, tokens and sessions through the real server: sign-in and its limits, CSRF, disabling,
//! revocation and expiry, and who the ledger says did what.

use crate::helpers::spawn_app;
use crate::principals::{create_user, issue_token, sign_in, As, PASSWORD};
use serde_json::{json, Value};
use std::time::Duration;

async fn events_of(app: &crate::helpers::TestApp, query: &str) -> Vec<Value> {
    let v = As::admin()
        .get_json(app, &format!("/api/v1/events?limit=1000&{query}"))
        .await;
    v["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn fifty_wrong_passwords_are_refused_and_recorded_and_others_still_sign_in() {
    let app = spawn_app().await;
    let ann = create_user(&app, "ann", "viewer", None).await;
    create_user(&app, "bob", "viewer", None).await;
    let mut statuses = Vec::new();
    for i in 0..50 {
        statuses.push(sign_in(&app, "ann", &format!("guess-{i}")).await.err());
    }
    let unauthorized = statuses.iter().filter(|s| **s == Some(401)).count();
    let throttled = statuses.iter().filter(|s| **s == Some(429)).count();
    assert_eq!(unauthorized + throttled, 50, "{statuses:?}");
    assert!(
        throttled >= 40,
        "only {throttled} of 50 wrong passwords were refused outright"
    );
    // The right password does not get through while ann backs off: guessing gains nothing.
    assert_eq!(sign_in(&app, "ann", PASSWORD).await.err(), Some(429));
    // Every attempt is in the ledger, none with the password tried.
    let failed = events_of(&app, "type=SignInFailed").await;
    let anns: Vec<&Value> = failed
        .iter()
        .filter(|e| e["payload"]["user_id"] == json!(ann))
        .collect();
    assert_eq!(anns.len(), 51, "one SignInFailed per attempt");
    assert!(!serde_json::to_string(&failed).unwrap().contains("guess-"));
    assert!(anns
        .iter()
        .any(|e| e["payload"]["reason"] == "wrong password"));
    assert!(anns
        .iter()
        .any(|e| e["payload"]["reason"] == "too many failed sign-ins"));
    // Another user, from the same address, signs in at once.
    let bob = sign_in(&app, "bob", PASSWORD).await.expect("bob signs in");
    let me = bob.get_json(&app, "/api/v1/session").await;
    assert_eq!(me["name"], "bob");
    assert_eq!(events_of(&app, "type=SignedIn").await.len(), 1);
}

#[tokio::test]
async fn disabling_a_user_ends_its_sessions_and_tokens_at_once() {
    let app = spawn_app().await;
    let carol = create_user(&app, "carol", "admin", None).await;
    let session = sign_in(&app, "carol", PASSWORD).await.expect("signs in");
    // A session's write needs its CSRF token.
    let As::Session { cookie, .. } = &session else {
        panic!("a session")
    };
    let forged = As::Session {
        cookie: cookie.clone(),
        csrf: "not-the-token".into(),
    };
    let head = app.head().await;
    let r = forged
        .send(
            &app,
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "x", "role": "viewer"})),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.head().await, head, "a refused write appends nothing");
    let (token_id, token) = issue_token(&app, &session, "operator", None).await;
    let bearer = As::Bearer(token.clone());
    for who in [&session, &bearer] {
        let r = who.send(&app, "GET", "/api/v1/databases", None).await;
        assert_eq!(r.status(), 200);
    }
    let r = app
        .patch(&format!("/api/v1/users/{carol}"), json!({"disabled": true}))
        .await;
    assert_eq!(r.status(), 200);
    for who in [&session, &bearer] {
        let r = who.send(&app, "GET", "/api/v1/databases", None).await;
        assert_eq!(r.status(), 401, "{who:?}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("application/problem+json"), "{ct}");
    }
    assert_eq!(sign_in(&app, "carol", PASSWORD).await.err(), Some(401));
    let tokens = As::admin().get_json(&app, "/api/v1/tokens").await;
    let t = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == json!(token_id))
        .expect("listed");
    assert_eq!(t["revoked"], true);
    assert!(
        !tokens.to_string().contains(&token),
        "the secret is never listed"
    );
    // Who did what: the session's own events name carol; the disabling names the bootstrap token.
    let by_carol = events_of(&app, &format!("actor=user:{carol}")).await;
    let issued = by_carol
        .iter()
        .find(|e| e["type"] == "TokenIssued")
        .expect("TokenIssued by carol");
    assert_eq!(issued["actor_name"], "carol");
    assert!(by_carol
        .iter()
        .all(|e| e["actor"] == json!(format!("user:{carol}"))));
    let disabled = events_of(&app, "type=UserDisabled").await;
    assert_eq!(disabled[0]["actor"], "token:bootstrap");
    let revoked = events_of(&app, "type=TokenRevoked").await;
    assert_eq!(revoked.len(), 1);
}

#[tokio::test]
async fn revoked_and_expired_tokens_are_refused_and_uses_are_listed() {
    let app = spawn_app().await;
    let (id, token) = issue_token(&app, &As::admin(), "viewer", None).await;
    let bearer = As::Bearer(token.clone());
    assert_eq!(
        bearer
            .send(&app, "GET", "/api/v1/events", None)
            .await
            .status(),
        200
    );
    let listed = As::admin().get_json(&app, "/api/v1/tokens").await;
    assert!(listed["items"][0]["last_used_at"].is_string(), "{listed}");
    let r = As::admin()
        .send(&app, "DELETE", &format!("/api/v1/tokens/{id}"), None)
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        bearer
            .send(&app, "GET", "/api/v1/events", None)
            .await
            .status(),
        401
    );
    // A viewer cannot issue itself more power; an expiry in the past is refused.
    let expires = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let r = As::admin()
        .send(
            &app,
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "short", "role": "operator", "expires_at": expires})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let short = As::Bearer(
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .into(),
    );
    assert_eq!(
        short
            .send(&app, "GET", "/api/v1/alerts", None)
            .await
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = short.send(&app, "GET", "/api/v1/alerts", None).await;
    assert_eq!(r.status(), 401);
    let past = (chrono::Utc::now() - chrono::Duration::seconds(5)).to_rfc3339();
    let r = As::admin()
        .send(
            &app,
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "old", "role": "viewer", "expires_at": past})),
        )
        .await;
    assert_eq!(r.status(), 422);
    // Signing out ends the session.
    create_user(&app, "dan", "viewer", None).await;
    let dan = sign_in(&app, "dan", PASSWORD).await.expect("dan");
    let r = dan.send(&app, "DELETE", "/api/v1/session", None).await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        dan.send(&app, "GET", "/api/v1/session", None)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn users_are_listed_without_secrets_and_names_are_unique() {
    let app = spawn_app().await;
    let id = create_user(&app, "erin", "operator", Some(vec!["staging_*"])).await;
    let r = app
        .post(
            "/api/v1/users",
            json!({"username": "erin", "password": PASSWORD, "role": "viewer"}),
        )
        .await;
    assert_eq!(r.status(), 409);
    let r = app
        .post(
            "/api/v1/users",
            json!({"username": "fay", "password": "short", "role": "viewer"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .post(
            "/api/v1/users",
            json!({"username": "fay", "password": PASSWORD, "role": "root"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let users = As::admin().get_json(&app, "/api/v1/users").await;
    let text = users.to_string();
    assert!(
        !text.contains(PASSWORD) && !text.contains("argon2"),
        "{text}"
    );
    assert_eq!(users["items"][0]["id"], json!(id));
    assert_eq!(users["items"][0]["databases"], json!(["staging_*"]));
    let r = app
        .patch(&format!("/api/v1/users/{id}"), json!({"role": "admin"}))
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["role"], "admin");
    assert_eq!(v["databases"], json!(["staging_*"]), "the scope stays");
    let changed = events_of(&app, "type=UserRoleChanged").await;
    assert_eq!(changed.len(), 1);
    let ledger = events_of(&app, "").await;
    assert!(!serde_json::to_string(&ledger).unwrap().contains("argon2"));
}
