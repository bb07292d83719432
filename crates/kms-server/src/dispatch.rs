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

impl Served {
    /// A request refused before its signature verified: only the access key it claims.
    fn unverified(raw: &RawRequest, e: ApiError) -> Self {
        Self {
            action: None,
            access_key_id: crate::audit::claimed_access_key(raw),
            principal: None,
            resources: Vec::new(),
            intent_recorded: false,
            result: Err(e),
        }
    }

    fn failed(mut self, e: ApiError) -> Self {
        self.result = Err(e);
        self
    }
}

/// Where a request arrived: the classic endpoint, or an instance gateway, which takes the
/// classic API's cryptographic actions and GetSecretValue on the keys and secrets of KMS
/// instances only (docs/design/gateway.md §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Classic,
    InstanceGateway,
}

/// The classic actions an instance gateway serves (all but ReEncrypt of the data plane).
const GATEWAY_ACTIONS: &[Action] = &[
    Action::Encrypt,
    Action::Decrypt,
    Action::GenerateDataKey,
    Action::GenerateDataKeyWithoutPlaintext,
    Action::ExportDataKey,
    Action::GenerateAndExportDataKey,
    Action::AsymmetricEncrypt,
    Action::AsymmetricDecrypt,
    Action::AsymmetricSign,
    Action::AsymmetricVerify,
    Action::GetPublicKey,
    Action::GetSecretValue,
];

/// On an instance gateway: only the gateway's actions, and only on instance keys and secrets
/// (a default key or secret does not exist there).
async fn admit_on_surface(
    surface: Surface,
    action: Action,
    named: &[crate::named::Named],
    state: &State,
    request_id: &str,
) -> Result<(), ApiError> {
    use crate::named::Named;
    if surface == Surface::Classic {
        return Ok(());
    }
    if !GATEWAY_ACTIONS.contains(&action) {
        return Err(ApiError::with_message(
            kms_wire::Code::UnsupportedOperation,
            "This action is not supported. An instance gateway serves the cryptographic actions and GetSecretValue only.",
        ));
    }
    let fail = |e| crate::error_map::to_api(e, request_id);
    for n in named {
        let instance = match n {
            Named::Key(r) => state.kms.instance_of_key(r).await.map_err(fail)?,
            Named::Version(v) => match state.kms.key_of_version(v).await.map_err(fail)? {
                Some(id) => {
                    state.kms.instance_of_key(&kms_types::KeyRef::Id { id, scope: None }).await.map_err(fail)?
                }
                None => None,
            },
            Named::Secret(name) => {
                let found = state.kms.instance_of_secret(name).await.map_err(fail)?;
                if found.is_none() {
                    return Err(kms_wire::Code::ResourceNotFound.into());
                }
                found
            }
            _ => continue,
        };
        if instance.is_none() {
            return Err(kms_wire::Code::KeyNotFound.into());
        }
    }
    Ok(())
}

/// The verified sender of a request.
struct Caller {
    verified: signature::Verified,
    /// The principal its access key (or, for a temporary key, the key it was issued from)
    /// belongs to, and that key's identity policy (`None`: unrestricted).
    principal: String,
    policy: Option<std::sync::Arc<kms_policy::Policy>>,
}

/// Serves one decoded request, stage by stage: authenticate (signature, replay), read the
/// action and its parameters, name the resources, authorise, admit on the surface it came to
/// (an instance gateway takes instance keys only), admit under the quota, put a change's
/// intent on the audit trail, run the handler.
pub async fn serve(
    mut raw: RawRequest,
    state: &State,
    peer: std::net::IpAddr,
    request_id: &str,
    surface: Surface,
) -> Served {
    let caller = match authenticate(&raw, state, request_id).await {
        Ok(c) => c,
        Err(e) => return Served::unverified(&raw, e),
    };
    let mut served = Served {
        action: None,
        access_key_id: Some(caller.verified.access_key_id().to_owned()),
        principal: Some(caller.principal.clone()),
        resources: Vec::new(),
        intent_recorded: false,
        result: Err(ApiError::internal()),
    };
    let action = match action_of(&caller.verified) {
        Ok(a) => a,
        Err(e) => return served.failed(e),
    };
    served.action = Some(action);
    if let Err(e) = check_version(&caller.verified) {
        return served.failed(e);
    }
    let format = raw.format();
    // Verified: the pairs move on to the handler as its parameters.
    let pairs = std::mem::take(&mut raw.query).into_iter().chain(std::mem::take(&mut raw.form));
    let params = match Params::from_owned(pairs) {
        Ok(p) => p,
        Err(e) => return served.failed(e),
    };
    let named = crate::named::of(action, &params);
    served.resources = crate::audit::resources(&named, &state.kms).await;
    if let Err(e) = authorize(state, &caller, action, &named, peer).await {
        return served.failed(e);
    }
    if let Err(e) = admit_on_surface(surface, action, &named, state, request_id).await {
        return served.failed(e);
    }
    if let Err(wait) = state.quotas.admit(caller.verified.access_key_id(), action) {
        return served.failed(ApiError::throttled(wait));
    }
    if action.effect() == Effect::Writes {
        if let Err(e) = record_intent(state, &served, action, peer, request_id).await {
            return served.failed(e);
        }
        served.intent_recorded = true;
    }
    // A policy set here is in force on this node at once (others notice within a second).
    let sets_policy = matches!(action, Action::SetKeyPolicy | Action::SetSecretPolicy)
        || (action == Action::CreateKey && params.get("Policy").is_some());
    let ctx = Ctx { kms: &state.kms, request_id };
    served.result = dispatch(action, params, &ctx, format).await;
    if sets_policy && served.result.is_ok() {
        state.resource_policies.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    served
}

/// The signature, the clock and the replay guard — this node's, and on a shared store every
/// node's, so a request replayed to another node is refused there too.
async fn authenticate(raw: &RawRequest, state: &State, request_id: &str) -> Result<Caller, ApiError> {
    let now = state.clock_now();
    let credentials = crate::credentials::RequestCredentials { keys: &state.access_keys, kms: &state.kms, now };
    let verified = signature::verify(raw, &credentials, &state.nonces, now, state.kms.region().as_str())?;
    // The nonce is in the journal before anything runs (batched with concurrent requests).
    let (nonce, forget_after) = verified.replay_key();
    state.nonces.journaled(verified.access_key_id(), nonce).await?;
    if state.kms.store_is_shared() {
        let first = state
            .kms
            .record_nonce(verified.access_key_id(), nonce, now.unix_timestamp(), forget_after.unix_timestamp())
            .await;
        match first {
            Ok(true) => {}
            Ok(false) => return Err(kms_wire::Code::SignatureNonceUsed.into()),
            Err(e) => return Err(crate::error_map::to_api(e, request_id)),
        }
    }
    // A temporary key is authorised as the stored key it was issued from.
    let (principal, policy) = state.access_keys.grant(verified.acting_as());
    Ok(Caller { verified, principal, policy })
}

fn action_of(verified: &signature::Verified) -> Result<Action, ApiError> {
    match verified.action() {
        Some(a) if !a.is_empty() => Action::from_str(a),
        _ => Err(ApiError::missing_parameter("Action")),
    }
}

fn check_version(verified: &signature::Verified) -> Result<(), ApiError> {
    match verified.version() {
        None | Some("") => Err(ApiError::missing_parameter("Version")),
        Some(v) if v != API_VERSION => Err(kms_wire::Code::InvalidVersion.into()),
        Some(_) => Ok(()),
    }
}

/// Identity and resource policies, when any could apply.
async fn authorize(
    state: &State,
    caller: &Caller,
    action: Action,
    named: &[crate::named::Named],
    peer: std::net::IpAddr,
) -> Result<(), ApiError> {
    let resource_policies = state.resource_policies.load(std::sync::atomic::Ordering::Relaxed);
    if caller.policy.is_none() && !resource_policies {
        return Ok(());
    }
    // Unrestricted keys act as the account itself; named ones as their principal.
    let principal_arn = match &caller.policy {
        Some(_) => state.kms.principal_arn(&caller.principal),
        None => format!("acs:ram::{}:root", state.kms.account()),
    };
    let who = crate::authz::Who {
        identity: caller.policy.as_deref(),
        principal_arn: &principal_arn,
        // A restricted key always consults resource policies, so a grant made through
        // another node holds at once; for unrestricted keys only a key policy's Deny can
        // matter, and the flag (refreshed every 500 ms) spares them the lookups.
        resource_policies: resource_policies || caller.policy.is_some(),
        source_ip: peer,
        secure: state.secure,
    };
    crate::authz::authorize(action, named, &state.kms, &who).await
}

/// A change is on the audit trail before it runs; if it cannot be, it does not run.
async fn record_intent(
    state: &State,
    served: &Served,
    action: Action,
    peer: std::net::IpAddr,
    request_id: &str,
) -> Result<(), ApiError> {
    let intent = AuditRecord {
        time: AuditRecord::now(),
        request_id,
        phase: Some("Intent"),
        access_key_id: served.access_key_id.as_deref(),
        principal: served.principal.as_deref(),
        source_ip: peer,
        action: Some(action.as_str()),
        resources: &served.resources,
        code: None,
        http_status: None,
        latency_ms: 0.0,
    };
    state.audit.append(&intent).await.map_err(|e| {
        tracing::error!(request_id, error = %e, "audit trail not writable: change refused before it ran");
        crate::audit::unavailable()
    })
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
