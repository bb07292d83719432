//! GetPublicKey, AsymmetricSign, AsymmetricVerify, AsymmetricEncrypt, AsymmetricDecrypt
//! (spec §7.5).

use kms_wire::ApiError;
use kms_wire::model::*;
use kms_wire::params::encode_base64;
use zeroize::Zeroizing;

use super::{Ctx, Handle, dry_run_outcome};

/// Spec: §7.5 GetPublicKey. PEM SubjectPublicKeyInfo of the version named.
impl Handle for GetPublicKeyRequest {
    type Response = GetPublicKeyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let t = &self.target;
        let got = ctx.kms.get_public_key(&t.key, &t.version).await.map_err(|e| ctx.fail(e))?;
        dry_run_outcome(
            self.dry_run,
            GetPublicKeyResponse {
                key_id: got.key_id.to_string(),
                key_version_id: got.version_id.to_string(),
                public_key: got.value,
            },
        )
    }
}

/// Spec: §7.5 AsymmetricSign. Signs the caller's digest.
impl Handle for AsymmetricSignRequest {
    type Response = AsymmetricSignResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let t = &self.target;
        let signed =
            ctx.kms.asymmetric_sign(&t.key, &t.version, self.algorithm, self.digest).await.map_err(|e| ctx.fail(e))?;
        dry_run_outcome(
            self.dry_run,
            AsymmetricSignResponse {
                key_id: signed.key_id.to_string(),
                key_version_id: signed.version_id.to_string(),
                value: encode_base64(&signed.value),
            },
        )
    }
}

/// Spec: §7.5 AsymmetricVerify. `Value` is a boolean; a bad signature is `false`.
impl Handle for AsymmetricVerifyRequest {
    type Response = AsymmetricVerifyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let t = &self.target;
        let checked = ctx
            .kms
            .asymmetric_verify(&t.key, &t.version, self.algorithm, &self.digest, &self.signature)
            .await
            .map_err(|e| ctx.fail(e))?;
        dry_run_outcome(
            self.dry_run,
            AsymmetricVerifyResponse {
                key_id: checked.key_id.to_string(),
                key_version_id: checked.version_id.to_string(),
                value: checked.value,
            },
        )
    }
}

/// Spec: §7.5 AsymmetricEncrypt. Raw public-key ciphertext, not a KMS blob.
impl Handle for AsymmetricEncryptRequest {
    type Response = AsymmetricEncryptResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let t = &self.target;
        let enc = ctx
            .kms
            .asymmetric_encrypt(&t.key, &t.version, self.algorithm, &self.plaintext)
            .await
            .map_err(|e| crate::error_map::to_api_rejected(e, ctx.request_id))?;
        dry_run_outcome(
            self.dry_run,
            AsymmetricEncryptResponse {
                ciphertext_blob: encode_base64(&enc.value),
                key_id: enc.key_id.to_string(),
                key_version_id: enc.version_id.to_string(),
            },
        )
    }
}

/// Spec: §7.5 AsymmetricDecrypt.
impl Handle for AsymmetricDecryptRequest {
    type Response = AsymmetricDecryptResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let t = &self.target;
        let dec = ctx
            .kms
            .asymmetric_decrypt(&t.key, &t.version, self.algorithm, self.ciphertext)
            .await
            .map_err(|e| crate::error_map::to_api_rejected(e, ctx.request_id))?;
        dry_run_outcome(
            self.dry_run,
            AsymmetricDecryptResponse {
                key_id: dec.key_id.to_string(),
                key_version_id: dec.version_id.to_string(),
                plaintext: Zeroizing::new(encode_base64(&dec.value)),
            },
        )
    }
}
