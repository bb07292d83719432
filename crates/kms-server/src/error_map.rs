//! The one place where the key service's errors become wire codes, exhaustively, by type.
//! Internal failures answer `InternalFailure` with no detail; the detail goes to the log
//! under the request id.

use kms_core::CoreError;
use kms_store::StoreError;
use kms_types::KeyState;
use kms_wire::{ApiError, Code};

/// As [`to_api`], for the actions whose documented answer to a key that cannot do the
/// operation is the `Rejected.` form (AsymmetricEncrypt/Decrypt, spec §5.5).
pub fn to_api_rejected(e: CoreError, request_id: &str) -> ApiError {
    match e {
        CoreError::KeyUnsupportedOperation => ApiError::with_message(
            Code::RejectedUnsupportedOperation,
            "Unsupported operation. The key's spec or usage does not allow this operation.",
        ),
        other => to_api(other, request_id),
    }
}

pub fn to_api(e: CoreError, request_id: &str) -> ApiError {
    match e {
        CoreError::KeyNotFound => Code::KeyNotFound.into(),
        CoreError::AliasNotFound => Code::AliasNotFound.into(),
        CoreError::AliasExists => Code::AliasAlreadyExists.into(),
        CoreError::SecretNotFound => Code::ResourceNotFound.into(),
        CoreError::SecretExists => Code::ResourceExist.into(),
        CoreError::SecretVersionExists => ApiError::with_message(
            Code::ResourceExist,
            "The resource already exists. The version id holds another value.",
        ),
        CoreError::SecretInDeleteWindow => Code::ResourceInDeleteWindow.into(),
        CoreError::SecretInUse => Code::ResourceInUse.into(),
        CoreError::StageMismatch => ApiError::with_message(
            Code::InvalidRequest,
            "param mismatch: RemoveFromVersion does not hold the VersionStage.",
        ),
        CoreError::InvalidState { state, .. } => match state {
            KeyState::Enabled => Code::RejectedEnabled.into(),
            KeyState::Disabled => Code::RejectedDisabled.into(),
            KeyState::PendingDeletion => Code::RejectedPendingDeletion.into(),
            KeyState::PendingImport => Code::RejectedPendingImport.into(),
        },
        CoreError::StateModificationFailed { .. } => Code::RejectedStateModifiedFailed.into(),
        CoreError::MissingParameter(name) => ApiError::missing_parameter(name),
        CoreError::InvalidParameter(name) => ApiError::invalid_parameter(name),
        CoreError::RotationUnsupported => ApiError::with_message(
            Code::RejectedUnsupportedOperation,
            "Unsupported operation. Only symmetric keys with KMS-generated material have versions.",
        ),
        CoreError::DeletionProtected => ApiError::with_message(
            Code::RejectedUnsupportedOperation,
            "Unsupported operation. The key has deletion protection enabled; disable it first.",
        ),
        CoreError::KeyVersionNotFound => Code::KeyVersionNotFound.into(),
        CoreError::NoPermission => Code::ForbiddenNoPermission.into(),
        CoreError::InvalidPolicy(why) => ApiError::with_message(
            Code::InvalidParameter,
            format!("The specified parameter \"Policy\" is not valid: {why}"),
        ),
        CoreError::OriginUnsupported => Code::UnsupportedOrigin.into(),
        CoreError::InvalidImportToken => Code::InvalidImportToken.into(),
        CoreError::ExpiredImportToken => Code::ExpiredImportToken.into(),
        CoreError::InvalidKeyMaterial => Code::InvalidKeyMaterial.into(),
        CoreError::ResourceNotFound => Code::InvalidResourceIdNotFound.into(),
        CoreError::LimitExceeded => Code::LimitExceeded.into(),
        // Spec §12: a malformed or altered blob, or the wrong context, is InvalidParameter.
        CoreError::InvalidCiphertext => ApiError::invalid_parameter("CiphertextBlob"),
        CoreError::Unsupported(what) => ApiError::with_message(
            Code::UnsupportedOperation,
            format!("This action is not supported. The specified {what} is not supported by this kmsd."),
        ),
        CoreError::KeyUnsupportedOperation => ApiError::with_message(
            Code::UnsupportedOperation,
            "This action is not supported. The key's spec or usage does not allow this operation.",
        ),
        CoreError::AccessNotFound | CoreError::DataKeyNotFound => Code::ResourceNotFound.into(),
        CoreError::ClientKeyUnauthorized => Code::Unauthorized.into(),
        CoreError::AccessExists => Code::ResourceExist.into(),
        CoreError::AccessInUse(why) => {
            ApiError::with_message(Code::ResourceInUse, format!("The resource is in use. {why}"))
        }
        CoreError::InstanceDeletionProtected => ApiError::with_message(
            Code::RejectedUnsupportedOperation,
            "Unsupported operation. The instance has deletion protection enabled; disable it first.",
        ),
        CoreError::InstanceNotFound => Code::DkmsInstanceNotFound.into(),
        CoreError::InstanceStateInvalid => Code::DkmsInstanceStateInvalid.into(),
        CoreError::Store(StoreError::Unavailable(detail)) => {
            tracing::error!(request_id, %detail, "store unavailable");
            Code::ServiceUnavailableTemporary.into()
        }
        e @ (CoreError::RootKeyMismatch
        | CoreError::RootKeyRotation(_)
        | CoreError::Seed(_)
        | CoreError::Crypto(_)
        | CoreError::Store(_)) => {
            tracing::error!(request_id, error = %e, "internal failure");
            ApiError::internal()
        }
    }
}
