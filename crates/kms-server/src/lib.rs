//! kmsd: the server binary's library.
//!
//! # Layout
//! A request flows one way through these modules:
//! - [`http`]: accept, cap the body, RequestId, status and headers out.
//! - `dispatch`: verify the signature (`kms_wire::signature`), pick the action from the
//!   table, parse the typed request, call its handler, render the answer.
//! - `handlers`: one `impl Handle` per action, calling [`kms_core::Kms`].
//! - `error_map`: the one translation of key-service errors into wire codes.
//!
//! Start-up ([`start`]) binds the listeners and prepares the data dir, the root key, the store
//! and the access keys; [`run`] serves until a shutdown future fires and drains (mini-redis's
//! shape).
#![forbid(unsafe_code)]

pub mod admin;
pub mod audit;
mod authz;
pub mod config;
mod console;
mod credentials;
mod dispatch;
mod error_map;
mod gateway;
mod group_write;
mod handlers;
pub mod http;
mod metrics;
mod named;
mod quota;
mod replay;
mod routes;
mod startup;
mod tls;

use std::future::Future;
use std::sync::Arc;

use kms_core::{Clock, DevClock, Kms};
use time::OffsetDateTime;
use tokio::net::TcpListener;

pub use config::Config;
pub use startup::StartError;

/// Everything a request may need, shared by all connections.
pub struct State {
    kms: Kms,
    access_keys: credentials::AccessKeys,
    nonces: replay::Nonces,
    /// Real time, for signature freshness.
    clock: Arc<dyn Clock>,
    /// The movable service clock, when `--dev-clock` is on.
    dev_clock: Option<Arc<DevClock>>,
    /// One job run at a time, so a dev-clock advance and the jobs it makes due are one step
    /// that the periodic run cannot split.
    jobs: tokio::sync::Mutex<()>,
    /// The Prometheus recorder's handle (one per process); `None` with `--metrics-listen off`.
    metrics: Option<metrics::Exposition>,
    /// The audit trail every API request is written to before it is answered.
    audit: audit::AuditLog,
    /// Whether requests arrive over TLS (the `acs:SecureTransport` policy condition).
    secure: bool,
    /// Whether the API listener serves the web console (`--console`).
    console: bool,
    /// Per-access-key request rates of the cryptographic actions.
    quotas: quota::Quotas,
    /// Whether any key or secret has a policy: until one has, requests from unrestricted
    /// access keys are authorised without looking any up.
    resource_policies: std::sync::atomic::AtomicBool,
    /// How long `/readyz` waits for the store (`--store-timeout`).
    store_timeout: std::time::Duration,
}

/// How often scheduled jobs (deletion, rotation) look for due work.
const JOB_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

impl State {
    fn clock_now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}

/// A started server: bound, with its state ready.
pub struct Server {
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<State>,
    /// The data dir's lock, held while this server lives.
    _lock: std::fs::File,
}

impl Server {
    /// The URL clients should use, as printed on the ready line.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        match self.listener.local_addr() {
            Ok(addr) => format!("{scheme}://{addr}"),
            Err(_) => format!("{scheme}://?"),
        }
    }
}

/// A started kmsd: the API server, the metrics listener when `--metrics-listen` names one, and
/// the instance gateway when `--instance-listen` does.
pub struct Started {
    server: Server,
    metrics: Option<TcpListener>,
    gateway: Option<(TcpListener, Arc<gateway::tls::Certificates>)>,
}

impl Started {
    /// The URL clients should use, as printed on the ready line.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Where the instance gateway is served, as printed on the second ready line.
    pub fn gateway_url(&self) -> Option<String> {
        let addr = self.gateway.as_ref()?.0.local_addr().ok()?;
        Some(format!("https://{addr}"))
    }

    /// Where `/metrics` is served when it has a listener of its own.
    pub fn metrics_url(&self) -> Option<String> {
        let addr = self.metrics.as_ref()?.local_addr().ok()?;
        Some(format!("http://{addr}/metrics"))
    }
}

/// Binds the listeners and prepares everything else; the result is ready to [`run`].
pub async fn start(config: &Config) -> Result<Started, StartError> {
    // Bound first, like the API listener: a taken port fails the start before anything is
    // created in the data dir.
    let metrics = match config.metrics_listen {
        Some(config::MetricsListen::At(addr)) => Some(
            TcpListener::bind(addr).await.map_err(|source| StartError::Listen { addr: addr.to_string(), source })?,
        ),
        _ => None,
    };
    let gateway_listener = match config.instance_listen {
        Some(addr) => Some(
            TcpListener::bind(addr).await.map_err(|source| StartError::Listen { addr: addr.to_string(), source })?,
        ),
        None => None,
    };
    let server = startup::start(config).await?;
    let gateway = match gateway_listener {
        Some(listener) => {
            let certificates = gateway::tls::Certificates::new(&server.state.kms, config.instance_hosts.clone())
                .await
                .map_err(|e| StartError::Config(format!("cannot issue the instance gateway certificate: {e}")))?;
            Some((listener, certificates))
        }
        None => None,
    };
    Ok(Started { server, metrics, gateway })
}

/// Serves within `limits` until `shutdown` resolves, then drains in-flight requests; the
/// metrics listener, if any, stops with it.
pub async fn run(started: Started, limits: http::Limits, shutdown: impl Future<Output = ()>) {
    let Started { server, metrics: metrics_listener, gateway: gateway_listener } = started;
    let state = server.state.clone();
    let jobs = tokio::spawn(run_jobs(server.state.clone()));
    let refresh = tokio::spawn(refresh_access_keys(server.state.clone()));
    let upkeep = tokio::spawn(metrics::upkeep(server.state.clone()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let metrics_server = metrics_listener.map(|listener| {
        let mut stopped = stopped.clone();
        let endpoint = Arc::new(metrics::Endpoint(state.clone()));
        tokio::spawn(http::serve(listener, None, endpoint, metrics::LIMITS, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }))
    });
    let gateway_server = gateway_listener.map(|(listener, certificates)| {
        let mut stopped = stopped.clone();
        let renew = tokio::spawn(renew_gateway_certificate(state.clone(), certificates.clone()));
        let serving = match certificates.server_config() {
            Ok(config) => {
                let responder = Arc::new(gateway::Gateway { state: state.clone() });
                let tls = tokio_rustls::TlsAcceptor::from(config);
                Some(tokio::spawn(http::serve(listener, Some(tls), responder, limits, async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })))
            }
            Err(e) => {
                tracing::error!(error = %e, "instance gateway not served: no TLS configuration");
                None
            }
        };
        (serving, renew)
    });
    let shutdown = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    http::serve(server.listener, server.tls, server.state, limits, shutdown).await;
    if let Some(m) = metrics_server {
        let _ = m.await;
    }
    if let Some((serving, renew)) = gateway_server {
        if let Some(g) = serving {
            let _ = g.await;
        }
        renew.abort();
    }
    jobs.abort();
    refresh.abort();
    upkeep.abort();
    flush_usage(&state).await;
}

/// Keeps the gateway's certificate naming every connected instance (any node may connect one).
async fn renew_gateway_certificate(state: Arc<State>, certificates: Arc<gateway::tls::Certificates>) {
    let mut tick = tokio::time::interval(gateway::tls::REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = certificates.refresh(&state.kms).await {
            tracing::warn!(error = %e, "could not renew the instance gateway certificate; keeping the current one");
        }
    }
}

/// Moves counted version usage to the store.
async fn flush_usage(state: &State) {
    if let Err(e) = state.kms.flush_usage().await {
        tracing::warn!(error = %e, "could not store version usage counters; keeping them for the next flush");
    }
}

/// Keeps the root keys (a rotation started elsewhere) and the access keys in step with the
/// store, forever.
async fn refresh_access_keys(state: Arc<State>) {
    let mut tick = tokio::time::interval(credentials::ACCESS_KEY_REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // First: access keys a rotation re-wrapped open only with its new key.
        if let Err(e) = state.kms.refresh_root_keys().await {
            tracing::error!(error = %e, "cannot load the new root key of the rotation in progress");
        }
        match state.access_keys.refresh(&state.kms).await {
            Ok(true) => tracing::info!("access keys reloaded from the store"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not reload access keys; keeping the current ones"),
        }
        // Key and secret policies set through another node count here within the same tick.
        if let Ok(true) = state.kms.resource_policies_in_use().await {
            state.resource_policies.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Destroys keys whose deletion window ended and rotates keys that are due, forever.
async fn run_jobs(state: Arc<State>) {
    let mut tick = tokio::time::interval(JOB_INTERVAL);
    loop {
        tick.tick().await;
        flush_usage(&state).await;
        let _turn = state.jobs.lock().await;
        run_jobs_once(&state).await;
    }
}

/// One pass of the jobs; the caller holds `state.jobs`.
async fn run_jobs_once(state: &State) -> Option<kms_core::JobReport> {
    match state.kms.run_due_jobs().await {
        Ok(report) => {
            if report != kms_core::JobReport::default() {
                tracing::info!(
                    destroyed = report.destroyed,
                    rotated = report.rotated,
                    purged_secrets = report.purged_secrets,
                    "scheduled jobs ran"
                );
            }
            Some(report)
        }
        Err(e) => {
            tracing::error!(error = %e, "scheduled jobs failed");
            None
        }
    }
}
