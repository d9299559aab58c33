//! `backline schedule check "<cron>" --tz <zone>`: validate and show the next runs.

pub fn check(expr: &str, tz: &str) -> anyhow::Result<()> {
    let s = backline_domain::Schedule::parse(expr, Some(tz), Default::default())?;
    println!("{}", s.describe());
    for t in s.next_runs(chrono::Utc::now(), 5) {
        println!("  {}  ({})", s.local(t), t.to_rfc3339());
    }
    Ok(())
}
