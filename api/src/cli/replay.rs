//! `backline replay`: rebuild every read model from the ledger, with a progress bar (on a
//! terminal; a line every few seconds otherwise). A server running on the same ledger keeps
//! answering from the read models as they were until the rebuild commits.

use backline_app::{App, Settings};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub async fn run(settings: Settings, json: bool) -> anyhow::Result<()> {
    // Not caught up first: the rebuild applies every event anyway.
    let app = App::open_with(settings, backline_app::CatchUp::Never).await?;
    let head = app.ledger.head().await?;
    let started = Instant::now();
    let bar = (std::io::stderr().is_terminal() && !json).then(|| {
        let b = ProgressBar::new(head.max(0) as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "  {bar:30} {percent:>3}%  {pos}/{len} events  {per_sec}  ETA {eta}",
        ) {
            b.set_style(style);
        }
        b
    });
    let last_line = Mutex::new(Instant::now());
    let applied = app
        .projections
        .rebuild_with(|done, of| match &bar {
            Some(b) => {
                b.set_length(of.max(0) as u64);
                b.set_position(done.max(0) as u64);
            }
            None => {
                let Ok(mut last) = last_line.lock() else {
                    return;
                };
                if last.elapsed() >= Duration::from_secs(5) {
                    *last = Instant::now();
                    eprintln!("  replaying: position {done} of {of}");
                }
            }
        })
        .await?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs > 0.0 {
        applied as f64 / secs
    } else {
        0.0
    };
    if json {
        println!(
            "{}",
            serde_json::json!({"applied": applied, "head": head, "seconds": secs, "events_per_second": rate.round()})
        );
    } else {
        println!(
            "rebuilt every read model from the ledger: applied up to position {applied} of {head} in {secs:.1} s ({rate:.0} events/s)"
        );
    }
    Ok(())
}
