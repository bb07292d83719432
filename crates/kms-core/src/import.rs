//! Bring your own key (spec §6.4, §7.2): `EXTERNAL` keys start `PendingImport` with an empty
//! version; GetParametersForImport hands out a wrapping public key and a token;
//! ImportKeyMaterial opens the caller's material with the token's private key and stores it
//! wrapped by the root key; DeleteKeyMaterial and material expiry take it away again.
//!
//! The import token is self-contained: the wrapping private key, the key it is for and its
//! expiry, sealed with the root key. Any node can open a token another issued, and nothing
//! about pending imports is stored.

use base64::Engine as _;
use kms_crypto::RootKey as _;
use kms_crypto::import::{material_fingerprint, open_imported, wrapping_key_pair};
use kms_crypto::{CryptoError, MaterialLabel};
use kms_store::{KeyRecord, StoreError};
use kms_types::{ImportWrappingAlgorithm, KeyId, KeyRef, KeySpec, KeyState, Origin};
use zeroize::Zeroizing;

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;
use crate::state::{Operation, check};

/// How long an import token is good for (spec §6.4: 24 hours).
pub const IMPORT_TOKEN_SECS: i64 = 24 * 60 * 60;
const TOKEN_AAD: &[u8] = b"kmsd/import-token/v1";
const TOKEN_FORMAT: u8 = 1;

/// What GetParametersForImport answers.
#[derive(Debug)]
pub struct ImportParameters {
    pub key_id: KeyId,
    /// Opaque to callers: base64 of the sealed token.
    pub token: String,
    /// DER SubjectPublicKeyInfo of the wrapping key.
    pub public_key: Vec<u8>,
    pub expires_at: i64,
}

/// An opened import token.
struct Token {
    key_id: KeyId,
    spec: KeySpec,
    algorithm: ImportWrappingAlgorithm,
    expires_at: i64,
    private: Zeroizing<Vec<u8>>,
}

impl Token {
    /// `format, spec, algorithm, expiry (i64 BE), key-id length, key id, private key`: read
    /// only after the root key authenticated it.
    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let spec = KeySpec::ALL.iter().position(|s| *s == self.spec).unwrap_or(0) as u8;
        let alg = ImportWrappingAlgorithm::ALL.iter().position(|a| *a == self.algorithm).unwrap_or(0) as u8;
        let id = self.key_id.as_str().as_bytes();
        let mut out = Zeroizing::new(Vec::with_capacity(12 + id.len() + self.private.len()));
        out.extend_from_slice(&[TOKEN_FORMAT, spec, alg]);
        out.extend_from_slice(&self.expires_at.to_be_bytes());
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        out.extend_from_slice(&self.private);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let (&[format, spec, alg], rest) = bytes.split_first_chunk::<3>()?;
        if format != TOKEN_FORMAT {
            return None;
        }
        let (expiry, rest) = rest.split_first_chunk::<8>()?;
        let (&len, rest) = rest.split_first()?;
        let (id, private) = rest.split_at_checked(len as usize)?;
        Some(Self {
            key_id: KeyId::parse(std::str::from_utf8(id).ok()?).ok()?,
            spec: *KeySpec::ALL.get(spec as usize)?,
            algorithm: *ImportWrappingAlgorithm::ALL.get(alg as usize)?,
            expires_at: i64::from_be_bytes(*expiry),
            private: Zeroizing::new(private.to_vec()),
        })
    }
}

impl Kms {
    /// The key, which must be `EXTERNAL`.
    async fn external(&self, r: &KeyRef) -> CoreResult<KeyRecord> {
        let key = self.resolve(r).await?;
        if key.origin != Origin::External {
            return Err(CoreError::OriginUnsupported);
        }
        Ok(key)
    }

    /// GetParametersForImport: a fresh wrapping key pair and a token for this key, good for
    /// 24 hours.
    pub async fn get_parameters_for_import(
        &self,
        r: &KeyRef,
        spec: KeySpec,
        algorithm: ImportWrappingAlgorithm,
    ) -> CoreResult<ImportParameters> {
        let key = self.external(r).await?;
        check(key.state, Operation::Read)?;
        if !algorithm.fits(spec) {
            return Err(CoreError::InvalidParameter("WrappingAlgorithm"));
        }
        let pair = self.off_thread(move |_| wrapping_key_pair(spec)).await?;
        let expires_at = self.now() + IMPORT_TOKEN_SECS;
        let token = Token { key_id: key.id.clone(), spec, algorithm, expires_at, private: pair.private };
        let sealed = self.crypto.root.wrap(TOKEN_AAD, &token.encode())?;
        Ok(ImportParameters {
            key_id: key.id,
            token: base64::engine::general_purpose::STANDARD.encode(&sealed),
            public_key: pair.public,
            expires_at,
        })
    }

    /// ImportKeyMaterial: `expire_unix` 0 means the material never expires.
    pub async fn import_key_material(
        &self,
        r: &KeyRef,
        token: &str,
        encrypted: Vec<u8>,
        expire_unix: i64,
    ) -> CoreResult<()> {
        let key = self.external(r).await?;
        check(key.state, Operation::ImportKeyMaterial)?;
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .map_err(|_| CoreError::InvalidImportToken)?;
        let opened = self.crypto.root.unwrap(TOKEN_AAD, &sealed).map_err(|_| CoreError::InvalidImportToken)?;
        let token = Token::decode(&opened).ok_or(CoreError::InvalidImportToken)?;
        if token.key_id != key.id {
            return Err(CoreError::InvalidImportToken);
        }
        let now = self.now();
        if token.expires_at <= now {
            return Err(CoreError::ExpiredImportToken);
        }
        if expire_unix < 0 || (expire_unix != 0 && expire_unix <= now) {
            return Err(CoreError::InvalidParameter("KeyMaterialExpireUnix"));
        }
        let material = self
            .off_thread(move |_| open_imported(token.spec, token.algorithm, &token.private, &encrypted))
            .await
            .map_err(|_| CoreError::InvalidKeyMaterial)?;
        let fingerprint = material_fingerprint(&key.id, &material);
        let mut key = key;
        loop {
            // Re-import holds to the material first imported (spec §6.4).
            if let Some(known) = &key.material_fingerprint
                && !kms_crypto::soft::constant_time_eq(known.as_bytes(), fingerprint.as_bytes())
            {
                return Err(CoreError::InvalidKeyMaterial);
            }
            let label = MaterialLabel { key_id: &key.id, version_id: &key.primary_version, spec: key.spec };
            let wrapped = self.crypto.symmetric.import(label, &material).map_err(|e| match e {
                CryptoError::Unsupported => CoreError::InvalidKeyMaterial,
                other => other.into(),
            })?;
            let imported = KeyRecord {
                state: if key.state == KeyState::PendingImport { KeyState::Enabled } else { key.state },
                material_expire_at: (expire_unix != 0).then_some(expire_unix),
                material_fingerprint: Some(fingerprint.clone()),
                ..key.clone()
            };
            match self.store.set_key_material(&imported, &key.primary_version, &wrapped.0).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict) => {
                    key = self.store.get_key(&key.id).await?.ok_or(CoreError::KeyNotFound)?;
                    check(key.state, Operation::ImportKeyMaterial)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// DeleteKeyMaterial: the key goes back to `PendingImport` (a key pending deletion stays
    /// so); the same material can be imported again.
    pub async fn delete_key_material(&self, r: &KeyRef) -> CoreResult<()> {
        let id = self.external(r).await?.id;
        loop {
            let key = self.store.get_key(&id).await?.ok_or(CoreError::KeyNotFound)?;
            match self.remove_material(&key).await {
                Err(CoreError::Store(StoreError::Conflict)) => continue,
                other => return other,
            }
        }
    }

    /// Takes a key's imported material away (DeleteKeyMaterial, or expiry).
    pub(crate) async fn remove_material(&self, key: &KeyRecord) -> CoreResult<()> {
        let removed = KeyRecord {
            state: if key.state == KeyState::PendingDeletion { key.state } else { KeyState::PendingImport },
            material_expire_at: None,
            ..key.clone()
        };
        self.store.set_key_material(&removed, &key.primary_version, &[]).await?;
        self.forget_material(&key.primary_version);
        Ok(())
    }
}
