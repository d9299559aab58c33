//! Trying a connection: reachable, the tools there, and every privilege a backup needs held.

use backline_domain::ConnectionString;
use backline_infra::drivers::{self, ToolConfig};

/// Result of trying a connection.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionTest {
    /// Connected, and the dump and restore tools are there.
    pub ok: bool,
    pub server_version: Option<String>,
    pub message: String,
    /// Connected and nothing a backup needs is missing (`ok` and `missing` empty).
    pub ready: bool,
    /// The privileges a backup needs that the user lacks (at most 200; `missing_total` counts
    /// them all). Empty when the connection failed.
    pub missing: Vec<MissingPrivilege>,
    pub missing_total: usize,
}

/// A privilege a backup needs and the user lacks.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MissingPrivilege {
    /// `SELECT`, `USAGE`, `SHOW VIEW`, `TRIGGER`, `EVENT`, …
    pub privilege: String,
    /// What it is needed on: `schema.table` (PostgreSQL), `database.table` or `database.*`
    /// (MariaDB/MySQL), `schema <name>`.
    pub object: String,
    /// What the dump does without it.
    pub effect: String,
}

/// Tries a connection: the server's version, the tools that would be used, and whether the
/// user holds every privilege a backup needs.
pub(super) async fn run(conn: &ConnectionString, tools: &ToolConfig) -> ConnectionTest {
    match drivers::probe(conn, tools).await {
        Ok(p) => {
            let tools = format!(
                "will dump with {} and restore with {}",
                p.dump_tool_version, p.restore_tool_version
            );
            let (missing, missing_total, message) = match drivers::grants::missing_for_backup(conn)
                .await
            {
                Ok((m, 0)) => (m, 0, format!("connected; {tools}")),
                Ok((m, total)) => {
                    let message = format!(
                                "connected, but a backup would fail or leave things out: the user lacks {}; {tools}",
                                lacks(&m, total)
                            );
                    (m, total, message)
                }
                Err(e) => (
                    Vec::new(),
                    0,
                    format!(
                        "connected; {tools}; the privileges could not be checked: {}",
                        e.message
                    ),
                ),
            };
            ConnectionTest {
                ok: true,
                ready: missing_total == 0,
                message,
                server_version: Some(p.server_version),
                missing: missing
                    .into_iter()
                    .map(|m| MissingPrivilege {
                        privilege: m.privilege,
                        object: m.object,
                        effect: m.effect,
                    })
                    .collect(),
                missing_total,
            }
        }
        Err(e) => {
            // A reachable server whose tools are missing still reports its version.
            let version = drivers::server_version(conn).await.ok();
            ConnectionTest {
                ok: false,
                server_version: version,
                message: e.message,
                ready: false,
                missing: Vec::new(),
                missing_total: 0,
            }
        }
    }
}

/// "SELECT on public.a, USAGE on schema s and 3 more".
fn lacks(missing: &[drivers::grants::MissingGrant], total: usize) -> String {
    let shown: Vec<String> = missing
        .iter()
        .take(5)
        .map(|m| format!("{} on {}", m.privilege, m.object))
        .collect();
    let rest = total.saturating_sub(shown.len());
    if rest == 0 {
        shown.join(", ")
    } else {
        format!("{} and {rest} more", shown.join(", "))
    }
}
