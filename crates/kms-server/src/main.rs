//! `kmsd`: parse the configuration, start, print the ready line, serve until SIGTERM/SIGINT.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use kms_server::Config;

/// mimalloc instead of the system allocator: a request makes and frees many small buffers
/// (parse, verify, render), and glibc's malloc spent ~15 % of an Encrypt in profiles
/// (bench/results/profiles).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let filter = match log_filter(&config.log) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kmsd: --log {:?}: {e}", config.log);
            return ExitCode::from(2);
        }
    };
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
    let limits = limits(&config);
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
    // On stderr, whatever --log says (stdout's first line is the ready line, and whoever reads
    // it may read no further), and before the ready line, so that it is there once that is.
    if let Some(url) = server.metrics_url() {
        eprintln!("kmsd metrics on {url}");
    }
    // The one line scripts wait for.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "kmsd listening on {}", server.url());
    if let Some(url) = server.gateway_url() {
        let _ = writeln!(out, "kmsd instance gateway listening on {url}");
    }
    let _ = out.flush();
    kms_server::run(server, limits, shutdown).await;
    ExitCode::SUCCESS
}

/// Raises the open-file limit (before the store and the audit trail open files) and derives
/// the connection cap from it unless --max-connections sets one.
fn limits(config: &kms_server::Config) -> kms_server::http::Limits {
    let nofile = match kms_server::http::raise_fd_limit() {
        Ok(n) => n,
        Err(e) => {
            let (soft, _) = rlimit::Resource::NOFILE.get().unwrap_or((1024, 1024));
            tracing::warn!(error = %e, open_files = soft, "could not raise the open-file limit");
            soft
        }
    };
    let mut limits = kms_server::http::Limits::for_fd_limit(nofile);
    if let Some(n) = config.max_connections {
        limits.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
    }
    tracing::info!(open_files = nofile, max_connections = limits.max_connections, "open-file limit and connection cap");
    limits
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

/// The `--log` filter. Stricter than tracing's own syntax, where a mistyped level (`debgu`) is
/// silently a target name and the log goes quiet: each directive is a level or
/// `target=level`. The PostgreSQL driver logs statement parameters at debug, so it stays at
/// info unless named explicitly: logs never carry values.
fn log_filter(spec: &str) -> Result<tracing_subscriber::EnvFilter, String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let is_level = |l: &str| LEVELS.contains(&l.to_ascii_lowercase().as_str());
    for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level_ok = match directive.rsplit_once('=') {
            Some((target, level)) => !target.is_empty() && is_level(level),
            None => is_level(directive),
        };
        if !level_ok {
            return Err(format!("{directive:?} is not a level ({}) or target=level", LEVELS.join(", ")));
        }
    }
    let spec = if spec.contains("tokio_postgres") { spec.to_owned() } else { format!("{spec},tokio_postgres=info") };
    tracing_subscriber::EnvFilter::try_new(&spec).map_err(|e| e.to_string())
}
