//! Plain records, one per table. Times are Unix seconds (UTC).

use std::fmt;

use kms_types::{
    AliasName, KeyId, KeySpec, KeyState, KeyUsage, KeyVersionId, Origin, ProtectionLevel, SecretName, SecretVersionId,
    VersionStage,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: KeyId,
    pub spec: KeySpec,
    pub usage: KeyUsage,
    pub origin: Origin,
    pub protection_level: ProtectionLevel,
    pub state: KeyState,
    pub description: String,
    pub creator: String,
    pub created_at: i64,
    pub primary_version: KeyVersionId,
    pub deletion_protection: bool,
    pub deletion_protection_description: String,
    /// Set while the key is `PendingDeletion`.
    pub delete_at: Option<i64>,
    /// Automatic rotation interval in seconds; `None` when rotation is off.
    pub rotation_interval: Option<i64>,
    /// When the primary version last changed (creation counts).
    pub last_rotation_at: i64,
    /// When the scheduler next rotates; set exactly when rotation is on.
    pub next_rotation_at: Option<i64>,
    /// `EXTERNAL` keys: when the imported material expires (`None`: never, or none imported).
    pub material_expire_at: Option<i64>,
    /// `EXTERNAL` keys: a digest of the material first imported, so that a re-import can be
    /// held to the same material after it was deleted (the material itself is gone then).
    pub material_fingerprint: Option<String>,
    /// The KMS instance (`kst-…`) the key was created in; `None` for default keys.
    pub dkms_instance_id: Option<String>,
    /// Bumped by every stored change; updates are compare-and-set on it.
    pub revision: i64,
}

/// One version of a key. `material` is what the crypto provider wrapped; never plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub id: KeyVersionId,
    pub key_id: KeyId,
    pub created_at: i64,
    pub material: Vec<u8>,
    /// How much the version has been used, as last flushed.
    pub usage: VersionUsage,
}

/// Cryptographic calls one version served, and when it last served one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VersionUsage {
    pub encrypts: u64,
    pub decrypts: u64,
    pub last_used_at: Option<i64>,
}

impl VersionUsage {
    /// Adds a batch of uses counted since the last flush.
    pub fn add(&mut self, more: &VersionUsage) {
        self.encrypts += more.encrypts;
        self.decrypts += more.decrypts;
        self.last_used_at = self.last_used_at.max(more.last_used_at);
    }
}

impl fmt::Debug for VersionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VersionRecord")
            .field("id", &self.id)
            .field("key_id", &self.key_id)
            .field("created_at", &self.created_at)
            .field("usage", &self.usage)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRecord {
    pub name: AliasName,
    pub key_id: KeyId,
    pub created_at: i64,
}

/// An access key. `wrapped_secret` is the secret wrapped by the root key: signatures need the
/// secret itself, so it cannot be a one-way hash.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub id: String,
    pub wrapped_secret: Vec<u8>,
    pub enabled: bool,
    pub created_at: i64,
    /// Who the key belongs to (an application's name); empty for keys made before names.
    pub principal: String,
    /// The RAM-style identity policy (JSON); `None`: the key may do everything.
    pub policy: Option<String>,
}

impl fmt::Debug for AccessKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKeyRecord")
            .field("id", &self.id)
            .field("enabled", &self.enabled)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// A secret's metadata. Its values live in its versions, sealed by the key service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    pub name: SecretName,
    pub description: String,
    /// The key that seals every version's value (a data key per version).
    pub encryption_key_id: KeyId,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set while the secret waits out its recovery window after DeleteSecret.
    pub planned_delete_at: Option<i64>,
    /// The KMS instance (`kst-…`) the secret was created in; `None` for default secrets.
    pub dkms_instance_id: Option<String>,
    /// Bumped by every stored change; changes are compare-and-set on it.
    pub revision: i64,
}

/// One version of a secret: its value sealed (envelope-encrypted) by the key service — never
/// plaintext — and the stages on it, in name order.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretVersionRecord {
    pub version_id: SecretVersionId,
    pub created_at: i64,
    /// `text` or `binary`, as given when the version was stored.
    pub data_type: String,
    pub sealed: Vec<u8>,
    pub stages: Vec<VersionStage>,
}

impl fmt::Debug for SecretVersionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretVersionRecord")
            .field("version_id", &self.version_id)
            .field("created_at", &self.created_at)
            .field("data_type", &self.data_type)
            .field("stages", &self.stages)
            .finish_non_exhaustive()
    }
}

/// A change to a secret's versions, stored atomically with a compare-and-set on the secret:
/// PutSecretValue adds a version and moves stages; UpdateSecretVersionStage only moves them.
#[derive(Debug, Clone, Copy, Default)]
pub struct VersionChange<'a> {
    /// A new version (its `stages` field is ignored: stages are placed by `stages`).
    pub add: Option<&'a SecretVersionRecord>,
    /// Each stage put on a version, or taken off every version (`None`).
    pub stages: &'a [(VersionStage, Option<SecretVersionId>)],
    /// Versions to forget (the oldest, past the number kept).
    pub drop: &'a [SecretVersionId],
}

/// A KMS instance (`kst-…`), made by the operator and connected by a caller. Lists are kept as
/// the service gives them (`zone_ids`, `vswitch_ids` comma-joined; `bind_vpcs` the service's
/// JSON text): the store does not look inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    pub id: String,
    pub name: String,
    /// `Uninitialized` or `Connected` (see docs/design/instances.md §6).
    pub status: String,
    pub spec: i64,
    pub key_num: i64,
    pub secret_num: i64,
    pub vpc_num: i64,
    pub vpc_id: Option<String>,
    pub zone_ids: String,
    pub vswitch_ids: String,
    pub bind_vpcs: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub deletion_protection: bool,
    pub deletion_protection_description: String,
    /// Released instances stay as tombstones (ids are never reused) and are never listed.
    pub released: bool,
    pub revision: i64,
}
