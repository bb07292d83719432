//! Creating, describing and listing keys.

use kms_crypto::MaterialLabel;
use kms_store::{KeyRecord, Listing, VersionRecord, Window};
use kms_types::{
    KeyFilter, KeyId, KeyRef, KeySpec, KeyState, KeyUsage, KeyVersionId, Origin, ProtectionLevel,
};

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;
use crate::state::{Operation, check};

/// What CreateKey asks for, as typed by the handler.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub description: String,
    pub spec: KeySpec,
    pub usage: Option<KeyUsage>,
    pub origin: Origin,
    pub protection_level: ProtectionLevel,
    pub automatic_rotation: bool,
    pub dkms_instance_id: Option<String>,
    pub has_tags: bool,
    pub has_policy: bool,
}

impl Kms {
    /// CreateKey: a key and its first version, stored durably together.
    pub async fn create_key(&self, new: NewKey) -> CoreResult<KeyRecord> {
        if new.dkms_instance_id.is_some() {
            return Err(CoreError::InstanceNotFound);
        }
        let usage = new.usage.unwrap_or(new.spec.default_usage());
        if !new.spec.allows_usage(usage) {
            return Err(CoreError::InvalidParameter("KeyUsage"));
        }
        if !self.crypto.symmetric.supports(new.spec) || new.spec != KeySpec::Aes256 {
            return Err(CoreError::Unsupported("KeySpec"));
        }
        if new.origin != Origin::AliyunKms {
            return Err(CoreError::Unsupported("Origin"));
        }
        if new.protection_level != ProtectionLevel::Software {
            return Err(CoreError::Unsupported("ProtectionLevel"));
        }
        if new.automatic_rotation {
            return Err(CoreError::Unsupported("EnableAutomaticRotation"));
        }
        if new.has_tags {
            return Err(CoreError::Unsupported("Tags"));
        }
        if new.has_policy {
            return Err(CoreError::Unsupported("Policy"));
        }
        let id = KeyId::generate();
        let version_id = KeyVersionId::generate();
        let material = self.crypto.symmetric.generate(
            new.spec,
            MaterialLabel {
                key_id: &id,
                version_id: &version_id,
            },
        )?;
        let now = self.now();
        let key = KeyRecord {
            id: id.clone(),
            spec: new.spec,
            usage,
            origin: new.origin,
            protection_level: new.protection_level,
            state: KeyState::Enabled,
            description: new.description,
            creator: self.account().to_string(),
            created_at: now,
            primary_version: version_id.clone(),
            deletion_protection: false,
            delete_at: None,
        };
        let version = VersionRecord {
            id: version_id,
            key_id: id,
            created_at: now,
            material: material.0,
        };
        self.store.insert_key(&key, &version).await?;
        Ok(key)
    }

    /// DescribeKey.
    pub async fn describe_key(&self, r: &KeyRef) -> CoreResult<KeyRecord> {
        let key = self.resolve(r).await?;
        check(key.state, Operation::Read)?;
        Ok(key)
    }

    /// ListKeys.
    pub async fn list_keys(
        &self,
        filter: &KeyFilter,
        window: Window,
    ) -> CoreResult<Listing<KeyRecord>> {
        Ok(self.store.list_keys(filter, window).await?)
    }
}
