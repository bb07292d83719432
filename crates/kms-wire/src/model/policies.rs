//! Key and secret policies: GetKeyPolicy, SetKeyPolicy, GetSecretPolicy, SetSecretPolicy
//! (spec §7.9). `PolicyName` is only ever `default`; a policy is at most 32,768 bytes.

use kms_types::KeyRef;
use serde::Serialize;

use super::secrets::{SecretRef, secret_ref};
use super::{EmptyResponse, FromParams, key_ref};
use crate::error::ApiError;
use crate::params::Params;

/// The largest policy document (spec §7.9).
pub const MAX_POLICY_BYTES: usize = 32_768;

fn policy_name(p: &mut Params) -> Result<(), ApiError> {
    match p.optional("PolicyName").as_deref() {
        None | Some("default") => Ok(()),
        Some(_) => Err(ApiError::invalid_parameter("PolicyName")),
    }
}

fn policy(p: &mut Params) -> Result<String, ApiError> {
    let text = p.required("Policy")?;
    if text.len() > MAX_POLICY_BYTES {
        return Err(ApiError::invalid_parameter("Policy"));
    }
    Ok(text)
}

#[derive(Debug)]
pub struct GetKeyPolicyRequest {
    pub key: KeyRef,
}

impl FromParams for GetKeyPolicyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let key = key_ref(p, "KeyId")?;
        policy_name(p)?;
        Ok(Self { key })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPolicyResponse {
    pub policy: String,
}

pub type GetKeyPolicyResponse = GetPolicyResponse;

#[derive(Debug)]
pub struct SetKeyPolicyRequest {
    pub key: KeyRef,
    pub policy: String,
}

impl FromParams for SetKeyPolicyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let key = key_ref(p, "KeyId")?;
        policy_name(p)?;
        Ok(Self { key, policy: policy(p)? })
    }
}

pub type SetKeyPolicyResponse = EmptyResponse;

#[derive(Debug)]
pub struct GetSecretPolicyRequest {
    pub secret: SecretRef,
}

impl FromParams for GetSecretPolicyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let secret = secret_ref(p)?;
        policy_name(p)?;
        Ok(Self { secret })
    }
}

pub type GetSecretPolicyResponse = GetPolicyResponse;

#[derive(Debug)]
pub struct SetSecretPolicyRequest {
    pub secret: SecretRef,
    pub policy: String,
}

impl FromParams for SetSecretPolicyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let secret = secret_ref(p)?;
        policy_name(p)?;
        Ok(Self { secret, policy: policy(p)? })
    }
}

pub type SetSecretPolicyResponse = EmptyResponse;
