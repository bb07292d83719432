//! `kms-bench`: the benchmark's load tool and its ceiling server.
//!
//! - `kms-bench load …` drives one target — kmsd, the ceiling, or OpenBao's transit engine —
//!   over N keep-alive connections for a fixed time. Every kmsd request is signed afresh (new
//!   nonce and timestamp, V1 or ACS3), exactly as an SDK would send it; the ceiling gets the
//!   same signed requests, so the load tool costs the same on both sides of the ratio. It prints
//!   one JSON object: throughput, latency percentiles, errors. Any error fails the run (exit 1)
//!   after printing, so errors never pass as throughput.
//! - `kms-bench ceiling …` serves a fixed JSON body through kmsd's own HTTP layer with no work
//!   behind it: the most any kmsd could answer on this machine.
#![forbid(unsafe_code)]

mod ceiling;
mod gateway;
mod load;
mod presign;
mod target;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "kms-bench", about = "Load tool and ceiling server for benchmarking kmsd")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drive one target for a fixed time and print the results as one JSON object.
    Load(load::LoadArgs),
    /// Create N keys in a kmsd through the API, over many connections.
    Seed(load::SeedArgs),
    /// Serve a fixed JSON body (size chosen per request by the `x-bench-reply-size` header)
    /// through kmsd's HTTP layer; prints `ceiling listening on http://ADDR`.
    Ceiling {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Serve HTTPS with a fresh self-signed certificate for 127.0.0.1, whose PEM goes to
        /// this file (the gateway's ceiling).
        #[arg(long)]
        tls_ca_out: Option<std::path::PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The load tool runs on one core (taskset): one thread, no work stealing between threads
    // that would only take turns on it. The ceiling serves as kmsd does (its multi-thread
    // runtime, which sizes itself to the cores it may use).
    let runtime = match cli.command {
        Command::Ceiling { .. } => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
        _ => tokio::runtime::Builder::new_current_thread().enable_all().build(),
    }
    .expect("tokio runtime");
    runtime.block_on(async {
        match cli.command {
            Command::Ceiling { listen, tls_ca_out } => {
                ceiling::serve(listen, tls_ca_out).await;
                std::process::ExitCode::SUCCESS
            }
            Command::Load(args) => load::run(args).await,
            Command::Seed(args) => load::seed(args).await,
        }
    })
}
