//! The traits a crypto backend implements.

use std::fmt;
use std::sync::Arc;

use kms_types::{AsymmetricAlgorithm, KeyId, KeySpec, KeyVersionId};
use zeroize::Zeroizing;

/// What can go wrong in a backend. None of these carries data: a message could leak it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The authentication tag did not verify: wrong key, wrong AAD or altered bytes.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The backend does not implement this key spec or operation.
    #[error("unsupported by this provider")]
    Unsupported,
    /// The backend itself failed (randomness, HSM session, …).
    #[error("crypto backend failure")]
    Backend,
}

/// Material as the store keeps it: produced by a backend, meaningful only to it.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedMaterial(pub Vec<u8>);

impl fmt::Debug for WrappedMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrappedMaterial({} bytes)", self.0.len())
    }
}

/// Binds wrapped material to the key version it belongs to and the spec it is for: used as
/// AAD when wrapping, so material copied onto another version's row, or read as another
/// algorithm's key, fails to unwrap.
#[derive(Debug, Clone, Copy)]
pub struct MaterialLabel<'a> {
    pub key_id: &'a KeyId,
    pub version_id: &'a KeyVersionId,
    pub spec: KeySpec,
}

impl MaterialLabel<'_> {
    /// Whether a key of this spec may run `algorithm` for `usage` (signing also: a digest of the
    /// one length the algorithms take). Every asymmetric backend asks this first.
    pub fn admits(
        &self,
        algorithm: kms_types::AsymmetricAlgorithm,
        usage: kms_types::KeyUsage,
        digest: Option<&[u8]>,
    ) -> Result<(), CryptoError> {
        let digest_ok = digest.is_none_or(|d| d.len() == kms_types::SIGNING_DIGEST_BYTES);
        if algorithm.fits(self.spec) && algorithm.usage() == usage && digest_ok {
            Ok(())
        } else {
            Err(CryptoError::Unsupported)
        }
    }

    pub fn aad(&self) -> Vec<u8> {
        format!("kmsd/key-material/v1\0{}\0{}\0{}", self.key_id, self.version_id, self.spec).into_bytes()
    }
}

/// An AEAD output: the IV the backend chose and the ciphertext with its tag appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub iv: [u8; 12],
    pub ciphertext_and_tag: Vec<u8>,
}

/// The root of the key hierarchy: wraps everything the store keeps secret.
pub trait RootKey: Send + Sync {
    fn wrap(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError>;
    fn unwrap(&self, aad: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError>;
}

/// Symmetric customer master keys.
pub trait SymmetricKeys: Send + Sync {
    fn supports(&self, spec: KeySpec) -> bool;
    /// New material for a version (of `label.spec`), returned wrapped.
    fn generate(&self, label: MaterialLabel<'_>) -> Result<WrappedMaterial, CryptoError>;
    /// Material the caller brought (BYOK), wrapped like generated material; `Unsupported`
    /// when it is not the spec's length.
    fn import(&self, label: MaterialLabel<'_>, material: &[u8]) -> Result<WrappedMaterial, CryptoError>;
    /// AEAD-encrypts under the version's material with the given IV (the instance API lets
    /// callers choose; they answer for its uniqueness), else a fresh random one.
    fn seal(
        &self,
        material: &WrappedMaterial,
        label: MaterialLabel<'_>,
        iv: Option<&[u8; 12]>,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Sealed, CryptoError>;
    fn open(
        &self,
        material: &WrappedMaterial,
        label: MaterialLabel<'_>,
        iv: &[u8; 12],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError>;
}

/// Asymmetric customer master keys: the private half stays behind this seam. The public
/// operations (verify, encrypt) need no secret and live in [`crate::public`].
pub trait AsymmetricKeys: Send + Sync {
    fn supports(&self, spec: KeySpec) -> bool;
    /// A new key pair for a version (of `label.spec`); the private key returned wrapped.
    fn generate(&self, label: MaterialLabel<'_>) -> Result<WrappedMaterial, CryptoError>;
    /// The version's public key as DER SubjectPublicKeyInfo.
    fn public_key(&self, material: &WrappedMaterial, label: MaterialLabel<'_>) -> Result<Vec<u8>, CryptoError>;
    /// Signs a digest the caller computed (SHA-256, or SM3 of `Z ‖ M` for SM2DSA); DER for
    /// the elliptic-curve algorithms.
    fn sign(
        &self,
        material: &WrappedMaterial,
        label: MaterialLabel<'_>,
        algorithm: AsymmetricAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;
    /// Decrypts what the public key encrypted; `AuthenticationFailed` for anything that does
    /// not decrypt, whatever the reason (no padding oracle).
    fn decrypt(
        &self,
        material: &WrappedMaterial,
        label: MaterialLabel<'_>,
        algorithm: AsymmetricAlgorithm,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError>;
}

/// HMAC keys: one secret per key, which computes and checks MACs and never leaves the backend.
pub trait MacKeys: Send + Sync {
    fn supports(&self, spec: KeySpec) -> bool;
    /// New material for a version (of `label.spec`, as long as its hash's output), wrapped.
    fn generate(&self, label: MaterialLabel<'_>) -> Result<WrappedMaterial, CryptoError>;
    /// The MAC of `message` with the algorithm of `label.spec`, full length.
    fn mac(&self, material: &WrappedMaterial, label: MaterialLabel<'_>, message: &[u8])
    -> Result<Vec<u8>, CryptoError>;
    /// Whether `mac` is the MAC of `message`, compared in constant time; a MAC of another
    /// length is simply not it.
    fn verify(
        &self,
        material: &WrappedMaterial,
        label: MaterialLabel<'_>,
        message: &[u8],
        mac: &[u8],
    ) -> Result<bool, CryptoError>;
}

/// One configured backend: the parts the key service uses.
#[derive(Clone)]
pub struct CryptoProvider {
    /// Every root key held; wraps with the current one (several during a root-key rotation).
    pub root: Arc<crate::RootKeyRing>,
    pub symmetric: Arc<dyn SymmetricKeys>,
    pub asymmetric: Arc<dyn AsymmetricKeys>,
    pub mac: Arc<dyn MacKeys>,
    /// `ProtectionLevel=HSM` keys, when a PKCS#11 token is configured: material generated and
    /// used inside the token.
    pub hsm: Option<Arc<crate::pkcs11::Pkcs11Keys>>,
    /// Random bytes for data keys and secrets.
    pub random: fn(&mut [u8]) -> Result<(), CryptoError>,
}

impl CryptoProvider {
    /// The backend holding asymmetric keys of a protection level: software (private keys
    /// wrapped by the root key), or the token for `HSM` (`Unsupported` without one).
    pub fn asymmetric_for(&self, level: kms_types::ProtectionLevel) -> Result<&dyn AsymmetricKeys, CryptoError> {
        match level {
            kms_types::ProtectionLevel::Software => Ok(&*self.asymmetric),
            kms_types::ProtectionLevel::Hsm => match &self.hsm {
                Some(hsm) => Ok(&**hsm),
                None => Err(CryptoError::Unsupported),
            },
        }
    }

    /// `n` random bytes in a zeroizing buffer.
    pub fn random_bytes(&self, n: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let mut buf = Zeroizing::new(vec![0u8; n]);
        (self.random)(&mut buf)?;
        Ok(buf)
    }
}
