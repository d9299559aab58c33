//! The OpenAPI document: what every route takes and answers, completed after the routes are
//! collected with the error responses every route can give, and checked by a unit test
//! (path parameters in their templates, unique operation ids).

use super::error::Problem;
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
        (name = "pitr", description = "Point-in-time recovery: WAL archiving, base backups, the recoverable window, restores to a second"),
        (name = "events", description = "The audit timeline: every ledger event"),
        (name = "alerts", description = "Alerts and the channels they are sent to"),
        (name = "servers", description = "Database servers: list their databases, register many at once, discover new ones"),
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

/// Adds the responses any route can give besides its own: 401 and 429 (a missing, wrong or
/// throttled token) under `/api/v1`, 400/413/415/422 for a request body, 400 for a query
/// string, 500 everywhere; routes outside `/api/v1` need no token.
pub(super) fn complete(doc: &mut OpenApi) {
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    for (path, item) in doc.paths.paths.iter_mut() {
        let authenticated = path.starts_with("/api/v1/");
        for op in operations(item) {
            let r = &mut op.responses.responses;
            let mut add = |code: &str, description: &str| {
                r.entry(code.to_string())
                    .or_insert_with(|| problem(description));
            };
            if authenticated {
                add("401", "No bearer token, or not a valid one");
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
                // No token needed outside /api/v1 (`/metrics` checks its own when configured).
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
