//! Managed data keys (spec Appendix A.3): data keys the service keeps for callers, each a
//! named series of versions whose material (wrapped by the root key) callers fetch with
//! `GetManagedDataKey`. Its own role trait, like application access, so the engines keep these
//! statements in files of their own.

use async_trait::async_trait;

use crate::{Listing, StoreResult, Window};

/// One version of a managed data key. Versions never change once written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyVersionRecord {
    pub name: String,
    pub version_id: String,
    /// The data key, wrapped by the root key (bound to name and version).
    pub material: Vec<u8>,
    pub created_at: i64,
}

#[async_trait]
pub trait DataKeyStore: Send + Sync {
    /// Adds a version; [`crate::StoreError::Conflict`] when the name already has this version id.
    async fn insert_data_key_version(&self, version: &DataKeyVersionRecord) -> StoreResult<()>;
    async fn get_data_key_version(&self, name: &str, version_id: &str) -> StoreResult<Option<DataKeyVersionRecord>>;
    /// A data key's versions in the order they were added (the first is the oldest).
    async fn list_data_key_versions(&self, name: &str, window: Window) -> StoreResult<Listing<DataKeyVersionRecord>>;
}
