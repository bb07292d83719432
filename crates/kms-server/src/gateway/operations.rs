//! One function per instance-API operation: decode the protobuf request, call the key
//! service as the authenticated application, encode the protobuf answer (docs/design/gateway.md
//! §7). Each names the key version it used, for the `x-kms-migrationkeyversionid` answer
//! header the transfer client reads, and the resource it reached, for the audit trail.

use kms_core::{Caller, DEFAULT_DATA_KEY_BYTES, GatewayKey, InstanceSealed, KeyFormat, Kms, format_time};
use kms_types::{
    AsymmetricAlgorithm, BadKeyRef, KeyId, KeyRef, KeySpec, KeyVersionId, SecretName, SecretVersionId, VersionStage,
};
use kms_wire::instance::{ADVANCE_HEAD, Operation, pb, strip_advance_head};
use kms_wire::{ApiError, Code};
use prost::Message;
use zeroize::{Zeroize as _, Zeroizing};

use crate::error_map::to_api;

/// What an operation produced besides its body.
pub struct Outcome {
    pub body: Vec<u8>,
    /// The key version used (answered as `x-kms-migrationkeyversionid`).
    pub version: Option<KeyVersionId>,
    /// The key or secret reached, for the audit trail.
    pub key: Option<KeyId>,
    pub secret: Option<SecretName>,
}

impl Outcome {
    fn of(body: impl Message) -> Self {
        Self { body: body.encode_to_vec(), version: None, key: None, secret: None }
    }

    /// As [`Self::of`] for an answer carrying a plaintext, a data key or a private key: the
    /// message's copy is wiped once encoded (the encoded body is wiped once written).
    fn wiped<M: Message>(mut body: M, wipe: impl FnOnce(&mut M)) -> Self {
        let encoded = body.encode_to_vec();
        wipe(&mut body);
        Self { body: encoded, version: None, key: None, secret: None }
    }

    fn with_key(mut self, key: &KeyId, version: &KeyVersionId) -> Self {
        self.key = Some(key.clone());
        self.version = Some(version.clone());
        self
    }
}

/// What an operation is given.
pub struct Context<'a> {
    pub kms: &'a Kms,
    pub caller: Caller<'a>,
    pub request_id: &'a str,
    /// The transfer client's `x-kms-migrationkeyversionid` request header.
    pub migration_version: Option<&'a str>,
}

impl Context<'_> {
    fn fail(&self, e: kms_core::CoreError) -> ApiError {
        to_api(e, self.request_id)
    }
}

fn decode<M: Message + Default>(body: &[u8]) -> Result<M, ApiError> {
    M::decode(body).map_err(|_| ApiError::new(Code::InvalidParameter))
}

fn key_ref(key_id: &str) -> Result<KeyRef, ApiError> {
    if key_id.is_empty() {
        return Err(ApiError::missing_parameter("KeyId"));
    }
    KeyRef::parse(key_id).map_err(|e| match e {
        BadKeyRef::Key => Code::KeyNotFound.into(),
        BadKeyRef::Alias => Code::AliasNotFound.into(),
    })
}

/// The key a request names, resolved and admitted once for the whole operation.
async fn key(ctx: &Context<'_>, key_id: &str) -> Result<GatewayKey, ApiError> {
    ctx.kms.gateway_key(ctx.caller, &key_ref(key_id)?).await.map_err(|e| ctx.fail(e))
}

fn iv_of(iv: &[u8]) -> Result<Option<[u8; 12]>, ApiError> {
    match iv.len() {
        0 => Ok(None),
        _ => iv.try_into().map(Some).map_err(|_| ApiError::invalid_parameter("Iv")),
    }
}

/// The symmetric algorithm asked for (`AES_GCM` unless told) and its padding: GCM only.
fn symmetric(algorithm: &str, padding: &str) -> Result<String, ApiError> {
    if !matches!(padding, "" | "NO_PADDING") {
        return Err(ApiError::with_message(Code::UnsupportedOperation, "This action is not supported. PaddingMode"));
    }
    match algorithm {
        "" => Ok("AES_GCM".into()),
        "AES_GCM" | "SM4_GCM" => Ok(algorithm.to_owned()),
        _ => Err(ApiError::with_message(Code::UnsupportedOperation, "This action is not supported. Algorithm")),
    }
}

fn asymmetric(algorithm: &str, default: AsymmetricAlgorithm) -> Result<AsymmetricAlgorithm, ApiError> {
    if algorithm.is_empty() {
        return Ok(default);
    }
    algorithm.parse().map_err(|_| ApiError::invalid_parameter("Algorithm"))
}

fn message_type(t: &str) -> Result<bool, ApiError> {
    match t {
        "" | "RAW" => Ok(true),
        "DIGEST" => Ok(false),
        _ => Err(ApiError::invalid_parameter("MessageType")),
    }
}

fn advance_blob(s: &InstanceSealed) -> Vec<u8> {
    let mut blob = ADVANCE_HEAD.to_vec();
    blob.extend_from_slice(&s.classic_blob());
    blob
}

/// Runs `op` on `body`.
pub async fn run(op: Operation, body: &[u8], ctx: &Context<'_>) -> Result<Outcome, ApiError> {
    let kms = ctx.kms;
    let fail = |e| ctx.fail(e);
    match op {
        Operation::Encrypt | Operation::AdvanceEncrypt => {
            let r: pb::EncryptRequest = decode(body)?;
            let key = key(ctx, &r.key_id).await?;
            let advance = op == Operation::AdvanceEncrypt;
            if !advance && key.is_asymmetric() {
                let alg = asymmetric(&r.algorithm, AsymmetricAlgorithm::RsaesOaepSha256)?;
                let out = kms.gateway_public_encrypt(&key, alg, &r.plaintext).await.map_err(fail)?;
                let answer = pb::EncryptResponse {
                    key_id: out.key_id.to_string(),
                    ciphertext_blob: out.value,
                    algorithm: alg.as_str().into(),
                    request_id: ctx.request_id.into(),
                    ..Default::default()
                };
                return Ok(Outcome::of(answer).with_key(&out.key_id, &out.version_id));
            }
            let algorithm = symmetric(&r.algorithm, &r.padding_mode)?;
            let iv = iv_of(&r.iv)?;
            let s = kms.gateway_encrypt(&key, advance, iv.as_ref(), &r.aad, &r.plaintext).await.map_err(fail)?;
            let outcome = if advance {
                Outcome::of(pb::AdvanceEncryptResponse {
                    key_id: s.key_id.to_string(),
                    ciphertext_blob: advance_blob(&s),
                    iv: s.iv.to_vec(),
                    request_id: ctx.request_id.into(),
                    algorithm,
                    padding_mode: r.padding_mode,
                    key_version_id: s.version_id.to_string(),
                })
            } else {
                Outcome::of(pb::EncryptResponse {
                    key_id: s.key_id.to_string(),
                    ciphertext_blob: s.ciphertext_and_tag.clone(),
                    iv: s.iv.to_vec(),
                    request_id: ctx.request_id.into(),
                    algorithm,
                    padding_mode: r.padding_mode,
                })
            };
            Ok(outcome.with_key(&s.key_id, &s.version_id))
        }
        Operation::Decrypt => {
            let r: pb::DecryptRequest = decode(body)?;
            let version = ctx
                .migration_version
                .map(|v| KeyVersionId::parse(v).map_err(|_| ApiError::invalid_parameter("x-kms-migrationkeyversionid")))
                .transpose()?;
            let key = if r.key_id.is_empty() && version.is_some() { None } else { Some(key(ctx, &r.key_id).await?) };
            if let Some(k) = &key
                && version.is_none()
                && k.is_asymmetric()
            {
                let alg = asymmetric(&r.algorithm, AsymmetricAlgorithm::RsaesOaepSha256)?;
                let out = kms.gateway_private_decrypt(k, alg, r.ciphertext_blob).await.map_err(fail)?;
                let answer = pb::DecryptResponse {
                    key_id: out.key_id.to_string(),
                    plaintext: out.value.to_vec(),
                    request_id: ctx.request_id.into(),
                    algorithm: alg.as_str().into(),
                    ..Default::default()
                };
                return Ok(Outcome::wiped(answer, |a| a.plaintext.zeroize()).with_key(&out.key_id, &out.version_id));
            }
            let algorithm = symmetric(&r.algorithm, &r.padding_mode)?;
            let iv = iv_of(&r.iv)?.ok_or_else(|| ApiError::missing_parameter("Iv"))?;
            let d = kms
                .gateway_decrypt(ctx.caller, key.as_ref(), version.as_ref(), &iv, &r.aad, &r.ciphertext_blob)
                .await
                .map_err(fail)?;
            let answer = pb::DecryptResponse {
                key_id: d.key_id.to_string(),
                plaintext: d.plaintext.to_vec(),
                request_id: ctx.request_id.into(),
                algorithm,
                padding_mode: r.padding_mode,
            };
            Ok(Outcome::wiped(answer, |a| a.plaintext.zeroize()).with_key(&d.key_id, &d.version_id))
        }
        Operation::AdvanceDecrypt => {
            let r: pb::AdvanceDecryptRequest = decode(body)?;
            let algorithm = symmetric(&r.algorithm, &r.padding_mode)?;
            let d = match strip_advance_head(&r.ciphertext_blob) {
                Some(classic) => {
                    let d = kms.gateway_advance_decrypt(ctx.caller, classic, &r.aad).await.map_err(fail)?;
                    if !r.iv.is_empty() && r.iv.as_slice() != &classic[KeyVersionId::LEN..KeyVersionId::LEN + 12] {
                        return Err(ApiError::invalid_parameter("Iv"));
                    }
                    d
                }
                // A plain Encrypt ciphertext: AdvanceDecrypt opens those too, given key and IV.
                None => {
                    let key = key(ctx, &r.key_id).await?;
                    let iv = iv_of(&r.iv)?.ok_or_else(|| ApiError::invalid_parameter("CiphertextBlob"))?;
                    kms.gateway_decrypt(ctx.caller, Some(&key), None, &iv, &r.aad, &r.ciphertext_blob)
                        .await
                        .map_err(fail)?
                }
            };
            let answer = pb::AdvanceDecryptResponse {
                key_id: d.key_id.to_string(),
                plaintext: d.plaintext.to_vec(),
                request_id: ctx.request_id.into(),
                algorithm,
                padding_mode: r.padding_mode,
                key_version_id: d.version_id.to_string(),
            };
            Ok(Outcome::wiped(answer, |a| a.plaintext.zeroize()).with_key(&d.key_id, &d.version_id))
        }
        Operation::GenerateDataKey => {
            let r: pb::GenerateDataKeyRequest = decode(body)?;
            let algorithm = symmetric(&r.algorithm, "")?;
            let (plaintext, s) = data_key(ctx, &r.key_id, r.number_of_bytes, false, &r.aad).await?;
            let answer = pb::GenerateDataKeyResponse {
                key_id: s.key_id.to_string(),
                iv: s.iv.to_vec(),
                plaintext: plaintext.to_vec(),
                ciphertext_blob: s.ciphertext_and_tag.clone(),
                request_id: ctx.request_id.into(),
                algorithm,
            };
            Ok(Outcome::wiped(answer, |a| a.plaintext.zeroize()).with_key(&s.key_id, &s.version_id))
        }
        Operation::AdvanceGenerateDataKey => {
            let r: pb::AdvanceGenerateDataKeyRequest = decode(body)?;
            let (plaintext, s) = data_key(ctx, &r.key_id, r.number_of_bytes, true, &r.aad).await?;
            let answer = pb::AdvanceGenerateDataKeyResponse {
                key_id: s.key_id.to_string(),
                iv: s.iv.to_vec(),
                plaintext: plaintext.to_vec(),
                ciphertext_blob: advance_blob(&s),
                request_id: ctx.request_id.into(),
                algorithm: "AES_GCM".into(),
                key_version_id: s.version_id.to_string(),
            };
            Ok(Outcome::wiped(answer, |a| a.plaintext.zeroize()).with_key(&s.key_id, &s.version_id))
        }
        Operation::GenerateDataKeyPair
        | Operation::GenerateDataKeyPairWithoutPlaintext
        | Operation::AdvanceGenerateDataKeyPair
        | Operation::AdvanceGenerateDataKeyPairWithoutPlaintext => data_key_pair(op, body, ctx).await,
        Operation::Sign => {
            let r: pb::SignRequest = decode(body)?;
            let key = key(ctx, &r.key_id).await?;
            let alg = asymmetric(&r.algorithm, AsymmetricAlgorithm::RsaPssSha256)?;
            let raw = message_type(&r.message_type)?;
            // The legacy `Digest` field carries a digest.
            let (message, raw) =
                if r.message.is_empty() && !r.digest.is_empty() { (r.digest, false) } else { (r.message, raw) };
            let out = kms.gateway_sign(&key, alg, &message, raw).await.map_err(fail)?;
            let answer = pb::SignResponse {
                key_id: out.key_id.to_string(),
                signature: out.value,
                request_id: ctx.request_id.into(),
                algorithm: alg.as_str().into(),
                message_type: if raw { "RAW" } else { "DIGEST" }.into(),
            };
            Ok(Outcome::of(answer).with_key(&out.key_id, &out.version_id))
        }
        Operation::Verify => {
            let r: pb::VerifyRequest = decode(body)?;
            let key = key(ctx, &r.key_id).await?;
            let alg = asymmetric(&r.algorithm, AsymmetricAlgorithm::RsaPssSha256)?;
            let raw = message_type(&r.message_type)?;
            let (message, raw) =
                if r.message.is_empty() && !r.digest.is_empty() { (r.digest, false) } else { (r.message, raw) };
            let out = kms.gateway_verify(&key, alg, &message, raw, &r.signature).await.map_err(fail)?;
            let answer = pb::VerifyResponse {
                key_id: out.key_id.to_string(),
                value: out.value,
                request_id: ctx.request_id.into(),
                algorithm: alg.as_str().into(),
                message_type: if raw { "RAW" } else { "DIGEST" }.into(),
            };
            Ok(Outcome::of(answer).with_key(&out.key_id, &out.version_id))
        }
        Operation::GetPublicKey => {
            let r: pb::GetPublicKeyRequest = decode(body)?;
            let key = key(ctx, &r.key_id).await?;
            let out = kms.gateway_public_key(&key).await.map_err(fail)?;
            let answer = pb::GetPublicKeyResponse {
                key_id: out.key_id.to_string(),
                public_key: out.value,
                request_id: ctx.request_id.into(),
            };
            Ok(Outcome::of(answer).with_key(&out.key_id, &out.version_id))
        }
        Operation::GenerateRandom => {
            let r: pb::GenerateRandomRequest = decode(body)?;
            let len = match r.length {
                0 => DEFAULT_DATA_KEY_BYTES,
                n => usize::try_from(n).map_err(|_| ApiError::invalid_parameter("Length"))?,
            };
            let random = kms.gateway_random(ctx.caller, len).map_err(fail)?;
            let answer = pb::GenerateRandomResponse { random: random.to_vec(), request_id: ctx.request_id.into() };
            Ok(Outcome::wiped(answer, |a| a.random.zeroize()))
        }
        Operation::GetSecretValue => {
            let r: pb::GetSecretValueRequest = decode(body)?;
            if r.secret_name.is_empty() {
                return Err(ApiError::missing_parameter("SecretName"));
            }
            let not_found = || ApiError::new(Code::ResourceNotFound);
            let name = SecretName::parse(&r.secret_name).map_err(|_| not_found())?;
            let version = match r.version_id.as_str() {
                "" => None,
                v => Some(SecretVersionId::parse(v).map_err(|_| not_found())?),
            };
            let stage = match r.version_stage.as_str() {
                "" => None,
                s => Some(VersionStage::parse(s).map_err(|_| not_found())?),
            };
            let v =
                kms.gateway_secret_value(ctx.caller, &name, version.as_ref(), stage.as_ref()).await.map_err(fail)?;
            let data = String::from_utf8(v.data.to_vec()).map_err(|_| ApiError::internal())?;
            let answer = pb::GetSecretValueResponse {
                secret_name: v.secret.name.to_string(),
                secret_type: "Generic".into(),
                secret_data: data,
                secret_data_type: v.version.data_type.clone(),
                version_stages: v.version.stages.iter().map(|s| s.to_string()).collect(),
                version_id: v.version.version_id.to_string(),
                create_time: format_time(v.version.created_at),
                request_id: ctx.request_id.into(),
                ..Default::default()
            };
            let mut outcome = Outcome::wiped(answer, |a| a.secret_data.zeroize());
            outcome.secret = Some(name);
            Ok(outcome)
        }
        Operation::Hmac => {
            let r: pb::HmacRequest = decode(body)?;
            let key = key(ctx, &r.key_id).await?;
            let out = kms.gateway_hmac(&key, &r.message).await.map_err(fail)?;
            let answer = pb::HmacResponse {
                key_id: out.key_id.to_string(),
                signature: out.value,
                request_id: ctx.request_id.into(),
            };
            let mut outcome = Outcome::of(answer);
            outcome.key = Some(out.key_id);
            Ok(outcome)
        }
    }
}

async fn data_key(
    ctx: &Context<'_>,
    key_id: &str,
    number_of_bytes: i32,
    advance: bool,
    aad: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, InstanceSealed), ApiError> {
    let key = key(ctx, key_id).await?;
    let len = match number_of_bytes {
        0 => DEFAULT_DATA_KEY_BYTES,
        n => usize::try_from(n).map_err(|_| ApiError::invalid_parameter("NumberOfBytes"))?,
    };
    ctx.kms.gateway_data_key(&key, advance, len, aad).await.map_err(|e| ctx.fail(e))
}

/// The four data-key-pair operations share one request shape (field numbers differ: the
/// Advance ones have no `Algorithm`).
async fn data_key_pair(op: Operation, body: &[u8], ctx: &Context<'_>) -> Result<Outcome, ApiError> {
    let advance =
        matches!(op, Operation::AdvanceGenerateDataKeyPair | Operation::AdvanceGenerateDataKeyPairWithoutPlaintext);
    let with_plaintext = matches!(op, Operation::GenerateDataKeyPair | Operation::AdvanceGenerateDataKeyPair);
    let (key_id, spec, format, aad, algorithm) = if advance {
        let r: pb::AdvanceGenerateDataKeyPairRequest = decode(body)?;
        (r.key_id, r.key_pair_spec, r.key_format, r.aad, String::new())
    } else {
        let r: pb::GenerateDataKeyPairRequest = decode(body)?;
        (r.key_id, r.key_pair_spec, r.key_format, r.aad, r.algorithm)
    };
    let algorithm = symmetric(&algorithm, "")?;
    let spec: KeySpec = match spec.as_str() {
        "" => return Err(ApiError::missing_parameter("KeyPairSpec")),
        s => s.parse().map_err(|_| ApiError::invalid_parameter("KeyPairSpec"))?,
    };
    let format = match format.as_str() {
        "" | "PEM" => KeyFormat::Pem,
        "DER" => KeyFormat::Der,
        _ => return Err(ApiError::invalid_parameter("KeyFormat")),
    };
    let pair = ctx
        .kms
        .gateway_data_key_pair(&key(ctx, &key_id).await?, advance, spec, format, with_plaintext, &aad)
        .await
        .map_err(|e| ctx.fail(e))?;
    let s = &pair.sealed_private_key;
    let private = pair.private_key.as_ref().map(|p| p.to_vec()).unwrap_or_default();
    let spec = spec.as_str().to_owned();
    let request_id = ctx.request_id.to_owned();
    let outcome = match op {
        Operation::GenerateDataKeyPair => Outcome::wiped(
            pb::GenerateDataKeyPairResponse {
                key_id: s.key_id.to_string(),
                iv: s.iv.to_vec(),
                key_pair_spec: spec,
                private_key_plaintext: private,
                private_key_ciphertext_blob: s.ciphertext_and_tag.clone(),
                public_key: pair.public_key.clone(),
                request_id,
                algorithm,
            },
            |a| a.private_key_plaintext.zeroize(),
        ),
        Operation::GenerateDataKeyPairWithoutPlaintext => {
            Outcome::of(pb::GenerateDataKeyPairWithoutPlaintextResponse {
                key_id: s.key_id.to_string(),
                iv: s.iv.to_vec(),
                key_pair_spec: spec,
                private_key_ciphertext_blob: s.ciphertext_and_tag.clone(),
                public_key: pair.public_key.clone(),
                request_id,
                algorithm,
            })
        }
        Operation::AdvanceGenerateDataKeyPair => Outcome::wiped(
            pb::AdvanceGenerateDataKeyPairResponse {
                key_id: s.key_id.to_string(),
                iv: s.iv.to_vec(),
                key_pair_spec: spec,
                private_key_plaintext: private,
                private_key_ciphertext_blob: advance_blob(s),
                public_key: pair.public_key.clone(),
                request_id,
                algorithm,
                key_version_id: s.version_id.to_string(),
            },
            |a| a.private_key_plaintext.zeroize(),
        ),
        _ => Outcome::of(pb::AdvanceGenerateDataKeyPairWithoutPlaintextResponse {
            key_id: s.key_id.to_string(),
            iv: s.iv.to_vec(),
            key_pair_spec: spec,
            private_key_ciphertext_blob: advance_blob(s),
            public_key: pair.public_key.clone(),
            request_id,
            algorithm,
            key_version_id: s.version_id.to_string(),
        }),
    };
    Ok(outcome.with_key(&s.key_id, &s.version_id))
}
