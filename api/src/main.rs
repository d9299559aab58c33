//! The `backline` binary: parse the command line, set up logging, run the subcommand.

use backline_api::cli::Cli;
use clap::Parser;

/// mimalloc instead of glibc's malloc: a replay or catch-up allocates and frees millions of
/// small JSON values and strings, where glibc spent a third of the time (`bench/ledger_scale.sh`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
