//! `backline schedule check "<cron>" --tz <zone>`: validate and show the next runs.

pub fn check(expr: &str, tz: &str, json: bool) -> anyhow::Result<()> {
    let s = backline_domain::Schedule::parse(expr, Some(tz), Default::default())?;
    let runs = s.next_runs(chrono::Utc::now(), 5);
    if json {
        let next: Vec<String> = runs.iter().map(|t| t.to_rfc3339()).collect();
        let local: Vec<String> = runs.iter().map(|t| s.local(*t)).collect();
        println!(
            "{}",
            serde_json::json!({"description": s.describe(), "next_runs": next, "next_runs_local": local})
        );
        return Ok(());
    }
    println!("{}", s.describe());
    for t in runs {
        println!("  {}  ({})", s.local(t), t.to_rfc3339());
    }
    Ok(())
}
