//! `ProtectionLevel=HSM` asymmetric keys: RSA and ECDSA key pairs generated inside the PKCS#11
//! token, the private half sensitive and never extractable; signing and decrypting are the
//! token's operations. The store holds only the pair's `CKA_ID` (as for HSM AES keys).
//!
//! What the token hands back in pieces is put into the shapes callers and the software backend
//! use, with RustCrypto's `der`/`spki`: the public key as SubjectPublicKeyInfo (RSA modulus and
//! exponent; the EC point), ECDSA signatures as DER (the token's `r ‖ s`), and the PKCS #1 v1.5
//! DigestInfo the token signs for `RSA_PKCS1_SHA256`.

use cryptoki::context::Function;
use cryptoki::error::RvError;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use der::asn1::{Any, BitString, Null, ObjectIdentifier, OctetStringRef, UintRef};
use der::{Decode as _, Encode as _, Header, Length, Tag};
use kms_types::{AsymmetricAlgorithm as Alg, KeySpec, SIGNING_DIGEST_BYTES};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use zeroize::Zeroizing;

use crate::pkcs11::Pkcs11Keys;
use crate::provider::{AsymmetricKeys, CryptoError, MaterialLabel, WrappedMaterial};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

fn curve(spec: KeySpec) -> Option<ObjectIdentifier> {
    match spec {
        KeySpec::EcP256 => Some(P256),
        KeySpec::EcP256K => Some(SECP256K1),
        _ => None,
    }
}

fn rsa_bits(spec: KeySpec) -> Option<u64> {
    match spec {
        KeySpec::Rsa2048 => Some(2048),
        KeySpec::Rsa3072 => Some(3072),
        _ => None,
    }
}

fn der_err(_: der::Error) -> CryptoError {
    CryptoError::Backend
}

fn backend(_: cryptoki::error::Error) -> CryptoError {
    CryptoError::Backend
}

/// A SEQUENCE of already-encoded elements.
fn sequence(parts: &[Vec<u8>]) -> Result<Vec<u8>, CryptoError> {
    let len = Length::try_from(parts.iter().map(Vec::len).sum::<usize>()).map_err(der_err)?;
    let mut out = Header::new(Tag::Sequence, len).to_der().map_err(der_err)?;
    for p in parts {
        out.extend_from_slice(p);
    }
    Ok(out)
}

fn integer(big_endian: &[u8]) -> Result<Vec<u8>, CryptoError> {
    UintRef::new(big_endian).and_then(|u| u.to_der()).map_err(der_err)
}

fn spki(oid: ObjectIdentifier, parameters: Any, key: &[u8]) -> Result<Vec<u8>, CryptoError> {
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned { oid, parameters: Some(parameters) },
        subject_public_key: BitString::from_bytes(key).map_err(der_err)?,
    }
    .to_der()
    .map_err(der_err)
}

/// `ECDSA-Sig-Value` from the token's fixed-width `r ‖ s`.
fn ecdsa_der(raw: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(CryptoError::Backend);
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    sequence(&[integer(r)?, integer(s)?])
}

/// PKCS #1 v1.5's DigestInfo for a SHA-256 digest (RFC 8017 §9.2): what `CKM_RSA_PKCS` signs.
fn digest_info(digest: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let algorithm =
        AlgorithmIdentifierOwned { oid: SHA256, parameters: Some(Any::encode_from(&Null).map_err(der_err)?) }
            .to_der()
            .map_err(der_err)?;
    let octets = OctetStringRef::new(digest).and_then(|o| o.to_der()).map_err(der_err)?;
    sequence(&[algorithm, octets])
}

impl AsymmetricKeys for Pkcs11Keys {
    /// RSA and the NIST/SEC elliptic curves; SM2 is not a PKCS#11 standard mechanism.
    fn supports(&self, spec: KeySpec) -> bool {
        rsa_bits(spec).is_some() || curve(spec).is_some()
    }

    fn generate(&self, label: MaterialLabel<'_>) -> Result<WrappedMaterial, CryptoError> {
        let (id, material) = Self::new_id()?;
        let name = format!("kmsd/{}/{}", label.key_id, label.version_id).into_bytes();
        let common = |private: bool| {
            vec![
                Attribute::Token(true),
                Attribute::Private(private),
                Attribute::Id(id.clone()),
                Attribute::Label(name.clone()),
            ]
        };
        let mut public = common(false);
        let mut private = common(true);
        private.extend([Attribute::Sensitive(true), Attribute::Extractable(false), Attribute::Sign(true)]);
        public.push(Attribute::Verify(true));
        let mechanism = if let Some(bits) = rsa_bits(label.spec) {
            public.extend([
                Attribute::Encrypt(true),
                Attribute::ModulusBits(bits.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
            ]);
            private.push(Attribute::Decrypt(true));
            Mechanism::RsaPkcsKeyPairGen
        } else if let Some(oid) = curve(label.spec) {
            public.push(Attribute::EcParams(oid.to_der().map_err(der_err)?));
            Mechanism::EccKeyPairGen
        } else {
            return Err(CryptoError::Unsupported);
        };
        self.token.session()?.generate_key_pair(&mechanism, &public, &private).map_err(backend)?;
        Ok(material)
    }

    fn public_key(&self, material: &WrappedMaterial, label: MaterialLabel<'_>) -> Result<Vec<u8>, CryptoError> {
        let public = self.object(material, ObjectClass::PUBLIC_KEY)?;
        let session = self.token.session()?;
        if rsa_bits(label.spec).is_some() {
            let attrs = session
                .get_attributes(public, &[AttributeType::Modulus, AttributeType::PublicExponent])
                .map_err(backend)?;
            let (mut n, mut e) = (None, None);
            for a in attrs {
                match a {
                    Attribute::Modulus(v) => n = Some(v),
                    Attribute::PublicExponent(v) => e = Some(v),
                    _ => {}
                }
            }
            let (n, e) = n.zip(e).ok_or(CryptoError::Backend)?;
            let rsa_public_key = sequence(&[integer(&n)?, integer(&e)?])?;
            spki(RSA_ENCRYPTION, Any::encode_from(&Null).map_err(der_err)?, &rsa_public_key)
        } else if let Some(oid) = curve(label.spec) {
            let attrs = session.get_attributes(public, &[AttributeType::EcPoint]).map_err(backend)?;
            let Some(Attribute::EcPoint(point)) = attrs.into_iter().next() else { return Err(CryptoError::Backend) };
            // The standard says a DER OCTET STRING; some tokens give the bare point.
            let point = match <&OctetStringRef>::from_der(&point) {
                Ok(o) => o.as_bytes().to_vec(),
                Err(_) => point,
            };
            spki(EC_PUBLIC_KEY, Any::encode_from(&oid).map_err(der_err)?, &point)
        } else {
            Err(CryptoError::Unsupported)
        }
    }

    fn sign(
        &self,
        material: &WrappedMaterial,
        label: MaterialLabel<'_>,
        algorithm: Alg,
        digest: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        label.admits(algorithm, kms_types::KeyUsage::SignVerify, Some(digest))?;
        let private = self.object(material, ObjectClass::PRIVATE_KEY)?;
        let session = self.token.session()?;
        match algorithm {
            // The salt as long as the digest, as the software backend (and the cloud) sign.
            Alg::RsaPssSha256 => {
                let params = PkcsPssParams {
                    hash_alg: MechanismType::SHA256,
                    mgf: PkcsMgfType::MGF1_SHA256,
                    s_len: (SIGNING_DIGEST_BYTES as u64).into(),
                };
                session.sign(&Mechanism::RsaPkcsPss(params), private, digest).map_err(backend)
            }
            Alg::RsaPkcs1Sha256 => session.sign(&Mechanism::RsaPkcs, private, &digest_info(digest)?).map_err(backend),
            Alg::EcdsaSha256 => ecdsa_der(&session.sign(&Mechanism::Ecdsa, private, digest).map_err(backend)?),
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
        let (hash, mgf) = match algorithm {
            Alg::RsaesOaepSha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
            Alg::RsaesOaepSha1 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
            _ => return Err(CryptoError::Unsupported),
        };
        let private = self.object(material, ObjectClass::PRIVATE_KEY)?;
        let params = PkcsOaepParams::new(hash, mgf, PkcsOaepSource::empty());
        self.token.session()?.decrypt(&Mechanism::RsaPkcsOaep(params), private, ciphertext).map(Zeroizing::new).map_err(
            |e| match e {
                // Refused before any ciphertext was looked at: a token without this OAEP hash
                // (SoftHSM2 2.6 has only SHA-1).
                cryptoki::error::Error::Pkcs11(
                    RvError::MechanismInvalid | RvError::MechanismParamInvalid | RvError::ArgumentsBad,
                    Function::DecryptInit,
                ) => CryptoError::Unsupported,
                _ => CryptoError::AuthenticationFailed,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `der` makes of the token's pieces is what aws-lc and the RFCs expect.
    #[test]
    fn the_pieces_encode_as_the_standards_say() {
        // A 32-byte r with its top bit set gains a zero byte; a short s keeps its length.
        let mut raw = vec![0x80u8; 32];
        raw.extend([0u8; 31].iter().chain(&[5u8]));
        let sig = ecdsa_der(&raw).unwrap();
        assert_eq!(&sig[..5], &[0x30, 0x26, 0x02, 0x21, 0x00]);
        assert_eq!(&sig[sig.len() - 3..], &[0x02, 0x01, 0x05]);
        // RFC 8017 §9.2 note 1: the DigestInfo prefix of SHA-256.
        let prefix = hex::decode("3031300d060960864801650304020105000420").unwrap();
        let info = digest_info(&[7u8; 32]).unwrap();
        assert_eq!(&info[..prefix.len()], prefix.as_slice());
        assert_eq!(&info[prefix.len()..], &[7u8; 32]);
        // An RSA SubjectPublicKeyInfo aws-lc reads back with the same modulus and exponent.
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let public = aws_lc_rs::signature::KeyPair::public_key(&pair);
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let made = spki(
            RSA_ENCRYPTION,
            Any::encode_from(&Null).unwrap(),
            &sequence(&[integer(&n).unwrap(), integer(&e).unwrap()]).unwrap(),
        )
        .unwrap();
        let expected: aws_lc_rs::encoding::PublicKeyX509Der<'static> =
            aws_lc_rs::encoding::AsDer::as_der(public).unwrap();
        assert_eq!(made, expected.as_ref());
    }
}
