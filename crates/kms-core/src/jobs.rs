//! Scheduled work: destroying keys whose deletion window ended, rotating keys whose
//! rotation is due, taking expired imported material away, purging deleted secrets. Driven by the service clock (which `--dev-clock` can move). Safe to run
//! on several nodes at once: each action is a compare-and-set, so exactly one node wins.

use kms_store::StoreError;

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;

/// How many due keys one pass handles of each kind.
const BATCH: u32 = 256;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobReport {
    pub destroyed: usize,
    pub rotated: usize,
    /// Secrets whose recovery window ended, purged.
    pub purged_secrets: usize,
    /// `EXTERNAL` keys whose imported material expired, back to `PendingImport`.
    pub expired_materials: usize,
}

impl Kms {
    /// Destroys a key and its versions in the store (compare-and-set on the key as read); an
    /// HSM key's token objects go after the rows, so a key that changed meanwhile keeps them.
    /// A token object that cannot be removed then is logged, not retried: nothing refers to it.
    pub(crate) async fn destroy_key(&self, key: &kms_store::KeyRecord) -> Result<(), StoreError> {
        let in_token = match (&self.crypto.hsm, key.protection_level) {
            (Some(hsm), kms_types::ProtectionLevel::Hsm) => {
                let all = kms_store::Window { offset: 0, limit: u32::MAX };
                Some((hsm, self.store.list_versions(&key.id, all).await?.items))
            }
            _ => None,
        };
        self.store.destroy_key(key).await?;
        if let Some((hsm, versions)) = in_token {
            for v in versions {
                if let Err(e) = hsm.destroy(&kms_crypto::WrappedMaterial(v.material)) {
                    tracing::warn!(key_id = %key.id, version = %v.id, error = %e, "could not remove an HSM key version from the token");
                }
            }
        }
        Ok(())
    }

    /// Runs every job that is due now.
    pub async fn run_due_jobs(&self) -> CoreResult<JobReport> {
        let now = self.now();
        let mut report = JobReport::default();
        if self.store.is_shared() {
            // Nonces are kept by real time (signatures never use the dev clock).
            let real_now = time::OffsetDateTime::now_utc().unix_timestamp();
            self.store.purge_nonces(real_now).await?;
        }
        for key in self.store.keys_due_for_deletion(now, BATCH).await? {
            match self.destroy_key(&key).await {
                Ok(()) => report.destroyed += 1,
                // Cancelled, changed or destroyed by another node meanwhile.
                Err(StoreError::Conflict | StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        for key in self.store.keys_due_for_rotation(now, BATCH).await? {
            match self.rotate(&key).await {
                Ok(_) => report.rotated += 1,
                Err(CoreError::Store(StoreError::Conflict | StoreError::NotFound)) => {}
                Err(e) => return Err(e),
            }
        }
        for key in self.store.keys_with_expired_material(now, BATCH).await? {
            match self.remove_material(&key).await {
                Ok(()) => report.expired_materials += 1,
                Err(CoreError::Store(StoreError::Conflict | StoreError::NotFound)) => {}
                Err(e) => return Err(e),
            }
        }
        for secret in self.store.secrets_due_for_purge(now, BATCH).await? {
            match self.store.purge_secret(&secret).await {
                Ok(()) => report.purged_secrets += 1,
                // Restored or purged by another node meanwhile.
                Err(StoreError::Conflict | StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(report)
    }
}
