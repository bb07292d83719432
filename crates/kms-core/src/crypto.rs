//! Encrypt, Decrypt and data keys (spec §7.4, §8.1).
//!
//! Encrypt always uses the key's primary version; Decrypt reads the version from the blob's
//! first 36 bytes, so it works for every version the store keeps and needs no KeyId. A blob
//! naming a version this store does not have (another region's, another deployment's) is
//! "key not found"; a blob that is malformed, altered or given the wrong context is "invalid
//! ciphertext" — never an internal error.

use kms_crypto::MaterialLabel;
use kms_crypto::blob::CiphertextBlob;
use kms_store::{KeyRecord, VersionRecord};
use kms_types::{EncryptionContext, KeyId, KeyRef, KeyState, KeyUsage, KeyVersionId};
use zeroize::Zeroizing;

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;
use crate::state::{Operation, check};

/// A ciphertext and the key version that made it.
#[derive(Debug, Clone)]
pub struct Encrypted {
    pub key_id: KeyId,
    pub version_id: KeyVersionId,
    pub blob: Vec<u8>,
}

/// A recovered plaintext (wiped on drop) and where it came from.
#[derive(Debug)]
pub struct Decrypted {
    pub key_id: KeyId,
    pub version_id: KeyVersionId,
    pub plaintext: Zeroizing<Vec<u8>>,
}

/// A fresh data key in the clear and wrapped.
#[derive(Debug)]
pub struct DataKey {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub wrapped: Encrypted,
}

/// Versions as the crypto path needs them (id, key, wrapped material), by id. A version's
/// material never changes once stored, so entries stay right on every engine and every node;
/// a destroyed key's versions may linger here, but its key lookup — which every use makes
/// after this one — fails. Only wrapped material is held, never plaintext keys.
#[derive(Default)]
pub(crate) struct MaterialCache {
    versions: std::sync::Mutex<std::collections::HashMap<KeyVersionId, VersionRecord>>,
    /// Each key's first version (the instance API's plain operations use it; it never changes).
    initial: std::sync::Mutex<std::collections::HashMap<KeyId, KeyVersionId>>,
}

impl MaterialCache {
    pub(crate) fn initial_version(&self, key: &KeyId) -> Option<KeyVersionId> {
        self.initial.lock().ok()?.get(key).cloned()
    }

    pub(crate) fn remember_initial_version(&self, key: &KeyId, version: &KeyVersionId) {
        if let Ok(mut m) = self.initial.lock() {
            if m.len() >= MAX_CACHED_VERSIONS {
                m.clear();
            }
            m.insert(key.clone(), version.clone());
        }
    }
}

/// A bound on memory; past it the table starts over.
const MAX_CACHED_VERSIONS: usize = 100_000;

impl Kms {
    /// A version for encrypting or decrypting: from memory, else from the store.
    pub(crate) async fn material(&self, id: &KeyVersionId) -> CoreResult<Option<VersionRecord>> {
        if let Some(hit) = self.materials.versions.lock().ok().and_then(|m| m.get(id).cloned()) {
            return Ok(Some(hit));
        }
        let found = self.store.get_version(id).await?;
        if let Some(v) = &found {
            self.know_root_key_of(&v.material).await;
        }
        // An `EXTERNAL` key's version without material yet (or any more) gets it later.
        if let (Some(v), Ok(mut m)) =
            (found.as_ref().filter(|v| !v.material.is_empty()), self.materials.versions.lock())
        {
            if m.len() >= MAX_CACHED_VERSIONS {
                m.clear();
            }
            m.insert(id.clone(), v.clone());
        }
        Ok(found)
    }

    /// The key a version belongs to, if the store has the version (the audit trail names the
    /// key a ciphertext blob reaches).
    pub async fn key_of_version(&self, id: &KeyVersionId) -> CoreResult<Option<KeyId>> {
        Ok(self.material(id).await?.map(|v| v.key_id))
    }

    /// Drops a version from memory (its imported material was taken away).
    pub(crate) fn forget_material(&self, id: &KeyVersionId) {
        if let Ok(mut m) = self.materials.versions.lock() {
            m.remove(id);
        }
    }

    /// Whether the key may be used now: its state, and for imported material that expired
    /// before the scheduled job took it away, `PendingImport` already.
    pub(crate) fn check_use(&self, key: &KeyRecord) -> CoreResult<()> {
        if key.material_expire_at.is_some_and(|at| at <= self.now()) {
            return check(KeyState::PendingImport, Operation::UseKey);
        }
        check(key.state, Operation::UseKey)
    }

    /// The backend holding a symmetric key's material: software (wrapped by the root key), or
    /// the PKCS#11 token for `ProtectionLevel=HSM` keys.
    pub(crate) fn symmetric_of(&self, key: &KeyRecord) -> CoreResult<&dyn kms_crypto::SymmetricKeys> {
        self.symmetric_backend(key.protection_level)
    }

    /// The backend for symmetric keys of a protection level (`Unsupported` for HSM without a token).
    pub(crate) fn symmetric_backend(
        &self,
        level: kms_types::ProtectionLevel,
    ) -> CoreResult<&dyn kms_crypto::SymmetricKeys> {
        match level {
            kms_types::ProtectionLevel::Software => Ok(&*self.crypto.symmetric),
            kms_types::ProtectionLevel::Hsm => match &self.crypto.hsm {
                Some(hsm) => Ok(&**hsm),
                None => Err(CoreError::Crypto(kms_crypto::CryptoError::Unsupported)),
            },
        }
    }

    /// The key and its primary version, checked for use with a symmetric operation.
    async fn usable_primary(&self, r: &KeyRef) -> CoreResult<(KeyRecord, VersionRecord)> {
        let key = self.resolve(r).await?;
        self.check_use(&key)?;
        if !key.spec.is_symmetric() || key.usage != KeyUsage::EncryptDecrypt {
            return Err(CoreError::KeyUnsupportedOperation);
        }
        let version = self.material(&key.primary_version).await?.ok_or(CoreError::KeyNotFound)?;
        // Imported material taken away while the key waited for deletion, the key restored
        // since: it has nothing to encrypt with, as PendingImport says.
        if version.material.is_empty() {
            check(KeyState::PendingImport, Operation::UseKey)?;
        }
        Ok((key, version))
    }

    fn seal(
        &self,
        key: &KeyRecord,
        version: &VersionRecord,
        context: &EncryptionContext,
        plaintext: &[u8],
    ) -> CoreResult<Encrypted> {
        let label = MaterialLabel { key_id: &key.id, version_id: &version.id, spec: key.spec };
        let material = kms_crypto::WrappedMaterial(version.material.clone());
        let sealed = self.symmetric_of(key)?.seal(&material, label, None, &context.canonical_bytes(), plaintext)?;
        self.usage.encrypted(&version.id, self.now());
        let blob = CiphertextBlob {
            version_id: version.id.clone(),
            iv: sealed.iv,
            ciphertext_and_tag: &sealed.ciphertext_and_tag,
        };
        Ok(Encrypted { key_id: key.id.clone(), version_id: version.id.clone(), blob: blob.encode() })
    }

    /// Encrypt.
    pub async fn encrypt(&self, r: &KeyRef, context: &EncryptionContext, plaintext: &[u8]) -> CoreResult<Encrypted> {
        let (key, version) = self.usable_primary(r).await?;
        self.seal(&key, &version, context, plaintext)
    }

    /// Decrypt.
    pub async fn decrypt(&self, blob: &[u8], context: &EncryptionContext) -> CoreResult<Decrypted> {
        let blob = CiphertextBlob::parse(blob).map_err(|_| CoreError::InvalidCiphertext)?;
        let version = self.material(&blob.version_id).await?.ok_or(CoreError::KeyNotFound)?;
        let key = self.store.get_key(&version.key_id).await?.ok_or(CoreError::KeyNotFound)?;
        self.check_use(&key)?;
        // A blob may name any version id; one of a key pair is no symmetric ciphertext.
        if !key.spec.is_symmetric() {
            return Err(CoreError::KeyUnsupportedOperation);
        }
        let label = MaterialLabel { key_id: &key.id, version_id: &version.id, spec: key.spec };
        let material = kms_crypto::WrappedMaterial(version.material);
        let plaintext = self.symmetric_of(&key)?.open(
            &material,
            label,
            &blob.iv,
            &context.canonical_bytes(),
            blob.ciphertext_and_tag,
        )?;
        self.usage.decrypted(&version.id, self.now());
        Ok(Decrypted { key_id: key.id, version_id: version.id, plaintext })
    }

    /// GenerateDataKey / GenerateDataKeyWithoutPlaintext: `len` random bytes, wrapped under
    /// the key's primary version exactly as Encrypt would wrap them.
    pub async fn generate_data_key(&self, r: &KeyRef, context: &EncryptionContext, len: usize) -> CoreResult<DataKey> {
        let (key, version) = self.usable_primary(r).await?;
        let plaintext = self.crypto.random_bytes(len)?;
        let wrapped = self.seal(&key, &version, context, &plaintext)?;
        Ok(DataKey { plaintext, wrapped })
    }
}

/// Where ExportDataKey / GenerateAndExportDataKey send a data key: a caller's public key.
#[derive(Debug, Clone)]
pub struct ExportTo<'a> {
    /// DER SubjectPublicKeyInfo.
    pub public_key: &'a [u8],
    pub spec: kms_types::KeySpec,
    pub algorithm: kms_types::AsymmetricAlgorithm,
}

impl ExportTo<'_> {
    /// The data key encrypted to the public key; `too_long` names the parameter to blame when
    /// the data key is longer than the algorithm takes.
    fn seal(&self, data_key: &[u8], too_long: &'static str) -> CoreResult<Vec<u8>> {
        if self.algorithm.max_plaintext(self.spec).is_none_or(|max| data_key.len() > max) {
            return Err(CoreError::InvalidParameter(too_long));
        }
        kms_crypto::public::encrypt(self.public_key, self.spec, self.algorithm, data_key)
            .map_err(|_| CoreError::InvalidParameter("PublicKeyBlob"))
    }
}

impl Kms {
    /// ExportDataKey: opens a data-key blob (its own key version, like Decrypt) and encrypts
    /// the data key to the caller's public key; answers the version that opened it.
    pub async fn export_data_key(
        &self,
        blob: &[u8],
        context: &EncryptionContext,
        to: &ExportTo<'_>,
    ) -> CoreResult<Encrypted> {
        let opened = self.decrypt(blob, context).await?;
        let exported = to.seal(&opened.plaintext, "CiphertextBlob")?;
        Ok(Encrypted { key_id: opened.key_id, version_id: opened.version_id, blob: exported })
    }

    /// GenerateAndExportDataKey: a new data key, wrapped under the key's primary version and
    /// encrypted to the caller's public key; the plaintext never leaves the service.
    pub async fn generate_and_export_data_key(
        &self,
        r: &KeyRef,
        context: &EncryptionContext,
        len: usize,
        to: &ExportTo<'_>,
    ) -> CoreResult<(Encrypted, Vec<u8>)> {
        let (key, version) = self.usable_primary(r).await?;
        let plaintext = self.crypto.random_bytes(len)?;
        let exported = to.seal(&plaintext, "NumberOfBytes")?;
        Ok((self.seal(&key, &version, context, &plaintext)?, exported))
    }

    /// ReEncrypt from a public-key ciphertext of an asymmetric key version.
    pub async fn re_encrypt_from_public_key(
        &self,
        source: &KeyRef,
        source_version: &KeyVersionId,
        algorithm: kms_types::AsymmetricAlgorithm,
        ciphertext: Vec<u8>,
        destination: &KeyRef,
        destination_context: &EncryptionContext,
    ) -> CoreResult<Encrypted> {
        let (key, version) = self.usable_primary(destination).await?;
        let opened = self.asymmetric_decrypt(source, source_version, algorithm, ciphertext).await?;
        self.seal(&key, &version, destination_context, &opened.value)
    }

    /// ReEncrypt (symmetric source): opens the blob under its own key and source context, and
    /// seals the plaintext under the destination key's primary version and context. The
    /// plaintext never leaves the service.
    pub async fn re_encrypt(
        &self,
        blob: &[u8],
        source_context: &EncryptionContext,
        destination: &KeyRef,
        destination_context: &EncryptionContext,
    ) -> CoreResult<Encrypted> {
        let (key, version) = self.usable_primary(destination).await?;
        let opened = self.decrypt(blob, source_context).await?;
        self.seal(&key, &version, destination_context, &opened.plaintext)
    }
}
