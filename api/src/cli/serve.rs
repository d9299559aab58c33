//! `backline serve`: the HTTP API, the scheduler and alerting.

use crate::startup::{admin_token, Server};
use anyhow::Context;
use backline_app::Settings;

pub async fn run(settings: Settings, listen: &str, token: Option<String>) -> anyhow::Result<()> {
    let from_env = token.as_deref().is_some_and(|t| !t.trim().is_empty());
    let token_file = std::path::absolute(settings.data_dir.join("admin.token"))
        .unwrap_or_else(|_| settings.data_dir.join("admin.token"));
    let token = admin_token(token, &settings.data_dir).context("admin token")?;
    let server = Server::build(settings, listen, token).await?;
    // What a person starting it needs first: where to go, and how to get in.
    let host = listen.rsplit_once(':').map_or(listen, |(h, _)| h);
    let host = match host {
        "0.0.0.0" | "[::]" | "::" => "127.0.0.1",
        h => h,
    };
    eprintln!("Backline is running: open http://{host}:{}/", server.port());
    if from_env {
        eprintln!("Sign in with the admin token given in BACKLINE_ADMIN_TOKEN (or --admin-token).");
    } else {
        eprintln!("Sign in with the admin token in {}.", token_file.display());
    }
    eprintln!("API description: http://{host}:{}/docs", server.port());
    server.run().await?;
    Ok(())
}
