//! The HTTP API: `/api/v1` (a bearer token or a session; roles in `roles`), health, OpenAPI
//! and Swagger UI.

mod alerts;
mod auth;
mod cancel;
mod database_input;
mod databases;
mod download;
mod drills;
pub mod error;
mod events;
mod guard;
mod ledger;
mod leftovers;
mod metrics;
mod oidc;
mod openapi;
mod paging;
mod pitr;
mod restore_view;
pub mod roles;
mod runs;
mod schemas;
mod server_globals;
mod servers;
mod session;
mod ssh;
mod storage;
mod stream;
pub mod throttle;
mod tokens;
mod ui;
mod users;

pub use auth::{Actor, Caller};
use axum::http::StatusCode;
use axum::middleware;
use axum::{Json, Router};
use backline_app::health::BackupReadiness;
use backline_app::App;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The ledger position the read models had applied when a request under /api/v1 was read
/// (they keep answering while a start-up catch-up runs).
pub const POSITION_HEADER: &str = "x-backline-position";

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
        .routes(routes!(drills::configure, drills::remove))
        .routes(routes!(drills::start, drills::list))
        .routes(routes!(runs::pin))
        .routes(routes!(runs::unpin))
        .routes(routes!(runs::backup_now, runs::history))
        .routes(routes!(runs::list_backups))
        .routes(routes!(runs::get_backup))
        .routes(routes!(runs::restore))
        .routes(routes!(runs::contents))
        .routes(routes!(download::download))
        .routes(routes!(cancel::cancel_backup))
        .routes(routes!(cancel::cancel_restore))
        .routes(routes!(runs::list_restores))
        .routes(routes!(restore_view::get_restore))
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
        .routes(routes!(server_globals::set, server_globals::list))
        .routes(routes!(server_globals::back_up))
        .routes(routes!(server_globals::restore))
        .routes(routes!(ssh::scan))
        .routes(routes!(users::create, users::list))
        .routes(routes!(users::update))
        .routes(routes!(tokens::issue, tokens::list))
        .routes(routes!(tokens::revoke))
        .routes(routes!(oidc::info))
        .routes(routes!(oidc::login))
        .routes(routes!(oidc::callback))
        .routes(routes!(
            session::sign_in,
            session::current,
            session::sign_out
        ))
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
    let (api_router, doc) = collect(api_routes());
    // Every route, public ones included, goes through the role table.
    let api_router = api_router.route_layer(middleware::from_fn_with_state(
        state.clone(),
        guard::authorize,
    ));
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
