//! The audit timeline.

use super::error::{ApiError, ApiQuery};
use super::guard::{shows, visible_ids};
use super::{Caller, State};
use axum::Json;
use backline_projections::{EventQuery, EventView, Order};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Only events with a position greater than this.
    pub after: Option<i64>,
    /// Only events with a position smaller than this.
    pub before: Option<i64>,
    /// 1–1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    pub database_id: Option<String>,
    /// Event type, e.g. `BackupFailed`.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// Only events of this actor: `user:<id>`, `token:<id>`, `system:scheduler`, …
    pub actor: Option<String>,
    /// RFC 3339 lower bound on `at`.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// RFC 3339 upper bound on `at`.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// `asc` (default) or `desc`.
    #[param(pattern = "^(asc|desc)$")]
    pub order: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<EventView>,
    /// Position to pass as `after` (asc) or `before` (desc) for the next page; `null` on the
    /// last page.
    pub next: Option<i64>,
}

fn utc_bound(field: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    v.map(|s| {
        chrono::DateTime::parse_from_rfc3339(&s)
            .map(|d| {
                d.with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            })
            .map_err(|e| ApiError::invalid(field, format!("{field} is not an RFC 3339 time: {e}")))
    })
    .transpose()
}

/// Ledger events, by global position.
#[utoipa::path(get, operation_id = "listEvents", path = "/api/v1/events", tag = "events", params(EventParams),
    responses((status = 200, body = EventPage)))]
pub async fn list(
    state: State,
    caller: Caller,
    ApiQuery(p): ApiQuery<EventParams>,
) -> Result<Json<EventPage>, ApiError> {
    let order = match p.order.as_deref() {
        None | Some("asc") => Order::Asc,
        Some("desc") => Order::Desc,
        Some(o) => {
            return Err(ApiError::invalid(
                "order",
                format!("order must be asc or desc, not {o:?}"),
            ))
        }
    };
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "limit must be between 1 and 1000",
        ));
    }
    let q = EventQuery {
        after: p.after,
        before: p.before,
        // One more than asked: whether a next page exists is known without another query.
        limit: limit + 1,
        database_id: p.database_id,
        event_type: p.event_type,
        actor: p.actor,
        since: utc_bound("since", p.since)?,
        until: utc_bound("until", p.until)?,
        order,
    };
    let mut items = state.app.projections.events(&q).await?;
    let next = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|e| e.position)
    } else {
        None
    };
    // A principal limited to some databases sees only their events (never another's name).
    let visible = visible_ids(&state.app, &caller.0).await?;
    items.retain(|e| visible_event(&visible, e));
    Ok(Json(EventPage { items, next }))
}

/// Whether an event is about databases the principal sees (all of them, when it has no limit).
pub(super) fn visible_event(
    visible: &Option<std::collections::HashSet<String>>,
    e: &EventView,
) -> bool {
    shows(visible, e.database_id.as_deref())
        && (e.related_database_id.is_none() || shows(visible, e.related_database_id.as_deref()))
}
