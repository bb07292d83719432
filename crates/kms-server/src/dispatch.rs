//! Authenticated request → action → typed request → handler → rendered answer.
//!
//! The `match` over actions is generated from the action table, so an action without a
//! `Handle` implementation does not compile.

use std::str::FromStr as _;

use kms_wire::model;
use kms_wire::params::Params;
use kms_wire::raw::{Format, RawRequest};
use kms_wire::render::{self, Rendered};
use kms_wire::{Action, ApiError, signature};

use crate::State;
use crate::handlers::{Ctx, Handle};

/// The only API version this server speaks.
pub const API_VERSION: &str = "2016-01-20";

/// Serves one decoded request; returns the action name (for logs) and the answer.
pub async fn serve(raw: &RawRequest, state: &State, request_id: &str) -> (Option<Action>, Result<Rendered, ApiError>) {
    let now = state.clock_now();
    let verified = match signature::verify(raw, &state.access_keys, &state.nonces, now) {
        Ok(v) => v,
        Err(e) => return (None, Err(e)),
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
            Ok(false) => return (None, Err(kms_wire::Code::SignatureNonceUsed.into())),
            Err(e) => return (None, Err(crate::error_map::to_api(e, request_id))),
        }
    }
    let action = match verified.action() {
        Some(a) if !a.is_empty() => Action::from_str(a),
        _ => Err(ApiError::missing_parameter("Action")),
    };
    let action = match action {
        Ok(a) => a,
        Err(e) => return (None, Err(e)),
    };
    let result = match verified.version() {
        None | Some("") => Err(ApiError::missing_parameter("Version")),
        Some(v) if v != API_VERSION => Err(kms_wire::Code::InvalidVersion.into()),
        Some(_) => match Params::from_pairs(raw.query.iter().chain(&raw.form)) {
            Ok(params) => {
                let ctx = Ctx { kms: &state.kms, request_id };
                dispatch(action, params, &ctx, raw.format()).await
            }
            Err(e) => Err(e),
        },
    };
    (Some(action), result)
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
    ($($name:ident: $family:ident => $req:ident,)+) => {
        async fn dispatch(action: Action, params: Params, ctx: &Ctx<'_>, format: Format) -> Result<Rendered, ApiError> {
            match action {
                $(Action::$name => run::<model::$req>(action, params, ctx, format).await,)+
            }
        }
    };
}

kms_wire::for_each_action!(dispatch_table);
