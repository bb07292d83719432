//! HMAC keys in software: RustCrypto's `hmac` over `sha2` and `sm3`, the material wrapped by
//! the root key like symmetric material (bound to its key, version and spec).

use std::sync::Arc;

use hmac::{KeyInit as _, Mac as _};
use kms_types::{KeySpec, MacAlgorithm};
use zeroize::Zeroizing;

use crate::provider::{CryptoError, MacKeys, MaterialLabel, RootKey, WrappedMaterial};
use crate::soft::random_fill;

/// A keyed HMAC state for one algorithm; each wipes its key schedule on drop.
enum Keyed {
    Sm3(hmac::Hmac<sm3::Sm3>),
    Sha224(hmac::Hmac<sha2::Sha224>),
    Sha256(hmac::Hmac<sha2::Sha256>),
    Sha384(hmac::Hmac<sha2::Sha384>),
    Sha512(hmac::Hmac<sha2::Sha512>),
}

impl Keyed {
    fn new(algorithm: MacAlgorithm, key: &[u8]) -> Result<Self, CryptoError> {
        // HMAC takes keys of any length (RFC 2104 §2): this cannot fail.
        let bad = |_| CryptoError::Backend;
        Ok(match algorithm {
            MacAlgorithm::HmacSm3 => Self::Sm3(hmac::Hmac::new_from_slice(key).map_err(bad)?),
            MacAlgorithm::HmacSha224 => Self::Sha224(hmac::Hmac::new_from_slice(key).map_err(bad)?),
            MacAlgorithm::HmacSha256 => Self::Sha256(hmac::Hmac::new_from_slice(key).map_err(bad)?),
            MacAlgorithm::HmacSha384 => Self::Sha384(hmac::Hmac::new_from_slice(key).map_err(bad)?),
            MacAlgorithm::HmacSha512 => Self::Sha512(hmac::Hmac::new_from_slice(key).map_err(bad)?),
        })
    }

    fn finish(self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Sm3(m) => m.chain_update(message).finalize().into_bytes().to_vec(),
            Self::Sha224(m) => m.chain_update(message).finalize().into_bytes().to_vec(),
            Self::Sha256(m) => m.chain_update(message).finalize().into_bytes().to_vec(),
            Self::Sha384(m) => m.chain_update(message).finalize().into_bytes().to_vec(),
            Self::Sha512(m) => m.chain_update(message).finalize().into_bytes().to_vec(),
        }
    }

    /// `verify_slice` compares in constant time (and refuses another length).
    fn check(self, message: &[u8], mac: &[u8]) -> bool {
        match self {
            Self::Sm3(m) => m.chain_update(message).verify_slice(mac).is_ok(),
            Self::Sha224(m) => m.chain_update(message).verify_slice(mac).is_ok(),
            Self::Sha256(m) => m.chain_update(message).verify_slice(mac).is_ok(),
            Self::Sha384(m) => m.chain_update(message).verify_slice(mac).is_ok(),
            Self::Sha512(m) => m.chain_update(message).verify_slice(mac).is_ok(),
        }
    }
}

/// The HMAC of `message` under a caller's `key`: what a key's material computes, exposed for
/// tests against published vectors and for callers that hold their own key.
pub fn hmac(algorithm: MacAlgorithm, key: &[u8], message: &[u8]) -> Result<Vec<u8>, CryptoError> {
    Ok(Keyed::new(algorithm, key)?.finish(message))
}

/// HMAC keys whose material is wrapped by a [`RootKey`].
pub struct SoftMac {
    root: Arc<dyn RootKey>,
}

impl SoftMac {
    pub fn new(root: Arc<dyn RootKey>) -> Self {
        Self { root }
    }

    /// Unwraps the material for one call; the plain bytes are wiped when this returns.
    fn keyed(&self, material: &WrappedMaterial, label: MaterialLabel<'_>) -> Result<Keyed, CryptoError> {
        let algorithm = label.spec.mac_algorithm().ok_or(CryptoError::Unsupported)?;
        let plain: Zeroizing<Vec<u8>> = self.root.unwrap(&label.aad(), &material.0)?;
        if plain.len() != algorithm.output_len() {
            return Err(CryptoError::Backend);
        }
        Keyed::new(algorithm, &plain)
    }
}

impl MacKeys for SoftMac {
    fn supports(&self, spec: KeySpec) -> bool {
        spec.is_hmac()
    }

    fn generate(&self, label: MaterialLabel<'_>) -> Result<WrappedMaterial, CryptoError> {
        let algorithm = label.spec.mac_algorithm().ok_or(CryptoError::Unsupported)?;
        // RFC 2104 §3: a key as long as the hash output L.
        let mut plain = Zeroizing::new(vec![0u8; algorithm.output_len()]);
        random_fill(&mut plain)?;
        Ok(WrappedMaterial(self.root.wrap(&label.aad(), &plain)?))
    }

    fn mac(
        &self,
        material: &WrappedMaterial,
        label: MaterialLabel<'_>,
        message: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        Ok(self.keyed(material, label)?.finish(message))
    }

    fn verify(
        &self,
        material: &WrappedMaterial,
        label: MaterialLabel<'_>,
        message: &[u8],
        mac: &[u8],
    ) -> Result<bool, CryptoError> {
        Ok(self.keyed(material, label)?.check(message, mac))
    }
}

#[cfg(test)]
mod tests {
    use kms_types::{KeyId, KeyVersionId};

    use super::*;
    use crate::soft::{SoftRootKey, provider};

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 4231 §4 (HMAC-SHA-224/256/384/512): test cases 1–4, 6 and 7 (5 truncates the
    /// output, which KMS never does), in the order 224, 256, 384, 512.
    #[test]
    fn rfc_4231_vectors() {
        let big_key = vec![0xaa; 131];
        let seq: Vec<u8> = (1..=25).collect();
        let cases: [(&[u8], &[u8], [&str; 4]); 6] = [
            (&[0x0b; 20], b"Hi There", [
                "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
            ]),
            (b"Jefe", b"what do ya want for nothing?", [
                "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ]),
            (&[0xaa; 20], &[0xdd; 50], [
                "7fb3cb3588c6c1f6ffa9694d7d6ad2649365b0c1f65d69d1ec8333ea",
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
                "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27",
                "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
            ]),
            (&seq, &[0xcd; 50], [
                "6c11506874013cac6a2abc1bb382627cec6a90d86efc012de7afec5a",
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
                "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb",
                "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
            ]),
            (&big_key, b"Test Using Larger Than Block-Size Key - Hash Key First", [
                "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
                "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
            ]),
            (&big_key, b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.", [
                "3a854166ac5d9f023f54d517d0b39dbd946770db9c2b95c9f6f565d1",
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
                "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
                "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
            ]),
        ];
        let algorithms =
            [MacAlgorithm::HmacSha224, MacAlgorithm::HmacSha256, MacAlgorithm::HmacSha384, MacAlgorithm::HmacSha512];
        for (n, (key, data, expected)) in cases.iter().enumerate() {
            for (a, want) in algorithms.iter().zip(expected) {
                let got = hmac(*a, key, data).unwrap();
                assert_eq!(got, h(want), "case {n} {a}");
                assert_eq!(got.len(), a.output_len());
            }
        }
    }

    /// HMAC-SM3 as published in GM/T 0042-2015 Appendix D.3 (reproduced in libxcrypt's
    /// test/alg-sm3-hmac.c and OpenSSL's test data), and two RFC 4231 inputs under SM3.
    #[test]
    fn gm_t_0042_sm3_vectors() {
        let k32: Vec<u8> = (1..=32).collect();
        let k37: Vec<u8> = (1..=37).collect();
        let abc = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".repeat(2);
        let cases: [(&[u8], &[u8], &str); 4] = [
            (&k32, &abc, "ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a"),
            (&k37, &[0xcd; 50], "220bf579ded555393f0159f66c99877822a3ecf610d1552154b41d44b94db3ae"),
            (&[0x0b; 32], b"Hi There", "c0ba18c68b90c88bc07de794bfc7d2c8d19ec31ed8773bc2b390c9604e0be11e"),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882",
            ),
        ];
        for (key, data, want) in cases {
            assert_eq!(hmac(MacAlgorithm::HmacSm3, key, data).unwrap(), h(want));
        }
    }

    fn label<'a>(k: &'a KeyId, v: &'a KeyVersionId, spec: KeySpec) -> MaterialLabel<'a> {
        MaterialLabel { key_id: k, version_id: v, spec }
    }

    #[test]
    fn generated_keys_mac_and_verify_only_their_own() {
        let p = provider(SoftRootKey::from_bytes(&[7; 32]));
        let (k, v) = (KeyId::generate(), KeyVersionId::generate());
        for a in MacAlgorithm::ALL {
            let spec: KeySpec = a.as_str().parse().unwrap();
            assert!(p.mac.supports(spec));
            let m = p.mac.generate(label(&k, &v, spec)).unwrap();
            let mac = p.mac.mac(&m, label(&k, &v, spec), b"message").unwrap();
            assert_eq!(mac.len(), a.output_len(), "{a}");
            // Deterministic, and checks out.
            assert_eq!(p.mac.mac(&m, label(&k, &v, spec), b"message").unwrap(), mac);
            assert!(p.mac.verify(&m, label(&k, &v, spec), b"message", &mac).unwrap());
            // Another message, a flipped bit, a shortened MAC, another key: all false.
            assert!(!p.mac.verify(&m, label(&k, &v, spec), b"messagf", &mac).unwrap());
            let mut flipped = mac.clone();
            flipped[0] ^= 1;
            assert!(!p.mac.verify(&m, label(&k, &v, spec), b"message", &flipped).unwrap());
            assert!(!p.mac.verify(&m, label(&k, &v, spec), b"message", &mac[..mac.len() - 1]).unwrap());
            assert!(!p.mac.verify(&m, label(&k, &v, spec), b"message", &[]).unwrap());
            let other = p.mac.generate(label(&k, &v, spec)).unwrap();
            assert!(!p.mac.verify(&other, label(&k, &v, spec), b"message", &mac).unwrap());
            // Material read as another version's does not unwrap (the label is its AAD).
            let v2 = KeyVersionId::generate();
            assert_eq!(p.mac.mac(&m, label(&k, &v2, spec), b"m"), Err(CryptoError::AuthenticationFailed));
        }
        assert!(!p.mac.supports(KeySpec::Aes256));
        assert_eq!(p.mac.generate(label(&k, &v, KeySpec::Aes256)), Err(CryptoError::Unsupported));
    }
}
