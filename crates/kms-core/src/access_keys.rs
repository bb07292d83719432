//! Access keys as the signature verifier needs them: the secret itself (HMAC needs it), kept
//! in the store wrapped by the root key and bound to its id.
//!
//! Nodes hold the unwrapped table in memory and reload it when the stored rows change
//! ([`Kms::access_key_records`] is the cheap check, [`Kms::unwrap_access_keys`] the reload),
//! so a key created or disabled by `kmsd admin` — on any node, or with no server running —
//! takes effect everywhere without a restart.

use kms_crypto::RootKey as _;
use std::sync::Arc;

use kms_policy::Policy;
use kms_store::{AccessKeyRecord, StoreError};
use zeroize::Zeroizing;

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;

/// An access key with its secret unwrapped (wiped on drop), its principal and policy.
pub struct StoredAccessKey {
    pub id: String,
    pub secret: Zeroizing<String>,
    pub enabled: bool,
    /// The application the key belongs to; empty for an unnamed key.
    pub principal: String,
    /// `None`: the key may do everything (the bootstrap key, and keys made without one).
    pub policy: Option<Arc<Policy>>,
}

/// What `kmsd admin access-key list` shows: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeySummary {
    pub id: String,
    pub enabled: bool,
    pub created_at: i64,
    pub principal: String,
    pub has_policy: bool,
}

/// Who a new access key is for and what it may do.
#[derive(Debug, Clone, Default)]
pub struct AccessKeyGrant {
    /// `[A-Za-z0-9._@-]`, 1–64 characters; empty for an unnamed key.
    pub principal: String,
    /// A RAM-style policy document, checked before it is stored.
    pub policy: Option<String>,
}

impl AccessKeyGrant {
    pub(crate) fn check(&self) -> CoreResult<()> {
        let name_ok = self.principal.len() <= 64
            && self.principal.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
        if !name_ok {
            return Err(CoreError::InvalidParameter("principal"));
        }
        if let Some(p) = &self.policy {
            Policy::parse(p).map_err(|e| CoreError::InvalidPolicy(e.0))?;
        }
        Ok(())
    }
}

pub(crate) fn aad(id: &str) -> Vec<u8> {
    format!("kmsd/access-key/v1\0{id}").into_bytes()
}

/// Characters of a generated access key id after its `LTAI` prefix, and of its secret: the
/// lengths of the cloud's own (24 and 30 characters).
const ID_RANDOM_LEN: usize = 20;
const SECRET_LEN: usize = 30;

impl Kms {
    /// Stores a new access key. [`CoreError::Store`] with `Conflict` when the id exists.
    pub async fn add_access_key(&self, id: &str, secret: &str, grant: &AccessKeyGrant) -> CoreResult<()> {
        grant.check()?;
        let wrapped_secret = self.crypto.root.wrap(&aad(id), secret.as_bytes())?;
        let record = AccessKeyRecord {
            id: id.to_owned(),
            wrapped_secret,
            enabled: true,
            created_at: self.now(),
            principal: grant.principal.clone(),
            policy: grant.policy.clone(),
        };
        self.store.insert_access_key(&record).await?;
        Ok(())
    }

    /// Generates and stores a new access key (`LTAI…` id, 30-character secret); the secret is
    /// returned once and only kept wrapped.
    pub async fn create_access_key(&self, grant: &AccessKeyGrant) -> CoreResult<(String, Zeroizing<String>)> {
        let (id, secret) = self.generate_access_key()?;
        self.add_access_key(&id, &secret, grant).await?;
        Ok((id, secret))
    }

    /// Rotation: a new access key for the same principal with the same policy. The old key
    /// keeps working until it is disabled or deleted, so applications can move over.
    pub async fn rotate_access_key(&self, id: &str) -> CoreResult<(String, Zeroizing<String>)> {
        let old = self
            .store
            .list_access_keys()
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or(CoreError::Store(StoreError::NotFound))?;
        self.create_access_key(&AccessKeyGrant { principal: old.principal, policy: old.policy }).await
    }

    /// A fresh id and secret, not stored yet.
    pub fn generate_access_key(&self) -> CoreResult<(String, Zeroizing<String>)> {
        Ok((format!("LTAI{}", self.random_token(ID_RANDOM_LEN)?.as_str()), self.random_token(SECRET_LEN)?))
    }

    /// `n` characters from `[A-Za-z0-9]`, unbiased (bytes ≥ 248 are redrawn).
    fn random_token(&self, n: usize) -> CoreResult<Zeroizing<String>> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut out = Zeroizing::new(String::with_capacity(n));
        while out.len() < n {
            for b in self.random_bytes(n)?.iter() {
                if *b < 248 && out.len() < n {
                    out.push(ALPHABET[(*b % 62) as usize] as char);
                }
            }
        }
        Ok(out)
    }

    /// Replaces what an access key may do (`None`: everything); checked like a new key's
    /// policy. Its principal, secret and state stay. Running nodes pick it up within a second.
    pub async fn set_access_key_policy(&self, id: &str, policy: Option<String>) -> CoreResult<()> {
        let stored = self.store.list_access_keys().await?;
        let old = stored.into_iter().find(|r| r.id == id).ok_or(CoreError::Store(StoreError::NotFound))?;
        AccessKeyGrant { principal: old.principal, policy: policy.clone() }.check()?;
        Ok(self.store.set_access_key_policy(id, policy.as_deref()).await?)
    }

    /// Enables or disables an access key. [`CoreError::Store`] with `NotFound` for an unknown id.
    pub async fn set_access_key_enabled(&self, id: &str, enabled: bool) -> CoreResult<()> {
        Ok(self.store.set_access_key_enabled(id, enabled).await?)
    }

    /// Deletes an access key. [`CoreError::Store`] with `NotFound` for an unknown id.
    pub async fn delete_access_key(&self, id: &str) -> CoreResult<()> {
        Ok(self.store.delete_access_key(id).await?)
    }

    /// Every access key without its secret.
    pub async fn list_access_keys(&self) -> CoreResult<Vec<AccessKeySummary>> {
        Ok(self
            .store
            .list_access_keys()
            .await?
            .into_iter()
            .map(|r| AccessKeySummary {
                id: r.id,
                enabled: r.enabled,
                created_at: r.created_at,
                principal: r.principal,
                has_policy: r.policy.is_some(),
            })
            .collect())
    }

    /// The stored rows, secrets still wrapped: compared with the last ones seen, they tell a
    /// node whether its table needs reloading without unwrapping anything.
    pub async fn access_key_records(&self) -> CoreResult<Vec<AccessKeyRecord>> {
        Ok(self.store.list_access_keys().await?)
    }

    /// Unwraps stored rows for the verifier's in-memory table.
    pub fn unwrap_access_keys(&self, records: &[AccessKeyRecord]) -> CoreResult<Vec<StoredAccessKey>> {
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let plain =
                self.crypto.root.unwrap(&aad(&r.id), &r.wrapped_secret).map_err(|_| CoreError::RootKeyMismatch)?;
            let secret = String::from_utf8(plain.to_vec())
                .map_err(|_| CoreError::Store(StoreError::Corrupt("access key secret".into())))?;
            // Checked when stored; a document that no longer parses allows nothing.
            let policy = r.policy.as_deref().map(|p| Arc::new(Policy::parse(p).unwrap_or_else(|_| Policy::deny_all())));
            out.push(StoredAccessKey {
                id: r.id.clone(),
                secret: Zeroizing::new(secret),
                enabled: r.enabled,
                principal: r.principal.clone(),
                policy,
            });
        }
        Ok(out)
    }

    /// Every access key, secrets unwrapped, for the verifier's in-memory table.
    pub async fn access_keys(&self) -> CoreResult<Vec<StoredAccessKey>> {
        let records = self.access_key_records().await?;
        self.unwrap_access_keys(&records)
    }
}
