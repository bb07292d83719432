//! Request and response types of every action, one file per family (the same split as the
//! server's `handlers/`). Requests parse themselves from [`Params`] into typed values; every
//! bad value becomes its exact wire error here, before any key is touched. Responses serialise
//! with the exact PascalCase names of spec §7; absent optional fields are omitted, never null.

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

pub use access::*;
pub use aliases::*;
pub(crate) use asymmetric::encryption_algorithm;
pub use asymmetric::*;
pub use crypto::*;
pub use data_keys::*;
pub use import::*;
pub use instances::*;
pub use keys::*;
pub use lifecycle::*;
pub use mac::*;
pub use policies::*;
pub use secrets::*;
pub use service::*;
pub use tags::*;
pub use versions::*;

use kms_types::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use kms_types::{BadKeyRef, EncryptionContext, KeyRef};
use serde::Serialize;

use crate::error::{ApiError, Code};
use crate::params::Params;

/// Parses an action's request from its parameters.
pub trait FromParams: Sized {
    fn from_params(p: &mut Params) -> Result<Self, ApiError>;
}

/// A `KeyId`-like parameter: id, alias or ARN. A value of no valid shape names nothing, so it
/// earns the not-found code of the shape it tried (as the cloud answers an unknown id).
pub(crate) fn key_ref(p: &mut Params, name: &str) -> Result<KeyRef, ApiError> {
    let raw = p.required(name)?;
    KeyRef::parse(&raw).map_err(|e| match e {
        BadKeyRef::Key => Code::KeyNotFound.into(),
        BadKeyRef::Alias => Code::AliasNotFound.into(),
    })
}

/// `EncryptionContext` as a JSON string, or flattened as `EncryptionContext.k=v` by npm
/// `@alicloud/kms20160120`; both at once is ambiguous and refused.
pub(crate) fn encryption_context(p: &mut Params, name: &str) -> Result<EncryptionContext, ApiError> {
    let flat = p.take_prefixed(name);
    let json = p.optional(name);
    let ctx = match (json, flat.is_empty()) {
        (Some(_), false) => return Err(ApiError::invalid_parameter(name)),
        (Some(j), true) => EncryptionContext::from_json(&j),
        (None, false) => EncryptionContext::from_pairs(flat),
        (None, true) => Ok(EncryptionContext::default()),
    };
    ctx.map_err(|_| ApiError::invalid_parameter(name))
}

/// A list parameter sent as a JSON array of strings or as comma-separated text (the instance
/// actions' list parameters, docs/design/instances.md §1.2); items trimmed.
pub(crate) fn json_or_commas(name: &str, raw: &str) -> Result<Vec<String>, ApiError> {
    if raw.trim_start().starts_with('[') {
        serde_json::from_str(raw).map_err(|_| ApiError::invalid_parameter(name))
    } else {
        Ok(raw.split(',').map(|s| s.trim().to_owned()).collect())
    }
}

/// `DryRun`: true asks for validation only (spec §7.4).
pub(crate) fn dry_run(p: &mut Params) -> Result<bool, ApiError> {
    Ok(p.optional_bool("DryRun")?.unwrap_or(false))
}

/// Why kmsd refuses attestation (`Recipient`, `GetChallenge`): the words callers see.
pub const NO_ATTESTATION: &str = "kmsd does not emulate a trusted execution environment, so it cannot \
     attest one: Recipient and GetChallenge are refused.";

/// `Recipient` asks for a TEE-bound answer that kmsd does not produce; refusing it beats
/// silently answering in the clear.
pub(crate) fn refuse_recipient(p: &mut Params) -> Result<(), ApiError> {
    match p.optional("Recipient") {
        Some(_) => Err(ApiError::with_message(
            Code::InvalidParameter,
            format!("The specified parameter \"Recipient\" is not valid. {NO_ATTESTATION}"),
        )),
        None => Ok(()),
    }
}

/// `PageNumber` (≥ 1, default 1) and `PageSize` (1–100, default 10), spec §6.12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}

impl Page {
    pub(crate) fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Self::with_sizes(p, 1..=MAX_PAGE_SIZE)
    }

    fn with_sizes(p: &mut Params, sizes: std::ops::RangeInclusive<u32>) -> Result<Self, ApiError> {
        Self::with_default(p, sizes, DEFAULT_PAGE_SIZE)
    }

    /// The KMS 3.0 lists' paging (ListKmsInstances …): `PageSize` 1–100, default 20.
    pub(crate) fn from_params_default_20(p: &mut Params) -> Result<Self, ApiError> {
        Self::with_default(p, 1..=MAX_PAGE_SIZE, 20)
    }

    fn with_default(p: &mut Params, sizes: std::ops::RangeInclusive<u32>, default: u32) -> Result<Self, ApiError> {
        let number = p.optional_u32_in("PageNumber", 1..=u32::MAX)?.unwrap_or(1);
        let size = p.optional_u32_in("PageSize", sizes)?.unwrap_or(default);
        Ok(Self { number, size: size.min(MAX_PAGE_SIZE) })
    }

    /// The alias and version lists' paging (spec §7: `PageSize` 0–100; ListKeyVersions and
    /// ListAliasesByKeyId document "101", `up_to_101`): 0 asks for an empty page (the total
    /// still counts); 101 is taken and served as 100 (§12).
    pub(crate) fn from_params_from_zero(p: &mut Params, up_to_101: bool) -> Result<Self, ApiError> {
        Self::with_sizes(p, 0..=if up_to_101 { MAX_PAGE_SIZE + 1 } else { MAX_PAGE_SIZE })
    }

    /// Rows to skip before this page.
    pub fn offset(self) -> u64 {
        u64::from(self.number - 1) * u64::from(self.size)
    }
}

/// Empty success body (RequestId only) of actions that answer nothing else.
#[derive(Debug, Clone, Serialize)]
pub struct EmptyResponse {}

/// The paging echo every list response carries.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PageEcho {
    pub page_number: u32,
    pub page_size: u32,
    pub total_count: u64,
}

impl PageEcho {
    pub fn new(page: Page, total_count: u64) -> Self {
        Self { page_number: page.number, page_size: page.size, total_count }
    }
}
