//! What the signature verifier looks up: access-key secrets (held in memory, unwrapped once at
//! start-up) and the nonces seen within the timestamp window.

use std::collections::HashMap;
use std::sync::Mutex;

use kms_core::StoredAccessKey;
use kms_wire::signature::{CredentialLookup, LookupError, NonceCache};
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

/// Nonces seen, each kept until a replay of its request would fail the timestamp check.
#[derive(Default)]
pub struct Nonces {
    seen: Mutex<NonceTable>,
}

#[derive(Default)]
struct NonceTable {
    entries: HashMap<String, OffsetDateTime>,
    /// Size at which expired entries are next swept out (amortised: doubles with the table).
    sweep_at: usize,
}

/// The smallest table worth sweeping.
const MIN_SWEEP: usize = 10_000;

impl NonceCache for Nonces {
    fn first_use(&self, access_key_id: &str, nonce: &str, now: OffsetDateTime, forget_after: OffsetDateTime) -> bool {
        let Ok(mut table) = self.seen.lock() else { return false };
        if table.entries.len() >= table.sweep_at.max(MIN_SWEEP) {
            table.entries.retain(|_, until| *until > now);
            table.sweep_at = table.entries.len() * 2;
        }
        let key = format!("{access_key_id}\n{nonce}");
        match table.entries.get(&key) {
            Some(until) if *until > now => false,
            _ => {
                table.entries.insert(key, forget_after);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_single_use_while_a_replay_could_pass_the_clock() {
        let n = Nonces::default();
        let t = OffsetDateTime::UNIX_EPOCH;
        let until = t + time::Duration::minutes(15);
        assert!(n.first_use("a", "n1", t, until));
        assert!(!n.first_use("a", "n1", t + time::Duration::minutes(14), until));
        assert!(n.first_use("b", "n1", t, until), "nonces are per access key");
        assert!(n.first_use("a", "n1", t + time::Duration::minutes(16), until), "forgotten once replays are stale");
    }

    #[test]
    fn expired_nonces_are_swept() {
        let n = Nonces::default();
        let t = OffsetDateTime::UNIX_EPOCH;
        for i in 0..MIN_SWEEP {
            assert!(n.first_use("a", &i.to_string(), t, t + time::Duration::minutes(15)));
        }
        let later = t + time::Duration::minutes(20);
        assert!(n.first_use("a", "new", later, later + time::Duration::minutes(15)));
        assert_eq!(n.seen.lock().unwrap().entries.len(), 1, "the expired ones were dropped");
    }
}
