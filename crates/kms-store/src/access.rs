//! Application access (docs/design/instances.md §4): the named network rules, permission
//! policies and application access points (AAPs) callers define, and the ClientKeys of the
//! AAPs. Its own role trait, so the engines keep these statements in their own files and the
//! rest of the store does not grow with them.
//!
//! Rules, policies and AAPs are one record shape — a kind, a name unique within the kind, and
//! the body the key service defines (JSON) — because the store never looks inside them: the
//! cloud checks no reference between them when they are made. The one link the store keeps
//! is the one that must hold: a ClientKey belongs to an AAP that exists, so inserting a
//! ClientKey and deleting its AAP exclude each other.

use async_trait::async_trait;

use crate::{Listing, StoreResult, Window};

/// Which kind of named application-access object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessKind {
    NetworkRule,
    Policy,
    AccessPoint,
}

impl AccessKind {
    pub const ALL: [AccessKind; 3] = [AccessKind::NetworkRule, AccessKind::Policy, AccessKind::AccessPoint];

    /// The stored name of the kind.
    pub const fn as_str(self) -> &'static str {
        match self {
            AccessKind::NetworkRule => "network_rule",
            AccessKind::Policy => "policy",
            AccessKind::AccessPoint => "aap",
        }
    }
}

/// A network rule, permission policy or AAP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessObjectRecord {
    pub kind: AccessKind,
    pub name: String,
    /// What the key service keeps about it (JSON it defines).
    pub body: String,
    pub created_at: i64,
    pub revision: i64,
}

/// A ClientKey: its certificate (public half) only — the private key and its password are
/// handed to the caller once and never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeyRecord {
    pub id: String,
    pub aap_name: String,
    pub key_algorithm: String,
    /// As the caller gave them (or as made), echoed verbatim.
    pub not_before: String,
    pub not_after: String,
    /// The X.509 certificate of the key pair, PEM.
    pub certificate_pem: String,
    pub created_at: i64,
}

#[async_trait]
pub trait AccessStore: Send + Sync {
    /// [`crate::StoreError::Conflict`] when the kind already has an object of that name.
    async fn insert_access_object(&self, object: &AccessObjectRecord) -> StoreResult<()>;
    async fn get_access_object(&self, kind: AccessKind, name: &str) -> StoreResult<Option<AccessObjectRecord>>;
    /// Compare-and-set on `revision`: returns the object as stored (revision + 1);
    /// [`crate::StoreError::Conflict`] when another change won, `NotFound` when it is gone.
    async fn update_access_object(&self, object: &AccessObjectRecord) -> StoreResult<AccessObjectRecord>;
    /// `NotFound` when there is none; for an AAP, [`crate::StoreError::InUse`] (nothing
    /// deleted) while it holds ClientKeys.
    async fn delete_access_object(&self, kind: AccessKind, name: &str) -> StoreResult<()>;
    /// Objects of a kind, oldest first (then by name).
    async fn list_access_objects(&self, kind: AccessKind, window: Window) -> StoreResult<Listing<AccessObjectRecord>>;

    /// `NotFound` (nothing written) when its AAP does not exist; `Conflict` when the id exists.
    async fn insert_client_key(&self, key: &ClientKeyRecord) -> StoreResult<()>;
    async fn get_client_key(&self, id: &str) -> StoreResult<Option<ClientKeyRecord>>;
    /// Every ClientKey, or those of one AAP, oldest first (then by id).
    async fn list_client_keys(&self, aap_name: Option<&str>) -> StoreResult<Vec<ClientKeyRecord>>;
    /// `NotFound` when there is none.
    async fn delete_client_key(&self, id: &str) -> StoreResult<()>;

    /// A number that changes whenever any network rule, policy, AAP or ClientKey does, through
    /// any node (kept by triggers in the same transaction): what lets a node keep applications
    /// in memory and still see every change on its next request.
    async fn access_generation(&self) -> StoreResult<i64>;
}
