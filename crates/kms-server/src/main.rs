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

    if let Some(kms_server::config::Command::Admin(command)) = &config.command {
        return match kms_server::admin::run(&config, command).await {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("kmsd: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let server = match kms_server::start(&config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kmsd: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Handlers first: a SIGTERM sent right after the ready line must drain, not kill.
    let shutdown = match shutdown_signal() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kmsd: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The one line scripts wait for.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "kmsd listening on {}", server.url());
    let _ = out.flush();
    kms_server::run(server, shutdown).await;
    ExitCode::SUCCESS
}

/// Installs the SIGTERM and SIGINT handlers now; the future resolves on the first signal.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("shutting down");
    })
}
