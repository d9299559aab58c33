//! `backline replay`: drop every read model and rebuild it from the ledger.

use backline_app::{App, Settings};

pub async fn run(settings: Settings, json: bool) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    let head = app.ledger.head().await?;
    let applied = app.projections.rebuild().await?;
    if json {
        println!("{}", serde_json::json!({"applied": applied, "head": head}));
    } else {
        println!(
            "rebuilt every read model from the ledger: applied up to position {applied} of {head}"
        );
    }
    Ok(())
}
