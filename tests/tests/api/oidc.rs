//! Single sign-on end to end: a real OpenID provider (the certified `oidc-provider` package,
//! tests/oidc/provider.mjs) and headless Chromium (tests/oidc/signin.mjs) sign people in to
//! the real server. Needs `npm ci` in tests/oidc (done by .ci/run).

use crate::helpers::{TestApp, TOKEN};
use crate::principals::As;
use backline_api::startup::Server;
use backline_app::access::{OidcSecret, OidcSettings};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const CLIENT_ID: &str = "backline-test";
const CLIENT_SECRET: &str = "oidc-client-secret-do-not-leak-42";

fn oidc_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc");
    assert!(
        dir.join("node_modules/oidc-provider").exists()
            && dir.join("node_modules/playwright-core").exists(),
        "run `npm ci` in {} first (the OpenID provider and the browser driver)",
        dir.display()
    );
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

struct Provider {
    _child: Child,
    issuer: String,
    accounts: PathBuf,
}

impl Provider {
    async fn start(redirect_uri: &str, accounts: &Path) -> Provider {
        let port = free_port();
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(oidc_dir())
            .env("OIDC_PORT", port.to_string())
            .env("OIDC_HOST", "localhost")
            .env("OIDC_REDIRECT_URI", redirect_uri)
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_ACCOUNTS_FILE", accounts)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let issuer = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("provider output") {
                if let Some(issuer) = line.strip_prefix("listening ") {
                    return issuer.to_string();
                }
            }
            panic!("the OpenID provider stopped before listening");
        })
        .await
        .expect("the OpenID provider listens within 30 s");
        // The rest of its output is read (and dropped) so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Provider {
            _child: child,
            issuer,
            accounts: accounts.to_path_buf(),
        }
    }

    fn set_accounts(&self, accounts: Value) {
        std::fs::write(&self.accounts, accounts.to_string()).expect("accounts file");
    }
}

/// Backline on `port` with single sign-on through `issuer`.
async fn spawn_with_oidc(port: u16, issuer: &str) -> TestApp {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut s = crate::helpers::settings(data_dir.path().to_path_buf(), None, None);
    s.public_url = Some(format!("http://127.0.0.1:{port}"));
    s.access.oidc = OidcSettings {
        issuer: Some(issuer.to_string()),
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(OidcSecret(CLIENT_SECRET.into())),
        role_map: vec![
            "backline-admins=admin".into(),
            "backline-ops=operator".into(),
            "backline-viewers=viewer".into(),
        ],
        name: "Test IdP".into(),
        ..Default::default()
    };
    let server = Server::build(s.clone(), &format!("127.0.0.1:{port}"), TOKEN.into())
        .await
        .expect("server builds");
    let app = server.app.clone();
    tokio::spawn(server.run());
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        data_dir,
        app,
        settings: s,
        ledger_db: None,
    }
}

/// Signs `login` in through the provider with headless Chromium; what the browser saw.
async fn browser_sign_in(app: &TestApp, login: &str) -> Value {
    let out = Command::new("node")
        .arg("signin.mjs")
        .arg(&app.base)
        .arg(login)
        .current_dir(oidc_dir())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out)
        .await
        .expect("the browser finishes within 2 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "signin.mjs {login}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("one JSON line")
}

async fn events(app: &TestApp, query: &str) -> Vec<Value> {
    As::admin()
        .get_json(app, &format!("/api/v1/events?limit=1000&{query}"))
        .await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn user_named(app: &TestApp, name: &str) -> Option<Value> {
    let users = As::admin().get_json(app, "/api/v1/users").await;
    users["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|u| u["username"] == name)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_through_a_real_openid_provider_with_the_role_their_groups_map_to() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let accounts = dir.path().join("accounts.json");
    std::fs::write(
        &accounts,
        json!({
            "ada": {"name": "Ada Lovelace", "groups": ["staff", "backline-admins"]},
            "olga": {"groups": ["backline-viewers"]},
            "mallory": {"groups": ["marketing"]},
        })
        .to_string(),
    )
    .expect("accounts");
    let redirect = format!("http://127.0.0.1:{port}/api/v1/oidc/callback");
    let provider = Provider::start(&redirect, &accounts).await;
    let app = spawn_with_oidc(port, &provider.issuer).await;

    // The sign-in page learns that single sign-on is there.
    let info = As::Nobody.get_json(&app, "/api/v1/oidc").await;
    assert_eq!(
        info,
        json!({"enabled": true, "name": "Test IdP", "login_url": "/api/v1/oidc/login"})
    );

    // A person in an admin-mapped group is made on first sign-in and is signed in as admin.
    let ada = browser_sign_in(&app, "ada").await;
    assert_eq!(ada["callback_status"], 303, "{ada}");
    assert_eq!(ada["url"], format!("{}/", app.base), "{ada}");
    assert_eq!(ada["session"]["status"], 200, "{ada}");
    let me = &ada["session"]["body"];
    assert_eq!(me["name"], "ada");
    assert_eq!(me["role"], "admin");
    assert_eq!(ada["cookie"]["httpOnly"], true);
    assert_eq!(ada["cookie"]["sameSite"], "Strict");
    let user = user_named(&app, "ada").await.expect("ada was made");
    assert_eq!(user["origin"], "oidc");
    assert_eq!(user["display_name"], "Ada Lovelace");
    let created = events(&app, "type=UserCreated").await;
    let made = created
        .iter()
        .find(|e| e["payload"]["username"] == "ada")
        .expect("UserCreated for ada");
    assert_eq!(made["actor"], "system:oidc", "{made}");
    assert_eq!(made["actor_name"], "single sign-on", "{made}");
    let signed = events(&app, "type=SignedIn").await;
    assert!(
        signed
            .iter()
            .any(|e| e["payload"]["username"] == "ada" && e["payload"]["method"] == "oidc"),
        "{signed:?}"
    );

    // A person whose groups map to no role is refused, recorded, and not made.
    let mallory = browser_sign_in(&app, "mallory").await;
    assert_eq!(mallory["callback_status"], 403, "{mallory}");
    assert!(
        mallory["text"]
            .as_str()
            .unwrap_or("")
            .contains("no role is mapped to your groups (marketing)"),
        "{mallory}"
    );
    assert_eq!(mallory["session"]["status"], 401, "{mallory}");
    assert!(user_named(&app, "mallory").await.is_none());
    let failed = events(&app, "type=SignInFailed").await;
    assert!(
        failed.iter().any(|e| e["payload"]["username"] == "mallory"
            && e["payload"]["reason"]
                .as_str()
                .unwrap_or("")
                .contains("no role is mapped")),
        "{failed:?}"
    );

    // A changed mapping is followed at the next sign-in (UserRoleChanged by system:oidc).
    let olga = browser_sign_in(&app, "olga").await;
    assert_eq!(olga["session"]["body"]["role"], "viewer", "{olga}");
    provider.set_accounts(json!({
        "ada": {"name": "Ada Lovelace", "groups": ["staff", "backline-admins"]},
        "olga": {"groups": ["backline-ops"]},
    }));
    let olga = browser_sign_in(&app, "olga").await;
    assert_eq!(olga["session"]["body"]["role"], "operator", "{olga}");
    let changed = events(&app, "type=UserRoleChanged").await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["actor"], "system:oidc");
    assert_eq!(changed[0]["payload"]["role"], "operator");

    // Disabled by an admin: its session answers 401 at once, and SSO lets it in no more.
    let cookie = ada["cookie"]["value"].as_str().expect("cookie").to_string();
    let session = As::Session {
        cookie,
        csrf: String::new(),
    };
    let r = session.send(&app, "GET", "/api/v1/session", None).await;
    assert_eq!(r.status(), 200);
    let id = user["id"].as_str().expect("id");
    let r = app
        .patch(&format!("/api/v1/users/{id}"), json!({"disabled": true}))
        .await;
    assert_eq!(r.status(), 200);
    let r = session.send(&app, "GET", "/api/v1/session", None).await;
    assert_eq!(r.status(), 401);
    let again = browser_sign_in(&app, "ada").await;
    assert_eq!(again["callback_status"], 403, "{again}");
    assert!(
        again["text"]
            .as_str()
            .unwrap_or("")
            .contains("ada is disabled"),
        "{again}"
    );

    // The client secret is nowhere in the ledger.
    let all = events(&app, "").await;
    assert!(!serde_json::to_string(&all).unwrap().contains(CLIENT_SECRET));
}

#[tokio::test]
async fn a_callback_this_browser_did_not_start_is_refused_and_changes_nothing() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let accounts = dir.path().join("accounts.json");
    std::fs::write(&accounts, "{}").expect("accounts");
    let redirect = format!("http://127.0.0.1:{port}/api/v1/oidc/callback");
    let provider = Provider::start(&redirect, &accounts).await;
    let app = spawn_with_oidc(port, &provider.issuer).await;
    let head = app.settled_head().await;
    // A forged callback (login CSRF): no pending cookie, or one whose state differs.
    let r = app
        .client
        .get(app.url("/api/v1/oidc/callback?code=abc&state=xyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let login = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/api/v1/oidc/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 302);
    let location = login.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&provider.issuer), "{location}");
    for part in [
        "code_challenge_method=S256",
        "state=",
        "nonce=",
        "scope=openid",
    ] {
        assert!(location.contains(part), "{location} lacks {part}");
    }
    assert!(!location.contains(CLIENT_SECRET));
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));
    let pending = set_cookie.split(';').next().unwrap().trim().to_string();
    let r = app
        .client
        .get(app.url("/api/v1/oidc/callback?code=abc&state=not-the-state"))
        .header("cookie", &pending)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("not started from this browser"),
        "{body}"
    );
    // The provider's refusal is shown as such.
    let r = app
        .client
        .get(
            app.url("/api/v1/oidc/callback?error=access_denied&error_description=the+user+said+no"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(app.settled_head().await, head, "nothing was appended");
}

#[tokio::test]
async fn without_configuration_single_sign_on_says_so() {
    let app = crate::helpers::spawn_app().await;
    let info = As::Nobody.get_json(&app, "/api/v1/oidc").await;
    assert_eq!(info["enabled"], false);
    let r = app
        .client
        .get(app.url("/api/v1/oidc/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
}
