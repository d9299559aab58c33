//! Read models of alerts and channels: what is open, what was delivered where, and which
//! channels keep failing. Applied by the same catch-up as every other read model.

use crate::{ProjectionError, Projections};
use backline_infra::StoredEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{Any, Row, Transaction};
use utoipa::ToSchema;

type Tx<'a> = Transaction<'a, Any>;

/// A channel counts as failing after this many failed deliveries in a row.
pub const FAILING_AFTER: u64 = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    pub channel_id: String,
    /// `raised`, `reminder` or `resolved`.
    pub notice: String,
    /// `delivered` or `failed`.
    pub outcome: String,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub attempt: u32,
    pub at: String,
    pub position: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertView {
    pub id: String,
    /// `backup_failed`, `backup_abandoned`, `backup_stalled`, `restore_failed`,
    /// `missed_schedule` or `storage_failure`.
    pub kind: String,
    /// `open`, `acknowledged` or `resolved`.
    pub state: String,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChannelView {
    pub id: String,
    pub name: String,
    /// `email` or `webhook`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Email recipients.
    pub to: Vec<String>,
    /// Webhook style: `slack`, `discord` or `generic`.
    pub style: Option<String>,
    /// Webhook URL, shortened: the rest is a credential.
    pub url: Option<String>,
    /// Whether a signing secret is set (generic webhooks).
    pub signed: bool,
    /// `active` or `removed`.
    pub status: String,
    pub created_at: String,
    pub created_position: i64,
    pub removed_at: Option<String>,
    pub deliveries_ok: u64,
    pub deliveries_failed: u64,
    /// Failed deliveries since the last successful one.
    pub consecutive_failures: u64,
    /// `consecutive_failures` reached FAILING_AFTER.
    pub failing: bool,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub last_delivered_at: Option<String>,
    /// The last `POST /channels/{id}/test`: `{at, outcome, status_code, error}`.
    #[schema(value_type = Object)]
    pub last_test: Value,
}

async fn load<T: serde::de::DeserializeOwned>(
    tx: &mut Tx<'_>,
    table: &str,
    id: &str,
) -> Result<Option<T>, ProjectionError> {
    let row = sqlx::query(&format!("SELECT body FROM {table} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(r) => Ok(Some(serde_json::from_str(
            &r.try_get::<String, _>("body")?,
        )?)),
        None => Ok(None),
    }
}

async fn save_alert(tx: &mut Tx<'_>, v: &AlertView) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT INTO rm_alerts (id, database_id, kind, state, raised_position, body) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body",
    )
    .bind(&v.id)
    .bind(&v.database_id)
    .bind(&v.kind)
    .bind(&v.state)
    .bind(v.raised_position)
    .bind(serde_json::to_string(v)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn save_channel(tx: &mut Tx<'_>, v: &ChannelView) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT INTO rm_channels (id, name, status, body) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
    )
    .bind(&v.id)
    .bind(&v.name)
    .bind(&v.status)
    .bind(serde_json::to_string(v)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn os(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Applies an Alert or Channel event; returns the database it concerns, if any.
pub(crate) async fn apply(
    tx: &mut Tx<'_>,
    e: &StoredEvent,
    f: &Value,
    at: &str,
    actor: &str,
) -> Result<Option<String>, ProjectionError> {
    let id = e.aggregate_id.as_str();
    match e.event_type.as_str() {
        "AlertRaised" => {
            let v = AlertView {
                id: id.to_string(),
                kind: s(f, "kind"),
                state: "open".into(),
                database_id: s(f, "database_id"),
                database_name: s(f, "database_name"),
                message: s(f, "message"),
                detail: s(f, "detail"),
                count: 1,
                cause_event: f.get("cause_event").and_then(Value::as_i64),
                raised_at: at.to_string(),
                raised_position: e.position,
                last_seen_at: at.to_string(),
                acknowledged_at: None,
                acknowledged_by: None,
                resolved_at: None,
                resolved_position: None,
                resolved_by: None,
                deliveries: Vec::new(),
            };
            save_alert(tx, &v).await?;
            Ok(Some(v.database_id))
        }
        "AlertRepeated" | "AlertNotified" | "AlertAcknowledged" | "AlertResolved" => {
            let Some(mut v) = load::<AlertView>(tx, "rm_alerts", id).await? else {
                return Ok(None);
            };
            match e.event_type.as_str() {
                "AlertRepeated" => {
                    v.count = f
                        .get("count")
                        .and_then(Value::as_u64)
                        .unwrap_or(v.count + 1);
                    v.last_seen_at = at.to_string();
                    v.message = s(f, "message");
                }
                "AlertNotified" => {
                    let d = DeliveryView {
                        channel_id: s(f, "channel_id"),
                        notice: s(f, "notice"),
                        outcome: s(f, "outcome"),
                        status_code: f
                            .get("status_code")
                            .and_then(Value::as_u64)
                            .map(|c| c as u16),
                        error: os(f, "error"),
                        attempt: f.get("attempt").and_then(Value::as_u64).unwrap_or(1) as u32,
                        at: at.to_string(),
                        position: e.position,
                    };
                    if let Some(mut c) =
                        load::<ChannelView>(tx, "rm_channels", &d.channel_id).await?
                    {
                        if d.outcome == "delivered" {
                            c.deliveries_ok += 1;
                            c.consecutive_failures = 0;
                            c.last_delivered_at = Some(at.to_string());
                        } else {
                            c.deliveries_failed += 1;
                            c.consecutive_failures += 1;
                            c.last_error = d.error.clone();
                            c.last_error_at = Some(at.to_string());
                        }
                        c.failing = c.consecutive_failures >= FAILING_AFTER;
                        save_channel(tx, &c).await?;
                    }
                    v.deliveries.push(d);
                }
                "AlertAcknowledged" => {
                    v.state = "acknowledged".into();
                    v.acknowledged_at = Some(at.to_string());
                    v.acknowledged_by = Some(s(f, "actor"));
                }
                _ => {
                    v.state = "resolved".into();
                    v.resolved_at = Some(at.to_string());
                    v.resolved_position = Some(e.position);
                    v.resolved_by = os(f, "by_type");
                }
            }
            save_alert(tx, &v).await?;
            Ok(Some(v.database_id))
        }
        "ChannelAdded" => {
            let target = f.get("target").cloned().unwrap_or(Value::Null);
            let kind = s(&target, "type");
            let v = ChannelView {
                id: id.to_string(),
                name: s(f, "name"),
                to: target
                    .get("to")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                style: os(&target, "style"),
                url: os(&target, "url_redacted"),
                signed: f.get("secret").is_some_and(|x| !x.is_null()),
                kind,
                status: "active".into(),
                created_at: at.to_string(),
                created_position: e.position,
                removed_at: None,
                deliveries_ok: 0,
                deliveries_failed: 0,
                consecutive_failures: 0,
                failing: false,
                last_error: None,
                last_error_at: None,
                last_delivered_at: None,
                last_test: Value::Null,
            };
            let _ = actor;
            save_channel(tx, &v).await?;
            Ok(None)
        }
        "ChannelRemoved" | "ChannelTested" => {
            if let Some(mut c) = load::<ChannelView>(tx, "rm_channels", id).await? {
                if e.event_type == "ChannelRemoved" {
                    c.status = "removed".into();
                    c.removed_at = Some(at.to_string());
                } else {
                    c.last_test = serde_json::json!({
                        "at": at,
                        "outcome": s(f, "outcome"),
                        "status_code": f.get("status_code").cloned().unwrap_or(Value::Null),
                        "error": f.get("error").cloned().unwrap_or(Value::Null),
                    });
                }
                save_channel(tx, &c).await?;
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

impl Projections {
    async fn alert_bodies<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        args: &[&str],
    ) -> Result<Vec<T>, ProjectionError> {
        let mut q = sqlx::query(sql);
        for a in args {
            q = q.bind(a.to_string());
        }
        let rows = q.fetch_all(self.ledger.pool()).await?;
        rows.iter()
            .map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("body")?)?))
            .collect()
    }

    /// Alerts, newest first, optionally in one state (`open`, `acknowledged`, `resolved`)
    /// and of one database.
    pub async fn alerts(
        &self,
        state: Option<&str>,
        database_id: Option<&str>,
    ) -> Result<Vec<AlertView>, ProjectionError> {
        let mut sql = String::from("SELECT body FROM rm_alerts WHERE 1 = 1");
        let mut args = Vec::new();
        if let Some(s) = state {
            args.push(s);
            sql.push_str(&format!(" AND state = ${}", args.len()));
        }
        if let Some(d) = database_id {
            args.push(d);
            sql.push_str(&format!(" AND database_id = ${}", args.len()));
        }
        sql.push_str(" ORDER BY raised_position DESC");
        self.alert_bodies(&sql, &args).await
    }

    pub async fn alert(&self, id: &str) -> Result<Option<AlertView>, ProjectionError> {
        Ok(self
            .alert_bodies("SELECT body FROM rm_alerts WHERE id = $1", &[id])
            .await?
            .pop())
    }

    /// The unresolved alert of `kind` on `database_id`, if any.
    pub async fn unresolved_alert(
        &self,
        database_id: &str,
        kind: &str,
    ) -> Result<Option<AlertView>, ProjectionError> {
        Ok(self
            .alert_bodies(
                "SELECT body FROM rm_alerts WHERE database_id = $1 AND kind = $2 \
                 AND state <> 'resolved' ORDER BY raised_position DESC",
                &[database_id, kind],
            )
            .await?
            .into_iter()
            .next())
    }

    /// Channels by name; removed ones only when asked.
    pub async fn channels(
        &self,
        include_removed: bool,
    ) -> Result<Vec<ChannelView>, ProjectionError> {
        let sql = if include_removed {
            "SELECT body FROM rm_channels ORDER BY name, id"
        } else {
            "SELECT body FROM rm_channels WHERE status = 'active' ORDER BY name, id"
        };
        self.alert_bodies(sql, &[]).await
    }

    pub async fn channel(&self, id: &str) -> Result<Option<ChannelView>, ProjectionError> {
        Ok(self
            .alert_bodies("SELECT body FROM rm_channels WHERE id = $1", &[id])
            .await?
            .pop())
    }
}
