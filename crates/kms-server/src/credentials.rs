//! What the signature verifier looks up: access-key secrets (held in memory, unwrapped from the
//! store and reloaded when the stored rows change). The nonces are the replay guard's
//! (`replay`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use kms_core::{Kms, StoredAccessKey};
use kms_store::AccessKeyRecord;
use kms_wire::signature::{Credential, CredentialLookup, LookupError};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// How often a node compares its access keys with the store's: a key created, disabled or
/// deleted with `kmsd admin` (on any node, or on the data dir) is honoured or refused within
/// this time.
pub const ACCESS_KEY_REFRESH: std::time::Duration = std::time::Duration::from_millis(500);

/// Access keys by id, and the stored rows they were unwrapped from.
pub struct AccessKeys {
    table: RwLock<Arc<HashMap<String, StoredAccessKey>>>,
    loaded_from: Mutex<Vec<AccessKeyRecord>>,
}

impl AccessKeys {
    /// The table of `records`, unwrapped.
    pub fn load(kms: &Kms, records: Vec<AccessKeyRecord>) -> Result<Self, kms_core::CoreError> {
        let keys = kms.unwrap_access_keys(&records)?;
        Ok(Self {
            table: RwLock::new(Arc::new(keys.into_iter().map(|k| (k.id.clone(), k)).collect())),
            loaded_from: Mutex::new(records),
        })
    }

    /// Reloads the table when the store's rows differ from those it was loaded from; `true`
    /// when it did.
    pub async fn refresh(&self, kms: &Kms) -> Result<bool, kms_core::CoreError> {
        let records = kms.access_key_records().await?;
        if self.loaded_from.lock().is_ok_and(|last| *last == records) {
            return Ok(false);
        }
        let keys = kms.unwrap_access_keys(&records)?;
        let table: HashMap<_, _> = keys.into_iter().map(|k| (k.id.clone(), k)).collect();
        if let Ok(mut current) = self.table.write() {
            *current = Arc::new(table);
        }
        if let Ok(mut last) = self.loaded_from.lock() {
            *last = records;
        }
        Ok(true)
    }
}

impl AccessKeys {
    /// The principal an access key belongs to (its id when unnamed) and its policy (`None`:
    /// unrestricted).
    pub fn grant(&self, access_key_id: &str) -> (String, Option<Arc<kms_policy::Policy>>) {
        let table = self.table.read().map(|t| t.clone()).ok();
        match table.as_ref().and_then(|t| t.get(access_key_id)) {
            Some(k) if !k.principal.is_empty() => (k.principal.clone(), k.policy.clone()),
            Some(k) => (access_key_id.to_owned(), k.policy.clone()),
            // Verified a moment ago, deleted since: nothing is allowed.
            None => (access_key_id.to_owned(), Some(Arc::new(kms_policy::Policy::deny_all()))),
        }
    }
}

impl AccessKeys {
    /// A stored access key's secret, if it is enabled.
    fn stored_secret(&self, access_key_id: &str) -> Result<Zeroizing<String>, LookupError> {
        let table = self.table.read().map(|t| t.clone()).map_err(|_| LookupError::NotFound)?;
        match table.get(access_key_id) {
            Some(k) if k.enabled => Ok(k.secret.clone()),
            Some(_) => Err(LookupError::Inactive),
            None => Err(LookupError::NotFound),
        }
    }
}

/// The verifier's view of credentials for one request: stored access keys, and temporary
/// ones carried by a security token, which act as the stored key they were issued from.
pub struct RequestCredentials<'a> {
    pub keys: &'a AccessKeys,
    pub kms: &'a Kms,
    pub now: OffsetDateTime,
}

impl CredentialLookup for RequestCredentials<'_> {
    fn secret(&self, access_key_id: &str, security_token: Option<&str>) -> Result<Credential, LookupError> {
        let Some(token) = security_token else {
            let secret = self.keys.stored_secret(access_key_id)?;
            return Ok(Credential { secret, acting_as: access_key_id.to_owned() });
        };
        let temp = self.kms.open_security_token(token).map_err(|_| LookupError::TokenMalformed)?;
        if temp.access_key_id != access_key_id {
            return Err(LookupError::TokenMismatch);
        }
        if temp.expires_at <= self.now.unix_timestamp() {
            return Err(LookupError::TokenExpired);
        }
        // Only while the key it was issued from is there and enabled.
        self.keys.stored_secret(&temp.parent)?;
        Ok(Credential { secret: temp.secret, acting_as: temp.parent })
    }
}
