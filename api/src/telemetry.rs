//! Logging, set up once. Secrets never reach it: connection strings are logged redacted only.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("BACKLINE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,opendal=warn"));
    let json = std::env::var("BACKLINE_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
