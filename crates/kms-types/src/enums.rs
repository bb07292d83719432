//! The closed enumerations of spec §6.1, with their exact wire spelling.
//!
//! Capability questions ("can this spec encrypt?") are methods here, so handlers ask the
//! type rather than comparing strings.

use std::fmt;

/// A wire value that is not one of an enumeration's members.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value")]
pub struct UnknownValue;

/// Declares a C-like enum whose variants map one-to-one onto wire strings.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant,)+ }

        impl $name {
            /// Every member, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The exact spelling on the wire.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            /// Case-sensitive, as the API is.
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s { $($wire => Ok($name::$variant),)+ _ => Err(UnknownValue) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

wire_enum!(
    /// `KeySpec` of a customer master key (spec §6.1).
    KeySpec {
        Aes256 = "Aliyun_AES_256",
        Aes192 = "Aliyun_AES_192",
        Aes128 = "Aliyun_AES_128",
        Sm4 = "Aliyun_SM4",
        Des3 = "Aliyun_DES3_192",
        Rsa2048 = "RSA_2048",
        Rsa3072 = "RSA_3072",
        EcP256 = "EC_P256",
        EcP256K = "EC_P256K",
        EcSm2 = "EC_SM2",
        // Appended, never inserted: an import token records a spec by its position here.
        HmacSm3 = "HMAC_SM3",
        HmacSha224 = "HMAC_SHA_224",
        HmacSha256 = "HMAC_SHA_256",
        HmacSha384 = "HMAC_SHA_384",
        HmacSha512 = "HMAC_SHA_512",
    }
);

impl KeySpec {
    /// Symmetric specs encrypt with an authenticated cipher and rotate.
    pub const fn is_symmetric(self) -> bool {
        matches!(self, Self::Aes256 | Self::Aes192 | Self::Aes128 | Self::Sm4 | Self::Des3)
    }

    /// RSA and elliptic-curve specs: a private key per version, its public key shareable.
    pub const fn is_asymmetric(self) -> bool {
        matches!(self, Self::Rsa2048 | Self::Rsa3072 | Self::EcP256 | Self::EcP256K | Self::EcSm2)
    }

    /// HMAC specs: one secret per key, used only by GenerateMac/VerifyMac (and the instance
    /// API's `Hmac`). They neither encrypt nor rotate, as in the cloud.
    pub const fn is_hmac(self) -> bool {
        self.mac_algorithm().is_some()
    }

    /// The one MAC algorithm a key of this spec computes: the spec is named after it.
    pub const fn mac_algorithm(self) -> Option<MacAlgorithm> {
        match self {
            Self::HmacSm3 => Some(MacAlgorithm::HmacSm3),
            Self::HmacSha224 => Some(MacAlgorithm::HmacSha224),
            Self::HmacSha256 => Some(MacAlgorithm::HmacSha256),
            Self::HmacSha384 => Some(MacAlgorithm::HmacSha384),
            Self::HmacSha512 => Some(MacAlgorithm::HmacSha512),
            _ => None,
        }
    }

    /// The usage CreateKey assumes when none is given: signing for the specs that can only
    /// sign, MACs for the HMAC specs, encryption otherwise (spec §12's reading of the
    /// conflicting docs).
    pub const fn default_usage(self) -> KeyUsage {
        match self {
            Self::EcP256 | Self::EcP256K => KeyUsage::SignVerify,
            _ if self.is_hmac() => KeyUsage::GenerateVerifyMac,
            _ => KeyUsage::EncryptDecrypt,
        }
    }

    /// Usages the spec may be created with (spec §6.1).
    pub fn allows_usage(self, usage: KeyUsage) -> bool {
        match self {
            Self::EcP256 | Self::EcP256K => usage == KeyUsage::SignVerify,
            Self::Rsa2048 | Self::Rsa3072 | Self::EcSm2 => usage != KeyUsage::GenerateVerifyMac,
            _ if self.is_hmac() => usage == KeyUsage::GenerateVerifyMac,
            _ => usage == KeyUsage::EncryptDecrypt,
        }
    }

    /// A `KeySpec` as CreateKey takes it: the exact names, and for the HMAC specs the other
    /// spellings in use (`HMAC_SHA256`, `HMAC_256`), because Alibaba documents the HMAC
    /// algorithms but not the spec names. The key then reports the canonical name.
    pub fn parse_lenient(raw: &str) -> Result<Self, UnknownValue> {
        raw.parse().or(match raw {
            "HMAC_SHA224" | "HMAC_224" => Ok(Self::HmacSha224),
            "HMAC_SHA256" | "HMAC_256" => Ok(Self::HmacSha256),
            "HMAC_SHA384" | "HMAC_384" => Ok(Self::HmacSha384),
            "HMAC_SHA512" | "HMAC_512" => Ok(Self::HmacSha512),
            _ => Err(UnknownValue),
        })
    }
}

wire_enum!(
    /// `Algorithm` of GenerateMac/VerifyMac (spec §7.6).
    MacAlgorithm {
        HmacSm3 = "HMAC_SM3",
        HmacSha224 = "HMAC_SHA_224",
        HmacSha256 = "HMAC_SHA_256",
        HmacSha384 = "HMAC_SHA_384",
        HmacSha512 = "HMAC_SHA_512",
    }
);

impl MacAlgorithm {
    /// Length of the MAC (and of a key's material): the hash's output.
    pub const fn output_len(self) -> usize {
        match self {
            Self::HmacSha224 => 28,
            Self::HmacSm3 | Self::HmacSha256 => 32,
            Self::HmacSha384 => 48,
            Self::HmacSha512 => 64,
        }
    }
}

wire_enum!(
    /// `Algorithm` of the asymmetric actions (spec §6.3).
    AsymmetricAlgorithm {
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        Sm2Pke = "SM2PKE",
        RsaPssSha256 = "RSA_PSS_SHA_256",
        RsaPkcs1Sha256 = "RSA_PKCS1_SHA_256",
        EcdsaSha256 = "ECDSA_SHA_256",
        Sm2Dsa = "SM2DSA",
    }
);

impl AsymmetricAlgorithm {
    /// The usage a key needs for this algorithm.
    pub const fn usage(self) -> KeyUsage {
        match self {
            Self::RsaesOaepSha256 | Self::RsaesOaepSha1 | Self::Sm2Pke => KeyUsage::EncryptDecrypt,
            _ => KeyUsage::SignVerify,
        }
    }

    /// Whether a key of `spec` can run this algorithm (spec §6.3).
    pub const fn fits(self, spec: KeySpec) -> bool {
        match self {
            Self::RsaesOaepSha256 | Self::RsaesOaepSha1 | Self::RsaPssSha256 | Self::RsaPkcs1Sha256 => {
                matches!(spec, KeySpec::Rsa2048 | KeySpec::Rsa3072)
            }
            Self::EcdsaSha256 => matches!(spec, KeySpec::EcP256 | KeySpec::EcP256K),
            Self::Sm2Pke | Self::Sm2Dsa => matches!(spec, KeySpec::EcSm2),
        }
    }

    /// The longest plaintext AsymmetricEncrypt takes with this algorithm and `spec` (spec
    /// §6.3: OAEP's `k - 2·hLen - 2`, SM2's documented 6047 bytes); `None` for signing.
    pub const fn max_plaintext(self, spec: KeySpec) -> Option<usize> {
        let modulus: usize = match spec {
            KeySpec::Rsa2048 => 256,
            KeySpec::Rsa3072 => 384,
            _ => 0,
        };
        if !self.fits(spec) {
            return None;
        }
        match self {
            Self::RsaesOaepSha256 => Some(modulus.saturating_sub(2 * 32 + 2)),
            Self::RsaesOaepSha1 => Some(modulus.saturating_sub(2 * 20 + 2)),
            Self::Sm2Pke => Some(6047),
            _ => None,
        }
    }
}

wire_enum!(
    /// `WrappingAlgorithm` of GetParametersForImport (spec §6.4).
    ImportWrappingAlgorithm {
        RsaesPkcs1V15 = "RSAES_PKCS1_V1_5",
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        Sm2Pke = "SM2PKE",
    }
);

impl ImportWrappingAlgorithm {
    /// Whether the `WrappingKeySpec` can wrap with this algorithm: RSA_2048 with the RSA
    /// algorithms, EC_SM2 with SM2PKE.
    pub const fn fits(self, spec: KeySpec) -> bool {
        match self {
            Self::Sm2Pke => matches!(spec, KeySpec::EcSm2),
            _ => matches!(spec, KeySpec::Rsa2048),
        }
    }
}

/// Length of the digest the signing algorithms take: SHA-256, or SM3 of `Z ‖ M` for SM2DSA.
pub const SIGNING_DIGEST_BYTES: usize = 32;

wire_enum!(
    /// What a key may be used for.
    KeyUsage {
        EncryptDecrypt = "ENCRYPT/DECRYPT",
        SignVerify = "SIGN/VERIFY",
        GenerateVerifyMac = "GENERATE/VERIFY_MAC",
    }
);

wire_enum!(
    /// Lifecycle state of a key (spec §5.4).
    KeyState {
        Enabled = "Enabled",
        Disabled = "Disabled",
        PendingDeletion = "PendingDeletion",
        PendingImport = "PendingImport",
    }
);

wire_enum!(
    /// Where a key's material came from.
    Origin {
        AliyunKms = "Aliyun_KMS",
        External = "EXTERNAL",
    }
);

wire_enum!(
    /// Which protection backend holds the material.
    ProtectionLevel {
        Software = "SOFTWARE",
        Hsm = "HSM",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_member_round_trips_through_its_wire_spelling() {
        for s in KeySpec::ALL {
            assert_eq!(s.as_str().parse::<KeySpec>(), Ok(*s));
        }
        for s in KeyState::ALL {
            assert_eq!(s.as_str().parse::<KeyState>(), Ok(*s));
        }
        for s in KeyUsage::ALL {
            assert_eq!(s.as_str().parse::<KeyUsage>(), Ok(*s));
        }
        assert_eq!("aliyun_aes_256".parse::<KeySpec>(), Err(UnknownValue));
    }

    #[test]
    fn usage_rules_follow_spec_6_1() {
        assert!(KeySpec::Aes256.allows_usage(KeyUsage::EncryptDecrypt));
        assert!(!KeySpec::Aes256.allows_usage(KeyUsage::SignVerify));
        assert!(!KeySpec::EcP256.allows_usage(KeyUsage::EncryptDecrypt));
        assert!(KeySpec::Rsa2048.allows_usage(KeyUsage::SignVerify));
        assert!(KeySpec::Aes256.is_symmetric() && !KeySpec::EcSm2.is_symmetric());
    }

    #[test]
    fn hmac_specs_are_neither_symmetric_nor_asymmetric() {
        let hmac: Vec<KeySpec> = KeySpec::ALL.iter().copied().filter(|s| s.is_hmac()).collect();
        assert_eq!(hmac.len(), MacAlgorithm::ALL.len());
        for s in KeySpec::ALL {
            // Exactly one of the three kinds.
            let kinds = [s.is_symmetric(), s.is_asymmetric(), s.is_hmac()];
            assert_eq!(kinds.iter().filter(|k| **k).count(), 1, "{s}");
            assert_eq!(s.allows_usage(KeyUsage::GenerateVerifyMac), s.is_hmac(), "{s}");
            assert!(s.allows_usage(s.default_usage()), "{s}");
        }
        for a in MacAlgorithm::ALL {
            // Each HMAC spec is named after its one algorithm.
            let spec: KeySpec = a.as_str().parse().unwrap();
            assert_eq!(spec.mac_algorithm(), Some(*a));
        }
        assert_eq!(KeySpec::parse_lenient("HMAC_SHA256"), Ok(KeySpec::HmacSha256));
        assert_eq!(KeySpec::parse_lenient("HMAC_512"), Ok(KeySpec::HmacSha512));
        assert_eq!(KeySpec::parse_lenient("HMAC_SM3"), Ok(KeySpec::HmacSm3));
        assert_eq!(KeySpec::parse_lenient("HMAC_MD5"), Err(UnknownValue));
        assert_eq!(KeySpec::HmacSha224.default_usage(), KeyUsage::GenerateVerifyMac);
    }

    #[test]
    fn asymmetric_algorithms_fit_their_specs_and_limits_follow_spec_6_3() {
        use AsymmetricAlgorithm as A;
        for a in A::ALL {
            assert_eq!(a.as_str().parse::<A>(), Ok(*a));
            let fitting: Vec<KeySpec> = KeySpec::ALL.iter().copied().filter(|s| a.fits(*s)).collect();
            assert!(!fitting.is_empty() && fitting.iter().all(|s| s.is_asymmetric() && s.allows_usage(a.usage())));
        }
        assert_eq!(A::RsaesOaepSha256.max_plaintext(KeySpec::Rsa2048), Some(190));
        assert_eq!(A::RsaesOaepSha1.max_plaintext(KeySpec::Rsa2048), Some(214));
        assert_eq!(A::RsaesOaepSha256.max_plaintext(KeySpec::Rsa3072), Some(318));
        assert_eq!(A::RsaesOaepSha1.max_plaintext(KeySpec::Rsa3072), Some(342));
        assert_eq!(A::Sm2Pke.max_plaintext(KeySpec::EcSm2), Some(6047));
        assert_eq!(A::EcdsaSha256.max_plaintext(KeySpec::EcP256), None);
        assert!(!A::EcdsaSha256.fits(KeySpec::EcSm2) && !A::Sm2Dsa.fits(KeySpec::EcP256));
    }
}
