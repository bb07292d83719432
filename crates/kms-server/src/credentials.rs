//! What the signature verifier looks up: access-key secrets (held in memory, unwrapped once at
//! start-up) and the nonces seen within the timestamp window.

use std::collections::HashMap;
use std::sync::Mutex;

use kms_core::StoredAccessKey;
use kms_wire::signature::{CredentialLookup, LookupError, NonceCache, TIMESTAMP_WINDOW};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// Access keys by id.
pub struct AccessKeys(HashMap<String, StoredAccessKey>);

impl AccessKeys {
    pub fn new(keys: Vec<StoredAccessKey>) -> Self {
        Self(keys.into_iter().map(|k| (k.id.clone(), k)).collect())
    }
}

impl CredentialLookup for AccessKeys {
    fn secret(&self, access_key_id: &str) -> Result<Zeroizing<String>, LookupError> {
        match self.0.get(access_key_id) {
            Some(k) if k.enabled => Ok(k.secret.clone()),
            Some(_) => Err(LookupError::Inactive),
            None => Err(LookupError::NotFound),
        }
    }
}

/// Nonces seen in the last two windows. A request's timestamp may lie up to one window in the
/// future, so a nonce must be remembered for a window on either side of now.
#[derive(Default)]
pub struct Nonces {
    seen: Mutex<HashMap<String, OffsetDateTime>>,
}

/// Prune expired nonces once the table holds this many.
const PRUNE_AT: usize = 100_000;

impl NonceCache for Nonces {
    fn first_use(&self, access_key_id: &str, nonce: &str, now: OffsetDateTime) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        if seen.len() >= PRUNE_AT {
            seen.retain(|_, expires| *expires > now);
        }
        let key = format!("{access_key_id}\n{nonce}");
        match seen.get(&key) {
            Some(expires) if *expires > now => false,
            _ => {
                seen.insert(key, now + TIMESTAMP_WINDOW * 2);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_single_use_within_the_window_per_access_key() {
        let n = Nonces::default();
        let t = OffsetDateTime::UNIX_EPOCH;
        assert!(n.first_use("a", "n1", t));
        assert!(!n.first_use("a", "n1", t + time::Duration::minutes(29)));
        assert!(n.first_use("b", "n1", t));
        assert!(n.first_use("a", "n1", t + time::Duration::minutes(31)));
    }
}
