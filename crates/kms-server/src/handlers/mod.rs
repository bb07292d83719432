//! One `impl Handle` per action, one file per family (the same split as `kms_wire::model`).
//! A handler turns the typed request into a key-service call and the result into the
//! response type; it never sees HTTP or signatures.

mod access;
mod aliases;
mod asymmetric;
mod crypto;
mod data_keys;
mod import;
mod instances;
mod keys;
mod lifecycle;
mod mac;
mod policies;
mod secrets;
mod service;
mod tags;
mod versions;

use std::future::Future;

use kms_core::{CoreError, Kms};
use kms_wire::ApiError;
use kms_wire::model::FromParams;
use serde::Serialize;

/// What a handler may use.
pub struct Ctx<'a> {
    pub kms: &'a Kms,
    pub request_id: &'a str,
}

impl Ctx<'_> {
    /// Translates a key-service error (see `error_map`).
    pub fn fail(&self, e: CoreError) -> ApiError {
        crate::error_map::to_api(e, self.request_id)
    }
}

/// An action's behaviour.
pub trait Handle: FromParams {
    type Response: Serialize;
    fn handle(self, ctx: &Ctx<'_>) -> impl Future<Output = Result<Self::Response, ApiError>> + Send;
}

/// `DryRun=true` validates everything, changes nothing and answers with an error whose code
/// says whether the real call would have succeeded (spec §7.4). The crypto actions it applies
/// to change no state, so running them and dropping the result is exactly "validate".
fn dry_run_outcome<T>(dry_run: bool, result: T) -> Result<T, ApiError> {
    if dry_run { Err(kms_wire::Code::DryRunOperationError.into()) } else { Ok(result) }
}
