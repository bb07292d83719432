//! Access keys as the signature verifier needs them: the secret itself (HMAC needs it), kept
//! in the store wrapped by the root key and bound to its id.

use kms_store::{AccessKeyRecord, StoreError};
use zeroize::Zeroizing;

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;

/// An access key with its secret unwrapped (wiped on drop).
pub struct StoredAccessKey {
    pub id: String,
    pub secret: Zeroizing<String>,
    pub enabled: bool,
}

fn aad(id: &str) -> Vec<u8> {
    format!("kmsd/access-key/v1\0{id}").into_bytes()
}

impl Kms {
    /// Stores a new access key. [`CoreError::Store`] with `Conflict` when the id exists.
    pub async fn add_access_key(&self, id: &str, secret: &str) -> CoreResult<()> {
        let wrapped_secret = self.crypto.root.wrap(&aad(id), secret.as_bytes())?;
        let record = AccessKeyRecord { id: id.to_owned(), wrapped_secret, enabled: true, created_at: self.now() };
        self.store.insert_access_key(&record).await?;
        Ok(())
    }

    /// Every access key, secrets unwrapped, for the verifier's in-memory table.
    pub async fn access_keys(&self) -> CoreResult<Vec<StoredAccessKey>> {
        let mut out = Vec::new();
        for r in self.store.list_access_keys().await? {
            let plain =
                self.crypto.root.unwrap(&aad(&r.id), &r.wrapped_secret).map_err(|_| CoreError::RootKeyMismatch)?;
            let secret = String::from_utf8(plain.to_vec())
                .map_err(|_| CoreError::Store(StoreError::Corrupt("access key secret".into())))?;
            out.push(StoredAccessKey { id: r.id, secret: Zeroizing::new(secret), enabled: r.enabled });
        }
        Ok(out)
    }
}
