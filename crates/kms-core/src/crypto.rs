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
use kms_types::{EncryptionContext, KeyId, KeyRef, KeyUsage, KeyVersionId};
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
        if let (Some(v), Ok(mut m)) = (&found, self.materials.versions.lock()) {
            if m.len() >= MAX_CACHED_VERSIONS {
                m.clear();
            }
            m.insert(id.clone(), v.clone());
        }
        Ok(found)
    }

    /// The key and its primary version, checked for use with a symmetric operation.
    async fn usable_primary(&self, r: &KeyRef) -> CoreResult<(KeyRecord, VersionRecord)> {
        let key = self.resolve(r).await?;
        check(key.state, Operation::UseKey)?;
        if !key.spec.is_symmetric() || key.usage != KeyUsage::EncryptDecrypt {
            return Err(CoreError::KeyUnsupportedOperation);
        }
        let version = self.material(&key.primary_version).await?.ok_or(CoreError::KeyNotFound)?;
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
        let sealed = self.crypto.symmetric.seal(&material, label, &context.canonical_bytes(), plaintext)?;
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
        check(key.state, Operation::UseKey)?;
        let label = MaterialLabel { key_id: &key.id, version_id: &version.id, spec: key.spec };
        let material = kms_crypto::WrappedMaterial(version.material);
        let plaintext = self.crypto.symmetric.open(
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

impl Kms {
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
