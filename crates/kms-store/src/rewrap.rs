//! A root-key rotation's view of the store: every record the root key wraps, read a batch at
//! a time in a stable order, each replaced only if nobody changed it meanwhile. Meta entries
//! (the check value, the instance CA, the rotation's own state) go through
//! [`RewrapStore::replace_meta`], a compare-and-set, for the same reason.

use async_trait::async_trait;
use kms_types::{KeyId, KeySpec, KeyVersionId, ProtectionLevel};

use crate::StoreResult;

/// The tables whose rows hold something the root key wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappedTable {
    KeyVersions,
    AccessKeys,
    DataKeyVersions,
}

impl WrappedTable {
    pub const ALL: [WrappedTable; 3] = [Self::KeyVersions, Self::AccessKeys, Self::DataKeyVersions];

    pub fn name(self) -> &'static str {
        match self {
            Self::KeyVersions => "key_versions",
            Self::AccessKeys => "access_keys",
            Self::DataKeyVersions => "data_key_versions",
        }
    }
}

/// One wrapped record with what its AAD is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WrappedRow {
    /// Key material (symmetric, HMAC) or a private key; `HSM` keys hold a token reference
    /// instead, which no root key wrapped.
    KeyVersion {
        key_id: KeyId,
        version_id: KeyVersionId,
        spec: KeySpec,
        protection_level: ProtectionLevel,
        material: Vec<u8>,
    },
    AccessKey {
        id: String,
        secret: Vec<u8>,
    },
    DataKeyVersion {
        seq: i64,
        name: String,
        version_id: String,
        material: Vec<u8>,
    },
}

impl WrappedRow {
    /// Where the next batch of its table starts (rows are read in this order).
    pub fn cursor(&self) -> String {
        match self {
            Self::KeyVersion { version_id, .. } => version_id.to_string(),
            Self::AccessKey { id, .. } => id.clone(),
            Self::DataKeyVersion { seq, .. } => format!("{seq:020}"),
        }
    }

    pub fn wrapped(&self) -> &[u8] {
        match self {
            Self::KeyVersion { material, .. } => material,
            Self::AccessKey { secret, .. } => secret,
            Self::DataKeyVersion { material, .. } => material,
        }
    }
}

#[async_trait]
pub trait RewrapStore: Send + Sync {
    /// Up to `limit` rows of `table` after `after` (a [`WrappedRow::cursor`]; `None`: from the
    /// start), in cursor order.
    async fn wrapped_rows(&self, table: WrappedTable, after: Option<&str>, limit: u32) -> StoreResult<Vec<WrappedRow>>;
    /// Stores `new` in place of the row's wrapped bytes if they still are `row.wrapped()`;
    /// whether it did.
    async fn replace_wrapped(&self, row: &WrappedRow, new: &[u8]) -> StoreResult<bool>;
    /// Sets meta `name` to `new` (`None`: removes it) if it is `old` (`None`: absent); whether
    /// it did.
    async fn replace_meta(&self, name: &str, old: Option<&str>, new: Option<&str>) -> StoreResult<bool>;
}
