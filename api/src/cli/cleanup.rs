//! `backline cleanup --scratch [--dry-run]`: drop the scratch databases crashed restores left
//! on their targets' servers (listed by `GET /api/v1/leftovers`), naming each one.

use backline_app::{App, Settings};

pub async fn run(settings: Settings, dry_run: bool, json: bool) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    let leftovers = app.leftovers();
    if dry_run {
        let found = leftovers.list().await?;
        for l in &found {
            if json {
                println!("{}", serde_json::json!({"dropped": false, "leftover": l}));
            } else {
                println!(
                    "would drop {} on {} (restore {} into {}, started {})",
                    l.scratch_database,
                    l.server,
                    l.restore_id,
                    l.target_database_name,
                    l.restore_started_at
                );
            }
        }
        if !json && found.is_empty() {
            println!("no leftover scratch database");
        }
        return Ok(());
    }
    let removed = leftovers.remove_scratch().await?;
    let failed = removed.iter().filter(|r| r.error.is_some()).count();
    for r in &removed {
        let l = &r.leftover;
        if json {
            println!(
                "{}",
                serde_json::json!({"dropped": r.error.is_none(), "error": r.error, "completed_move": r.completed_move, "leftover": l})
            );
            continue;
        }
        match &r.error {
            None if r.completed_move => println!(
                "completed the interrupted move of restore {} into {} and dropped {} on {}",
                l.restore_id, l.target_database_name, l.scratch_database, l.server
            ),
            None => println!(
                "dropped {} on {} (restore {} into {}, started {})",
                l.scratch_database,
                l.server,
                l.restore_id,
                l.target_database_name,
                l.restore_started_at
            ),
            Some(e) => println!("could not drop {} on {}: {e}", l.scratch_database, l.server),
        }
    }
    if !json && removed.is_empty() {
        println!("no leftover scratch database");
    }
    if failed > 0 {
        anyhow::bail!("{failed} leftover scratch database(s) could not be dropped");
    }
    Ok(())
}
