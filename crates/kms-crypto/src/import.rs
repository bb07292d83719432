//! Key import (BYOK, spec §6.4): the wrapping key pair GetParametersForImport hands out, and
//! opening the material a caller encrypted to it.
//!
//! The private half never reaches the store: the key service seals it into the import token
//! with the root key, so any node can open a token another node issued.

use aws_lc_rs::digest::{Context, SHA256};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey,
    PrivateDecryptingKey,
};
use kms_types::{ImportWrappingAlgorithm as Wrap, KeyId, KeySpec};
use sm2::elliptic_curve::Generate as _;
use sm2::pkcs8::EncodePublicKey as _;
use zeroize::Zeroizing;

use crate::CryptoError;

/// A fresh wrapping key pair: PKCS#8 (RSA) or the secret scalar (SM2), and the public key as
/// DER SubjectPublicKeyInfo.
pub struct WrappingKeyPair {
    pub private: Zeroizing<Vec<u8>>,
    pub public: Vec<u8>,
}

fn backend<E>(_: E) -> CryptoError {
    CryptoError::Backend
}

fn opening_failed<E>(_: E) -> CryptoError {
    CryptoError::AuthenticationFailed
}

/// A new wrapping key pair of `spec` (`RSA_2048` or `EC_SM2`).
pub fn wrapping_key_pair(spec: KeySpec) -> Result<WrappingKeyPair, CryptoError> {
    match spec {
        KeySpec::Rsa2048 => {
            let key = PrivateDecryptingKey::generate(KeySize::Rsa2048).map_err(backend)?;
            let private: Pkcs8V1Der<'static> = key.as_der().map_err(backend)?;
            let public: PublicKeyX509Der<'static> = key.public_key().as_der().map_err(backend)?;
            Ok(WrappingKeyPair { private: Zeroizing::new(private.as_ref().to_vec()), public: public.as_ref().to_vec() })
        }
        KeySpec::EcSm2 => {
            let secret = sm2::SecretKey::try_generate_from_rng(&mut getrandom::SysRng).map_err(backend)?;
            let public = secret.public_key().to_public_key_der().map_err(backend)?.as_bytes().to_vec();
            Ok(WrappingKeyPair { private: Zeroizing::new(secret.to_bytes().to_vec()), public })
        }
        _ => Err(CryptoError::Unsupported),
    }
}

/// Opens `encrypted` with the wrapping private key. Every failure is `AuthenticationFailed`,
/// one answer whatever went wrong (PKCS#1 v1.5 must not become a padding oracle).
pub fn open_imported(
    spec: KeySpec,
    algorithm: Wrap,
    private: &[u8],
    encrypted: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if !algorithm.fits(spec) {
        return Err(CryptoError::Unsupported);
    }
    match algorithm {
        Wrap::RsaesOaepSha1 | Wrap::RsaesOaepSha256 => {
            let oaep = if algorithm == Wrap::RsaesOaepSha256 { &OAEP_SHA256_MGF1SHA256 } else { &OAEP_SHA1_MGF1SHA1 };
            let key = OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(private).map_err(backend)?)
                .map_err(backend)?;
            let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
            let n = key.decrypt(oaep, encrypted, &mut out, None).map_err(opening_failed)?.len();
            out.truncate(n);
            Ok(out)
        }
        Wrap::RsaesPkcs1V15 => {
            let key = Pkcs1PrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(private).map_err(backend)?)
                .map_err(backend)?;
            let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
            let n = key.decrypt(encrypted, &mut out).map_err(opening_failed)?.len();
            out.truncate(n);
            Ok(out)
        }
        Wrap::Sm2Pke => {
            let key = sm2::pke::DecryptingKey::new(sm2::SecretKey::from_slice(private).map_err(backend)?);
            let opened =
                if encrypted.first() == Some(&0x04) { key.decrypt(encrypted) } else { key.decrypt_der(encrypted) };
            opened.map(Zeroizing::new).map_err(opening_failed)
        }
    }
}

/// What a key remembers of the material imported into it, so that a later import can be held
/// to the same material (spec §6.4) after the material itself was deleted: SHA-256 over a
/// label, the key id and the material, hex. Material is full-entropy key bytes, so the digest
/// reveals nothing usable; it is bound to the key so two keys' digests of the same material
/// differ.
pub fn material_fingerprint(key: &KeyId, material: &[u8]) -> String {
    let mut ctx = Context::new(&SHA256);
    ctx.update(b"kmsd/imported-material/v1\0");
    ctx.update(key.as_str().as_bytes());
    ctx.update(b"\0");
    ctx.update(material);
    ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::{OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey, PublicEncryptingKey};

    #[test]
    fn every_wrapping_algorithm_opens_what_its_public_key_wrapped() {
        let material = [0x11u8; 32];
        let rsa = wrapping_key_pair(KeySpec::Rsa2048).unwrap();
        let public = PublicEncryptingKey::from_der(&rsa.public).unwrap();
        for (alg, oaep) in
            [(Wrap::RsaesOaepSha256, &OAEP_SHA256_MGF1SHA256), (Wrap::RsaesOaepSha1, &OAEP_SHA1_MGF1SHA1)]
        {
            let key = OaepPublicEncryptingKey::new(public.clone()).unwrap();
            let mut ct = vec![0u8; key.ciphertext_size()];
            let ct = key.encrypt(oaep, &material, &mut ct, None).unwrap().to_vec();
            assert_eq!(&*open_imported(KeySpec::Rsa2048, alg, &rsa.private, &ct).unwrap(), &material);
            // The other OAEP hash does not open it (its label hash check fails).
            let other = if alg == Wrap::RsaesOaepSha1 { Wrap::RsaesOaepSha256 } else { Wrap::RsaesOaepSha1 };
            assert_eq!(
                open_imported(KeySpec::Rsa2048, other, &rsa.private, &ct),
                Err(CryptoError::AuthenticationFailed)
            );
            // PKCS#1 v1.5 has no integrity check: about one OAEP ciphertext in 256 happens to
            // unpad as v1.5, into unrelated bytes. Either way it never yields the material
            // (the key service then refuses bytes of the wrong length or fingerprint).
            match open_imported(KeySpec::Rsa2048, Wrap::RsaesPkcs1V15, &rsa.private, &ct) {
                Err(e) => assert_eq!(e, CryptoError::AuthenticationFailed),
                Ok(opened) => assert_ne!(&*opened, &material),
            }
        }
        let key = Pkcs1PublicEncryptingKey::new(public).unwrap();
        let mut ct = vec![0u8; key.ciphertext_size()];
        let ct = key.encrypt(&material, &mut ct).unwrap().to_vec();
        assert_eq!(&*open_imported(KeySpec::Rsa2048, Wrap::RsaesPkcs1V15, &rsa.private, &ct).unwrap(), &material);

        let sm2 = wrapping_key_pair(KeySpec::EcSm2).unwrap();
        let ct = crate::public::encrypt(&sm2.public, KeySpec::EcSm2, kms_types::AsymmetricAlgorithm::Sm2Pke, &material)
            .unwrap();
        assert_eq!(&*open_imported(KeySpec::EcSm2, Wrap::Sm2Pke, &sm2.private, &ct).unwrap(), &material);
        assert_eq!(open_imported(KeySpec::Rsa2048, Wrap::Sm2Pke, &sm2.private, &ct), Err(CryptoError::Unsupported));
    }

    #[test]
    fn fingerprints_bind_the_key_and_the_material() {
        let (a, b) = (KeyId::generate(), KeyId::generate());
        assert_eq!(material_fingerprint(&a, b"m").len(), 64);
        assert_eq!(material_fingerprint(&a, b"m"), material_fingerprint(&a, b"m"));
        assert_ne!(material_fingerprint(&a, b"m"), material_fingerprint(&b, b"m"));
        assert_ne!(material_fingerprint(&a, b"m"), material_fingerprint(&a, b"n"));
    }
}
