//! `kmsd`: parse the configuration, start, print the ready line, serve until SIGTERM/SIGINT.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use kms_server::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).init();

    let server = match kms_server::start(&config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kmsd: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The one line scripts wait for.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "kmsd listening on {}", server.url());
    let _ = out.flush();
    kms_server::run(server, shutdown_signal()).await;
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}
