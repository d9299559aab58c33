//! The alerts read model: what is open, acknowledged or resolved, and every delivery attempt.

use crate::event::Applied;
use crate::store::{bodies, count, load, page, Arg, Conditions, OnConflict, Page, Tx, Write};
use crate::{ProjectionError, Projections};
use backline_domain::{AlertEvent, AlertKind, AlertState, LedgerEvent, Notice, Outcome};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryView {
    pub channel_id: String,
    /// `raised`, `reminder` or `resolved`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub notice: Notice,
    /// `delivered` or `failed`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub outcome: Outcome,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub attempt: u32,
    pub at: String,
    pub position: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertView {
    pub id: String,
    /// `backup_failed`, `backup_abandoned`, `backup_stalled`, `restore_failed`,
    /// `missed_schedule` or `storage_failure`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub kind: AlertKind,
    /// `open`, `acknowledged` or `resolved`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub state: AlertState,
    pub database_id: String,
    pub database_name: String,
    pub message: String,
    /// Tail of the tool's stderr, when there is one.
    pub detail: String,
    /// How many times it happened while open.
    pub count: u64,
    /// Ledger position of the event that raised it.
    pub cause_event: Option<i64>,
    pub raised_at: String,
    pub raised_position: i64,
    pub last_seen_at: String,
    pub acknowledged_at: Option<String>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<String>,
    pub resolved_position: Option<i64>,
    /// Type of the event that resolved it (`BackupCompleted`, `RestoreCompleted`).
    pub resolved_by: Option<String>,
    /// Every delivery attempt, oldest first.
    pub deliveries: Vec<DeliveryView>,
}

impl AlertView {
    pub fn is_resolved(&self) -> bool {
        self.state == AlertState::Resolved
    }

    /// Attempts to send `notice` to `channel_id` so far.
    pub fn attempts(&self, channel_id: &str, notice: Notice) -> u32 {
        self.deliveries
            .iter()
            .filter(|d| d.channel_id == channel_id && d.notice == notice)
            .count() as u32
    }

    /// Whether `notice` reached `channel_id`.
    pub fn delivered(&self, channel_id: &str, notice: Notice) -> bool {
        self.deliveries.iter().any(|d| {
            d.channel_id == channel_id && d.notice == notice && d.outcome == Outcome::Delivered
        })
    }
}

async fn save(tx: &mut Tx<'_>, v: &AlertView) -> Result<(), ProjectionError> {
    tx.write(Write {
        table: "rm_alerts",
        key: ("id", Arg::S(v.id.clone())),
        cols: vec![
            ("database_id", Arg::S(v.database_id.clone())),
            ("kind", Arg::S(v.kind.as_str().into())),
            ("state", Arg::S(v.state.as_str().into())),
            ("raised_position", Arg::I(v.raised_position)),
            ("body", Arg::body(v)),
        ],
        on_conflict: OnConflict::Set(&["state", "body"]),
    });
    Ok(())
}

pub(crate) async fn apply(tx: &mut Tx<'_>, e: &Applied<'_>) -> Result<(), ProjectionError> {
    let LedgerEvent::Alert(event) = &e.event else {
        return Ok(());
    };
    let at = e.at.clone();
    if let AlertEvent::AlertRaised {
        kind,
        database_id,
        database_name,
        cause_event,
        message,
        detail,
        ..
    } = event
    {
        let v = AlertView {
            id: e.aggregate_id.to_string(),
            kind: *kind,
            state: AlertState::Open,
            database_id: database_id.clone(),
            database_name: database_name.clone(),
            message: message.clone(),
            detail: detail.clone(),
            count: 1,
            cause_event: *cause_event,
            raised_at: at.clone(),
            raised_position: e.position,
            last_seen_at: at,
            acknowledged_at: None,
            acknowledged_by: None,
            resolved_at: None,
            resolved_position: None,
            resolved_by: None,
            deliveries: Vec::new(),
        };
        return save(tx, &v).await;
    }
    let Some(mut v) = load::<AlertView>(tx, "rm_alerts", e.aggregate_id).await? else {
        return Ok(());
    };
    match event {
        AlertEvent::AlertRaised { .. } => return Ok(()),
        AlertEvent::AlertRepeated { count, message, .. } => {
            v.count = *count;
            v.last_seen_at = at;
            v.message = message.clone();
        }
        AlertEvent::AlertNotified { delivery } => v.deliveries.push(DeliveryView {
            channel_id: delivery.channel_id.clone(),
            notice: delivery.notice,
            outcome: delivery.outcome,
            status_code: delivery.status_code,
            error: delivery.error.clone(),
            attempt: delivery.attempt,
            at,
            position: e.position,
        }),
        AlertEvent::AlertAcknowledged { actor } => {
            v.state = AlertState::Acknowledged;
            v.acknowledged_at = Some(at);
            v.acknowledged_by = Some(actor.clone());
        }
        AlertEvent::AlertResolved { by_type, .. } => {
            v.state = AlertState::Resolved;
            v.resolved_at = Some(at);
            v.resolved_position = Some(e.position);
            v.resolved_by = Some(by_type.clone());
        }
    }
    save(tx, &v).await
}

impl Projections {
    /// Every alert, newest first, optionally in one state and of one database.
    pub async fn alerts(
        &self,
        state: Option<AlertState>,
        database_id: Option<&str>,
    ) -> Result<Vec<AlertView>, ProjectionError> {
        let mut out = Vec::new();
        let mut before = None;
        loop {
            let p = self.alerts_page(state, database_id, before, 500).await?;
            out.extend(p.items);
            match p.next {
                Some(n) => before = Some(n),
                None => return Ok(out),
            }
        }
    }

    fn alert_conditions(state: Option<AlertState>, database_id: Option<&str>) -> Conditions {
        let mut c = Conditions::default();
        if let Some(s) = state {
            c.and("state =", Arg::S(s.as_str().into()));
        }
        if let Some(d) = database_id {
            c.and("database_id =", Arg::S(d.into()));
        }
        c
    }

    /// One page of alerts, newest first, by keyset on the position that raised them (`next`
    /// is the `before` of the following page).
    pub async fn alerts_page(
        &self,
        state: Option<AlertState>,
        database_id: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Page<AlertView>, ProjectionError> {
        let mut c = Self::alert_conditions(state, database_id);
        if let Some(b) = before {
            c.and("raised_position <", Arg::I(b));
        }
        let limit = limit.max(1);
        let lim = c.bind(Arg::I(limit.saturating_add(1)));
        let sql = format!(
            "SELECT raised_position AS k, body FROM rm_alerts WHERE 1 = 1{} \
             ORDER BY raised_position DESC LIMIT {lim}",
            c.sql
        );
        page(self.ledger.pool(), &sql, c.args, limit).await
    }

    /// How many alerts there are in `state` (all when `None`), of `database_id` if given.
    pub async fn alert_count(
        &self,
        state: Option<AlertState>,
        database_id: Option<&str>,
    ) -> Result<i64, ProjectionError> {
        let c = Self::alert_conditions(state, database_id);
        let sql = format!("SELECT COUNT(*) AS n FROM rm_alerts WHERE 1 = 1{}", c.sql);
        count(self.ledger.pool(), &sql, c.args).await
    }

    pub async fn alert(&self, id: &str) -> Result<Option<AlertView>, ProjectionError> {
        Ok(bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_alerts WHERE id = $1",
            vec![Arg::S(id.into())],
        )
        .await?
        .pop())
    }

    /// The unresolved alert of `kind` on `database_id`, if any.
    pub async fn unresolved_alert(
        &self,
        database_id: &str,
        kind: AlertKind,
    ) -> Result<Option<AlertView>, ProjectionError> {
        Ok(bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_alerts WHERE database_id = $1 AND kind = $2 \
             AND state <> $3 ORDER BY raised_position DESC",
            vec![
                Arg::S(database_id.into()),
                Arg::S(kind.as_str().into()),
                Arg::S(AlertState::Resolved.as_str().into()),
            ],
        )
        .await?
        .into_iter()
        .next())
    }
}
