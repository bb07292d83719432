//! The deployment's root key: which one a process holds at start-up, and rotating it to
//! another while every node keeps serving.
//!
//! A rotation is a state in the store, so that every node and a resumed rotation agree on it:
//! the meta entry [`META_ROTATION`] names the key being replaced (its check value) and the new
//! one (its check value, and how to open it: a file key's bytes wrapped by the old key, or a
//! PKCS#11 URI). While it exists, every node wraps with the new key and unwraps with either
//! (each record names the key that wrapped it). The rotation re-wraps the tables in batches,
//! each record replaced only over the bytes it read; after a crash it simply starts again and
//! skips what already names the new key. It ends when a full scan finds nothing under another
//! key: the check value becomes the new key's and the entry is removed, so from then on only
//! the new key opens the store.

use std::collections::BTreeMap;
use std::sync::Arc;

use kms_crypto::pkcs11::{Pkcs11RootKey, Pkcs11Uri};
use kms_crypto::soft::SoftRootKey;
use kms_crypto::{CryptoProvider, MaterialLabel, RootKey, RootKeyId, RootKeyRing};
use kms_store::{Store, Window, WrappedRow, WrappedTable};
use kms_types::KeyFilter;
use kms_types::ProtectionLevel;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{CoreError, CoreResult};
use crate::instances::{CA_KEY_AAD, META_INSTANCE_CA};
use crate::service::{META_ROOT_CHECK, ROOT_CHECK_AAD};
use crate::{Kms, access_keys, data_keys};

/// The rotation in progress, if any (JSON of [`Rotation`]).
pub const META_ROTATION: &str = "root_key_rotation";
/// Binds a file root key's bytes, wrapped by the key it replaces, to that purpose.
const NEW_KEY_AAD: &[u8] = b"kmsd/next-root-key/v1";

/// A rotation in progress, as every node reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Rotation {
    /// The replaced key's check value (hex), as `root_key_check` holds it.
    from_check: String,
    /// The new key's check value (hex), wrapped by it and naming it.
    to_check: String,
    to: Source,
    started_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Source {
    /// A file root key: its 32 bytes wrapped by the key being replaced (hex).
    File { wrapped: String },
    /// A key in a PKCS#11 token (the URI holds no PIN: it names the PIN file).
    Pkcs11 { uri: String },
}

/// The key a rotation moves to.
pub enum NewRootKey {
    File(Zeroizing<[u8; 32]>),
    Pkcs11(Pkcs11Uri),
}

/// Where a rotation stands, for `kmsd admin root-key status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootKeyStatus {
    /// The key the deployment's check value belongs to (the old one until a rotation ends).
    pub current: RootKeyId,
    /// The key being rotated to, while a rotation is in progress.
    pub rotating_to: Option<RootKeyId>,
    /// Per table, how many records each root key wrapped (`legacy`: records from before keys
    /// had ids).
    pub records: BTreeMap<&'static str, BTreeMap<String, u64>>,
}

/// What one batch of a rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrapped {
    pub seen: usize,
    pub rewrapped: usize,
    /// Where the next batch starts; `None` at the table's end.
    pub next: Option<String>,
}

fn decode(hex_value: &str) -> CoreResult<Vec<u8>> {
    hex::decode(hex_value).map_err(|_| CoreError::Store(kms_store::StoreError::Corrupt("root key check".into())))
}

/// Opens `check` (a check value) with `key` alone and returns the key's id.
fn id_with(key: Arc<dyn RootKey>, check: &[u8]) -> Option<RootKeyId> {
    let probe = RootKeyRing::new(key);
    probe.unwrap(ROOT_CHECK_AAD, check).ok().map(|plain| RootKeyId::of_check(&plain))
}

fn open_source(ring: &RootKeyRing, source: &Source) -> CoreResult<Arc<dyn RootKey>> {
    match source {
        Source::File { wrapped } => {
            let bytes = ring.unwrap(NEW_KEY_AAD, &decode(wrapped)?).map_err(|_| CoreError::RootKeyMismatch)?;
            let arr: &[u8; 32] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| CoreError::RootKeyRotation("the new root key's bytes are malformed".into()))?;
            Ok(Arc::new(SoftRootKey::from_bytes(arr)))
        }
        Source::Pkcs11 { uri } => {
            let uri = Pkcs11Uri::parse(uri).map_err(CoreError::RootKeyRotation)?;
            let opened = Pkcs11RootKey::open(&uri, false)
                .map_err(|e| CoreError::RootKeyRotation(format!("cannot open the new root key: {e}")))?;
            Ok(Arc::new(opened.root))
        }
    }
}

/// Start-up: gives the ring the keys this deployment's state calls for, with the configured
/// key among them, or refuses with [`CoreError::RootKeyMismatch`].
pub(crate) async fn attach(store: &dyn Store, crypto: &CryptoProvider) -> CoreResult<()> {
    let ring = &crypto.root;
    let configured = ring.configured();
    let check = match store.get_meta(META_ROOT_CHECK).await? {
        Some(check) => check,
        None => {
            // A new store: this key's check value, unless another node wrote one first.
            let token = crypto.random_bytes(32)?;
            let id = RootKeyId::of_check(&token);
            ring.add(id, configured.clone());
            ring.set_current(id)?;
            let wrapped = ring.wrap(ROOT_CHECK_AAD, &token)?;
            store.init_meta(META_ROOT_CHECK, &hex::encode(&wrapped)).await?
        }
    };
    let rotation = read_rotation(store).await?;
    if let Some(id) = id_with(configured.clone(), &decode(&check)?) {
        ring.add(id, configured);
        ring.set_current(id)?;
        if let Some(r) = rotation.filter(|r| r.from_check == check) {
            load_new(ring, &r)?;
        }
        return Ok(());
    }
    // The check value already names the new key, and this is the key it replaced.
    if let Some(r) = rotation
        && let Some(id) = id_with(configured.clone(), &decode(&r.from_check)?)
    {
        ring.add(id, configured);
        load_new(ring, &r)?;
        return Ok(());
    }
    Err(CoreError::RootKeyMismatch)
}

async fn read_rotation(store: &dyn Store) -> CoreResult<Option<Rotation>> {
    match store.get_meta(META_ROTATION).await? {
        None => Ok(None),
        Some(json) => serde_json::from_str(&json)
            .map(Some)
            .map_err(|_| CoreError::Store(kms_store::StoreError::Corrupt("root key rotation".into()))),
    }
}

/// Opens the rotation's new key with what the ring holds, checks it against its check value
/// and makes it current.
fn load_new(ring: &RootKeyRing, r: &Rotation) -> CoreResult<RootKeyId> {
    let key = open_source(ring, &r.to)?;
    let id = id_with(key.clone(), &decode(&r.to_check)?)
        .ok_or_else(|| CoreError::RootKeyRotation("the new root key does not open its own check value".into()))?;
    ring.add(id, key);
    ring.set_current(id)?;
    Ok(id)
}

fn aad_of(row: &WrappedRow) -> Option<Vec<u8>> {
    match row {
        WrappedRow::KeyVersion { protection_level: ProtectionLevel::Hsm, .. } => None,
        WrappedRow::KeyVersion { material, .. } if material.is_empty() => None,
        WrappedRow::KeyVersion { key_id, version_id, spec, .. } => {
            Some(MaterialLabel { key_id, version_id, spec: *spec }.aad())
        }
        WrappedRow::AccessKey { id, .. } => Some(access_keys::aad(id)),
        WrappedRow::DataKeyVersion { name, version_id, .. } => Some(data_keys::material_aad(name, version_id)),
    }
}

impl Kms {
    /// Before unwrapping a record read from the store: if it names a root key this node does
    /// not hold yet (another node began wrapping with a rotation's new key before this node's
    /// next look at the store), look now instead of failing the request.
    pub(crate) async fn know_root_key_of(&self, wrapped: &[u8]) {
        if let Some(id) = RootKeyId::named_by(wrapped)
            && !self.crypto.root.holds(id)
            && let Err(e) = self.refresh_root_keys().await
        {
            tracing::error!(error = %e, "cannot load the new root key of the rotation in progress");
        }
    }

    /// Picks up a rotation another process started (every node polls this): from then on
    /// this node wraps with the new key. Cheap when nothing changed: one meta read.
    pub async fn refresh_root_keys(&self) -> CoreResult<()> {
        let ring = &self.crypto.root;
        if let Some(r) = read_rotation(self.store.as_ref()).await? {
            let named = RootKeyId::named_by(&decode(&r.to_check)?);
            if named.is_none_or(|id| !ring.holds(id) || ring.current() != Some(id)) {
                let id = load_new(ring, &r)?;
                tracing::info!(root_key = %id, "a root-key rotation is in progress: wrapping with the new key");
            }
            return Ok(());
        }
        if let Some(check) = self.store.get_meta(META_ROOT_CHECK).await?
            && let Some(id) = RootKeyId::named_by(&decode(&check)?)
            && !ring.holds(id)
        {
            tracing::error!(
                root_key = %id,
                "the root key was rotated while this node was not watching; restart it with the new root key"
            );
        }
        Ok(())
    }

    /// Starts a rotation to `to`, or joins the one in progress if it is to the same key.
    /// Returns whether it was already in progress.
    pub async fn begin_root_rotation(&self, to: NewRootKey) -> CoreResult<bool> {
        let ring = &self.crypto.root;
        let to_token = match &to {
            NewRootKey::Pkcs11(uri) => Some(uri.token.as_str()),
            NewRootKey::File(_) => None,
        };
        self.refuse_if_hsm_keys_stay_behind(to_token).await?;
        let new_key: Arc<dyn RootKey> = match &to {
            NewRootKey::File(bytes) => Arc::new(SoftRootKey::from_bytes(bytes)),
            NewRootKey::Pkcs11(uri) => Arc::new(
                Pkcs11RootKey::open(uri, true)
                    .map_err(|e| CoreError::RootKeyRotation(format!("cannot open the new root key: {e}")))?
                    .root,
            ),
        };
        if let Some(r) = read_rotation(self.store.as_ref()).await? {
            if id_with(new_key, &decode(&r.to_check)?).is_none() {
                return Err(CoreError::RootKeyRotation(
                    "a rotation to another root key is in progress: finish it with that key first".into(),
                ));
            }
            load_new(ring, &r)?;
            return Ok(true);
        }
        let check = self.store.get_meta(META_ROOT_CHECK).await?.ok_or(CoreError::RootKeyMismatch)?;
        if id_with(new_key.clone(), &decode(&check)?).is_some() {
            return Err(CoreError::RootKeyRotation("that key already is the root key: nothing to rotate".into()));
        }
        let token = self.crypto.random_bytes(32)?;
        let id = RootKeyId::of_check(&token);
        ring.add(id, new_key);
        let to_check = hex::encode(ring.wrap_with(id, ROOT_CHECK_AAD, &token)?);
        let source = match &to {
            NewRootKey::File(bytes) => Source::File { wrapped: hex::encode(ring.wrap(NEW_KEY_AAD, bytes.as_slice())?) },
            NewRootKey::Pkcs11(uri) => Source::Pkcs11 { uri: uri.to_string() },
        };
        let rotation =
            Rotation { from_check: check, to_check, to: source, started_at: self.clock.now().unix_timestamp() };
        let json = serde_json::to_string(&rotation).map_err(|e| CoreError::RootKeyRotation(e.to_string()))?;
        if !self.store.replace_meta(META_ROTATION, None, Some(&json)).await? {
            // Another rotation was started meanwhile: join it if it is to this key.
            return Box::pin(self.begin_root_rotation(to)).await;
        }
        ring.set_current(id)?;
        tracing::info!(root_key = %id, "root-key rotation started");
        Ok(false)
    }

    /// `ProtectionLevel=HSM` keys live in the root key's token: moving the root key out of it
    /// would leave them where no restarted node looks.
    /// `to_token`: the token the new key is in (`None`: a file). Checked before a new key file
    /// is made, so that a refused rotation leaves nothing behind.
    pub async fn refuse_if_hsm_keys_stay_behind(&self, to_token: Option<&str>) -> CoreResult<()> {
        let filter = KeyFilter { protection_levels: Some(vec![ProtectionLevel::Hsm]), ..Default::default() };
        let hsm_keys = self.store.list_keys(&filter, Window { offset: 0, limit: 0 }).await?.total;
        if hsm_keys == 0 {
            return Ok(());
        }
        let same_token = match (to_token, &self.crypto.hsm) {
            (Some(token), Some(hsm)) => token == hsm.token_label(),
            _ => false,
        };
        if same_token {
            Ok(())
        } else {
            Err(CoreError::RootKeyRotation(format!(
                "the store holds {hsm_keys} ProtectionLevel=HSM keys in the current token: rotate to another key in the same token"
            )))
        }
    }

    /// Re-wraps up to `limit` records of `table` after `after` under the new key.
    pub async fn rewrap_batch(&self, table: WrappedTable, after: Option<&str>, limit: u32) -> CoreResult<Rewrapped> {
        let ring = &self.crypto.root;
        let target = self.rotation_target().await?;
        let rows = self.store.wrapped_rows(table, after, limit).await?;
        let mut done = Rewrapped { seen: rows.len(), rewrapped: 0, next: None };
        if rows.len() == limit as usize {
            done.next = rows.last().map(WrappedRow::cursor);
        }
        for row in &rows {
            let Some(aad) = aad_of(row) else { continue };
            if RootKeyId::named_by(row.wrapped()) == Some(target) {
                continue;
            }
            let plain = ring.unwrap(&aad, row.wrapped()).map_err(|_| {
                CoreError::RootKeyRotation(format!(
                    "a record in {} ({}) opens with no root key held",
                    table.name(),
                    row.cursor()
                ))
            })?;
            let new = ring.wrap_with(target, &aad, &plain)?;
            // Not replaced: it changed meanwhile, under the new key; the final scan checks.
            if self.store.replace_wrapped(row, &new).await? {
                done.rewrapped += 1;
            }
        }
        Ok(done)
    }

    async fn rotation_target(&self) -> CoreResult<RootKeyId> {
        let r = read_rotation(self.store.as_ref())
            .await?
            .ok_or_else(|| CoreError::RootKeyRotation("no rotation is in progress".into()))?;
        let id = RootKeyId::named_by(&decode(&r.to_check)?)
            .ok_or_else(|| CoreError::RootKeyRotation("the new key's check value names no key".into()))?;
        if !self.crypto.root.holds(id) {
            load_new(&self.crypto.root, &r)?;
        }
        Ok(id)
    }

    /// Ends the rotation if nothing is left under another key: re-wraps the instance CA, makes
    /// the new key's check value the deployment's and removes the rotation. Returns how many
    /// records still need re-wrapping (then nothing was ended).
    pub async fn finish_root_rotation(&self) -> CoreResult<u64> {
        let ring = &self.crypto.root;
        let target = self.rotation_target().await?;
        let status = self.root_key_status().await?;
        let left: u64 = status
            .records
            .values()
            .flat_map(|by_key| by_key.iter())
            .filter(|(k, _)| **k != target.to_hex())
            .map(|(_, n)| n)
            .sum();
        if left > 0 {
            return Ok(left);
        }
        if let Some(stored) = self.store.get_meta(META_INSTANCE_CA).await? {
            let corrupt = || CoreError::Store(kms_store::StoreError::Corrupt("instance CA".into()));
            let (wrapped_hex, pem) = stored.split_once('\n').ok_or_else(corrupt)?;
            let wrapped = hex::decode(wrapped_hex).map_err(|_| corrupt())?;
            if RootKeyId::named_by(&wrapped) != Some(target) {
                let plain = ring.unwrap(CA_KEY_AAD, &wrapped)?;
                let new = format!("{}\n{pem}", hex::encode(ring.wrap_with(target, CA_KEY_AAD, &plain)?));
                if !self.store.replace_meta(META_INSTANCE_CA, Some(&stored), Some(&new)).await? {
                    return Ok(1);
                }
            }
        }
        let Some(r) = read_rotation(self.store.as_ref()).await? else { return Ok(0) };
        if self.store.get_meta(META_ROOT_CHECK).await?.as_deref() != Some(r.to_check.as_str()) {
            self.store.replace_meta(META_ROOT_CHECK, Some(&r.from_check), Some(&r.to_check)).await?;
        }
        if let Some(stored) = self.store.get_meta(META_ROTATION).await? {
            self.store.replace_meta(META_ROTATION, Some(&stored), None).await?;
        }
        tracing::info!(root_key = %target, "root-key rotation finished");
        Ok(0)
    }

    /// Which key wrapped each record, table by table, and the rotation in progress.
    pub async fn root_key_status(&self) -> CoreResult<RootKeyStatus> {
        let ring = &self.crypto.root;
        let rotating_to = match read_rotation(self.store.as_ref()).await? {
            Some(r) => RootKeyId::named_by(&decode(&r.to_check)?),
            None => None,
        };
        let mut records = BTreeMap::new();
        for table in WrappedTable::ALL {
            let mut by_key: BTreeMap<String, u64> = BTreeMap::new();
            let mut after: Option<String> = None;
            loop {
                let rows = self.store.wrapped_rows(table, after.as_deref(), 1000).await?;
                let Some(last) = rows.last() else { break };
                after = Some(last.cursor());
                for row in rows.iter().filter(|r| aad_of(r).is_some()) {
                    let name = RootKeyId::named_by(row.wrapped()).map_or("legacy".to_owned(), RootKeyId::to_hex);
                    *by_key.entry(name).or_default() += 1;
                }
            }
            records.insert(table.name(), by_key);
        }
        let check = self.store.get_meta(META_ROOT_CHECK).await?.ok_or(CoreError::RootKeyMismatch)?;
        let plain = ring.unwrap(ROOT_CHECK_AAD, &decode(&check)?).map_err(|_| CoreError::RootKeyMismatch)?;
        let current = RootKeyId::of_check(&plain);
        Ok(RootKeyStatus { current, rotating_to, records })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_record_round_trips_and_holds_no_key_bytes_in_clear() {
        let r = Rotation {
            from_check: "aa".into(),
            to_check: "bb".into(),
            to: Source::File { wrapped: "cc".into() },
            started_at: 7,
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Rotation>(&json).unwrap(), r);
        assert!(json.contains(r#""to":{"file":{"wrapped":"cc"}}"#), "{json}");
    }

    #[test]
    fn hsm_and_pending_versions_are_not_root_wrapped() {
        let (key_id, version_id) = (kms_types::KeyId::generate(), kms_types::KeyVersionId::generate());
        let row = |protection_level, material: &[u8]| WrappedRow::KeyVersion {
            key_id: key_id.clone(),
            version_id: version_id.clone(),
            spec: kms_types::KeySpec::Aes256,
            protection_level,
            material: material.to_vec(),
        };
        assert!(aad_of(&row(ProtectionLevel::Hsm, b"pkcs11:v1:0123456789abcdef")).is_none());
        assert!(aad_of(&row(ProtectionLevel::Software, b"")).is_none());
        let aad = aad_of(&row(ProtectionLevel::Software, b"wrapped")).unwrap();
        assert_eq!(
            aad,
            MaterialLabel { key_id: &key_id, version_id: &version_id, spec: kms_types::KeySpec::Aes256 }.aad()
        );
    }
}
