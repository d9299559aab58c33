//! `backline import --from-storage [NAME]`: rebuild history from the manifests in storage.

use backline_app::{App, Settings};

pub async fn run(
    settings: Settings,
    from_storage: Option<&str>,
    connections: &[String],
    trust: &backline_app::ImportTrust,
    json: bool,
) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    let report = app
        .import()
        .from_storage(
            "import",
            from_storage.unwrap_or("default"),
            connections,
            trust,
        )
        .await?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    for line in &report.lines {
        println!("{line}");
    }
    println!(
        "imported {} databases and {} backups",
        report.databases, report.backups
    );
    Ok(())
}
