//! `backline backup --database <id or name>`: back up now and wait for the result.

use super::progress::{human, wait};
use anyhow::{bail, Context};
use backline_app::{App, Settings};
use backline_domain::{BackupStatus, Trigger};
use backline_projections::BackupFilter;

pub async fn run(settings: Settings, database: &str, json: bool) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    let db = app.resolve_database(database).await?;
    // The previous version's size: what this one will roughly be.
    let expected = app
        .projections
        .backups(&BackupFilter {
            database_id: Some(db.id.clone()),
            status: Some(BackupStatus::Completed),
            limit: 1,
            before: None,
        })
        .await?
        .first()
        .and_then(|b| b.raw_bytes);
    let started = app
        .backups()
        .start(
            "system:cli",
            database,
            Trigger::Manual {
                actor: "system:cli".into(),
            },
        )
        .await?;
    eprintln!("backup {} started", started.id);
    wait(&app, &started.id, started.done, expected).await;
    let b = app
        .projections
        .backup(&started.id)
        .await?
        .context("backup vanished")?;
    if json {
        println!("{}", serde_json::to_string(&b)?);
    }
    if b.status == BackupStatus::Cancelled {
        bail!(
            "backup {} cancelled by {}",
            b.id,
            b.cancel_requested_by.unwrap_or_default()
        );
    }
    if b.status != BackupStatus::Completed {
        let (stage, message) = match &b.error {
            Some(e) => {
                if !e.stderr_tail.is_empty() {
                    eprintln!("{}", e.stderr_tail);
                }
                (e.stage.to_string(), e.message.clone())
            }
            None => ("?".into(), "unknown".into()),
        };
        bail!(
            "backup {} {} at stage {stage}: {message}",
            b.id,
            b.status.as_str()
        );
    }
    if json {
        return Ok(());
    }
    println!(
        "backup {} completed: {} stored ({} raw) in {} ms, sha256 {}, key {}",
        b.id,
        human(b.bytes.unwrap_or(0)),
        human(b.raw_bytes.unwrap_or(0)),
        b.duration_ms.unwrap_or(0),
        b.sha256.unwrap_or_default(),
        b.storage_key.unwrap_or_default()
    );
    Ok(())
}
