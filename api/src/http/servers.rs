//! Servers: register a database server, list its databases, register many at once.

use super::databases::retention;
use super::error::{ApiError, ApiJson, Problem};
use super::schemas::{RetentionPolicy, TimeZoneName};
use super::{Actor, State};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use backline_app::{
    AutoRegisterInput, NewServer, ScheduleInput, Selection, ServerDatabase, TemplateInput,
};
use backline_projections::ServerView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The settings every database registered from a server gets.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Cron expression of their backups (5 fields, or 6 with seconds first).
    #[schema(min_length = 1, example = "30 2 * * *")]
    pub schedule: Option<String>,
    #[schema(value_type = Option<TimeZoneName>)]
    pub timezone: Option<String>,
    #[schema(pattern = "^(latest|none|all)$", example = "latest")]
    pub catch_up: Option<String>,
    #[schema(value_type = Option<RetentionPolicy>)]
    pub retention: Option<serde_json::Value>,
    /// Storage names (default: every configured storage).
    #[schema(min_items = 1, example = json!(["default"]))]
    pub destinations: Option<Vec<String>>,
}

impl Template {
    fn input(self) -> Result<TemplateInput, ApiError> {
        Ok(TemplateInput {
            settings: ScheduleInput {
                schedule: self.schedule.map(Some),
                timezone: self.timezone,
                catch_up: self.catch_up,
                retention: retention(self.retention)?,
            },
            destinations: self.destinations,
        })
    }
}

/// Register new databases of the server as they appear (checked every
/// BACKLINE_DISCOVERY_INTERVAL_SECS).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoRegister {
    /// Only names matching this glob (`*`, `?`), e.g. `shop_*`.
    #[schema(min_length = 1, max_length = 128, example = "shop_*")]
    pub pattern: Option<String>,
    /// Raise an alert (`database_discovered`) for each new database.
    #[serde(default)]
    pub alert: bool,
    #[serde(flatten)]
    pub template: Template,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterServer {
    /// 1–63 characters: letters, digits, `_`, `-`, `.`.
    #[schema(pattern = r"^\s*[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\s*$", example = "main")]
    pub name: String,
    #[schema(
        pattern = "^(postgres|postgresql|mysql|mariadb)$",
        example = "postgres"
    )]
    pub engine: String,
    /// `postgres://user:password@host:5432` or `mysql://user:password@host:3306`; a
    /// PostgreSQL database in the path is the one connected to for listing (default `postgres`).
    #[schema(
        pattern = "^(postgres|postgresql|mysql|mariadb)://",
        example = "postgres://backline:secret@127.0.0.1:5432"
    )]
    pub connection: String,
    pub auto_register: Option<AutoRegister>,
    /// Reach it through an SSH bastion.
    pub ssh: Option<super::ssh::SshBlock>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDatabases {
    /// Names of databases on the server (or `pattern`).
    #[schema(min_items = 1, example = json!(["shop_eu", "shop_us"]))]
    pub databases: Option<Vec<String>>,
    /// A glob (`*`, `?`): every unregistered database matching it.
    #[schema(min_length = 1, max_length = 128, example = "shop_*")]
    pub pattern: Option<String>,
    #[serde(flatten)]
    pub template: Template,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServerList {
    pub items: Vec<ServerView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServerDatabases {
    pub items: Vec<ServerDatabase>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    pub name: String,
    /// The new database's id.
    pub id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredList {
    pub items: Vec<Registered>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Discovered {
    /// New databases found (registered, or recorded with why they were not).
    pub discovered: usize,
}

/// Register a database server.
#[utoipa::path(post, operation_id = "registerServer", path = "/api/v1/servers", tag = "servers", request_body = RegisterServer,
    responses((status = 201, body = ServerView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn register(
    state: State,
    actor: Actor,
    ApiJson(body): ApiJson<RegisterServer>,
) -> Result<impl IntoResponse, ApiError> {
    let auto_register = match body.auto_register {
        Some(a) => Some(AutoRegisterInput {
            pattern: a.pattern,
            alert: a.alert,
            template: a.template.input()?,
        }),
        None => None,
    };
    let new = NewServer {
        name: body.name,
        engine: body.engine,
        connection: body.connection,
        ssh: body.ssh.map(super::ssh::SshBlock::input),
        auto_register,
    };
    let view = state.app.servers().register(&actor.0, &new).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// List registered servers.
#[utoipa::path(get, operation_id = "listServers", path = "/api/v1/servers", tag = "servers",
    responses((status = 200, body = ServerList)))]
pub async fn list(state: State) -> Result<Json<ServerList>, ApiError> {
    Ok(Json(ServerList {
        items: state.app.projections.servers().await?,
    }))
}

/// One server.
#[utoipa::path(get, operation_id = "getServer", path = "/api/v1/servers/{id}", tag = "servers",
    params(("id" = String, Path)),
    responses((status = 200, body = ServerView), (status = 404, body = Problem)))]
pub async fn get(state: State, Path(id): Path<String>) -> Result<Json<ServerView>, ApiError> {
    Ok(Json(state.app.servers().view(&id).await?))
}

/// Remove a server (the databases registered from it stay; its password is shredded).
#[utoipa::path(delete, operation_id = "removeServer", path = "/api/v1/servers/{id}", tag = "servers",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.servers().remove(&actor.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The server's databases (system databases and Backline's ledger left out), and which are
/// registered.
#[utoipa::path(get, operation_id = "listServerDatabases", path = "/api/v1/servers/{id}/databases", tag = "servers",
    params(("id" = String, Path)),
    responses((status = 200, body = ServerDatabases), (status = 404, body = Problem), (status = 422, body = Problem, description = "The server cannot be reached")))]
pub async fn databases(
    state: State,
    Path(id): Path<String>,
) -> Result<Json<ServerDatabases>, ApiError> {
    Ok(Json(ServerDatabases {
        items: state.app.servers().databases(&id).await?,
    }))
}

/// Register databases of the server (a list, or every unregistered one matching a pattern),
/// all with the same schedule, retention and destinations.
#[utoipa::path(post, operation_id = "registerServerDatabases", path = "/api/v1/servers/{id}/register", tag = "servers",
    params(("id" = String, Path)), request_body = RegisterDatabases,
    responses((status = 201, body = RegisteredList), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn register_databases(
    state: State,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RegisterDatabases>,
) -> Result<impl IntoResponse, ApiError> {
    let selection = Selection {
        databases: body.databases,
        pattern: body.pattern,
    };
    let template = body.template.input()?;
    let done = state
        .app
        .servers()
        .register_databases(&actor.0, &id, &selection, &template)
        .await?;
    let items = done
        .into_iter()
        .map(|d| Registered {
            name: d.name,
            id: d.database_id,
        })
        .collect();
    Ok((StatusCode::CREATED, Json(RegisteredList { items })))
}

/// Check the server for new databases now (what the periodic check does).
#[utoipa::path(post, operation_id = "discoverServerDatabases", path = "/api/v1/servers/{id}/discover", tag = "servers",
    params(("id" = String, Path)),
    responses((status = 200, body = Discovered), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn discover(state: State, Path(id): Path<String>) -> Result<Json<Discovered>, ApiError> {
    Ok(Json(Discovered {
        discovered: state.app.servers().discover(&id).await?,
    }))
}
