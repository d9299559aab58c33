//! The live timeline: new ledger events as Server-Sent Events.

use super::error::{ApiError, ApiQuery};
use super::events::visible_event;
use super::guard::visible_ids;
use super::{Caller, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use backline_projections::{EventQuery, Order};
use futures::Stream;
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Start after this position (default: the `Last-Event-ID` header, else only new events).
    pub after: Option<i64>,
    pub database_id: Option<String>,
}

/// Ledger events as they are appended (`id:` is the position; reconnecting with
/// `Last-Event-ID` resumes after it). Each `data:` is one item of `GET /api/v1/events`.
#[utoipa::path(get, operation_id = "streamEvents", path = "/api/v1/events/stream", tag = "events", params(StreamParams),
    responses((status = 200, content_type = "text/event-stream", body = String)))]
pub async fn stream(
    state: State,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let app = state.app.clone();
    let start = match last_id.or(p.after) {
        Some(p) => p,
        None => app.projections.catch_up().await?,
    };
    let database_id = p.database_id;
    let principal = caller.0;
    let s = futures::stream::unfold(
        (app, start, VecDeque::new()),
        move |(app, mut pos, mut buf)| {
            let database_id = database_id.clone();
            let principal = principal.clone();
            async move {
                loop {
                    if let Some(e) = buf.pop_front() {
                        let e: backline_projections::EventView = e;
                        let data = serde_json::to_string(&e).unwrap_or_default();
                        let ev = Event::default().id(e.position.to_string()).data(data);
                        return Some((Ok(ev), (app, pos, buf)));
                    }
                    let _ = app.projections.catch_up().await;
                    let q = EventQuery {
                        after: Some(pos),
                        limit: 200,
                        database_id: database_id.clone(),
                        order: Order::Asc,
                        ..Default::default()
                    };
                    match app.projections.events(&q).await {
                        Ok(items) if !items.is_empty() => {
                            // Databases registered meanwhile count: the scope is re-read.
                            match visible_ids(&app, &principal).await {
                                Ok(visible) => {
                                    pos = items.last().map(|e| e.position).unwrap_or(pos);
                                    buf.extend(
                                        items.into_iter().filter(|e| visible_event(&visible, e)),
                                    );
                                }
                                Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
                            }
                        }
                        _ => tokio::time::sleep(Duration::from_millis(300)).await,
                    }
                }
            }
        },
    );
    Ok(Sse::new(s).keep_alive(KeepAlive::default()))
}
