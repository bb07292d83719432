//! The key service: everything a KMS decides, and nothing of how requests arrive.
//!
//! [`Kms`] is the only entry point for handlers. It resolves key references (id, alias,
//! ARN), applies the key-state × operation matrix ([`state`]), picks versions, and calls the
//! crypto provider and the store through their traits. It never sees HTTP, signatures or
//! wire error codes; it answers with [`CoreError`], which the server translates once.
#![forbid(unsafe_code)]

mod access;
mod access_keys;
mod aliases;
mod asymmetric;
pub mod clock;
mod crypto;
mod data_keys;
mod error;
mod gateway;
mod import;
mod instances;
mod jobs;
mod keys;
mod lifecycle;
mod mac;
mod policies;
mod root_keys;
mod secrets;
mod seed;
mod service;
pub mod state;
mod sts;
mod tags;
mod usage;
mod verify;
mod versions;

pub use access::{
    AccessPoint, AccessPolicy, CLIENT_KEY_ALGORITHM, ClientKey, NetworkRule, NewClientKey, SHARED_SCOPE, parse_api_time,
};
pub use access_keys::{AccessKeyGrant, AccessKeySummary, StoredAccessKey};
pub use asymmetric::Asymmetric;
pub use clock::{Clock, DevClock, SystemClock};
pub use crypto::{DataKey, Decrypted, Encrypted, ExportTo};
pub use data_keys::{DataKeyVersion, MANAGED_DATA_KEY_BYTES, ManagedDataKey};
pub use error::CoreError;
pub use gateway::{
    Application, Caller, DEFAULT_DATA_KEY_BYTES, DataKeyPair, GatewayKey, Grant, InstanceSealed, KeyFormat,
    MAX_RANDOM_BYTES,
};
pub use import::{IMPORT_TOKEN_SECS, ImportParameters};
pub use instances::{
    BindVpc, CONNECTED, GATEWAY_DOMAIN, GatewayCertificate, InstanceLimits, QuotaInfo, UNINITIALIZED, bind_vpcs,
    split_list,
};
pub use jobs::JobReport;
pub use keys::NewKey;
pub use mac::Mac;
pub use policies::POLICY_NAME;
pub use root_keys::{META_ROTATION, NewRootKey, Rewrapped, RootKeyStatus};
pub use secrets::{ListedSecret, MAX_SECRET_BYTES, NewSecret, PasswordRules, SecretFilter, SecretValue};
pub use seed::{Seed, SeedReport};
pub use service::{Kms, ROOT_CHECK_META, format_time};
pub use sts::{MAX_TEMPORARY_SECS, TemporaryCredentials, TemporaryKey, TokenError};
pub use tags::TagRow;
pub use verify::VerifyReport;
