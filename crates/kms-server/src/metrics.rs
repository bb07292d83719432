//! `GET /metrics` in the Prometheus text format (rendered by metrics-exporter-prometheus):
//! requests by action and code, request latency by action (a histogram), keys by state, and
//! per key version how many Encrypt-side and Decrypt-side calls it served since the process
//! started — so an operator sees when an old version stops being used. Labels carry ids,
//! actions, states and codes only, never values.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::State;

/// Installs the process-wide recorder; `None` if one is already installed.
pub fn install() -> Option<PrometheusHandle> {
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
        "Cryptographic calls each key version served since kmsd started, by operation (encrypt or decrypt)."
    );
    Some(handle)
}

/// Counts one answered request and how long it took.
pub fn request(action: &'static str, code: &'static str, seconds: f64) {
    metrics::counter!("kmsd_requests_total", "action" => action, "code" => code).increment(1);
    metrics::histogram!("kmsd_request_duration_seconds", "action" => action).record(seconds);
}

/// The text exposition, with the usage counters and key counts brought up to date first.
pub async fn render(state: &State) -> String {
    let Some(handle) = &state.metrics else { return String::new() };
    for s in kms_types::KeyState::ALL {
        let filter = kms_types::KeyFilter { states: Some(vec![*s]), ..Default::default() };
        if let Ok(listing) = state.kms.list_keys(&filter, kms_store::Window { offset: 0, limit: 0 }).await {
            metrics::gauge!("kmsd_keys", "state" => s.as_str()).set(listing.total as f64);
        }
    }
    for (version, usage) in state.kms.usage_since_start() {
        let id = version.to_string();
        metrics::counter!("kmsd_key_version_uses_total", "key_version_id" => id.clone(), "operation" => "encrypt")
            .absolute(usage.encrypts);
        metrics::counter!("kmsd_key_version_uses_total", "key_version_id" => id, "operation" => "decrypt")
            .absolute(usage.decrypts);
    }
    handle.render()
}
