//! The root key in a PKCS#11 token (an HSM; SoftHSM2 in the tests), through `cryptoki`.
//!
//! The root key is a non-extractable, sensitive AES-256 key inside the token: wrapping and
//! unwrapping are AES-GCM operations the token performs, with the same `IV ‖ ciphertext ‖ tag`
//! layout as the file root key, so the rest of kmsd cannot tell the two apart. The token is
//! named by an RFC 7512 URI whose PIN comes from a file (`pin-source`), never from the command
//! line.
//!
//! Unwrapped material is kept in memory (bounded, wiped when dropped) so that the token is not
//! on the path of every Encrypt: with the file root key kmsd unwraps per call because that is
//! one in-process AES operation; a token round trip per call would cap throughput at the
//! token's rate. The trade is the one the README states: a memory dump of a running kmsd can
//! show material it used recently, as it can with the file root key.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use crate::blob::{IV_LEN, TAG_LEN};
use kms_types::KeySpec;

use crate::provider::{CryptoError, MaterialLabel, RootKey, Sealed, SymmetricKeys, WrappedMaterial};
use crate::soft::random_fill;

/// Where the root key lives: `pkcs11:token=<label>;object=<label>?module-path=<.so>&pin-source=file:<path>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkcs11Uri {
    pub token: String,
    pub object: String,
    pub module_path: PathBuf,
    /// The file holding the user PIN (its first line).
    pub pin_file: PathBuf,
}

impl fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string())
    }
}

/// What RFC 7512 lets stand unescaped in an attribute value (its `pchar` less the separators
/// `;`, `?`, `&` and `=`); everything else is percent-encoded, so any label round-trips.
const VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/')
    .remove(b':')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',');

/// The URI in RFC 7512 form, for messages and logs (it holds no secret: the PIN is in a file).
impl fmt::Display for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, VALUE).to_string();
        write!(
            f,
            "pkcs11:token={};object={}?module-path={}&pin-source=file:{}",
            enc(&self.token),
            enc(&self.object),
            enc(&self.module_path.to_string_lossy()),
            enc(&self.pin_file.to_string_lossy())
        )
    }
}

fn decode(raw: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("{raw:?} is not UTF-8 once percent-decoded"))
}

impl Pkcs11Uri {
    /// Parses the RFC 7512 subset kmsd needs: `token` and `object` in the path, `module-path`
    /// and `pin-source` (a `file:` path) in the query. Other path attributes (`type`,
    /// `manufacturer`, …) are allowed and ignored; a `pin-value` is refused, so no PIN ends up
    /// in a process listing or a shell history.
    pub fn parse(uri: &str) -> Result<Self, String> {
        let rest = uri.strip_prefix("pkcs11:").ok_or("a PKCS#11 URI starts with pkcs11:")?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (mut token, mut object, mut module, mut pin) = (None, None, None, None);
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, value) = attr.split_once('=').ok_or_else(|| format!("{attr:?} is not name=value"))?;
            match name {
                "token" => token = Some(decode(value)?),
                "object" => object = Some(decode(value)?),
                _ => {}
            }
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (name, value) = attr.split_once('=').ok_or_else(|| format!("{attr:?} is not name=value"))?;
            match name {
                "module-path" => module = Some(PathBuf::from(decode(value)?)),
                "pin-source" => {
                    let source = decode(value)?;
                    let file = source.strip_prefix("file:").ok_or("pin-source must be a file: path")?;
                    // `file:///p` (an empty authority) is the path `/p`; `file:/p` is too.
                    pin = Some(PathBuf::from(file.strip_prefix("//").filter(|p| p.starts_with('/')).unwrap_or(file)));
                }
                "pin-value" => return Err("pin-value puts the PIN on the command line: use pin-source=file:…".into()),
                _ => {}
            }
        }
        let nonempty = |v: Option<String>, what: &str| match v {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(format!("the URI names no {what}")),
        };
        Ok(Self {
            token: nonempty(token, "token (token=…)")?,
            object: nonempty(object, "key (object=…)")?,
            module_path: module.ok_or("the URI names no module (module-path=…)")?,
            pin_file: pin.ok_or("the URI names no PIN file (pin-source=file:…)")?,
        })
    }
}

/// Why the token's root key cannot be used. Start-up refuses with these words.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    #[error("cannot load the PKCS#11 module {0}: {1}")]
    Module(String, String),
    #[error("no PKCS#11 token labelled {0:?} (is it initialised, and is this the module it lives in?)")]
    NoToken(String),
    #[error("cannot read the PIN file {0}: {1}")]
    PinFile(String, String),
    #[error("the token {0:?} refused the PIN: {1}")]
    Login(String, String),
    #[error(
        "the token {token:?} holds no key labelled {object:?}, and the store already holds data: creating a new root key would make all of it unreadable"
    )]
    KeyMissing { token: String, object: String },
    #[error("the token {token:?} holds {count} objects labelled {object:?}: name one key")]
    Ambiguous { token: String, object: String, count: usize },
    #[error("the key {0:?} is not a sensitive, non-extractable AES-256 key that can encrypt and decrypt")]
    Unsuitable(String),
    #[error("PKCS#11: {0}")]
    Token(String),
}

fn token_err(e: cryptoki::error::Error) -> Pkcs11Error {
    Pkcs11Error::Token(e.to_string())
}

/// Every AES key kmsd makes in a token, root or HSM key: kept in the token, sensitive, never
/// extractable, for encrypting and decrypting only.
fn aes_key_template(len: u64, label: Vec<u8>, id: Option<Vec<u8>>) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::ValueLen(len.into()),
        Attribute::Label(label),
    ];
    template.extend(id.map(Attribute::Id));
    template
}

/// How many unwrapped secrets are kept; past it the table starts over.
const MAX_CACHED: usize = 100_000;

/// One logged-in session on the token, shared by the root key and the HSM-protected keys.
pub struct Token {
    /// Sessions are not shareable between threads; calls take turns (the caches keep them few).
    session: Mutex<Session>,
    /// The token's label, as the URI names it.
    label: String,
    // Declared last: the module stays loaded until the session above is closed.
    _module: Pkcs11,
}

/// The tokens this process has open, by module and token label: a module can be initialised
/// once per process, and a root-key rotation between two keys of one token needs both.
static OPEN_TOKENS: Mutex<Vec<(PathBuf, String, std::sync::Weak<Token>)>> = Mutex::new(Vec::new());

impl Token {
    /// The token the URI names, logged in: the one already open in this process, or newly.
    fn open(uri: &Pkcs11Uri) -> Result<std::sync::Arc<Self>, Pkcs11Error> {
        let mut open = OPEN_TOKENS.lock().map_err(|_| Pkcs11Error::Token("token table lock".into()))?;
        open.retain(|(_, _, t)| t.strong_count() > 0);
        if let Some(token) =
            open.iter().find(|(m, t, _)| *m == uri.module_path && *t == uri.token).and_then(|(_, _, t)| t.upgrade())
        {
            return Ok(token);
        }
        if open.iter().any(|(m, _, _)| *m == uri.module_path) {
            return Err(Pkcs11Error::Module(
                uri.module_path.display().to_string(),
                "already in use for another token: kmsd uses one token per module".into(),
            ));
        }
        let module = Pkcs11::new(&uri.module_path)
            .map_err(|e| Pkcs11Error::Module(uri.module_path.display().to_string(), e.to_string()))?;
        module
            .initialize(CInitializeArgs::OsThreads)
            .map_err(|e| Pkcs11Error::Module(uri.module_path.display().to_string(), e.to_string()))?;
        let mut slot = None;
        for s in module.get_slots_with_token().map_err(token_err)? {
            let info = module.get_token_info(s).map_err(token_err)?;
            if info.label().trim_end() == uri.token {
                slot = Some(s);
                break;
            }
        }
        let slot = slot.ok_or_else(|| Pkcs11Error::NoToken(uri.token.clone()))?;
        let pin = std::fs::read_to_string(&uri.pin_file)
            .map_err(|e| Pkcs11Error::PinFile(uri.pin_file.display().to_string(), e.to_string()))?;
        let pin = Zeroizing::new(pin.lines().next().unwrap_or("").to_owned());
        let session = module.open_rw_session(slot).map_err(token_err)?;
        session
            .login(UserType::User, Some(&AuthPin::new(pin.as_str().into())))
            .map_err(|e| Pkcs11Error::Login(uri.token.clone(), e.to_string()))?;
        let token =
            std::sync::Arc::new(Token { session: Mutex::new(session), label: uri.token.clone(), _module: module });
        open.push((uri.module_path.clone(), uri.token.clone(), std::sync::Arc::downgrade(&token)));
        Ok(token)
    }

    pub(crate) fn session(&self) -> Result<std::sync::MutexGuard<'_, Session>, CryptoError> {
        self.session.lock().map_err(|_| CryptoError::Backend)
    }
}

/// The root key: its handle in the token.
pub struct Pkcs11RootKey {
    token: std::sync::Arc<Token>,
    key: ObjectHandle,
    /// Unwrapped secrets by a digest of what was unwrapped (the AAD and the wrapped bytes).
    cache: Mutex<HashMap<[u8; 32], Zeroizing<Vec<u8>>>>,
    label: String,
}

/// What [`Pkcs11RootKey::open`] found or made.
pub struct Opened {
    pub root: Pkcs11RootKey,
    /// Whether the key was generated by this call (start-up then removes it again if it fails).
    pub created: bool,
}

impl Pkcs11RootKey {
    /// Opens the token the URI names, logs in, and finds the key — or, with `create` (a store
    /// with no data yet), generates it inside the token: AES-256, sensitive, never extractable.
    pub fn open(uri: &Pkcs11Uri, create: bool) -> Result<Opened, Pkcs11Error> {
        let token = Token::open(uri)?;
        let label = uri.object.as_bytes().to_vec();
        let (key, created) = {
            let session = token.session().map_err(|_| Pkcs11Error::Token("session lock".into()))?;
            let found = session
                .find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Label(label.clone())])
                .map_err(token_err)?;
            match found.as_slice() {
                [key] => (*key, false),
                [] if create => {
                    let template = aes_key_template(32, label, None);
                    (session.generate_key(&Mechanism::AesKeyGen, &template).map_err(token_err)?, true)
                }
                [] => {
                    return Err(Pkcs11Error::KeyMissing { token: uri.token.clone(), object: uri.object.clone() });
                }
                many => {
                    return Err(Pkcs11Error::Ambiguous {
                        token: uri.token.clone(),
                        object: uri.object.clone(),
                        count: many.len(),
                    });
                }
            }
        };
        let root = Self { token, key, cache: Mutex::default(), label: uri.object.clone() };
        root.check_suitable()?;
        Ok(Opened { root, created })
    }

    /// An existing key is used only if it is what kmsd would have made.
    fn check_suitable(&self) -> Result<(), Pkcs11Error> {
        let session = self.token.session().map_err(|_| Pkcs11Error::Token("session lock".into()))?;
        let wanted = [
            AttributeType::KeyType,
            AttributeType::ValueLen,
            AttributeType::Sensitive,
            AttributeType::Extractable,
            AttributeType::Encrypt,
            AttributeType::Decrypt,
        ];
        let attrs = session.get_attributes(self.key, &wanted).map_err(token_err)?;
        let ok = attrs.len() == wanted.len()
            && attrs.iter().all(|a| match a {
                Attribute::KeyType(t) => *t == KeyType::AES,
                Attribute::ValueLen(n) => u64::from(*n) == 32,
                Attribute::Sensitive(b) | Attribute::Encrypt(b) | Attribute::Decrypt(b) => *b,
                Attribute::Extractable(b) => !*b,
                _ => false,
            });
        if ok { Ok(()) } else { Err(Pkcs11Error::Unsuitable(self.label.clone())) }
    }

    /// Removes the key from the token: for a start that generated it and then failed.
    pub fn destroy(self) -> Result<(), Pkcs11Error> {
        let session = self.token.session().map_err(|_| Pkcs11Error::Token("session lock".into()))?;
        session.destroy_object(self.key).map_err(token_err)
    }

    /// Keys generated and used inside the same token (`ProtectionLevel=HSM`).
    pub fn hsm_keys(&self) -> Pkcs11Keys {
        Pkcs11Keys { token: self.token.clone(), handles: Mutex::default() }
    }

    fn cache_key(aad: &[u8], wrapped: &[u8]) -> [u8; 32] {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(&(aad.len() as u64).to_be_bytes());
        ctx.update(aad);
        ctx.update(wrapped);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }
}

impl RootKey for Pkcs11RootKey {
    fn wrap(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut iv = [0u8; IV_LEN];
        random_fill(&mut iv)?;
        let mut iv_param = iv;
        let sealed = {
            let session = self.token.session()?;
            let params =
                GcmParams::new(&mut iv_param, aad, (TAG_LEN as u64 * 8).into()).map_err(|_| CryptoError::Backend)?;
            session.encrypt(&Mechanism::AesGcm(params), self.key, plaintext).map_err(|_| CryptoError::Backend)?
        };
        let mut out = Vec::with_capacity(IV_LEN + sealed.len());
        out.extend_from_slice(&iv);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn unwrap(&self, aad: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if wrapped.len() < IV_LEN + TAG_LEN {
            return Err(CryptoError::AuthenticationFailed);
        }
        let id = Self::cache_key(aad, wrapped);
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&id).cloned()) {
            return Ok(hit);
        }
        let (iv, sealed) = wrapped.split_at(IV_LEN);
        let mut iv: [u8; IV_LEN] = iv.try_into().map_err(|_| CryptoError::AuthenticationFailed)?;
        let plain = {
            let session = self.token.session()?;
            let params = GcmParams::new(&mut iv, aad, (TAG_LEN as u64 * 8).into()).map_err(|_| CryptoError::Backend)?;
            // A tag that does not verify is CKR_ENCRYPTED_DATA_INVALID (or similar): one answer.
            Zeroizing::new(
                session
                    .decrypt(&Mechanism::AesGcm(params), self.key, sealed)
                    .map_err(|_| CryptoError::AuthenticationFailed)?,
            )
        };
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= MAX_CACHED {
                c.clear();
            }
            c.insert(id, plain.clone());
        }
        Ok(plain)
    }
}

/// What an HSM key's stored "material" is: this prefix and the token object's `CKA_ID`. No key
/// bytes, wrapped or not, ever leave the token.
pub(crate) const HSM_REF: &[u8] = b"pkcs11:v1:";
/// SoftHSM2 aborts on AES-GCM with an empty AAD (SoftHSMv2#605), and callers may send none: the
/// token always sees this label before the caller's AAD. HSM keys' ciphertexts never open
/// outside kmsd (the key cannot leave the token), so the difference is invisible.
const HSM_AAD: &[u8] = b"kmsd/hsm-key/v1\0";

/// `ProtectionLevel=HSM` keys: AES keys generated in the token, sensitive and never
/// extractable; every seal and open is the token's AES-GCM.
pub struct Pkcs11Keys {
    pub(crate) token: std::sync::Arc<Token>,
    /// Object handles by class and `CKA_ID`, found once per process.
    handles: Mutex<HashMap<(u8, Vec<u8>), ObjectHandle>>,
}

impl Pkcs11Keys {
    /// The label of the token the keys live in.
    pub fn token_label(&self) -> &str {
        &self.token.label
    }

    fn key_len(spec: KeySpec) -> Option<u64> {
        match spec {
            KeySpec::Aes256 => Some(32),
            KeySpec::Aes192 => Some(24),
            KeySpec::Aes128 => Some(16),
            _ => None,
        }
    }

    fn handle(&self, material: &WrappedMaterial) -> Result<ObjectHandle, CryptoError> {
        self.object(material, ObjectClass::SECRET_KEY)
    }

    /// The token object of `class` a version's material names, found once per process.
    pub(crate) fn object(&self, material: &WrappedMaterial, class: ObjectClass) -> Result<ObjectHandle, CryptoError> {
        let id = material.0.strip_prefix(HSM_REF).ok_or(CryptoError::Unsupported)?;
        let tag = match class {
            ObjectClass::SECRET_KEY => 0u8,
            ObjectClass::PRIVATE_KEY => 1,
            _ => 2,
        };
        let cache_key = (tag, id.to_vec());
        if let Some(h) = self.handles.lock().ok().and_then(|m| m.get(&cache_key).copied()) {
            return Ok(h);
        }
        let found = self
            .token
            .session()?
            .find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())])
            .map_err(|_| CryptoError::Backend)?;
        let [h] = found.as_slice() else { return Err(CryptoError::AuthenticationFailed) };
        if let Ok(mut m) = self.handles.lock() {
            m.insert(cache_key, *h);
        }
        Ok(*h)
    }

    /// A fresh `CKA_ID` for a new version's token objects, and the material that names it.
    pub(crate) fn new_id() -> Result<(Vec<u8>, WrappedMaterial), CryptoError> {
        let mut id = vec![0u8; 16];
        random_fill(&mut id)?;
        let mut material = HSM_REF.to_vec();
        material.extend_from_slice(&id);
        Ok((id, WrappedMaterial(material)))
    }

    fn gcm(
        iv: &mut [u8; IV_LEN],
        aad: &[u8],
        f: impl FnOnce(&Mechanism<'_>) -> Result<Vec<u8>, CryptoError>,
    ) -> Result<Vec<u8>, CryptoError> {
        let mut full = Vec::with_capacity(HSM_AAD.len() + aad.len());
        full.extend_from_slice(HSM_AAD);
        full.extend_from_slice(aad);
        let params = GcmParams::new(iv, &full, (TAG_LEN as u64 * 8).into()).map_err(|_| CryptoError::Backend)?;
        f(&Mechanism::AesGcm(params))
    }

    /// Removes a version's objects from the token (the key's deletion window ended): its
    /// secret key, or its private and public keys.
    pub fn destroy(&self, material: &WrappedMaterial) -> Result<(), CryptoError> {
        let id = material.0.strip_prefix(HSM_REF).ok_or(CryptoError::Unsupported)?;
        let session = self.token.session()?;
        let found = session.find_objects(&[Attribute::Id(id.to_vec())]).map_err(|_| CryptoError::Backend)?;
        if found.is_empty() {
            return Err(CryptoError::AuthenticationFailed);
        }
        for h in found {
            session.destroy_object(h).map_err(|_| CryptoError::Backend)?;
        }
        if let Ok(mut m) = self.handles.lock() {
            m.retain(|(_, k), _| k != id);
        }
        Ok(())
    }
}

impl SymmetricKeys for Pkcs11Keys {
    fn supports(&self, spec: KeySpec) -> bool {
        Self::key_len(spec).is_some()
    }

    fn generate(&self, label: MaterialLabel<'_>) -> Result<WrappedMaterial, CryptoError> {
        let len = Self::key_len(label.spec).ok_or(CryptoError::Unsupported)?;
        let (id, material) = Self::new_id()?;
        let name = format!("kmsd/{}/{}", label.key_id, label.version_id).into_bytes();
        let template = aes_key_template(len, name, Some(id.clone()));
        let h =
            self.token.session()?.generate_key(&Mechanism::AesKeyGen, &template).map_err(|_| CryptoError::Backend)?;
        if let Ok(mut m) = self.handles.lock() {
            m.insert((0, id), h);
        }
        Ok(material)
    }

    /// Material from outside cannot become an HSM key here (no import into the token).
    fn import(&self, _: MaterialLabel<'_>, _: &[u8]) -> Result<WrappedMaterial, CryptoError> {
        Err(CryptoError::Unsupported)
    }

    fn seal(
        &self,
        material: &WrappedMaterial,
        _: MaterialLabel<'_>,
        iv: Option<&[u8; IV_LEN]>,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Sealed, CryptoError> {
        let key = self.handle(material)?;
        let iv = match iv {
            Some(iv) => *iv,
            None => {
                let mut fresh = [0u8; IV_LEN];
                random_fill(&mut fresh)?;
                fresh
            }
        };
        let mut iv_param = iv;
        let session = self.token.session()?;
        let sealed =
            Self::gcm(&mut iv_param, aad, |m| session.encrypt(m, key, plaintext).map_err(|_| CryptoError::Backend))?;
        Ok(Sealed { iv, ciphertext_and_tag: sealed })
    }

    fn open(
        &self,
        material: &WrappedMaterial,
        _: MaterialLabel<'_>,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let key = self.handle(material)?;
        if ciphertext_and_tag.len() < TAG_LEN {
            return Err(CryptoError::AuthenticationFailed);
        }
        let mut iv = *iv;
        let session = self.token.session()?;
        Self::gcm(&mut iv, aad, |m| {
            session.decrypt(m, key, ciphertext_and_tag).map_err(|_| CryptoError::AuthenticationFailed)
        })
        .map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the labels and paths hold (separators, spaces, non-ASCII), the URI kmsd
        /// prints parses back to the same place.
        #[test]
        fn display_round_trips(token in "\\PC{1,24}", object in "\\PC{1,24}", module in "/[^\\x00]{1,40}", pin in "/[^\\x00]{1,40}") {
            let u = Pkcs11Uri { token, object, module_path: PathBuf::from(module), pin_file: PathBuf::from(pin) };
            prop_assert_eq!(Pkcs11Uri::parse(&u.to_string()).unwrap(), u);
        }
    }

    #[test]
    fn uris_parse_and_refuse_what_they_must() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=kmsd%20root;object=root-v1;type=secret-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/kmsd/pin",
        )
        .unwrap();
        assert_eq!((u.token.as_str(), u.object.as_str()), ("kmsd root", "root-v1"));
        assert_eq!(u.module_path, PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
        assert_eq!(u.pin_file, PathBuf::from("/etc/kmsd/pin"));
        assert_eq!(Pkcs11Uri::parse(&u.to_string()).unwrap(), u);
        assert!(u.to_string().starts_with("pkcs11:token=kmsd%20root;object=root-v1?"), "{u}");
        let file_url = Pkcs11Uri::parse("pkcs11:token=t;object=o?module-path=/m.so&pin-source=file:///p").unwrap();
        assert_eq!(file_url.pin_file, PathBuf::from("/p"));
        for bad in [
            "token=t;object=o?module-path=/m.so&pin-source=file:/p",
            "pkcs11:object=o?module-path=/m.so&pin-source=file:/p",
            "pkcs11:token=t?module-path=/m.so&pin-source=file:/p",
            "pkcs11:token=t;object=o?pin-source=file:/p",
            "pkcs11:token=t;object=o?module-path=/m.so",
            "pkcs11:token=t;object=o?module-path=/m.so&pin-value=1234",
            "pkcs11:token=t;object=o?module-path=/m.so&pin-source=env:PIN",
            "pkcs11:token;object=o?module-path=/m.so&pin-source=file:/p",
            "pkcs11:token=%FF;object=o?module-path=/m.so&pin-source=file:/p",
        ] {
            assert!(Pkcs11Uri::parse(bad).is_err(), "{bad}");
        }
    }
}
