//! The public half of asymmetric keys: verifying signatures and encrypting to a public key.
//!
//! Neither needs a secret, so every backend shares this one software implementation (an HSM
//! backend would only export the public key). Keys arrive as DER SubjectPublicKeyInfo, the
//! form [`crate::AsymmetricKeys::public_key`] produces and GetPublicKey serves.

use aws_lc_rs::digest::{Digest, SHA256};
use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256K1_SHA256_ASN1, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
    UnparsedPublicKey, VerificationAlgorithm,
};
use kms_types::{AsymmetricAlgorithm as Alg, KeySpec, SIGNING_DIGEST_BYTES};
use sm2::pkcs8::DecodePublicKey as _;

use crate::CryptoError;

/// The aws-lc verification algorithm for a spec and signing algorithm, if it is one of theirs.
fn aws_verifier(spec: KeySpec, alg: Alg) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match (spec, alg) {
        (KeySpec::Rsa2048 | KeySpec::Rsa3072, Alg::RsaPssSha256) => &RSA_PSS_2048_8192_SHA256,
        (KeySpec::Rsa2048 | KeySpec::Rsa3072, Alg::RsaPkcs1Sha256) => &RSA_PKCS1_2048_8192_SHA256,
        (KeySpec::EcP256, Alg::EcdsaSha256) => &ECDSA_P256_SHA256_ASN1,
        (KeySpec::EcP256K, Alg::EcdsaSha256) => &ECDSA_P256K1_SHA256_ASN1,
        _ => return None,
    })
}

/// Whether `signature` is a valid signature of `digest` by the key. A malformed signature is
/// simply not valid; `Unsupported` when the algorithm does not fit the spec, `Backend` when
/// the public key itself does not parse.
pub fn verify(spki: &[u8], spec: KeySpec, alg: Alg, digest: &[u8], signature: &[u8]) -> Result<bool, CryptoError> {
    if digest.len() != SIGNING_DIGEST_BYTES {
        return Ok(false);
    }
    if let Some(verifier) = aws_verifier(spec, alg) {
        let digest = Digest::import_less_safe(digest, &SHA256).map_err(|_| CryptoError::Backend)?;
        return Ok(UnparsedPublicKey::new(verifier, spki).verify_digest(&digest, signature).is_ok());
    }
    match (spec, alg) {
        (KeySpec::EcSm2, Alg::Sm2Dsa) => {
            use sm2::dsa::signature::hazmat::PrehashVerifier as _;
            let public = sm2::PublicKey::from_public_key_der(spki).map_err(|_| CryptoError::Backend)?;
            let key = sm2::dsa::VerifyingKey::new(SM2_DEFAULT_ID, public).map_err(|_| CryptoError::Backend)?;
            let Ok(signature) = sm2::dsa::Signature::from_der(signature) else { return Ok(false) };
            Ok(key.verify_prehash(digest, &signature).is_ok())
        }
        _ => Err(CryptoError::Unsupported),
    }
}

/// Encrypts `plaintext` to the key: RSAES-OAEP (MGF1 with the same hash), or SM2 with the
/// GM/T 0009 DER ciphertext. The caller has checked the plaintext length (spec §6.3). A key
/// that is not of `spec` (another modulus size, another curve) is refused.
pub fn encrypt(spki: &[u8], spec: KeySpec, alg: Alg, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    match (spec, alg) {
        (KeySpec::Rsa2048 | KeySpec::Rsa3072, Alg::RsaesOaepSha256 | Alg::RsaesOaepSha1) => {
            let oaep = if alg == Alg::RsaesOaepSha256 { &OAEP_SHA256_MGF1SHA256 } else { &OAEP_SHA1_MGF1SHA1 };
            let key = PublicEncryptingKey::from_der(spki).map_err(|_| CryptoError::Backend)?;
            let key = OaepPublicEncryptingKey::new(key).map_err(|_| CryptoError::Backend)?;
            let bits = if spec == KeySpec::Rsa2048 { 2048 } else { 3072 };
            if key.key_size_bits() != bits {
                return Err(CryptoError::Unsupported);
            }
            let mut out = vec![0u8; key.ciphertext_size()];
            let n = key.encrypt(oaep, plaintext, &mut out, None).map_err(|_| CryptoError::Backend)?.len();
            out.truncate(n);
            Ok(out)
        }
        (KeySpec::EcSm2, Alg::Sm2Pke) => {
            let public = sm2::PublicKey::from_public_key_der(spki).map_err(|_| CryptoError::Backend)?;
            sm2::pke::EncryptingKey::new(public)
                .encrypt_der(&mut getrandom::SysRng, plaintext)
                .map_err(|_| CryptoError::Backend)
        }
        _ => Err(CryptoError::Unsupported),
    }
}

/// The distinguishing identifier of GB/T 32918 when none is agreed: only used to compute
/// `Z`, which the caller folds into the digest; kept for verifying keys' construction.
pub const SM2_DEFAULT_ID: &str = "1234567812345678";

/// PEM armour (RFC 7468, `PUBLIC KEY`, 64 columns) for a DER SubjectPublicKeyInfo, as
/// GetPublicKey answers it.
pub fn spki_pem(spki: &[u8]) -> Result<String, CryptoError> {
    pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, spki).map_err(|_| CryptoError::Backend)
}
