//! `GET /metrics` in the Prometheus text format (rendered by metrics-exporter-prometheus):
//! requests by action and code, and per key version how many Encrypt-side and Decrypt-side
//! calls it served since the process started — so an operator sees when an old version stops
//! being used. Labels carry ids and codes only, never values.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::State;

/// Installs the process-wide recorder; `None` if one is already installed.
pub fn install() -> Option<PrometheusHandle> {
    let handle = PrometheusBuilder::new().install_recorder().ok()?;
    metrics::describe_counter!("kmsd_requests_total", "API requests answered, by action and result code.");
    metrics::describe_counter!(
        "kmsd_key_version_uses_total",
        "Cryptographic calls each key version served since kmsd started, by operation (encrypt or decrypt)."
    );
    Some(handle)
}

/// Counts one answered request.
pub fn request(action: &'static str, code: &'static str) {
    metrics::counter!("kmsd_requests_total", "action" => action, "code" => code).increment(1);
}

/// The text exposition, with the usage counters brought up to date first.
pub fn render(state: &State) -> String {
    let Some(handle) = &state.metrics else { return String::new() };
    for (version, usage) in state.kms.usage_since_start() {
        let id = version.to_string();
        metrics::counter!("kmsd_key_version_uses_total", "key_version_id" => id.clone(), "operation" => "encrypt")
            .absolute(usage.encrypts);
        metrics::counter!("kmsd_key_version_uses_total", "key_version_id" => id, "operation" => "decrypt")
            .absolute(usage.decrypts);
    }
    handle.render()
}
