//! Channels: where alerts go. Webhook URLs and signing secrets are sealed like passwords;
//! removing a channel shreds them.

use super::Alerting;
use crate::error::{channel_error, from_aggregate, AppError};
use backline_domain::webhook_style::TELEGRAM_API;
use backline_domain::{
    redact_webhook_url, ChannelCommand, ChannelTarget, Notice, Outcome, WebhookStyle,
};
use backline_infra::notify::AlertMessage;
use backline_projections::{ChannelStatus, ChannelView};

/// A channel as created, with its secret shown this once.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedChannel {
    #[serde(flatten)]
    pub channel: ChannelView,
    /// The HMAC signing secret of a generic webhook: shown only in this response.
    pub secret: Option<String>,
}

/// What `POST /channels/{id}/test` came to.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelTest {
    pub ok: bool,
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

/// A new channel, as the API receives it.
#[derive(Debug, Clone)]
pub struct NewChannel {
    pub name: String,
    pub kind: String,
    pub to: Vec<String>,
    pub url: Option<String>,
    pub style: Option<String>,
    pub secret: Option<String>,
    /// Telegram bot token, ntfy access token or Gotify application token.
    pub token: Option<String>,
    /// Telegram chat.
    pub chat_id: Option<String>,
    /// ntfy (1–5) or Gotify (0–10) priority.
    pub priority: Option<i64>,
}

/// A channel's target, its sealed secret, and the secret to show once (generic webhooks).
type SealedTarget = (
    ChannelTarget,
    Option<backline_domain::SealedSecret>,
    Option<String>,
);

impl Alerting {
    /// The channel's target and signing secret, sealed under the channel's data key `id`.
    async fn target_of(&self, id: &str, new: NewChannel) -> Result<SealedTarget, AppError> {
        match new.kind.as_str() {
            "email" => Ok((ChannelTarget::Email { to: new.to }, None, None)),
            "webhook" => self.webhook_target(id, new).await,
            other => Err(AppError::invalid(
                "type",
                format!("type must be email or webhook, not {other:?}"),
            )),
        }
    }

    async fn webhook_target(&self, id: &str, new: NewChannel) -> Result<SealedTarget, AppError> {
        let core = &self.core;
        let style = match new.style.as_deref() {
            None => WebhookStyle::Generic,
            Some(s) => WebhookStyle::parse(s).ok_or_else(|| {
                let all: Vec<_> = WebhookStyle::ALL.iter().map(|s| s.as_str()).collect();
                AppError::invalid(
                    "style",
                    format!("style must be one of {}, not {s:?}", all.join(", ")),
                )
            })?,
        };
        let url = match (new.url, style) {
            (Some(u), _) => u,
            (None, WebhookStyle::Telegram) => TELEGRAM_API.to_string(),
            (None, _) => return Err(AppError::invalid("url", "a webhook channel needs a url")),
        };
        let url_redacted = redact_webhook_url(&url).map_err(|e| channel_error(&e))?;
        core.settings
            .webhook_policy()
            .check_url(&url)
            .map_err(|e| channel_error(&e))?;
        if new.secret.is_some() && style != WebhookStyle::Generic {
            return Err(AppError::invalid(
                "secret",
                "only generic webhooks are signed: a service's token goes in `token`",
            ));
        }
        let token = new
            .token
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        let chat_id = new
            .chat_id
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        let priority = style
            .check(&url, token.as_deref(), chat_id.as_deref(), new.priority)
            .map_err(|e| AppError::invalid(e.field(), e.to_string()))?;
        let (secret, shown) = match (style, token) {
            (WebhookStyle::Generic, _) => {
                let s = new.secret.filter(|s| !s.is_empty()).unwrap_or_else(|| {
                    let mut b = [0u8; 24];
                    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
                    hex::encode(b)
                });
                (Some(core.keyring.seal(id, &s).await?), Some(s))
            }
            // A token is never shown back: whoever set it has it.
            (_, Some(t)) => (Some(core.keyring.seal(id, &t).await?), None),
            (_, None) => (None, None),
        };
        let sealed_url = core.keyring.seal(id, url.trim()).await?;
        Ok((
            ChannelTarget::Webhook {
                style,
                sealed_url,
                url_redacted,
                chat_id,
                priority,
            },
            secret,
            shown,
        ))
    }

    pub async fn add_channel(
        &self,
        actor: &str,
        new: NewChannel,
    ) -> Result<CreatedChannel, AppError> {
        let core = &self.core;
        let id = uuid::Uuid::now_v7().to_string();
        let name = new.name.clone();
        let (target, secret, shown_secret) = match self.target_of(&id, new).await {
            Ok(t) => t,
            Err(e) => {
                // Nothing is recorded: drop a data key made for a sealed URL.
                let _ = core.keyring.destroy(&id).await;
                return Err(e);
            }
        };
        let added = core
            .aggregates
            .channels
            .execute_with_metadata(
                &id,
                ChannelCommand::Add {
                    name,
                    target,
                    secret,
                    can_email: core.settings.smtp_url.is_some(),
                },
                core.meta(actor, &id),
            )
            .await;
        if let Err(e) = added {
            // Nothing was recorded: drop the data key made for the sealed URL.
            let _ = core.keyring.destroy(&id).await;
            return Err(from_aggregate(e, channel_error));
        }
        core.refresh().await;
        let channel = core
            .projections
            .channel(&id)
            .await?
            .ok_or_else(|| AppError::bug("channel vanished"))?;
        Ok(CreatedChannel {
            channel,
            secret: shown_secret,
        })
    }

    pub async fn remove_channel(&self, actor: &str, id: &str) -> Result<(), AppError> {
        let core = &self.core;
        core.aggregates
            .channels
            .execute_with_metadata(id, ChannelCommand::Remove, core.meta(actor, id))
            .await
            .map_err(|e| from_aggregate(e, channel_error))?;
        // Crypto-shreds the webhook URL and signing secret.
        core.keyring.destroy(id).await?;
        core.refresh().await;
        Ok(())
    }

    /// Sends a test notification now and records how it went.
    pub async fn test_channel(&self, actor: &str, id: &str) -> Result<ChannelTest, AppError> {
        let core = &self.core;
        let view = core
            .projections
            .channel(id)
            .await?
            .filter(|c| c.status == ChannelStatus::Active)
            .ok_or_else(|| AppError::NotFound(format!("no active channel {id}")))?;
        let target = self.open_target(id).await?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let msg = AlertMessage {
            alert_id: "test".into(),
            kind: "test".into(),
            title: "test notification".into(),
            notice: Notice::Raised,
            state: "open".into(),
            database_id: "-".into(),
            database_name: "Backline".into(),
            message: format!(
                "This is a test of channel {:?}: alerts will arrive here.",
                view.name
            ),
            detail: String::new(),
            count: 1,
            raised_at: now,
            resolved_at: None,
            resolved_by: None,
            link: self.public_url(),
        };
        let outcome = self.send(&target, &msg).await;
        core.aggregates
            .channels
            .execute_with_metadata(
                id,
                ChannelCommand::RecordTest {
                    outcome: outcome.outcome,
                    status_code: outcome.status_code,
                    error: outcome.error.clone(),
                },
                core.meta(actor, id),
            )
            .await
            .map_err(|e| from_aggregate(e, channel_error))?;
        core.refresh().await;
        Ok(ChannelTest {
            ok: outcome.outcome == Outcome::Delivered,
            status_code: outcome.status_code,
            error: outcome.error,
        })
    }
}
