//! The `backline` binary: parse the command line, set up logging, run the subcommand.

use backline_api::cli::Cli;
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    backline_api::telemetry::init();
    backline_api::startup::restrict_umask();
    match cli.run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
