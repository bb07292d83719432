//! Secrets Manager (spec §6.10, §7.8): generic secrets with versions and stages.
//!
//! Values are envelope-encrypted: each version gets a fresh data key from GenerateDataKey under
//! the secret's KMS key, the value is sealed under that data key, and only the wrapped data key
//! and the sealed value are stored. Reading a value goes through Decrypt of the data key, so the
//! KMS key's state rules apply: a disabled or deleted key makes the secret unreadable with that
//! key's code. Nothing of a value reaches the store in the clear.

use kms_crypto::soft::{open_with_data_key, seal_with_data_key};
use kms_store::{SecretRecord, SecretVersionRecord, StoreError, VersionChange};
use kms_types::{EncryptionContext, KeyId, KeyRef, SecretName, SecretVersionId, Tag, VersionStage};
use zeroize::Zeroizing;

use crate::error::{CoreError, CoreResult};
use crate::keys::NewKey;
use crate::service::Kms;

/// Largest secret value, in bytes (spec §6.10).
pub const MAX_SECRET_BYTES: usize = kms_types::limits::MAX_SECRET_DATA_BYTES;
/// Versions a generic secret keeps; past this the oldest version without a stage goes.
pub const MAX_VERSIONS: usize = 10;
const DEFAULT_KEY_META: &str = "secrets_default_key_id";

/// ASCII punctuation, the class `ExcludePunctuation` removes.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// GetRandomPassword's options.
#[derive(Debug, Clone, Default)]
pub struct PasswordRules {
    pub length: usize,
    pub exclude: String,
    pub no_lowercase: bool,
    pub no_uppercase: bool,
    pub no_numbers: bool,
    pub no_punctuation: bool,
    pub each_type: bool,
}

/// What CreateSecret stores.
pub struct NewSecret {
    pub name: SecretName,
    pub version: SecretVersionId,
    pub data: Zeroizing<Vec<u8>>,
    /// `text` or `binary`.
    pub data_type: String,
    /// The KMS key for the values; `None` for the deployment's default secrets key.
    pub encryption_key: Option<KeyRef>,
    pub description: String,
    pub tags: Vec<Tag>,
    /// The KMS instance to create it in (`DKMSInstanceId`); `None`: a default secret.
    pub dkms_instance_id: Option<String>,
}

/// One version's value, opened.
pub struct SecretValue {
    pub secret: SecretRecord,
    pub version: SecretVersionRecord,
    pub data: Zeroizing<Vec<u8>>,
}

/// A secret outside its recovery window.
pub(crate) fn live(s: SecretRecord) -> CoreResult<SecretRecord> {
    if s.planned_delete_at.is_some() {
        return Err(CoreError::SecretInDeleteWindow);
    }
    Ok(s)
}

/// How a sealed value is laid out: the data key's ciphertext blob (length-prefixed), then the
/// value sealed under the data key.
fn pack(wrapped_key: &[u8], sealed: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + wrapped_key.len() + sealed.len());
    out.extend_from_slice(&(wrapped_key.len() as u16).to_be_bytes());
    out.extend_from_slice(wrapped_key);
    out.extend_from_slice(sealed);
    out
}

fn unpack(stored: &[u8]) -> CoreResult<(&[u8], &[u8])> {
    let corrupt = || CoreError::Store(StoreError::Corrupt("sealed secret value".into()));
    let len = u16::from_be_bytes(stored.get(..2).ok_or_else(corrupt)?.try_into().map_err(|_| corrupt())?) as usize;
    let wrapped = stored.get(2..2 + len).ok_or_else(corrupt)?;
    Ok((wrapped, &stored[2 + len..]))
}

/// Binds a value to its secret and version, both in the data key's context and the value's AAD.
fn context(name: &SecretName, version: &SecretVersionId) -> CoreResult<EncryptionContext> {
    EncryptionContext::from_pairs([
        ("kms:SecretName".to_owned(), name.as_str().to_owned()),
        ("kms:SecretVersionId".to_owned(), version.as_str().to_owned()),
    ])
    .map_err(|_| CoreError::InvalidParameter("SecretName"))
}

fn aad(name: &SecretName, version: &SecretVersionId) -> Vec<u8> {
    format!("kmsd/secret-value/v1\0{name}\0{version}").into_bytes()
}

impl Kms {
    /// The secret ARN: `acs:kms:<region>:<account>:secret/<name>`.
    pub fn secret_arn(&self, name: &SecretName) -> String {
        format!("acs:kms:{}:{}:secret/{}", self.region(), self.account(), name)
    }

    /// The key that protects secrets created without `EncryptionKeyId`, made on first use.
    async fn default_secrets_key(&self) -> CoreResult<KeyId> {
        if let Some(id) = self.store.get_meta(DEFAULT_KEY_META).await? {
            return KeyId::parse(&id).map_err(|_| CoreError::Store(StoreError::Corrupt("default secrets key".into())));
        }
        let made = self
            .create_key(NewKey {
                description: "kmsd: default key for Secrets Manager".into(),
                spec: kms_types::KeySpec::Aes256,
                usage: None,
                origin: kms_types::Origin::AliyunKms,
                protection_level: kms_types::ProtectionLevel::Software,
                automatic_rotation: false,
                rotation_interval: None,
                dkms_instance_id: None,
                tags: Vec::new(),
                policy: None,
            })
            .await?;
        // Two first uses at once: the first stored wins, and both use it; the loser's key,
        // which nothing has used, goes again rather than stay behind as a stray enabled key.
        let id = self.store.init_meta(DEFAULT_KEY_META, made.id.as_str()).await?;
        if id != made.id.as_str()
            && let Err(e) = self.destroy_key(&made).await
        {
            tracing::warn!(key_id = %made.id, error = %e, "could not remove a default secrets key that lost a race");
        }
        KeyId::parse(&id).map_err(|_| CoreError::Store(StoreError::Corrupt("default secrets key".into())))
    }

    /// Seals a value under a fresh data key from `key`.
    async fn seal_value(
        &self,
        key: &KeyId,
        name: &SecretName,
        version: &SecretVersionId,
        data: &[u8],
    ) -> CoreResult<Vec<u8>> {
        let key_ref = KeyRef::Id { id: key.clone(), scope: None };
        let dk = self.generate_data_key(&key_ref, &context(name, version)?, 32).await?;
        let sealed = seal_with_data_key(&dk.plaintext, &aad(name, version), data)?;
        Ok(pack(&dk.wrapped.blob, &sealed))
    }

    /// Opens a stored value: Decrypt of its data key (the key's state rules apply), then the value.
    async fn open_value(&self, name: &SecretName, v: &SecretVersionRecord) -> CoreResult<Zeroizing<Vec<u8>>> {
        let (wrapped, sealed) = unpack(&v.sealed)?;
        let dk = self.decrypt(wrapped, &context(name, &v.version_id)?).await?;
        open_with_data_key(&dk.plaintext, &aad(name, &v.version_id), sealed)
            .map_err(|_| CoreError::Store(StoreError::Corrupt("sealed secret value".into())))
    }

    /// A live secret (not in its recovery window).
    pub(crate) async fn live_secret(&self, name: &SecretName) -> CoreResult<SecretRecord> {
        let s = self.store.get_secret(name).await?.ok_or(CoreError::SecretNotFound)?;
        live(s)
    }

    /// CreateSecret: the secret and its first version, labelled `ACSCurrent`.
    pub async fn create_secret(&self, n: NewSecret) -> CoreResult<SecretRecord> {
        if n.data.len() > MAX_SECRET_BYTES {
            return Err(CoreError::InvalidParameter("SecretData"));
        }
        if let Some(existing) = self.store.get_secret(&n.name).await? {
            return Err(if existing.planned_delete_at.is_some() {
                CoreError::SecretInDeleteWindow
            } else {
                CoreError::SecretExists
            });
        }
        if let Some(instance) = &n.dkms_instance_id {
            self.instance_room(instance, crate::instances::Resource::Secret).await?;
            if n.encryption_key.is_none() {
                return Err(CoreError::MissingParameter("EncryptionKeyId"));
            }
        }
        let key = match &n.encryption_key {
            Some(r) => {
                let k = self.resolve(r).await?;
                // An instance secret's key is a key of the same instance (and only then).
                if k.dkms_instance_id != n.dkms_instance_id {
                    return Err(CoreError::InvalidParameter("EncryptionKeyId"));
                }
                crate::state::check(k.state, crate::state::Operation::UseKey)?;
                if !k.spec.is_symmetric() {
                    return Err(CoreError::KeyUnsupportedOperation);
                }
                k.id
            }
            None => self.default_secrets_key().await?,
        };
        let sealed = self.seal_value(&key, &n.name, &n.version, &n.data).await?;
        let now = self.now();
        let secret = SecretRecord {
            name: n.name,
            description: n.description,
            encryption_key_id: key,
            created_at: now,
            updated_at: now,
            planned_delete_at: None,
            dkms_instance_id: n.dkms_instance_id,
            revision: 0,
        };
        let first = SecretVersionRecord {
            version_id: n.version,
            created_at: now,
            data_type: n.data_type,
            sealed,
            stages: vec![VersionStage::current()],
        };
        match self.store.insert_secret(&secret, &first, &n.tags).await {
            Ok(()) => Ok(secret),
            Err(StoreError::Conflict) => Err(CoreError::SecretExists),
            // The instance filled up (or went) since instance_room looked.
            Err(StoreError::LimitExceeded) => Err(CoreError::LimitExceeded),
            Err(StoreError::NotFound) if secret.dkms_instance_id.is_some() => Err(CoreError::InstanceNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// GetSecretValue: by version id, else by stage (default `ACSCurrent`).
    pub async fn get_secret_value(
        &self,
        name: &SecretName,
        version: Option<&SecretVersionId>,
        stage: Option<&VersionStage>,
    ) -> CoreResult<SecretValue> {
        let secret = self.live_secret(name).await?;
        self.value_of(secret, version, stage).await
    }

    /// The value of a secret already read (and found live): the version named, or the one
    /// holding the stage (default `ACSCurrent`).
    pub(crate) async fn value_of(
        &self,
        secret: SecretRecord,
        version: Option<&SecretVersionId>,
        stage: Option<&VersionStage>,
    ) -> CoreResult<SecretValue> {
        let name = &secret.name;
        let versions = self.store.list_secret_versions(name).await?;
        let current = VersionStage::current();
        // A version id alone names the version; a stage (default ACSCurrent) must be on it.
        let found = versions.into_iter().find(|v| {
            let by_id = version.is_none_or(|id| &v.version_id == id);
            let by_stage = match (version, stage) {
                (Some(_), None) => true,
                (_, Some(s)) => v.stages.contains(s),
                (None, None) => v.stages.contains(&current),
            };
            by_id && by_stage
        });
        let version = found.ok_or(CoreError::SecretNotFound)?;
        let data = self.open_value(name, &version).await?;
        Ok(SecretValue { secret, version, data })
    }

    /// PutSecretValue: a new version with `stages` (default `ACSCurrent`); the version that
    /// held `ACSCurrent` before becomes `ACSPrevious`. The same version id with the same value
    /// is an idempotent success; with another value it is refused.
    pub async fn put_secret_value(
        &self,
        name: &SecretName,
        version: SecretVersionId,
        data: Zeroizing<Vec<u8>>,
        data_type: String,
        stages: Option<Vec<VersionStage>>,
    ) -> CoreResult<SecretVersionRecord> {
        if data.len() > MAX_SECRET_BYTES {
            return Err(CoreError::InvalidParameter("SecretData"));
        }
        let stages = stages.unwrap_or_else(|| vec![VersionStage::current()]);
        loop {
            let secret = self.live_secret(name).await?;
            let versions = self.store.list_secret_versions(name).await?;
            if let Some(existing) = versions.iter().find(|v| v.version_id == version) {
                let stored = self.open_value(name, existing).await?;
                let same = kms_crypto::soft::constant_time_eq(&stored, &data) && existing.data_type == data_type;
                return if same { Ok(existing.clone()) } else { Err(CoreError::SecretVersionExists) };
            }
            let sealed = self.seal_value(&secret.encryption_key_id, name, &version, &data).await?;
            let now = self.now();
            let new = SecretVersionRecord {
                version_id: version.clone(),
                created_at: now,
                data_type: data_type.clone(),
                sealed,
                stages: Vec::new(),
            };
            let mut moves: Vec<(VersionStage, Option<SecretVersionId>)> =
                stages.iter().map(|s| (s.clone(), Some(version.clone()))).collect();
            if stages.iter().any(|s| s.as_str() == VersionStage::CURRENT)
                && let Some(old) =
                    versions.iter().find(|v| v.stages.iter().any(|s| s.as_str() == VersionStage::CURRENT))
            {
                moves.push((VersionStage::previous(), Some(old.version_id.clone())));
            }
            // Past the number kept, the oldest versions that will hold no stage go.
            let staged_after = |v: &SecretVersionRecord| {
                let keeps = v.stages.iter().any(|s| !moves.iter().any(|(m, _)| m == s));
                keeps || moves.iter().any(|(_, on)| on.as_ref() == Some(&v.version_id))
            };
            let excess = (versions.len() + 1).saturating_sub(MAX_VERSIONS);
            let drop: Vec<SecretVersionId> =
                versions.iter().rev().filter(|v| !staged_after(v)).take(excess).map(|v| v.version_id.clone()).collect();
            let updated = SecretRecord { updated_at: now, ..secret.clone() };
            match self
                .store
                .change_secret(&updated, VersionChange { add: Some(&new), stages: &moves, drop: &drop })
                .await
            {
                Ok(_) => {
                    let mut stages = stages.clone();
                    stages.sort();
                    return Ok(SecretVersionRecord { stages, ..new });
                }
                // Another change won the race (or took this version id): look again.
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => return Err(CoreError::SecretNotFound),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Stores `s` with no version change, compare-and-set; a lost race is retried by the caller.
    async fn store_secret(&self, s: &SecretRecord) -> CoreResult<SecretRecord> {
        match self.store.change_secret(s, VersionChange::default()).await {
            Ok(stored) => Ok(stored),
            Err(StoreError::NotFound) => Err(CoreError::SecretNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// DeleteSecret: into a recovery window of `days` (7–30, default 30), or at once with
    /// `force`. Returns the planned deletion time.
    pub async fn delete_secret(&self, name: &SecretName, force: bool, days: Option<u32>) -> CoreResult<i64> {
        loop {
            let secret = self.store.get_secret(name).await?.ok_or(CoreError::SecretNotFound)?;
            if force {
                match self.store.purge_secret(&secret).await {
                    Ok(()) => return Ok(self.now()),
                    Err(StoreError::Conflict) => continue,
                    Err(StoreError::NotFound) => return Err(CoreError::SecretNotFound),
                    Err(e) => return Err(e.into()),
                }
            }
            if secret.planned_delete_at.is_some() {
                return Err(CoreError::SecretInDeleteWindow);
            }
            let at = self.now() + i64::from(days.unwrap_or(30)) * 86_400;
            match self
                .store_secret(&SecretRecord { planned_delete_at: Some(at), updated_at: self.now(), ..secret })
                .await
            {
                Ok(_) => return Ok(at),
                Err(CoreError::Store(StoreError::Conflict)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// RestoreSecret: only a secret in its recovery window; a live one is `ResourceInUse`.
    pub async fn restore_secret(&self, name: &SecretName) -> CoreResult<()> {
        loop {
            let secret = self.store.get_secret(name).await?.ok_or(CoreError::SecretNotFound)?;
            if secret.planned_delete_at.is_none() {
                return Err(CoreError::SecretInUse);
            }
            match self.store_secret(&SecretRecord { planned_delete_at: None, updated_at: self.now(), ..secret }).await {
                Ok(_) => return Ok(()),
                Err(CoreError::Store(StoreError::Conflict)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// UpdateSecret: the description of a live secret.
    pub async fn update_secret(&self, name: &SecretName, description: Option<String>) -> CoreResult<()> {
        loop {
            let secret = self.live_secret(name).await?;
            let description = description.clone().unwrap_or_else(|| secret.description.clone());
            match self.store_secret(&SecretRecord { description, updated_at: self.now(), ..secret }).await {
                Ok(_) => return Ok(()),
                Err(CoreError::Store(StoreError::Conflict)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// UpdateSecretVersionStage: moves `stage` to `move_to` and/or takes it off `remove_from`
    /// (which must hold it). `ACSCurrent` and `ACSPrevious` cannot be left on no version; moving
    /// `ACSCurrent` gives the version that had it `ACSPrevious`.
    pub async fn update_secret_version_stage(
        &self,
        name: &SecretName,
        stage: &VersionStage,
        move_to: Option<&SecretVersionId>,
        remove_from: Option<&SecretVersionId>,
    ) -> CoreResult<()> {
        let system = matches!(stage.as_str(), VersionStage::CURRENT | VersionStage::PREVIOUS);
        if move_to.is_none() && (system || remove_from.is_none()) {
            return Err(CoreError::MissingParameter("MoveToVersion"));
        }
        loop {
            let secret = self.live_secret(name).await?;
            let versions = self.store.list_secret_versions(name).await?;
            let holder = versions.iter().find(|v| v.stages.contains(stage)).map(|v| v.version_id.clone());
            if let Some(from) = remove_from
                && holder.as_ref() != Some(from)
            {
                return Err(CoreError::StageMismatch);
            }
            if let Some(to) = move_to
                && !versions.iter().any(|v| &v.version_id == to)
            {
                return Err(CoreError::SecretNotFound);
            }
            let mut moves = vec![(stage.clone(), move_to.cloned())];
            if stage.as_str() == VersionStage::CURRENT
                && let (Some(old), Some(to)) = (&holder, move_to)
                && old != to
            {
                moves.push((VersionStage::previous(), Some(old.clone())));
            }
            let updated = SecretRecord { updated_at: self.now(), ..secret };
            match self.store.change_secret(&updated, VersionChange { stages: &moves, ..Default::default() }).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => return Err(CoreError::SecretNotFound),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// GetRandomPassword: `length` characters drawn uniformly from the classes left in, minus
    /// `exclude`; with `each`, at least one character of every class left in.
    pub fn random_password(&self, rules: &PasswordRules) -> CoreResult<Zeroizing<String>> {
        let mut classes: Vec<Vec<char>> = Vec::new();
        let keep = |set: &str| -> Vec<char> { set.chars().filter(|c| !rules.exclude.contains(*c)).collect() };
        if !rules.no_lowercase {
            classes.push(keep("abcdefghijklmnopqrstuvwxyz"));
        }
        if !rules.no_uppercase {
            classes.push(keep("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
        }
        if !rules.no_numbers {
            classes.push(keep("0123456789"));
        }
        if !rules.no_punctuation {
            classes.push(keep(PUNCTUATION));
        }
        classes.retain(|c| !c.is_empty());
        let alphabet: Vec<char> = classes.concat();
        if alphabet.is_empty() || (rules.each_type && classes.len() > rules.length) {
            return Err(CoreError::InvalidParameter("ExcludeCharacters"));
        }
        loop {
            let mut out = Zeroizing::new(String::with_capacity(rules.length));
            while out.chars().count() < rules.length {
                out.push(self.uniform_pick(&alphabet)?);
            }
            if !rules.each_type || classes.iter().all(|class| out.chars().any(|c| class.contains(&c))) {
                return Ok(out);
            }
        }
    }

    /// One element of `items`, uniformly (rejection sampling: no modulo bias).
    fn uniform_pick(&self, items: &[char]) -> CoreResult<char> {
        let n = items.len() as u32;
        let limit = u32::MAX - u32::MAX % n;
        loop {
            let bytes = self.random_bytes(4)?;
            let v = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            if v < limit {
                return Ok(items[(v % n) as usize]);
            }
        }
    }

    /// DescribeSecret: the secret (also in its recovery window) and its tags.
    pub async fn describe_secret(&self, name: &SecretName) -> CoreResult<(SecretRecord, Vec<Tag>)> {
        let s = self.store.get_secret(name).await?.ok_or(CoreError::SecretNotFound)?;
        let tags = self.store.list_tags(kms_types::ResourceType::Secret, name.as_str()).await?;
        Ok((s, tags))
    }

    /// ListSecretVersionIds: every version, newest first.
    pub async fn secret_versions(&self, name: &SecretName) -> CoreResult<Vec<SecretVersionRecord>> {
        self.store.get_secret(name).await?.ok_or(CoreError::SecretNotFound)?;
        Ok(self.store.list_secret_versions(name).await?)
    }
}

/// One `Filters` entry of ListSecrets: a field and the values it may take (any of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFilter {
    /// Names containing any of these.
    Name(Vec<String>),
    /// Descriptions containing any of these.
    Description(Vec<String>),
    /// A tag with any of these keys.
    TagKey(Vec<String>),
    /// A tag with any of these values.
    TagValue(Vec<String>),
    /// Any of these secret types (kmsd stores `Generic` only).
    SecretType(Vec<String>),
    /// Secrets of any of these dedicated KMS instances: kmsd has none, so this matches nothing.
    DkmsInstanceId(Vec<String>),
    /// Secrets created by any of these account UIDs: every secret is the account's own.
    Creator(Vec<String>),
}

/// One row of ListSecrets.
pub struct ListedSecret {
    pub secret: SecretRecord,
    pub tags: Vec<Tag>,
}

impl Kms {
    /// ListSecrets: secrets in name order matching every filter (each filter: any of its
    /// values), one page of them, and how many match in all. Tags are read when asked for or
    /// filtered on.
    pub async fn list_secrets(
        &self,
        filters: &[SecretFilter],
        with_tags: bool,
        window: kms_store::Window,
    ) -> CoreResult<(Vec<ListedSecret>, u64)> {
        let tags_of = |name: SecretName| async move {
            self.store.list_tags(kms_types::ResourceType::Secret, name.as_str()).await
        };
        if filters.is_empty() {
            let page = self.store.list_secrets(window).await?;
            let mut out = Vec::with_capacity(page.items.len());
            for secret in page.items {
                let tags = if with_tags { tags_of(secret.name.clone()).await? } else { Vec::new() };
                out.push(ListedSecret { secret, tags });
            }
            return Ok((out, page.total));
        }
        // Filtered: walk every secret (names are the only index), keep the matches.
        let account = self.account().to_string();
        let needs_tags =
            with_tags || filters.iter().any(|f| matches!(f, SecretFilter::TagKey(_) | SecretFilter::TagValue(_)));
        let mut matched = Vec::new();
        let mut offset = 0;
        loop {
            let page = self.store.list_secrets(kms_store::Window { offset, limit: 1000 }).await?;
            let n = page.items.len() as u64;
            for secret in page.items {
                let tags = if needs_tags { tags_of(secret.name.clone()).await? } else { Vec::new() };
                let keep = filters.iter().all(|f| match f {
                    SecretFilter::Name(v) => v.iter().any(|x| secret.name.as_str().contains(x.as_str())),
                    SecretFilter::Description(v) => v.iter().any(|x| secret.description.contains(x.as_str())),
                    SecretFilter::TagKey(v) => tags.iter().any(|t| v.contains(&t.key)),
                    SecretFilter::TagValue(v) => tags.iter().any(|t| v.contains(&t.value)),
                    SecretFilter::SecretType(v) => v.iter().any(|x| x == "Generic"),
                    SecretFilter::DkmsInstanceId(v) => secret.dkms_instance_id.as_ref().is_some_and(|i| v.contains(i)),
                    SecretFilter::Creator(v) => v.iter().any(|x| x == &account),
                });
                if keep {
                    matched.push(ListedSecret { secret, tags: if with_tags { tags } else { Vec::new() } });
                }
            }
            if n < 1000 {
                break;
            }
            offset += n;
        }
        let total = matched.len() as u64;
        let page = matched.into_iter().skip(window.offset as usize).take(window.limit as usize).collect();
        Ok((page, total))
    }
}
