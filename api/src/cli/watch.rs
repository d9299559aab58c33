//! `backline backup watch <id>`, `backline restore watch <id>`: follow running work started
//! anywhere (the API, the UI, the scheduler, another process on the same ledger) with a bar,
//! its percentage and ETA, until it ends.

use super::cancel::Kind;
use super::progress::human;
use anyhow::{bail, Context};
use backline_app::{App, Settings};
use backline_domain::{BackupStatus, RestoreStatus};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub async fn run(settings: Settings, kind: Kind, id: &str, json: bool) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    let terminal = std::io::stderr().is_terminal();
    let bar = terminal.then(ProgressBar::new_spinner);
    let mut phase = String::new();
    let mut last_line = Instant::now() - Duration::from_secs(60);
    let (completed, status, body) = loop {
        app.catch_up().await;
        // (running, completed, status, the view as JSON)
        let (running, completed, status, body) = match kind {
            Kind::Backup => {
                let b = app
                    .projections
                    .backup(id)
                    .await?
                    .context("no such backup")?;
                (
                    b.status == BackupStatus::Running,
                    b.status == BackupStatus::Completed,
                    b.status.as_str(),
                    serde_json::to_string(&b)?,
                )
            }
            Kind::Restore => {
                let r = app
                    .projections
                    .restore(id)
                    .await?
                    .context("no such restore")?;
                (
                    r.status == RestoreStatus::Running,
                    r.status == RestoreStatus::Completed,
                    r.status.as_str(),
                    serde_json::to_string(&r)?,
                )
            }
        };
        if !running {
            break (completed, status, body);
        }
        if let Some(p) = app.progress_of(id).await {
            match &bar {
                Some(bar) => {
                    if p.phase != phase {
                        phase = p.phase.clone();
                        bar.reset();
                        style(bar, &phase, p.expected_bytes);
                    }
                    bar.set_position(p.bytes);
                }
                None if last_line.elapsed() >= Duration::from_secs(5) => {
                    last_line = Instant::now();
                    let share = p.percent.map(|n| format!(" ({n}%)")).unwrap_or_default();
                    let eta = p
                        .eta_seconds
                        .map(|s| format!(", about {s} s left"))
                        .unwrap_or_default();
                    eprintln!("  {}: {}{share}{eta}", p.phase, human(p.bytes));
                }
                None => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if json {
        println!("{body}");
    }
    eprintln!("{} {id} ended {status}", name(kind));
    if !completed {
        bail!("{} {id} ended {status}", name(kind));
    }
    Ok(())
}

fn style(bar: &ProgressBar, phase: &str, expected: Option<u64>) {
    match expected.filter(|e| *e > 0) {
        Some(total) => {
            bar.set_length(total);
            if let Ok(s) = ProgressStyle::with_template(&format!(
                "  {phase:<8} {{bar:30}} {{percent:>3}}%  {{bytes}}/~{{total_bytes}}  ETA {{eta}}"
            )) {
                bar.set_style(s);
            }
        }
        None => {
            if let Ok(s) =
                ProgressStyle::with_template(&format!("  {phase:<8} {{spinner}} {{bytes}}"))
            {
                bar.set_style(s);
            }
        }
    }
}

fn name(kind: Kind) -> &'static str {
    match kind {
        Kind::Backup => "backup",
        Kind::Restore => "restore",
    }
}
