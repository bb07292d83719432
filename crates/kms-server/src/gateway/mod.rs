//! The KMS instance gateway (`--instance-listen`, docs/design/gateway.md): the listener the
//! instance SDKs talk to, HTTPS with a certificate from the instance CA ([`tls`]), speaking the
//! instance API — protobuf in and out, ClientKey signatures, access-point policies.
//!
//! A request passes named stages: [`authenticate`] (the form checks, the ClientKey and its
//! application, the signature), then the operation ([`operations`]), then the audit line.
//! Every refusal, at any stage, is a protobuf `Error` with its HTTP status: the SDKs decode
//! nothing else.

mod operations;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use kms_core::{Application, Caller};
use kms_wire::instance::{self, Operation, signature};
use kms_wire::render::Rendered;
use kms_wire::{ApiError, Code};

use crate::State;
use crate::audit::AuditRecord;
use crate::http::{Request, Responder};

/// The gateway's responder: the shared state, seen through the instance API.
pub struct Gateway {
    pub(crate) state: Arc<State>,
}

impl Responder for Gateway {
    async fn respond(&self, req: Request, peer: SocketAddr, request_id: &str) -> Rendered {
        // The instance API names its operation in `x-kms-apiname`; anything else is the classic
        // API (the Tea SDKs pointed at the instance), served from the same keys (§11).
        let instance_api = req
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-kms-apiname") || k.eq_ignore_ascii_case("x-kms-apiversion"));
        if instance_api {
            serve(&self.state, req, peer, request_id).await
        } else {
            crate::routes::handle(req, &self.state, peer, request_id, crate::dispatch::Surface::InstanceGateway).await
        }
    }
}

/// Who signed, once the signature holds.
struct Authenticated {
    operation: Operation,
    app: std::sync::Arc<Application>,
    migration_version: Option<String>,
}

/// What the audit line says of a request that did not authenticate.
struct Claimed {
    operation: Option<Operation>,
    client_key_id: Option<String>,
}

async fn authenticate(state: &State, req: &Request, request_id: &str) -> Result<Authenticated, (Claimed, ApiError)> {
    let mut claimed = Claimed { operation: None, client_key_id: None };
    if req.method != "POST" {
        return Err((claimed, Code::UnsupportedHttpMethod.into()));
    }
    let checked = match signature::check(&req.headers, &req.body, state.clock_now()) {
        Ok(c) => c,
        Err(e) => return Err((claimed, e)),
    };
    claimed.operation = Some(checked.operation);
    claimed.client_key_id = Some(checked.client_key_id.clone());
    let app = match state.kms.application(&checked.client_key_id).await {
        Ok(app) => app,
        Err(e) => return Err((claimed, crate::error_map::to_api(e, request_id))),
    };
    if !signature::verify(&app.certificate_pem, &checked.string_to_sign, &checked.signature) {
        return Err((claimed, Code::SignatureNotMatch.into()));
    }
    Ok(Authenticated { operation: checked.operation, app, migration_version: checked.migration_version })
}

/// The ClientKey's budget (`--quota-crypto-qps`, `--quota-asymmetric-qps`, as for access
/// keys): `Rejected.Throttling`, which the SDKs retry, when it is spent.
fn throttled(state: &State, auth: &Authenticated) -> Option<std::time::Duration> {
    use crate::quota::Class;
    let class = match auth.operation {
        Operation::Sign | Operation::Verify | Operation::GetPublicKey => Some(Class::Asymmetric),
        Operation::GetSecretValue | Operation::GenerateRandom => None,
        _ => Some(Class::Symmetric),
    };
    state.quotas.admit_class(&auth.app.client_key_id, class).err()
}

fn protobuf(status: u16, body: Vec<u8>) -> Rendered {
    let mut r = Rendered::plain(instance::CONTENT_TYPE, body);
    r.status = status;
    r
}

async fn serve(state: &State, req: Request, peer: SocketAddr, request_id: &str) -> Rendered {
    let started = Instant::now();
    let (operation, client_key_id, principal, resources, result) = match authenticate(state, &req, request_id).await {
        Err((claimed, e)) => (claimed.operation, claimed.client_key_id, None, Vec::new(), Err(e)),
        Ok(auth) => {
            let ctx = operations::Context {
                kms: &state.kms,
                caller: Caller { app: &auth.app, peer: peer.ip() },
                request_id,
                migration_version: auth.migration_version.as_deref(),
            };
            let result = match throttled(state, &auth) {
                Some(wait) => Err(ApiError::throttled(wait)),
                None => operations::run(auth.operation, &req.body, &ctx).await,
            };
            let resources: Vec<String> = match &result {
                Ok(o) => o
                    .key
                    .iter()
                    .map(|k| state.kms.key_arn(k))
                    .chain(o.secret.iter().map(|s| state.kms.secret_arn(s)))
                    .collect(),
                Err(_) => Vec::new(),
            };
            let principal = Some(auth.app.access_point.clone());
            (Some(auth.operation), Some(auth.app.client_key_id.clone()), principal, resources, result)
        }
    };
    let (code, mut rendered) = match result {
        Ok(outcome) => {
            let mut r = protobuf(200, outcome.body);
            r.headers.push(("x-kms-requestid", request_id.to_owned()));
            if let Some(v) = outcome.version {
                r.headers.push(("x-kms-migrationkeyversionid", v.to_string()));
            }
            ("OK", r)
        }
        Err(e) => (e.code.as_str(), error(&e, request_id)),
    };
    let record = AuditRecord {
        time: AuditRecord::now(),
        request_id,
        phase: None,
        access_key_id: client_key_id.as_deref(),
        principal: principal.as_deref(),
        source_ip: peer.ip(),
        action: operation.map(Operation::as_str),
        resources: &resources,
        code: Some(code),
        http_status: Some(rendered.status),
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
    };
    // Audit or fail, as on the classic API (no instance operation changes stored state).
    let code = match state.audit.append(&record).await {
        Ok(()) => code,
        Err(e) => {
            tracing::error!(request_id, error = %e, "audit trail not writable: request refused");
            let e = crate::audit::unavailable();
            rendered = error(&e, request_id);
            e.code.as_str()
        }
    };
    tracing::info!(
        request_id,
        %peer,
        operation = operation.map(Operation::as_str).unwrap_or("-"),
        status = rendered.status,
        code,
        latency_us = started.elapsed().as_micros() as u64,
        "instance request"
    );
    rendered
}

fn error(e: &ApiError, request_id: &str) -> Rendered {
    let mut r = protobuf(e.code.http_status(), instance::error_body(e, request_id));
    r.headers.push(("x-kms-requestid", request_id.to_owned()));
    r
}
