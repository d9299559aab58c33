//! The same ledger suite on both event stores: SQLite (embedded) and PostgreSQL (shared).

use crate::support::pg;
use backline_app::App;
use backline_domain::{
    Database, DatabaseCommand, DatabaseError, DatabaseName, Engine, Retention, StoredConnection,
};
use backline_infra::{EventMeta, Ledger, LedgerKind};
use cqrs_es::AggregateError;

fn register(name: &str) -> DatabaseCommand {
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

fn meta(actor: &str) -> std::collections::HashMap<String, String> {
    EventMeta {
        actor: actor.into(),
        correlation_id: "c1".into(),
        node: "n1".into(),
    }
    .to_map()
}

async fn suite(ledger: Ledger) {
    let cqrs = ledger.cqrs::<Database>(());
    assert_eq!(ledger.head().await.unwrap(), 0);
    // Appends get consecutive global positions across aggregates, with metadata.
    for i in 0..5 {
        cqrs.execute_with_metadata(&format!("db{i}"), register(&format!("n{i}")), meta("alice"))
            .await
            .unwrap();
    }
    let events = ledger.read_after(0, 100).await.unwrap();
    assert_eq!(events.len(), 5);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.position, i as i64 + 1);
        assert_eq!(e.aggregate_type, "Database");
        assert_eq!(e.event_type, "DatabaseRegistered");
        assert_eq!(e.sequence, 1);
        for k in ["at", "actor", "correlation_id", "node"] {
            assert!(e.meta(k).is_some(), "metadata {k} missing");
        }
        assert_eq!(e.meta("actor"), Some("alice"));
    }
    // Reading after a position, with a limit, in order.
    let tail = ledger.read_after(3, 1).await.unwrap();
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].position, 4);
    // Domain rules hold through the store; a refused command appends nothing.
    let err = cqrs
        .execute_with_metadata("db0", register("n0"), meta("bob"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AggregateError::UserError(DatabaseError::AlreadyRegistered)
    ));
    assert_eq!(ledger.head().await.unwrap(), 5);
    // Optimistic concurrency: of many concurrent commands on one aggregate, each either
    // commits at its own sequence or conflicts; none is lost or duplicated.
    let mut handles = Vec::new();
    for i in 0..8 {
        let cqrs = ledger.cqrs::<Database>(());
        handles.push(tokio::spawn(async move {
            cqrs.execute_with_metadata(
                "db1",
                DatabaseCommand::Update {
                    name: Some(DatabaseName::parse(&format!("renamed{i}")).unwrap()),
                    connection: None,
                    schedule: None,
                    retention: None,
                },
                meta("carol"),
            )
            .await
        }));
    }
    let mut ok = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(()) => ok += 1,
            Err(AggregateError::AggregateConflict) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert!(ok >= 1);
    let db1: Vec<_> = ledger
        .read_after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.aggregate_id == "db1")
        .collect();
    assert_eq!(db1.len(), 1 + ok, "every committed command is stored once");
    let seqs: Vec<i64> = db1.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, (1..=db1.len() as i64).collect::<Vec<_>>());
    // Positions stay strictly increasing and gap-free on reading.
    let all = ledger.read_after(0, 1000).await.unwrap();
    for w in all.windows(2) {
        assert!(w[1].position > w[0].position);
    }
    // The ledger is append-only.
    let r = sqlx::query("UPDATE events SET payload = payload WHERE aggregate_id = 'db0'")
        .execute(ledger.pool())
        .await;
    assert!(r.is_err(), "an UPDATE of the ledger must fail");
    let r = sqlx::query("DELETE FROM events WHERE aggregate_id = 'db0'")
        .execute(ledger.pool())
        .await;
    assert!(r.is_err(), "a DELETE from the ledger must fail");
    // Loading an aggregate replays its events.
    let state = ledger.load::<Database>("db1").await.unwrap().unwrap();
    assert!(state.name.unwrap().as_str().starts_with("renamed"));
    assert!(ledger.load::<Database>("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn ledger_suite_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&format!("sqlite://{}/l.db", dir.path().display()))
        .await
        .unwrap();
    assert_eq!(ledger.kind(), LedgerKind::Sqlite);
    suite(ledger).await;
}

#[tokio::test]
async fn ledger_suite_on_postgres() {
    let db = pg::TempDb::create("bl_ledger_suite").await;
    let ledger = Ledger::open(&db.url()).await.unwrap();
    assert_eq!(ledger.kind(), LedgerKind::Postgres);
    suite(ledger).await;
    // Opening again (a second process) runs no migration twice and sees the same ledger.
    let again = Ledger::open(&db.url()).await.unwrap();
    assert!(again.head().await.unwrap() >= 6);
}

#[tokio::test]
async fn unsupported_ledger_urls_are_refused() {
    let err = Ledger::open("mysql://root@127.0.0.1/x")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("sqlite://"), "{err}");
    let _ = App::open; // the app opens the ledger the same way
}
