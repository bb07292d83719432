//! The software backend for asymmetric keys: RSA and ECDSA (P-256, secp256k1) from aws-lc-rs,
//! SM2 from RustCrypto `sm2`.
//!
//! A version's material is its private key as PKCS#8 DER, wrapped by the root key and bound
//! to the version and spec like symmetric material. It is unwrapped into a zeroizing buffer
//! for one call.

use std::sync::Arc;

use aws_lc_rs::digest::{Digest, SHA256};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256K1_SHA256_ASN1_SIGNING, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair,
    RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair,
};
use kms_types::{AsymmetricAlgorithm as Alg, KeySpec};
use sm2::elliptic_curve::Generate as _;
use sm2::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _};
use zeroize::Zeroizing;

use crate::provider::{AsymmetricKeys, CryptoError, MaterialLabel, RootKey, WrappedMaterial};

/// Asymmetric keys whose private halves are wrapped by a [`RootKey`].
pub struct SoftAsymmetric {
    root: Arc<dyn RootKey>,
}

fn ecdsa_alg(spec: KeySpec) -> Option<&'static EcdsaSigningAlgorithm> {
    match spec {
        KeySpec::EcP256 => Some(&ECDSA_P256_SHA256_ASN1_SIGNING),
        KeySpec::EcP256K => Some(&ECDSA_P256K1_SHA256_ASN1_SIGNING),
        _ => None,
    }
}

fn rsa_size(spec: KeySpec) -> Option<KeySize> {
    match spec {
        KeySpec::Rsa2048 => Some(KeySize::Rsa2048),
        KeySpec::Rsa3072 => Some(KeySize::Rsa3072),
        _ => None,
    }
}

fn backend<E>(_: E) -> CryptoError {
    CryptoError::Backend
}

/// A new private key of `spec`, PKCS#8 DER.
fn new_private_key(spec: KeySpec) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if let Some(size) = rsa_size(spec) {
        let pair = aws_lc_rs::rsa::KeyPair::generate(size).map_err(backend)?;
        let der: Pkcs8V1Der<'static> = pair.as_der().map_err(backend)?;
        Ok(Zeroizing::new(der.as_ref().to_vec()))
    } else if let Some(alg) = ecdsa_alg(spec) {
        let pair = EcdsaKeyPair::generate(alg).map_err(backend)?;
        Ok(Zeroizing::new(pair.to_pkcs8v1().map_err(backend)?.as_ref().to_vec()))
    } else if spec == KeySpec::EcSm2 {
        let secret = sm2::SecretKey::try_generate_from_rng(&mut getrandom::SysRng).map_err(backend)?;
        Ok(Zeroizing::new(secret.to_pkcs8_der().map_err(backend)?.as_bytes().to_vec()))
    } else {
        Err(CryptoError::Unsupported)
    }
}

/// The SubjectPublicKeyInfo (DER) of a PKCS#8 private key of `spec`.
fn public_key_of(spec: KeySpec, pkcs8: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if rsa_size(spec).is_some() {
        let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(backend)?;
        let der: PublicKeyX509Der<'static> = pair.public_key().as_der().map_err(backend)?;
        Ok(der.as_ref().to_vec())
    } else if let Some(alg) = ecdsa_alg(spec) {
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8).map_err(backend)?;
        let der: PublicKeyX509Der<'static> = pair.public_key().as_der().map_err(backend)?;
        Ok(der.as_ref().to_vec())
    } else if spec == KeySpec::EcSm2 {
        let public = SoftAsymmetric::sm2_secret(pkcs8)?.public_key();
        Ok(public.to_public_key_der().map_err(backend)?.as_bytes().to_vec())
    } else {
        Err(CryptoError::Unsupported)
    }
}

/// A data key pair (GenerateDataKeyPair of the instance API): a private key of `spec` as
/// PKCS#8 DER, in a buffer wiped on drop, and its public key as SubjectPublicKeyInfo DER. The
/// caller encrypts the private key under a key of the KMS and hands both out; nothing is kept.
pub fn data_key_pair(spec: KeySpec) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), CryptoError> {
    let private = new_private_key(spec)?;
    let public = public_key_of(spec, &private)?;
    Ok((private, public))
}

impl SoftAsymmetric {
    pub fn new(root: Arc<dyn RootKey>) -> Self {
        Self { root }
    }

    fn unwrap(&self, material: &WrappedMaterial, label: MaterialLabel<'_>) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.root.unwrap(&label.aad(), &material.0)
    }

    fn sm2_secret(plain: &[u8]) -> Result<sm2::SecretKey, CryptoError> {
        sm2::SecretKey::from_pkcs8_der(plain).map_err(backend)
    }
}

impl AsymmetricKeys for SoftAsymmetric {
    fn supports(&self, spec: KeySpec) -> bool {
        rsa_size(spec).is_some() || ecdsa_alg(spec).is_some() || spec == KeySpec::EcSm2
    }

    fn generate(&self, label: MaterialLabel<'_>) -> Result<WrappedMaterial, CryptoError> {
        let private = new_private_key(label.spec)?;
        Ok(WrappedMaterial(self.root.wrap(&label.aad(), &private)?))
    }

    fn public_key(&self, material: &WrappedMaterial, label: MaterialLabel<'_>) -> Result<Vec<u8>, CryptoError> {
        public_key_of(label.spec, &self.unwrap(material, label)?)
    }

    fn sign(
        &self,
        material: &WrappedMaterial,
        label: MaterialLabel<'_>,
        algorithm: Alg,
        digest: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        label.admits(algorithm, kms_types::KeyUsage::SignVerify, Some(digest))?;
        let plain = self.unwrap(material, label)?;
        match algorithm {
            Alg::RsaPssSha256 | Alg::RsaPkcs1Sha256 => {
                let pair = RsaKeyPair::from_pkcs8(&plain).map_err(backend)?;
                let padding: &'static dyn aws_lc_rs::signature::RsaEncoding =
                    if algorithm == Alg::RsaPssSha256 { &RSA_PSS_SHA256 } else { &RSA_PKCS1_SHA256 };
                let digest = Digest::import_less_safe(digest, &SHA256).map_err(backend)?;
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign_digest(padding, &digest, &mut signature).map_err(backend)?;
                Ok(signature)
            }
            Alg::EcdsaSha256 => {
                let alg = ecdsa_alg(label.spec).ok_or(CryptoError::Unsupported)?;
                let pair = EcdsaKeyPair::from_pkcs8(alg, &plain).map_err(backend)?;
                let digest = Digest::import_less_safe(digest, &SHA256).map_err(backend)?;
                Ok(pair.sign_digest(&digest).map_err(backend)?.as_ref().to_vec())
            }
            Alg::Sm2Dsa => {
                use sm2::dsa::signature::hazmat::RandomizedPrehashSigner as _;
                let key = sm2::dsa::SigningKey::new(crate::public::SM2_DEFAULT_ID, &Self::sm2_secret(&plain)?)
                    .map_err(backend)?;
                let signature: sm2::dsa::Signature =
                    key.sign_prehash_with_rng(&mut getrandom::SysRng, digest).map_err(backend)?;
                Ok(signature.to_der().to_vec())
            }
            _ => Err(CryptoError::Unsupported),
        }
    }

    fn decrypt(
        &self,
        material: &WrappedMaterial,
        label: MaterialLabel<'_>,
        algorithm: Alg,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        label.admits(algorithm, kms_types::KeyUsage::EncryptDecrypt, None)?;
        let plain = self.unwrap(material, label)?;
        match algorithm {
            Alg::RsaesOaepSha256 | Alg::RsaesOaepSha1 => {
                let oaep =
                    if algorithm == Alg::RsaesOaepSha256 { &OAEP_SHA256_MGF1SHA256 } else { &OAEP_SHA1_MGF1SHA1 };
                let key = PrivateDecryptingKey::from_pkcs8(&plain).map_err(backend)?;
                let key = OaepPrivateDecryptingKey::new(key).map_err(backend)?;
                let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
                let n =
                    key.decrypt(oaep, ciphertext, &mut out, None).map_err(|_| CryptoError::AuthenticationFailed)?.len();
                out.truncate(n);
                Ok(out)
            }
            Alg::Sm2Pke => {
                // GM/T 0009 DER is what kmsd answers; the raw `C1 ‖ C3 ‖ C2` layout (GB/T 32918.4,
                // starts 0x04 where DER starts 0x30) is what some SM2 libraries emit: both open.
                let key = sm2::pke::DecryptingKey::new(Self::sm2_secret(&plain)?);
                let opened = if ciphertext.first() == Some(&0x04) {
                    key.decrypt(ciphertext)
                } else {
                    key.decrypt_der(ciphertext)
                };
                opened.map(Zeroizing::new).map_err(|_| CryptoError::AuthenticationFailed)
            }
            _ => Err(CryptoError::Unsupported),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data key pair's halves belong together: what the private key signs, the public key
    /// verifies; and every pair is new.
    #[test]
    fn data_key_pairs_match() {
        for spec in [KeySpec::Rsa2048, KeySpec::EcP256, KeySpec::EcP256K, KeySpec::EcSm2] {
            let (private, public) = data_key_pair(spec).unwrap();
            assert_eq!(public_key_of(spec, &private).unwrap(), public, "{spec:?}");
            assert_ne!(data_key_pair(spec).unwrap().1, public, "{spec:?}");
        }
        assert!(data_key_pair(KeySpec::Aes256).is_err());
    }
    use crate::public;
    use crate::soft::{SoftRootKey, provider};
    use kms_types::{KeyId, KeyVersionId};

    const SPECS: [KeySpec; 5] = [KeySpec::Rsa2048, KeySpec::Rsa3072, KeySpec::EcP256, KeySpec::EcP256K, KeySpec::EcSm2];

    #[test]
    fn every_spec_signs_and_decrypts_what_its_public_key_verifies_and_encrypts() {
        let p = provider(SoftRootKey::from_bytes(&[9u8; 32]));
        for spec in SPECS {
            let (k, v) = (KeyId::generate(), KeyVersionId::generate());
            let label = MaterialLabel { key_id: &k, version_id: &v, spec };
            let m = p.asymmetric.generate(label).unwrap();
            let spki = p.asymmetric.public_key(&m, label).unwrap();
            assert!(spki.starts_with(&[0x30]), "{spec}: DER SubjectPublicKeyInfo");
            for alg in Alg::ALL.iter().copied().filter(|a| a.fits(spec)) {
                if alg.usage() == kms_types::KeyUsage::SignVerify {
                    let digest = [0x42u8; 32];
                    let sig = p.asymmetric.sign(&m, label, alg, &digest).unwrap();
                    assert!(public::verify(&spki, spec, alg, &digest, &sig).unwrap(), "{spec} {alg}");
                    let mut other = digest;
                    other[0] ^= 1;
                    assert!(!public::verify(&spki, spec, alg, &other, &sig).unwrap(), "{spec} {alg}");
                    assert!(!public::verify(&spki, spec, alg, &digest, b"garbage").unwrap());
                } else {
                    let max = alg.max_plaintext(spec).unwrap();
                    let msg = vec![0x5Au8; max];
                    let ct = public::encrypt(&spki, spec, alg, &msg).unwrap();
                    assert_eq!(&*p.asymmetric.decrypt(&m, label, alg, &ct).unwrap(), msg.as_slice(), "{spec} {alg}");
                    let mut bad = ct.clone();
                    let last = bad.len() - 1;
                    bad[last] ^= 1;
                    assert_eq!(p.asymmetric.decrypt(&m, label, alg, &bad), Err(CryptoError::AuthenticationFailed));
                }
            }
            // Material is bound to its version like symmetric material.
            let other = KeyVersionId::generate();
            assert!(p.asymmetric.public_key(&m, MaterialLabel { version_id: &other, ..label }).is_err());
        }
    }

    #[test]
    fn sm2_opens_der_and_raw_c1c3c2_ciphertexts() {
        let p = provider(SoftRootKey::from_bytes(&[9u8; 32]));
        let (k, v) = (KeyId::generate(), KeyVersionId::generate());
        let label = MaterialLabel { key_id: &k, version_id: &v, spec: KeySpec::EcSm2 };
        let m = p.asymmetric.generate(label).unwrap();
        let spki = p.asymmetric.public_key(&m, label).unwrap();
        use sm2::pkcs8::DecodePublicKey as _;
        let public = sm2::PublicKey::from_public_key_der(&spki).unwrap();
        let raw = sm2::pke::EncryptingKey::new(public).encrypt(&mut getrandom::SysRng, b"raw layout").unwrap();
        assert_eq!((raw[0], raw.len()), (0x04, 65 + 32 + 10));
        assert_eq!(&*p.asymmetric.decrypt(&m, label, Alg::Sm2Pke, &raw).unwrap(), b"raw layout");
        let der = public::encrypt(&spki, KeySpec::EcSm2, Alg::Sm2Pke, b"der layout").unwrap();
        assert_eq!(der[0], 0x30);
        assert_eq!(&*p.asymmetric.decrypt(&m, label, Alg::Sm2Pke, &der).unwrap(), b"der layout");
    }

    #[test]
    fn algorithms_that_do_not_fit_the_key_are_refused() {
        let p = provider(SoftRootKey::from_bytes(&[9u8; 32]));
        let (k, v) = (KeyId::generate(), KeyVersionId::generate());
        let label = MaterialLabel { key_id: &k, version_id: &v, spec: KeySpec::EcP256 };
        let m = p.asymmetric.generate(label).unwrap();
        assert_eq!(p.asymmetric.sign(&m, label, Alg::Sm2Dsa, &[0; 32]), Err(CryptoError::Unsupported));
        assert_eq!(p.asymmetric.sign(&m, label, Alg::EcdsaSha256, &[0; 31]), Err(CryptoError::Unsupported));
        assert_eq!(p.asymmetric.decrypt(&m, label, Alg::RsaesOaepSha256, &[0; 256]), Err(CryptoError::Unsupported));
        assert!(!p.asymmetric.supports(KeySpec::Aes256));
    }
}
