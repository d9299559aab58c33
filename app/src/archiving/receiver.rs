//! The supervised `pg_receivewal`: one per archived server across every Backline process on a
//! ledger (a lease `wal:<archive id>`, taken atomically and renewed while it streams),
//! restarted with exponential back-off when it exits, stopped when archiving is disabled.
//! The lease holder also takes the scheduled base backups.

use super::{ship::ship, Archiving};
use crate::core::Core;
use backline_domain::{Archive, ArchiveCommand, Stage};
use backline_infra::drivers::pg_archive;
use cqrs_es::Aggregate;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

const TICK: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A run longer than this ends the back-off (a receiver killed after streaming for a while
/// comes back within a second, whatever failed before it).
const HEALTHY_RUN: Duration = Duration::from_secs(5);

fn lease_key(database_id: &str) -> String {
    format!("wal:{database_id}")
}

/// Finds archives this process should stream and starts their receivers; runs for ever.
pub async fn run(core: Arc<Core>) {
    let mut running: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        running.retain(|_, h| !h.is_finished());
        match core.ledger.aggregate_ids(Archive::TYPE).await {
            Ok(ids) => {
                for id in ids {
                    if running.contains_key(&id) {
                        continue;
                    }
                    let Ok(archive) = Archiving::load(&core, &id).await else {
                        continue;
                    };
                    if !archive.enabled {
                        continue;
                    }
                    let ttl = core.settings.lease_ttl();
                    match core
                        .coordination
                        .leases
                        .acquire(&lease_key(&id), &core.node, ttl)
                        .await
                    {
                        Ok(true) => {
                            tracing::info!(database_id = id, "this node streams the WAL");
                            running.insert(id.clone(), tokio::spawn(supervise(core.clone(), id)));
                        }
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %e, "cannot take a WAL lease"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list the archives"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

enum Ended {
    Exited(String),
    Disabled,
    LeaseLost,
}

async fn supervise(core: Arc<Core>, id: String) {
    let spool: PathBuf = core.settings.data_dir.join("wal-spool").join(&id);
    if let Err(e) = std::fs::create_dir_all(&spool) {
        tracing::error!(error = %e, path = %spool.display(), "cannot create the WAL spool");
        return;
    }
    let mut backoff = Duration::from_secs(1);
    let mut next_base = None;
    loop {
        let started = Instant::now();
        let ended = stream_once(&core, &id, &spool, &mut next_base).await;
        if let Err(e) = ship(&core, &id, &spool).await {
            tracing::warn!(database_id = id, error = %e, "shipping WAL failed; retrying");
        }
        match ended {
            Ended::Disabled => {
                drop_slot(&core, &id).await;
                let _ = core
                    .coordination
                    .leases
                    .release_held(&lease_key(&id), &core.node)
                    .await;
                return;
            }
            Ended::LeaseLost => return,
            Ended::Exited(message) => {
                // A run that streamed for a while is not a crash loop: restart at once.
                if started.elapsed() > HEALTHY_RUN {
                    backoff = Duration::from_secs(1);
                }
                tracing::warn!(
                    database_id = id,
                    message,
                    restart_in_ms = backoff.as_millis() as u64,
                    "pg_receivewal stopped"
                );
                let _ = core
                    .aggregates
                    .archives
                    .execute_with_metadata(
                        &id,
                        ArchiveCommand::NoteReceiverExit {
                            message,
                            restart_in_ms: backoff.as_millis() as u64,
                        },
                        core.meta("archiver", &id),
                    )
                    .await;
                // Keep the lease while waiting: the restart is this node's.
                let until = Instant::now() + backoff;
                while Instant::now() < until {
                    let _ = renew(&core, &id).await;
                    tokio::time::sleep(TICK.min(until - Instant::now())).await;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn renew(core: &Core, id: &str) -> bool {
    let ttl = core.settings.lease_ttl();
    core.coordination
        .leases
        .acquire(&lease_key(id), &core.node, ttl)
        .await
        .unwrap_or(false)
}

async fn drop_slot(core: &Core, id: &str) {
    let Ok(archive) = Archiving::load(core, id).await else {
        return;
    };
    let Some(conn) = Archiving::conn_of(core, id, &archive).await else {
        return;
    };
    let conn = match crate::tunnels::reach(core, &conn).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(database_id = id, error = %e.message, "cannot reach the server to drop the replication slot");
            return;
        }
    };
    let slot = archive
        .server
        .map(|s| s.slot)
        .unwrap_or_else(|| pg_archive::slot_name(id));
    if let Err(e) = pg_archive::drop_slot(&conn, &slot).await {
        tracing::warn!(slot, error = %e.message, "could not drop the replication slot");
    }
}

/// One run of `pg_receivewal` until it exits, the archive is disabled or the lease is lost.
/// Complete segments are shipped by a task of their own and the lease is renewed by another,
/// so a slow upload can never keep the receiver running past the lease: when the lease cannot
/// be renewed in time, the receiver is stopped before the lease expires, and only then may
/// another process take it.
async fn stream_once(
    core: &Arc<Core>,
    id: &str,
    spool: &std::path::Path,
    next_base: &mut Option<chrono::DateTime<chrono::Utc>>,
) -> Ended {
    let archive = match Archiving::load(core, id).await {
        Ok(a) if a.enabled => a,
        Ok(_) => return Ended::Disabled,
        Err(e) => return Ended::Exited(e.to_string()),
    };
    let Some(server) = archive.server.clone() else {
        return Ended::Disabled;
    };
    let Some(conn) = Archiving::conn_of(core, id, &archive).await else {
        return Ended::Disabled;
    };
    let tool = match pg_archive::exact_tool("pg_receivewal", &core.tools, server.server_major).await
    {
        Ok(t) => t,
        Err(e) => return Ended::Exited(e.message),
    };
    // Through the database's SSH bastion when it has one, like its backups: the tunnel lives
    // as long as `conn`, this run of the receiver; a broken tunnel ends the run (and the
    // receiver), which is restarted with a new one.
    let conn = match crate::tunnels::reach(core, &conn).await {
        Ok(c) => c,
        Err(e) => return Ended::Exited(e.message),
    };
    // The lease must be ours now, for a known time, before the receiver starts.
    let leased_at = Instant::now();
    if !renew(core, id).await {
        return Ended::LeaseLost;
    }
    let (lost_tx, mut lost) = tokio::sync::watch::channel(false);
    let keeper = tokio::spawn(keep_lease(core.clone(), id.to_string(), leased_at, lost_tx));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let shipper = tokio::spawn(ship_loop(
        core.clone(),
        id.to_string(),
        spool.to_path_buf(),
        stop,
    ));
    let ended = match pg_archive::spawn_receivewal(&conn, &tool, &server.slot, spool) {
        Ok(receiver) => {
            tracing::info!(
                database_id = id,
                pid = receiver.pid(),
                slot = server.slot,
                "pg_receivewal started"
            );
            // Dropping `finish` (on every way out of this block) kills the receiver.
            let finish = receiver.finish(Stage::Connect);
            tokio::pin!(finish);
            loop {
                tokio::select! {
                    r = &mut finish => break Ended::Exited(match r {
                        Ok(_) => "pg_receivewal exited".into(),
                        Err(e) => e.message,
                    }),
                    _ = lost.changed() => break Ended::LeaseLost,
                    _ = tokio::time::sleep(TICK * 3) => match Archiving::load(core, id).await {
                        Ok(a) if !a.enabled => break Ended::Disabled,
                        Ok(a) => scheduled_base_backup(core, id, &a, next_base).await,
                        Err(_) => {}
                    },
                }
            }
        }
        Err(e) => Ended::Exited(e.message),
    };
    keeper.abort();
    let _ = stop_tx.send(true);
    if let Err(e) = shipper.await {
        tracing::warn!(database_id = id, error = %e, "the WAL shipper stopped abnormally");
    }
    ended
}

/// Renews the lease every quarter of its time; says `lost` (and stops) when a renewal is
/// refused, fails, or has not succeeded a third of the lease's time before it would expire.
async fn keep_lease(
    core: Arc<Core>,
    id: String,
    leased_at: Instant,
    lost: tokio::sync::watch::Sender<bool>,
) {
    let ttl = core.settings.lease_ttl();
    let margin = ttl / 3;
    let mut valid_until = leased_at + ttl;
    loop {
        tokio::time::sleep(ttl / 4).await;
        let asked = Instant::now();
        let left = valid_until
            .saturating_duration_since(asked)
            .saturating_sub(margin);
        match tokio::time::timeout(left, renew(&core, &id)).await {
            Ok(true) => valid_until = asked + ttl,
            Ok(false) | Err(_) => {
                tracing::warn!(
                    database_id = id,
                    "the WAL lease could not be renewed in time; stopping the receiver"
                );
                let _ = lost.send(true);
                return;
            }
        }
    }
}

/// Ships complete segments every tick, and applies retention every ten minutes, until told to
/// stop (the supervisor ships what is left).
async fn ship_loop(
    core: Arc<Core>,
    id: String,
    spool: PathBuf,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticks = 0u64;
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(TICK) => false,
            _ = stop.changed() => true,
        };
        if stopping {
            return;
        }
        ticks += 1;
        if let Err(e) = ship(&core, &id, &spool).await {
            tracing::warn!(database_id = id, error = %e, "shipping WAL failed; retrying");
        }
        // Retention also as time passes (keep_days), every ten minutes.
        if ticks.is_multiple_of(600) {
            super::retention::apply_quietly(&core, &id).await;
        }
    }
}

/// Starts the scheduled base backup when its time came (only the lease holder does).
async fn scheduled_base_backup(
    core: &Arc<Core>,
    id: &str,
    archive: &Archive,
    next: &mut Option<chrono::DateTime<chrono::Utc>>,
) {
    let Some(schedule) = &archive.base_backup_schedule else {
        *next = None;
        return;
    };
    let now = chrono::Utc::now();
    match *next {
        None => *next = schedule.next_runs(now, 1).first().copied(),
        Some(due) if due <= now => {
            *next = schedule.next_runs(now, 1).first().copied();
            if let Err(e) =
                super::base_backup::start(core.clone(), "scheduler", id, "scheduled").await
            {
                tracing::warn!(database_id = id, error = %e, "the scheduled base backup did not start");
            }
        }
        Some(_) => {}
    }
}
