//! One archive per server: the archive a registered database uses (its own, or the one of its
//! server it joined), the connection an archive streams through, and the enabled archive of a
//! server (matched by `host:port` as registered).

use super::Archiving;
use crate::core::Core;
use crate::error::AppError;
use backline_domain::{Archive, ConnectionString};
use cqrs_es::Aggregate;

impl Archiving {
    /// The archive database `database_id` uses: `(archive id, archive)`, or `None` when
    /// archiving was never enabled for it.
    pub(crate) async fn archive_of(
        core: &Core,
        database_id: &str,
    ) -> Result<Option<(String, Archive)>, AppError> {
        let own = Self::load(core, database_id).await?;
        if own.enabled {
            return Ok(Some((database_id.to_string(), own)));
        }
        // Joined: an enabled archive first, else the last one it belonged to.
        let mut joined = None;
        for id in core.ledger.aggregate_ids(Archive::TYPE).await? {
            if id == database_id {
                continue;
            }
            let a = Self::load(core, &id).await?;
            if a.databases.contains(database_id) {
                if a.enabled {
                    return Ok(Some((id, a)));
                }
                joined = Some((id, a));
            }
        }
        if own.server.is_some() {
            return Ok(Some((database_id.to_string(), own)));
        }
        Ok(joined)
    }

    /// The enabled archive of server `host:port`, other than `except`'s own.
    pub(crate) async fn enabled_for_server(
        core: &Core,
        server: &str,
        except: &str,
    ) -> Result<Option<(String, Archive)>, AppError> {
        for id in core.ledger.aggregate_ids(Archive::TYPE).await? {
            if id == except {
                continue;
            }
            let a = Self::load(core, &id).await?;
            if a.enabled && a.server.as_ref().is_some_and(|s| s.server == server) {
                return Ok(Some((id, a)));
            }
        }
        Ok(None)
    }

    /// The connection archive `archive_id` streams and backs up through: the database that
    /// enabled it, else the first still registered one that joined it.
    pub(crate) async fn conn_of(
        core: &Core,
        archive_id: &str,
        archive: &Archive,
    ) -> Option<ConnectionString> {
        let ids = std::iter::once(archive_id.to_string()).chain(archive.databases.iter().cloned());
        for id in ids {
            if let Ok((_, Some(conn))) = core.database_state(&id).await {
                return Some(conn);
            }
        }
        None
    }
}
