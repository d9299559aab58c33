//! Alerts and the channels they are delivered to.

use super::error::{ApiError, ApiJson, ApiQuery, Problem};
use super::{Actor, State};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use backline_app::alerting::{ChannelTest, CreatedChannel, NewChannel};
use backline_domain::AlertState;
use backline_projections::{AlertView, ChannelView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// `open`, `acknowledged` or `resolved` (default: all).
    #[param(pattern = "^(open|acknowledged|resolved)$")]
    pub state: Option<String>,
    pub database_id: Option<String>,
    /// The `next` of the previous page; absent for the first page.
    pub cursor: Option<String>,
    /// Items per page: 1–1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    pub items: Vec<AlertView>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next: Option<String>,
    /// How many alerts the list has in all (absent for a principal limited to some
    /// databases).
    pub total: Option<i64>,
}

/// Alerts, newest first, a page at a time (follow `next`).
#[utoipa::path(get, operation_id = "listAlerts", path = "/api/v1/alerts", tag = "alerts", params(AlertParams),
    responses((status = 200, body = AlertList), (status = 400, body = Problem, description = "A `cursor` this server did not give"), (status = 422, body = Problem)))]
pub async fn list(
    state: State,
    caller: super::Caller,
    ApiQuery(p): ApiQuery<AlertParams>,
) -> Result<Json<AlertList>, ApiError> {
    let wanted = match p.state.as_deref() {
        None => None,
        Some("open") => Some(AlertState::Open),
        Some("acknowledged") => Some(AlertState::Acknowledged),
        Some("resolved") => Some(AlertState::Resolved),
        Some(s) => {
            return Err(ApiError::invalid(
                "state",
                format!("state must be open, acknowledged or resolved, not {s:?}"),
            ))
        }
    };
    let page = super::paging::request(p.cursor.as_deref(), p.limit)?;
    let d = p.database_id.as_deref();
    let projections = &state.app.projections;
    let found = projections
        .alerts_page(wanted, d, page.before, page.limit)
        .await?;
    let visible = super::guard::visible_ids(&state.app, &caller.0).await?;
    let total = match visible {
        None => Some(projections.alert_count(wanted, d).await?),
        Some(_) => None,
    };
    let mut items = found.items;
    items.retain(|a| super::guard::shows(&visible, Some(&a.database_id)));
    Ok(Json(AlertList {
        items,
        next: super::paging::next(found.next),
        total,
    }))
}

/// One alert, with every delivery attempt.
#[utoipa::path(get, operation_id = "getAlert", path = "/api/v1/alerts/{id}", tag = "alerts",
    params(("id" = String, Path)),
    responses((status = 200, body = AlertView), (status = 404, body = Problem)))]
pub async fn get(state: State, Path(id): Path<String>) -> Result<Json<AlertView>, ApiError> {
    state
        .app
        .projections
        .alert(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no alert {id}")))
}

/// Acknowledge an alert: no more reminders; it is still resolved by the next success.
#[utoipa::path(post, operation_id = "acknowledgeAlert", path = "/api/v1/alerts/{id}/acknowledge", tag = "alerts",
    params(("id" = String, Path)),
    responses((status = 200, body = AlertView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn acknowledge(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<AlertView>, ApiError> {
    Ok(Json(state.app.alerting().acknowledge(&actor.0, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    #[schema(min_length = 1, example = "ops")]
    pub name: String,
    /// `email` or `webhook`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(email|webhook)$", example = "webhook")]
    pub kind: String,
    /// Email recipients.
    #[serde(default)]
    #[schema(example = json!(["ops@example.com"]))]
    pub to: Vec<String>,
    /// Webhook URL (stored encrypted). ntfy: the topic URL (`https://ntfy.sh/<topic>`);
    /// Gotify: the server's URL; Telegram: the Bot API's base URL (default
    /// `https://api.telegram.org`).
    #[schema(
        pattern = "^https?://",
        example = "https://hooks.slack.com/services/T000/B000/XXXX"
    )]
    pub url: Option<String>,
    /// `slack`, `discord`, `generic` (default), `mattermost`, `teams`, `telegram`, `ntfy` or
    /// `gotify`.
    #[schema(
        pattern = "^(slack|discord|generic|json|mattermost|teams|telegram|ntfy|gotify)$",
        example = "slack"
    )]
    pub style: Option<String>,
    /// HMAC signing secret of a generic webhook (made up when absent; shown once).
    pub secret: Option<String>,
    /// Telegram bot token (required), ntfy access token (optional) or Gotify application
    /// token (required). Stored encrypted; never shown again.
    pub token: Option<String>,
    /// Telegram chat: a numeric id (`-1001234567890`) or `@channelname`.
    #[schema(example = "-1001234567890")]
    pub chat_id: Option<String>,
    /// ntfy priority 1–5 (default 4) or Gotify priority 0–10 (default 8).
    #[schema(minimum = 0, maximum = 10)]
    pub priority: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelList {
    pub items: Vec<ChannelView>,
}

/// Alert channels.
#[utoipa::path(get, operation_id = "listChannels", path = "/api/v1/channels", tag = "alerts",
    responses((status = 200, body = ChannelList)))]
pub async fn list_channels(state: State) -> Result<Json<ChannelList>, ApiError> {
    Ok(Json(ChannelList {
        items: state.app.projections.channels(false).await?,
    }))
}

/// Add an alert channel.
#[utoipa::path(post, operation_id = "addChannel", path = "/api/v1/channels", tag = "alerts", request_body = ChannelInput,
    responses((status = 201, body = CreatedChannel), (status = 422, body = Problem)))]
pub async fn add_channel(
    state: State,
    actor: Actor,
    ApiJson(input): ApiJson<ChannelInput>,
) -> Result<(StatusCode, Json<CreatedChannel>), ApiError> {
    let created = state
        .app
        .alerting()
        .add_channel(
            &actor.0,
            NewChannel {
                name: input.name,
                kind: input.kind,
                to: input.to,
                url: input.url,
                style: input.style,
                secret: input.secret,
                token: input.token,
                chat_id: input.chat_id,
                priority: input.priority,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One channel, with its delivery record (`failing` when it keeps failing).
#[utoipa::path(get, operation_id = "getChannel", path = "/api/v1/channels/{id}", tag = "alerts",
    params(("id" = String, Path)),
    responses((status = 200, body = ChannelView), (status = 404, body = Problem)))]
pub async fn get_channel(
    state: State,
    Path(id): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
    state
        .app
        .projections
        .channel(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no channel {id}")))
}

/// Remove a channel (its URL and secret are crypto-shredded).
#[utoipa::path(delete, operation_id = "removeChannel", path = "/api/v1/channels/{id}", tag = "alerts",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove_channel(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.alerting().remove_channel(&actor.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a test notification through a channel now.
#[utoipa::path(post, operation_id = "testChannel", path = "/api/v1/channels/{id}/test", tag = "alerts",
    params(("id" = String, Path)),
    responses((status = 200, body = ChannelTest), (status = 404, body = Problem)))]
pub async fn test_channel(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<ChannelTest>, ApiError> {
    Ok(Json(
        state.app.alerting().test_channel(&actor.0, &id).await?,
    ))
}
