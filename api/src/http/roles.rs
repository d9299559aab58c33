//! Who may call what: one rule per route (method and path template), checked in one place
//! (`guard`) and shown in the OpenAPI document (`x-required-role`, `x-database-scope`). A route
//! missing here is refused for everyone (and fails the unit test below, which walks the
//! document), so a new route cannot be forgotten.
//!
//! To add a route: one line in `RULES` with the lowest role that may call it, and what its
//! `{id}` names (`Target`), so that a principal scoped to some databases is checked against
//! the database the request is about.

use axum::http::Method;
use backline_domain::Role;

/// What a route acts on, for principals scoped to some databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// No database, or a list the handler filters to the principal's databases.
    Filtered,
    /// Not about databases but about everything (users, channels, registering): only for
    /// principals that see every database.
    Everything,
    /// `{id}` is a database (id or name).
    Database,
    /// `{id}` is a backup: its database.
    Backup,
    /// `{id}` is a restore: its target database.
    Restore,
    /// `{id}` is an alert: its database.
    Alert,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Filtered => "filtered",
            Target::Everything => "unscoped principals only",
            Target::Database => "the database {id}",
            Target::Backup => "the database of backup {id}",
            Target::Restore => "the target database of restore {id}",
            Target::Alert => "the database of alert {id}",
        }
    }
}

/// The lowest role a route needs (`None`: no sign-in needed) and what it acts on.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub method: &'static str,
    pub path: &'static str,
    pub role: Option<Role>,
    pub target: Target,
}

const fn r(method: &'static str, path: &'static str, role: Role, target: Target) -> Rule {
    Rule {
        method,
        path,
        role: Some(role),
        target,
    }
}

const fn public(method: &'static str, path: &'static str) -> Rule {
    Rule {
        method,
        path,
        role: None,
        target: Target::Filtered,
    }
}

use Role::{Admin, Operator, Viewer};
use Target::{Alert, Backup, Database, Everything, Filtered, Restore};

/// Every route. Viewers read everything but secrets; operators also back up, verify,
/// pin/unpin, acknowledge alerts and restore into restore targets (checked by the restore
/// handler); admins also change databases, channels, users and tokens, and restore anywhere.
pub const RULES: &[Rule] = &[
    public("GET", "/healthz"),
    public("GET", "/readyz"),
    // Answers by itself: open, or with BACKLINE_METRICS_TOKEN / an API token (then filtered).
    public("GET", "/metrics"),
    public("POST", "/api/v1/session"),
    public("DELETE", "/api/v1/session"),
    public("GET", "/api/v1/oidc"),
    public("GET", "/api/v1/oidc/login"),
    public("GET", "/api/v1/oidc/callback"),
    r("GET", "/api/v1/session", Viewer, Filtered),
    r("GET", "/api/v1/databases", Viewer, Filtered),
    r("POST", "/api/v1/databases", Admin, Everything),
    r("POST", "/api/v1/databases/test", Admin, Everything),
    r("GET", "/api/v1/databases/{id}", Viewer, Database),
    r("PATCH", "/api/v1/databases/{id}", Admin, Database),
    r("DELETE", "/api/v1/databases/{id}", Admin, Database),
    r("POST", "/api/v1/databases/{id}/test", Operator, Database),
    r("POST", "/api/v1/databases/{id}/pause", Admin, Database),
    r("POST", "/api/v1/databases/{id}/resume", Admin, Database),
    r(
        "GET",
        "/api/v1/databases/{id}/retention/preview",
        Viewer,
        Database,
    ),
    r(
        "POST",
        "/api/v1/databases/{id}/retention/prune",
        Admin,
        Database,
    ),
    r("PUT", "/api/v1/databases/{id}/drill", Admin, Database),
    r("DELETE", "/api/v1/databases/{id}/drill", Admin, Database),
    r("POST", "/api/v1/databases/{id}/drills", Operator, Database),
    r("GET", "/api/v1/databases/{id}/drills", Viewer, Database),
    r("POST", "/api/v1/databases/{id}/backups", Operator, Database),
    r("GET", "/api/v1/databases/{id}/backups", Viewer, Database),
    r("GET", "/api/v1/schedules/preview", Viewer, Filtered),
    r("POST", "/api/v1/databases/{id}/archiving", Admin, Database),
    r(
        "DELETE",
        "/api/v1/databases/{id}/archiving",
        Admin,
        Database,
    ),
    r("GET", "/api/v1/databases/{id}/archiving", Viewer, Database),
    r(
        "POST",
        "/api/v1/databases/{id}/base-backups",
        Operator,
        Database,
    ),
    r("GET", "/api/v1/base-backups/{id}", Viewer, Everything),
    r(
        "GET",
        "/api/v1/databases/{id}/recovery-window",
        Viewer,
        Database,
    ),
    r(
        "POST",
        "/api/v1/databases/{id}/restore-pitr",
        Admin,
        Database,
    ),
    r("GET", "/api/v1/backups", Viewer, Filtered),
    r("GET", "/api/v1/backups/{id}", Viewer, Backup),
    r("POST", "/api/v1/backups/{id}/restore", Operator, Backup),
    r("POST", "/api/v1/backups/{id}/pin", Operator, Backup),
    r("POST", "/api/v1/backups/{id}/unpin", Operator, Backup),
    r("POST", "/api/v1/backups/{id}/verify", Operator, Backup),
    r("GET", "/api/v1/backups/{id}/contents", Viewer, Backup),
    // Row data leaves with it; `?decrypt=true` (the server's key) is checked for admins by
    // the handler.
    r("GET", "/api/v1/backups/{id}/download", Operator, Backup),
    r("POST", "/api/v1/backups/{id}/cancel", Operator, Backup),
    // Who may start a restore into its target may stop it: an operator's restores go into
    // restore targets only (checked when it started).
    r("POST", "/api/v1/restores/{id}/cancel", Operator, Restore),
    r("GET", "/api/v1/restores", Viewer, Filtered),
    r("GET", "/api/v1/restores/{id}", Viewer, Restore),
    r("GET", "/api/v1/storages", Viewer, Filtered),
    r("GET", "/api/v1/ledger", Viewer, Filtered),
    // Recomputes the whole ledger (costly) and speaks of every event: admins that see everything.
    r("GET", "/api/v1/ledger/verify", Admin, Everything),
    // Scratch databases of crashed restores: names any database, so not for scoped principals.
    r("GET", "/api/v1/leftovers", Viewer, Everything),
    r("GET", "/api/v1/events", Viewer, Filtered),
    r("GET", "/api/v1/events/stream", Viewer, Filtered),
    r("GET", "/api/v1/alerts", Viewer, Filtered),
    r("GET", "/api/v1/alerts/{id}", Viewer, Alert),
    r("POST", "/api/v1/alerts/{id}/acknowledge", Operator, Alert),
    r("GET", "/api/v1/channels", Viewer, Filtered),
    r("POST", "/api/v1/channels", Admin, Everything),
    r("GET", "/api/v1/channels/{id}", Viewer, Filtered),
    r("DELETE", "/api/v1/channels/{id}", Admin, Everything),
    r("POST", "/api/v1/channels/{id}/test", Admin, Everything),
    // Servers hold many databases (and discover more): for principals that see them all.
    r("GET", "/api/v1/servers", Viewer, Everything),
    r("POST", "/api/v1/servers", Admin, Everything),
    r("GET", "/api/v1/servers/{id}", Viewer, Everything),
    r("DELETE", "/api/v1/servers/{id}", Admin, Everything),
    r("GET", "/api/v1/servers/{id}/databases", Viewer, Everything),
    r("POST", "/api/v1/servers/{id}/register", Admin, Everything),
    r("POST", "/api/v1/servers/{id}/discover", Admin, Everything),
    // Globals hold every role of a server: admins change and apply them.
    r("GET", "/api/v1/servers/{id}/globals", Viewer, Everything),
    r("PUT", "/api/v1/servers/{id}/globals", Admin, Everything),
    r(
        "POST",
        "/api/v1/servers/{id}/globals-backups",
        Admin,
        Everything,
    ),
    r("POST", "/api/v1/globals/{id}/restore", Admin, Everything),
    r("POST", "/api/v1/ssh/scan", Admin, Everything),
    r("GET", "/api/v1/users", Admin, Everything),
    r("POST", "/api/v1/users", Admin, Everything),
    r("PATCH", "/api/v1/users/{id}", Admin, Everything),
    r("GET", "/api/v1/tokens", Admin, Filtered),
    r("POST", "/api/v1/tokens", Admin, Filtered),
    r("DELETE", "/api/v1/tokens/{id}", Admin, Filtered),
];

/// The rule of a route, by method and path template.
pub fn rule(method: &Method, path: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.path == path && r.method == method.as_str())
}

/// The methods a path template has rules for (`HEAD` with `GET`), for 405's `Allow`.
pub fn methods_of(path: &str) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = RULES
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.method)
        .collect();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods
}

/// The role as the OpenAPI document shows it.
pub fn role_name(role: Option<Role>) -> &'static str {
    role.map(Role::as_str).unwrap_or("none")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Every route of the document has a rule, and every rule a route.
    #[test]
    fn every_route_has_exactly_one_rule() {
        let doc = super::super::document();
        let mut seen = HashSet::new();
        for (path, item) in &doc.paths.paths {
            let ops = [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
            ];
            for (m, present) in ops {
                if !present {
                    continue;
                }
                let method = Method::from_bytes(m.as_bytes()).unwrap();
                assert!(
                    rule(&method, path).is_some(),
                    "{m} {path} has no rule in api/src/http/roles.rs: add one"
                );
                seen.insert((m, path.clone()));
            }
        }
        for r in RULES {
            assert!(
                seen.contains(&(r.method, r.path.to_string())),
                "rule {} {} names no route",
                r.method,
                r.path
            );
        }
        let unique: HashSet<_> = RULES.iter().map(|r| (r.method, r.path)).collect();
        assert_eq!(unique.len(), RULES.len(), "a route has two rules");
    }
}
