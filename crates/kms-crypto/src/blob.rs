//! The `CiphertextBlob` layout (spec §8.1): `KeyVersionId` (36 ASCII bytes) ‖ IV (12) ‖
//! ciphertext ‖ tag (16). The version id up front is what lets Decrypt find its key without
//! being told; there is deliberately no format byte, which would break that convention.

use kms_types::KeyVersionId;

pub const IV_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// The shortest well-formed blob: an empty plaintext.
pub const MIN_LEN: usize = KeyVersionId::LEN + IV_LEN + TAG_LEN;

/// A blob that is too short or does not start with a version id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed ciphertext blob")]
pub struct MalformedBlob;

/// A parsed blob, borrowing its ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiphertextBlob<'a> {
    pub version_id: KeyVersionId,
    pub iv: [u8; IV_LEN],
    pub ciphertext_and_tag: &'a [u8],
}

impl<'a> CiphertextBlob<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, MalformedBlob> {
        if bytes.len() < MIN_LEN {
            return Err(MalformedBlob);
        }
        let (id, rest) = bytes.split_at(KeyVersionId::LEN);
        let id = std::str::from_utf8(id).map_err(|_| MalformedBlob)?;
        // Only the canonical lower-case spelling we write; anything else was altered.
        let version_id = KeyVersionId::parse(id).map_err(|_| MalformedBlob)?;
        if version_id.as_str() != id {
            return Err(MalformedBlob);
        }
        let (iv, ciphertext_and_tag) = rest.split_at(IV_LEN);
        Ok(Self { version_id, iv: iv.try_into().map_err(|_| MalformedBlob)?, ciphertext_and_tag })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(KeyVersionId::LEN + IV_LEN + self.ciphertext_and_tag.len());
        out.extend_from_slice(self.version_id.as_str().as_bytes());
        out.extend_from_slice(&self.iv);
        out.extend_from_slice(self.ciphertext_and_tag);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_inverts_encode(id in any::<u128>(), iv in any::<[u8; 12]>(), ct in proptest::collection::vec(any::<u8>(), 16..200)) {
            let version_id = KeyVersionId::parse(&uuid_str(id)).unwrap();
            let blob = CiphertextBlob { version_id, iv, ciphertext_and_tag: &ct };
            let bytes = blob.encode();
            prop_assert_eq!(CiphertextBlob::parse(&bytes).unwrap(), blob);
        }

        /// Arbitrary bytes never panic the parser.
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = CiphertextBlob::parse(&bytes);
        }
    }

    fn uuid_str(n: u128) -> String {
        let h = format!("{n:032x}");
        format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
    }

    #[test]
    fn short_or_foreign_blobs_are_malformed() {
        assert_eq!(CiphertextBlob::parse(&[0u8; MIN_LEN - 1]), Err(MalformedBlob));
        assert_eq!(CiphertextBlob::parse(&[b'x'; MIN_LEN]), Err(MalformedBlob));
        let upper = format!("{}{}", uuid_str(0xABCDEF).to_uppercase(), "\0".repeat(28));
        assert_eq!(CiphertextBlob::parse(upper.as_bytes()), Err(MalformedBlob));
        let lower = format!("{}{}", uuid_str(0xABCDEF), "\0".repeat(28));
        assert!(CiphertextBlob::parse(lower.as_bytes()).is_ok());
    }
}
