//! The HTTP API: `/api/v1` (bearer token), health, OpenAPI and Swagger UI.

mod alerts;
mod databases;
pub mod error;
mod events;
mod ledger;
mod leftovers;
mod metrics;
mod openapi;
mod pitr;
mod runs;
mod schemas;
mod servers;
mod storage;
mod stream;
pub mod throttle;
mod ui;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use backline_app::health::BackupReadiness;
use backline_app::App;
use error::ApiError;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub struct HttpState {
    pub app: Arc<App>,
    pub token: String,
    /// The last storage write probe of `/readyz`.
    pub storage_probe: StorageProbe,
    /// Wrong tokens by client address.
    pub auth_throttle: throttle::AuthThrottle,
}

/// `/readyz` writes an object on every storage and a row in the ledger (rolled back) to check
/// what backups use: done on every call, a load balancer polling every second would write (and
/// pay for, on S3) an object a second. The outcome is kept for `STORAGE_PROBE_TTL`.
#[derive(Default)]
pub struct StorageProbe {
    last: tokio::sync::Mutex<Option<(std::time::Instant, BackupReadiness)>>,
}

const STORAGE_PROBE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

impl StorageProbe {
    /// The cached outcome while it is fresh, else a new check.
    async fn outcome(&self, app: &App) -> BackupReadiness {
        // Held across the probe: concurrent calls wait for one probe instead of each running one.
        let mut last = self.last.lock().await;
        if let Some((at, outcome)) = last.as_ref() {
            if at.elapsed() < STORAGE_PROBE_TTL {
                return outcome.clone();
            }
        }
        let outcome = backline_app::health::check_backup_readiness(app.core()).await;
        *last = Some((std::time::Instant::now(), outcome.clone()));
        outcome
    }
}

pub type State = axum::extract::State<Arc<HttpState>>;

/// Who made the request (set by the auth layer).
#[derive(Debug, Clone)]
pub struct Actor(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token"))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token of `Authorization: Bearer <token>`, if the request sends one.
fn bearer(headers: &header::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// 401 problem+json with `WWW-Authenticate: Bearer`.
fn unauthorized(detail: &str) -> Response {
    let mut r = ApiError::new(StatusCode::UNAUTHORIZED, detail).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    r
}

/// The client's address (the peer of the TCP connection), when the server recorded it.
fn client_ip(extensions: &axum::http::Extensions) -> std::net::IpAddr {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
        // Served without connection info, every client counts as one.
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// 429 problem+json with `Retry-After`.
fn too_many_wrong_tokens(wait: std::time::Duration) -> Response {
    let secs = throttle::retry_after_secs(wait);
    let mut r = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many wrong tokens from this address: try again in {secs} s"),
    )
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    r
}

/// Checks a presented token against `valid` under the wrong-token throttle: `Ok` when it is
/// valid, else the 401 or 429 to answer (after the delay every wrong token waits).
async fn check_token(
    state: &HttpState,
    client: std::net::IpAddr,
    presented: &str,
    valid: impl Fn(&str) -> bool,
    wrong: &str,
) -> Result<(), Response> {
    if let Err(wait) = state.auth_throttle.check(client, std::time::Instant::now()) {
        return Err(too_many_wrong_tokens(wait));
    }
    if valid(presented) {
        return Ok(());
    }
    let backoff = state
        .auth_throttle
        .failed(client, std::time::Instant::now());
    tokio::time::sleep(throttle::FAILURE_DELAY).await;
    Err(match backoff {
        Some(wait) => too_many_wrong_tokens(wait),
        None => unauthorized(wrong),
    })
}

/// The ledger position the read models had applied when a request under /api/v1 was read
/// (they keep answering while a start-up catch-up runs).
pub const POSITION_HEADER: &str = "x-backline-position";

async fn require_token(
    axum::extract::State(state): axum::extract::State<Arc<HttpState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(presented) = bearer(req.headers()).map(str::to_string) else {
        return unauthorized("missing bearer token: send Authorization: Bearer <admin token>");
    };
    let client = client_ip(req.extensions());
    let valid = |t: &str| constant_time_eq(t.as_bytes(), state.token.as_bytes());
    match check_token(
        &state,
        client,
        &presented,
        valid,
        "the bearer token is not valid",
    )
    .await
    {
        Ok(()) => {
            crate::telemetry::record_actor("admin");
            req.extensions_mut().insert(Actor("admin".into()));
            // Taken before the handler reads: what it answers reflects at least this position.
            let position = state.app.projections.applied_position();
            let mut response = next.run(req).await;
            response
                .headers_mut()
                .insert(POSITION_HEADER, axum::http::HeaderValue::from(position));
            response
        }
        Err(refused) => refused,
    }
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
}

/// The process is alive.
#[utoipa::path(get, operation_id = "getHealth", path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// `ok`, or why the ledger cannot be read or written.
    pub ledger: String,
    /// `ok`, or which storage fails and how: not writable, or less free space than
    /// `min_free_bytes`.
    pub storage: String,
    /// `ok`; `catching_up: at <applied> of <ledger position>` while the read models apply the
    /// events that arrived while the server was down (reads answer meanwhile, from the read
    /// models as they are); or what failed.
    pub projections: String,
    pub ledger_position: i64,
    /// The position the read models have applied.
    pub applied_position: i64,
    /// The read models are applying a backlog (start-up).
    pub catching_up: bool,
    /// The least free space among local storages (null with object stores only).
    pub storage_free_bytes: Option<u64>,
    /// BACKLINE_MIN_FREE_BYTES.
    pub min_free_bytes: u64,
}

/// What backups use, checked as they use it (at most every 5 s): the ledger readable and
/// writable, every storage accepting a write under its root and keeping more free space than
/// BACKLINE_MIN_FREE_BYTES (local storage); and the read models caught up.
#[utoipa::path(get, operation_id = "getReadiness", path = "/readyz", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn readyz(state: State) -> (StatusCode, Json<Readiness>) {
    let app = &state.app;
    let head = app.ledger.head().await;
    let checked = state.storage_probe.outcome(app).await;
    let ledger = match &head {
        Ok(_) => checked.ledger.clone(),
        Err(e) => e.to_string(),
    };
    let storage = checked.storage.clone();
    // While a (start-up) catch-up runs, say where it is instead of waiting for it.
    let (applied, catching_up) = match app.projections.try_catch_up().await {
        Some(r) => (r.map_err(|e| e.to_string()), false),
        None => (
            app.projections
                .checkpoint()
                .await
                .map_err(|e| e.to_string()),
            true,
        ),
    };
    let head = head.unwrap_or(-1);
    let projections = match &applied {
        Ok(p) if *p >= head => "ok".to_string(),
        Ok(p) if catching_up => format!("catching_up: at {p} of {head}"),
        Ok(p) => format!("behind: at {p} of {head}"),
        Err(e) => e.clone(),
    };
    let ready_models = projections == "ok";
    let ready = ledger == "ok" && storage == "ok" && ready_models;
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(Readiness {
            ready,
            ledger,
            storage,
            projections,
            ledger_position: head,
            applied_position: applied.as_ref().copied().unwrap_or(-1),
            catching_up: catching_up && !ready_models,
            storage_free_bytes: checked.storage_free_bytes,
            min_free_bytes: app.settings.min_free_bytes,
        }),
    )
}

/// The `/api/v1` routes (token required).
fn api_routes() -> OpenApiRouter<Arc<HttpState>> {
    OpenApiRouter::new()
        .routes(routes!(databases::register, databases::list))
        .routes(routes!(
            databases::get,
            databases::update,
            databases::remove
        ))
        .routes(routes!(databases::test))
        .routes(routes!(databases::test_new))
        .routes(routes!(databases::schedule_preview))
        .routes(routes!(databases::pause))
        .routes(routes!(databases::resume))
        .routes(routes!(databases::retention_preview))
        .routes(routes!(databases::prune))
        .routes(routes!(runs::pin))
        .routes(routes!(runs::unpin))
        .routes(routes!(runs::backup_now, runs::history))
        .routes(routes!(runs::list_backups))
        .routes(routes!(runs::get_backup))
        .routes(routes!(runs::restore))
        .routes(routes!(runs::contents))
        .routes(routes!(runs::list_restores))
        .routes(routes!(runs::get_restore))
        .routes(routes!(leftovers::list))
        .routes(routes!(pitr::enable, pitr::disable, pitr::status))
        .routes(routes!(pitr::base_backup_now))
        .routes(routes!(pitr::get_base_backup))
        .routes(routes!(pitr::recovery_window))
        .routes(routes!(pitr::restore_pitr))
        .routes(routes!(storage::verify))
        .routes(routes!(storage::list))
        .routes(routes!(ledger::status))
        .routes(routes!(ledger::verify))
        .routes(routes!(events::list))
        .routes(routes!(stream::stream))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::get))
        .routes(routes!(alerts::acknowledge))
        .routes(routes!(alerts::list_channels, alerts::add_channel))
        .routes(routes!(alerts::get_channel, alerts::remove_channel))
        .routes(routes!(alerts::test_channel))
        .routes(routes!(servers::register, servers::list))
        .routes(routes!(servers::get, servers::remove))
        .routes(routes!(servers::databases))
        .routes(routes!(servers::register_databases))
        .routes(routes!(servers::discover))
}

/// Every route (with `api`) and the complete OpenAPI document that describes them.
fn collect(
    api: OpenApiRouter<Arc<HttpState>>,
) -> (Router<Arc<HttpState>>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(openapi::base())
        .merge(api)
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics::metrics))
        .split_for_parts();
    openapi::complete(&mut doc);
    (router, doc)
}

/// The OpenAPI document, as `/openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    collect(api_routes()).1
}

pub fn router(state: Arc<HttpState>) -> Router {
    let api =
        api_routes().route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let (api_router, doc) = collect(api);
    let doc_json = doc.clone();
    api_router
        .route(
            "/openapi.json",
            axum::routing::get(move || async move { Json(doc_json.clone()) }),
        )
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/docs/openapi.json", doc))
        .fallback(ui::serve)
        .with_state(state)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(middleware::from_fn(crate::telemetry::request_span))
}
