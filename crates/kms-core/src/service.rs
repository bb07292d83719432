//! [`Kms`]: the service handle every handler calls, and what it needs at start-up.

use std::sync::Arc;

use kms_crypto::CryptoProvider;
use kms_store::{KeyRecord, Store};
use kms_types::{AccountId, AliasName, KeyId, KeyRef, RegionId};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::clock::Clock;
use crate::error::{CoreError, CoreResult};

const META_ACCOUNT_ID: &str = "account_id";
pub(crate) const META_ROOT_CHECK: &str = "root_key_check";
/// The meta entry whose presence means "this store holds data under some root key".
pub const ROOT_CHECK_META: &str = META_ROOT_CHECK;
pub(crate) const ROOT_CHECK_AAD: &[u8] = b"kmsd/root-key-check/v1";

/// The key service of one deployment (one region, one account).
pub struct Kms {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) crypto: CryptoProvider,
    pub(crate) clock: Arc<dyn Clock>,
    region: RegionId,
    account: AccountId,
    pub(crate) usage: crate::usage::UsageCounter,
    pub(crate) materials: crate::crypto::MaterialCache,
    pub(crate) applications: crate::gateway::ApplicationCache,
    pub(crate) public_keys: crate::asymmetric::PublicKeyCache,
}

/// `YYYY-MM-DDThh:mm:ssZ`, the API's only time format.
pub fn format_time(unix: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    t.replace_nanosecond(0).unwrap_or(t).format(&Rfc3339).unwrap_or_default()
}

impl Kms {
    /// Attaches to a store: creates the account id on first start, and refuses a root key
    /// that is not the one the store's data was written with.
    pub async fn open(
        store: Arc<dyn Store>,
        crypto: CryptoProvider,
        clock: Arc<dyn Clock>,
        region: RegionId,
    ) -> CoreResult<Self> {
        crate::root_keys::attach(store.as_ref(), &crypto).await?;
        let candidate = {
            let r = crypto.random_bytes(8)?;
            let n = u64::from_le_bytes(r[..8].try_into().map_err(|_| CoreError::Unsupported("random"))?);
            (1_000_000_000_000_000 + n % 9_000_000_000_000_000).to_string()
        };
        let account = store.init_meta(META_ACCOUNT_ID, &candidate).await?;
        let account = AccountId::parse(&account)
            .map_err(|_| CoreError::Store(kms_store::StoreError::Corrupt("account id".into())))?;
        Ok(Self {
            store,
            crypto,
            clock,
            region,
            account,
            usage: Default::default(),
            materials: Default::default(),
            applications: Default::default(),
            public_keys: Default::default(),
        })
    }

    pub fn region(&self) -> &RegionId {
        &self.region
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }

    pub fn key_arn(&self, id: &KeyId) -> String {
        format!("acs:kms:{}:{}:key/{}", self.region, self.account, id)
    }

    /// The key an id, alias or ARN names, whatever its state (for authorisation: an alias is
    /// checked as the key it points to).
    pub async fn key_id_of(&self, r: &KeyRef) -> CoreResult<KeyId> {
        Ok(self.resolve(r).await?.id)
    }

    /// `acs:kms:<region>:<account>:<kind>`: the resource of an action that names none
    /// (CreateKey, ListKeys, ListSecrets …).
    pub fn kind_arn(&self, kind: &str) -> String {
        format!("acs:kms:{}:{}:{kind}", self.region, self.account)
    }

    pub fn alias_arn(&self, name: &AliasName) -> String {
        format!("acs:kms:{}:{}:alias/{}", self.region, self.account, name.suffix())
    }

    /// Whether several kmsd processes may share this store, so that replay protection must go
    /// through it as well as through the process's own cache.
    pub fn store_is_shared(&self) -> bool {
        self.store.is_shared()
    }

    /// Whether the store answers (readiness): its cheapest round trip.
    pub async fn ping_store(&self) -> CoreResult<()> {
        Ok(self.store.ping().await?)
    }

    /// Records a request nonce in the shared store; `false` for a replay (spec §3.5).
    pub async fn record_nonce(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: i64,
        forget_after: i64,
    ) -> CoreResult<bool> {
        Ok(self.store.record_nonce(access_key_id, nonce, now, forget_after).await?)
    }

    /// Random bytes from the provider's CSPRNG (access-key generation at start-up).
    pub fn random_bytes(&self, n: usize) -> CoreResult<zeroize::Zeroizing<Vec<u8>>> {
        Ok(self.crypto.random_bytes(n)?)
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// An ARN scope names this deployment, or the resource is someone else's.
    fn in_scope(&self, scope: &Option<(String, String)>) -> bool {
        scope.as_ref().is_none_or(|(r, a)| r == self.region.as_str() && a == self.account.as_str())
    }

    /// The key a reference names (spec §2 rule 7).
    pub(crate) async fn resolve(&self, r: &KeyRef) -> CoreResult<KeyRecord> {
        let id = match r {
            KeyRef::Id { id, scope } => {
                if !self.in_scope(scope) {
                    return Err(CoreError::KeyNotFound);
                }
                id.clone()
            }
            KeyRef::Alias { name, scope } => {
                if !self.in_scope(scope) {
                    return Err(CoreError::AliasNotFound);
                }
                self.store.get_alias(name).await?.ok_or(CoreError::AliasNotFound)?.key_id
            }
        };
        self.store.get_key(&id).await?.ok_or(CoreError::KeyNotFound)
    }
}
