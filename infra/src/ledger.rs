//! The ledger: cqrs-es event stores on SQLite (embedded default) or PostgreSQL (shared by
//! several processes), our own migrations, and reads in global `position` order.

use cqrs_es::persist::{
    PersistedEventRepository, PersistedEventStore, PersistenceError, ReplayStream, SerializedEvent,
    SerializedSnapshot,
};
use cqrs_es::{Aggregate, AggregateContext, AggregateError, CqrsFramework, EventStore};
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlite_es::SqliteEventRepository;
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AnyPool, PgPool, Row, SqlitePool};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

mod records;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger URL {0:?} is not supported: use sqlite://<file> or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot open the ledger at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot migrate the ledger: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("ledger query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("ledger holds an unreadable event at position {position}: {message}")]
    Corrupt { position: i64, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerKind {
    Sqlite,
    Postgres,
}

/// One event as stored, with its global position and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
}

impl StoredEvent {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(Value::as_str)
    }
}

/// The event repository of whichever backend was configured.
#[derive(Clone)]
pub enum LedgerRepo {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

macro_rules! delegate {
    ($self:ident, $repo:ident => $body:expr) => {
        match $self {
            LedgerRepo::Sqlite(pool) => {
                let $repo = SqliteEventRepository::new(pool.clone());
                $body
            }
            LedgerRepo::Postgres(pool) => {
                let $repo = PostgresEventRepository::new(pool.clone());
                $body
            }
        }
    };
}

impl PersistedEventRepository for LedgerRepo {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        delegate!(self, r => r.get_events::<A>(aggregate_id).await)
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        delegate!(self, r => r.get_last_events::<A>(aggregate_id, last_sequence).await)
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        delegate!(self, r => r.get_snapshot::<A>(aggregate_id).await)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        delegate!(self, r => r.persist::<A>(events, snapshot_update).await)
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        delegate!(self, r => r.stream_events::<A>(aggregate_id).await)
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        delegate!(self, r => r.stream_all_events::<A>().await)
    }
}

pub type Store<A> = PersistedEventStore<LedgerRepo, A>;
pub type Cqrs<A> = CqrsFramework<A, Store<A>>;

/// The ledger: where every event is appended and read back.
#[derive(Clone)]
pub struct Ledger {
    kind: LedgerKind,
    repo: LedgerRepo,
    /// A backend-neutral pool for projections, keys and position-ordered reads.
    any: AnyPool,
    url_redacted: String,
}

fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

impl Ledger {
    /// Opens (creating if needed) and migrates the ledger at `url`.
    pub async fn open(url: &str) -> Result<Self, LedgerError> {
        sqlx::any::install_default_drivers();
        let url_redacted = redact_url(url);
        let connect_err = |source| LedgerError::Connect {
            url: url_redacted.clone(),
            source,
        };
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(connect_err)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .map_err(connect_err)?;
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            let any = AnyPoolOptions::new()
                .max_connections(8)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        // As the events' own pool (WAL, synchronous NORMAL); statement
                        // journals in memory: a read model's multi-row upserts inside a long
                        // transaction (a rebuild) journal every page they touch again, which
                        // as temporary files cost a write(2) each.
                        for pragma in [
                            "PRAGMA busy_timeout = 30000",
                            "PRAGMA synchronous = NORMAL",
                            "PRAGMA temp_store = MEMORY",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                        Ok(())
                    })
                })
                .connect(url)
                .await
                .map_err(connect_err)?;
            Ok(Self {
                kind: LedgerKind::Sqlite,
                repo: LedgerRepo::Sqlite(pool),
                any,
                url_redacted,
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(connect_err)?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            let any = AnyPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(connect_err)?;
            Ok(Self {
                kind: LedgerKind::Postgres,
                repo: LedgerRepo::Postgres(pool),
                any,
                url_redacted,
            })
        } else {
            Err(LedgerError::UnsupportedUrl(url_redacted))
        }
    }

    pub fn kind(&self) -> LedgerKind {
        self.kind
    }

    pub fn url_redacted(&self) -> &str {
        &self.url_redacted
    }

    pub fn pool(&self) -> &AnyPool {
        &self.any
    }

    /// A command framework for aggregate `A` on this ledger (plain event store: no snapshots).
    pub fn cqrs<A: Aggregate>(&self, services: A::Services) -> Cqrs<A> {
        CqrsFramework::new(self.store(), vec![], services)
    }

    pub fn store<A: Aggregate>(&self) -> Store<A> {
        PersistedEventStore::new_event_store(self.repo.clone())
    }

    /// Current state of aggregate `id`, or `None` if it has no events.
    pub async fn load<A>(&self, id: &str) -> Result<Option<A>, AggregateError<A::Error>>
    where
        A: Aggregate + Clone,
    {
        let store = self.store::<A>();
        let events = store.load_events(id).await?;
        if events.is_empty() {
            return Ok(None);
        }
        let mut ctx = store.load_aggregate(id).await?;
        Ok(Some(ctx.aggregate().clone()))
    }

    /// Events after `position`, in position order, at most `limit`.
    pub async fn read_after(
        &self,
        position: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, LedgerError> {
        let rows = sqlx::query(
            "SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
             CAST(payload AS TEXT) AS payload, CAST(metadata AS TEXT) AS metadata \
             FROM events WHERE position > $1 ORDER BY position LIMIT $2",
        )
        .bind(position)
        .bind(limit)
        .fetch_all(&self.any)
        .await?;
        rows.iter().map(row_to_event).collect()
    }

    /// Events of aggregate type `aggregate_type` after `position`, in position order.
    pub async fn read_aggregate_type(
        &self,
        aggregate_type: &str,
        position: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, LedgerError> {
        let rows = sqlx::query(
            "SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
             CAST(payload AS TEXT) AS payload, CAST(metadata AS TEXT) AS metadata \
             FROM events WHERE aggregate_type = $1 AND position > $2 ORDER BY position LIMIT $3",
        )
        .bind(aggregate_type)
        .bind(position)
        .bind(limit)
        .fetch_all(&self.any)
        .await?;
        rows.iter().map(row_to_event).collect()
    }

    /// The last event of aggregate type `aggregate_type`, if any.
    pub async fn last_of_type(
        &self,
        aggregate_type: &str,
    ) -> Result<Option<StoredEvent>, LedgerError> {
        let rows = sqlx::query(
            "SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
             CAST(payload AS TEXT) AS payload, CAST(metadata AS TEXT) AS metadata \
             FROM events WHERE aggregate_type = $1 ORDER BY position DESC LIMIT 1",
        )
        .bind(aggregate_type)
        .fetch_all(&self.any)
        .await?;
        rows.iter().map(row_to_event).next().transpose()
    }

    /// Checks that the ledger accepts writes: a row inserted in a transaction rolled back.
    pub async fn probe_writable(&self) -> Result<(), LedgerError> {
        let mut tx = self.any.begin().await?;
        sqlx::query(
            "INSERT INTO rm_checkpoints (name, position) VALUES ('backline-readiness-probe', 0)",
        )
        .execute(&mut *tx)
        .await?;
        tx.rollback().await?;
        Ok(())
    }

    /// The ids of every aggregate of `aggregate_type` that has events.
    pub async fn aggregate_ids(&self, aggregate_type: &str) -> Result<Vec<String>, LedgerError> {
        let rows = sqlx::query(
            "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = $1 ORDER BY aggregate_id",
        )
        .bind(aggregate_type)
        .fetch_all(&self.any)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>("aggregate_id").ok())
            .collect())
    }

    /// Highest position in the ledger (0 when empty).
    pub async fn head(&self) -> Result<i64, LedgerError> {
        let row = sqlx::query("SELECT COALESCE(MAX(position), 0) AS head FROM events")
            .fetch_one(&self.any)
            .await?;
        Ok(row.try_get::<i64, _>("head")?)
    }
}

fn row_to_event(row: &sqlx::any::AnyRow) -> Result<StoredEvent, LedgerError> {
    let position: i64 = row.try_get("position")?;
    let parse = |col: &str| -> Result<Value, LedgerError> {
        let text: String = row.try_get(col)?;
        serde_json::from_str(&text).map_err(|e| LedgerError::Corrupt {
            position,
            message: format!("{col}: {e}"),
        })
    };
    Ok(StoredEvent {
        position,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: parse("payload")?,
        metadata: parse("metadata")?,
    })
}

/// Metadata every event carries.
#[derive(Debug, Clone)]
pub struct EventMeta {
    pub actor: String,
    pub correlation_id: String,
    pub node: String,
}

impl EventMeta {
    pub fn to_map(&self) -> HashMap<String, String> {
        HashMap::from([
            (
                "at".to_string(),
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            ),
            ("actor".to_string(), self.actor.clone()),
            ("correlation_id".to_string(), self.correlation_id.clone()),
            ("node".to_string(), self.node.clone()),
        ])
    }
}
