//! The timeline read model: every event by global position, with the database it concerns and
//! its fields without secrets.

use crate::alerts::AlertView;
use crate::backups::BackupView;
use crate::drills::DrillView;
use crate::event::Applied;
use crate::restores::RestoreView;
use crate::store::{bodies, load, Arg, OnConflict, Tx, Write};
use crate::{ProjectionError, Projections};
use backline_domain::{
    AlertEvent, ArchiveEvent, BackupEvent, BaseBackupEvent, DrillEvent, LedgerEvent, RestoreEvent,
    ServerEvent,
};
use backline_infra::StoredEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventView {
    pub position: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub database_id: Option<String>,
    /// Another database the event concerns: the source of a restore into another database.
    #[serde(default)]
    pub related_database_id: Option<String>,
    pub at: String,
    /// `user:<id>`, `token:<id>`, `system:scheduler`, `system:retention`, `import`, …
    pub actor: String,
    /// The actor as people know it (username, token name).
    #[serde(default)]
    pub actor_name: String,
    pub correlation_id: String,
    pub node: String,
    pub event_version: String,
    /// What happened, in a few words.
    #[serde(default)]
    pub summary: String,
    /// The event's fields, with secrets removed.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub limit: i64,
    pub database_id: Option<String>,
    pub event_type: Option<String>,
    /// Only events of this actor (`user:<id>`, `token:<id>`, …).
    pub actor: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub order: Order,
}

/// The database an event concerns (after the other read models applied it).
async fn database_of(tx: &mut Tx<'_>, e: &Applied<'_>) -> Result<Option<String>, ProjectionError> {
    let id = e.aggregate_id;
    Ok(match &e.event {
        LedgerEvent::Database(_) => Some(id.to_string()),
        LedgerEvent::Backup(BackupEvent::BackupStarted { database_id, .. }) => {
            Some(database_id.clone())
        }
        LedgerEvent::Backup(_) => load::<BackupView>(tx, "rm_backups", id)
            .await?
            .map(|b| b.database_id),
        LedgerEvent::Restore(RestoreEvent::RestoreStarted {
            target_database_id, ..
        }) => Some(target_database_id.clone()),
        LedgerEvent::Restore(_) => load::<RestoreView>(tx, "rm_restores", id)
            .await?
            .map(|r| r.target_database_id),
        LedgerEvent::Alert(AlertEvent::AlertRaised { database_id, .. }) => {
            Some(database_id.clone())
        }
        LedgerEvent::Alert(_) => load::<AlertView>(tx, "rm_alerts", id)
            .await?
            .map(|a| a.database_id),
        LedgerEvent::Server(ServerEvent::DatabaseDiscovered { database_id, .. }) => {
            database_id.clone()
        }
        LedgerEvent::Server(_) => None,
        // A database joining a server's archive is on its own timeline.
        LedgerEvent::Archive(ArchiveEvent::ArchiveDatabaseAdded { database_id }) => {
            Some(database_id.clone())
        }
        // An archive's id is the database's that first enabled it.
        LedgerEvent::Archive(_) => Some(id.to_string()),
        LedgerEvent::BaseBackup(BaseBackupEvent::BaseBackupStarted { database_id, .. }) => {
            Some(database_id.clone())
        }
        // Its start is on the timeline already, with the database.
        LedgerEvent::BaseBackup(_) => {
            // A query of its own reads what is written: flush the batch first (base backups
            // are rare).
            tx.flush().await?;
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT database_id FROM rm_timeline WHERE aggregate_id = $1 ORDER BY position LIMIT 1",
            )
            .bind(id)
            .fetch_optional(tx.conn())
            .await?
            .flatten()
        }
        LedgerEvent::Drill(DrillEvent::RestoreDrillStarted { database_id, .. }) => {
            Some(database_id.clone())
        }
        LedgerEvent::Drill(_) => load::<DrillView>(tx, "rm_drills", id)
            .await?
            .map(|d| d.database_id),
        LedgerEvent::Channel(_)
        | LedgerEvent::Ledger(_)
        | LedgerEvent::User(_)
        | LedgerEvent::Token(_)
        | LedgerEvent::SignIn(_) => None,
    })
}

async fn insert(tx: &mut Tx<'_>, view: &EventView) -> Result<(), ProjectionError> {
    tx.write(Write {
        table: "rm_timeline",
        key: ("position", Arg::I(view.position)),
        cols: vec![
            ("event_type", Arg::S(view.event_type.clone())),
            ("aggregate_type", Arg::S(view.aggregate_type.clone())),
            ("aggregate_id", Arg::S(view.aggregate_id.clone())),
            ("database_id", Arg::N(view.database_id.clone())),
            (
                "related_database_id",
                Arg::N(view.related_database_id.clone()),
            ),
            ("at", Arg::S(view.at.clone())),
            ("actor", Arg::S(view.actor.clone())),
            ("body", Arg::body(view)),
        ],
        on_conflict: OnConflict::Set(&[]),
    });
    Ok(())
}

fn view(s: &StoredEvent, database_id: Option<String>, payload: Value) -> EventView {
    EventView {
        related_database_id: None,
        summary: String::new(),
        position: s.position,
        event_type: s.event_type.clone(),
        aggregate_type: s.aggregate_type.clone(),
        aggregate_id: s.aggregate_id.clone(),
        sequence: s.sequence,
        database_id,
        at: s.meta("at").unwrap_or_default().to_string(),
        actor: s.meta("actor").unwrap_or_default().to_string(),
        actor_name: s
            .meta("actor_name")
            .or_else(|| s.meta("actor"))
            .unwrap_or_default()
            .to_string(),
        correlation_id: s.meta("correlation_id").unwrap_or_default().to_string(),
        node: s.meta("node").unwrap_or_default().to_string(),
        event_version: s.event_version.clone(),
        payload,
    }
}

pub(crate) async fn apply(tx: &mut Tx<'_>, e: &Applied<'_>) -> Result<(), ProjectionError> {
    let database_id = database_of(tx, e).await?;
    let mut v = view(e.stored, database_id, e.event.public_fields());
    v.summary = e.event.summary();
    v.related_database_id = related_of(tx, e)
        .await?
        .filter(|r| v.database_id.as_ref() != Some(r));
    insert(tx, &v).await
}

/// The source database of a restore's events (the timeline of a database shows restores of
/// its versions into other databases too).
async fn related_of(tx: &mut Tx<'_>, e: &Applied<'_>) -> Result<Option<String>, ProjectionError> {
    Ok(match &e.event {
        LedgerEvent::Restore(RestoreEvent::RestoreStarted {
            source_database_id, ..
        }) => Some(source_database_id.clone()),
        LedgerEvent::Restore(_) => load::<RestoreView>(tx, "rm_restores", e.aggregate_id)
            .await?
            .map(|r| r.source_database_id),
        _ => None,
    })
}

/// An event this version cannot decode still shows on the timeline, secrets masked.
pub(crate) async fn apply_undecoded(
    tx: &mut Tx<'_>,
    s: &StoredEvent,
) -> Result<(), ProjectionError> {
    let mut payload = s
        .payload
        .get(&s.event_type)
        .cloned()
        .unwrap_or_else(|| s.payload.clone());
    backline_domain::events::mask_secrets(&mut payload);
    insert(tx, &view(s, None, payload)).await
}

impl Projections {
    /// The timeline, by global position.
    pub async fn events(&self, q: &EventQuery) -> Result<Vec<EventView>, ProjectionError> {
        // Conditions (column names from code, values bound), without the database's.
        let mut conds = String::new();
        let mut args = Vec::new();
        let cond = |sql: &mut String, args: &mut Vec<Arg>, c: &str, a: Arg| {
            args.push(a);
            sql.push_str(&format!(" AND {c} ${}", args.len()));
        };
        if let Some(a) = q.after {
            cond(&mut conds, &mut args, "position >", Arg::I(a));
        }
        if let Some(b) = q.before {
            cond(&mut conds, &mut args, "position <", Arg::I(b));
        }
        if let Some(t) = &q.event_type {
            cond(&mut conds, &mut args, "event_type =", Arg::S(t.clone()));
        }
        if let Some(a) = &q.actor {
            cond(&mut conds, &mut args, "actor =", Arg::S(a.clone()));
        }
        if let Some(s) = &q.since {
            cond(&mut conds, &mut args, "at >=", Arg::S(s.clone()));
        }
        if let Some(u) = &q.until {
            cond(&mut conds, &mut args, "at <=", Arg::S(u.clone()));
        }
        let dir = if q.order == Order::Desc {
            "DESC"
        } else {
            "ASC"
        };
        let sql = match &q.database_id {
            // The database's own events and those that name it as the other side (a restore
            // from it into another database): each an index range of its own, merged, instead
            // of `database_id = … OR related_database_id = …`, which reads every event of the
            // database and sorts them before the LIMIT.
            Some(d) => {
                args.push(Arg::S(d.clone()));
                let d = format!("${}", args.len());
                args.push(Arg::I(q.limit.max(1)));
                let lim = format!("${}", args.len());
                let arm = |col: &str| {
                    format!(
                        "SELECT position, body FROM (SELECT position, body FROM rm_timeline \
                         WHERE {col} = {d}{conds} ORDER BY position {dir} LIMIT {lim}) AS {col}_arm"
                    )
                };
                format!(
                    "SELECT body FROM ({} UNION {}) AS merged ORDER BY position {dir} LIMIT {lim}",
                    arm("database_id"),
                    arm("related_database_id")
                )
            }
            None => {
                args.push(Arg::I(q.limit.max(1)));
                format!(
                    "SELECT body FROM rm_timeline WHERE 1 = 1{conds} ORDER BY position {dir} LIMIT ${}",
                    args.len()
                )
            }
        };
        bodies(self.ledger.pool(), &sql, args).await
    }
}
