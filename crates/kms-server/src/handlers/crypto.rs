//! Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext (spec §7.4).

use kms_core::{DataKey, Encrypted, ExportTo};
use kms_wire::ApiError;
use kms_wire::model::*;
use kms_wire::params::encode_base64;
use zeroize::Zeroizing;

use super::{Ctx, Handle, dry_run_outcome};

/// The ciphertext fields every encrypting action answers.
fn ciphertext(enc: &Encrypted) -> EncryptResponse {
    EncryptResponse {
        ciphertext_blob: encode_base64(&enc.blob),
        key_id: enc.key_id.to_string(),
        key_version_id: enc.version_id.to_string(),
    }
}

async fn data_key(ctx: &Ctx<'_>, p: &DataKeyParams) -> Result<DataKey, ApiError> {
    ctx.kms.generate_data_key(&p.key, &p.context, p.number_of_bytes as usize).await.map_err(|e| ctx.fail(e))
}

/// Spec: §7.4 Encrypt. Uses the key's primary version.
impl Handle for EncryptRequest {
    type Response = EncryptResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let enc = ctx.kms.encrypt(&self.key, &self.context, &self.plaintext).await.map_err(|e| ctx.fail(e))?;
        dry_run_outcome(self.dry_run, ciphertext(&enc))
    }
}

/// Spec: §7.4 Decrypt. The key and version come from the blob.
impl Handle for DecryptRequest {
    type Response = DecryptResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let dec = ctx.kms.decrypt(&self.ciphertext_blob, &self.context).await.map_err(|e| ctx.fail(e))?;
        dry_run_outcome(
            self.dry_run,
            DecryptResponse {
                key_id: dec.key_id.to_string(),
                key_version_id: dec.version_id.to_string(),
                plaintext: Zeroizing::new(encode_base64(&dec.plaintext)),
            },
        )
    }
}

/// Spec: §7.4 GenerateDataKey.
impl Handle for GenerateDataKeyRequest {
    type Response = GenerateDataKeyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let dk = data_key(ctx, &self.0).await?;
        let plaintext = Zeroizing::new(encode_base64(&dk.plaintext));
        dry_run_outcome(self.0.dry_run, GenerateDataKeyResponse { wrapped: ciphertext(&dk.wrapped), plaintext })
    }
}

/// Spec: §7.4 GenerateDataKeyWithoutPlaintext.
impl Handle for GenerateDataKeyWithoutPlaintextRequest {
    type Response = GenerateDataKeyWithoutPlaintextResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let dk = data_key(ctx, &self.0).await?;
        dry_run_outcome(self.0.dry_run, ciphertext(&dk.wrapped))
    }
}

/// Spec: §7.4 ReEncrypt. Answers the destination key and version (spec §12).
impl Handle for ReEncryptRequest {
    type Response = ReEncryptResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let enc = match self.source {
            ReEncryptSource::Blob { context } => {
                ctx.kms.re_encrypt(&self.ciphertext_blob, &context, &self.destination, &self.destination_context).await
            }
            ReEncryptSource::PublicKey { target, algorithm } => {
                ctx.kms
                    .re_encrypt_from_public_key(
                        &target.key,
                        &target.version,
                        algorithm,
                        self.ciphertext_blob,
                        &self.destination,
                        &self.destination_context,
                    )
                    .await
            }
        }
        .map_err(|e| ctx.fail(e))?;
        dry_run_outcome(self.dry_run, ciphertext(&enc))
    }
}

fn export_to(w: &ExportWrapping) -> ExportTo<'_> {
    ExportTo { public_key: &w.public_key, spec: w.spec, algorithm: w.algorithm }
}

/// Spec: §7.4 ExportDataKey. The key version comes from the blob.
impl Handle for ExportDataKeyRequest {
    type Response = ExportDataKeyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let exported = ctx
            .kms
            .export_data_key(&self.ciphertext_blob, &self.context, &export_to(&self.wrapping))
            .await
            .map_err(|e| ctx.fail(e))?;
        dry_run_outcome(
            self.dry_run,
            ExportDataKeyResponse {
                exported_data_key: encode_base64(&exported.blob),
                key_id: exported.key_id.to_string(),
                key_version_id: exported.version_id.to_string(),
            },
        )
    }
}

/// Spec: §7.4 GenerateAndExportDataKey.
impl Handle for GenerateAndExportDataKeyRequest {
    type Response = GenerateAndExportDataKeyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let p = &self.data_key;
        let (wrapped, exported) = ctx
            .kms
            .generate_and_export_data_key(&p.key, &p.context, p.number_of_bytes as usize, &export_to(&self.wrapping))
            .await
            .map_err(|e| ctx.fail(e))?;
        dry_run_outcome(
            p.dry_run,
            GenerateAndExportDataKeyResponse {
                ciphertext_blob: encode_base64(&wrapped.blob),
                exported_data_key: encode_base64(&exported),
                key_id: wrapped.key_id.to_string(),
                key_version_id: wrapped.version_id.to_string(),
            },
        )
    }
}
