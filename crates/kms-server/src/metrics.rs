//! `GET /metrics` in the Prometheus text format (rendered by metrics-exporter-prometheus):
//! requests by action and code, request latency by action (a histogram), keys by state, and
//! Encrypt-side and Decrypt-side calls of all key versions together since the process started.
//!
//! A scrape is cheap and its answer bounded, however many keys, versions and clients there
//! are:
//! - Every label value comes from a fixed set: actions from the action table (`-` for a request
//!   that named none of them), codes from the error table (or `OK`), key states, operations. No
//!   id and nothing a client sends becomes a label, so the number of series is fixed. Per
//!   version usage is not a series: it would add two per version ever used, and
//!   DescribeKeyVersion answers it (EncryptCount, DecryptCount).
//! - Keys by state are counts the store keeps with every change to a key: a scrape reads a few
//!   rows, never the keys table (four full scans of it took ~0.45 s of CPU at a million keys).
//! - Histogram samples are folded into their buckets every few seconds ([`upkeep`]) rather than
//!   only when scraped, so a node nobody scrapes does not hold every request's latency.
//!
//! Where it is served (`--metrics-listen`): on the API listener (the default), on a plain-HTTP
//! listener of its own, which answers nothing else, or nowhere (`off`: nothing is recorded).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kms_wire::render::Rendered;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::State;
use crate::config::MetricsListen;
use crate::http::{Limits, Request, Responder};

/// The recorder's handle, and whether the API listener answers `/metrics`.
pub(crate) struct Exposition {
    handle: PrometheusHandle,
    on_api: bool,
}

/// The content type of the text exposition.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// How often histogram samples are folded into their buckets (the exporter's own default).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// What the metrics listener lets its peers hold: a few scrapers, each a `GET` without a body.
pub(crate) const LIMITS: Limits = Limits { max_connections: 8, receive_budget: 1024 * 1024 };

/// Installs the process-wide recorder unless metrics are off; `None` also when a recorder is
/// already installed.
pub(crate) fn install(config: &crate::Config) -> Option<Exposition> {
    let on_api = match config.metrics_listen {
        Some(MetricsListen::Off) => return None,
        Some(MetricsListen::At(_)) => false,
        None => true,
    };
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("kmsd_request_duration_seconds".into()),
            &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5],
        )
        .ok()?
        .install_recorder()
        .ok()?;
    metrics::describe_histogram!(
        "kmsd_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from a request's arrival to its answer, by action."
    );
    metrics::describe_gauge!("kmsd_keys", "Keys in the store, by state (as of the scrape).");
    metrics::describe_counter!("kmsd_requests_total", "API requests answered, by action and result code.");
    metrics::describe_counter!(
        "kmsd_key_version_uses_total",
        "Cryptographic calls all key versions together served since kmsd started, by operation (encrypt or decrypt)."
    );
    Some(Exposition { handle, on_api })
}

/// Counts one answered request and how long it took. `action` is `None` for a request that
/// named no action of the table: it is counted as `-`, never as what the client sent. `code` is
/// `OK` or a code of the error table (`'static`: a string a request brought cannot be one).
///
/// The handles are kept per thread: registering them anew for every request (building the
/// labelled key, hashing it, finding it in the registry) cost more than the counting.
pub(crate) fn request(action: Option<kms_wire::Action>, code: &'static str, seconds: f64) {
    type Handles = (metrics::Counter, metrics::Histogram);
    thread_local! {
        static HANDLES: std::cell::RefCell<std::collections::HashMap<(&'static str, &'static str), Handles>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    let action = action.map_or("-", |a| a.as_str());
    HANDLES.with_borrow_mut(|handles| {
        let (count, duration) = handles.entry((action, code)).or_insert_with(|| {
            (
                metrics::counter!("kmsd_requests_total", "action" => action, "code" => code),
                metrics::histogram!("kmsd_request_duration_seconds", "action" => action),
            )
        });
        count.increment(1);
        duration.record(seconds);
    });
}

/// Whether the API listener answers `/metrics` (else it answers it as any unknown path).
pub(crate) fn on_api(state: &State) -> bool {
    state.metrics.as_ref().is_some_and(|m| m.on_api)
}

/// The text exposition, with the key counts and usage totals brought up to date first.
pub(crate) async fn render(state: &State) -> Rendered {
    let Some(exposition) = &state.metrics else { return Rendered::plain(CONTENT_TYPE, Vec::new()) };
    match state.kms.keys_by_state().await {
        Ok(counts) => {
            for (s, n) in counts {
                metrics::gauge!("kmsd_keys", "state" => s.as_str()).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read the key counts; kmsd_keys keeps its last values"),
    }
    let (encrypts, decrypts) = state.kms.uses_since_start();
    metrics::counter!("kmsd_key_version_uses_total", "operation" => "encrypt").absolute(encrypts);
    metrics::counter!("kmsd_key_version_uses_total", "operation" => "decrypt").absolute(decrypts);
    Rendered::plain(CONTENT_TYPE, exposition.handle.render().into_bytes())
}

/// Folds histogram samples into their buckets, forever (`install_recorder` leaves that to us).
pub(crate) async fn upkeep(state: Arc<State>) {
    let Some(exposition) = &state.metrics else { return };
    let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        exposition.handle.run_upkeep();
    }
}

/// The metrics listener (`--metrics-listen ADDR`): `GET /metrics`, and 404 for anything else.
pub(crate) struct Endpoint(pub(crate) Arc<State>);

impl Responder for Endpoint {
    async fn respond(&self, req: Request, _peer: SocketAddr, _request_id: &str) -> Rendered {
        let path = req.target.split_once('?').map_or(req.target.as_str(), |(p, _)| p);
        if path == "/metrics" && req.method == "GET" {
            return render(&self.0).await;
        }
        let mut rendered =
            Rendered::plain("text/plain;charset=utf-8", b"not found: this listener serves GET /metrics\n".to_vec());
        rendered.status = 404;
        rendered
    }
}
