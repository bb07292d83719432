//! The `ciphertext_blob` target.

#[allow(unused_imports)]
use super::*;

/// A blob that starts with a real version id (in some letter case), so the fuzzer does not
/// have to discover UUID syntax to get past the first check.
#[derive(Arbitrary, Debug)]
pub struct ShapedBlob {
    pub(crate) id: u128,
    /// Bit `i % 32` set: hex letter at position `i` of the id is upper case.
    pub(crate) upper: u32,
    pub(crate) iv: [u8; IV_LEN],
    pub(crate) rest: Vec<u8>,
    /// Truncates the blob to `cut % (len + 1)` bytes.
    pub(crate) cut: Option<u16>,
}

/// Whatever the bytes: a blob that parses encodes back to exactly those bytes, and parses
/// again to the same value.
pub fn check_blob_bytes(data: &[u8]) {
    if let Ok(blob) = CiphertextBlob::parse(data) {
        let encoded = blob.encode();
        assert_eq!(encoded, data, "encode(parse(x)) != x");
        assert_eq!(CiphertextBlob::parse(&encoded).as_ref(), Ok(&blob));
    }
}

/// A blob parses exactly when it is long enough and its id is the canonical lower-case one.
pub fn check_shaped_blob(s: &ShapedBlob) {
    let hex = format!("{:032x}", s.id);
    let lower = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
    let mut has_upper = false;
    let id: String = lower
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if c.is_ascii_alphabetic() && s.upper & (1 << (i % 32)) != 0 {
                has_upper = true;
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    let mut bytes = id.into_bytes();
    bytes.extend_from_slice(&s.iv);
    bytes.extend_from_slice(&s.rest);
    if let Some(cut) = s.cut {
        bytes.truncate(usize::from(cut) % (bytes.len() + 1));
    }
    check_blob_bytes(&bytes);
    let parsed = CiphertextBlob::parse(&bytes);
    let expect_ok = !has_upper && bytes.len() >= MIN_LEN;
    assert_eq!(parsed.is_ok(), expect_ok, "blob {bytes:?} parsed as {parsed:?}");
    if let Ok(b) = parsed {
        assert_eq!(b.version_id.as_str(), lower);
        assert_eq!(b.iv, s.iv);
        assert_eq!(b.ciphertext_and_tag, &bytes[36 + IV_LEN..]);
    }
}
