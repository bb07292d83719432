//! The root keys a deployment may hold at once, so that the root key can be replaced while
//! kmsd serves: during a rotation every node wraps with the new key and unwraps with
//! whichever key a record names.
//!
//! A wrapped record is `MAGIC ‖ key id ‖ <the key's own wrapping>`. The id is a digest of the
//! key's check value (the random token `root_key_check` wraps), so every node holding the key
//! derives the same id without coordination, and the id reveals nothing about the key. Records
//! written before root keys had ids carry no prefix; they are tried against every key held,
//! as is a record whose prefix happens to name no key (the tag decides: a wrong key fails
//! authentication, never yields wrong bytes).

use std::fmt;
use std::sync::{Arc, RwLock};

use zeroize::Zeroizing;

use crate::provider::{CryptoError, RootKey};

/// Marks a wrapped record that names its root key: a byte no earlier format started with by
/// design (they started with a random IV, so a collision is possible and handled by fallback).
const MAGIC: [u8; 4] = [0xff, b'R', b'K', 1];
const ID_LEN: usize = 8;

/// Which root key wrapped a record.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RootKeyId(pub [u8; ID_LEN]);

impl RootKeyId {
    /// The id of the root key whose check token (the plaintext of `root_key_check`) is `check`.
    pub fn of_check(check: &[u8]) -> Self {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(b"kmsd/root-key-id/v1\0");
        ctx.update(check);
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&ctx.finish().as_ref()[..ID_LEN]);
        Self(id)
    }

    /// The key a wrapped record names, if it names one.
    pub fn named_by(wrapped: &[u8]) -> Option<Self> {
        let rest = wrapped.strip_prefix(&MAGIC)?;
        let id: [u8; ID_LEN] = rest.get(..ID_LEN)?.try_into().ok()?;
        Some(Self(id))
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for RootKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for RootKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RootKeyId({self})")
    }
}

struct Ring {
    /// The key new records are wrapped with; `None` until start-up has read the check value.
    current: Option<RootKeyId>,
    keys: Vec<(RootKeyId, Arc<dyn RootKey>)>,
    /// The key kmsd was started with, before start-up knows its id.
    configured: Arc<dyn RootKey>,
}

/// Every root key this process holds; wraps with the current one. The only [`RootKey`] the
/// rest of kmsd sees.
pub struct RootKeyRing(RwLock<Ring>);

impl RootKeyRing {
    pub fn new(configured: Arc<dyn RootKey>) -> Self {
        Self(RwLock::new(Ring { current: None, keys: Vec::new(), configured }))
    }

    /// The key kmsd was started with (to attach its id once known).
    pub fn configured(&self) -> Arc<dyn RootKey> {
        self.read().configured.clone()
    }

    /// Holds `key` under `id` (again: the later one replaces it).
    pub fn add(&self, id: RootKeyId, key: Arc<dyn RootKey>) {
        let mut ring = self.write();
        ring.keys.retain(|(k, _)| *k != id);
        ring.keys.push((id, key));
    }

    /// Wraps from now on with the key `id` (which must have been added).
    pub fn set_current(&self, id: RootKeyId) -> Result<(), CryptoError> {
        let mut ring = self.write();
        if !ring.keys.iter().any(|(k, _)| *k == id) {
            return Err(CryptoError::Unsupported);
        }
        ring.current = Some(id);
        Ok(())
    }

    pub fn current(&self) -> Option<RootKeyId> {
        self.read().current
    }

    pub fn holds(&self, id: RootKeyId) -> bool {
        self.read().keys.iter().any(|(k, _)| *k == id)
    }

    /// Wraps with one particular key held (a rotation re-wraps under the new key only).
    pub fn wrap_with(&self, id: RootKeyId, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let key = self.key(id).ok_or(CryptoError::Unsupported)?;
        Self::named(id, &key.wrap(aad, plaintext)?)
    }

    fn named(id: RootKeyId, inner: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut out = Vec::with_capacity(MAGIC.len() + ID_LEN + inner.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&id.0);
        out.extend_from_slice(inner);
        Ok(out)
    }

    fn key(&self, id: RootKeyId) -> Option<Arc<dyn RootKey>> {
        self.read().keys.iter().find(|(k, _)| *k == id).map(|(_, key)| key.clone())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Ring> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl RootKey for RootKeyRing {
    fn wrap(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (current, key) = {
            let ring = self.read();
            match ring.current {
                Some(id) => (Some(id), ring.keys.iter().find(|(k, _)| *k == id).map(|(_, k)| k.clone())),
                None => (None, Some(ring.configured.clone())),
            }
        };
        let key = key.ok_or(CryptoError::Backend)?;
        let inner = key.wrap(aad, plaintext)?;
        match current {
            Some(id) => Self::named(id, &inner),
            // Start-up's first check value: the id is derived from what it wraps.
            None => Ok(inner),
        }
    }

    fn unwrap(&self, aad: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let named = RootKeyId::named_by(wrapped);
        if let Some(id) = named
            && let Some(key) = self.key(id)
            && let Ok(plain) = key.unwrap(aad, &wrapped[MAGIC.len() + ID_LEN..])
        {
            return Ok(plain);
        }
        // A key whose id this process does not know yet (start-up, reading the check value),
        // a record from before ids, or one whose random IV began like a prefix.
        let candidates: Vec<Arc<dyn RootKey>> = {
            let ring = self.read();
            let mut all: Vec<_> = ring.keys.iter().map(|(_, k)| k.clone()).collect();
            all.push(ring.configured.clone());
            all
        };
        let bodies = named.map(|_| &wrapped[MAGIC.len() + ID_LEN..]).into_iter().chain([wrapped]);
        for body in bodies {
            for key in &candidates {
                if let Ok(plain) = key.unwrap(aad, body) {
                    return Ok(plain);
                }
            }
        }
        Err(CryptoError::AuthenticationFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soft::SoftRootKey;

    fn key(b: u8) -> Arc<dyn RootKey> {
        Arc::new(SoftRootKey::from_bytes(&[b; 32]))
    }

    #[test]
    fn records_name_the_key_that_wrapped_them_and_open_after_a_switch() {
        let ring = RootKeyRing::new(key(1));
        let (a, b) = (RootKeyId::of_check(b"a"), RootKeyId::of_check(b"b"));
        ring.add(a, key(1));
        ring.set_current(a).unwrap();
        let old = ring.wrap(b"aad", b"secret").unwrap();
        assert_eq!(RootKeyId::named_by(&old), Some(a));
        ring.add(b, key(2));
        ring.set_current(b).unwrap();
        let new = ring.wrap(b"aad", b"secret").unwrap();
        assert_eq!(RootKeyId::named_by(&new), Some(b));
        assert_eq!(ring.unwrap(b"aad", &old).unwrap().as_slice(), b"secret");
        assert_eq!(ring.unwrap(b"aad", &new).unwrap().as_slice(), b"secret");
        assert_eq!(ring.unwrap(b"other", &new), Err(CryptoError::AuthenticationFailed));
    }

    #[test]
    fn records_without_a_name_open_with_any_key_held() {
        let legacy = key(1).wrap(b"aad", b"old record").unwrap();
        let ring = RootKeyRing::new(key(2));
        assert!(ring.unwrap(b"aad", &legacy).is_err());
        ring.add(RootKeyId::of_check(b"x"), key(1));
        assert_eq!(ring.unwrap(b"aad", &legacy).unwrap().as_slice(), b"old record");
    }

    #[test]
    fn a_key_not_held_cannot_open_and_cannot_be_made_current() {
        let ring = RootKeyRing::new(key(1));
        let other = RootKeyRing::new(key(9));
        let id = RootKeyId::of_check(b"z");
        other.add(id, key(9));
        other.set_current(id).unwrap();
        let sealed = other.wrap(b"", b"x").unwrap();
        assert_eq!(ring.unwrap(b"", &sealed), Err(CryptoError::AuthenticationFailed));
        assert_eq!(ring.set_current(id), Err(CryptoError::Unsupported));
        assert!(ring.wrap_with(id, b"", b"x").is_err());
    }

    #[test]
    fn a_named_record_opens_before_its_id_is_known() {
        let writer = RootKeyRing::new(key(3));
        let id = RootKeyId::of_check(b"check");
        writer.add(id, key(3));
        writer.set_current(id).unwrap();
        let check = writer.wrap(b"aad", b"check").unwrap();
        // A fresh process holding the same key, before it has learnt the id.
        let reader = RootKeyRing::new(key(3));
        assert_eq!(reader.unwrap(b"aad", &check).unwrap().as_slice(), b"check");
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(RootKeyId::of_check(b"t"), RootKeyId::of_check(b"t"));
        assert_ne!(RootKeyId::of_check(b"t"), RootKeyId::of_check(b"u"));
        assert_eq!(RootKeyId::named_by(b"\xffRK\x01short"), None);
    }
}
