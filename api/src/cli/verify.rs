//! `backline verify --backup <id> | --all`: re-read stored artifacts.

use anyhow::bail;
use backline_app::{App, Settings};

pub async fn run(settings: Settings, backup: Option<&str>, json: bool) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    let results = app.verification().verify("system:cli", backup).await?;
    let mut bad = 0;
    for v in &results {
        bad += usize::from(!v.ok);
        let version = app.projections.backup(&v.backup_id).await?;
        if json {
            let mut line = serde_json::to_value(v)?;
            if let Some(b) = &version {
                line["database_name"] = b.database_name.clone().into();
                line["started_at"] = b.started_at.clone().into();
            }
            println!("{line}");
            continue;
        }
        let (database, at) = version
            .map(|b| (b.database_name, b.started_at))
            .unwrap_or_default();
        println!(
            "{} {database}  version of {at}  ({})\n      {}",
            if v.ok { "ok  " } else { "FAIL" },
            v.backup_id,
            v.detail
        );
    }
    if bad > 0 {
        bail!("{bad} of {} backups failed verification", results.len());
    }
    if !json {
        println!("{} backups verified", results.len());
    }
    Ok(())
}
