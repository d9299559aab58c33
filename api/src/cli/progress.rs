//! How long commands show their progress.

use backline_app::App;
use std::time::Duration;

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

/// Waits for a backup or restore to end, printing how far it got every second.
pub async fn wait(app: &App, id: &str, done: tokio::task::JoinHandle<()>) {
    let mut done = done;
    loop {
        tokio::select! {
            _ = &mut done => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if let Some(b) = app.progress(id) {
                    eprintln!("  … {} processed", human(b));
                }
            }
        }
    }
}
