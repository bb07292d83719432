//! `EncryptionContext`: a JSON object of strings bound to a ciphertext as AAD (spec §6.6).
//!
//! Clients serialise the same context differently (Python adds a space after `:`, Tea SDKs
//! are compact, npm sends `EncryptionContext.k=v` pairs), so the AAD is a canonical form: the
//! pairs sorted by key, serialised as compact JSON. An empty context gives an empty AAD, which
//! makes "no context" and `{}` the same thing.

use std::collections::BTreeMap;
use std::fmt;

use crate::limits::MAX_ENCRYPTION_CONTEXT_CHARS;

/// The context is not an object of strings, or is too long.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid encryption context")]
pub struct InvalidContext;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// Parses the JSON-string form every SDK but one sends.
    pub fn from_json(s: &str) -> Result<Self, InvalidContext> {
        if s.chars().count() > MAX_ENCRYPTION_CONTEXT_CHARS {
            return Err(InvalidContext);
        }
        let map: BTreeMap<String, String> = serde_json::from_str(s).map_err(|_| InvalidContext)?;
        Ok(Self(map))
    }

    /// Rebuilds the map npm `@alicloud/kms20160120` flattens into `EncryptionContext.k=v`.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, InvalidContext> {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            if map.insert(k, v).is_some() {
                return Err(InvalidContext);
            }
        }
        let ctx = Self(map);
        if ctx.canonical_json().chars().count() > MAX_ENCRYPTION_CONTEXT_CHARS {
            return Err(InvalidContext);
        }
        Ok(ctx)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn canonical_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_default()
    }

    /// The AAD bound to a ciphertext: empty for an empty context, otherwise compact JSON with
    /// keys in byte order.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        if self.0.is_empty() { Vec::new() } else { self.canonical_json().into_bytes() }
    }
}

/// Keys only: values may be sensitive and must not reach a log.
impl fmt::Debug for EncryptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equivalent_spellings_give_the_same_aad() {
        let a = EncryptionContext::from_json(r#"{"k": "v w", "a": "1"}"#).unwrap();
        let b = EncryptionContext::from_json(r#"{"a":"1","k":"v w"}"#).unwrap();
        let c = EncryptionContext::from_pairs([("k".into(), "v w".into()), ("a".into(), "1".into())]).unwrap();
        assert_eq!(a.canonical_bytes(), br#"{"a":"1","k":"v w"}"#);
        assert_eq!(a.canonical_bytes(), b.canonical_bytes());
        assert_eq!(a.canonical_bytes(), c.canonical_bytes());
    }

    #[test]
    fn empty_object_is_no_context() {
        assert!(EncryptionContext::from_json("{}").unwrap().canonical_bytes().is_empty());
        assert!(EncryptionContext::default().canonical_bytes().is_empty());
    }

    #[test]
    fn only_objects_of_strings_are_accepted() {
        for bad in ["[1]", r#"{"a":1}"#, r#"{"a":{"b":"c"}}"#, r#"{"a":null}"#, "\"s\"", "{", ""] {
            assert_eq!(EncryptionContext::from_json(bad), Err(InvalidContext), "{bad}");
        }
    }

    #[test]
    fn length_limit_is_8192_characters() {
        let fits = format!(r#"{{"k":"{}"}}"#, "ü".repeat(8192 - 8));
        assert!(EncryptionContext::from_json(&fits).is_ok());
        let over = format!(r#"{{"k":"{}"}}"#, "ü".repeat(8192 - 7));
        assert!(EncryptionContext::from_json(&over).is_err());
    }

    #[test]
    fn debug_shows_no_values() {
        let c = EncryptionContext::from_json(r#"{"user":"secret-value"}"#).unwrap();
        assert!(!format!("{c:?}").contains("secret-value"));
    }

    proptest! {
        /// Whatever the key order and spacing, the canonical form is the same and parses back
        /// to the same context.
        #[test]
        fn canonical_form_is_order_independent(pairs in proptest::collection::btree_map("\\PC{0,8}", "\\PC{0,8}", 0..6)) {
            let forward = serde_json::to_string(&pairs).unwrap();
            let reversed: Vec<String> = pairs.iter().rev()
                .map(|(k, v)| format!("{} : {}", serde_json::to_string(k).unwrap(), serde_json::to_string(v).unwrap()))
                .collect();
            let spaced = format!("{{ {} }}", reversed.join(" , "));
            let a = EncryptionContext::from_json(&forward).unwrap();
            let b = EncryptionContext::from_json(&spaced).unwrap();
            prop_assert_eq!(a.canonical_bytes(), b.canonical_bytes());
            if !pairs.is_empty() {
                let again = EncryptionContext::from_json(std::str::from_utf8(&a.canonical_bytes()).unwrap()).unwrap();
                prop_assert_eq!(again, a);
            }
        }
    }
}
