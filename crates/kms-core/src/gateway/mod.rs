//! The key service behind an instance gateway (docs/design/gateway.md §7, §10): who a
//! ClientKey speaks for, what its access point's policies let it reach, and the instance
//! API's cryptography — caller-chosen IVs and raw AAD, the key's initial version for the plain
//! operations and its primary version, named in the ciphertext, for the `Advance` ones.
//!
//! A request's key is resolved and admitted once ([`Kms::gateway_key`], for the
//! [`Application`] the request authenticated as and the address it came from): a key outside
//! every KMS instance is `Forbidden.KeyNotFound` before the policies are asked (the gateway
//! knows only instance keys), so an application learns nothing about default keys.

use std::net::IpAddr;

use aws_lc_rs::digest::{SHA256, digest};
use kms_crypto::MaterialLabel;
use kms_crypto::blob::CiphertextBlob;
use kms_store::{KeyRecord, VersionRecord, Window};
use kms_types::{
    AsymmetricAlgorithm, KeyRef, KeySpec, KeyUsage, KeyVersionId, SecretName, SecretVersionId, VersionStage,
};
use zeroize::Zeroizing;

mod application;

pub(crate) use application::ApplicationCache;
pub use application::{Application, Grant};

use crate::crypto::Decrypted;
use crate::error::{CoreError, CoreResult};
use crate::secrets::SecretValue;
use crate::service::Kms;

/// `NumberOfBytes` of a data key when not given, and the bounds of data keys and randoms.
pub const DEFAULT_DATA_KEY_BYTES: usize = 32;
pub const MAX_RANDOM_BYTES: usize = 1024;

/// Who asks, and from where.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub app: &'a Application,
    /// The TCP peer of the gateway connection.
    pub peer: IpAddr,
}

/// An instance key a caller was admitted to ([`Kms::gateway_key`]); its record stays in here.
#[derive(Debug, Clone)]
pub struct GatewayKey(KeyRecord);

impl GatewayKey {
    /// Whether it is an RSA/EC key (which Encrypt/Decrypt of the instance API then mean).
    pub fn is_asymmetric(&self) -> bool {
        self.0.spec.is_asymmetric()
    }

    /// The key by id, with its (only) version: what the asymmetric operations take.
    fn asymmetric(&self) -> (KeyRef, KeyVersionId) {
        (KeyRef::Id { id: self.0.id.clone(), scope: None }, self.0.primary_version.clone())
    }
}

/// A symmetric ciphertext of the instance API, and what made it.
#[derive(Debug, Clone)]
pub struct InstanceSealed {
    pub key_id: kms_types::KeyId,
    pub version_id: KeyVersionId,
    pub iv: [u8; 12],
    pub ciphertext_and_tag: Vec<u8>,
}

impl InstanceSealed {
    /// The classic blob layout (version ‖ IV ‖ ct‖tag) that follows an Advance head.
    pub fn classic_blob(&self) -> Vec<u8> {
        CiphertextBlob {
            version_id: self.version_id.clone(),
            iv: self.iv,
            ciphertext_and_tag: &self.ciphertext_and_tag,
        }
        .encode()
    }
}

/// A data key pair: the public key, the private key in the clear (unless not asked for) and
/// sealed under a key of the KMS.
pub struct DataKeyPair {
    pub public_key: Vec<u8>,
    pub private_key: Option<Zeroizing<Vec<u8>>>,
    pub sealed_private_key: InstanceSealed,
}

/// The encodings GenerateDataKeyPair offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    Pem,
    Der,
}

impl Kms {
    /// The instance key a request names, once the caller is found to may use it: what every
    /// key operation below takes, so a request resolves and checks its key once.
    pub async fn gateway_key(&self, caller: Caller<'_>, r: &KeyRef) -> CoreResult<GatewayKey> {
        let key = self.resolve(r).await?;
        self.admit_key(caller, key).map(GatewayKey)
    }

    fn admit_key(&self, caller: Caller<'_>, key: KeyRecord) -> CoreResult<KeyRecord> {
        let Some(instance) = key.dkms_instance_id.as_deref() else { return Err(CoreError::KeyNotFound) };
        if !caller.app.sees(instance) {
            return Err(CoreError::KeyNotFound);
        }
        if !caller.app.allows(Grant::Key, Some(&format!("key/{}", key.id)), instance, caller.peer) {
            return Err(CoreError::NoPermission);
        }
        Ok(key)
    }

    /// The instance key that owns `version`, if the caller may use it.
    async fn gateway_key_of_version(&self, caller: Caller<'_>, version: &KeyVersionId) -> CoreResult<KeyRecord> {
        let id = self.key_of_version(version).await?.ok_or(CoreError::KeyNotFound)?;
        let key = self.resolve(&KeyRef::Id { id, scope: None }).await?;
        self.admit_key(caller, key)
    }

    /// A symmetric key's version for use now.
    async fn symmetric_version(&self, key: &KeyRecord, version: &KeyVersionId) -> CoreResult<VersionRecord> {
        self.check_use(key)?;
        if !key.spec.is_symmetric() || key.usage != KeyUsage::EncryptDecrypt {
            return Err(CoreError::KeyUnsupportedOperation);
        }
        let v = self.material(version).await?.filter(|v| v.key_id == key.id).ok_or(CoreError::KeyNotFound)?;
        if v.material.is_empty() {
            return Err(CoreError::InvalidState {
                state: kms_types::KeyState::PendingImport,
                op: crate::state::Operation::UseKey,
            });
        }
        Ok(v)
    }

    /// The version a key was created with (its oldest): what the plain instance operations use.
    /// It never changes, so it is looked up once per key and kept.
    async fn initial_version(&self, key: &KeyRecord) -> CoreResult<KeyVersionId> {
        if let Some(hit) = self.materials.initial_version(&key.id) {
            return Ok(hit);
        }
        let all = self.store.list_versions(&key.id, Window { offset: 0, limit: 0 }).await?;
        let oldest = Window { offset: all.total.saturating_sub(1), limit: 1 };
        let page = self.store.list_versions(&key.id, oldest).await?;
        let id = page.items.into_iter().next().map(|v| v.id).ok_or(CoreError::KeyNotFound)?;
        self.materials.remember_initial_version(&key.id, &id);
        Ok(id)
    }

    fn seal_raw(
        &self,
        key: &KeyRecord,
        version: &VersionRecord,
        iv: Option<&[u8; 12]>,
        aad: &[u8],
        plaintext: &[u8],
    ) -> CoreResult<InstanceSealed> {
        let label = MaterialLabel { key_id: &key.id, version_id: &version.id, spec: key.spec };
        let material = kms_crypto::WrappedMaterial(version.material.clone());
        let sealed = self.symmetric_of(key)?.seal(&material, label, iv, aad, plaintext)?;
        self.usage.encrypted(&version.id, self.now());
        Ok(InstanceSealed {
            key_id: key.id.clone(),
            version_id: version.id.clone(),
            iv: sealed.iv,
            ciphertext_and_tag: sealed.ciphertext_and_tag,
        })
    }

    /// Encrypt / AdvanceEncrypt (and the sealing of data keys): the initial version, or for
    /// `advance` the primary one; the caller's IV when given.
    pub async fn gateway_encrypt(
        &self,
        GatewayKey(key): &GatewayKey,
        advance: bool,
        iv: Option<&[u8; 12]>,
        aad: &[u8],
        plaintext: &[u8],
    ) -> CoreResult<InstanceSealed> {
        let version = if advance { key.primary_version.clone() } else { self.initial_version(key).await? };
        let version = self.symmetric_version(key, &version).await?;
        self.seal_raw(key, &version, iv, aad, plaintext)
    }

    /// Decrypt: a plain instance ciphertext under the key's initial version — or, when the
    /// transfer client names it (`x-kms-migrationkeyversionid`), that version.
    pub async fn gateway_decrypt(
        &self,
        caller: Caller<'_>,
        named: Option<&GatewayKey>,
        version: Option<&KeyVersionId>,
        iv: &[u8; 12],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> CoreResult<Decrypted> {
        match (named, version) {
            (_, Some(v)) => {
                let key = self.gateway_key_of_version(caller, v).await?;
                if named.is_some_and(|GatewayKey(n)| n.id != key.id) {
                    return Err(CoreError::InvalidCiphertext);
                }
                self.open_raw(&key, v, iv, aad, ciphertext_and_tag).await
            }
            (Some(GatewayKey(key)), None) => {
                let v = self.initial_version(key).await?;
                self.open_raw(key, &v, iv, aad, ciphertext_and_tag).await
            }
            (None, None) => Err(CoreError::MissingParameter("KeyId")),
        }
    }

    /// AdvanceDecrypt: the classic blob after the Advance head names its version.
    pub async fn gateway_advance_decrypt(&self, caller: Caller<'_>, blob: &[u8], aad: &[u8]) -> CoreResult<Decrypted> {
        let parsed = CiphertextBlob::parse(blob).map_err(|_| CoreError::InvalidCiphertext)?;
        let key = self.gateway_key_of_version(caller, &parsed.version_id).await?;
        self.open_raw(&key, &parsed.version_id, &parsed.iv, aad, parsed.ciphertext_and_tag).await
    }

    async fn open_raw(
        &self,
        key: &KeyRecord,
        version: &KeyVersionId,
        iv: &[u8; 12],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> CoreResult<Decrypted> {
        let version = self.symmetric_version(key, version).await?;
        let label = MaterialLabel { key_id: &key.id, version_id: &version.id, spec: key.spec };
        let material = kms_crypto::WrappedMaterial(version.material.clone());
        let plaintext = self.symmetric_of(key)?.open(&material, label, iv, aad, ciphertext_and_tag)?;
        self.usage.decrypted(&version.id, self.now());
        Ok(Decrypted { key_id: key.id.clone(), version_id: version.id, plaintext })
    }

    /// GenerateDataKey / AdvanceGenerateDataKey: `len` random bytes, and them sealed.
    pub async fn gateway_data_key(
        &self,
        key: &GatewayKey,
        advance: bool,
        len: usize,
        aad: &[u8],
    ) -> CoreResult<(Zeroizing<Vec<u8>>, InstanceSealed)> {
        if !(1..=MAX_RANDOM_BYTES).contains(&len) {
            return Err(CoreError::InvalidParameter("NumberOfBytes"));
        }
        let plaintext = self.crypto.random_bytes(len)?;
        let sealed = self.gateway_encrypt(key, advance, None, aad, &plaintext).await?;
        Ok((plaintext, sealed))
    }

    /// GenerateDataKeyPair and its variants: a new key pair of `spec`, its private half sealed
    /// under the key (initial version, or the primary one for `advance`).
    pub async fn gateway_data_key_pair(
        &self,
        GatewayKey(key): &GatewayKey,
        advance: bool,
        spec: KeySpec,
        format: KeyFormat,
        with_plaintext: bool,
        aad: &[u8],
    ) -> CoreResult<DataKeyPair> {
        if !spec.is_asymmetric() {
            return Err(CoreError::InvalidParameter("KeyPairSpec"));
        }
        let version = if advance { key.primary_version.clone() } else { self.initial_version(key).await? };
        let version = self.symmetric_version(key, &version).await?;
        let (private_der, public_der) = self.off_thread(move |_| kms_crypto::data_key_pair(spec)).await?;
        let (private, public) = match format {
            KeyFormat::Der => (private_der, public_der),
            KeyFormat::Pem => {
                let pem = pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, &private_der)
                    .map_err(|_| CoreError::Crypto(kms_crypto::CryptoError::Backend))?;
                let public = kms_crypto::public::spki_pem(&public_der)?;
                (Zeroizing::new(pem.into_bytes()), public.into_bytes())
            }
        };
        let sealed = self.seal_raw(key, &version, None, aad, &private)?;
        Ok(DataKeyPair {
            public_key: public,
            private_key: with_plaintext.then_some(private),
            sealed_private_key: sealed,
        })
    }

    /// Sign: the message is hashed here (`RAW`) or is the digest (`DIGEST`).
    pub async fn gateway_sign(
        &self,
        key: &GatewayKey,
        algorithm: AsymmetricAlgorithm,
        message: &[u8],
        raw: bool,
    ) -> CoreResult<crate::Asymmetric<Vec<u8>>> {
        let (id, version) = key.asymmetric();
        let digest = message_digest(algorithm, message, raw)?;
        self.asymmetric_sign(&id, &version, algorithm, digest).await
    }

    pub async fn gateway_verify(
        &self,
        key: &GatewayKey,
        algorithm: AsymmetricAlgorithm,
        message: &[u8],
        raw: bool,
        signature: &[u8],
    ) -> CoreResult<crate::Asymmetric<bool>> {
        let (id, version) = key.asymmetric();
        let digest = message_digest(algorithm, message, raw)?;
        self.asymmetric_verify(&id, &version, algorithm, &digest, signature).await
    }

    /// Hmac: the MAC of the key's own algorithm (the request names none).
    pub async fn gateway_hmac(&self, GatewayKey(key): &GatewayKey, message: &[u8]) -> CoreResult<crate::Mac<Vec<u8>>> {
        self.mac_with(key, None, message).await
    }

    pub async fn gateway_public_key(&self, key: &GatewayKey) -> CoreResult<crate::Asymmetric<String>> {
        let (id, version) = key.asymmetric();
        self.get_public_key(&id, &version).await
    }

    /// Encrypt with an asymmetric key: the public-key encryption of the classic API.
    pub async fn gateway_public_encrypt(
        &self,
        key: &GatewayKey,
        algorithm: AsymmetricAlgorithm,
        plaintext: &[u8],
    ) -> CoreResult<crate::Asymmetric<Vec<u8>>> {
        let (id, version) = key.asymmetric();
        self.asymmetric_encrypt(&id, &version, algorithm, plaintext).await
    }

    pub async fn gateway_private_decrypt(
        &self,
        key: &GatewayKey,
        algorithm: AsymmetricAlgorithm,
        ciphertext: Vec<u8>,
    ) -> CoreResult<crate::Asymmetric<Zeroizing<Vec<u8>>>> {
        let (id, version) = key.asymmetric();
        self.asymmetric_decrypt(&id, &version, algorithm, ciphertext).await
    }

    /// The KMS instance a key belongs to (`None`: a default key) — the classic API on an
    /// instance gateway reaches instance keys only.
    pub async fn instance_of_key(&self, r: &KeyRef) -> CoreResult<Option<String>> {
        Ok(self.resolve(r).await?.dkms_instance_id)
    }

    /// The KMS instance a secret belongs to (`None`: a default secret).
    pub async fn instance_of_secret(&self, name: &SecretName) -> CoreResult<Option<String>> {
        Ok(self.store.get_secret(name).await?.ok_or(CoreError::SecretNotFound)?.dkms_instance_id)
    }

    /// GenerateRandom.
    pub fn gateway_random(&self, caller: Caller<'_>, len: usize) -> CoreResult<Zeroizing<Vec<u8>>> {
        if !(1..=MAX_RANDOM_BYTES).contains(&len) {
            return Err(CoreError::InvalidParameter("Length"));
        }
        if !caller.app.allows_unscoped(caller.peer) {
            return Err(CoreError::NoPermission);
        }
        Ok(self.crypto.random_bytes(len)?)
    }

    /// GetSecretValue of a secret in an instance.
    pub async fn gateway_secret_value(
        &self,
        caller: Caller<'_>,
        name: &SecretName,
        version: Option<&SecretVersionId>,
        stage: Option<&VersionStage>,
    ) -> CoreResult<SecretValue> {
        let secret = self.store.get_secret(name).await?.ok_or(CoreError::SecretNotFound)?;
        let Some(instance) = secret.dkms_instance_id.as_deref() else { return Err(CoreError::SecretNotFound) };
        if !caller.app.sees(instance) {
            return Err(CoreError::SecretNotFound);
        }
        if !caller.app.allows(Grant::Secret, Some(&format!("secret/{name}")), instance, caller.peer) {
            return Err(CoreError::NoPermission);
        }
        self.value_of(crate::secrets::live(secret)?, version, stage).await
    }
}

/// The digest to sign: the message's SHA-256 for `RAW`, the message itself for `DIGEST`.
/// SM2 signs SM3 over its Z value, which needs the public key: `RAW` is not offered for it.
fn message_digest(algorithm: AsymmetricAlgorithm, message: &[u8], raw: bool) -> CoreResult<Vec<u8>> {
    if !raw {
        return Ok(message.to_vec());
    }
    if algorithm == AsymmetricAlgorithm::Sm2Dsa {
        return Err(CoreError::Unsupported("MessageType RAW with SM2DSA"));
    }
    Ok(digest(&SHA256, message).as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_messages_are_hashed_digests_are_not() {
        let d = message_digest(AsymmetricAlgorithm::EcdsaSha256, b"abc", true).unwrap();
        assert_eq!(hex::encode(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(message_digest(AsymmetricAlgorithm::EcdsaSha256, &[1; 32], false).unwrap(), vec![1; 32]);
        assert!(message_digest(AsymmetricAlgorithm::Sm2Dsa, b"abc", true).is_err());
    }
}
