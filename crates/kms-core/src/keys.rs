//! Creating, describing and listing keys.

use kms_crypto::MaterialLabel;
use kms_store::{KeyRecord, Listing, StoreError, VersionRecord, Window};
use kms_types::{
    AliasName, KeyFilter, KeyId, KeyRef, KeySpec, KeyState, KeyUsage, KeyVersionId, Origin, ProtectionLevel,
};

use crate::error::{CoreError, CoreResult};
use crate::instances::Resource;
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
    pub rotation_interval: Option<String>,
    pub dkms_instance_id: Option<String>,
    /// Validated tags (at most 20), stored with the key.
    pub tags: Vec<kms_types::Tag>,
    /// The key policy to set with the key (`None`: the default).
    pub policy: Option<String>,
}

/// A `RotationInterval` within 7–730 days (spec §6.8).
pub(crate) fn rotation_interval(raw: Option<&str>) -> CoreResult<i64> {
    let raw = raw.ok_or(CoreError::MissingParameter("RotationInterval"))?;
    match kms_types::limits::parse_interval(raw) {
        Some(secs) if kms_types::limits::ROTATION_INTERVAL_SECS.contains(&secs) => Ok(secs),
        _ => Err(CoreError::InvalidParameter("RotationInterval")),
    }
}

impl Kms {
    /// Whether keys of `spec` can be made here: what the crypto provider implements, less
    /// 3DES (the cloud's legacy hardware-only spec, refused rather than emulated).
    fn serves_spec(&self, spec: KeySpec) -> bool {
        if spec.is_symmetric() {
            self.crypto.symmetric.supports(spec) && spec != KeySpec::Des3
        } else if spec.is_hmac() {
            self.crypto.mac.supports(spec)
        } else {
            self.crypto.asymmetric.supports(spec)
        }
    }

    /// DescribeService: every spec CreateKey takes here, with the usages each may have.
    pub fn served_key_specs(&self) -> Vec<(KeySpec, Vec<KeyUsage>)> {
        KeySpec::ALL
            .iter()
            .filter(|s| self.serves_spec(**s))
            .map(|s| (*s, KeyUsage::ALL.iter().copied().filter(|u| s.allows_usage(*u)).collect()))
            .collect()
    }

    /// CreateKey: a key and its first version, stored durably together.
    pub async fn create_key(&self, new: NewKey) -> CoreResult<KeyRecord> {
        if let Some(instance) = &new.dkms_instance_id {
            self.instance_room(instance, Resource::Key).await?;
        }
        let usage = new.usage.unwrap_or(new.spec.default_usage());
        if !new.spec.allows_usage(usage) {
            return Err(CoreError::InvalidParameter("KeyUsage"));
        }
        if !self.serves_spec(new.spec) {
            return Err(CoreError::Unsupported("KeySpec"));
        }
        // Imported material (BYOK) is for the symmetric specs: the cloud documents no
        // wrapping for HMAC material either.
        let external = new.origin == Origin::External;
        if external && !new.spec.is_symmetric() {
            return Err(CoreError::Unsupported("Origin"));
        }
        // HSM keys: AES keys and RSA/ECDSA key pairs generated in the configured PKCS#11 token.
        let in_token = if new.spec.is_symmetric() {
            self.symmetric_backend(ProtectionLevel::Hsm).is_ok_and(|backend| backend.supports(new.spec))
        } else {
            self.crypto.asymmetric_for(ProtectionLevel::Hsm).is_ok_and(|backend| backend.supports(new.spec))
        };
        if new.protection_level == ProtectionLevel::Hsm && (external || !in_token) {
            return Err(CoreError::Unsupported("ProtectionLevel"));
        }
        // CreateKey's documented answer is the plain UnsupportedOperation (spec §5.5), where
        // UpdateRotationPolicy and CreateKeyVersion answer the `Rejected.` form.
        if new.automatic_rotation && (!new.spec.is_symmetric() || external) {
            return Err(CoreError::KeyUnsupportedOperation);
        }
        let rotation_interval =
            if new.automatic_rotation { Some(rotation_interval(new.rotation_interval.as_deref())?) } else { None };
        if let Some(p) = &new.policy {
            kms_policy::Policy::parse_resource(p).map_err(|e| CoreError::InvalidPolicy(e.0))?;
        }
        let id = match &new.dkms_instance_id {
            Some(_) => self.new_instance_key_id()?,
            None => KeyId::generate(),
        };
        let version_id = KeyVersionId::generate();
        let spec = new.spec;
        let material = if external {
            // No material until ImportKeyMaterial brings it.
            kms_crypto::WrappedMaterial(Vec::new())
        } else if spec.is_symmetric() {
            self.symmetric_backend(new.protection_level)?.generate(MaterialLabel {
                key_id: &id,
                version_id: &version_id,
                spec,
            })?
        } else if spec.is_hmac() {
            self.crypto.mac.generate(MaterialLabel { key_id: &id, version_id: &version_id, spec })?
        } else {
            // RSA key generation takes tens to hundreds of milliseconds: not on a request worker.
            let (k, v, level) = (id.clone(), version_id.clone(), new.protection_level);
            self.off_thread(move |c| {
                c.asymmetric_for(level)?.generate(MaterialLabel { key_id: &k, version_id: &v, spec })
            })
            .await?
        };
        let now = self.now();
        let key = KeyRecord {
            id: id.clone(),
            spec: new.spec,
            usage,
            origin: new.origin,
            protection_level: new.protection_level,
            state: if external { KeyState::PendingImport } else { KeyState::Enabled },
            description: new.description,
            creator: self.account().to_string(),
            created_at: now,
            primary_version: version_id.clone(),
            deletion_protection: false,
            deletion_protection_description: String::new(),
            delete_at: None,
            rotation_interval,
            last_rotation_at: now,
            next_rotation_at: rotation_interval.map(|i| now + i),
            material_expire_at: None,
            material_fingerprint: None,
            dkms_instance_id: new.dkms_instance_id,
            revision: 0,
        };
        let version = VersionRecord {
            id: version_id,
            key_id: id,
            created_at: now,
            material: material.0,
            usage: Default::default(),
        };
        self.store.insert_key(&key, &version, &new.tags).await.map_err(|e| match e {
            // The instance filled up (or went) since instance_room looked.
            StoreError::LimitExceeded => CoreError::LimitExceeded,
            StoreError::NotFound if key.dkms_instance_id.is_some() => CoreError::InstanceNotFound,
            other => other.into(),
        })?;
        if let Some(p) = &new.policy {
            self.store.put_resource_policy(kms_types::ResourceType::Key, key.id.as_str(), p).await?;
        }
        Ok(key)
    }

    /// DescribeKey.
    pub async fn describe_key(&self, r: &KeyRef) -> CoreResult<KeyRecord> {
        let key = self.resolve(r).await?;
        check(key.state, Operation::Read)?;
        Ok(key)
    }

    /// How many keys are in each state, every state listed. The store keeps the counts with
    /// every change to a key, so this costs the same at a million keys as at ten.
    pub async fn keys_by_state(&self) -> CoreResult<Vec<(KeyState, u64)>> {
        Ok(self.store.count_keys_by_state().await?)
    }

    /// ListKeys. Filters the stores do not know are settled here: aliases become key ids,
    /// and a creator or creator type no key here has leaves nothing to list; instances the
    /// stores filter on.
    pub async fn list_keys(&self, filter: &KeyFilter, window: Window) -> CoreResult<Listing<KeyRecord>> {
        let mut f = filter.clone();
        let account = self.account().as_str();
        let nothing = f.creators.take().is_some_and(|c| !c.iter().any(|x| x == account))
            || f.creator_types.take().is_some_and(|t| !t.iter().any(|x| x == "User"));
        if let Some(names) = f.alias_names.take() {
            let mut pointed = Vec::new();
            for name in names {
                let name =
                    if name.starts_with(AliasName::PREFIX) { name } else { format!("{}{name}", AliasName::PREFIX) };
                if let Ok(name) = AliasName::parse(&name)
                    && let Some(alias) = self.store.get_alias(&name).await?
                {
                    pointed.push(alias.key_id.to_string());
                }
            }
            f.key_ids = Some(match f.key_ids.take() {
                Some(ids) => ids.into_iter().filter(|id| pointed.contains(id)).collect(),
                None => pointed,
            });
        }
        if nothing {
            f.key_ids = Some(Vec::new());
        }
        Ok(self.store.list_keys(&f, window).await?)
    }
}
