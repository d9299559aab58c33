//! `backline prune [--database D] [--dry-run]`: apply retention policies now.

use backline_app::{App, Settings};

pub async fn run(
    settings: Settings,
    database: Option<&str>,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    let targets = match database {
        Some(d) => vec![app.resolve_database(d).await?],
        None => app.projections.databases(false).await?,
    };
    for db in targets {
        let plan = app.retention().prune("system:cli", &db.id, dry_run).await?;
        if json {
            println!(
                "{}",
                serde_json::json!({"database": db.name, "dry_run": dry_run, "plan": plan})
            );
            continue;
        }
        let verb = if dry_run { "would prune" } else { "pruned" };
        println!(
            "{}: {verb} {} version(s), {} kept (policy: {})",
            db.name,
            plan.prune.len(),
            plan.kept,
            if plan.policy.is_empty() {
                "none: keep everything"
            } else {
                &plan.policy
            }
        );
        for p in plan.prune {
            println!("  {}  {}  {}", p.id, p.finished_at, p.reason);
        }
    }
    Ok(())
}
