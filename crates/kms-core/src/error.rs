//! The key service's own error vocabulary. It knows nothing of the wire; the server maps each
//! variant to an Aliyun code in one place.

use kms_crypto::CryptoError;
use kms_store::StoreError;
use kms_types::KeyState;

use crate::state::Operation;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("key not found")]
    KeyNotFound,
    #[error("secret not found")]
    SecretNotFound,
    /// CreateSecret with a name that is taken.
    #[error("secret exists")]
    SecretExists,
    /// PutSecretValue with a version id that holds another value.
    #[error("secret version exists")]
    SecretVersionExists,
    /// The secret waits out its recovery window.
    #[error("secret in its recovery window")]
    SecretInDeleteWindow,
    /// RestoreSecret on a secret that is not being deleted.
    #[error("secret in use")]
    SecretInUse,
    /// UpdateSecretVersionStage: `RemoveFromVersion` does not hold the stage.
    #[error("stage is not on that version")]
    StageMismatch,
    #[error("alias not found")]
    AliasNotFound,
    #[error("alias already exists")]
    AliasExists,
    /// The key's state forbids the operation (spec §5.4).
    #[error("key state {state:?} forbids {op:?}")]
    InvalidState { state: KeyState, op: Operation },
    /// The matrix answers "state modification failed" for this transition (spec §5.4).
    #[error("key state {state:?} cannot change by {op:?}")]
    StateModificationFailed { state: KeyState, op: Operation },
    /// A parameter the operation needs in this combination is absent, named.
    #[error("missing parameter {0}")]
    MissingParameter(&'static str),
    /// A parameter value the service refuses, named.
    #[error("invalid parameter {0}")]
    InvalidParameter(&'static str),
    /// The ciphertext is malformed, altered, or its context differs.
    #[error("invalid ciphertext")]
    InvalidCiphertext,
    /// The request asks for something this deployment does not offer (yet).
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The key cannot do this (wrong usage or spec for the operation).
    #[error("operation not supported by this key")]
    KeyUnsupportedOperation,
    /// Only symmetric keys with service-generated material get new versions.
    #[error("this key cannot rotate")]
    RotationUnsupported,
    /// ScheduleKeyDeletion on a key with deletion protection.
    #[error("the key has deletion protection")]
    DeletionProtected,
    /// A batch tag action names a resource that does not exist.
    #[error("resource not found")]
    ResourceNotFound,
    /// The change would pass a documented limit (tags per resource).
    #[error("limit exceeded")]
    LimitExceeded,
    #[error("key version not found")]
    KeyVersionNotFound,
    /// A policy document kmsd cannot take, and why.
    #[error("{0}")]
    InvalidPolicy(String),
    /// An identity policy does not allow the request (or explicitly denies it).
    #[error("forbidden by policy")]
    NoPermission,
    /// An import action on a key whose material the service made (`Origin` not EXTERNAL).
    #[error("the key's origin does not allow this")]
    OriginUnsupported,
    /// The import token does not open, or is another key's.
    #[error("invalid import token")]
    InvalidImportToken,
    #[error("expired import token")]
    ExpiredImportToken,
    /// Imported material that does not unwrap, is not the spec's length, or is not the
    /// material imported before.
    #[error("invalid key material")]
    InvalidKeyMaterial,
    /// A network rule, permission policy, AAP or ClientKey that does not exist.
    #[error("application access object not found")]
    AccessNotFound,
    /// A managed data key, or a version of one, that does not exist.
    #[error("managed data key not found")]
    DataKeyNotFound,
    /// A network rule, permission policy or AAP of that name exists.
    #[error("application access object exists")]
    AccessExists,
    /// Another object still depends on it; why, for the caller.
    #[error("in use: {0}")]
    AccessInUse(&'static str),
    /// A ClientKey that does not exist, is outside its validity, or whose access point is gone.
    #[error("ClientKey not authorized")]
    ClientKeyUnauthorized,
    /// ReleaseKmsInstance on an instance with deletion protection.
    #[error("the instance has deletion protection")]
    InstanceDeletionProtected,
    #[error("dedicated KMS instance not found")]
    InstanceNotFound,
    /// The KMS instance's state does not allow the call (docs/design/instances.md §6).
    #[error("KMS instance state invalid")]
    InstanceStateInvalid,
    /// The configured root key does not open this store's data.
    #[error("the root key does not match this data: it was created with another root key")]
    RootKeyMismatch,
    /// A root-key rotation cannot go on; the words say why (no values, no key material).
    #[error("root-key rotation: {0}")]
    RootKeyRotation(String),
    /// A fixtures file that cannot be applied: what conflicts or is malformed, named, never a
    /// value.
    #[error("seed: {0}")]
    Seed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("crypto provider: {0}")]
    Crypto(CryptoError),
}

impl From<CryptoError> for CoreError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::AuthenticationFailed => CoreError::InvalidCiphertext,
            other => CoreError::Crypto(other),
        }
    }
}

pub type CoreResult<T> = Result<T, CoreError>;
