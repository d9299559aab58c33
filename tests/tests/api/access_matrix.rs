//! Walks every route of the OpenAPI document as a viewer, an operator, an admin, a principal
//! scoped to one database, a viewer's session, a revoked token and nobody, and checks each
//! answer against the route's `x-required-role`: refused is 401 (no or dead credentials) or
//! 403 (too low, or another database) as problem+json, and appends nothing.

use crate::helpers::{spawn_app, TestApp};
use crate::principals::{create_user, issue_token, sign_in, As, PASSWORD};
use crate::support::pg;
use serde_json::{json, Value};

const ROLES: [&str; 3] = ["viewer", "operator", "admin"];
const FAKE_ID: &str = "01900000-0000-7000-8000-000000000000";

struct Principal {
    label: &'static str,
    who: As,
    /// `None`: no valid credentials.
    role: Option<&'static str>,
    scoped: bool,
}

fn rank(role: &str) -> usize {
    ROLES.iter().position(|r| *r == role).expect("a known role")
}

async fn principals(app: &TestApp, in_scope: &str) -> Vec<Principal> {
    let admin = As::admin();
    let mut out = Vec::new();
    for (label, role) in [
        ("viewer", "viewer"),
        ("operator", "operator"),
        ("admin", "admin"),
    ] {
        let (_, t) = issue_token(app, &admin, role, None).await;
        out.push(Principal {
            label,
            who: As::Bearer(t),
            role: Some(role),
            scoped: false,
        });
    }
    let (_, t) = issue_token(app, &admin, "operator", Some(vec![in_scope])).await;
    out.push(Principal {
        label: "scoped operator",
        who: As::Bearer(t),
        role: Some("operator"),
        scoped: true,
    });
    create_user(app, "walker", "viewer", None).await;
    let session = sign_in(app, "walker", PASSWORD).await.expect("signs in");
    out.push(Principal {
        label: "viewer session",
        who: session,
        role: Some("viewer"),
        scoped: false,
    });
    let (id, t) = issue_token(app, &admin, "admin", None).await;
    let r = admin
        .send(app, "DELETE", &format!("/api/v1/tokens/{id}"), None)
        .await;
    assert_eq!(r.status(), 204);
    out.push(Principal {
        label: "revoked token",
        who: As::Bearer(t),
        role: None,
        scoped: false,
    });
    out.push(Principal {
        label: "no token",
        who: As::Nobody,
        role: None,
        scoped: false,
    });
    out
}

/// The path to call: other database's ids for the scoped principal on routes about one
/// database, a made-up id everywhere else (the role is checked before the id is looked up).
fn concrete(path: &str, scope: &str, p: &Principal, other_db: &str, other_backup: &str) -> String {
    let id = match (p.scoped, scope) {
        (true, "the database {id}") => other_db,
        (true, "the database of backup {id}") => other_backup,
        _ => FAKE_ID,
    };
    path.replace("{id}", id)
}

#[tokio::test]
async fn every_route_answers_each_role_as_its_rule_says() {
    let app = spawn_app().await;
    let inside = pg::TempDb::create("walk_in").await;
    let outside = pg::TempDb::create("walk_out").await;
    app.register(inside.name(), "postgres", &inside.url()).await;
    let other_db = app
        .register(outside.name(), "postgres", &outside.url())
        .await;
    let backup = app.backup(&other_db).await;
    assert_eq!(backup["status"], "completed", "{backup}");
    let other_backup = backup["id"].as_str().unwrap().to_string();
    let principals = principals(&app, inside.name()).await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    let mut routes = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            let required = op["x-required-role"].as_str().unwrap_or("absent");
            assert!(
                required == "none" || ROLES.contains(&required),
                "{method} {path}: x-required-role is {required}: add the route to api/src/http/roles.rs"
            );
            if required == "none" {
                continue;
            }
            let scope = op["x-database-scope"].as_str().expect("x-database-scope");
            let method = method.to_uppercase();
            routes += 1;
            for p in &principals {
                let url = concrete(path, scope, p, &other_db, &other_backup);
                let body = matches!(method.as_str(), "POST" | "PATCH").then(|| json!({}));
                let head = app.head().await;
                let r = p.who.send(&app, &method, &url, body).await;
                let status = r.status().as_u16();
                let expected = match p.role {
                    None => Some(401),
                    Some(role) if rank(role) < rank(required) => Some(403),
                    Some(_) if p.scoped && url.contains(&other_db) => Some(403),
                    Some(_) if p.scoped && url.contains(&other_backup) => Some(403),
                    Some(_) if p.scoped && scope == "unscoped principals only" => Some(403),
                    Some(_) => None,
                };
                let what = format!("{method} {url} as {} ({required} needed)", p.label);
                match expected {
                    Some(code) => {
                        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
                        let text = r.text().await.unwrap();
                        assert_eq!(status, code, "{what}: {text}");
                        assert!(ct.starts_with("application/problem+json"), "{what}: {ct}");
                        assert_eq!(app.head().await, head, "{what} appended to the ledger");
                    }
                    None => assert!(
                        status != 401 && status != 403,
                        "{what} was refused: {status} {}",
                        r.text().await.unwrap_or_default()
                    ),
                }
                checked += 1;
            }
        }
    }
    assert!(routes >= 40, "only {routes} routes need a role");
    assert_eq!(checked, routes * principals.len());
}
