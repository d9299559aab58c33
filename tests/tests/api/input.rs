//! Bad input gets a clear 4xx `application/problem+json` and appends nothing to the ledger;
//! the unauthenticated endpoints (health, readiness, OpenAPI) answer.

use crate::helpers::{spawn_app, TestApp, TOKEN};
use crate::support::pg;
use serde_json::{json, Value};

/// Asserts a problem+json response with `status` and a non-empty `detail`; returns the body.
async fn problem(r: reqwest::Response, status: u16, what: &str) -> Value {
    let got = r.status().as_u16();
    let ct = r
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = r.text().await.expect("body");
    assert_eq!(got, status, "{what}: status {got}, body {text}");
    assert!(
        ct.starts_with("application/problem+json"),
        "{what}: content type {ct:?}, body {text}"
    );
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: problem body is not JSON ({e}): {text}"));
    assert!(
        !body["detail"].as_str().unwrap_or("").trim().is_empty(),
        "{what}: empty detail: {body}"
    );
    assert_eq!(body["status"], status, "{what}: {body}");
    assert!(
        !body["title"].as_str().unwrap_or("").is_empty(),
        "{what}: no title: {body}"
    );
    body
}

/// Registers `{name, engine, connection}` expecting `status`; asserts nothing was appended.
async fn register_rejected(
    app: &TestApp,
    name: &str,
    engine: &str,
    connection: &str,
    status: u16,
    field: Option<&str>,
) -> Value {
    let head = app.settled_head().await;
    let r = app
        .post(
            "/api/v1/databases",
            json!({"name": name, "engine": engine, "connection": connection}),
        )
        .await;
    let what = format!("register {name:?} {engine:?} {connection:?}");
    let body = problem(r, status, &what).await;
    if let Some(f) = field {
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert!(fields.contains(&f), "{what}: field {f} not named: {body}");
    }
    assert_eq!(app.head().await, head, "{what}: the ledger changed");
    let list = app.get_json("/api/v1/databases?include_removed=true").await;
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["name"] != name),
        "{what}: a database was registered: {list}"
    );
    body
}

fn valid_pg_url() -> String {
    pg::db_url("postgres")
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let head = app.settled_head().await;
    let r = app
        .client
        .post(app.url("/api/v1/databases"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"name": "x", "engine": "postgres", "connection": "#)
        .send()
        .await
        .expect("request");
    problem(r, 400, "malformed JSON").await;
    assert_eq!(app.head().await, head);
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let app = spawn_app().await;
    let head = app.settled_head().await;
    let padding = " ".repeat(3 * 1024 * 1024);
    let r = app
        .client
        .post(app.url("/api/v1/databases"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(format!(r#"{{"name": "x",{padding} "engine": "postgres"}}"#))
        .send()
        .await
        .expect("request");
    problem(r, 413, "a 3 MiB body").await;
    assert_eq!(app.head().await, head);
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = spawn_app().await;
    let head = app.settled_head().await;
    let body = json!({"name": pg::unique_name("in_ct"), "engine": "postgres", "connection": valid_pg_url()});
    let r = app
        .client
        .post(app.url("/api/v1/databases"))
        .bearer_auth(TOKEN)
        .header("content-type", "text/plain")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    problem(r, 415, "text/plain body").await;
    assert_eq!(app.head().await, head);
}

#[tokio::test]
async fn unknown_engine_is_422() {
    let app = spawn_app().await;
    register_rejected(
        &app,
        &pg::unique_name("in_engine"),
        "oracle",
        &valid_pg_url(),
        422,
        Some("engine"),
    )
    .await;
}

#[tokio::test]
async fn empty_name_is_422() {
    let app = spawn_app().await;
    register_rejected(&app, "", "postgres", &valid_pg_url(), 422, Some("name")).await;
    register_rejected(&app, "   ", "postgres", &valid_pg_url(), 422, Some("name")).await;
}

#[tokio::test]
async fn name_with_slash_is_422() {
    let app = spawn_app().await;
    let name = format!("{}/x", pg::unique_name("in_slash"));
    register_rejected(&app, &name, "postgres", &valid_pg_url(), 422, Some("name")).await;
}

#[tokio::test]
async fn connection_without_host_is_422() {
    let app = spawn_app().await;
    let body = register_rejected(
        &app,
        &pg::unique_name("in_nohost"),
        "postgres",
        "postgres:///db",
        422,
        Some("connection"),
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("host"), "{body}");
}

#[tokio::test]
async fn connection_without_user_is_422() {
    let app = spawn_app().await;
    let body = register_rejected(
        &app,
        &pg::unique_name("in_nouser"),
        "postgres",
        "postgres://127.0.0.1:5432/postgres",
        422,
        Some("connection"),
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("user"), "{body}");
}

#[tokio::test]
async fn connection_scheme_not_matching_engine_is_422() {
    let app = spawn_app().await;
    register_rejected(
        &app,
        &pg::unique_name("in_scheme"),
        "postgres",
        "mysql://root@127.0.0.1:3306/mysql",
        422,
        Some("connection"),
    )
    .await;
    register_rejected(
        &app,
        &pg::unique_name("in_scheme"),
        "mysql",
        &valid_pg_url(),
        422,
        Some("connection"),
    )
    .await;
}

#[tokio::test]
async fn connection_with_unknown_parameter_is_422() {
    let app = spawn_app().await;
    let body = register_rejected(
        &app,
        &pg::unique_name("in_param"),
        "postgres",
        "postgres://postgres@127.0.0.1:5432/postgres?host=/tmp",
        422,
        Some("connection"),
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("host"), "{body}");
}

#[tokio::test]
async fn duplicate_name_is_409() {
    let app = spawn_app().await;
    let db = pg::TempDb::create("in_dup").await;
    app.register(db.name(), "postgres", &db.url()).await;
    let head = app.settled_head().await;
    let r = app
        .post(
            "/api/v1/databases",
            json!({"name": db.name(), "engine": "postgres", "connection": db.url()}),
        )
        .await;
    problem(r, 409, "duplicate name").await;
    assert_eq!(app.head().await, head, "the ledger changed");
    let list = app.get_json("/api/v1/databases").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test]
async fn unknown_database_id_is_404() {
    let app = spawn_app().await;
    // One registered database, so that lookups have something to miss.
    let db = pg::TempDb::create("in_unknown").await;
    app.register(db.name(), "postgres", &db.url()).await;
    let id = uuid::Uuid::now_v7().to_string();
    let head = app.settled_head().await;

    let r = app.get(&format!("/api/v1/databases/{id}")).await;
    problem(r, 404, "GET database").await;

    let r = app
        .client
        .patch(app.url(&format!("/api/v1/databases/{id}")))
        .bearer_auth(TOKEN)
        .json(&json!({"name": pg::unique_name("in_renamed")}))
        .send()
        .await
        .expect("request");
    problem(r, 404, "PATCH database").await;

    let r = app
        .client
        .delete(app.url(&format!("/api/v1/databases/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request");
    problem(r, 404, "DELETE database").await;

    let r = app.get(&format!("/api/v1/databases/{id}/backups")).await;
    problem(r, 404, "GET database backups").await;

    let r = app
        .post(&format!("/api/v1/databases/{id}/backups"), json!({}))
        .await;
    problem(r, 404, "POST database backups").await;

    let r = app
        .post(&format!("/api/v1/databases/{id}/test"), json!({}))
        .await;
    problem(r, 404, "POST database test").await;

    assert_eq!(app.head().await, head, "the ledger changed");
}

#[tokio::test]
async fn unknown_backup_and_restore_ids_are_404() {
    let app = spawn_app().await;
    let db = pg::TempDb::create("in_unknown_b").await;
    app.register(db.name(), "postgres", &db.url()).await;
    let id = uuid::Uuid::now_v7().to_string();
    let head = app.settled_head().await;

    let r = app.get(&format!("/api/v1/backups/{id}")).await;
    problem(r, 404, "GET backup").await;

    let r = app
        .post(&format!("/api/v1/backups/{id}/restore"), json!({}))
        .await;
    problem(r, 404, "restore of unknown backup").await;

    let r = app.get(&format!("/api/v1/restores/{id}")).await;
    problem(r, 404, "GET restore").await;

    assert_eq!(app.head().await, head, "the ledger changed");
}

#[tokio::test]
async fn missing_or_wrong_token_is_401() {
    let app = spawn_app().await;
    let head = app.settled_head().await;
    let body = json!({"name": pg::unique_name("in_auth"), "engine": "postgres", "connection": valid_pg_url()});

    let r = app
        .client
        .post(app.url("/api/v1/databases"))
        .json(&body)
        .send()
        .await
        .expect("request");
    problem(r, 401, "no token").await;

    let r = app
        .client
        .post(app.url("/api/v1/databases"))
        .bearer_auth("not-the-token")
        .json(&body)
        .send()
        .await
        .expect("request");
    problem(r, 401, "wrong token").await;

    let r = app
        .client
        .get(app.url("/api/v1/databases"))
        .send()
        .await
        .expect("request");
    problem(r, 401, "GET without token").await;

    let r = app
        .client
        .get(app.url("/api/v1/events"))
        .bearer_auth(format!("{TOKEN}x"))
        .send()
        .await
        .expect("request");
    problem(r, 401, "GET with wrong token").await;

    assert_eq!(app.head().await, head, "the ledger changed");
}

#[tokio::test]
async fn bad_event_queries_are_422() {
    let app = spawn_app().await;
    let head = app.settled_head().await;
    for query in ["limit=0", "limit=5000", "order=sideways"] {
        let r = app.get(&format!("/api/v1/events?{query}")).await;
        problem(r, 422, query).await;
    }
    // The bounds themselves are fine.
    for query in ["limit=1", "limit=1000", "order=asc", "order=desc"] {
        let r = app.get(&format!("/api/v1/events?{query}")).await;
        assert_eq!(r.status(), 200, "{query}");
    }
    assert_eq!(app.head().await, head, "the ledger changed");
}

#[tokio::test]
async fn openapi_health_and_readiness_answer_without_auth() {
    let app = spawn_app().await;

    let r = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let ct = r
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("application/json"), "content type {ct:?}");
    let doc: Value = r.json().await.expect("openapi is JSON");
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3.1"),
        "openapi version: {}",
        doc["openapi"]
    );
    assert!(
        doc["paths"]
            .as_object()
            .expect("paths")
            .contains_key("/api/v1/databases/{id}/backups"),
        "paths: {:?}",
        doc["paths"]
            .as_object()
            .map(|p| p.keys().collect::<Vec<_>>())
    );

    let r = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["status"], "ok", "{v}");

    let r = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["ledger"], "ok", "{v}");
    assert_eq!(v["storage"], "ok", "{v}");
    assert_eq!(v["projections"], "ok", "{v}");
}
