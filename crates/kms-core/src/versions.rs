//! Key versions: manual and automatic rotation, and reading versions (spec §7.2).
//!
//! Every version is its own stored record; the key names its primary. Rotation adds a version
//! and re-points the primary in one compare-and-set write, so a rotation attempted twice for
//! the same due date (two nodes, or a retry) happens once.

use kms_crypto::MaterialLabel;
use kms_store::{KeyRecord, Listing, StoreError, VersionRecord, Window};
use kms_types::{KeyRef, KeyState, KeyVersionId, Origin};

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;
use crate::state::{Operation, check};

impl Kms {
    /// A new primary version for `key` as read; `Conflict` when the key changed meanwhile.
    pub(crate) async fn rotate(&self, key: &KeyRecord) -> CoreResult<(KeyRecord, VersionRecord)> {
        if !key.spec.is_symmetric() || key.origin != Origin::AliyunKms {
            return Err(CoreError::RotationUnsupported);
        }
        let now = self.now();
        let version_id = KeyVersionId::generate();
        let material = self.symmetric_of(key)?.generate(MaterialLabel {
            key_id: &key.id,
            version_id: &version_id,
            spec: key.spec,
        })?;
        let version = VersionRecord {
            id: version_id.clone(),
            key_id: key.id.clone(),
            created_at: now,
            material: material.0,
            usage: Default::default(),
        };
        let rotated = KeyRecord {
            primary_version: version_id,
            last_rotation_at: now,
            next_rotation_at: key.rotation_interval.map(|i| now + i),
            ..key.clone()
        };
        let stored = self.store.add_version(&rotated, &version).await?;
        Ok((stored, version))
    }

    /// CreateKeyVersion: manual rotation.
    pub async fn create_key_version(&self, r: &KeyRef) -> CoreResult<VersionRecord> {
        let id = self.resolve(r).await?.id;
        loop {
            let key = self.store.get_key(&id).await?.ok_or(CoreError::KeyNotFound)?;
            check(key.state, Operation::UseKey)?;
            match self.rotate(&key).await {
                Err(CoreError::Store(StoreError::Conflict)) => continue,
                other => return other.map(|(_, v)| v),
            }
        }
    }

    /// DescribeKeyVersion: the version must belong to the key named.
    pub async fn describe_key_version(&self, r: &KeyRef, version: &KeyVersionId) -> CoreResult<VersionRecord> {
        let key = self.resolve(r).await?;
        check(key.state, Operation::Read)?;
        let _usage = self.usage.read_gate().await;
        match self.store.get_version(version).await? {
            Some(mut v) if v.key_id == key.id => {
                v.usage.add(&self.usage.pending(&v.id));
                Ok(v)
            }
            _ => Err(CoreError::KeyVersionNotFound),
        }
    }

    /// ListKeyVersions, newest first.
    pub async fn list_key_versions(&self, r: &KeyRef, window: Window) -> CoreResult<Listing<VersionRecord>> {
        let key = self.resolve(r).await?;
        check(key.state, Operation::Read)?;
        let _usage = self.usage.read_gate().await;
        let mut listing = self.store.list_versions(&key.id, window).await?;
        for v in &mut listing.items {
            v.usage.add(&self.usage.pending(&v.id));
        }
        Ok(listing)
    }

    /// What `AutomaticRotation` reports: rotation pauses while the key is not Enabled.
    pub fn automatic_rotation(key: &KeyRecord) -> &'static str {
        match (key.rotation_interval, key.state) {
            (None, _) => "Disabled",
            (Some(_), KeyState::Enabled) => "Enabled",
            (Some(_), _) => "Suspended",
        }
    }
}
