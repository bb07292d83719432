//! Vocabulary shared by every layer of kmsd: typed identifiers, the key enums of the Alibaba
//! Cloud KMS API and the limits the API documents.
//!
//! Why a crate of its own: the wire layer (`kms-wire`) and the key service (`kms-core`) must
//! never depend on each other, yet both speak of key ids, aliases and key states. Nothing here
//! does I/O or cryptography.
#![forbid(unsafe_code)]

pub mod access;
mod context;
mod enums;
mod filter;
mod ids;
pub mod limits;
mod secrets;
pub mod tags;

pub use context::{EncryptionContext, InvalidContext};
pub use enums::{
    AsymmetricAlgorithm, ImportWrappingAlgorithm, KeySpec, KeyState, KeyUsage, MacAlgorithm, Origin, ProtectionLevel,
    SIGNING_DIGEST_BYTES, UnknownValue,
};
pub use filter::KeyFilter;
pub use ids::{AccountId, AliasName, BadKeyRef, InvalidId, KeyId, KeyRef, KeyVersionId, RegionId};
pub use secrets::{SecretName, SecretVersionId, VersionStage};
pub use tags::{ResourceType, Tag, TagError};
