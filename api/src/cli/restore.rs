//! `backline restore --backup <id>`: restore and wait for the result.

use super::progress::wait;
use anyhow::{bail, Context};
use backline_app::{App, RestoreRequest, Settings};
use backline_domain::RestoreStatus;

pub async fn run(settings: Settings, req: RestoreRequest, json: bool) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    let expected = app
        .projections
        .backup(&req.backup_id)
        .await?
        .and_then(|b| b.raw_bytes);
    let started = app.restores().start("system:cli", &req).await?;
    eprintln!("restore {} started", started.id);
    wait(&app, &started.id, started.done, expected).await;
    let r = app
        .projections
        .restore(&started.id)
        .await?
        .context("restore vanished")?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
    }
    if r.status == RestoreStatus::Cancelled {
        bail!(
            "restore {} cancelled by {}; the target is as it was",
            r.id,
            r.cancel_requested_by.unwrap_or_default()
        );
    }
    if r.status != RestoreStatus::Completed {
        let e = r.error.context("restore failed without a reason")?;
        if !e.stderr_tail.is_empty() {
            eprintln!("{}", e.stderr_tail);
        }
        bail!(
            "restore {} failed at stage {}: {}",
            r.id,
            e.stage,
            e.message
        );
    }
    if json {
        return Ok(());
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "restore {} completed into {} in {} ms{}",
        r.id,
        r.target_database_name,
        r.duration_ms.unwrap_or(0),
        r.previous_kept_as
            .map(|k| format!("; previous contents kept as {k}"))
            .unwrap_or_default()
    );
    Ok(())
}
