//! Asymmetric keys (spec §7.5): public keys, signing and verifying a caller's digest,
//! public-key encryption and decryption.
//!
//! Every action names the key version explicitly (the cloud's API does). The private key is
//! used only behind the crypto provider; verifying and encrypting need only the public key,
//! which is derived from the version once and then kept in memory (it is not secret, and a
//! version's key pair never changes). RSA private-key work runs on the blocking pool, not on
//! the request workers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kms_crypto::{CryptoError, CryptoProvider, MaterialLabel, WrappedMaterial, public};
use kms_store::{KeyRecord, VersionRecord};
use kms_types::{AsymmetricAlgorithm, KeyId, KeyRef, KeyUsage, KeyVersionId, SIGNING_DIGEST_BYTES};
use zeroize::Zeroizing;

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;
use crate::state::{Operation, check};

/// The key and version an asymmetric action used, with its result.
#[derive(Debug)]
pub struct Asymmetric<T> {
    pub key_id: KeyId,
    pub version_id: KeyVersionId,
    pub value: T,
}

/// Public keys (DER SubjectPublicKeyInfo) by version.
#[derive(Default)]
pub(crate) struct PublicKeyCache {
    keys: Mutex<HashMap<KeyVersionId, Arc<Vec<u8>>>>,
}

/// A bound on memory; past it the table starts over.
const MAX_CACHED_PUBLIC_KEYS: usize = 10_000;

/// An owned copy of what [`MaterialLabel`] borrows, for work moved to another thread.
struct OwnedLabel {
    key_id: KeyId,
    version_id: KeyVersionId,
    spec: kms_types::KeySpec,
    level: kms_types::ProtectionLevel,
    material: WrappedMaterial,
}

impl OwnedLabel {
    fn of(key: &KeyRecord, version: &VersionRecord) -> Self {
        Self {
            key_id: key.id.clone(),
            version_id: version.id.clone(),
            spec: key.spec,
            level: key.protection_level,
            material: WrappedMaterial(version.material.clone()),
        }
    }

    fn label(&self) -> MaterialLabel<'_> {
        MaterialLabel { key_id: &self.key_id, version_id: &self.version_id, spec: self.spec }
    }
}

impl Kms {
    /// Runs private-key work on the blocking pool (an RSA-3072 operation takes milliseconds).
    pub(crate) async fn off_thread<T, F>(&self, work: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&CryptoProvider) -> Result<T, CryptoError> + Send + 'static,
    {
        let crypto = self.crypto.clone();
        match tokio::task::spawn_blocking(move || work(&crypto)).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(CoreError::Crypto(CryptoError::Backend)),
        }
    }

    /// The key (usable now, asymmetric, of `usage` when given) and its version named.
    async fn asymmetric_version(
        &self,
        r: &KeyRef,
        version: &KeyVersionId,
        usage: Option<KeyUsage>,
    ) -> CoreResult<(KeyRecord, VersionRecord)> {
        let key = self.resolve(r).await?;
        check(key.state, Operation::UseKey)?;
        if !key.spec.is_asymmetric() || usage.is_some_and(|u| u != key.usage) {
            return Err(CoreError::KeyUnsupportedOperation);
        }
        let version =
            self.material(version).await?.filter(|v| v.key_id == key.id).ok_or(CoreError::KeyVersionNotFound)?;
        Ok((key, version))
    }

    /// As [`Self::asymmetric_version`], for an algorithm: the key's usage must be the
    /// algorithm's, and the algorithm one of the key spec's.
    async fn for_algorithm(
        &self,
        r: &KeyRef,
        version: &KeyVersionId,
        algorithm: AsymmetricAlgorithm,
    ) -> CoreResult<(KeyRecord, VersionRecord)> {
        let (key, version) = self.asymmetric_version(r, version, Some(algorithm.usage())).await?;
        if !algorithm.fits(key.spec) {
            return Err(CoreError::InvalidParameter("Algorithm"));
        }
        Ok((key, version))
    }

    /// The version's public key, DER.
    async fn spki(&self, key: &KeyRecord, version: &VersionRecord) -> CoreResult<Arc<Vec<u8>>> {
        if let Some(hit) = self.public_keys.keys.lock().ok().and_then(|m| m.get(&version.id).cloned()) {
            return Ok(hit);
        }
        let owned = OwnedLabel::of(key, version);
        let der = Arc::new(
            self.off_thread(move |c| c.asymmetric_for(owned.level)?.public_key(&owned.material, owned.label())).await?,
        );
        if let Ok(mut m) = self.public_keys.keys.lock() {
            if m.len() >= MAX_CACHED_PUBLIC_KEYS {
                m.clear();
            }
            m.insert(version.id.clone(), der.clone());
        }
        Ok(der)
    }

    /// GetPublicKey: PEM SubjectPublicKeyInfo.
    pub async fn get_public_key(&self, r: &KeyRef, version: &KeyVersionId) -> CoreResult<Asymmetric<String>> {
        let (key, version) = self.asymmetric_version(r, version, None).await?;
        let pem = public::spki_pem(&self.spki(&key, &version).await?)?;
        Ok(Asymmetric { key_id: key.id, version_id: version.id, value: pem })
    }

    /// AsymmetricSign: signs a digest the caller computed.
    pub async fn asymmetric_sign(
        &self,
        r: &KeyRef,
        version: &KeyVersionId,
        algorithm: AsymmetricAlgorithm,
        digest: Vec<u8>,
    ) -> CoreResult<Asymmetric<Vec<u8>>> {
        let (key, version) = self.for_algorithm(r, version, algorithm).await?;
        if digest.len() != SIGNING_DIGEST_BYTES {
            return Err(CoreError::InvalidParameter("Digest"));
        }
        let owned = OwnedLabel::of(&key, &version);
        let signature = self
            .off_thread(move |c| {
                c.asymmetric_for(owned.level)?.sign(&owned.material, owned.label(), algorithm, &digest)
            })
            .await?;
        Ok(Asymmetric { key_id: key.id, version_id: version.id, value: signature })
    }

    /// AsymmetricVerify: whether the signature is the version's over the digest. A signature
    /// that is malformed or made by another key is `false`, not an error.
    pub async fn asymmetric_verify(
        &self,
        r: &KeyRef,
        version: &KeyVersionId,
        algorithm: AsymmetricAlgorithm,
        digest: &[u8],
        signature: &[u8],
    ) -> CoreResult<Asymmetric<bool>> {
        let (key, version) = self.for_algorithm(r, version, algorithm).await?;
        if digest.len() != SIGNING_DIGEST_BYTES {
            return Err(CoreError::InvalidParameter("Digest"));
        }
        let spki = self.spki(&key, &version).await?;
        let valid = public::verify(&spki, key.spec, algorithm, digest, signature)?;
        Ok(Asymmetric { key_id: key.id, version_id: version.id, value: valid })
    }

    /// AsymmetricEncrypt: encrypts to the version's public key.
    pub async fn asymmetric_encrypt(
        &self,
        r: &KeyRef,
        version: &KeyVersionId,
        algorithm: AsymmetricAlgorithm,
        plaintext: &[u8],
    ) -> CoreResult<Asymmetric<Vec<u8>>> {
        let (key, version) = self.for_algorithm(r, version, algorithm).await?;
        if algorithm.max_plaintext(key.spec).is_none_or(|max| plaintext.len() > max) {
            return Err(CoreError::InvalidParameter("Plaintext"));
        }
        let spki = self.spki(&key, &version).await?;
        let ciphertext = public::encrypt(&spki, key.spec, algorithm, plaintext)?;
        Ok(Asymmetric { key_id: key.id, version_id: version.id, value: ciphertext })
    }

    /// AsymmetricDecrypt: anything that does not decrypt is an invalid ciphertext, with one
    /// answer whatever the cause.
    pub async fn asymmetric_decrypt(
        &self,
        r: &KeyRef,
        version: &KeyVersionId,
        algorithm: AsymmetricAlgorithm,
        ciphertext: Vec<u8>,
    ) -> CoreResult<Asymmetric<Zeroizing<Vec<u8>>>> {
        let (key, version) = self.for_algorithm(r, version, algorithm).await?;
        let owned = OwnedLabel::of(&key, &version);
        let plaintext = self
            .off_thread(move |c| {
                c.asymmetric_for(owned.level)?.decrypt(&owned.material, owned.label(), algorithm, &ciphertext)
            })
            .await
            .map_err(|e| match e {
                // The key's backend (an HSM) lacks this algorithm.
                CoreError::Crypto(CryptoError::Unsupported) => CoreError::Unsupported("Algorithm"),
                other => other,
            })?;
        Ok(Asymmetric { key_id: key.id, version_id: version.id, value: plaintext })
    }
}
