//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases, ListAliasesByKeyId (spec §7.3).

use kms_types::{AliasName, KeyRef};
use serde::Serialize;

pub use super::EmptyResponse as AliasChangedResponse;
use super::{FromParams, Page, PageEcho, key_ref};
use crate::error::ApiError;
use crate::params::Params;

/// A well-formed `AliasName` (spec §6.7); `reserved_ok` allows `alias/acs…` for lookups.
fn alias_name(p: &mut Params, reserved_ok: bool) -> Result<AliasName, ApiError> {
    let raw = p.required("AliasName")?;
    match AliasName::parse(&raw) {
        Ok(a) if reserved_ok || !a.is_reserved() => Ok(a),
        _ => Err(ApiError::invalid_parameter("AliasName")),
    }
}

#[derive(Debug, Clone)]
pub struct CreateAliasRequest {
    pub alias_name: AliasName,
    pub key: KeyRef,
}

impl FromParams for CreateAliasRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { alias_name: alias_name(p, false)?, key: key_ref(p, "KeyId")? })
    }
}

#[derive(Debug, Clone)]
pub struct UpdateAliasRequest {
    pub alias_name: AliasName,
    pub key: KeyRef,
}

impl FromParams for UpdateAliasRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { alias_name: alias_name(p, false)?, key: key_ref(p, "KeyId")? })
    }
}

#[derive(Debug, Clone)]
pub struct DeleteAliasRequest {
    pub alias_name: AliasName,
}

impl FromParams for DeleteAliasRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { alias_name: alias_name(p, true)? })
    }
}

#[derive(Debug, Clone)]
pub struct ListAliasesRequest {
    pub page: Page,
}

impl FromParams for ListAliasesRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { page: Page::from_params_from_zero(p, false)? })
    }
}

#[derive(Debug, Clone)]
pub struct ListAliasesByKeyIdRequest {
    pub key: KeyRef,
    pub page: Page,
}

impl FromParams for ListAliasesByKeyIdRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { key: key_ref(p, "KeyId")?, page: Page::from_params_from_zero(p, true)? })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesResponse {
    pub aliases: Aliases,
    #[serde(flatten)]
    pub page: PageEcho,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Aliases {
    pub alias: Vec<AliasEntry>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasEntry {
    pub alias_arn: String,
    pub alias_name: String,
    pub key_id: String,
}
