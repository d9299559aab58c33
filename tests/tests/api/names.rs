//! A name belongs to one registered database, even when registrations and renames race, in one
//! process or in several on one ledger; renaming or removing a database frees its name.

use crate::helpers::{spawn_app, spawn_node};
use crate::support::pg;
use serde_json::{json, Value};

fn body(name: &str) -> Value {
    json!({"name": name, "engine": "postgres", "connection": pg::db_url("postgres")})
}

async fn count_named(app: &crate::helpers::TestApp, name: &str) -> usize {
    let list = app.get_json("/api/v1/databases").await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["name"] == name)
        .count()
}

#[tokio::test]
async fn concurrent_registrations_of_one_name_make_one_database() {
    let app = spawn_app().await;
    let statuses: Vec<u16> = futures::future::join_all((0..8).map(|_| async {
        app.post("/api/v1/databases", body("racy"))
            .await
            .status()
            .as_u16()
    }))
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(count_named(&app, "racy").await, 1);
    assert_eq!(app.events_of("DatabaseRegistered").await.len(), 1);
}

#[tokio::test]
async fn renames_are_checked_and_free_the_old_name() {
    let app = spawn_app().await;
    let a = app
        .register("alpha", "postgres", &pg::db_url("postgres"))
        .await;
    let b = app
        .register("beta", "postgres", &pg::db_url("postgres"))
        .await;
    let r = app
        .patch(&format!("/api/v1/databases/{b}"), json!({"name": "alpha"}))
        .await;
    assert_eq!(r.status(), 409);
    // Renaming alpha frees its name for beta; removing beta frees "alpha" again.
    let r = app
        .patch(&format!("/api/v1/databases/{a}"), json!({"name": "gamma"}))
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .patch(&format!("/api/v1/databases/{b}"), json!({"name": "alpha"}))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/databases/{b}")))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    app.register("alpha", "postgres", &pg::db_url("postgres"))
        .await;
    // gamma keeps its (new) name.
    let r = app.post("/api/v1/databases", body("gamma")).await;
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn two_processes_on_one_ledger_cannot_register_one_name_twice() {
    let ledger = pg::TempDb::create("bl_names_ledger").await;
    let shared = tempfile::tempdir().unwrap();
    let a = spawn_node("node-a", &ledger.url(), shared.path(), 30).await;
    let b = spawn_node("node-b", &ledger.url(), shared.path(), 30).await;
    for round in 0..5 {
        let name = format!("shared-{round}");
        let (ra, rb) = futures::join!(
            a.post("/api/v1/databases", body(&name)),
            b.post("/api/v1/databases", body(&name))
        );
        let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "round {round}");
    }
    let registered = a.events_of("DatabaseRegistered").await;
    assert_eq!(registered.len(), 5, "one registration per name");
}
