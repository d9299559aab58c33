//! How long commands show their progress: a bar with percentage and ETA when the size is
//! known and stderr is a terminal, a line every few seconds otherwise.

use backline_app::App;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// `n` bytes in a unit a person reads.
pub fn human(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

fn bar(expected: Option<u64>) -> ProgressBar {
    match expected {
        Some(total) if total > 0 => {
            let b = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "  {bar:30} {percent:>3}%  {bytes}/{total_bytes}  {bytes_per_sec}  ETA {eta}",
            ) {
                b.set_style(style);
            }
            b
        }
        _ => {
            let b = ProgressBar::new_spinner();
            if let Ok(style) =
                ProgressStyle::with_template("  {spinner} {bytes} processed  {bytes_per_sec}")
            {
                b.set_style(style);
            }
            b
        }
    }
}

/// Waits for a backup or restore to end, showing how far it got; `expected` is its raw size
/// when known (the previous version's, the artifact's).
pub async fn wait(app: &App, id: &str, done: tokio::task::JoinHandle<()>, expected: Option<u64>) {
    let mut done = done;
    let terminal = std::io::stderr().is_terminal();
    let bar = terminal.then(|| bar(expected));
    let mut last_line = Instant::now();
    loop {
        tokio::select! {
            _ = &mut done => break,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {
                let Some(b) = app.progress(id) else { continue };
                match &bar {
                    Some(bar) => bar.set_position(b),
                    None if last_line.elapsed() >= Duration::from_secs(5) => {
                        last_line = Instant::now();
                        match expected.filter(|t| *t > 0) {
                            Some(t) => eprintln!("  … {} of ~{} ({}%)", human(b), human(t), (b * 100 / t).min(100)),
                            None => eprintln!("  … {} processed", human(b)),
                        }
                    }
                    None => {}
                }
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}
