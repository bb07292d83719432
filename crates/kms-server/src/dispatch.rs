//! Authenticated request → action → typed request → handler → rendered answer.
//!
//! The `match` over actions is generated from the action table, so an action without a
//! `Handle` implementation does not compile.

use std::str::FromStr as _;

use kms_wire::actions::Effect;
use kms_wire::model;
use kms_wire::params::Params;
use kms_wire::raw::{Format, RawRequest};
use kms_wire::render::{self, Rendered};
use kms_wire::{Action, ApiError, signature};

use crate::State;
use crate::audit::AuditRecord;
use crate::handlers::{Ctx, Handle};

/// The only API version this server speaks.
pub const API_VERSION: &str = "2016-01-20";

/// What serving one request came to: the answer, and what the audit trail and logs record.
pub struct Served {
    pub action: Option<Action>,
    /// The access key that signed the request, or the one it claimed when refused.
    pub access_key_id: Option<String>,
    /// Who that access key belongs to (verified requests only).
    pub principal: Option<String>,
    /// The resources it named or reached, as ARNs (see `audit::resources`).
    pub resources: Vec<String>,
    /// Whether an intent line was written before the action ran: then the trail holds the
    /// change whatever becomes of its outcome line.
    pub intent_recorded: bool,
    pub result: Result<Rendered, ApiError>,
}

/// Serves one decoded request.
pub async fn serve(raw: &RawRequest, state: &State, peer: std::net::IpAddr, request_id: &str) -> Served {
    let refused = |e: ApiError| Served {
        action: None,
        access_key_id: crate::audit::claimed_access_key(raw),
        principal: None,
        resources: Vec::new(),
        intent_recorded: false,
        result: Err(e),
    };
    let now = state.clock_now();
    let credentials = crate::credentials::RequestCredentials {
        keys: &state.access_keys,
        kms: &state.kms,
        now,
        acting_as: Default::default(),
    };
    let verified = match signature::verify(raw, &credentials, &state.nonces, now, state.kms.region().as_str()) {
        Ok(v) => v,
        Err(e) => return refused(e),
    };
    let signer = Some(verified.access_key_id().to_owned());
    // A temporary key is authorised as the stored key it was issued from.
    let acting_as = credentials.acting_as.take().unwrap_or_else(|| verified.access_key_id().to_owned());
    let (principal, policy) = state.access_keys.grant(&acting_as);
    let principal = Some(principal);
    let unserved = |action: Option<Action>, e: ApiError| Served {
        action,
        access_key_id: signer.clone(),
        principal: principal.clone(),
        resources: Vec::new(),
        intent_recorded: false,
        result: Err(e),
    };
    // Nodes sharing a store share replay protection: a request replayed to another node is
    // refused there too.
    if state.kms.store_is_shared() {
        let (nonce, forget_after) = verified.replay_key();
        let first = state
            .kms
            .record_nonce(verified.access_key_id(), nonce, now.unix_timestamp(), forget_after.unix_timestamp())
            .await;
        match first {
            Ok(true) => {}
            Ok(false) => return unserved(None, kms_wire::Code::SignatureNonceUsed.into()),
            Err(e) => return unserved(None, crate::error_map::to_api(e, request_id)),
        }
    }
    let action = match verified.action() {
        Some(a) if !a.is_empty() => Action::from_str(a),
        _ => Err(ApiError::missing_parameter("Action")),
    };
    let action = match action {
        Ok(a) => a,
        Err(e) => return unserved(None, e),
    };
    match verified.version() {
        None | Some("") => return unserved(Some(action), ApiError::missing_parameter("Version")),
        Some(v) if v != API_VERSION => return unserved(Some(action), kms_wire::Code::InvalidVersion.into()),
        Some(_) => {}
    }
    let params = match Params::from_pairs(raw.query.iter().chain(&raw.form)) {
        Ok(p) => p,
        Err(e) => return unserved(Some(action), e),
    };
    let named = crate::named::of(action, &params);
    let resources = crate::audit::resources(&named, &state.kms).await;
    let resource_policies = state.resource_policies.load(std::sync::atomic::Ordering::Relaxed);
    if policy.is_some() || resource_policies {
        // Unrestricted keys act as the account itself; named ones as their principal.
        let principal_arn = match (&policy, &principal) {
            (Some(_), Some(name)) => state.kms.principal_arn(name),
            _ => format!("acs:ram::{}:root", state.kms.account()),
        };
        let who = crate::authz::Who {
            identity: policy.as_deref(),
            principal_arn: &principal_arn,
            // A restricted key always consults resource policies, so a grant made through
            // another node holds at once; for unrestricted keys only a key policy's Deny can
            // matter, and the flag (refreshed every 500 ms) spares them the lookups.
            resource_policies: resource_policies || policy.is_some(),
            source_ip: peer,
            secure: state.secure,
        };
        if let Err(e) = crate::authz::authorize(action, &named, &state.kms, &who).await {
            let result = Err(e);
            return Served {
                action: Some(action),
                access_key_id: signer,
                principal,
                resources,
                intent_recorded: false,
                result,
            };
        }
    }
    // A policy set here is in force on this node at once (others notice within a second).
    let sets_policy = matches!(action, Action::SetKeyPolicy | Action::SetSecretPolicy)
        || (action == Action::CreateKey && params.get("Policy").is_some());
    if let Err(wait) = state.quotas.admit(verified.access_key_id(), action) {
        let result = Err(ApiError::throttled(wait));
        return Served {
            action: Some(action),
            access_key_id: signer,
            principal,
            resources,
            intent_recorded: false,
            result,
        };
    }
    // A change is on the trail before it runs; if it cannot be, it does not run.
    let intent_recorded = action.effect() == Effect::Writes;
    if intent_recorded {
        let intent = AuditRecord {
            time: AuditRecord::now(),
            request_id,
            phase: Some("Intent"),
            access_key_id: signer.as_deref(),
            principal: principal.as_deref(),
            source_ip: peer.to_string(),
            action: Some(action.as_str()),
            resources: &resources,
            code: None,
            http_status: None,
            latency_ms: 0.0,
        };
        if let Err(e) = state.audit.append(&intent).await {
            tracing::error!(request_id, error = %e, "audit trail not writable: change refused before it ran");
            let result = Err(crate::audit::unavailable());
            return Served {
                action: Some(action),
                access_key_id: signer,
                principal,
                resources,
                intent_recorded: false,
                result,
            };
        }
    }
    let ctx = Ctx { kms: &state.kms, request_id };
    let result = dispatch(action, params, &ctx, raw.format()).await;
    if sets_policy && result.is_ok() {
        state.resource_policies.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    Served { action: Some(action), access_key_id: signer, principal, resources, intent_recorded, result }
}

async fn run<R: Handle>(
    action: Action,
    mut params: Params,
    ctx: &Ctx<'_>,
    format: Format,
) -> Result<Rendered, ApiError> {
    let request = R::from_params(&mut params)?;
    let response = request.handle(ctx).await?;
    render::success(action.as_str(), ctx.request_id, format, &response)
}

macro_rules! dispatch_table {
    ($($name:ident: $family:ident, $effect:ident => $req:ident,)+) => {
        async fn dispatch(action: Action, params: Params, ctx: &Ctx<'_>, format: Format) -> Result<Rendered, ApiError> {
            match action {
                $(Action::$name => run::<model::$req>(action, params, ctx, format).await,)+
            }
        }
    };
}

kms_wire::for_each_action!(dispatch_table);
