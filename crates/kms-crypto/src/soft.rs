//! The software backend: AES-256-GCM from aws-lc-rs, with the root key read from a file.
//!
//! The root key file holds 32 random bytes as one line of base64, mode 0600. It is the one
//! secret that protects everything in the store: lose it and every key is gone, leak it and
//! the store is readable (see the README's backup notes).

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::Arc;

use aes_gcm::aead::consts::U12;
use aes_gcm::{AesGcm, KeyInit as _};
use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rand;
use base64::Engine as _;
use kms_types::KeySpec;
use zeroize::Zeroizing;

use crate::blob::{IV_LEN, TAG_LEN};
use crate::provider::{CryptoError, CryptoProvider, MaterialLabel, RootKey, Sealed, SymmetricKeys, WrappedMaterial};

/// Fills `buf` from aws-lc's CSPRNG, one draw per call: for key material, which must not
/// wait in a pool (IVs come from [`crate::public_random`]).
pub fn random_fill(buf: &mut [u8]) -> Result<(), CryptoError> {
    rand::fill(buf).map_err(|_| CryptoError::Backend)
}

/// A fresh random IV, or the caller's (the instance API lets callers choose theirs).
fn iv_or_random(iv: Option<&[u8; IV_LEN]>) -> Result<[u8; IV_LEN], CryptoError> {
    match iv {
        Some(iv) => Ok(*iv),
        None => crate::public_random::unique_bytes(),
    }
}

fn aead_seal(
    key: &LessSafeKey,
    iv: Option<&[u8; IV_LEN]>,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Sealed, CryptoError> {
    let iv = iv_or_random(iv)?;
    let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
    buf.extend_from_slice(plaintext);
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::from(aad), &mut buf)
        .map_err(|_| CryptoError::Backend)?;
    Ok(Sealed { iv, ciphertext_and_tag: buf })
}

fn aead_open(
    key: &LessSafeKey,
    iv: &[u8; IV_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut buf = Zeroizing::new(sealed.to_vec());
    let len = key
        .open_in_place(Nonce::assume_unique_for_key(*iv), Aad::from(aad), &mut buf)
        .map_err(|_| CryptoError::AuthenticationFailed)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Seals `plaintext` under a 32-byte data key (AES-256-GCM): `iv || ciphertext || tag`. For
/// envelope encryption, where the data key itself is wrapped by a KMS key and kept beside.
pub fn seal_with_data_key(data_key: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, data_key).map_err(|_| CryptoError::Backend)?);
    let sealed = aead_seal(&key, None, aad, plaintext)?;
    let mut out = Vec::with_capacity(IV_LEN + sealed.ciphertext_and_tag.len());
    out.extend_from_slice(&sealed.iv);
    out.extend_from_slice(&sealed.ciphertext_and_tag);
    Ok(out)
}

/// Opens what [`seal_with_data_key`] sealed; `AuthenticationFailed` for anything altered.
pub fn open_with_data_key(data_key: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, data_key).map_err(|_| CryptoError::Backend)?);
    if sealed.len() < IV_LEN + TAG_LEN {
        return Err(CryptoError::AuthenticationFailed);
    }
    let (iv, rest) = sealed.split_at(IV_LEN);
    let iv: [u8; IV_LEN] = iv.try_into().map_err(|_| CryptoError::AuthenticationFailed)?;
    aead_open(&key, &iv, aad, rest)
}

/// Why a root key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read root key file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("root key file {path} does not hold 32 bytes of base64")]
    Malformed { path: String },
}

/// A 256-bit AES-GCM root key held in memory by aws-lc (which wipes it when dropped).
pub struct SoftRootKey(LessSafeKey);

impl SoftRootKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        // A 32-byte slice is always a valid AES-256 key.
        let key = UnboundKey::new(&AES_256_GCM, bytes).expect("32-byte AES-256 key");
        Self(LessSafeKey::new(key))
    }

    /// Reads a root key file.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        Ok(Self::from_bytes(&*Self::read_secret(path)?))
    }

    /// A root key file's 32 bytes: for a root-key rotation, which hands them to the other
    /// nodes wrapped by the key being replaced.
    pub fn read_secret(path: &Path) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
        let display = path.display().to_string();
        let text = Zeroizing::new(
            fs::read_to_string(path).map_err(|source| KeyFileError::Io { path: display.clone(), source })?,
        );
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| KeyFileError::Malformed { path: display.clone() })?,
        );
        let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyFileError::Malformed { path: display })?;
        Ok(Zeroizing::new(arr))
    }

    /// Creates a new root key file (mode 0600; fails if the file exists) and syncs it and its
    /// directory to disk before returning, so a key that wrapped anything survives a crash.
    pub fn generate(path: &Path) -> Result<Self, KeyFileError> {
        let io = |source| KeyFileError::Io { path: path.display().to_string(), source };
        let mut bytes = Zeroizing::new([0u8; 32]);
        random_fill(bytes.as_mut()).map_err(|_| io(std::io::Error::other("no randomness")))?;
        let mut text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(bytes.as_ref()));
        text.push('\n');
        let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        if let Some(dir) = path.parent() {
            fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(Self::from_bytes(&bytes))
    }
}

impl RootKey for SoftRootKey {
    fn wrap(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let s = aead_seal(&self.0, None, aad, plaintext)?;
        let mut out = Vec::with_capacity(IV_LEN + s.ciphertext_and_tag.len());
        out.extend_from_slice(&s.iv);
        out.extend_from_slice(&s.ciphertext_and_tag);
        Ok(out)
    }

    fn unwrap(&self, aad: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if wrapped.len() < IV_LEN + TAG_LEN {
            return Err(CryptoError::AuthenticationFailed);
        }
        let (iv, sealed) = wrapped.split_at(IV_LEN);
        let iv: &[u8; IV_LEN] = iv.try_into().map_err(|_| CryptoError::AuthenticationFailed)?;
        aead_open(&self.0, iv, aad, sealed)
    }
}

/// SM4-GCM (RFC 8998): GCM over the SM4 block cipher, from RustCrypto.
type Sm4Gcm = AesGcm<sm4::Sm4, U12>;
/// AES-192-GCM from RustCrypto: aws-lc-rs has no 192-bit AES-GCM.
type Aes192Gcm = AesGcm<aes_gcm::aes::Aes192, U12>;

/// An unwrapped symmetric key, alive for one call.
enum SymmetricKey {
    /// AES-GCM from aws-lc (which wipes its key schedule on drop).
    Aes(LessSafeKey),
    /// SM4-GCM; the `zeroize` feature wipes the key schedule on drop.
    Sm4(Box<Sm4Gcm>),
    /// AES-192-GCM; wiped on drop likewise.
    Aes192(Box<Aes192Gcm>),
}

/// Seal/open for the RustCrypto AEADs (one IV and tag layout with aws-lc's).
fn rc_seal<A>(k: &A, iv: Option<&[u8; IV_LEN]>, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, CryptoError>
where
    A: aes_gcm::AeadInOut + aes_gcm::AeadCore<NonceSize = U12>,
{
    let iv = iv_or_random(iv)?;
    let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
    buf.extend_from_slice(plaintext);
    k.encrypt_in_place(&iv.into(), aad, &mut buf).map_err(|_| CryptoError::Backend)?;
    Ok(Sealed { iv, ciphertext_and_tag: buf })
}

fn rc_open<A>(k: &A, iv: &[u8; IV_LEN], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError>
where
    A: aes_gcm::AeadInOut + aes_gcm::AeadCore<NonceSize = U12>,
{
    let mut buf = Zeroizing::new(sealed.to_vec());
    k.decrypt_in_place(&(*iv).into(), aad, &mut *buf).map_err(|_| CryptoError::AuthenticationFailed)?;
    Ok(buf)
}

impl SymmetricKey {
    fn seal(&self, iv: Option<&[u8; IV_LEN]>, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, CryptoError> {
        match self {
            Self::Aes(k) => aead_seal(k, iv, aad, plaintext),
            Self::Sm4(k) => rc_seal(k.as_ref(), iv, aad, plaintext),
            Self::Aes192(k) => rc_seal(k.as_ref(), iv, aad, plaintext),
        }
    }

    fn open(&self, iv: &[u8; IV_LEN], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        match self {
            Self::Aes(k) => aead_open(k, iv, aad, sealed),
            Self::Sm4(k) => rc_open(k.as_ref(), iv, aad, sealed),
            Self::Aes192(k) => rc_open(k.as_ref(), iv, aad, sealed),
        }
    }
}

/// Symmetric keys whose material is wrapped by a [`RootKey`].
pub struct SoftSymmetric {
    root: Arc<dyn RootKey>,
}

impl SoftSymmetric {
    pub fn new(root: Arc<dyn RootKey>) -> Self {
        Self { root }
    }

    fn material_len(spec: KeySpec) -> Option<usize> {
        match spec {
            KeySpec::Aes256 => Some(32),
            KeySpec::Aes192 => Some(24),
            KeySpec::Aes128 | KeySpec::Sm4 => Some(16),
            _ => None,
        }
    }

    /// Unwraps the material for one call; the plain bytes are wiped when this returns.
    fn key(&self, material: &WrappedMaterial, label: MaterialLabel<'_>) -> Result<SymmetricKey, CryptoError> {
        let plain = self.root.unwrap(&label.aad(), &material.0)?;
        if Self::material_len(label.spec) != Some(plain.len()) {
            return Err(CryptoError::Backend);
        }
        let aes = |alg| {
            UnboundKey::new(alg, &plain)
                .map(|k| SymmetricKey::Aes(LessSafeKey::new(k)))
                .map_err(|_| CryptoError::Backend)
        };
        match label.spec {
            KeySpec::Aes256 => aes(&AES_256_GCM),
            KeySpec::Aes128 => aes(&AES_128_GCM),
            KeySpec::Sm4 => {
                Sm4Gcm::new_from_slice(&plain).map(|k| SymmetricKey::Sm4(Box::new(k))).map_err(|_| CryptoError::Backend)
            }
            KeySpec::Aes192 => Aes192Gcm::new_from_slice(&plain)
                .map(|k| SymmetricKey::Aes192(Box::new(k)))
                .map_err(|_| CryptoError::Backend),
            _ => Err(CryptoError::Unsupported),
        }
    }
}

impl SymmetricKeys for SoftSymmetric {
    fn supports(&self, spec: KeySpec) -> bool {
        Self::material_len(spec).is_some()
    }

    fn generate(&self, label: MaterialLabel<'_>) -> Result<WrappedMaterial, CryptoError> {
        let len = Self::material_len(label.spec).ok_or(CryptoError::Unsupported)?;
        let mut plain = Zeroizing::new(vec![0u8; len]);
        random_fill(&mut plain)?;
        Ok(WrappedMaterial(self.root.wrap(&label.aad(), &plain)?))
    }

    fn import(&self, label: MaterialLabel<'_>, material: &[u8]) -> Result<WrappedMaterial, CryptoError> {
        if Self::material_len(label.spec) != Some(material.len()) {
            return Err(CryptoError::Unsupported);
        }
        Ok(WrappedMaterial(self.root.wrap(&label.aad(), material)?))
    }

    fn seal(
        &self,
        material: &WrappedMaterial,
        label: MaterialLabel<'_>,
        iv: Option<&[u8; 12]>,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Sealed, CryptoError> {
        self.key(material, label)?.seal(iv, aad, plaintext)
    }

    fn open(
        &self,
        material: &WrappedMaterial,
        label: MaterialLabel<'_>,
        iv: &[u8; 12],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.key(material, label)?.open(iv, aad, ciphertext_and_tag)
    }
}

/// The complete software provider over one root key.
pub fn provider(root: SoftRootKey) -> CryptoProvider {
    provider_with(Arc::new(root))
}

/// The software provider with the root key somewhere else (a PKCS#11 token): key material is
/// still used in software, wrapped by that root key.
pub fn provider_with(root: Arc<dyn RootKey>) -> CryptoProvider {
    let root = Arc::new(crate::RootKeyRing::new(root));
    CryptoProvider {
        symmetric: Arc::new(SoftSymmetric::new(root.clone())),
        asymmetric: Arc::new(crate::SoftAsymmetric::new(root.clone())),
        mac: Arc::new(crate::SoftMac::new(root.clone())),
        hsm: None,
        root,
        random: random_fill,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::CiphertextBlob;
    use aes_gcm::AeadInOut as _;
    use kms_types::{KeyId, KeyVersionId};
    use proptest::prelude::*;

    fn fixture() -> (CryptoProvider, KeyId, KeyVersionId, WrappedMaterial) {
        let p = provider(SoftRootKey::from_bytes(&[7u8; 32]));
        let (k, v) = (KeyId::generate(), KeyVersionId::generate());
        let m = p.symmetric.generate(MaterialLabel { key_id: &k, version_id: &v, spec: KeySpec::Aes256 }).unwrap();
        (p, k, v, m)
    }

    /// RFC 8998 Appendix A.1: the SM4-GCM known answer.
    #[test]
    fn sm4_gcm_known_answer() {
        let key = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap();
        let iv: [u8; 12] = hex::decode("00001234567800000000ABCD").unwrap().try_into().unwrap();
        let aad = hex::decode("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2").unwrap();
        let pt = hex::decode("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDDEEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA").unwrap();
        let expected = hex::decode("17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D83DE3541E4C2B58177E065A9BF7B62EC").unwrap();
        let k = SymmetricKey::Sm4(Box::new(Sm4Gcm::new_from_slice(&key).unwrap()));
        let mut buf = pt.clone();
        if let SymmetricKey::Sm4(c) = &k {
            c.encrypt_in_place(&iv.into(), &aad, &mut buf).unwrap();
        }
        assert_eq!(buf, expected);
        assert_eq!(&*k.open(&iv, &aad, &expected).unwrap(), pt.as_slice());
        let mut bad = expected.clone();
        bad[0] ^= 1;
        assert_eq!(k.open(&iv, &aad, &bad), Err(CryptoError::AuthenticationFailed));
    }

    /// The GCM specification's (McGrew–Viega) test cases 7 and 8: AES-192-GCM, all-zero key
    /// and IV, empty and one-block plaintext.
    #[test]
    fn aes_192_gcm_known_answer() {
        let k = SymmetricKey::Aes192(Box::new(Aes192Gcm::new_from_slice(&[0u8; 24]).unwrap()));
        let iv = [0u8; 12];
        let empty = k.seal(Some(&iv), b"", b"").unwrap();
        assert_eq!(hex::encode(&empty.ciphertext_and_tag), "cd33b28ac773f74ba00ed1f312572435");
        let block = k.seal(Some(&iv), b"", &[0u8; 16]).unwrap();
        assert_eq!(
            hex::encode(&block.ciphertext_and_tag),
            "98e7247c07f0fe411c267e4384b0f6002ff58d80033927ab8ef4d4587514f0fb"
        );
        assert_eq!(&*k.open(&iv, b"", &block.ciphertext_and_tag).unwrap(), &[0u8; 16]);
    }

    #[test]
    fn every_supported_spec_round_trips_and_material_is_bound_to_its_spec() {
        let p = provider(SoftRootKey::from_bytes(&[7u8; 32]));
        for spec in [KeySpec::Aes256, KeySpec::Aes192, KeySpec::Aes128, KeySpec::Sm4] {
            let (k, v) = (KeyId::generate(), KeyVersionId::generate());
            let label = MaterialLabel { key_id: &k, version_id: &v, spec };
            let m = p.symmetric.generate(label).unwrap();
            let s = p.symmetric.seal(&m, label, None, b"ctx", b"data").unwrap();
            assert_eq!(&*p.symmetric.open(&m, label, &s.iv, b"ctx", &s.ciphertext_and_tag).unwrap(), b"data");
            for other in
                [KeySpec::Aes256, KeySpec::Aes192, KeySpec::Aes128, KeySpec::Sm4].into_iter().filter(|o| *o != spec)
            {
                let relabeled = MaterialLabel { spec: other, ..label };
                assert!(p.symmetric.open(&m, relabeled, &s.iv, b"ctx", &s.ciphertext_and_tag).is_err());
            }
        }
        assert!(!p.symmetric.supports(KeySpec::Rsa2048));
    }

    /// The instance API's callers may choose the IV: it is used, and only it opens the result.
    #[test]
    fn a_caller_iv_is_used() {
        let (p, k, v, m) = fixture();
        let label = MaterialLabel { key_id: &k, version_id: &v, spec: KeySpec::Aes256 };
        let iv = [7u8; 12];
        let s = p.symmetric.seal(&m, label, Some(&iv), b"aad", b"hello").unwrap();
        assert_eq!(s.iv, iv);
        assert_eq!(&*p.symmetric.open(&m, label, &iv, b"aad", &s.ciphertext_and_tag).unwrap(), b"hello");
        assert!(p.symmetric.open(&m, label, &[8u8; 12], b"aad", &s.ciphertext_and_tag).is_err());
        let fresh = p.symmetric.seal(&m, label, None, b"aad", b"hello").unwrap();
        assert_ne!(fresh.iv, iv);
    }

    #[test]
    fn material_is_bound_to_its_version() {
        let (p, k, v, m) = fixture();
        let label = MaterialLabel { key_id: &k, version_id: &v, spec: KeySpec::Aes256 };
        let s = p.symmetric.seal(&m, label, None, b"aad", b"hello").unwrap();
        assert_eq!(&*p.symmetric.open(&m, label, &s.iv, b"aad", &s.ciphertext_and_tag).unwrap(), b"hello");
        let other = KeyVersionId::generate();
        let moved = MaterialLabel { key_id: &k, version_id: &other, spec: KeySpec::Aes256 };
        assert_eq!(
            p.symmetric.open(&m, moved, &s.iv, b"aad", &s.ciphertext_and_tag),
            Err(CryptoError::AuthenticationFailed)
        );
        assert_eq!(
            p.symmetric.open(&m, label, &s.iv, b"aae", &s.ciphertext_and_tag),
            Err(CryptoError::AuthenticationFailed)
        );
    }

    #[test]
    fn a_different_root_key_cannot_unwrap() {
        let (_, k, v, m) = fixture();
        let other = provider(SoftRootKey::from_bytes(&[8u8; 32]));
        let label = MaterialLabel { key_id: &k, version_id: &v, spec: KeySpec::Aes256 };
        assert!(other.symmetric.seal(&m, label, None, b"", b"x").is_err());
    }

    #[test]
    fn wrapped_material_does_not_contain_the_plain_key() {
        let root = SoftRootKey::from_bytes(&[1u8; 32]);
        let secret = [0x5Au8; 32];
        let w = root.wrap(b"l", &secret).unwrap();
        assert!(!w.windows(32).any(|win| win == secret));
        assert_eq!(&*root.unwrap(b"l", &w).unwrap(), &secret);
    }

    #[test]
    fn key_file_round_trip_mode_and_no_overwrite() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let a = SoftRootKey::generate(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let w = a.wrap(b"x", b"payload").unwrap();
        let b = SoftRootKey::load(&path).unwrap();
        assert_eq!(&*b.unwrap(b"x", &w).unwrap(), b"payload");
        assert!(SoftRootKey::generate(&path).is_err());
        fs::write(&path, "short\n").unwrap();
        assert!(matches!(SoftRootKey::load(&path), Err(KeyFileError::Malformed { .. })));
    }

    proptest! {
        /// Any single-byte change of a blob makes it fail to parse or to decrypt.
        #[test]
        fn any_single_byte_change_fails(pt in proptest::collection::vec(any::<u8>(), 0..64), pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let (p, k, v, m) = fixture();
            let label = MaterialLabel { key_id: &k, version_id: &v, spec: KeySpec::Aes256 };
            let s = p.symmetric.seal(&m, label, None, b"ctx", &pt).unwrap();
            let blob = CiphertextBlob { version_id: v.clone(), iv: s.iv, ciphertext_and_tag: &s.ciphertext_and_tag }.encode();
            let mut bad = blob.clone();
            let i = pos.index(bad.len());
            bad[i] ^= flip;
            let outcome = CiphertextBlob::parse(&bad).map_err(|_| ()).and_then(|b| {
                if b.version_id != v { return Err(()); } // names another version: not this key's
                p.symmetric.open(&m, label, &b.iv, b"ctx", b.ciphertext_and_tag).map_err(|_| ())
            });
            prop_assert!(outcome.is_err());
        }
    }
}
