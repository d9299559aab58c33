//! `backline backup cancel <id>`, `backline restore cancel <id>`: ask running work to stop
//! (recorded as `BackupCancelRequested` / `RestoreCancelRequested`, by `system:cli`); the
//! process running it, this one or a server on the same ledger, stops it. Waits for the end.

use anyhow::{bail, Context};
use backline_app::{App, Settings};
use backline_domain::{BackupStatus, RestoreStatus};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Backup,
    Restore,
}

pub async fn run(settings: Settings, kind: Kind, id: &str, json: bool) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    match kind {
        Kind::Backup => app.backups().cancel("system:cli", id).await?,
        Kind::Restore => app.restores().cancel("system:cli", id).await?,
    }
    eprintln!("asked {} {id} to stop; waiting for it to end", name(kind));
    loop {
        app.catch_up().await;
        // (ended, cancelled, status, the view as JSON)
        let (ended, cancelled, status, body) = match kind {
            Kind::Backup => {
                let b = app
                    .projections
                    .backup(id)
                    .await?
                    .context("backup vanished")?;
                (
                    b.status != BackupStatus::Running,
                    b.status == BackupStatus::Cancelled,
                    b.status.as_str(),
                    serde_json::to_string(&b)?,
                )
            }
            Kind::Restore => {
                let r = app
                    .projections
                    .restore(id)
                    .await?
                    .context("restore vanished")?;
                (
                    r.status != RestoreStatus::Running,
                    r.status == RestoreStatus::Cancelled,
                    r.status.as_str(),
                    serde_json::to_string(&r)?,
                )
            }
        };
        if ended {
            if json {
                println!("{body}");
            }
            if !cancelled {
                bail!(
                    "{} {id} ended {status} before it could be stopped",
                    name(kind)
                );
            }
            eprintln!("{} {id} cancelled", name(kind));
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn name(kind: Kind) -> &'static str {
    match kind {
        Kind::Backup => "backup",
        Kind::Restore => "restore",
    }
}
