//! The sealed ledger on both event stores: `backline ledger seal | verify | export`, tampering
//! by SQL (edit, delete, swap, insert) named at its first bad position, a consistent rewrite
//! of the chain caught by the anchors and the signature, and the reference verifier script.

use crate::helpers::{backline_bin, settings};
use crate::support::pg;
use backline_app::App;
use backline_domain::seal::{leaf_hint, root_of, BlockHead};
use backline_domain::StoredConnection;
use backline_domain::{Database, DatabaseCommand, DatabaseName, Engine, Retention, Seal};
use backline_infra::signing::ServerKey;
use backline_infra::{EventMeta, LedgerKind};
use std::process::Output;
use std::sync::Arc;

/// A ledger of 12 registrations sealed in two blocks: 1-6 (sealed by the event at 7) and
/// 7-13 (sealed by the event at 14).
pub(crate) struct Sealed {
    pub dir: tempfile::TempDir,
    pub db: Option<pg::TempDb>,
    pub app: Arc<App>,
}

pub(crate) fn register(name: &str) -> DatabaseCommand {
    DatabaseCommand::Register {
        name: DatabaseName::parse(name).unwrap(),
        engine: Engine::Postgres,
        connection: StoredConnection {
            host: "h".into(),
            port: 5432,
            user: "u".into(),
            database: "d".into(),
            params: Default::default(),
            password: None,
            ssh: None,
        },
        schedule: None,
        retention: Retention::default(),
    }
}

pub(crate) async fn append(app: &App, names: std::ops::Range<usize>) {
    let cqrs = app.ledger.cqrs::<Database>(());
    for i in names {
        let meta = EventMeta {
            actor: "tester".into(),
            correlation_id: format!("c{i}"),
            node: "n".into(),
        }
        .to_map();
        cqrs.execute_with_metadata(&format!("db{i}"), register(&format!("n{i}")), meta)
            .await
            .unwrap();
    }
}

async fn sealed(pg_ledger: bool) -> Sealed {
    let dir = tempfile::tempdir().unwrap();
    let db = if pg_ledger {
        Some(pg::TempDb::create("bl_seal").await)
    } else {
        None
    };
    let s = settings(dir.path().to_path_buf(), db.as_ref().map(|d| d.url()), None);
    let app = App::open(s.clone()).await.unwrap();
    append(&app, 0..6).await;
    let first = app.seals().seal_now().await.unwrap();
    assert_eq!((first.blocks, first.events, first.sealed_to), (1, 6, 6));
    append(&app, 6..12).await;
    let second = app.seals().seal_now().await.unwrap();
    assert_eq!((second.blocks, second.events, second.sealed_to), (1, 7, 13));
    // Only the last seal is left: nothing more to seal.
    assert_eq!(app.seals().seal_now().await.unwrap().blocks, 0);
    Sealed { dir, db, app }
}

impl Sealed {
    pub(crate) async fn cli(&self, args: &[&str]) -> Output {
        let mut c = tokio::process::Command::new(backline_bin());
        c.env("BACKLINE_DATA_DIR", self.dir.path())
            .env("BACKLINE_LOG", "warn")
            .env_remove("BACKLINE_STORAGE_URL")
            .env_remove("BACKLINE_LEDGER_URL");
        if let Some(db) = &self.db {
            c.env("BACKLINE_LEDGER_URL", db.url());
        }
        c.args(args).output().await.expect("run backline")
    }

    /// Runs SQL on the ledger's own database as someone with write access to it would.
    pub(crate) async fn sql(&self, statements: &[&str]) {
        let pool = self.app.ledger.pool();
        for s in statements {
            sqlx::query(s)
                .execute(pool)
                .await
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
    }

    /// Lifts the append-only guards (what an intruder with the database does first).
    async fn unguard(&self) {
        match self.app.ledger.kind() {
            LedgerKind::Sqlite => {
                self.sql(&[
                    "DROP TRIGGER events_no_update",
                    "DROP TRIGGER events_no_delete",
                    "DROP TRIGGER events_position",
                ])
                .await
            }
            LedgerKind::Postgres => self.sql(&["ALTER TABLE events DISABLE TRIGGER USER"]).await,
        }
    }

    async fn edit_payload(&self, position: i64, from: &str, to: &str) {
        let set = match self.app.ledger.kind() {
            LedgerKind::Sqlite => format!("payload = REPLACE(payload, '{from}', '{to}')"),
            LedgerKind::Postgres => {
                format!("payload = CAST(REPLACE(CAST(payload AS TEXT), '{from}', '{to}') AS json)")
            }
        };
        self.sql(&[&format!(
            "UPDATE events SET {set} WHERE position = {position}"
        )])
        .await;
    }

    /// `ledger verify`: its exit status and what it printed.
    pub(crate) async fn verify(&self) -> (bool, String) {
        let out = self.cli(&["ledger", "verify"]).await;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    async fn assert_first_bad(&self, position: i64) {
        let (ok, text) = self.verify().await;
        assert!(!ok, "verify should fail:\n{text}");
        assert!(
            text.contains(&format!("first bad position {position} ")),
            "expected first bad position {position}:\n{text}"
        );
    }
}

async fn untouched_verifies(pg_ledger: bool) {
    let s = sealed(pg_ledger).await;
    let (ok, text) = s.verify().await;
    assert!(ok, "{text}");
    assert!(
        text.starts_with(
            "ok: 14 events, 13 sealed in 2 blocks, 1 not sealed yet; 2 anchors in 1 storages"
        ),
        "{text}"
    );
    // `ledger seal` from the command line: nothing new to seal; then new events are sealed.
    append(&s.app, 12..15).await;
    let out = s.cli(&["ledger", "seal"]).await;
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("sealed 4 events in 1 blocks; the chain now ends at position 17"));
    let (ok, text) = s.verify().await;
    assert!(
        ok && text.starts_with("ok: 18 events, 17 sealed in 3 blocks"),
        "{text}"
    );
}

#[tokio::test]
async fn an_untouched_ledger_verifies_sqlite() {
    untouched_verifies(false).await;
}

#[tokio::test]
async fn an_untouched_ledger_verifies_postgres() {
    untouched_verifies(true).await;
}

async fn tampering_is_named(pg_ledger: bool) {
    // Edit one event's payload.
    let s = sealed(pg_ledger).await;
    s.unguard().await;
    s.edit_payload(9, "n7", "nX").await;
    s.assert_first_bad(9).await;
    // Edit one in the first block: the first bad position is the earlier one.
    s.edit_payload(2, "n1", "nY").await;
    s.assert_first_bad(2).await;

    // Delete one event.
    let s = sealed(pg_ledger).await;
    s.unguard().await;
    s.sql(&["DELETE FROM events WHERE position = 10"]).await;
    s.assert_first_bad(10).await;

    // Swap two events' positions.
    let s = sealed(pg_ledger).await;
    s.unguard().await;
    s.sql(&[
        "UPDATE events SET position = -1 WHERE position = 8",
        "UPDATE events SET position = 8 WHERE position = 12",
        "UPDATE events SET position = 12 WHERE position = -1",
    ])
    .await;
    s.assert_first_bad(8).await;

    // Insert a forged event at position 11, moving the later ones up.
    let s = sealed(pg_ledger).await;
    s.unguard().await;
    s.sql(&[
        "UPDATE events SET position = -position - 1 WHERE position >= 11",
        "UPDATE events SET position = -position WHERE position < 0",
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, position) \
         SELECT aggregate_type, 'forged', sequence, event_type, event_version, payload, metadata, 11 FROM events WHERE position = 10",
    ])
    .await;
    s.assert_first_bad(11).await;
}

#[tokio::test]
async fn tampering_is_named_at_its_first_bad_position_sqlite() {
    tampering_is_named(false).await;
}

#[tokio::test]
async fn tampering_is_named_at_its_first_bad_position_postgres() {
    tampering_is_named(true).await;
}

/// Edits event 9 and rewrites block 7-13 (its seal, the event at 14) to match, signed with
/// `key`.
async fn rewrite_chain(s: &Sealed, key: &ServerKey) {
    s.unguard().await;
    s.edit_payload(9, "n7", "nX").await;
    let records = s.app.ledger.read_records(6, 13, 100).await.unwrap();
    let leaves: Vec<[u8; 32]> = records.iter().map(|r| r.leaf().unwrap()).collect();
    let stored = s.app.ledger.read_after(13, 1).await.unwrap().remove(0);
    let mut seal: Seal = serde_json::from_value(stored.payload["LedgerSealed"].clone()).unwrap();
    seal.head = BlockHead {
        root: root_of(&leaves),
        ..seal.head
    };
    seal.hash = seal.head.hash();
    seal.leaves = records
        .iter()
        .zip(&leaves)
        .map(|(r, l)| (r.position, leaf_hint(l)))
        .collect();
    seal.public_key = Some(key.public_hex());
    seal.signature = Some(key.sign(&seal.head.canonical_bytes()));
    let payload = serde_json::json!({ "LedgerSealed": seal })
        .to_string()
        .replace('\'', "''");
    let cast = match s.app.ledger.kind() {
        LedgerKind::Sqlite => format!("'{payload}'"),
        LedgerKind::Postgres => format!("CAST('{payload}' AS json)"),
    };
    s.sql(&[&format!(
        "UPDATE events SET payload = {cast} WHERE position = 14"
    )])
    .await;
}

async fn consistent_rewrites_are_caught(pg_ledger: bool) {
    // With the server's own key: the chain and signatures hold, the anchors do not.
    let s = sealed(pg_ledger).await;
    let (key, _) = ServerKey::load_or_create(&s.dir.path().join("signing.key")).unwrap();
    rewrite_chain(&s, &key).await;
    let (ok, text) = s.verify().await;
    assert!(!ok, "{text}");
    assert!(
        text.contains("block 7-13 differs from its anchor in storage default"),
        "{text}"
    );
    assert!(text.contains("first bad position 7 "), "{text}");
    // Without it: the signature gives it away (even before the anchors are looked at).
    let s = sealed(pg_ledger).await;
    let other = tempfile::tempdir().unwrap();
    let (forger, _) = ServerKey::load_or_create(&other.path().join("k")).unwrap();
    rewrite_chain(&s, &forger).await;
    let (ok, text) = s.verify().await;
    assert!(!ok, "{text}");
    assert!(
        text.contains("block 7-13 is signed by another key"),
        "{text}"
    );
    // A seal removed from storage is reported too.
    let s = sealed(pg_ledger).await;
    std::fs::remove_file(s.dir.path().join("artifacts/ledger-seals/1-6.json")).unwrap();
    let (ok, text) = s.verify().await;
    assert!(
        !ok && text.contains("block 1-6 is missing from storage default"),
        "{text}"
    );
}

#[tokio::test]
async fn a_consistent_rewrite_is_caught_by_anchors_and_signatures_sqlite() {
    consistent_rewrites_are_caught(false).await;
}

#[tokio::test]
async fn a_consistent_rewrite_is_caught_by_anchors_and_signatures_postgres() {
    consistent_rewrites_are_caught(true).await;
}

async fn export(s: &Sealed, name: &str) -> std::path::PathBuf {
    let out = s
        .cli(&["ledger", "export", "--from", "3", "--to", "9"])
        .await;
    assert!(out.status.success(), "{out:?}");
    let path = s.dir.path().join(name);
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

async fn python_agrees(pg_ledger: bool) {
    let s = sealed(pg_ledger).await;
    let file = export(&s, "export.jsonl").await;
    let py = |file: &std::path::Path| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/verify-ledger.py");
        std::process::Command::new("python3")
            .arg(script)
            .arg(file)
            .output()
            .unwrap()
    };
    let out = py(&file);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Whole blocks 1-6 and 7-13: 13 events, both seals.
    assert_eq!(text.trim(), "ok: 13 events, 13 sealed in 2 blocks");
    // Tampered: both name the same first bad position.
    s.unguard().await;
    s.edit_payload(5, "n4", "nZ").await;
    s.assert_first_bad(5).await;
    let file = export(&s, "tampered.jsonl").await;
    let out = py(&file);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success());
    assert!(text.contains("first bad position 5"), "{text}");
}

#[tokio::test]
async fn the_reference_verifier_agrees_with_ledger_verify_sqlite() {
    python_agrees(false).await;
}

#[tokio::test]
async fn the_reference_verifier_agrees_with_ledger_verify_postgres() {
    python_agrees(true).await;
}

#[tokio::test]
async fn the_api_verifies_the_ledger_and_a_failure_raises_ledger_integrity() {
    let app = crate::helpers::spawn_app().await;
    for i in 0..3 {
        app.register(
            &crate::support::pg::unique_name("sealapi"),
            "postgres",
            &format!("postgres://app@127.0.0.1:5432/app{i}"),
        )
        .await;
    }
    let report = app.app.seals().seal_now().await.unwrap();
    assert!(report.blocks >= 1 && report.events >= 3, "{report:?}");
    // The seal is an event like any other: the read models (timeline) take it.
    app.app.projections.catch_up().await.unwrap();
    let sealed = app.events_of("LedgerSealed").await;
    assert_eq!(sealed.len(), 1, "{sealed:?}");
    let v = app.get_json("/api/v1/ledger/verify").await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["first_bad_position"], serde_json::Value::Null);
    let status = app.get_json("/api/v1/ledger").await;
    assert_eq!(status["public_key"], app.app.public_key().as_str());
    assert_eq!(status["sealed_to"], report.sealed_to, "{status}");
    assert_eq!(status["last_verification"]["ok"], true, "{status}");
    let unauthenticated = reqwest::get(app.url("/api/v1/ledger/verify"))
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    let pool = app.app.ledger.pool();
    for s in [
        "DROP TRIGGER events_no_update",
        "UPDATE events SET payload = REPLACE(payload, 'postgres', 'mysql') WHERE position = 1",
    ] {
        sqlx::query(s).execute(pool).await.unwrap();
    }
    let v = app.get_json("/api/v1/ledger/verify").await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["first_bad_position"], 1, "{v}");
    // The read models take the alert within a tick of the server.
    let started = std::time::Instant::now();
    let raised = loop {
        let alerts = app.get_json("/api/v1/alerts").await;
        let found = alerts["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "ledger_integrity")
            .cloned();
        if let Some(a) = found {
            break a;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "no ledger_integrity alert: {alerts}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(
        raised["message"].as_str().unwrap().contains("position 1"),
        "{raised}"
    );
}
