//! The channels read model: where alerts go, and which channels keep failing.

use crate::event::Applied;
use crate::store::{bodies, load, Arg, OnConflict, Tx, Write};
use crate::{ProjectionError, Projections};
use backline_domain::{
    AlertEvent, ChannelEvent, ChannelTarget, LedgerEvent, Outcome, WebhookStyle,
};
use serde::{Deserialize, Serialize};

/// A channel counts as failing after this many failed deliveries in a row.
pub const FAILING_AFTER: u64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelStatus {
    Active,
    Removed,
}

impl ChannelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelStatus::Active => "active",
            ChannelStatus::Removed => "removed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Email,
    Webhook,
}

/// The last `POST /channels/{id}/test`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelTestView {
    pub at: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub outcome: Outcome,
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelView {
    pub id: String,
    pub name: String,
    /// `email` or `webhook`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub kind: ChannelKind,
    /// Email recipients.
    pub to: Vec<String>,
    /// Webhook style: `slack`, `discord`, `generic`, `mattermost`, `teams`, `telegram`,
    /// `ntfy` or `gotify`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub style: Option<WebhookStyle>,
    /// Webhook URL, shortened: the rest is a credential.
    pub url: Option<String>,
    /// Telegram: the chat messages go to.
    #[serde(default)]
    pub chat_id: Option<String>,
    /// ntfy and Gotify: the priority messages are sent with.
    #[serde(default)]
    pub priority: Option<u8>,
    /// Whether a signing secret is set (generic webhooks).
    pub signed: bool,
    /// Whether a token is set (Telegram, ntfy, Gotify); the token itself is never shown.
    #[serde(default)]
    pub token_set: bool,
    /// `active` or `removed`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub status: ChannelStatus,
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
    /// The last `POST /channels/{id}/test`.
    pub last_test: Option<ChannelTestView>,
}

async fn save(tx: &mut Tx<'_>, v: &ChannelView) -> Result<(), ProjectionError> {
    tx.write(Write {
        table: "rm_channels",
        key: ("id", Arg::S(v.id.clone())),
        cols: vec![
            ("name", Arg::S(v.name.clone())),
            ("status", Arg::S(v.status.as_str().into())),
            ("body", Arg::body(v)),
        ],
        on_conflict: OnConflict::Set(&["status", "body"]),
    });
    Ok(())
}

async fn update(
    tx: &mut Tx<'_>,
    id: &str,
    change: impl FnOnce(&mut ChannelView),
) -> Result<(), ProjectionError> {
    if let Some(mut c) = load::<ChannelView>(tx, "rm_channels", id).await? {
        change(&mut c);
        save(tx, &c).await?;
    }
    Ok(())
}

pub(crate) async fn apply(tx: &mut Tx<'_>, e: &Applied<'_>) -> Result<(), ProjectionError> {
    let at = e.at.clone();
    match &e.event {
        LedgerEvent::Channel(ChannelEvent::ChannelAdded {
            name,
            target,
            secret,
        }) => {
            let (kind, to, style, url, chat_id, priority) = match target {
                ChannelTarget::Email { to } => {
                    (ChannelKind::Email, to.clone(), None, None, None, None)
                }
                ChannelTarget::Webhook {
                    style,
                    url_redacted,
                    chat_id,
                    priority,
                    ..
                } => (
                    ChannelKind::Webhook,
                    Vec::new(),
                    Some(*style),
                    Some(url_redacted.clone()),
                    chat_id.clone(),
                    *priority,
                ),
            };
            let takes_token = style.is_some_and(|s| s.takes_token());
            let v = ChannelView {
                id: e.aggregate_id.to_string(),
                name: name.clone(),
                kind,
                to,
                style,
                url,
                chat_id,
                priority,
                signed: secret.is_some() && !takes_token,
                token_set: secret.is_some() && takes_token,
                status: ChannelStatus::Active,
                created_at: at,
                created_position: e.position,
                removed_at: None,
                deliveries_ok: 0,
                deliveries_failed: 0,
                consecutive_failures: 0,
                failing: false,
                last_error: None,
                last_error_at: None,
                last_delivered_at: None,
                last_test: None,
            };
            save(tx, &v).await
        }
        LedgerEvent::Channel(ChannelEvent::ChannelRemoved {}) => {
            update(tx, e.aggregate_id, |c| {
                c.status = ChannelStatus::Removed;
                c.removed_at = Some(at);
            })
            .await
        }
        LedgerEvent::Channel(ChannelEvent::ChannelTested {
            outcome,
            status_code,
            error,
        }) => {
            update(tx, e.aggregate_id, |c| {
                c.last_test = Some(ChannelTestView {
                    at,
                    outcome: *outcome,
                    status_code: *status_code,
                    error: error.clone(),
                })
            })
            .await
        }
        LedgerEvent::Alert(AlertEvent::AlertNotified { delivery }) => {
            update(tx, &delivery.channel_id, |c| {
                if delivery.outcome == Outcome::Delivered {
                    c.deliveries_ok += 1;
                    c.consecutive_failures = 0;
                    c.last_delivered_at = Some(at);
                } else {
                    c.deliveries_failed += 1;
                    c.consecutive_failures += 1;
                    c.last_error = delivery.error.clone();
                    c.last_error_at = Some(at);
                }
                c.failing = c.consecutive_failures >= FAILING_AFTER;
            })
            .await
        }
        _ => Ok(()),
    }
}

impl Projections {
    /// Channels by name; removed ones only when asked.
    pub async fn channels(
        &self,
        include_removed: bool,
    ) -> Result<Vec<ChannelView>, ProjectionError> {
        let (sql, args) = if include_removed {
            ("SELECT body FROM rm_channels ORDER BY name, id", vec![])
        } else {
            (
                "SELECT body FROM rm_channels WHERE status = $1 ORDER BY name, id",
                vec![Arg::S(ChannelStatus::Active.as_str().into())],
            )
        };
        bodies(self.ledger.pool(), sql, args).await
    }

    pub async fn channel(&self, id: &str) -> Result<Option<ChannelView>, ProjectionError> {
        Ok(bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_channels WHERE id = $1",
            vec![Arg::S(id.into())],
        )
        .await?
        .pop())
    }
}
