//! The KMS's answer to a framed HTTP request: the health and metrics endpoints, the dev
//! clock, and the API itself (decode the request, then `dispatch`).

use std::net::SocketAddr;
use std::time::Instant;

use kms_wire::raw::{Format, RawRequest};
use kms_wire::render::{self, Rendered};
use kms_wire::{ApiError, Code};

use crate::State;
use crate::audit::AuditRecord;
use crate::dispatch::Surface;
use crate::http::{Request, Responder};

impl Responder for State {
    async fn respond(&self, req: Request, peer: SocketAddr, request_id: &str) -> Rendered {
        handle(req, self, peer, request_id, Surface::Classic).await
    }
}

/// Serves a classic-API request that arrived on `surface`.
pub(crate) async fn handle(
    head: Request,
    state: &State,
    peer: SocketAddr,
    request_id: &str,
    surface: Surface,
) -> Rendered {
    let started = Instant::now();
    let mut head = head;
    let target = std::mem::take(&mut head.target);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target.as_str(), None),
    };
    // Liveness: the process serves. Says nothing about the store (see /readyz).
    if path == "/healthz" {
        return Rendered::plain("text/plain;charset=utf-8", b"ok\n".to_vec());
    }
    if path == "/readyz" {
        return readiness(state, request_id).await;
    }
    if path == "/metrics" && head.method == "GET" && crate::metrics::on_api(state) {
        return crate::metrics::render(state).await;
    }
    // The console's files, on the API listener only (off with --console=false).
    if state.console
        && surface == Surface::Classic
        && let Some(files) = crate::console::serve(&head.method, path)
    {
        return files;
    }
    if path == DEV_CLOCK_PATH && state.dev_clock.is_some() {
        return advance_dev_clock(&head.method, query, state, request_id).await;
    }
    let host_id = head
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
        .filter(|h| h.len() <= 255)
        .unwrap_or("kmsd")
        .to_owned();
    let (served, format) = decode_and_serve(head, path, query, state, peer, request_id, surface).await;
    let action = served.action;
    let (code, mut rendered) = match served.result {
        Ok(r) => ("OK", r),
        Err(e) => (e.code.as_str(), render::error(&e, request_id, &host_id, format)),
    };
    let record = AuditRecord {
        time: AuditRecord::now(),
        request_id,
        phase: None,
        access_key_id: served.access_key_id.as_deref(),
        principal: served.principal.as_deref(),
        source_ip: peer.ip(),
        action: action.map(|a| a.as_str()),
        resources: &served.resources,
        code: Some(code),
        http_status: Some(rendered.status),
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
    };
    // Audit or fail: a read whose line is not written is not answered as it would have been.
    // A change already has its intent line and has happened: its true answer stands.
    let code = match state.audit.append(&record).await {
        Ok(()) => code,
        Err(e) if served.intent_recorded => {
            tracing::error!(request_id, error = %e, "audit trail not writable: outcome line of a recorded change lost");
            code
        }
        Err(e) => {
            tracing::error!(request_id, error = %e, "audit trail not writable: request refused");
            let e = crate::audit::unavailable();
            rendered = render::error(&e, request_id, &host_id, format);
            e.code.as_str()
        }
    };
    let latency = started.elapsed();
    crate::metrics::request(action, code, latency.as_secs_f64());
    log_request(request_id, peer, action, rendered.status, code, latency);
    rendered
}

/// Answers slower than this are logged as slow (`warn`).
const SLOW_REQUEST: std::time::Duration = std::time::Duration::from_millis(500);

/// The request log: refusals and errors at `info`, slow answers at `warn`, and the rest — the
/// bulk under load — at `debug`, so a busy node's default log costs no write per request
/// (the audit trail records every request regardless).
fn log_request(
    request_id: &str,
    peer: SocketAddr,
    action: Option<kms_wire::Action>,
    status: u16,
    code: &str,
    latency: std::time::Duration,
) {
    let action = action.map(|a| a.as_str()).unwrap_or("-");
    let latency_us = latency.as_micros() as u64;
    if latency >= SLOW_REQUEST {
        tracing::warn!(request_id, %peer, action, status, code, latency_us, "slow request");
    } else if code != "OK" {
        tracing::info!(request_id, %peer, action, status, code, latency_us, "request");
    } else {
        tracing::debug!(request_id, %peer, action, status, code, latency_us, "request");
    }
}

/// Readiness: 200 when the store answers its cheapest query within `--store-timeout`, else
/// 503, so a load balancer sends requests to nodes that can serve them.
async fn readiness(state: &State, request_id: &str) -> Rendered {
    let failed = match tokio::time::timeout(state.store_timeout, state.kms.ping_store()).await {
        Ok(Ok(())) => return Rendered::plain("text/plain;charset=utf-8", b"ready\n".to_vec()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {:?}", state.store_timeout),
    };
    tracing::warn!(request_id, error = %failed, "not ready: the store does not answer");
    let mut rendered = Rendered::plain("text/plain;charset=utf-8", b"not ready: the store does not answer\n".to_vec());
    rendered.status = 503;
    rendered
}

/// The `--dev-clock` endpoint.
const DEV_CLOCK_PATH: &str = "/-/clock/advance";

/// Moves the service clock forward by `seconds`, runs the jobs that became due, and answers
/// the new time and what the jobs did.
async fn advance_dev_clock(method: &str, query: Option<&str>, state: &State, request_id: &str) -> Rendered {
    let fail = |e: ApiError| render::error(&e, request_id, "kmsd", Format::Json);
    if method != "POST" {
        return fail(Code::UnsupportedHttpMethod.into());
    }
    let seconds = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "seconds")
        .and_then(|(_, v)| v.parse::<i64>().ok())
        .filter(|s| *s >= 0);
    let (Some(seconds), Some(clock)) = (seconds, &state.dev_clock) else {
        return fail(ApiError::invalid_parameter("seconds"));
    };
    let _turn = state.jobs.lock().await;
    clock.advance(seconds);
    let Some(report) = crate::run_jobs_once(state).await else {
        return fail(ApiError::internal());
    };
    let now = kms_core::Clock::now(clock.as_ref()).unix_timestamp();
    let body = serde_json::json!({
        "RequestId": request_id,
        "Now": kms_core::format_time(now),
        "Destroyed": report.destroyed,
        "Rotated": report.rotated,
    });
    Rendered::plain(render::JSON_CONTENT_TYPE, body.to_string().into_bytes())
}

async fn decode_and_serve(
    head: Request,
    path: &str,
    query: Option<&str>,
    state: &State,
    peer: SocketAddr,
    request_id: &str,
    surface: Surface,
) -> (crate::dispatch::Served, Format) {
    let refused = |e: ApiError| crate::dispatch::Served {
        action: None,
        access_key_id: None,
        principal: None,
        resources: Vec::new(),
        intent_recorded: false,
        result: Err(e),
    };
    let headers = head.headers.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
    let raw = match RawRequest::from_parts(&head.method, query, headers, head.body) {
        Ok(r) => r,
        Err(e) => return (refused(e), Format::Json),
    };
    let format = raw.format();
    if path != "/" {
        let mut served = refused(Code::InvalidActionNotFound.into());
        served.access_key_id = crate::audit::claimed_access_key(&raw);
        return (served, format);
    }
    (crate::dispatch::serve(raw, state, peer.ip(), request_id, surface).await, format)
}
