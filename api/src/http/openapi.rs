//! The OpenAPI document: what every route takes and answers, completed after the routes are
//! collected with the error responses every route can give, and checked by a unit test
//! (path parameters in their templates, unique operation ids).

use super::error::Problem;
use super::roles;
use axum::http::Method;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};
use utoipa::{OpenApi as _, ToSchema};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Backline", description = "Backups and restores of PostgreSQL and MySQL/MariaDB, kept in an append-only ledger."),
    security(("bearer" = [])),
    components(schemas(Problem)),
    tags(
        (name = "databases", description = "Registered databases, their schedules and retention"),
        (name = "backups", description = "Versions: back up now, history, pins, verification"),
        (name = "restores", description = "Restores of a version into a registered database"),
        (name = "drills", description = "Restore drills: the newest version restored into a sandbox on a schedule, tables counted and checksummed, compared with the previous drill"),
        (name = "pitr", description = "Point-in-time recovery: WAL archiving, base backups, the recoverable window, restores to a second"),
        (name = "events", description = "The audit timeline: every ledger event"),
        (name = "alerts", description = "Alerts and the channels they are sent to"),
        (name = "servers", description = "Database servers: list their databases, register many at once, discover new ones"),
        (name = "users", description = "Users, API tokens and sign-in (roles: viewer < operator < admin)"),
        (name = "health", description = "Liveness, readiness and metrics (no token)")
    )
)]
pub(super) struct ApiDoc;

/// The document before the routes are added.
pub(super) fn base() -> OpenApi {
    let mut doc = ApiDoc::openapi();
    if let Some(c) = doc.components.as_mut() {
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
    doc
}

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            Content::new(Some(Ref::from_schema_name(Problem::name()))),
        )
        .build()
        .into()
}

#[cfg(test)]
fn operations(item: &mut PathItem) -> Vec<&mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn operations_by_method(item: &mut PathItem) -> Vec<(Method, &mut Operation)> {
    [
        (Method::GET, item.get.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
        (Method::PATCH, item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

/// Shows the route's rule (`roles`): `x-required-role` (`none`, `viewer`, `operator`, `admin`),
/// `x-database-scope` (what a principal limited to some databases is checked against) and a
/// line in the description. A route without a rule says so (it is refused for everyone).
fn show_rule(op: &mut Operation, method: &Method, path: &str) -> bool {
    let rule = roles::rule(method, path);
    // A route missing from the table says so: the walk-every-route test fails on it.
    let role = rule.map_or("missing", |r| roles::role_name(r.role));
    let scope = rule.map(|r| r.target.as_str()).unwrap_or("none");
    let ext = ExtensionsBuilder::new()
        .add("x-required-role", role)
        .add("x-database-scope", scope)
        .build();
    match op.extensions.as_mut() {
        Some(e) => e.merge(ext),
        None => op.extensions = Some(ext),
    }
    let line = match rule {
        None => "Required role: refused for everyone (missing from the role table).".to_string(),
        Some(r) if r.role.is_none() => "Required role: none.".to_string(),
        Some(r) => format!(
            "Required role: {role}; for a principal limited to some databases: {}.",
            r.target.as_str()
        ),
    };
    op.description = Some(match op.description.take() {
        Some(d) if !d.is_empty() => format!("{d}\n\n{line}"),
        _ => line,
    });
    rule.is_some_and(|r| r.role.is_some())
}

/// Adds each route's required role (`show_rule`) and the responses any route can give besides
/// its own: 401, 403 and 429 (no, wrong or throttled credentials; not allowed) where a role is
/// needed, 400/413/415/422 for a request body, 400 for a query string, 500 everywhere; routes
/// that need no role need no token.
pub(super) fn complete(doc: &mut OpenApi) {
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations_by_method(item) {
            let authenticated = show_rule(op, &method, path);
            let r = &mut op.responses.responses;
            let mut add = |code: &str, description: &str| {
                r.entry(code.to_string())
                    .or_insert_with(|| problem(description));
            };
            if authenticated {
                add(
                    "401",
                    "No credentials, or unknown, revoked or expired ones (a bearer token or a session)",
                );
                add(
                    "403",
                    "The principal's role is too low, or the request is about a database outside its scope",
                );
                add(
                    "429",
                    "Too many wrong tokens from this address: retry after `Retry-After` seconds",
                );
            }
            if op.request_body.is_some() {
                add("400", "The body is not valid JSON");
                add("413", "The body is over 2 MiB");
                add("415", "The body is not sent as application/json");
                add(
                    "422",
                    "The body is well-formed but a field is invalid (`errors` names it)",
                );
            }
            let has_query = op.parameters.as_ref().is_some_and(|ps| {
                ps.iter().any(|p| {
                    matches!(p, RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
                })
            });
            if has_query {
                add("400", "The query string is malformed");
                add("422", "A query parameter is invalid (`errors` names it)");
            }
            add(
                "500",
                "Internal error: the answer names the request id to find in the server's log",
            );
            for r in op.responses.responses.values_mut() {
                problems_as_problem_json(r);
            }
            if !authenticated {
                // No token needed (`/metrics` checks its own when configured).
                op.security = Some(vec![SecurityRequirement::default()]);
            }
        }
    }
}

/// Error bodies are `application/problem+json`, whatever the route's annotation said.
fn problems_as_problem_json(r: &mut RefOr<utoipa::openapi::Response>) {
    let RefOr::T(r) = r else { return };
    let is_problem = |c: &RefOr<Content>| matches!(c, RefOr::T(c) if matches!(&c.schema, Some(RefOr::Ref(s)) if s.ref_location.ends_with("/Problem")));
    if r.content.get("application/json").is_some_and(is_problem) {
        if let Some(c) = r.content.shift_remove("application/json") {
            r.content.insert("application/problem+json".to_string(), c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn doc() -> OpenApi {
        super::super::document()
    }

    #[test]
    fn every_operation_has_a_unique_id_and_its_path_parameters() {
        let mut doc = doc();
        let mut ids = HashSet::new();
        for (path, item) in doc.paths.paths.iter_mut() {
            let in_template: HashSet<String> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(str::to_string)
                .collect();
            for op in operations(item) {
                let id = op.operation_id.clone().unwrap_or_default();
                assert!(!id.is_empty(), "{path}: no operationId");
                assert!(ids.insert(id.clone()), "operationId {id} repeats");
                let mut declared = HashSet::new();
                for p in op.parameters.iter().flatten() {
                    let RefOr::T(p) = p else { continue };
                    if p.parameter_in == utoipa::openapi::path::ParameterIn::Path {
                        assert!(
                            in_template.contains(&p.name),
                            "{path} {id}: path parameter {} is not in the template",
                            p.name
                        );
                        declared.insert(p.name.clone());
                    }
                }
                assert_eq!(declared, in_template, "{path} {id}: path parameters");
                assert!(op.responses.responses.contains_key("500"), "{path} {id}");
            }
        }
        assert!(ids.contains("listDatabases") && ids.contains("getBackup"));
    }
}
