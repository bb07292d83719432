//! HMAC keys (spec §7.6): GenerateMac and VerifyMac, and the instance API's `Hmac`.
//!
//! An HMAC key has one version, made with the key, and one algorithm, its spec's: the cloud
//! does not rotate HMAC keys, so a MAC needs no version to be checked later and the answers
//! name none. The message limit is Encrypt's (Alibaba documents none; 6 KiB is more than AWS's
//! and Huawei's 4 KiB, so no caller the cloud takes is refused here).

use kms_crypto::{MaterialLabel, WrappedMaterial};
use kms_store::{KeyRecord, VersionRecord};
use kms_types::{KeyId, KeyRef, MacAlgorithm, limits::MAX_PLAINTEXT_BYTES};

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;

/// A MAC action's answer and the key (its real id) that gave it.
#[derive(Debug, Clone)]
pub struct Mac<T> {
    pub key_id: KeyId,
    pub algorithm: MacAlgorithm,
    pub value: T,
}

/// Which messages a MAC is computed over: 1 to 6144 bytes.
pub(crate) fn check_message(message: &[u8]) -> CoreResult<()> {
    if message.is_empty() || message.len() > MAX_PLAINTEXT_BYTES {
        return Err(CoreError::InvalidParameter("Message"));
    }
    Ok(())
}

/// The algorithm a MAC action runs on `key`: its spec's. A key of another kind cannot compute
/// MACs at all (`UnsupportedOperation`); naming another HMAC algorithm than the key's is a bad
/// parameter, as an asymmetric algorithm of another spec is.
pub(crate) fn algorithm_for(key: &KeyRecord, asked: Option<MacAlgorithm>) -> CoreResult<MacAlgorithm> {
    let own = key.spec.mac_algorithm().ok_or(CoreError::KeyUnsupportedOperation)?;
    match asked {
        Some(a) if a != own => Err(CoreError::InvalidParameter("Algorithm")),
        _ => Ok(own),
    }
}

impl Kms {
    /// The key's (only) version, for a MAC now.
    async fn mac_version(
        &self,
        key: &KeyRecord,
        asked: Option<MacAlgorithm>,
    ) -> CoreResult<(MacAlgorithm, VersionRecord)> {
        self.check_use(key)?;
        let algorithm = algorithm_for(key, asked)?;
        let version = self
            .material(&key.primary_version)
            .await?
            .filter(|v| v.key_id == key.id && !v.material.is_empty())
            .ok_or(CoreError::KeyNotFound)?;
        Ok((algorithm, version))
    }

    /// The MAC of `message` with `key`, which the caller resolved.
    pub(crate) async fn mac_with(
        &self,
        key: &KeyRecord,
        asked: Option<MacAlgorithm>,
        message: &[u8],
    ) -> CoreResult<Mac<Vec<u8>>> {
        let (algorithm, version) = self.mac_version(key, asked).await?;
        check_message(message)?;
        let label = MaterialLabel { key_id: &key.id, version_id: &version.id, spec: key.spec };
        let mac = self.crypto.mac.mac(&WrappedMaterial(version.material), label, message)?;
        Ok(Mac { key_id: key.id.clone(), algorithm, value: mac })
    }

    /// GenerateMac.
    pub async fn generate_mac(&self, r: &KeyRef, algorithm: MacAlgorithm, message: &[u8]) -> CoreResult<Mac<Vec<u8>>> {
        let key = self.resolve(r).await?;
        self.mac_with(&key, Some(algorithm), message).await
    }

    /// VerifyMac: whether `mac` is the key's MAC of `message`. A wrong MAC, of any length, is
    /// `false`, not an error (the cloud's answer is the boolean `Value`).
    pub async fn verify_mac(
        &self,
        r: &KeyRef,
        algorithm: MacAlgorithm,
        message: &[u8],
        mac: &[u8],
    ) -> CoreResult<Mac<bool>> {
        let key = self.resolve(r).await?;
        let (algorithm, version) = self.mac_version(&key, Some(algorithm)).await?;
        check_message(message)?;
        let label = MaterialLabel { key_id: &key.id, version_id: &version.id, spec: key.spec };
        let valid = self.crypto.mac.verify(&WrappedMaterial(version.material), label, message, mac)?;
        Ok(Mac { key_id: key.id, algorithm, value: valid })
    }
}

#[cfg(test)]
mod tests {
    use kms_types::{KeySpec, KeyState, KeyUsage, KeyVersionId, Origin, ProtectionLevel};

    use super::*;

    fn key(spec: KeySpec) -> KeyRecord {
        KeyRecord {
            id: KeyId::generate(),
            spec,
            usage: spec.default_usage(),
            origin: Origin::AliyunKms,
            protection_level: ProtectionLevel::Software,
            state: KeyState::Enabled,
            description: String::new(),
            creator: String::new(),
            created_at: 0,
            primary_version: KeyVersionId::generate(),
            deletion_protection: false,
            deletion_protection_description: String::new(),
            delete_at: None,
            rotation_interval: None,
            last_rotation_at: 0,
            next_rotation_at: None,
            material_expire_at: None,
            material_fingerprint: None,
            dkms_instance_id: None,
            revision: 0,
        }
    }

    #[test]
    fn only_the_keys_own_algorithm_runs() {
        let k = key(KeySpec::HmacSha384);
        assert_eq!(algorithm_for(&k, None).unwrap(), MacAlgorithm::HmacSha384);
        assert_eq!(algorithm_for(&k, Some(MacAlgorithm::HmacSha384)).unwrap(), MacAlgorithm::HmacSha384);
        assert!(matches!(
            algorithm_for(&k, Some(MacAlgorithm::HmacSha256)),
            Err(CoreError::InvalidParameter("Algorithm"))
        ));
        for spec in [KeySpec::Aes256, KeySpec::Sm4, KeySpec::Rsa2048, KeySpec::EcSm2] {
            // Whatever the algorithm named, a key of another kind is the wrong operation.
            assert!(matches!(
                algorithm_for(&key(spec), Some(MacAlgorithm::HmacSha256)),
                Err(CoreError::KeyUnsupportedOperation)
            ));
        }
        assert_eq!(key(KeySpec::HmacSm3).usage, KeyUsage::GenerateVerifyMac);
    }

    #[test]
    fn messages_are_one_to_6144_bytes() {
        assert!(check_message(b"").is_err());
        assert!(check_message(b"x").is_ok());
        assert!(check_message(&vec![0; MAX_PLAINTEXT_BYTES]).is_ok());
        assert!(matches!(
            check_message(&vec![0; MAX_PLAINTEXT_BYTES + 1]),
            Err(CoreError::InvalidParameter("Message"))
        ));
    }
}
