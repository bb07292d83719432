//! Managed data keys (spec Appendix A.3): 256-bit data keys kmsd keeps for callers, in
//! versions, so that many services can fetch the same data key by name (`GetManagedDataKey`)
//! instead of each storing its own wrapped copy.
//!
//! The 2016-01-20 API has no action that makes them: in the cloud the service creates them. An
//! operator makes versions with `kmsd admin datakey create <name>`; callers read them. Each
//! version is named as the cloud names the credential that holds it,
//! `kms-datakeyversion!<name>!<version id>`, and its material is wrapped by the root key, bound
//! to that name. Without a version id a caller gets the *first* version unless it asks for the
//! latest (the SDK's documented default).

use kms_crypto::RootKey as _;
use kms_store::{DataKeyVersionRecord, Listing, StoreError, Window};
use kms_types::SecretName;
use zeroize::Zeroizing;

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;

/// Bytes of every managed data key (AES-256).
pub const MANAGED_DATA_KEY_BYTES: usize = 32;
/// Characters of a version id (`[A-Za-z0-9]`, as the cloud's `xH6OPUmz`).
const VERSION_ID_CHARS: usize = 8;
const VERSION_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// One version, as the listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyVersion {
    pub version_id: String,
    /// The name of the credential holding it: `kms-datakeyversion!<name>!<id>`.
    pub version_name: String,
    pub created_at: i64,
}

/// A version with its data key in the clear (wiped on drop).
pub struct ManagedDataKey {
    pub name: String,
    pub version: DataKeyVersion,
    pub plaintext: Zeroizing<Vec<u8>>,
}

/// A data key name: the alphabet and length of a secret name. Anything else names nothing.
pub fn check_data_key_name(name: &str) -> CoreResult<()> {
    SecretName::parse(name).map(|_| ()).map_err(|_| CoreError::DataKeyNotFound)
}

fn version_name(name: &str, version_id: &str) -> String {
    format!("kms-datakeyversion!{name}!{version_id}")
}

/// What the wrapped material is bound to: a version copied under another name or id does not
/// unwrap.
pub(crate) fn material_aad(name: &str, version_id: &str) -> Vec<u8> {
    format!("kmsd/managed-data-key/v1\0{name}\0{version_id}").into_bytes()
}

/// A plausible version id; anything else names no version.
fn is_version_id(raw: &str) -> bool {
    raw.len() == VERSION_ID_CHARS && raw.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl DataKeyVersion {
    fn of(r: &DataKeyVersionRecord) -> Self {
        Self {
            version_id: r.version_id.clone(),
            version_name: version_name(&r.name, &r.version_id),
            created_at: r.created_at,
        }
    }
}

impl Kms {
    /// A random version id, uniform over the alphabet (bytes past the last whole multiple of
    /// its length are drawn again).
    fn new_data_key_version_id(&self) -> CoreResult<String> {
        let limit = 256 - 256 % VERSION_ALPHABET.len();
        let mut id = String::with_capacity(VERSION_ID_CHARS);
        while id.len() < VERSION_ID_CHARS {
            for b in self.random_bytes(16)?.iter().map(|b| usize::from(*b)).filter(|b| *b < limit) {
                if id.len() < VERSION_ID_CHARS {
                    id.push(char::from(VERSION_ALPHABET[b % VERSION_ALPHABET.len()]));
                }
            }
        }
        Ok(id)
    }

    /// A new version of the data key `name` (the first one makes the data key): 32 random
    /// bytes, wrapped. Becomes the latest version.
    pub async fn create_managed_data_key_version(&self, name: &str) -> CoreResult<DataKeyVersion> {
        SecretName::parse(name).map_err(|_| CoreError::InvalidParameter("DataKeyName"))?;
        let plaintext = self.random_bytes(MANAGED_DATA_KEY_BYTES)?;
        // A clash of two random 8-character ids is possible, if unlikely: draw again.
        for _ in 0..3 {
            let version_id = self.new_data_key_version_id()?;
            let material = self.crypto.root.wrap(&material_aad(name, &version_id), &plaintext)?;
            let record = DataKeyVersionRecord { name: name.to_owned(), version_id, material, created_at: self.now() };
            match self.store.insert_data_key_version(&record).await {
                Ok(()) => return Ok(DataKeyVersion::of(&record)),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Store(StoreError::Conflict))
    }

    /// GetManagedDataKey: the version named, else the first one — or the latest with
    /// `use_latest`.
    pub async fn get_managed_data_key(
        &self,
        name: &str,
        version_id: Option<&str>,
        use_latest: bool,
    ) -> CoreResult<ManagedDataKey> {
        check_data_key_name(name)?;
        let record = match version_id {
            Some(id) if !is_version_id(id) => None,
            Some(id) => self.store.get_data_key_version(name, id).await?,
            None => {
                let first = Window { offset: 0, limit: 1 };
                let window = if use_latest {
                    let total = self.store.list_data_key_versions(name, Window { offset: 0, limit: 0 }).await?.total;
                    Window { offset: total.saturating_sub(1), ..first }
                } else {
                    first
                };
                self.store.list_data_key_versions(name, window).await?.items.into_iter().next()
            }
        };
        let record = record.ok_or(CoreError::DataKeyNotFound)?;
        self.know_root_key_of(&record.material).await;
        let plaintext = self.crypto.root.unwrap(&material_aad(name, &record.version_id), &record.material)?;
        Ok(ManagedDataKey { name: name.to_owned(), version: DataKeyVersion::of(&record), plaintext })
    }

    /// ListManagedDataKeyVersions, oldest first; a name with no versions is not found.
    pub async fn list_managed_data_key_versions(
        &self,
        name: &str,
        window: Window,
    ) -> CoreResult<Listing<DataKeyVersion>> {
        check_data_key_name(name)?;
        let listed = self.store.list_data_key_versions(name, window).await?;
        if listed.total == 0 {
            return Err(CoreError::DataKeyNotFound);
        }
        Ok(Listing { items: listed.items.iter().map(DataKeyVersion::of).collect(), total: listed.total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_and_names() {
        assert!(is_version_id("xH6OPUmz"));
        for bad in ["xH6OPUm", "xH6OPUmz0", "xH6OPUm!", "", "xH6OPUm\u{e9}"] {
            assert!(!is_version_id(bad), "{bad}");
        }
        assert_eq!(version_name("example-data-key", "xH6OPUmz"), "kms-datakeyversion!example-data-key!xH6OPUmz");
        assert!(check_data_key_name("example-data-key").is_ok());
        assert!(matches!(check_data_key_name("no!bang"), Err(CoreError::DataKeyNotFound)));
        assert!(matches!(check_data_key_name(""), Err(CoreError::DataKeyNotFound)));
        // The binding differs per name and per version.
        assert_ne!(material_aad("a", "bbbbbbbb"), material_aad("ab", "bbbbbbb"));
    }
}
