//! `backline serve`: the HTTP API, the scheduler and alerting.

use crate::startup::{admin_token, Server};
use anyhow::Context;
use backline_app::Settings;

pub async fn run(settings: Settings, listen: &str, token: Option<String>) -> anyhow::Result<()> {
    let token = admin_token(token, &settings.data_dir).context("admin token")?;
    let server = Server::build(settings, listen, token).await?;
    server.run().await?;
    Ok(())
}
