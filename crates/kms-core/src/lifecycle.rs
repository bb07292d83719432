//! Key states and settings: enable, disable, schedule and cancel deletion, deletion
//! protection, description, rotation policy (spec §5.4, §7.2).
//!
//! Every change is computed from the stored record and written with compare-and-set on its
//! revision. When another change wins the race, the record is read again and the state matrix
//! asked again, so two conflicting changes never both apply and none is lost.

use kms_store::{KeyRecord, StoreError};
use kms_types::{KeyId, KeyRef, KeyState, Origin};

use crate::error::{CoreError, CoreResult};
use crate::keys::rotation_interval;
use crate::service::Kms;
use crate::state::{Operation, check};

/// Attempts before giving up on a key that changes under every write.
const CAS_ATTEMPTS: usize = 16;

/// What a change decided for one read of the record. (Short-lived, one per attempt: the
/// size difference between the variants costs nothing worth a box.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Change {
    /// Store this record.
    Write(KeyRecord),
    /// Nothing to do (the key already is as asked).
    Unchanged,
}

impl Kms {
    /// Reads the key, checks `op` against its state, applies `change` and stores the result
    /// with compare-and-set, retrying from a fresh read when another writer won.
    pub(crate) async fn change_key(
        &self,
        id: &KeyId,
        op: Operation,
        change: impl Fn(&KeyRecord, i64) -> CoreResult<Change>,
    ) -> CoreResult<KeyRecord> {
        for _ in 0..CAS_ATTEMPTS {
            let key = self.store.get_key(id).await?.ok_or(CoreError::KeyNotFound)?;
            check(key.state, op)?;
            let new = match change(&key, self.now())? {
                Change::Unchanged => return Ok(key),
                Change::Write(new) => new,
            };
            match self.store.update_key(&new).await {
                Ok(stored) => return Ok(stored),
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => return Err(CoreError::KeyNotFound),
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Store(StoreError::Unavailable("the key kept changing under this request".into())))
    }

    async fn change(
        &self,
        r: &KeyRef,
        op: Operation,
        f: impl Fn(&KeyRecord, i64) -> CoreResult<Change>,
    ) -> CoreResult<KeyRecord> {
        let id = self.resolve(r).await?.id;
        self.change_key(&id, op, f).await
    }

    /// EnableKey: Disabled → Enabled; no-op when Enabled.
    pub async fn enable_key(&self, r: &KeyRef) -> CoreResult<KeyRecord> {
        self.change(r, Operation::EnableDisable, |k, _| {
            Ok(if k.state == KeyState::Enabled {
                Change::Unchanged
            } else {
                Change::Write(KeyRecord { state: KeyState::Enabled, ..k.clone() })
            })
        })
        .await
    }

    /// DisableKey: Enabled → Disabled; no-op when Disabled.
    pub async fn disable_key(&self, r: &KeyRef) -> CoreResult<KeyRecord> {
        self.change(r, Operation::EnableDisable, |k, _| {
            Ok(if k.state == KeyState::Disabled {
                Change::Unchanged
            } else {
                Change::Write(KeyRecord { state: KeyState::Disabled, ..k.clone() })
            })
        })
        .await
    }

    /// ScheduleKeyDeletion: PendingDeletion until `now + days`, then destroyed by the jobs.
    pub async fn schedule_key_deletion(&self, r: &KeyRef, days: u32) -> CoreResult<KeyRecord> {
        self.change(r, Operation::ScheduleDeletion, |k, now| {
            if k.deletion_protection {
                return Err(CoreError::DeletionProtected);
            }
            let delete_at = now + i64::from(days) * 86_400;
            Ok(Change::Write(KeyRecord { state: KeyState::PendingDeletion, delete_at: Some(delete_at), ..k.clone() }))
        })
        .await
    }

    /// CancelKeyDeletion: PendingDeletion → Enabled; an `EXTERNAL` key whose material is gone
    /// (never imported, deleted or expired meanwhile) → PendingImport.
    pub async fn cancel_key_deletion(&self, r: &KeyRef) -> CoreResult<KeyRecord> {
        let key = self.resolve(r).await?;
        let without_material = key.origin == Origin::External
            && self.store.get_version(&key.primary_version).await?.is_none_or(|v| v.material.is_empty());
        self.change(r, Operation::CancelDeletion, |k, _| {
            let state = if without_material { KeyState::PendingImport } else { KeyState::Enabled };
            Ok(Change::Write(KeyRecord { state, delete_at: None, ..k.clone() }))
        })
        .await
    }

    /// SetDeletionProtection.
    pub async fn set_deletion_protection(&self, r: &KeyRef, enabled: bool, description: &str) -> CoreResult<KeyRecord> {
        self.change(r, Operation::UpdateMetadata, |k, _| {
            let description = if enabled { description.to_owned() } else { String::new() };
            Ok(Change::Write(KeyRecord {
                deletion_protection: enabled,
                deletion_protection_description: description,
                ..k.clone()
            }))
        })
        .await
    }

    /// UpdateKeyDescription.
    pub async fn update_key_description(&self, r: &KeyRef, description: &str) -> CoreResult<KeyRecord> {
        self.change(r, Operation::UpdateMetadata, |k, _| {
            Ok(Change::Write(KeyRecord { description: description.to_owned(), ..k.clone() }))
        })
        .await
    }

    /// UpdateRotationPolicy: turns automatic rotation on (with an interval) or off.
    pub async fn update_rotation_policy(
        &self,
        r: &KeyRef,
        enabled: bool,
        interval: Option<&str>,
    ) -> CoreResult<KeyRecord> {
        let interval = if enabled { Some(rotation_interval(interval)?) } else { None };
        self.change(r, Operation::UseKey, |k, now| {
            if !k.spec.is_symmetric() || k.origin != Origin::AliyunKms {
                return Err(CoreError::RotationUnsupported);
            }
            let next_rotation_at = interval.map(|i| (k.last_rotation_at + i).max(now));
            Ok(Change::Write(KeyRecord { rotation_interval: interval, next_rotation_at, ..k.clone() }))
        })
        .await
    }
}
