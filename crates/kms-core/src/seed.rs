//! Fixtures (`kmsd --seed FILE`, `kmsd admin seed apply FILE`): keys with fixed ids, versions and
//! optionally fixed material, their aliases and tags, secrets with fixed versions, and access
//! keys with fixed ids and secrets — so that CI's ciphertexts, configuration and credentials stay
//! valid across restarts and fresh data dirs.
//!
//! Applying is idempotent: what the file names is made to match it, and nothing else is
//! touched. What cannot be made to match without destroying something (a key id that exists with
//! another spec or other material, an alias on another key, a secret version or access key with
//! another value) is refused with the name of what conflicts — never with a value. Fixed
//! material is wrapped by the root key like any other, and the types here never print it.

use std::collections::BTreeMap;
use std::fmt;

use kms_crypto::{MaterialLabel, RootKey as _, WrappedMaterial};
use kms_store::{KeyRecord, StoreError, VersionRecord};
use kms_types::{
    AliasName, KeyId, KeyRef, KeySpec, KeyState, KeyUsage, KeyVersionId, Origin, ProtectionLevel, ResourceType,
    SecretName, SecretVersionId, Tag, VersionStage,
};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::access_keys::AccessKeyGrant;
use crate::error::{CoreError, CoreResult};
use crate::secrets::NewSecret;
use crate::service::Kms;

/// A value that must not be printed: key material (base64), a secret's value, an access key's
/// secret.
#[derive(Deserialize, Clone)]
#[serde(from = "String")]
pub struct Hidden(Zeroizing<String>);

impl From<String> for Hidden {
    fn from(s: String) -> Self {
        Self(Zeroizing::new(s))
    }
}

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

/// A fixtures file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Applied first, so that keys can be made in them.
    #[serde(default)]
    pub instances: Vec<SeedInstance>,
    #[serde(default)]
    pub keys: Vec<SeedKey>,
    #[serde(default)]
    pub secrets: Vec<SeedSecret>,
    #[serde(default)]
    pub access_keys: Vec<SeedAccessKey>,
}

/// A KMS instance (`kst-…`) with its quotas, connected to a VPC when `connected` says so.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedInstance {
    pub id: String,
    #[serde(default = "default_spec")]
    pub spec: i64,
    #[serde(default = "default_key_num")]
    pub key_num: i64,
    #[serde(default = "default_secret_num")]
    pub secret_num: i64,
    #[serde(default = "default_vpc_num")]
    pub vpc_num: i64,
    pub connected: Option<SeedConnection>,
}

fn default_spec() -> i64 {
    1000
}
fn default_key_num() -> i64 {
    1000
}
fn default_secret_num() -> i64 {
    100
}
fn default_vpc_num() -> i64 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedConnection {
    pub vpc_id: String,
    pub zone_ids: Vec<String>,
    pub vswitch_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedKey {
    pub id: String,
    /// The KMS instance the key is in (`kst-…`, connected); none: a default key.
    pub instance: Option<String>,
    /// Default `Aliyun_AES_256`.
    pub spec: Option<String>,
    /// Default: the spec's default usage.
    pub usage: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// In order; the last is the primary. Empty: one version with a generated id.
    #[serde(default)]
    pub versions: Vec<SeedVersion>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedVersion {
    pub id: String,
    /// Base64 key material (symmetric keys only), for ciphertexts that stay valid on a fresh
    /// store; without it the material is generated once.
    pub material: Option<Hidden>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSecret {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The key the values are sealed under (id or alias); default: the deployment's secrets key.
    pub key: Option<String>,
    /// In order; each becomes `ACSCurrent` unless it names its stages.
    pub versions: Vec<SeedSecretVersion>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSecretVersion {
    pub id: String,
    pub value: Hidden,
    pub stages: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAccessKey {
    pub id: String,
    pub secret: Hidden,
    /// The principal (an application's name).
    #[serde(default)]
    pub name: String,
    /// A RAM-style identity policy (JSON); none: the key may do everything.
    pub policy: Option<String>,
}

/// What an application of a seed did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    /// What was made or changed, one entry each (`key …`, `alias …`, `secret … version …`).
    pub changed: Vec<String>,
    /// How many named things already matched.
    pub unchanged: usize,
}

fn conflict(what: String) -> CoreError {
    CoreError::Seed(what)
}

fn parse<T: std::str::FromStr>(raw: &str, what: &str) -> CoreResult<T> {
    raw.parse().map_err(|_| conflict(format!("{what} {raw:?} is not valid")))
}

/// Whether two wrapped versions of a symmetric key hold the same material: each seals the same
/// canary under the same IV, which AES-GCM makes equal only for equal keys.
fn same_material(
    backend: &dyn kms_crypto::SymmetricKeys,
    label: MaterialLabel<'_>,
    a: &WrappedMaterial,
    b: &WrappedMaterial,
) -> CoreResult<bool> {
    const IV: [u8; 12] = *b"kmsd-seed-iv";
    let x = backend.seal(a, label, Some(&IV), b"kmsd/seed/compare", b"canary")?;
    let y = backend.seal(b, label, Some(&IV), b"kmsd/seed/compare", b"canary")?;
    Ok(kms_crypto::soft::constant_time_eq(&x.ciphertext_and_tag, &y.ciphertext_and_tag))
}

impl Kms {
    /// Makes the store match `seed` for everything it names. Safe to run on every start, and
    /// from several nodes at once (a node that loses a race re-reads and finds the match).
    pub async fn apply_seed(&self, seed: &Seed) -> CoreResult<SeedReport> {
        // Nodes starting together race to create the same things; the loser's next pass finds
        // them made and compares instead. Each lost race means one more thing exists, so the
        // passes are bounded by what the file names.
        let bound = 2 + seed.instances.len() + seed.keys.len() * 8 + seed.secrets.len() * 2 + seed.access_keys.len();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.apply_seed_once(seed).await {
                Err(
                    CoreError::Store(StoreError::Conflict)
                    | CoreError::AliasExists
                    | CoreError::SecretExists
                    | CoreError::InstanceStateInvalid,
                ) if attempt < bound => continue,
                other => return other,
            }
        }
    }

    async fn apply_seed_once(&self, seed: &Seed) -> CoreResult<SeedReport> {
        let mut report = SeedReport::default();
        for instance in &seed.instances {
            self.seed_instance(instance, &mut report).await?;
        }
        for key in &seed.keys {
            self.seed_key(key, &mut report).await?;
        }
        for secret in &seed.secrets {
            self.seed_secret(secret, &mut report).await?;
        }
        for ak in &seed.access_keys {
            self.seed_access_key(ak, &mut report).await?;
        }
        Ok(report)
    }

    fn seed_material(
        &self,
        spec: KeySpec,
        id: &KeyId,
        version: &KeyVersionId,
        material: Option<&Hidden>,
    ) -> CoreResult<WrappedMaterial> {
        let label = MaterialLabel { key_id: id, version_id: version, spec };
        match material {
            Some(m) => {
                if !spec.is_symmetric() {
                    return Err(conflict(format!("key {id}: material can be given for symmetric keys only")));
                }
                let bytes = Zeroizing::new(
                    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, m.0.as_bytes())
                        .map_err(|_| conflict(format!("key {id} version {version}: material is not base64")))?,
                );
                self.crypto
                    .symmetric
                    .import(label, &bytes)
                    .map_err(|_| conflict(format!("key {id} version {version}: material is not {spec}'s length")))
            }
            None if spec.is_symmetric() => Ok(self.crypto.symmetric.generate(label)?),
            None if spec.is_hmac() => Ok(self.crypto.mac.generate(label)?),
            None => Ok(self.crypto.asymmetric.generate(label)?),
        }
    }

    async fn seed_key(&self, seed: &SeedKey, report: &mut SeedReport) -> CoreResult<()> {
        let id = KeyId::parse(&seed.id).map_err(|_| conflict(format!("key id {:?} is not valid", seed.id)))?;
        let spec: KeySpec = parse(seed.spec.as_deref().unwrap_or("Aliyun_AES_256"), "key spec")?;
        let usage: KeyUsage = match &seed.usage {
            Some(u) => parse(u, "key usage")?,
            None => spec.default_usage(),
        };
        if !spec.allows_usage(usage) || (spec.is_symmetric() && spec == KeySpec::Des3) {
            return Err(conflict(format!("key {id}: {spec} cannot have usage {usage}")));
        }
        let versions: Vec<(KeyVersionId, Option<&Hidden>)> = if seed.versions.is_empty() {
            Vec::new()
        } else {
            seed.versions
                .iter()
                .map(|v| {
                    KeyVersionId::parse(&v.id)
                        .map(|id| (id, v.material.as_ref()))
                        .map_err(|_| conflict(format!("key {id}: version id {:?} is not valid", v.id)))
                })
                .collect::<CoreResult<_>>()?
        };
        let tags: Vec<Tag> = seed
            .tags
            .iter()
            .map(|(k, v)| Tag::new(k, v).map_err(|_| conflict(format!("key {id}: tag {k:?} is not valid"))))
            .collect::<CoreResult<_>>()?;

        let mut key = match self.store.get_key(&id).await? {
            Some(existing) => {
                if existing.dkms_instance_id != seed.instance {
                    return Err(conflict(format!("key {id} exists in another instance than the seed says")));
                }
                if existing.spec != spec || existing.usage != usage {
                    return Err(conflict(format!(
                        "key {id} exists as {} {}, the seed says {spec} {usage}",
                        existing.spec, existing.usage
                    )));
                }
                report.unchanged += 1;
                existing
            }
            None => {
                if let Some(instance) = &seed.instance {
                    self.instance_room(instance, crate::instances::Resource::Key).await?;
                }
                let first = versions.first().map(|(v, _)| v.clone()).unwrap_or_else(KeyVersionId::generate);
                let material = self.seed_material(spec, &id, &first, versions.first().and_then(|(_, m)| *m))?;
                let now = self.now();
                let record = KeyRecord {
                    id: id.clone(),
                    spec,
                    usage,
                    origin: Origin::AliyunKms,
                    protection_level: ProtectionLevel::Software,
                    state: KeyState::Enabled,
                    description: seed.description.clone(),
                    creator: self.account().to_string(),
                    created_at: now,
                    primary_version: first.clone(),
                    deletion_protection: false,
                    deletion_protection_description: String::new(),
                    delete_at: None,
                    rotation_interval: None,
                    last_rotation_at: now,
                    next_rotation_at: None,
                    material_expire_at: None,
                    material_fingerprint: None,
                    dkms_instance_id: seed.instance.clone(),
                    revision: 0,
                };
                let version = VersionRecord {
                    id: first,
                    key_id: id.clone(),
                    created_at: now,
                    material: material.0,
                    usage: Default::default(),
                };
                self.store.insert_key(&record, &version, &tags).await?;
                report.changed.push(format!("key {id}"));
                record
            }
        };
        for (version_id, material) in &versions {
            match self.store.get_version(version_id).await? {
                Some(v) if v.key_id != id => {
                    return Err(conflict(format!("key {id}: version {version_id} belongs to key {}", v.key_id)));
                }
                Some(v) => {
                    if let Some(m) = material {
                        let label = MaterialLabel { key_id: &id, version_id, spec };
                        let given = self.seed_material(spec, &id, version_id, Some(m))?;
                        if !same_material(&*self.crypto.symmetric, label, &WrappedMaterial(v.material), &given)? {
                            return Err(conflict(format!("key {id} version {version_id} exists with other material")));
                        }
                    }
                }
                None => {
                    let wrapped = self.seed_material(spec, &id, version_id, *material)?;
                    let version = VersionRecord {
                        id: version_id.clone(),
                        key_id: id.clone(),
                        created_at: self.now(),
                        material: wrapped.0,
                        usage: Default::default(),
                    };
                    let rotated = KeyRecord { primary_version: version_id.clone(), ..key.clone() };
                    key = self.store.add_version(&rotated, &version).await?;
                    report.changed.push(format!("key {id} version {version_id}"));
                }
            }
        }
        if let Some((last, _)) = versions.last()
            && key.primary_version != *last
        {
            key = self.store.update_key(&KeyRecord { primary_version: last.clone(), ..key.clone() }).await?;
            report.changed.push(format!("key {id} primary version {last}"));
        }
        if key.description != seed.description {
            key = self.store.update_key(&KeyRecord { description: seed.description.clone(), ..key.clone() }).await?;
            report.changed.push(format!("key {id} description"));
        }
        let stored_tags = self.store.list_tags(ResourceType::Key, id.as_str()).await?;
        if tags.iter().any(|t| !stored_tags.contains(t)) {
            self.store.put_tags(ResourceType::Key, id.as_str(), &tags, kms_types::tags::MAX_TAGS).await?;
            report.changed.push(format!("key {id} tags"));
        }
        for alias in &seed.aliases {
            let name = AliasName::parse(alias).map_err(|_| conflict(format!("alias {alias:?} is not valid")))?;
            match self.store.get_alias(&name).await? {
                Some(a) if a.key_id == id => report.unchanged += 1,
                Some(a) => return Err(conflict(format!("alias {alias} points to key {}, not {id}", a.key_id))),
                None => {
                    self.create_alias(&name, &KeyRef::Id { id: id.clone(), scope: None }).await?;
                    report.changed.push(format!("alias {alias}"));
                }
            }
        }
        let _ = key;
        Ok(())
    }

    async fn seed_instance(&self, seed: &SeedInstance, report: &mut SeedReport) -> CoreResult<()> {
        let id = &seed.id;
        if !id.starts_with("kst-") || id.len() < 8 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(conflict(format!("instance id {id:?} is not kst-…")));
        }
        let mut record = match self.store.get_instance(id).await? {
            Some(r) if r.released => return Err(conflict(format!("instance {id} was released; ids are never reused"))),
            Some(r) => r,
            None => {
                let limits = crate::instances::InstanceLimits {
                    spec: seed.spec,
                    key_num: seed.key_num,
                    secret_num: seed.secret_num,
                    vpc_num: seed.vpc_num,
                };
                let record = self.insert_instance(id.clone(), limits).await?;
                report.changed.push(format!("instance {id}"));
                record
            }
        };
        let limits = (seed.spec, seed.key_num, seed.secret_num, seed.vpc_num);
        if (record.spec, record.key_num, record.secret_num, record.vpc_num) != limits {
            let changed = kms_store::InstanceRecord {
                spec: seed.spec,
                key_num: seed.key_num,
                secret_num: seed.secret_num,
                vpc_num: seed.vpc_num,
                ..record.clone()
            };
            record = self.store.update_instance(&changed).await?;
            report.changed.push(format!("instance {id} quotas"));
        } else {
            report.unchanged += 1;
        }
        if let Some(c) = &seed.connected
            && record.status == crate::instances::UNINITIALIZED
        {
            self.connect_instance(id, c.vpc_id.clone(), &c.zone_ids, &c.vswitch_ids).await?;
            report.changed.push(format!("instance {id} connected"));
        }
        Ok(())
    }

    async fn seed_secret(&self, seed: &SeedSecret, report: &mut SeedReport) -> CoreResult<()> {
        let name =
            SecretName::parse(&seed.name).map_err(|_| conflict(format!("secret name {:?} is not valid", seed.name)))?;
        let mut versions = Vec::new();
        for v in &seed.versions {
            let id = SecretVersionId::parse(&v.id)
                .map_err(|_| conflict(format!("secret {name}: version id {:?} is not valid", v.id)))?;
            let stages = match &v.stages {
                Some(s) => Some(
                    s.iter()
                        .map(|x| VersionStage::parse(x))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| conflict(format!("secret {name}: a stage of version {id} is not valid")))?,
                ),
                None => None,
            };
            versions.push((id, v, stages));
        }
        let Some(((first, first_seed, _), rest)) = versions.split_first() else {
            return Err(conflict(format!("secret {name}: give it at least one version")));
        };
        let exists = self.store.get_secret(&name).await?.is_some();
        if !exists {
            let key = match &seed.key {
                Some(k) => {
                    Some(KeyRef::parse(k).map_err(|_| conflict(format!("secret {name}: key {k:?} is not valid")))?)
                }
                None => None,
            };
            self.create_secret(NewSecret {
                name: name.clone(),
                version: first.clone(),
                data: Zeroizing::new(first_seed.value.0.as_bytes().to_vec()),
                data_type: "text".into(),
                encryption_key: key,
                description: seed.description.clone(),
                tags: Vec::new(),
                dkms_instance_id: None,
            })
            .await?;
            report.changed.push(format!("secret {name}"));
        }
        let todo = if exists { &versions[..] } else { rest };
        for (id, v, stages) in todo {
            let before = self.store.list_secret_versions(&name).await?.iter().any(|x| &x.version_id == id);
            let data = Zeroizing::new(v.value.0.as_bytes().to_vec());
            match self.put_secret_value(&name, id.clone(), data, "text".into(), stages.clone()).await {
                Ok(_) if before => report.unchanged += 1,
                Ok(_) => report.changed.push(format!("secret {name} version {id}")),
                Err(CoreError::SecretVersionExists) => {
                    return Err(conflict(format!("secret {name} version {id} exists with another value")));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn seed_access_key(&self, seed: &SeedAccessKey, report: &mut SeedReport) -> CoreResult<()> {
        let grant = AccessKeyGrant { principal: seed.name.clone(), policy: seed.policy.clone() };
        let existing = self.store.list_access_keys().await?.into_iter().find(|r| r.id == seed.id);
        match existing {
            None => {
                self.add_access_key(&seed.id, &seed.secret.0, &grant).await?;
                report.changed.push(format!("access key {}", seed.id));
            }
            Some(r) => {
                let stored = self
                    .crypto
                    .root
                    .unwrap(&crate::access_keys::aad(&r.id), &r.wrapped_secret)
                    .map_err(|_| CoreError::RootKeyMismatch)?;
                if !kms_crypto::soft::constant_time_eq(&stored, seed.secret.0.as_bytes()) {
                    return Err(conflict(format!("access key {} exists with another secret", seed.id)));
                }
                if r.policy != seed.policy {
                    grant.check()?;
                    self.set_access_key_policy(&seed.id, seed.policy.clone()).await?;
                    report.changed.push(format!("access key {} policy", seed.id));
                } else {
                    report.unchanged += 1;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_values_never_print() {
        let seed: Seed = serde_json::from_str(
            r#"{"keys":[{"id":"k","versions":[{"id":"v","material":"c2VjcmV0LW1hdGVyaWFs"}]}],
               "access_keys":[{"id":"LTAI1","secret":"very-secret"}]}"#,
        )
        .unwrap();
        let shown = format!("{seed:?}");
        assert!(!shown.contains("c2VjcmV0") && !shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("<hidden>"), "{shown}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<Seed>(r#"{"keyz":[]}"#).is_err());
        assert!(serde_json::from_str::<Seed>(r#"{"keys":[{"id":"k","materal":"x"}]}"#).is_err());
    }
}
