//! `backline verify --backup <id> | --all`: re-read stored artifacts.

use anyhow::bail;
use backline_app::{App, Settings};

pub async fn run(settings: Settings, backup: Option<&str>) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    let results = app.verification().verify("cli", backup).await?;
    let mut bad = 0;
    for v in &results {
        println!(
            "{} {}  {}",
            if v.ok { "ok  " } else { "FAIL" },
            v.backup_id,
            v.detail
        );
        bad += usize::from(!v.ok);
    }
    if bad > 0 {
        bail!("{bad} of {} backups failed verification", results.len());
    }
    println!("{} backups verified", results.len());
    Ok(())
}
